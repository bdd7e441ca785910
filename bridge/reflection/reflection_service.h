#ifndef PORTRAIT_BRIDGE_BRIDGE_REFLECTION_REFLECTION_SERVICE_H_
#define PORTRAIT_BRIDGE_BRIDGE_REFLECTION_REFLECTION_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "bridge/reflection/descriptor_index.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace portrait_bridge {

/// Answers one reflection request from `index` (the two API versions' messages are the same, field for field).
/// A lookup that fails, or a request of a kind this server does not know (UNIMPLEMENTED), is answered with an
/// error_response; the stream goes on.
template <typename Request, typename Response>
void AnswerReflectionRequest(const DescriptorIndex& index, const Request& request, Response& response);

/// gRPC server reflection (grpc.reflection.v1 or v1alpha ServerReflection) answered from a DescriptorIndex, on
/// gRPC's callback API: each stream reads a request, answers it from memory, writes the answer and reads the next;
/// no thread waits. `index` must outlive the service.
template <typename CallbackService, typename Request, typename Response>
class ReflectionService final : public CallbackService {
 public:
  explicit ReflectionService(const DescriptorIndex& index) : index_(index) {}

  grpc::ServerBidiReactor<Request, Response>* ServerReflectionInfo(grpc::CallbackServerContext*) override {
    return new Reactor(index_);
  }

 private:
  class Reactor final : public grpc::ServerBidiReactor<Request, Response> {
   public:
    explicit Reactor(const DescriptorIndex& index) : index_(index) { this->StartRead(&request_); }

    void OnReadDone(bool ok) override {
      if (!ok) {  // The client half-closed (or the call ended): every request has been answered.
        this->Finish(grpc::Status::OK);
        return;
      }
      response_.Clear();
      AnswerReflectionRequest(index_, request_, response_);
      this->StartWrite(&response_);
    }
    void OnWriteDone(bool ok) override {
      if (!ok) {
        this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the reflection answer could not be sent"));
        return;
      }
      this->StartRead(&request_);
    }
    void OnDone() override { delete this; }

   private:
    const DescriptorIndex& index_;
    Request request_;
    Response response_;
  };

  const DescriptorIndex& index_;
};

using ReflectionServiceV1 =
    ReflectionService<grpc::reflection::v1::ServerReflection::CallbackService,
                      grpc::reflection::v1::ServerReflectionRequest, grpc::reflection::v1::ServerReflectionResponse>;
// grpcurl and buf curl try v1 first and fall back to v1alpha, which older clients know only.
using ReflectionServiceV1Alpha = ReflectionService<grpc::reflection::v1alpha::ServerReflection::CallbackService,
                                                   grpc::reflection::v1alpha::ServerReflectionRequest,
                                                   grpc::reflection::v1alpha::ServerReflectionResponse>;

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_BRIDGE_REFLECTION_REFLECTION_SERVICE_H_

// Server reflection on the real bridge (bridge/reflection/): both API versions, the services registered, and the
// proto comments in what describe shows. The bridge needs no upstream for this.

#include <google/protobuf/descriptor.pb.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/integration/stack.h"

namespace portrait_bridge::testing {
namespace {

using ::google::protobuf::FileDescriptorProto;

template <typename Service>
class ReflectionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      bridge_ = new Bridge("http://127.0.0.1:1");
    } catch (const std::exception& e) {
      start_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete bridge_;
    bridge_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(bridge_, nullptr) << "could not start the bridge: " << start_error_; }

  static Bridge* bridge_;
  static std::string start_error_;
};
template <typename Service>
Bridge* ReflectionTest<Service>::bridge_ = nullptr;
template <typename Service>
std::string ReflectionTest<Service>::start_error_;

struct V1 {
  using Service = grpc::reflection::v1::ServerReflection;
  using Request = grpc::reflection::v1::ServerReflectionRequest;
  using Response = grpc::reflection::v1::ServerReflectionResponse;
};
struct V1Alpha {
  using Service = grpc::reflection::v1alpha::ServerReflection;
  using Request = grpc::reflection::v1alpha::ServerReflectionRequest;
  using Response = grpc::reflection::v1alpha::ServerReflectionResponse;
};
using Apis = ::testing::Types<V1, V1Alpha>;
TYPED_TEST_SUITE(ReflectionTest, Apis);

// The leading comment of the element at `path` (FileDescriptorProto field numbers and indexes), or "".
std::string LeadingComment(const FileDescriptorProto& file, const std::vector<int>& path) {
  for (const auto& location : file.source_code_info().location()) {
    if (std::vector<int>(location.path().begin(), location.path().end()) == path) return location.leading_comments();
  }
  return "";
}

// Several requests on one stream, as grpcurl sends them: each answered in turn, then the stream ends OK.
TYPED_TEST(ReflectionTest, AnswersOnOneStreamWithTheProtoComments) {
  using Request = typename TypeParam::Request;
  using Response = typename TypeParam::Response;
  auto stub = TypeParam::Service::NewStub(this->bridge_->NewChannel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto stream = stub->ServerReflectionInfo(&context);
  auto ask = [&](const Request& request) {
    Response response;
    EXPECT_TRUE(stream->Write(request));
    EXPECT_TRUE(stream->Read(&response));
    return response;
  };

  Request request;
  request.set_list_services("");
  std::vector<std::string> services;
  const Response listed = ask(request);
  for (const auto& service : listed.list_services_response().service()) services.push_back(service.name());
  EXPECT_EQ(services, (std::vector<std::string>{"portraitbridge.profile.v1.ProfileService", "grpc.health.v1.Health",
                                                "grpc.reflection.v1.ServerReflection",
                                                "grpc.reflection.v1alpha.ServerReflection"}));

  // What `grpcurl describe portraitbridge.profile.v1.BatchGetProfilesRequest` asks for.
  request.set_file_containing_symbol("portraitbridge.profile.v1.BatchGetProfilesRequest");
  const Response described = ask(request);
  ASSERT_EQ(described.message_response_case(), Response::kFileDescriptorResponse) << described.DebugString();
  FileDescriptorProto profile;
  ASSERT_TRUE(profile.ParseFromString(described.file_descriptor_response().file_descriptor_proto(0)));
  ASSERT_EQ(profile.name(), "portraitbridge/profile/v1/profile.proto");
  int message = 0;
  while (message < profile.message_type_size() && profile.message_type(message).name() != "BatchGetProfilesRequest") {
    ++message;
  }
  ASSERT_LT(message, profile.message_type_size());
  // FileDescriptorProto.message_type = 4, DescriptorProto.field = 2 (accounts is field 0).
  EXPECT_EQ(LeadingComment(profile, {4, message}), " One batch lookup: the same tags for every account.\n");
  EXPECT_NE(LeadingComment(profile, {4, message, 2, 0}).find("Tencent UserIDs"), std::string::npos);

  // The health service and the error details callers decode stay resolvable.
  for (const char* symbol : {"grpc.health.v1.Health", "google.rpc.BadRequest", "google.rpc.ErrorInfo",
                             "google.rpc.RetryInfo", "portraitbridge.profile.v1.ProfileService.BatchGetProfiles"}) {
    request.set_file_containing_symbol(symbol);
    EXPECT_EQ(ask(request).message_response_case(), Response::kFileDescriptorResponse) << symbol;
  }
  request.set_file_containing_symbol("portraitbridge.profile.v1.Nope");
  EXPECT_EQ(ask(request).error_response().error_code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));

  EXPECT_TRUE(stream->WritesDone());
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
}

}  // namespace
}  // namespace portrait_bridge::testing

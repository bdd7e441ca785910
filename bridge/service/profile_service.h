#ifndef PORTRAIT_BRIDGE_SERVICE_PROFILE_SERVICE_H_
#define PORTRAIT_BRIDGE_SERVICE_PROFILE_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "bridge/service/grpc_server_metrics.h"
#include "bridge/service/profile_fetcher.h"
#include "bridge/service/profile_requests.h"
#include "portraitbridge/profile/v1/profile.grpc.pb.h"

namespace portrait_bridge {

/// The canonical name of a gRPC status code ("OK", "NOT_FOUND", ...), for logs and metric labels.
std::string StatusCodeName(grpc::StatusCode code);

/// portraitbridge.profile.v1.ProfileService on the gRPC callback API: each call is a reactor that never blocks,
/// around a ProfileRequests that holds the request logic. A GetProfiles stream writes one response per upstream
/// call as it completes (one write in flight at a time) and ends once every account has been answered; a
/// BatchGetProfiles call answers once, with every entry's result in request order.
/// The methods are registered raw (ByteBuffer in and out) so that the bridge decodes requests itself: a string
/// that is not UTF-8 then gets INVALID_ARGUMENT naming the field instead of looking like the end of the stream
/// (or an unparsable message).
class ProfileService final : public portraitbridge::profile::v1::ProfileService::WithRawCallbackMethod_BatchGetProfiles<
                                 portraitbridge::profile::v1::ProfileService::WithRawCallbackMethod_GetProfiles<
                                     portraitbridge::profile::v1::ProfileService::Service>> {
 public:
  /// `fetcher` (and `observer` and `grpc_metrics`, if any) must outlive the server. With `grpc_metrics`, the
  /// service's calls report to its standard grpc_server_* series themselves (GrpcServerMetrics::ReportedByHandler),
  /// so construct it before the server starts.
  ProfileService(ProfileFetcher& fetcher, StreamLimits limits, ServerLimits server_limits,
                 StreamObserver* observer = nullptr, GrpcServerMetrics* grpc_metrics = nullptr);

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* GetProfiles(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* BatchGetProfiles(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) override;

 private:
  ProfileFetcher& fetcher_;
  const StreamLimits limits_;
  ServerQuotas quotas_;
  StreamObserver* const observer_;
  // The methods' grpc_server_* series; null without grpc_metrics.
  const GrpcServerMetrics::MethodSeries* get_profiles_series_ = nullptr;
  const GrpcServerMetrics::MethodSeries* batch_get_series_ = nullptr;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_PROFILE_SERVICE_H_

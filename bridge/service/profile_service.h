#ifndef PORTRAIT_BRIDGE_SERVICE_PROFILE_SERVICE_H_
#define PORTRAIT_BRIDGE_SERVICE_PROFILE_SERVICE_H_

#include <cstdint>

#include <grpcpp/grpcpp.h>

#include "bridge/core/failure.h"
#include "bridge/service/profile_fetcher.h"
#include "tencentcloud/chat/profile/v1/profile.grpc.pb.h"

namespace portrait_bridge {

/// Per-stream bounds: what one caller may ask for, and how much of it is worked on at once.
struct StreamLimits {
  int64_t max_accounts_per_stream = 100000;
  int64_t max_inflight_accounts = 1000;  ///< Accounts in upstream calls at once; reading pauses beyond it.
  int64_t max_accounts_per_call = 100;
  size_t max_queued_responses = 32;  ///< Responses waiting for a slow reader; upstream calls pause beyond it.
};

/// The one place where a google.rpc.Status becomes the grpc::Status a stream ends with (details attached as
/// grpc-status-details-bin).
grpc::Status ToGrpcStatus(const google::rpc::Status& status);

/// The canonical name of a gRPC status code ("OK", "NOT_FOUND", ...), for logs and metric labels.
const char* StatusCodeName(grpc::StatusCode code);

/// Observes finished streams, for logs and metrics. Thread-safe, must not block.
class StreamObserver {
 public:
  virtual ~StreamObserver() = default;
  virtual void OnStreamStarted() = 0;
  /// `count` accounts were answered with a result whose status is `code`.
  virtual void OnAccountsAnswered(grpc::StatusCode code, int64_t count) = 0;
  /// A stream ended with `code`; `accounts` results were written, `failed_accounts` of them non-OK.
  virtual void OnStreamFinished(grpc::StatusCode code, int64_t accounts, int64_t failed_accounts,
                                absl::Duration duration) = 0;
};

/// tencentcloud.chat.profile.v1.ProfileService on the gRPC callback API: each GetProfiles stream is a reactor that
/// never blocks. It validates requests, splits them into upstream calls, writes one response per call as it
/// completes (one write in flight at a time), and ends the stream once every account has been answered.
/// The method is registered raw (ByteBuffer in and out) so that the bridge decodes requests itself: a string
/// that is not UTF-8 then gets INVALID_ARGUMENT naming the field instead of looking like the end of the stream.
class ProfileService final : public tencentcloud::chat::profile::v1::ProfileService::WithRawCallbackMethod_GetProfiles<
                                 tencentcloud::chat::profile::v1::ProfileService::Service> {
 public:
  /// `fetcher` (and `observer`, if any) must outlive the server.
  ProfileService(ProfileFetcher& fetcher, StreamLimits limits, StreamObserver* observer = nullptr)
      : fetcher_(fetcher), limits_(limits), observer_(observer) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* GetProfiles(
      grpc::CallbackServerContext* context) override;

 private:
  ProfileFetcher& fetcher_;
  const StreamLimits limits_;
  StreamObserver* const observer_;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_PROFILE_SERVICE_H_

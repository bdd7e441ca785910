#ifndef PORTRAIT_BRIDGE_SERVICE_PROFILE_SERVICE_H_
#define PORTRAIT_BRIDGE_SERVICE_PROFILE_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>

#include "bridge/core/failure.h"
#include "bridge/service/profile_fetcher.h"
#include "portraitbridge/profile/v1/profile.grpc.pb.h"

namespace portrait_bridge {

/// Per-stream bounds: what one caller may ask for, and how much of it is worked on at once.
struct StreamLimits {
  int64_t max_accounts_per_stream = 100000;
  int64_t max_inflight_accounts = 1000;  ///< Accounts in upstream calls at once; reading pauses beyond it.
  int64_t max_accounts_per_call = 100;
  /// Bytes of responses waiting for a slow reader, beyond which the stream pauses (no reads, no upstream calls,
  /// no more responses built) until the reader catches up. One response (at most kMaxResponseBytes) may go over.
  int64_t max_unread_bytes = 1 << 20;
};

/// A server-wide bound shared by all streams: units are taken while the total stays within the limit and given
/// back when done. Thread-safe.
class SharedQuota {
 public:
  explicit SharedQuota(int64_t limit) : limit_(limit) {}
  /// Takes `units` if the total stays within the limit.
  bool TryTake(int64_t units);
  void Give(int64_t units);
  int64_t used() const { return used_.load(std::memory_order_relaxed); }
  int64_t limit() const { return limit_; }

 private:
  const int64_t limit_;
  std::atomic<int64_t> used_{0};
};

/// What all streams together may hold.
struct ServerLimits {
  /// Bytes of responses queued or being written but not yet taken by their readers. A stream that needs more while
  /// the bound is reached ends with RESOURCE_EXHAUSTED.
  int64_t max_unread_bytes = int64_t{64} << 20;
  /// Distinct accounts of accepted requests not yet answered. A request that would go past it is refused in-band
  /// with RESOURCE_EXHAUSTED (a retry later may pass), before any of its accounts is fetched.
  int64_t max_accepted_accounts = 300000;
};

/// The quotas behind ServerLimits.
struct ServerQuotas {
  explicit ServerQuotas(const ServerLimits& limits)
      : unread_bytes(limits.max_unread_bytes), accepted_accounts(limits.max_accepted_accounts) {}
  SharedQuota unread_bytes;
  SharedQuota accepted_accounts;
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
  /// A request was refused in-band as invalid; the stream went on.
  virtual void OnInvalidRequest() = 0;
  /// The bytes of responses held for readers that have not taken them changed by `delta`.
  virtual void OnUnreadBytes(int64_t delta) = 0;
  /// A stream ended with `code`; `accounts` results were written, `failed_accounts` of them non-OK.
  virtual void OnStreamFinished(grpc::StatusCode code, int64_t accounts, int64_t failed_accounts,
                                absl::Duration duration) = 0;
};

/// portraitbridge.profile.v1.ProfileService on the gRPC callback API: each GetProfiles stream is a reactor that
/// never blocks. It validates requests, splits them into upstream calls, writes one response per call as it
/// completes (one write in flight at a time), and ends the stream once every account has been answered.
/// The method is registered raw (ByteBuffer in and out) so that the bridge decodes requests itself: a string
/// that is not UTF-8 then gets INVALID_ARGUMENT naming the field instead of looking like the end of the stream.
class ProfileService final : public portraitbridge::profile::v1::ProfileService::WithRawCallbackMethod_GetProfiles<
                                 portraitbridge::profile::v1::ProfileService::Service> {
 public:
  /// `fetcher` (and `observer`, if any) must outlive the server.
  ProfileService(ProfileFetcher& fetcher, StreamLimits limits, ServerLimits server_limits,
                 StreamObserver* observer = nullptr)
      : fetcher_(fetcher), limits_(limits), quotas_(server_limits), observer_(observer) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* GetProfiles(
      grpc::CallbackServerContext* context) override;

 private:
  ProfileFetcher& fetcher_;
  const StreamLimits limits_;
  ServerQuotas quotas_;
  StreamObserver* const observer_;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_PROFILE_SERVICE_H_

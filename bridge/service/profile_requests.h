#ifndef PORTRAIT_BRIDGE_SERVICE_PROFILE_REQUESTS_H_
#define PORTRAIT_BRIDGE_SERVICE_PROFILE_REQUESTS_H_

#include <grpcpp/support/status.h>

#include <atomic>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/core/failure.h"
#include "bridge/service/profile_fetcher.h"
#include "bridge/service/response_encoder.h"
#include "google/rpc/status.pb.h"

namespace portrait_bridge {

/// An optional kept on the heap: one pointer instead of the whole value, for state that most calls never set
/// (std::optional<grpc::Status> is 80 bytes, all of it held for a stream's whole life).
template <typename T>
class HeapOptional {
 public:
  bool has_value() const { return value_ != nullptr; }
  T& operator*() const { return *value_; }
  T* operator->() const { return value_.get(); }
  HeapOptional& operator=(T value) {
    value_ = std::make_unique<T>(std::move(value));
    return *this;
  }

 private:
  std::unique_ptr<T> value_;
};

/// Per-call bounds: what one caller may ask for, and how much of it is worked on at once.
struct StreamLimits {
  int64_t max_accounts_per_stream = 100000;
  int64_t max_inflight_accounts = 1000;  ///< Accounts in upstream calls at once; reading pauses beyond it.
  int64_t max_accounts_per_call = 100;
  /// Bytes of responses waiting for a slow reader, beyond which the stream pauses (no reads, no upstream calls,
  /// no more responses built) until the reader catches up. One response (at most kMaxResponseBytes) may go over.
  int64_t max_unread_bytes = 1 << 20;
  /// Entries of `accounts` in one BatchGetProfiles call.
  int64_t max_accounts_per_batch_get = 1000;
};

/// A server-wide bound shared by all calls: units are taken while the total stays within the limit and given
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

/// What all calls together may hold.
struct ServerLimits {
  /// Bytes of responses queued or being written but not yet taken by their readers. A call that needs more while
  /// the bound is reached ends with RESOURCE_EXHAUSTED.
  int64_t max_unread_bytes = int64_t{64} << 20;
  /// Distinct accounts of accepted requests not yet answered. A request that would go past it is refused
  /// (in-band on a stream) with RESOURCE_EXHAUSTED (a retry later may pass), before any of its accounts is fetched.
  int64_t max_accepted_accounts = 300000;
};

/// The quotas behind ServerLimits.
struct ServerQuotas {
  explicit ServerQuotas(const ServerLimits& limits)
      : unread_bytes(limits.max_unread_bytes), accepted_accounts(limits.max_accepted_accounts) {}
  SharedQuota unread_bytes;
  SharedQuota accepted_accounts;
};

/// The one place where a google.rpc.Status becomes the grpc::Status a call ends with (details attached as
/// grpc-status-details-bin).
grpc::Status ToGrpcStatus(const google::rpc::Status& status);

/// Observes calls, for logs and metrics. Thread-safe, must not block.
class StreamObserver {
 public:
  virtual ~StreamObserver() = default;
  virtual void OnStreamStarted() = 0;
  /// `count` accounts were answered with a result whose status is `code`.
  virtual void OnAccountsAnswered(grpc::StatusCode code, int64_t count) = 0;
  /// A request was refused as invalid (in-band on a stream, which went on).
  virtual void OnInvalidRequest() = 0;
  /// The bytes of responses held for readers that have not taken them changed by `delta`.
  virtual void OnUnreadBytes(int64_t delta) = 0;
  /// A stream ended (how, and what it answered, is in the grpc_server_* series and the accounts counts).
  virtual void OnStreamFinished() = 0;
  /// A lookup was answered: a GetProfiles request accepted on the stream, or a BatchGetProfiles call answered OK
  /// (`method` is the gRPC method's name), `latency` after it arrived, as its last result went to gRPC.
  virtual void OnLookupAnswered(const char* /*method*/, absl::Duration /*latency*/) {}
};

/// The request logic of one call, a GetProfiles stream or one BatchGetProfiles call, without its gRPC lifecycle:
/// accepts and validates requests, takes their distinct accounts from the server-wide accepted-accounts quota,
/// splits them into upstream calls (an account listed more than once is fetched once and answered for every
/// entry), turns the answers into results and responses (none over kMaxResponseBytes), and chooses the status
/// the call ends with. The reactor that owns it reads, writes, makes the upstream calls, cancels them and applies
/// backpressure. Not thread-safe: the owner serializes every call.
class ProfileRequests {
 public:
  /// Accounts of one request for one upstream call (distinct, at most max_accounts_per_call).
  struct Call {
    uint64_t request_index = 0;
    std::vector<std::string> accounts;
  };

  /// `observer` may be null. `limits` and `quotas` must outlive this object.
  ProfileRequests(const StreamLimits& limits, ServerQuotas& quotas, StreamObserver* observer);
  /// Gives back the accounts of requests not answered to the accepted-accounts quota.
  ~ProfileRequests();
  ProfileRequests(const ProfileRequests&) = delete;
  ProfileRequests& operator=(const ProfileRequests&) = delete;

  /// A stream's next request, as its wire bytes. A request refused as a whole (invalid, or over the bridge's
  /// accepted-accounts quota) is answered in-band: the returned response, to queue as it is. A message that
  /// cannot be decoded, or that takes the stream over max_accounts_per_stream, ends the stream once the requests
  /// accepted before it are answered: stop_reading() turns true and status() says why.
  std::optional<ResponseEncoder> AcceptStreamRequest(absl::string_view wire);

  /// The one request of a BatchGetProfiles call, as its wire bytes. Returns OK when accepted; otherwise the status
  /// to end the call with (INVALID_ARGUMENT with a BadRequest naming fields like "accounts[3]", or
  /// RESOURCE_EXHAUSTED over the accepted-accounts quota).
  grpc::Status AcceptBatchGet(absl::string_view wire);

  /// True once no further request is to be read.
  bool stop_reading() const { return stop_reading_; }

  /// The upstream calls still to make, in order.
  bool has_pending_call() const { return !pending_calls_.empty(); }
  size_t next_call_size() const { return pending_calls_.front().accounts.size(); }
  Call TakeNextCall();
  /// The tags of an accepted request that is not yet answered.
  const std::vector<std::string>& TagsOf(uint64_t request_index) const;

  /// The answer to an upstream call for request `request_index`. A failure that means the bridge is misconfigured
  /// (rule.ends_stream) ends the call: returns the status to end it with (End is then up to the owner).
  std::optional<grpc::Status> OnAnswer(uint64_t request_index, std::vector<AccountOutcome> outcomes);

  /// Ends the call early with `status` (the first one given wins): no more requests, upstream calls or responses.
  void End(grpc::Status status);
  bool ended() const { return end_status_.has_value(); }

  /// Stream: true when answers wait to be built into responses.
  bool has_unbuilt_results() const { return !unsent_.empty(); }
  /// Stream: the next response from the answers so far (at most kMaxResponseBytes unless one result alone is
  /// larger), or nothing when there is none to build. When the response completes a request, `*completes` (if
  /// given) is set to the time that request was accepted; otherwise it is left alone.
  std::optional<ResponseEncoder> NextResponse(absl::Time* completes = nullptr);

  /// BatchGetProfiles: true once every entry has its result.
  bool batch_answered() const;
  /// BatchGetProfiles: the encoded BatchGetProfilesResponse, one result per entry in request order. Call once,
  /// when batch_answered().
  std::string TakeBatchResponse();

  /// True while upstream calls are still to be made or answers still to be built into responses.
  bool work_left() const { return !pending_calls_.empty() || !unsent_.empty(); }
  /// The status to end the call with once everything accepted is answered: the End status, else the violation
  /// that stopped a stream's reading, else OK.
  grpc::Status status() const;

  int64_t requests() const { return next_request_index_; }
  int64_t invalid_requests() const { return invalid_requests_; }
  int64_t accounts_answered() const { return accounts_answered_; }
  int64_t accounts_failed() const { return accounts_failed_; }

 private:
  struct RequestState {
    std::string request_id;
    std::vector<std::string> tags;
    absl::flat_hash_map<std::string, int> occurrences;  // Each entry of the request gets its own result.
    int64_t unanswered_entries = 0;                     // Entries whose result is not in a built response yet.
    int64_t cost = 0;        // Its distinct accounts, taken from quotas_.accepted_accounts until it is answered.
    absl::Time accepted_at;  // For the lookup latency.
  };
  // The results of one upstream call, each encoded once, waiting to go into responses. Copies of a result (an
  // account listed more than once) are written only as responses are built, and responses are built only while
  // the reader keeps up, so that a request with many copies costs no more memory than one without.
  struct EncodedResults {
    uint64_t request_index = 0;
    std::string bytes;  // The encoded `results` fields, one after another.
    struct Result {
      size_t end = 0;  // Where the result ends in `bytes` (it begins where the previous one ends).
      int copies = 0;  // Entries of the request it still answers.
    };
    std::vector<Result> results;
    size_t next = 0;        // The first result not yet fully in a response,
    size_t next_begin = 0;  // and where it begins.
  };
  // BatchGetProfiles: the entries in request order, and each distinct account's result once it is answered.
  struct Batch {
    std::vector<std::string> accounts;
    absl::flat_hash_map<std::string, std::string> results;  // Encoded as BatchGetProfilesResponse.results.
  };

  // Takes `accounts` (the entries of request `index`) into the upstream call queue, within the accepted-accounts
  // quota; else returns the RESOURCE_EXHAUSTED status to refuse the request with.
  std::optional<google::rpc::Status> AcceptLookup(uint64_t index, std::string request_id,
                                                  const google::protobuf::RepeatedPtrField<std::string>& accounts,
                                                  const google::protobuf::RepeatedPtrField<std::string>& tags);
  void ForgetRequest(uint64_t index);

  const StreamLimits& limits_;
  ServerQuotas& quotas_;
  StreamObserver* const observer_;
  HeapOptional<grpc::Status> end_status_;      // Ends the call early.
  HeapOptional<grpc::Status> invalid_status_;  // Ends a stream once accepted work is done.
  bool stop_reading_ = false;
  uint64_t next_request_index_ = 0;
  int64_t accounts_on_stream_ = 0;
  int64_t accounts_answered_ = 0;
  int64_t accounts_failed_ = 0;
  int64_t invalid_requests_ = 0;
  int64_t accepted_accounts_ = 0;  // Of requests_, taken from quotas_.accepted_accounts.
  std::map<uint64_t, RequestState> requests_;
  // Lists, not deques: an empty std::list allocates nothing, where libstdc++'s std::deque allocates a 512-byte
  // block and its map on construction, about 1.2 KiB per stream for the two queues even while the stream is idle.
  std::list<Call> pending_calls_;
  std::list<EncodedResults> unsent_;
  std::unique_ptr<Batch> batch_;  // Set only for a BatchGetProfiles call.
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_PROFILE_REQUESTS_H_

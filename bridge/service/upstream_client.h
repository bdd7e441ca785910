#ifndef PORTRAIT_BRIDGE_SERVICE_UPSTREAM_CLIENT_H_
#define PORTRAIT_BRIDGE_SERVICE_UPSTREAM_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/core/admin_usersig.h"
#include "bridge/core/budget.h"
#include "bridge/core/clock.h"
#include "bridge/core/failure.h"
#include "bridge/core/portrait_api.h"
#include "bridge/core/retry_policy.h"
#include "bridge/service/timer_queue.h"
#include "bridge/service/upstream_health.h"
#include "bridge/transport/http_transport.h"

namespace portrait_bridge {

/// Where and as whom the bridge calls portrait_get.
struct UpstreamOptions {
  std::string base_url;
  uint64_t sdkappid = 0;
  std::string identifier;
  absl::Duration attempt_timeout = absl::Seconds(5);
  /// A call that cannot get budget within this time (or before its deadline) fails with RESOURCE_EXHAUSTED.
  absl::Duration max_budget_wait = absl::Seconds(10);
  TagTypes tag_types;

  // Retries of transient failures (a retryable error-table row that does not end the stream: Tencent's "retry"
  // codes, HTTP 408/429/5xx, malformed bodies, transport errors). 70001/70052 have their own renew-and-retry-once.
  /// Attempts per call, the first included; 1 turns retries off.
  int retry_max_attempts = 3;
  /// The backoff before retry n is drawn uniformly from [0, min(retry_max_backoff, initial * 2^(n-1))].
  absl::Duration retry_initial_backoff = absl::Milliseconds(50);
  absl::Duration retry_max_backoff = absl::Seconds(1);
  /// Retries allowed per first attempt, over time, for all calls together (see RetryBudget); 0 turns retries off.
  double retry_budget_ratio = 0.2;
};

/// The outcome of one upstream call for a group of accounts: either Tencent's per-user entries or a failure of
/// the whole call.
struct CallOutcome {
  bool cancelled = false;
  std::optional<Failure> failure;
  std::vector<UserProfileEntry> users;
};

/// Why an upstream attempt is retried, a bounded set (a metric label): Tencent throttled it (60007, 60011, 60018,
/// 60019, HTTP 429), another transient Tencent ErrorCode, an HTTP status other than 200, a transport failure, or
/// a body that does not parse.
inline constexpr const char* kRetryReasons[] = {"throttled", "tencent_error", "http_error", "transport_error",
                                                "malformed_body"};

/// Observes upstream calls, for metrics. Implementations are thread-safe and must not block.
class UpstreamObserver {
 public:
  virtual ~UpstreamObserver() = default;
  /// An HTTP attempt was handed to the transport.
  virtual void OnAttemptStarted() = 0;
  /// That attempt was not sent after all: the budget refused it at the socket (it will ask again).
  virtual void OnRefusedBeforeSend() {}
  /// That attempt finished. `code` is Tencent's ErrorCode ("0" on success) or, without one, "http_<status>",
  /// "malformed_body", "transport_error" or "cancelled".
  virtual void OnAttempt(const std::string& code, absl::Duration latency) = 0;
  /// A call had to wait for rate budget.
  virtual void OnBudgetWait(absl::Duration wait) = 0;
  /// The admin UserSig was renewed after Tencent rejected it.
  virtual void OnUserSigRenewal() = 0;
  /// A transient failure will be retried after `backoff` (the jittered draw). `reason` is one of kRetryReasons.
  virtual void OnRetry(const char* /*reason*/, absl::Duration /*backoff*/) {}
  /// A call got no budget slot before its deadline and failed RESOURCE_EXHAUSTED (UPSTREAM_BUDGET_EXHAUSTED).
  virtual void OnBudgetExhausted() {}
  /// Upstream throttled a call (60007, 60011, 60018, 60019, HTTP 429); the budget was slowed down.
  virtual void OnThrottled() {}
};

/// Makes signed portrait_get calls: asks the Budget for a slot once per attempt (waiting on the timer queue, never
/// on the caller's thread), signs with the shared admin UserSig, sends through the transport, which spends the
/// slot at the socket (Budget::ClaimAtSocket; a refusal there sends nothing and asks the budget again), parses
/// the answer, and on 70001/70052 renews the UserSig and retries once.
///
/// Transient failures are retried (up to retry_max_attempts attempts) after a jittered exponential backoff spent
/// on the timer queue, through the budget again, only while the retry budget shared by all calls has a token and
/// only when the backoff ends before the caller's deadline; otherwise the failure is delivered at once. When
/// retries give up, the last upstream failure is delivered. A throttling answer (60007, 60011, 60018, 60019,
/// HTTP 429) also slows the budget down (Budget::OnThrottled). Each attempt's outcome goes to `health` (logs,
/// misconfiguration), when given. Thread-safe; every dependency must outlive it, and
/// `timers` must run on `clock` (the budget's grants and the backoffs are times on it).
class UpstreamClient {
 public:
  using Done = absl::AnyInvocable<void(CallOutcome) &&>;

  /// One call in progress. Cancel() is safe from any thread, at any time.
  class Call {
   public:
    virtual ~Call() = default;
    /// Aborts the call; `done` then runs with cancelled = true unless it has already run.
    virtual void Cancel() = 0;
  };

  UpstreamClient(HttpTransport& transport, AdminUserSig& usersig, Budget& budget, TimerQueue& timers,
                 const Clock& clock, UpstreamOptions options, UpstreamObserver* observer = nullptr,
                 UpstreamHealth* health = nullptr);

  /// Fetches `tags` for at most 100 `accounts`, finishing by `deadline`. `done` runs exactly once, on a
  /// transport or timer thread, or inline when the budget cannot be had in time.
  std::shared_ptr<Call> Fetch(std::vector<std::string> accounts, std::vector<std::string> tags, absl::Time deadline,
                              Done done);

 private:
  class CallImpl;
  uint32_t NextRandom();
  /// A backoff drawn from [0, bound] with the client's random source.
  absl::Duration NextJitter(absl::Duration bound);

  HttpTransport& transport_;
  AdminUserSig& usersig_;
  Budget& budget_;
  TimerQueue& timers_;
  const Clock& clock_;
  const UpstreamOptions options_;
  UpstreamObserver* const observer_;
  UpstreamHealth* const health_;
  RetryBudget retry_budget_;

  absl::Mutex random_mutex_;
  std::mt19937 random_ ABSL_GUARDED_BY(random_mutex_);
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_UPSTREAM_CLIENT_H_

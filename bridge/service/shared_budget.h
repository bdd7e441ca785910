#ifndef PORTRAIT_BRIDGE_SERVICE_SHARED_BUDGET_H_
#define PORTRAIT_BRIDGE_SERVICE_SHARED_BUDGET_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/core/budget.h"
#include "bridge/core/clock.h"
#include "bridge/core/rate_limiter.h"
#include "bridge/transport/redis_client.h"

namespace portrait_bridge {

/// Settings of a SharedBudget.
struct SharedBudgetOptions {
  uint64_t sdkappid = 0;          ///< Names the Redis keys: one budget per SDKAppID.
  double calls_per_second = 200;  ///< The whole app's budget, shared by every bridge.
  /// Calls that may start at once, app-wide (the config sets it; by default RateLimiter's for the rate above).
  int64_t burst = RateLimiter::DefaultBurst(calls_per_second);
  /// The local budget while Redis cannot be reached (config budget_fallback_calls_per_second).
  double fallback_calls_per_second = 20;
};

/// The upstream budget of one SDKAppID shared by every bridge through Redis, so the app spends its whole budget
/// wherever callers are, and never more.
///
/// Each Acquire is one Redis round trip: an atomic script that reads Redis's own clock (TIME; bridges need no
/// synchronised clocks) and reserves a send time for the call, the earliest that keeps
///  - pacing: at most `burst` calls at once, then one call per kPlanWindow / calls_per_second, and
///  - the window: at most calls_per_second planned sends in any kPlanWindow, checked against a sorted set of every
///    planned send of every bridge.
/// A planned send is at most kMaxLateness late on the wire or it is not made (ClaimAtSocket refuses it and the
/// call asks again; the stale slot stays counted). kPlanWindow is the local budget's window plus that lateness, so
/// the sends of all bridges together keep the local budget's promise: at most calls_per_second in any
/// RateLimiter::kWindow on the wire. Throttling answers are shared too: OnThrottled halves the rate app-wide in Redis
/// (once per RateLimiter::kThrottleHold, whoever reports it) and the recovery is computed there, so every bridge
/// slows down and speeds up together.
///
/// Redis failure is a degraded mode, not an outage: when the Redis client is not connected, or an operation fails
/// or passes its timeout, the call is answered by a local budget of fallback_calls_per_second (in the remaining
/// wait). The change of mode is logged once per transition and reported to the observer; the shared budget is used
/// again as soon as Redis answers (the client reconnects by itself). No call waits for Redis beyond its timeout,
/// but for a bridge's first connection: calls asking before it is up wait for it up to kFirstConnectionGrace.
/// The hand-overs keep the promise as long as every bridge loses and regains Redis within a reconnect interval of
/// the others (Redis itself going away or restarting): a shared slot is used only while the bridge's Redis
/// connection is up (ClaimAtSocket refuses it otherwise, and the call asks again), so the fallback starts a window
/// after the bridge found Redis gone; the fallback promises slots at most kFallbackHorizon ahead, and a bridge back
/// on Redis makes its first shared reservation kFallbackHorizon plus a window after it came back (until then its
/// calls ask again later; the other bridges' pacing is not touched). A bridge cut off from a Redis the others still
/// reach adds its fallback rate to the shared budget until it is back: the fallback share is the price of that.
///
/// Thread-safe. It owns its Redis connection, so that Redis answers still on their way when it is destroyed are
/// delivered (as failures, answered by the fallback) while it is still whole. `clock` and `observer` must outlive
/// it.
class SharedBudget final : public Budget {
 public:
  SharedBudget(RedisOptions redis, const Clock& clock, SharedBudgetOptions options, BudgetObserver* observer = nullptr);
  ~SharedBudget() override;

  void Acquire(absl::Duration max_wait, Done done) override;
  std::optional<absl::Duration> ClaimAtSocket(const BudgetGrant& grant) override;
  absl::Duration EstimatedWait() const override;
  /// Shared: until one pacing interval (at the app-wide rate in force) after the latest send any bridge planned, as
  /// last reported: partial calls of all bridges together are paced at the app's rate. Fallback: the local budget's.
  absl::Duration SpareWait() const override;
  bool Expired(const BudgetGrant& grant) const override;
  void OnThrottled() override;
  double EffectiveCallsPerSecond() const override;

  /// How late, by the local clock, a shared slot may still be used after the time it was planned for.
  static constexpr absl::Duration kMaxLateness = absl::Milliseconds(10);
  /// How far ahead the fallback promises slots.
  static constexpr absl::Duration kFallbackHorizon = absl::Milliseconds(250);
  /// The window of planned sends: see the class comment.
  static inline const absl::Duration kPlanWindow = RateLimiter::kWindow + kMaxLateness;
  /// How long after its construction a bridge's calls wait for its first Redis connection before the fallback
  /// answers them: a fallback send would cost the bridge a rejoin wait of this length anyway.
  static inline const absl::Duration kFirstConnectionGrace = kFallbackHorizon + kPlanWindow;

  /// The Redis keys of an SDKAppID's budget (a hash tag keeps both in one Redis Cluster slot).
  static std::string SendsKey(uint64_t sdkappid);
  static std::string StateKey(uint64_t sdkappid);

 private:
  // Redis answered an Acquire sent at `asked_at` (local clock).
  void OnReserveReply(const absl::StatusOr<RedisReply>& reply, absl::Time asked_at, absl::Duration max_wait, Done done);
  void UseFallback(absl::Duration max_wait, Done done, const absl::Status& why);
  // How long this bridge, back on Redis after its fallback, still waits before its first shared send (zero: none).
  absl::Duration RejoinWait(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Records the mode; logs and tells the observer when it changed.
  void SetShared(bool shared, const absl::Status& why);

  const Clock& clock_;
  const SharedBudgetOptions options_;
  BudgetObserver* const observer_;
  LocalBudget fallback_;
  const std::string sends_key_;
  const std::string state_key_;
  const std::string member_prefix_;  // Makes this bridge's set members unique among all bridges.
  std::atomic<uint64_t> next_member_{0};
  const absl::Time created_at_;

  mutable absl::Mutex mutex_;
  // -1 unknown (nothing asked yet), 0 fallback, 1 shared.
  int mode_ ABSL_GUARDED_BY(mutex_) = -1;
  double factor_ ABSL_GUARDED_BY(mutex_) = 1;  // The app-wide throttle factor Redis last reported.
  // The latest send planned by any bridge, as Redis last reported it, by the local clock.
  absl::Time latest_planned_anywhere_ ABSL_GUARDED_BY(mutex_) = absl::InfinitePast();
  // When Redis answered again after the fallback; InfinitePast once the rejoin wait is over.
  absl::Time rejoining_since_ ABSL_GUARDED_BY(mutex_) = absl::InfinitePast();

  // Last, so that it goes first: its destructor fails what is still unanswered, and those callbacks use the rest.
  std::unique_ptr<RedisClient> redis_;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_SHARED_BUDGET_H_

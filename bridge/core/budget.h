#ifndef PORTRAIT_BRIDGE_CORE_BUDGET_H_
#define PORTRAIT_BRIDGE_CORE_BUDGET_H_

#include <cstdint>
#include <optional>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "bridge/core/clock.h"
#include "bridge/core/rate_limiter.h"

namespace portrait_bridge {

/// Observes the budget's mode, for metrics. Implementations are thread-safe and must not block.
class BudgetObserver {
 public:
  virtual ~BudgetObserver() = default;
  /// The budget is now shared through Redis (true) or local: no Redis configured, or the fallback (false).
  virtual void OnBudgetShared(bool shared) = 0;
  /// The shared budget answered an ask with its local fallback: Redis failed, timed out or was not connected.
  virtual void OnBudgetFallback() = 0;
};

/// A slot for one upstream request, handed out by a Budget.
struct BudgetGrant {
  /// The request may go to the transport from this time on (now, or later when the budget paces calls).
  absl::Time send_at;
  /// The earliest local time the slot stands for (a shared budget's planned send time, mapped to the local clock
  /// from when it was asked for). The socket-time check measures how late the send is from here.
  absl::Time slot_at;
  /// Which budget granted it: a shared budget falls back to a local one and must confirm each grant with the
  /// budget that gave it.
  bool shared = false;
};

/// The answer to Budget::Acquire: a slot; or "ask again after this wait" (the budget does not promise slots that
/// far ahead); or neither: no slot within the asked time, with the estimated wait for one.
struct BudgetAnswer {
  std::optional<BudgetGrant> grant;
  std::optional<absl::Duration> ask_again_after;
  absl::Duration estimated_wait = absl::ZeroDuration();  ///< Without a grant: for RetryInfo. Zero when unknown.
};

/// The upstream call budget (Tencent: 200 portrait_get calls per second per SDKAppID), asked once per upstream
/// request. Two steps, because a slot is only spent when bytes go on the wire:
///  1. Acquire, before the request is handed to the transport: a slot, or "not within max_wait".
///  2. ClaimAtSocket, on the transport thread at the moment the request is written to a connection (libcurl's
///     PREREQFUNCTION), once per actual send: the last word, so that a stalled transport thread cannot bunch
///     sends. A refusal means nothing was sent; after the returned wait the caller tries the socket again with
///     the same grant, or asks (Acquire) again if the grant has Expired.
/// The coalescer reads SpareWait to decide when a batch that is not full may go, and EstimatedWait to fail waiters
/// the budget cannot serve in time; neither claims anything.
/// Implementations are thread-safe and never block.
class Budget {
 public:
  using Done = absl::AnyInvocable<void(BudgetAnswer) &&>;
  virtual ~Budget() = default;

  /// Asks for a slot usable within `max_wait`. `done` runs exactly once, inline or on another bridge thread, and
  /// never while the budget holds a lock.
  virtual void Acquire(absl::Duration max_wait, Done done) = 0;

  /// Called right before a granted request is written to a connection, on the transport thread. nullopt: send it
  /// now (the send is counted). Otherwise: do not send; try again after the returned wait (see Expired).
  virtual std::optional<absl::Duration> ClaimAtSocket(const BudgetGrant& grant) = 0;

  /// How long a call asking now would wait for a slot, claiming nothing (an estimate: others may ask in between).
  virtual absl::Duration EstimatedWait() const = 0;

  /// How long until a call asking now would still leave the budget room for the calls behind it (zero: now): a
  /// call that is not full waits for this, filling meanwhile, so that below the ceiling calls are paced at the
  /// budget's rate and above it they go out full, and the budget is never spent dry on half-empty calls.
  virtual absl::Duration SpareWait() const = 0;

  /// Whether a grant that ClaimAtSocket refused can no longer be used (a shared slot too late for its place): then
  /// the call asks again (Acquire); otherwise it keeps its grant and tries the socket again after the refusal's wait.
  virtual bool Expired(const BudgetGrant& grant) const = 0;

  /// Upstream said the app calls too often (60007, 60011, 60018, 60019, HTTP 429): slow down.
  virtual void OnThrottled() = 0;

  /// The calls per second now in force (the configured rate, or less after throttling).
  virtual double EffectiveCallsPerSecond() const = 0;
};

/// The budget of one bridge on its own: a RateLimiter paces grants (first come, first served), and the send
/// window is checked and recorded at the socket, so no window of RateLimiter::kWindow holds more than
/// calls_per_second sends on the wire, however late the transport thread writes them.
class LocalBudget final : public Budget {
 public:
  /// `clock` must outlive this object.
  LocalBudget(double calls_per_second, int64_t burst, const Clock& clock);

  void Acquire(absl::Duration max_wait, Done done) override;
  std::optional<absl::Duration> ClaimAtSocket(const BudgetGrant& grant) override;
  absl::Duration EstimatedWait() const override { return limiter_.EstimatedWait(); }
  /// Until the bucket would keep RateLimiter::reserve() tokens (half the burst) after the call.
  absl::Duration SpareWait() const override { return limiter_.SpareWait(); }
  /// A local grant never expires: the window refused it only for now.
  bool Expired(const BudgetGrant& /*grant*/) const override { return false; }
  void OnThrottled() override { limiter_.OnThrottled(); }
  /// See RateLimiter::HoldUntil.
  void HoldUntil(absl::Time when) { limiter_.HoldUntil(when); }
  double EffectiveCallsPerSecond() const override { return limiter_.EffectiveCallsPerSecond(); }

 private:
  const Clock& clock_;
  RateLimiter limiter_;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_BUDGET_H_

#ifndef PORTRAIT_BRIDGE_SERVICE_COALESCER_H_
#define PORTRAIT_BRIDGE_SERVICE_COALESCER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "bridge/core/clock.h"
#include "bridge/service/profile_fetcher.h"
#include "bridge/service/timer_queue.h"

namespace portrait_bridge {

/// Observes a Coalescer, for metrics. Implementations are thread-safe and must not block (they may be called
/// under the coalescer's lock).
class CoalescerObserver {
 public:
  virtual ~CoalescerObserver() = default;
  /// A call of `accounts` accounts went to the inner fetcher (one upstream call, its retries not counted again).
  virtual void OnCallSent(int64_t accounts) = 0;
  /// A caller failed at once with UPSTREAM_BUDGET_EXHAUSTED: its call could not start before its deadline.
  virtual void OnBudgetExhausted() = 0;
};

/// How a Coalescer packs asks into upstream calls.
struct CoalescerOptions {
  /// How long the first account of a batch may wait for more (config coalesce_wait_ms). Zero: send at the end of
  /// the Fetch that started the batch (unless the budget is busy, see below); asks are still deduplicated against
  /// calls in flight.
  absl::Duration wait = absl::Milliseconds(2);
  /// Accounts per upstream call, 1 to 100 (values outside are clamped). A batch that reaches it goes out at once.
  size_t max_accounts_per_call = 100;
  /// Accounts waiting in batches not yet sent, all tag lists together (config max_pending_accounts). A Fetch that
  /// would go beyond it fails at once with RESOURCE_EXHAUSTED (reason BRIDGE_OVERLOADED, RetryInfo 1 s).
  int64_t max_pending_accounts = 100000;
  /// How long a call sent now would wait for rate budget (Budget::EstimatedWait in production); empty means zero.
  /// Called without the coalescer's lock held; must not call into the coalescer.
  std::function<absl::Duration()> budget_wait;
  /// How long until the budget has a spare slot, one that leaves room for the calls behind it (Budget::SpareWait
  /// in production); empty means zero. Same rules as budget_wait.
  std::function<absl::Duration()> spare_wait;
  /// How long a batch that is not full may wait for a spare slot, past `wait`; then it goes out and queues for
  /// the budget like a full call (a tag list with few asks is not starved by busy ones).
  absl::Duration max_spare_hold = absl::Milliseconds(50);
  /// While asks (Fetch calls, all tag lists together) come slower than this many per second, a new batch does not
  /// wait `wait` for company: another ask would seldom come within it, and calls of one ask each then need less
  /// than the budget has. Such a batch goes as with a zero wait, as soon as the budget has a spare slot. Zero: every
  /// batch waits. main.cc sets half the budget's calls per second.
  double sparse_asks_per_second = 0;
  /// May be null; must outlive the coalescer.
  CoalescerObserver* observer = nullptr;
};

/// A ProfileFetcher that packs the asks of all concurrent callers into as few calls of another fetcher as it
/// can, and never asks for an account twice while it is pending or in flight for the same tags.
///
/// - Batches are keyed by the exact, ordered tag list: the order decides the upstream TagList and the order of
///   items in the answers, so ["a","b"] and ["b","a"] are different batches (callers normally send one order).
/// - An account already pending or in flight under the same tags gets one more waiter; its outcome goes to every
///   waiter. A caller's `done` runs once, when each of its accounts has an outcome.
/// - A batch goes out when it holds max_accounts_per_call accounts (at once, whatever the budget), or once `wait`
///   has passed since its first account (no wait while asks are sparse, see sparse_asks_per_second) and the budget
///   has a spare slot (spare_wait is zero). Until then it stays open and fills, for at most max_spare_hold past
///   `wait`, and never past the point where a waiter's deadline would come before the spare slot. So the budget is
///   spent by need: below the ceiling calls leave at the budget's pace as soon as it allows and no ask waits for the
///   window to refill; near it calls fill up. Accounts go into calls in the order they were asked. The call's deadline
///   is the latest deadline of its waiters. A caller joining a call in flight with a later deadline still gets that
///   call's outcome (including a deadline failure that came before its own deadline).
/// - When a batch goes out and budget_wait says the call could not start before a waiter's deadline, that waiter
///   fails at once with RESOURCE_EXHAUSTED (UPSTREAM_BUDGET_EXHAUSTED, RetryInfo = the estimated wait) instead
///   of timing out late; accounts no other waiter wants leave the batch.
/// - Ticket::Cancel finishes that caller at once (cancelled = true) and leaves other waiters alone. Accounts no
///   one waits for any more leave their pending batch; a call in flight is cancelled only when no account in it
///   has a waiter left.
/// - An inner call that ends cancelled while some of its accounts still have waiters (the inner fetcher shutting
///   down; the coalescer itself cancels only calls nobody waits for) gives those accounts UNAVAILABLE
///   (UPSTREAM_CALL_CANCELLED, retryable). They are not re-queued: during a shutdown that would loop.
///
/// Thread-safe. Neither the inner Fetch nor any `done` runs under the coalescer's lock, so the inner fetcher may
/// complete inline. `upstream`, `timers` and `clock` must outlive this object, and `timers` must run on `clock`.
/// Destroy it after its callers: callers still waiting then are finished with cancelled = true and their inner
/// calls cancelled.
class Coalescer final : public ProfileFetcher {
 public:
  Coalescer(ProfileFetcher& upstream, TimerQueue& timers, const Clock& clock, CoalescerOptions options);
  ~Coalescer() override;

  Coalescer(const Coalescer&) = delete;
  Coalescer& operator=(const Coalescer&) = delete;

  std::shared_ptr<Ticket> Fetch(std::vector<std::string> accounts, std::vector<std::string> tags, absl::Time deadline,
                                Done done) override;

  /// Accounts in batches not yet sent, all tag lists together (for tests and metrics).
  int64_t PendingAccounts() const;

 private:
  class Core;
  std::shared_ptr<Core> core_;  // Shared with timer and inner-call callbacks, which may outlive this object.
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_COALESCER_H_

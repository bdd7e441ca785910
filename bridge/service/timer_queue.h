#ifndef PORTRAIT_BRIDGE_SERVICE_TIMER_QUEUE_H_
#define PORTRAIT_BRIDGE_SERVICE_TIMER_QUEUE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/core/clock.h"

namespace portrait_bridge {

/// Runs callbacks at given times of an injected clock, so that waiting (a batch's wait, the rate budget, a retry's
/// backoff) never blocks a gRPC thread. Every time given to it is read from the same clock as its users'.
///
/// How callbacks run depends on the clock (see Clock::Attach):
/// - A clock that moves by itself (SystemClock): the queue has its own thread, which sleeps until the earliest
///   timer is due or a timer is added or cancelled, and runs the callbacks. A time already passed runs at once.
/// - A clock that moves only when told to (a test's FakeClock): no thread. The clock runs each callback as it is
///   moved past the callback's time, on the thread that moves it, before the move returns, with Now() reading the
///   callback's own time. A time already passed runs at the clock's next move (a move by zero runs it).
///
/// Either way: thread-safe; callbacks run one at a time, in time order (for equal times, in the order they were
/// added), never under the queue's lock, so a callback may call RunAt and Cancel. Callbacks still queued at
/// destruction are dropped: destroy the queue after its users, and never from one of its callbacks. `clock` must
/// outlive the queue.
class TimerQueue final : private ClockDriven {
 public:
  /// Hears how late each callback started past its time, on the queue's thread (a clock that moves by itself only:
  /// on a test's clock a callback always starts at its own time). Must not block or call into the queue.
  using OnLag = std::function<void(absl::Duration lag)>;

  explicit TimerQueue(const Clock& clock, OnLag on_lag = nullptr);
  ~TimerQueue() override;

  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  /// Runs `callback` at `when` on the queue's clock. Returns an id for Cancel.
  uint64_t RunAt(absl::Time when, absl::AnyInvocable<void() &&> callback);

  /// Removes the callback; true if it had not started (it will then never run).
  bool Cancel(uint64_t id);

 private:
  using Timers = std::map<std::pair<absl::Time, uint64_t>, absl::AnyInvocable<void() &&>>;

  // ClockDriven: the clock calls these as it moves, when it moves only when told to.
  absl::Time NextDue() const override;
  void RunNextDue() override;

  // The own thread's loop, for a clock that moves by itself.
  void Run();
  bool ShouldWake() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return stopping_ || changes_ != observed_changes_; }
  // Removes the earliest timer if it is due at `now`.
  Timers::node_type TakeDue(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const Clock& clock_;
  const OnLag on_lag_;
  mutable absl::Mutex mutex_;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mutex_) = 1;
  Timers timers_ ABSL_GUARDED_BY(mutex_);
  std::map<uint64_t, absl::Time> when_by_id_ ABSL_GUARDED_BY(mutex_);
  uint64_t changes_ ABSL_GUARDED_BY(mutex_) = 0;  // Bumped by RunAt and Cancel.
  uint64_t observed_changes_ ABSL_GUARDED_BY(mutex_) = 0;
  std::thread thread_;  // Only on a clock that moves by itself.
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_TIMER_QUEUE_H_

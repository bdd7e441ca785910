#ifndef PORTRAIT_BRIDGE_TESTS_UNIT_FAKE_CLOCK_H_
#define PORTRAIT_BRIDGE_TESTS_UNIT_FAKE_CLOCK_H_

#include <algorithm>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/core/clock.h"

namespace portrait_bridge {

/// A clock that moves only when the test says so, and runs the timers of every TimerQueue built on it as it
/// moves: Advance(99 ms) runs exactly the callbacks that became due in those 99 ms, in time order, each with Now()
/// at its own time, on the test's thread, before it returns. So a test proves "nothing before T" by advancing to
/// just before T, without sleeping.
///
/// Thread-safe, with one rule: Advance, Set, and a TimerQueue's construction or destruction must not run inside a
/// timer callback (they wait for the callbacks in progress).
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000)) : now_(start) {}

  absl::Time Now() const override {
    absl::MutexLock lock(&mutex_);
    return now_;
  }

  /// Moves time forward by `by`, running every timer due on the way. Advance(absl::ZeroDuration()) runs the
  /// timers that are due already (set for a time that had passed).
  void Advance(absl::Duration by) {
    absl::MutexLock drive(&drive_mutex_);
    const absl::Time target = Now() + by;
    RunDueUntil(target);
    SetNow(target);
  }

  /// Sets the time. Forward, it runs the timers due on the way, as Advance does; backward, it runs none.
  void Set(absl::Time now) {
    absl::MutexLock drive(&drive_mutex_);
    RunDueUntil(now);
    SetNow(now);
  }

  bool Attach(ClockDriven& driven) const override {
    absl::MutexLock drive(&drive_mutex_);
    driven_.push_back(&driven);
    return true;
  }
  void Detach(ClockDriven& driven) const override {
    absl::MutexLock drive(&drive_mutex_);
    driven_.erase(std::find(driven_.begin(), driven_.end(), &driven));
  }

 private:
  // Runs, one at a time and earliest first, every timer due at or before `target`, moving the clock to each one's
  // time first (never back: a timer set for a past time runs at the current time).
  void RunDueUntil(absl::Time target) ABSL_EXCLUSIVE_LOCKS_REQUIRED(drive_mutex_) {
    while (true) {
      ClockDriven* next = nullptr;
      absl::Time next_at = absl::InfiniteFuture();
      for (ClockDriven* driven : driven_) {
        if (const absl::Time at = driven->NextDue(); at < next_at) {
          next = driven;
          next_at = at;
        }
      }
      if (next == nullptr || next_at > target) return;
      SetNow(std::max(Now(), next_at));
      next->RunNextDue();
    }
  }
  void SetNow(absl::Time now) {
    absl::MutexLock lock(&mutex_);
    now_ = now;
  }

  // Held while timers run, so that callbacks run one at a time and a queue is never detached during its own.
  mutable absl::Mutex drive_mutex_ ABSL_ACQUIRED_BEFORE(mutex_);
  mutable std::vector<ClockDriven*> driven_ ABSL_GUARDED_BY(drive_mutex_);
  mutable absl::Mutex mutex_;
  absl::Time now_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_TESTS_UNIT_FAKE_CLOCK_H_

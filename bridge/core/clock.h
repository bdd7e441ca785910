#ifndef PORTRAIT_BRIDGE_CORE_CLOCK_H_
#define PORTRAIT_BRIDGE_CORE_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace portrait_bridge {

/// Work scheduled on a clock's time (a TimerQueue), for a clock that moves only when told to: such a clock runs
/// the work itself as it moves, since nothing would wake a thread sleeping until one of its times.
class ClockDriven {
 public:
  virtual ~ClockDriven() = default;
  /// The earliest time something is scheduled for; absl::InfiniteFuture() when nothing is.
  virtual absl::Time NextDue() const = 0;
  /// Runs the earliest scheduled item if it is due at the clock's Now(), on the calling thread.
  virtual void RunNextDue() = 0;
};

/// The wall clock, injectable so tests can move time without sleeping. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  /// For a clock that moves only when told to (a test's clock): takes `driven` and, from now until Detach
  /// returns, runs its due work on the thread that moves the clock; returns true. A clock that moves by itself
  /// at the real rate (the default) returns false: its users wait for it in real time, on threads of their own.
  virtual bool Attach(ClockDriven& /*driven*/) const { return false; }
  /// Undoes Attach; once it returns, the clock no longer calls `driven`.
  virtual void Detach(ClockDriven& /*driven*/) const {}
};

/// The real clock.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_CLOCK_H_

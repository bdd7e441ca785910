#ifndef PORTRAIT_BRIDGE_CORE_RATE_LIMITER_H_
#define PORTRAIT_BRIDGE_CORE_RATE_LIMITER_H_

#include <cstdint>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/core/clock.h"

namespace portrait_bridge {

/// A token bucket in front of every upstream call: `calls_per_second` on average, up to `burst` at once.
/// Reservations are first come, first served: each one is given the time its token becomes available.
/// Thread-safe.
class RateLimiter {
 public:
  /// `clock` must outlive this object.
  RateLimiter(double calls_per_second, int64_t burst, const Clock& clock);

  /// Reserves one call if it can start within `max_wait`, and returns how long to wait before starting it
  /// (zero: start now). Returns nullopt, reserving nothing, when the wait would be longer.
  std::optional<absl::Duration> Reserve(absl::Duration max_wait);

  /// The wait a Reserve() made now would be given, reserving nothing: an estimate for callers deciding whether
  /// queued work can still start before its deadline (other callers may reserve in between).
  absl::Duration EstimatedWait() const;

 private:
  const absl::Duration interval_;  // Time to earn one token.
  const absl::Duration burst_window_;
  const Clock& clock_;
  mutable absl::Mutex mutex_;
  // The time at which the bucket would be full again if nothing more were reserved (the GCRA "theoretical
  // arrival time"): a new call may start at next_free_ - burst_window_ + interval_.
  absl::Time next_free_ ABSL_GUARDED_BY(mutex_) = absl::InfinitePast();
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_RATE_LIMITER_H_

#ifndef PORTRAIT_BRIDGE_SANDBOX_RATE_LIMITER_H_
#define PORTRAIT_BRIDGE_SANDBOX_RATE_LIMITER_H_

#include <deque>

#include "absl/time/time.h"

namespace portrait_bridge::sandbox {

/// Admits at most `limit` calls in any window of length `window` on the calls' arrival times, like the
/// per-SDKAppID limit upstream ("N calls per second" is `window` = 1 s). A sliding window (not a token bucket)
/// is the stricter reading: a client that passes it also passes a bucket of burst N.
///
/// Boundary: a window is the half-open interval (t - window, t]. An admission at `a` still counts for an arrival
/// at `a + window - 1ns` and no longer counts at exactly `a + window`, so admissions resume exactly when the
/// oldest one leaves. With that reading no interval (s, s + window] ever holds more than `limit` admissions.
///
/// Arrivals may reach Admit() out of order (HTTP threads take their arrival time before they take the lock), so
/// the admitted times are kept sorted and an arrival is admitted only if every window containing it, later
/// admissions included, still holds at most `limit`. An arrival older than the newest one seen by more than
/// `window` is refused: part of its windows' history is no longer kept, and refusing never breaks the limit.
///
/// Not thread-safe: the owner serialises calls. Time comes from the caller so tests need no sleeps.
class SlidingWindowLimiter {
 public:
  /// `limit` <= 0 admits everything. `window` must be positive.
  explicit SlidingWindowLimiter(int limit, absl::Duration window = absl::Seconds(1));

  /// Whether a call arriving at `now` is admitted; admitted calls count towards the window, refused ones do not.
  bool Admit(absl::Time now);

 private:
  const int limit_;
  const absl::Duration window_;
  absl::Time newest_ = absl::InfinitePast();  // Latest arrival seen, admitted or not.
  // Admission times after newest_ - 2 * window_, sorted: every window containing an arrival that is not refused
  // as stale lies inside that span. At most 2 * limit_ entries.
  std::deque<absl::Time> admitted_;
};

}  // namespace portrait_bridge::sandbox

#endif  // PORTRAIT_BRIDGE_SANDBOX_RATE_LIMITER_H_

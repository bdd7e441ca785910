#ifndef PORTRAIT_BRIDGE_SANDBOX_RATE_LIMITER_H_
#define PORTRAIT_BRIDGE_SANDBOX_RATE_LIMITER_H_

#include <deque>

#include "absl/time/time.h"

namespace portrait_bridge::sandbox {

/// Admits at most `calls_per_second` calls in any sliding one-second window, like the per-SDKAppID limit
/// upstream. A sliding window (not a token bucket) is the stricter reading of "N calls per second": a client
/// that passes it also passes a bucket of burst N.
///
/// Not thread-safe: the owner serialises calls. Time comes from the caller so tests need no sleeps.
class SlidingWindowLimiter {
 public:
  /// `calls_per_second` <= 0 admits everything.
  explicit SlidingWindowLimiter(int calls_per_second) : limit_(calls_per_second) {}

  /// Whether a call at `now` is admitted; admitted calls count towards the window, rejected ones do not.
  bool Admit(absl::Time now);

 private:
  const int limit_;
  std::deque<absl::Time> admitted_;  // Admission times within the last second, oldest first.
};

}  // namespace portrait_bridge::sandbox

#endif  // PORTRAIT_BRIDGE_SANDBOX_RATE_LIMITER_H_

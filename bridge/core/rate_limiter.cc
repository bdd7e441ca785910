#include "bridge/core/rate_limiter.h"

#include <algorithm>

namespace portrait_bridge {

RateLimiter::RateLimiter(double calls_per_second, int64_t burst, const Clock& clock)
    : interval_(absl::Seconds(1) / calls_per_second), burst_window_(interval_ * burst), clock_(clock) {}

std::optional<absl::Duration> RateLimiter::Reserve(absl::Duration max_wait) {
  absl::MutexLock lock(&mutex_);
  const absl::Time now = clock_.Now();
  const absl::Time base = std::max(next_free_, now);
  const absl::Time start = std::max(now, base + interval_ - burst_window_);
  const absl::Duration wait = start - now;
  if (wait > max_wait) return std::nullopt;
  next_free_ = base + interval_;
  return wait;
}

absl::Duration RateLimiter::EstimatedWait() const {
  absl::MutexLock lock(&mutex_);
  const absl::Time now = clock_.Now();
  const absl::Time base = std::max(next_free_, now);
  return std::max(now, base + interval_ - burst_window_) - now;
}

}  // namespace portrait_bridge

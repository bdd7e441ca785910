#include "bridge/sandbox/rate_limiter.h"

namespace portrait_bridge::sandbox {

bool SlidingWindowLimiter::Admit(absl::Time now) {
  if (limit_ <= 0) return true;
  const absl::Time window_start = now - absl::Seconds(1);
  while (!admitted_.empty() && admitted_.front() <= window_start) admitted_.pop_front();
  if (admitted_.size() >= static_cast<size_t>(limit_)) return false;
  admitted_.push_back(now);
  return true;
}

}  // namespace portrait_bridge::sandbox

#include "bridge/sandbox/rate_limiter.h"

#include <algorithm>

namespace portrait_bridge::sandbox {

SlidingWindowLimiter::SlidingWindowLimiter(int limit, absl::Duration window) : limit_(limit), window_(window) {}

bool SlidingWindowLimiter::Admit(absl::Time now) {
  if (limit_ <= 0) return true;
  if (now < newest_ - window_) return false;  // Stale: see the class comment.
  newest_ = std::max(newest_, now);
  const absl::Time keep_after = newest_ - 2 * window_;
  while (!admitted_.empty() && admitted_.front() <= keep_after) admitted_.pop_front();

  // Admissions in the window (end - window, end].
  const auto count_ending_at = [this](absl::Time end) {
    return std::upper_bound(admitted_.begin(), admitted_.end(), end) -
           std::upper_bound(admitted_.begin(), admitted_.end(), end - window_);
  };
  // A window's count only rises when its end passes an admission, so of the windows containing `now` the fullest
  // ends at `now` or at an admission in [now, now + window). In order, only the first check runs.
  if (count_ending_at(now) >= limit_) return false;
  for (auto it = std::lower_bound(admitted_.begin(), admitted_.end(), now);
       it != admitted_.end() && *it < now + window_; ++it) {
    if (count_ending_at(*it) >= limit_) return false;
  }
  admitted_.insert(std::upper_bound(admitted_.begin(), admitted_.end(), now), now);
  return true;
}

}  // namespace portrait_bridge::sandbox

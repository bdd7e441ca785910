#include "bridge/core/retry_policy.h"

#include <algorithm>
#include <cstdint>

namespace portrait_bridge {

absl::Duration BackoffBound(int retry, absl::Duration initial, absl::Duration max) {
  if (max <= absl::ZeroDuration() || initial <= absl::ZeroDuration()) return absl::ZeroDuration();
  absl::Duration bound = std::min(initial, max);
  // Doubling stops at `max`, so a large retry number cannot overflow.
  for (int i = 1; i < retry && bound < max; ++i) bound = std::min(bound * 2, max);
  return bound;
}

absl::Duration FullJitter(absl::Duration bound, std::mt19937& random) {
  if (bound <= absl::ZeroDuration()) return absl::ZeroDuration();
  const int64_t bound_ns = absl::ToInt64Nanoseconds(bound);
  std::uniform_int_distribution<int64_t> draw(0, bound_ns);
  return absl::Nanoseconds(draw(random));
}

RetryBudget::RetryBudget(double ratio)
    : ratio_(std::max(0.0, ratio)),
      capacity_(ratio_ > 0 ? std::max(10.0, 100 * ratio_) : 0.0),
      tokens_(capacity_) {}

void RetryBudget::OnFirstAttempt() {
  if (ratio_ <= 0) return;
  absl::MutexLock lock(&mutex_);
  tokens_ = std::min(capacity_, tokens_ + ratio_);
}

bool RetryBudget::TrySpend() {
  absl::MutexLock lock(&mutex_);
  if (tokens_ < 1 - 1e-9) return false;  // Tolerates rounding in sums of ratio.
  tokens_ -= 1;
  return true;
}

double RetryBudget::tokens() const {
  absl::MutexLock lock(&mutex_);
  return tokens_;
}

}  // namespace portrait_bridge

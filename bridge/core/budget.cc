#include "bridge/core/budget.h"

#include <utility>

namespace portrait_bridge {

LocalBudget::LocalBudget(double calls_per_second, int64_t burst, const Clock& clock)
    : clock_(clock), limiter_(calls_per_second, burst, clock) {}

void LocalBudget::Acquire(absl::Duration max_wait, Done done) {
  BudgetAnswer answer;
  const absl::Time now = clock_.Now();
  if (const std::optional<absl::Duration> wait = limiter_.Reserve(max_wait); wait.has_value()) {
    answer.grant = BudgetGrant{now + *wait, now, /*shared=*/false};
  } else {
    answer.estimated_wait = limiter_.EstimatedWait();
  }
  std::move(done)(std::move(answer));
}

std::optional<absl::Duration> LocalBudget::ClaimAtSocket(const BudgetGrant& /*grant*/) {
  const absl::Duration wait = limiter_.ClaimSendSlot();
  if (wait <= absl::ZeroDuration()) return std::nullopt;
  return wait;
}

}  // namespace portrait_bridge

#ifndef PORTRAIT_BRIDGE_CORE_RETRY_POLICY_H_
#define PORTRAIT_BRIDGE_CORE_RETRY_POLICY_H_

#include <random>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace portrait_bridge {

/// The longest backoff before retry number `retry` (1 = the first retry): `initial * 2^(retry - 1)`, capped at
/// `max`. Never negative, never overflows.
absl::Duration BackoffBound(int retry, absl::Duration initial, absl::Duration max);

/// "Full jitter": a backoff drawn uniformly from [0, bound]. Spreading retries over the whole interval keeps the
/// callers that failed together (an outage fails every call at once) from retrying together.
absl::Duration FullJitter(absl::Duration bound, std::mt19937& random);

/// A retry budget shared by every upstream call of a process: each first attempt deposits `ratio` tokens (up to a
/// cap), each retry spends one, and a failure finding the bucket empty is delivered without a retry.
///
/// Why: per-call attempts alone let an outage multiply upstream load by retry_max_attempts exactly when upstream
/// is least able to take it. With the budget, over any period the retries cannot exceed `ratio` times the first
/// attempts plus the cap, so upstream sees at most (1 + ratio) times the load callers generate (plus a constant),
/// however long the outage; when the outage is short, the saved-up tokens absorb it and no caller notices.
///
/// The bucket starts full so a fresh process can retry too. `ratio` 0 disables retries (the cap is then 0).
/// Thread-safe.
class RetryBudget {
 public:
  explicit RetryBudget(double ratio);

  /// The cap: max(10, 100 * ratio) tokens, or 0 when ratio is 0.
  double capacity() const { return capacity_; }

  /// A first attempt was made.
  void OnFirstAttempt();

  /// Takes a token for one retry; false, taking nothing, when less than one token is left.
  bool TrySpend();

  /// Tokens left (for tests).
  double tokens() const;

 private:
  const double ratio_;
  const double capacity_;
  mutable absl::Mutex mutex_;
  double tokens_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_RETRY_POLICY_H_

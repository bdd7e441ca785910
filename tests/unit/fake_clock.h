#ifndef PORTRAIT_BRIDGE_TESTS_UNIT_FAKE_CLOCK_H_
#define PORTRAIT_BRIDGE_TESTS_UNIT_FAKE_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/core/clock.h"

namespace portrait_bridge {

/// A clock that moves only when the test says so. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000)) : now_(start) {}

  absl::Time Now() const override {
    absl::MutexLock lock(&mutex_);
    return now_;
  }
  void Set(absl::Time now) {
    absl::MutexLock lock(&mutex_);
    now_ = now;
  }
  void Advance(absl::Duration by) {
    absl::MutexLock lock(&mutex_);
    now_ += by;
  }

 private:
  mutable absl::Mutex mutex_;
  absl::Time now_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_TESTS_UNIT_FAKE_CLOCK_H_

#ifndef PORTRAIT_BRIDGE_SERVICE_TIMER_QUEUE_H_
#define PORTRAIT_BRIDGE_SERVICE_TIMER_QUEUE_H_

#include <cstdint>
#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace portrait_bridge {

/// Runs callbacks at given times on its own thread, so that waiting (for the rate budget) never blocks a gRPC
/// thread. Thread-safe. Callbacks still queued at destruction are dropped: destroy it after its users.
class TimerQueue {
 public:
  TimerQueue();
  ~TimerQueue();

  /// Runs `callback` at `when` (at once if it has passed). Returns an id for Cancel.
  uint64_t RunAt(absl::Time when, absl::AnyInvocable<void() &&> callback);

  /// Removes the callback; true if it had not started (it will then never run).
  bool Cancel(uint64_t id);

 private:
  void Run();
  bool ShouldWake() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return stopping_ || changes_ != observed_changes_;
  }

  absl::Mutex mutex_;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mutex_) = 1;
  std::map<std::pair<absl::Time, uint64_t>, absl::AnyInvocable<void() &&>> timers_ ABSL_GUARDED_BY(mutex_);
  std::map<uint64_t, absl::Time> when_by_id_ ABSL_GUARDED_BY(mutex_);
  uint64_t changes_ ABSL_GUARDED_BY(mutex_) = 0;  // Bumped by RunAt and Cancel.
  uint64_t observed_changes_ ABSL_GUARDED_BY(mutex_) = 0;
  std::thread thread_;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_TIMER_QUEUE_H_

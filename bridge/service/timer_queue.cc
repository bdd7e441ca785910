#include "bridge/service/timer_queue.h"

#include "absl/time/clock.h"
#include "bridge/core/thread_name.h"

namespace portrait_bridge {

TimerQueue::TimerQueue(const Clock& clock, OnLag on_lag) : clock_(clock), on_lag_(std::move(on_lag)) {
  if (clock_.Attach(*this)) return;  // A manual clock runs the timers as it moves.
  thread_ = std::thread([this] {
    NameThisThread("timer-queue");
    Run();
  });
}

TimerQueue::~TimerQueue() {
  if (!thread_.joinable()) {
    clock_.Detach(*this);  // Waits for a callback the clock is running now.
    return;
  }
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  thread_.join();
}

uint64_t TimerQueue::RunAt(absl::Time when, absl::AnyInvocable<void() &&> callback) {
  absl::MutexLock lock(&mutex_);
  const uint64_t id = next_id_++;
  timers_.emplace(std::make_pair(when, id), std::move(callback));
  when_by_id_[id] = when;
  ++changes_;
  return id;
}

bool TimerQueue::Cancel(uint64_t id) {
  Timers::node_type cancelled;  // Destroyed after the lock is released: its captures may run any code.
  absl::MutexLock lock(&mutex_);
  const auto it = when_by_id_.find(id);
  if (it == when_by_id_.end()) return false;
  cancelled = timers_.extract({it->second, id});
  when_by_id_.erase(it);
  ++changes_;
  return true;
}

TimerQueue::Timers::node_type TimerQueue::TakeDue(absl::Time now) {
  if (timers_.empty() || timers_.begin()->first.first > now) return {};
  Timers::node_type node = timers_.extract(timers_.begin());
  when_by_id_.erase(node.key().second);  // Started: Cancel now returns false.
  return node;
}

absl::Time TimerQueue::NextDue() const {
  absl::MutexLock lock(&mutex_);
  return timers_.empty() ? absl::InfiniteFuture() : timers_.begin()->first.first;
}

void TimerQueue::RunNextDue() {
  const absl::Time now = clock_.Now();
  Timers::node_type node;
  {
    absl::MutexLock lock(&mutex_);
    node = TakeDue(now);
  }
  if (node) std::move(node.mapped())();
}

void TimerQueue::Run() {
  absl::MutexLock lock(&mutex_);
  while (!stopping_) {
    const absl::Time now = clock_.Now();
    if (Timers::node_type node = TakeDue(now)) {
      mutex_.Unlock();
      if (on_lag_) on_lag_(now - node.key().first);
      std::move(node.mapped())();
      node = {};  // The callback's captures too are released outside the lock.
      mutex_.Lock();
      continue;
    }
    // Wake when the earliest timer is due, when a timer is added or removed, or when stopping. The clock moves at
    // the real rate, so the time left on it is the real time to sleep.
    const absl::Time wake =
        absl::Now() + (timers_.empty() ? absl::Milliseconds(200) : timers_.begin()->first.first - now);
    observed_changes_ = changes_;
    mutex_.AwaitWithDeadline(absl::Condition(this, &TimerQueue::ShouldWake), wake);
  }
}

}  // namespace portrait_bridge

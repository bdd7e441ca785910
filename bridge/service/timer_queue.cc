#include "bridge/service/timer_queue.h"

#include "absl/time/clock.h"

namespace portrait_bridge {

TimerQueue::TimerQueue() : thread_([this] { Run(); }) {}

TimerQueue::~TimerQueue() {
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
  absl::MutexLock lock(&mutex_);
  const auto it = when_by_id_.find(id);
  if (it == when_by_id_.end()) return false;
  timers_.erase({it->second, id});
  when_by_id_.erase(it);
  ++changes_;
  return true;
}

void TimerQueue::Run() {
  absl::MutexLock lock(&mutex_);
  while (!stopping_) {
    const absl::Time now = absl::Now();
    if (!timers_.empty() && timers_.begin()->first.first <= now) {
      auto node = timers_.extract(timers_.begin());
      when_by_id_.erase(node.key().second);
      mutex_.Unlock();
      std::move(node.mapped())();
      mutex_.Lock();
      continue;
    }
    // Wake when the earliest timer is due, when a timer is added or removed, or when stopping.
    const absl::Time wake = timers_.empty() ? now + absl::Milliseconds(200) : timers_.begin()->first.first;
    observed_changes_ = changes_;
    mutex_.AwaitWithDeadline(absl::Condition(this, &TimerQueue::ShouldWake), wake);
  }
}

}  // namespace portrait_bridge

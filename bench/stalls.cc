#include "bench/stalls.h"

#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>

#include <algorithm>
#include <chrono>

namespace portrait_bridge::bench {

void StallMeter::Start() {
  stopping_.store(false);
  late_us_.clear();
  late_us_.reserve(60000);  // A minute of wake-ups without growing.
  thread_ = std::thread([this] { Loop(); });
}

Stalls StallMeter::Stop() {
  if (!thread_.joinable()) return {};
  stopping_.store(true);
  thread_.join();
  Stalls stalls;
  stalls.measured = !late_us_.empty();
  stalls.realtime = realtime_.load();
  stalls.wakes = static_cast<int64_t>(late_us_.size());
  if (!stalls.measured) return stalls;
  std::sort(late_us_.begin(), late_us_.end());
  const size_t rank = (late_us_.size() * 99 + 99) / 100;  // Nearest rank.
  stalls.p99_ms = static_cast<double>(late_us_[rank - 1]) / 1000;
  stalls.max_ms = static_cast<double>(late_us_.back()) / 1000;
  stalls.over_5ms = std::count_if(late_us_.begin(), late_us_.end(), [](int64_t us) { return us > 5000; });
  return stalls;
}

void StallMeter::Loop() {
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // Otherwise the kernel may defer a wake-up by up to 50 us.
  sched_param param{};
  param.sched_priority = 1;
  realtime_.store(pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0);
  using Clock = std::chrono::steady_clock;
  constexpr auto kSleep = std::chrono::milliseconds(1);
  while (!stopping_.load(std::memory_order_relaxed)) {
    const Clock::time_point due = Clock::now() + kSleep;
    std::this_thread::sleep_until(due);
    const auto late = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - due).count();
    late_us_.push_back(std::max<int64_t>(0, late));
  }
}

}  // namespace portrait_bridge::bench

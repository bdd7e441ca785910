#include "bench/stalls.h"

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
  stalls.realtime = realtime_.load();
  stalls.over_5ms = std::count_if(late_us_.begin(), late_us_.end(), [](uint32_t us) { return us > 5000; });
  stalls.late = Summarize(late_us_);
  return stalls;
}

void StallMeter::Loop() {
  realtime_.store(KeepTimeOnThisThread());
  constexpr auto kSleep = std::chrono::milliseconds(1);
  while (!stopping_.load(std::memory_order_relaxed)) {
    const Clock::time_point due = Clock::now() + kSleep;
    std::this_thread::sleep_until(due);
    const auto late = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - due).count();
    late_us_.push_back(static_cast<uint32_t>(std::clamp<int64_t>(late, 0, UINT32_MAX)));
  }
}

}  // namespace portrait_bridge::bench

// How much the machine itself stalls during a measured window: the benchmark shares a small VM with its target, and
// a pause of the whole VM (its host not running it) delays every process at once, the bridge included.
#ifndef PORTRAIT_BRIDGE_BENCH_STALLS_H_
#define PORTRAIT_BRIDGE_BENCH_STALLS_H_

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "bench/measure.h"

namespace portrait_bridge::bench {

/// What a StallMeter saw.
struct Stalls {
  bool realtime = false;  ///< The sleeper ran at real-time priority, so busy cores could not delay it.
  LatencySummary late;    ///< How late each wake-up came past the 1 ms sleep.
  int64_t over_5ms = 0;   ///< Wake-ups more than 5 ms late.
  bool measured() const { return late.count > 0; }
};

/// A thread that sleeps 1 ms at a time and records how late it wakes up. It takes the lowest real-time priority
/// when allowed (as the open loop's arrival thread does), so busy cores do not delay it: what delays it is the
/// machine not running at all (a VM's vCPUs paused by the host) or the kernel, and every thread on the machine
/// stalls with it. Without the privilege it also measures waiting for a busy core (Stalls::realtime says which).
class StallMeter {
 public:
  StallMeter() = default;
  ~StallMeter() { Stop(); }
  StallMeter(const StallMeter&) = delete;
  StallMeter& operator=(const StallMeter&) = delete;

  void Start();
  /// Stops the thread (if running) and summarises what it saw since Start.
  Stalls Stop();

 private:
  void Loop();

  std::atomic<bool> stopping_{false};
  std::atomic<bool> realtime_{false};
  std::vector<uint32_t> late_us_;  // Written by the thread only; read after it is joined.
  std::thread thread_;
};

}  // namespace portrait_bridge::bench

#endif  // PORTRAIT_BRIDGE_BENCH_STALLS_H_

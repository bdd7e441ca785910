// The open loop's arrival schedule: lookups at a fixed mean rate with Poisson spacing, whatever the target does.
#ifndef PORTRAIT_BRIDGE_BENCH_ARRIVALS_H_
#define PORTRAIT_BRIDGE_BENCH_ARRIVALS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>

#include "bench/measure.h"

namespace portrait_bridge::bench {

/// Calls `arrive(intended)` on a thread of its own at the times of a Poisson process: inter-arrival times drawn
/// from an exponential distribution of mean 1/`rate_per_s`, from a generator seeded with `seed` (the same seed
/// gives the same schedule, so the bridge and direct REST see the same arrivals). `intended` is the scheduled
/// time; `arrive` is called as soon after it as the thread gets to run. A late thread never stretches the
/// schedule: it catches up by calling `arrive` for every arrival that fell due meanwhile, each with its own
/// intended time, so its lag shows in the latencies measured from those times (no coordinated omission).
/// `arrive` must not block: it hands the lookup over and returns.
class PoissonArrivals {
 public:
  using Arrive = std::function<void(Clock::time_point intended)>;
  PoissonArrivals(double rate_per_s, uint64_t seed, Arrive arrive);
  ~PoissonArrivals();
  void Start();
  /// Stops the schedule and returns once `arrive` will not be called again.
  void Stop();
  /// Whether the schedule's thread runs at real-time priority (SCHED_FIFO 1; needs the privilege to).
  bool realtime() const { return realtime_.load(); }

 private:
  void Loop();

  const double rate_per_s_;
  const uint64_t seed_;
  const Arrive arrive_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> realtime_{false};
  std::thread thread_;
};

}  // namespace portrait_bridge::bench

#endif  // PORTRAIT_BRIDGE_BENCH_ARRIVALS_H_

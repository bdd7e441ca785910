#include "bench/arrivals.h"

#include <algorithm>
#include <chrono>
#include <random>

namespace portrait_bridge::bench {

PoissonArrivals::PoissonArrivals(double rate_per_s, uint64_t seed, Arrive arrive)
    : rate_per_s_(rate_per_s), seed_(seed), arrive_(std::move(arrive)) {}

PoissonArrivals::~PoissonArrivals() { Stop(); }

void PoissonArrivals::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void PoissonArrivals::Stop() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
}

void PoissonArrivals::Loop() {
  // The default timer slack (50 us) is most of a mean gap at 18,000 arrivals/s. On a machine whose cores are all
  // busy (the bridge, the sandbox, other work), a thread that wakes up can wait milliseconds for a core: arrivals
  // would come late and in bursts. The schedule stands for users outside the system under test, so it takes the
  // lowest real-time priority when allowed (it needs about 7 us of CPU per arrival, so it cannot starve the rest),
  // and runs as any thread otherwise.
  realtime_.store(KeepTimeOnThisThread());
  std::mt19937_64 rng(seed_);
  std::exponential_distribution<double> gap_s(rate_per_s_);
  auto gap = [&] { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(gap_s(rng))); };
  // Never sleep longer than this, so that Stop is seen soon at low rates.
  constexpr auto kMaxSleep = std::chrono::milliseconds(20);
  Clock::time_point next = Clock::now() + gap();
  while (!stopping_.load(std::memory_order_relaxed)) {
    const Clock::time_point now = Clock::now();
    if (next > now) {
      std::this_thread::sleep_until(std::min(next, now + kMaxSleep));
      continue;
    }
    // Every arrival already due, each with its own intended time.
    while (next <= now) {
      arrive_(next);
      next += gap();
    }
  }
}

}  // namespace portrait_bridge::bench

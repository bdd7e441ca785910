// What one ask looks like, shared by the gRPC and REST load generators.
#ifndef PORTRAIT_BRIDGE_BENCH_LOAD_H_
#define PORTRAIT_BRIDGE_BENCH_LOAD_H_

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace portrait_bridge::bench {

/// Each ask is `accounts_per_ask` consecutive distinct accounts user<k>.. at a random start inside the pool
/// user<pool_first> .. user<pool_first + pool_size - 1>, with the same `tags`.
struct AskShape {
  int accounts_per_ask = 1;
  int64_t pool_first = 0;
  int64_t pool_size = 100000;
  std::vector<std::string> tags;

  template <typename Add>
  void Pick(std::mt19937_64& rng, Add add) const {
    const int64_t span = std::max<int64_t>(1, pool_size - accounts_per_ask + 1);
    const int64_t start = pool_first + static_cast<int64_t>(rng() % static_cast<uint64_t>(span));
    for (int i = 0; i < accounts_per_ask; ++i) add("user" + std::to_string(start + i));
  }
};

}  // namespace portrait_bridge::bench

#endif  // PORTRAIT_BRIDGE_BENCH_LOAD_H_

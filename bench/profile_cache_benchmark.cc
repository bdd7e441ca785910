// Microbenchmark of ProfileCache::Lookup alone: 10,000 accounts x 4 tags, every Lookup a hit, accounts in a
// random order (so that records are not found in cache lines the previous Lookup warmed). Not a test and not
// built by default:
//
//   cmake --build build --target profile_cache_benchmark
//   build/bench/profile_cache_benchmark --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Under callgrind, --lookups=N runs N Lookups and no benchmark; instructions per Lookup are the difference of two
// runs' totals (N and 0) divided by N:
//
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null build/bench/profile_cache_benchmark --lookups=1000000

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/core/clock.h"
#include "bridge/core/profile_cache.h"

namespace portrait_bridge {
namespace {

using portraitbridge::profile::v1::ProfileItem;

constexpr int kAccounts = 10'000;

// Time stands still: the clock's own cost is not the cache's.
class FixedClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::FromUnixSeconds(1700000000); }
};

const std::vector<std::string>& Tags() {
  static const auto* const tags = new std::vector<std::string>{"Tag_Profile_IM_Nick", "Tag_Profile_IM_Gender",
                                                               "Tag_Profile_IM_Level", "Tag_Profile_Custom_Score"};
  return *tags;
}

struct Fixture {
  Fixture() : cache(Options(), clock) {
    std::mt19937 random(42);
    for (int i = 0; i < kAccounts; ++i) accounts.push_back(absl::StrCat("user_", i));
    order.resize(kAccounts);
    for (int i = 0; i < kAccounts; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), random);
    // Stored in another random order, so that neither the allocator nor the LRU order follows the asking order.
    std::vector<int> stored = order;
    std::shuffle(stored.begin(), stored.end(), random);
    for (int i : stored) {
      std::vector<ProfileItem> items;
      for (const std::string& tag : Tags()) {
        ProfileItem& item = items.emplace_back();
        item.set_tag(tag);
        item.set_string_value(absl::StrCat(accounts[i], "'s value"));
      }
      cache.PutProfile(accounts[i], Tags(), items);
    }
  }
  static ProfileCacheOptions Options() {
    ProfileCacheOptions options;
    options.ttl = absl::Hours(1);
    return options;
  }

  FixedClock clock;
  ProfileCache cache;
  std::vector<std::string> accounts;
  std::vector<int> order;
};

Fixture& SharedFixture() {
  static Fixture* const fixture = new Fixture();
  return *fixture;
}

void BM_LookupHit(benchmark::State& state) {
  Fixture& fixture = SharedFixture();
  size_t next = static_cast<size_t>(state.thread_index()) * 4999 % kAccounts;
  int64_t misses = 0;
  for (auto _ : state) {
    std::optional<ProfileCache::Hit> hit = fixture.cache.Lookup(fixture.accounts[fixture.order[next]], Tags());
    misses += !hit.has_value();
    benchmark::DoNotOptimize(hit);
    if (++next == kAccounts) next = 0;
  }
  state.SetItemsProcessed(state.iterations());
  if (misses != 0) state.SkipWithError("a Lookup missed");
}
BENCHMARK(BM_LookupHit)->Threads(1)->Threads(2)->UseRealTime();

// --lookups=N: N Lookups, for callgrind (see the header).
int RunLookups(int64_t lookups) {
  Fixture& fixture = SharedFixture();
  int64_t bytes = 0;
  for (int64_t i = 0; i < lookups; ++i) {
    std::optional<ProfileCache::Hit> hit = fixture.cache.Lookup(fixture.accounts[fixture.order[i % kAccounts]], Tags());
    if (!hit.has_value()) {
      std::fprintf(stderr, "Lookup %lld missed\n", static_cast<long long>(i));
      return 1;
    }
    bytes += static_cast<int64_t>(hit->encoded_items.size());
  }
  std::printf("%lld lookups, %lld bytes\n", static_cast<long long>(lookups), static_cast<long long>(bytes));
  return 0;
}

}  // namespace
}  // namespace portrait_bridge

int main(int argc, char** argv) {
  // As the bridge's main does: Debian's Abseil would otherwise run deadlock detection on every Lock().
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--lookups=", 10) == 0) return portrait_bridge::RunLookups(std::atoll(argv[i] + 10));
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

// Microbenchmarks of the local cache's hot path. BM_HotSetFetch is the issue's target "hot set with the cache on:
// at least 100,000 profiles/s served for a 10,000-account hot set": each iteration is one Fetch of a 100-account
// chunk (the reactor's upstream batch size) that the cache answers entirely; items_per_second is profiles served
// per second. BM_CacheLookup is ProfileCache::Lookup alone, every Lookup a hit, accounts asked in a random order
// (so that records are not found in cache lines the previous Lookup warmed) and stored in another.
//
//   build/tests/unit/caching_fetcher_benchmark --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Under callgrind, --lookups=N runs N of BM_CacheLookup's Lookups and no benchmark; instructions per Lookup are the
// difference of two runs' totals (N and 0) divided by N:
//
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null build/tests/unit/caching_fetcher_benchmark
//   --lookups=1000000

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/core/profile_cache.h"
#include "bridge/service/caching_fetcher.h"

namespace portrait_bridge {
namespace {

using portraitbridge::profile::v1::ProfileItem;

constexpr int kHotSet = 10'000;
constexpr int kChunk = 100;

const std::vector<std::string>& Tags() {
  static const auto* const tags = new std::vector<std::string>{"Tag_Profile_IM_Nick", "Tag_Profile_IM_Gender",
                                                               "Tag_Profile_IM_Level", "Tag_Profile_Custom_Score"};
  return *tags;
}

const std::vector<std::string>& Accounts() {
  static const auto* const accounts = [] {
    auto* accounts = new std::vector<std::string>();
    for (int i = 0; i < kHotSet; ++i) accounts->push_back(absl::StrCat("user_", i));
    return accounts;
  }();
  return *accounts;
}

// Every tag's item; with `one_unset`, none for Gender (an unset field is cached too).
std::vector<ProfileItem> ItemsFor(const std::string& account, bool one_unset = true) {
  std::vector<ProfileItem> items;
  for (const std::string& tag : Tags()) {
    if (one_unset && tag == "Tag_Profile_IM_Gender") continue;
    ProfileItem& item = items.emplace_back();
    item.set_tag(tag);
    item.set_string_value(absl::StrCat(account, "'s value"));
  }
  return items;
}

// Answers every Fetch inline: only the warm-up reaches it.
class InlineFetcher final : public ProfileFetcher {
 public:
  std::shared_ptr<Ticket> Fetch(std::vector<std::string> accounts, std::vector<std::string> tags, absl::Time deadline,
                                Done done) override {
    FetchResult result;
    for (std::string& account : accounts) {
      AccountOutcome& outcome = result.outcomes.emplace_back();
      outcome.items = ItemsFor(account);
      outcome.account = std::move(account);
    }
    std::move(done)(std::move(result));
    return nullptr;
  }
};

struct Fixture {
  Fixture() : fetcher(inner, clock, Options()) {
    for (int start = 0; start < kHotSet; start += kChunk) {
      std::vector<std::string> chunk(Accounts().begin() + start, Accounts().begin() + start + kChunk);
      fetcher.Fetch(std::move(chunk), Tags(), absl::InfiniteFuture(), [](FetchResult) {});
    }
  }
  static CachingFetcherOptions Options() {
    CachingFetcherOptions options;
    options.ttl = absl::Hours(1);
    return options;
  }
  SystemClock clock;
  InlineFetcher inner;
  CachingFetcher fetcher;
};

Fixture& SharedFixture() {
  static Fixture* const fixture = new Fixture();
  return *fixture;
}

void BM_HotSetFetch(benchmark::State& state) {
  Fixture& fixture = SharedFixture();
  int64_t misses = 0;
  size_t start = (static_cast<size_t>(state.thread_index()) * 7919) % kHotSet;
  for (auto _ : state) {
    std::vector<std::string> chunk;
    chunk.reserve(kChunk);
    for (int i = 0; i < kChunk; ++i) chunk.push_back(Accounts()[(start + static_cast<size_t>(i) * 97) % kHotSet]);
    start = (start + 1) % kHotSet;
    fixture.fetcher.Fetch(std::move(chunk), Tags(), absl::InfiniteFuture(), [&misses](FetchResult result) {
      if (result.outcomes.size() != kChunk) ++misses;
      benchmark::DoNotOptimize(result);
    });
  }
  state.SetItemsProcessed(state.iterations() * kChunk);
  if (misses != 0) state.SkipWithError("a chunk was not fully answered");
}
BENCHMARK(BM_HotSetFetch)->Threads(1)->Threads(2)->Threads(8)->UseRealTime();

// Time stands still: the clock's own cost is not the cache's.
class FixedClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::FromUnixSeconds(1700000000); }
};

struct LookupFixture {
  LookupFixture() : cache(Options(), clock) {
    std::mt19937 random(42);
    order.resize(kHotSet);
    for (int i = 0; i < kHotSet; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), random);
    // Stored in another random order, so that neither the allocator nor the LRU order follows the asking order.
    std::vector<int> stored = order;
    std::shuffle(stored.begin(), stored.end(), random);
    for (int i : stored) cache.PutProfile(Accounts()[i], Tags(), ItemsFor(Accounts()[i], /*one_unset=*/false));
  }
  static ProfileCacheOptions Options() {
    ProfileCacheOptions options;
    options.ttl = absl::Hours(1);
    return options;
  }
  // The account of the i-th Lookup.
  const std::string& Account(size_t i) const { return Accounts()[order[i % kHotSet]]; }

  FixedClock clock;
  ProfileCache cache;
  std::vector<int> order;
};

LookupFixture& SharedLookupFixture() {
  static LookupFixture* const fixture = new LookupFixture();
  return *fixture;
}

void BM_CacheLookup(benchmark::State& state) {
  LookupFixture& fixture = SharedLookupFixture();
  size_t next = static_cast<size_t>(state.thread_index()) * 4999;
  int64_t misses = 0;
  for (auto _ : state) {
    std::optional<ProfileCache::Hit> hit = fixture.cache.Lookup(fixture.Account(next++), Tags());
    misses += !hit.has_value();
    benchmark::DoNotOptimize(hit);
  }
  state.SetItemsProcessed(state.iterations());
  if (misses != 0) state.SkipWithError("a Lookup missed");
}
BENCHMARK(BM_CacheLookup)->Threads(1)->Threads(2)->UseRealTime();

// --lookups=N: N of BM_CacheLookup's Lookups, for callgrind (see the header).
int RunLookups(int64_t lookups) {
  LookupFixture& fixture = SharedLookupFixture();
  int64_t bytes = 0;
  for (int64_t i = 0; i < lookups; ++i) {
    std::optional<ProfileCache::Hit> hit = fixture.cache.Lookup(fixture.Account(static_cast<size_t>(i)), Tags());
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

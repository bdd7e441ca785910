// Microbenchmark for the issue's target "hot set with the cache on: at least 100,000 profiles/s served for a
// 10,000-account hot set". Each iteration is one Fetch of a 100-account chunk (the reactor's upstream batch size)
// that the cache answers entirely; items_per_second is profiles served per second.
//
//   build-cache/tests/unit/caching_fetcher_benchmark --benchmark_min_time=1

#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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

std::vector<ProfileItem> ItemsFor(const std::string& account) {
  std::vector<ProfileItem> items;
  for (const std::string& tag : Tags()) {
    if (tag == "Tag_Profile_IM_Gender") continue;  // One unset field per account.
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

void BM_CacheLookup(benchmark::State& state) {
  SystemClock clock;
  ProfileCacheOptions options;
  options.ttl = absl::Hours(1);
  ProfileCache cache(options, clock);
  for (const std::string& account : Accounts()) cache.PutProfile(account, Tags(), ItemsFor(account));
  size_t next = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cache.Lookup(Accounts()[next], Tags()));
    next = (next + 1) % kHotSet;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CacheLookup);

}  // namespace
}  // namespace portrait_bridge

BENCHMARK_MAIN();

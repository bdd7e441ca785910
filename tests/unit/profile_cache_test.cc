#include "bridge/core/profile_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/unit/fake_clock.h"
#include "tests/unit/fetcher_fakes.h"

namespace portrait_bridge {
namespace {

using portraitbridge::profile::v1::ProfileItem;

constexpr absl::Duration kTtl = absl::Seconds(60);
constexpr absl::Duration kNegativeTtl = absl::Seconds(1);
const std::string kNick = "Tag_Profile_IM_Nick";
const std::string kGender = "Tag_Profile_IM_Gender";
const std::string kLevel = "Tag_Profile_IM_Level";

ProfileCacheOptions Options(int64_t max_entries = 1000, int shards = 4) {
  ProfileCacheOptions options;
  options.ttl = kTtl;
  options.max_entries = max_entries;
  options.negative_ttl = kNegativeTtl;
  options.shards = shards;
  return options;
}

TEST(ProfileCacheTest, MissUntilStoredThenHitInTheAskedTagOrder) {
  FakeClock clock;
  ProfileCache cache(Options(), clock);
  EXPECT_EQ(cache.Lookup("alice", {kNick, kLevel}), std::nullopt);

  cache.PutProfile("alice", {kNick, kLevel}, {UintItem(kLevel, 7), StringItem(kNick, "Alice")});

  std::optional<ProfileCache::Hit> hit = cache.Lookup("alice", {kNick, kLevel});
  ASSERT_TRUE(hit.has_value());
  EXPECT_FALSE(hit->failure.has_value());
  EXPECT_EQ(TagsOf(hit->items()), (std::vector<std::string>{kNick, kLevel}));
  EXPECT_EQ(hit->items()[0].string_value(), "Alice");
  EXPECT_EQ(hit->items()[1].uint_value(), 7u);

  hit = cache.Lookup("alice", {kLevel, kNick});
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(TagsOf(hit->items()), (std::vector<std::string>{kLevel, kNick}));

  hit = cache.Lookup("alice", {kLevel});
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(TagsOf(hit->items()), (std::vector<std::string>{kLevel}));

  // One tag never fetched: the whole account is a miss.
  EXPECT_EQ(cache.Lookup("alice", {kNick, kGender}), std::nullopt);
  EXPECT_EQ(cache.Lookup("bob", {kNick}), std::nullopt);

  const ProfileCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.hits, 3);
  EXPECT_EQ(stats.misses, 3);
  EXPECT_EQ(stats.entries, 2);
}

// Upstream answers come in wire form: stored from it, an account's hit holds the same bytes as when stored from
// messages.
TEST(ProfileCacheTest, ItemsStoredInWireFormAreTheSameHitAsMessages) {
  FakeClock clock;
  ProfileCache from_messages(Options(), clock);
  ProfileCache from_wire(Options(), clock);
  const std::vector<ProfileItem> items = {UintItem(kLevel, 7), StringItem(kNick, "Alice"), StringItem(kGender, "x")};
  std::string wire;
  for (const ProfileItem& item : items) AppendEncodedItem(item, wire);
  from_messages.PutProfile("alice", {kNick, kLevel}, items);
  from_wire.PutProfile("alice", {kNick, kLevel}, wire);

  const std::optional<ProfileCache::Hit> expected = from_messages.Lookup("alice", {kLevel, kNick});
  const std::optional<ProfileCache::Hit> hit = from_wire.Lookup("alice", {kLevel, kNick});
  ASSERT_TRUE(expected.has_value());
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->encoded_items, expected->encoded_items);
  EXPECT_EQ(TagsOf(hit->items()), (std::vector<std::string>{kLevel, kNick}));
  EXPECT_EQ(from_wire.Lookup("alice", {kGender}), std::nullopt) << "an item for a tag not asked is not stored";
}

TEST(ProfileCacheTest, AnUnsetFieldIsAHitWithoutAnItem) {
  FakeClock clock;
  ProfileCache cache(Options(), clock);
  // Tencent answered only the nick: the gender is unset, which is worth remembering too.
  cache.PutProfile("alice", {kNick, kGender}, {StringItem(kNick, "Alice")});

  std::optional<ProfileCache::Hit> hit = cache.Lookup("alice", {kGender});
  ASSERT_TRUE(hit.has_value());
  EXPECT_TRUE(hit->items().empty());

  hit = cache.Lookup("alice", {kNick, kGender});
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(TagsOf(hit->items()), (std::vector<std::string>{kNick}));
}

TEST(ProfileCacheTest, ItemsForTagsNotAskedAreIgnored) {
  FakeClock clock;
  ProfileCache cache(Options(), clock);
  cache.PutProfile("alice", {kNick}, {StringItem(kNick, "Alice"), UintItem(kLevel, 3)});
  EXPECT_EQ(cache.Lookup("alice", {kLevel}), std::nullopt);
  EXPECT_EQ(cache.stats().entries, 1);
}

TEST(ProfileCacheTest, EntriesExpireTtlAfterTheyWereStored) {
  FakeClock clock;
  ProfileCache cache(Options(), clock);
  cache.PutProfile("alice", {kNick}, {StringItem(kNick, "Alice")});
  clock.Advance(kTtl / 2);
  cache.PutProfile("alice", {kLevel}, {UintItem(kLevel, 1)});

  clock.Advance(kTtl / 2 - absl::Nanoseconds(1));
  EXPECT_TRUE(cache.Lookup("alice", {kNick, kLevel}).has_value());

  clock.Advance(absl::Nanoseconds(1));  // The nick is now exactly ttl old: stale.
  EXPECT_EQ(cache.Lookup("alice", {kNick, kLevel}), std::nullopt);
  EXPECT_TRUE(cache.Lookup("alice", {kLevel}).has_value());
  EXPECT_EQ(cache.stats().entries, 1) << "the stale entry is dropped when found";

  clock.Advance(kTtl / 2);
  EXPECT_EQ(cache.Lookup("alice", {kLevel}), std::nullopt);
}

TEST(ProfileCacheTest, StoringAgainRefreshesTheExpiryAndTheValue) {
  FakeClock clock;
  ProfileCache cache(Options(), clock);
  cache.PutProfile("alice", {kNick}, {StringItem(kNick, "Alice")});
  clock.Advance(kTtl - absl::Seconds(1));
  cache.PutProfile("alice", {kNick}, absl::string_view());  // The nick was cleared upstream.
  clock.Advance(absl::Seconds(2));
  std::optional<ProfileCache::Hit> hit = cache.Lookup("alice", {kNick});
  ASSERT_TRUE(hit.has_value());
  EXPECT_TRUE(hit->items().empty());
  EXPECT_EQ(cache.stats().entries, 1);
}

TEST(ProfileCacheTest, AFullCacheEvictsTheLeastRecentlyUsedEntry) {
  FakeClock clock;
  ProfileCache cache(Options(/*max_entries=*/3, /*shards=*/1), clock);
  for (const char* account : {"a", "b", "c"}) cache.PutProfile(account, {kNick}, {StringItem(kNick, account)});
  ASSERT_TRUE(cache.Lookup("a", {kNick}).has_value());  // "b" is now the least recently used.

  cache.PutProfile("d", {kNick}, {StringItem(kNick, "d")});

  EXPECT_EQ(cache.Lookup("b", {kNick}), std::nullopt);
  EXPECT_TRUE(cache.Lookup("a", {kNick}).has_value());
  EXPECT_TRUE(cache.Lookup("c", {kNick}).has_value());
  EXPECT_TRUE(cache.Lookup("d", {kNick}).has_value());
  EXPECT_EQ(cache.stats().entries, 3);
  EXPECT_EQ(cache.stats().evictions, 1);
}

TEST(ProfileCacheTest, EvictionTakesTheLeastRecentlyUsedAccountWithAllItsEntries) {
  FakeClock clock;
  ProfileCache cache(Options(/*max_entries=*/5, /*shards=*/1), clock);
  cache.PutProfile("a", {kNick, kGender, kLevel}, {StringItem(kNick, "a"), UintItem(kLevel, 1)});
  cache.PutProfile("b", {kNick, kLevel}, {StringItem(kNick, "b"), UintItem(kLevel, 2)});
  // A hit on one tag makes the whole account recent: "b" is now the least recently used.
  ASSERT_TRUE(cache.Lookup("a", {kLevel}).has_value());
  EXPECT_EQ(cache.stats().entries, 5);

  cache.PutProfile("c", {kNick}, {StringItem(kNick, "c")});

  EXPECT_EQ(cache.stats().entries, 4);
  EXPECT_EQ(cache.stats().evictions, 2) << "both of b's entries";
  EXPECT_EQ(cache.Lookup("b", {kNick}), std::nullopt);
  EXPECT_EQ(cache.Lookup("b", {kLevel}), std::nullopt);
  EXPECT_TRUE(cache.Lookup("a", {kNick, kGender, kLevel}).has_value());
  EXPECT_TRUE(cache.Lookup("c", {kNick}).has_value());
}

TEST(ProfileCacheTest, AHitWithinTheNewestQuarterKeepsItsPlaceAndAnOlderHitMovesToTheFront) {
  FakeClock clock;
  ProfileCache cache(Options(/*max_entries=*/16, /*shards=*/1), clock);
  for (int i = 0; i < 16; ++i) {
    const std::string account = absl::StrCat("a", i);
    cache.PutProfile(account, {kNick}, {StringItem(kNick, account)});
  }
  // a12 to a15 are the newest quarter: hits leave the order alone. a1 is older: its hit makes it the newest.
  for (int i = 12; i < 16; ++i) ASSERT_TRUE(cache.Lookup(absl::StrCat("a", i), {kNick}).has_value());
  ASSERT_TRUE(cache.Lookup("a1", {kNick}).has_value());

  for (int i = 16; i < 19; ++i) {
    const std::string account = absl::StrCat("a", i);
    cache.PutProfile(account, {kNick}, {StringItem(kNick, account)});
  }

  // Evicted, least recently used first: a0, then a2 and a3 (a1 was moved).
  EXPECT_EQ(cache.stats().evictions, 3);
  for (const char* gone : {"a0", "a2", "a3"}) EXPECT_EQ(cache.Lookup(gone, {kNick}), std::nullopt) << gone;
  for (const char* kept : {"a1", "a4", "a12", "a15", "a18"})
    EXPECT_TRUE(cache.Lookup(kept, {kNick}).has_value()) << kept;
}

TEST(ProfileCacheTest, AMissDoesNotMakeTheAccountRecent) {
  FakeClock clock;
  ProfileCache cache(Options(/*max_entries=*/2, /*shards=*/1), clock);
  cache.PutProfile("a", {kNick}, {StringItem(kNick, "a")});
  cache.PutProfile("b", {kNick}, {StringItem(kNick, "b")});
  EXPECT_EQ(cache.Lookup("a", {kNick, kLevel}), std::nullopt);  // The level was never stored.

  cache.PutProfile("c", {kNick}, {StringItem(kNick, "c")});

  EXPECT_EQ(cache.Lookup("a", {kNick}), std::nullopt);
  EXPECT_TRUE(cache.Lookup("b", {kNick}).has_value());
  EXPECT_EQ(cache.stats().evictions, 1);
}

TEST(ProfileCacheTest, AFailureAndTheFieldsOfAnAccountCountTogetherTowardTheBound) {
  FakeClock clock;
  ProfileCache cache(Options(/*max_entries=*/3, /*shards=*/1), clock);
  cache.PutProfile("alice", {kNick, kLevel}, {StringItem(kNick, "Alice"), UintItem(kLevel, 1)});
  cache.PutFailure("alice", TencentFailure(40003, "account not found"));
  cache.PutFailure("alice", TencentFailure(40003, "account not found"));  // Replaces it: still one entry.
  EXPECT_EQ(cache.stats().entries, 3);
  EXPECT_EQ(cache.stats().evictions, 0);

  cache.PutProfile("bob", {kNick}, {StringItem(kNick, "Bob")});

  const ProfileCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.entries, 1);
  EXPECT_EQ(stats.evictions, 3) << "alice's two fields and her failure";
  EXPECT_EQ(cache.Lookup("alice", {kNick}), std::nullopt);
  EXPECT_TRUE(cache.Lookup("bob", {kNick}).has_value());
}

TEST(ProfileCacheTest, AnAccountLargerThanItsShardIsNotKept) {
  FakeClock clock;
  ProfileCache cache(Options(/*max_entries=*/2, /*shards=*/1), clock);
  cache.PutProfile("a", {kNick}, {StringItem(kNick, "a")});
  cache.PutProfile("b", {kNick, kGender, kLevel}, {StringItem(kNick, "b")});
  EXPECT_EQ(cache.Lookup("b", {kNick}), std::nullopt);
  EXPECT_EQ(cache.Lookup("a", {kNick}), std::nullopt);
  EXPECT_EQ(cache.stats().entries, 0);
  EXPECT_EQ(cache.stats().evictions, 4);
}

TEST(ProfileCacheTest, RefreshingAFieldKeepsTheOtherFieldsAndTheirExpiry) {
  FakeClock clock;
  ProfileCache cache(Options(), clock);
  cache.PutProfile("alice", {kNick, kGender, kLevel}, {StringItem(kNick, "Alice"), UintItem(kLevel, 1)});
  clock.Advance(kTtl / 2);
  cache.PutProfile("alice", {kNick}, {StringItem(kNick, "Alicia")});
  EXPECT_EQ(cache.stats().entries, 3);

  // In another order than stored, and the refreshed nick is no longer stored first.
  std::optional<ProfileCache::Hit> hit = cache.Lookup("alice", {kLevel, kGender, kNick});
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(TagsOf(hit->items()), (std::vector<std::string>{kLevel, kNick}));
  EXPECT_EQ(hit->items()[1].string_value(), "Alicia");
  hit = cache.Lookup("alice", {kNick, kGender, kLevel});
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(TagsOf(hit->items()), (std::vector<std::string>{kNick, kLevel}));

  clock.Advance(kTtl / 2);  // The gender and the level are now ttl old; the nick half of it.
  EXPECT_EQ(cache.Lookup("alice", {kNick, kLevel}), std::nullopt);
  EXPECT_EQ(cache.stats().entries, 2) << "the stale level is dropped; the gender is not asked, so not yet";
  hit = cache.Lookup("alice", {kNick});
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->items()[0].string_value(), "Alicia");
  EXPECT_EQ(cache.Lookup("alice", {kGender}), std::nullopt);
  EXPECT_EQ(cache.stats().entries, 1);
}

TEST(ProfileCacheTest, ARepeatedTagIsStoredOnce) {
  FakeClock clock;
  ProfileCache cache(Options(), clock);
  cache.PutProfile("alice", {kNick, kNick}, {StringItem(kNick, "Alice")});
  EXPECT_EQ(cache.stats().entries, 1);
  std::optional<ProfileCache::Hit> hit = cache.Lookup("alice", {kNick});
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(TagsOf(hit->items()), (std::vector<std::string>{kNick}));
}

TEST(ProfileCacheTest, TheBoundHoldsAcrossShards) {
  FakeClock clock;
  ProfileCache cache(Options(/*max_entries=*/100, /*shards=*/16), clock);
  for (int i = 0; i < 1000; ++i) {
    cache.PutProfile(absl::StrCat("user", i), {kNick, kLevel}, {StringItem(kNick, "x"), UintItem(kLevel, 1)});
  }
  const ProfileCache::Stats stats = cache.stats();
  EXPECT_LE(stats.entries, 100);
  EXPECT_GT(stats.entries, 50) << "shards are roughly balanced";
  EXPECT_EQ(stats.entries + stats.evictions, 2000);
}

TEST(ProfileCacheTest, ZeroTtlOrZeroEntriesStoresNothing) {
  FakeClock clock;
  ProfileCacheOptions no_ttl = Options();
  no_ttl.ttl = absl::ZeroDuration();
  ProfileCache no_ttl_cache(no_ttl, clock);
  no_ttl_cache.PutProfile("alice", {kNick}, {StringItem(kNick, "Alice")});
  EXPECT_EQ(no_ttl_cache.Lookup("alice", {kNick}), std::nullopt);

  ProfileCache no_room(Options(/*max_entries=*/0), clock);
  no_room.PutProfile("alice", {kNick}, {StringItem(kNick, "Alice")});
  no_room.PutFailure("bob", TencentFailure(40003, "not found"));
  EXPECT_EQ(no_room.Lookup("alice", {kNick}), std::nullopt);
  EXPECT_EQ(no_room.Lookup("bob", {kNick}), std::nullopt);
  EXPECT_EQ(no_room.stats().entries, 0);
}

TEST(ProfileCacheTest, AFailureAnswersAnyTagsForTheNegativeTtl) {
  FakeClock clock;
  ProfileCache cache(Options(), clock);
  cache.PutFailure("ghost", TencentFailure(40003, "account not found"));

  std::optional<ProfileCache::Hit> hit = cache.Lookup("ghost", {kNick, kLevel});
  ASSERT_TRUE(hit.has_value());
  ASSERT_TRUE(hit->failure.has_value());
  EXPECT_EQ(hit->failure->tencent_code, 40003);
  EXPECT_EQ(hit->failure->tencent_info, "account not found");
  EXPECT_TRUE(hit->items().empty());
  EXPECT_TRUE(cache.Lookup("ghost", {kGender}).has_value());

  clock.Advance(kNegativeTtl);
  EXPECT_EQ(cache.Lookup("ghost", {kNick}), std::nullopt);
}

TEST(ProfileCacheTest, AFailureShadowsTheProfileAndASuccessClearsTheFailure) {
  FakeClock clock;
  ProfileCache cache(Options(), clock);
  cache.PutProfile("alice", {kNick}, {StringItem(kNick, "Alice")});
  cache.PutFailure("alice", TencentFailure(40003, "account not found"));
  std::optional<ProfileCache::Hit> hit = cache.Lookup("alice", {kNick});
  ASSERT_TRUE(hit.has_value());
  EXPECT_TRUE(hit->failure.has_value());

  cache.PutProfile("alice", {kLevel}, {UintItem(kLevel, 2)});
  hit = cache.Lookup("alice", {kNick, kLevel});
  ASSERT_TRUE(hit.has_value());
  EXPECT_FALSE(hit->failure.has_value());
  EXPECT_EQ(TagsOf(hit->items()), (std::vector<std::string>{kNick, kLevel}));
}

TEST(ProfileCacheTest, EightThreadsShareTheCacheWithinTheBound) {
  FakeClock clock;
  ProfileCache cache(Options(/*max_entries=*/500, /*shards=*/8), clock);
  std::atomic<int64_t> hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&cache, &clock, &hits, t] {
      for (int i = 0; i < 5000; ++i) {
        const std::string account = absl::StrCat("user", (i * 7 + t) % 300);
        if (std::optional<ProfileCache::Hit> hit = cache.Lookup(account, {kNick, kLevel}); hit.has_value()) {
          ++hits;
          if (!hit->failure.has_value()) {
            EXPECT_EQ(TagsOf(hit->items()), (std::vector<std::string>{kNick, kLevel}));
            EXPECT_EQ(hit->items()[0].string_value(), account);
          }
        } else if (i % 11 == 0) {
          cache.PutFailure(account, TencentFailure(40003, "not found"));
        } else {
          cache.PutProfile(account, {kNick, kLevel}, {StringItem(kNick, account), UintItem(kLevel, 1)});
        }
        if (t == 0 && i % 1000 == 0) clock.Advance(absl::Milliseconds(300));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const ProfileCache::Stats stats = cache.stats();
  EXPECT_LE(stats.entries, 500);
  EXPECT_EQ(stats.hits, hits.load());
  EXPECT_EQ(stats.hits + stats.misses, 8 * 5000);
  EXPECT_GT(stats.hits, 0);
}

}  // namespace
}  // namespace portrait_bridge

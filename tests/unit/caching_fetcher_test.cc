#include "bridge/service/caching_fetcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "tests/unit/fake_clock.h"
#include "tests/unit/fetcher_fakes.h"

namespace portrait_bridge {
namespace {

using portraitbridge::profile::v1::ProfileItem;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kTtl = absl::Seconds(30);
constexpr absl::Duration kNegativeTtl = absl::Seconds(1);
const std::string kNick = "Tag_Profile_IM_Nick";
const std::string kGender = "Tag_Profile_IM_Gender";
const std::string kLevel = "Tag_Profile_IM_Level";
const absl::Time kDeadline = absl::FromUnixSeconds(1800000000);

CachingFetcherOptions Options(int64_t max_entries = 1000) {
  CachingFetcherOptions options;
  options.ttl = kTtl;
  options.max_entries = max_entries;
  options.negative_ttl = kNegativeTtl;
  return options;
}

class CachingFetcherTest : public ::testing::Test {
 protected:
  // Fetches and, if the inner fetcher was asked, answers with `answer` for the accounts it was asked.
  void FetchAndAnswer(std::vector<std::string> accounts, std::vector<std::string> tags,
                      const std::map<std::string, AccountOutcome>& answers, Delivery& delivery) {
    const size_t asks_before = inner_.asks.size();
    fetcher_.Fetch(std::move(accounts), std::move(tags), kDeadline, delivery.Callback());
    if (inner_.asks.size() == asks_before) return;
    std::vector<AccountOutcome> outcomes;
    for (const std::string& account : inner_.asks.back().accounts) outcomes.push_back(answers.at(account));
    inner_.Answer(inner_.asks.size() - 1, Outcomes(std::move(outcomes)));
  }

  FakeClock clock_;
  FakeFetcher inner_;
  CachingFetcher fetcher_{inner_, clock_, Options()};
};

TEST_F(CachingFetcherTest, AMissGoesToTheInnerFetcherAndTheRepeatIsServedInline) {
  Delivery first;
  fetcher_.Fetch({"alice", "bob"}, {kNick, kLevel}, kDeadline, first.Callback());
  ASSERT_EQ(inner_.asks.size(), 1u);
  EXPECT_THAT(inner_.asks[0].accounts, ElementsAre("alice", "bob"));
  EXPECT_THAT(inner_.asks[0].tags, ElementsAre(kNick, kLevel));
  EXPECT_EQ(inner_.asks[0].deadline, kDeadline);
  EXPECT_EQ(first.calls, 0);

  inner_.Answer(0, Outcomes({Success("alice", {StringItem(kNick, "Alice"), StringItem(kLevel, "1")}),
                             Success("bob", {StringItem(kNick, "Bob")})}));
  EXPECT_EQ(first.calls, 1);
  EXPECT_FALSE(first.result.cancelled);
  EXPECT_THAT(first.Accounts(), UnorderedElementsAre("alice", "bob"));

  Delivery second;
  std::shared_ptr<ProfileFetcher::Ticket> ticket =
      fetcher_.Fetch({"bob", "alice"}, {kLevel, kNick}, kDeadline, second.Callback());
  EXPECT_EQ(second.calls, 1) << "all hits: done runs before Fetch returns";
  EXPECT_EQ(inner_.asks.size(), 1u);
  EXPECT_THAT(second.Accounts(), UnorderedElementsAre("alice", "bob"));
  // Items in the order of the asked tags; bob's unset level is remembered as unset.
  EXPECT_THAT(TagsOf(ItemsOf(*second.Find("alice"))), ElementsAre(kLevel, kNick));
  EXPECT_THAT(TagsOf(ItemsOf(*second.Find("bob"))), ElementsAre(kNick));
  EXPECT_EQ(ItemsOf(*second.Find("bob"))[0].string_value(), "Bob");

  ticket->Cancel();  // Nothing left to cancel.
  EXPECT_EQ(second.calls, 1);
  EXPECT_FALSE(second.result.cancelled);
  EXPECT_EQ(fetcher_.cache_stats().hits, 2);
}

TEST_F(CachingFetcherTest, APartialHitAsksTheInnerFetcherOnlyForTheMissingAccounts) {
  Delivery warm;
  FetchAndAnswer({"alice"}, {kNick}, {{"alice", Success("alice", {StringItem(kNick, "Alice")})}}, warm);

  Delivery delivery;
  fetcher_.Fetch({"carol", "alice", "dave"}, {kNick}, kDeadline, delivery.Callback());
  ASSERT_EQ(inner_.asks.size(), 2u);
  EXPECT_THAT(inner_.asks[1].accounts, ElementsAre("carol", "dave"));
  EXPECT_THAT(inner_.asks[1].tags, ElementsAre(kNick));
  EXPECT_EQ(delivery.calls, 0) << "the hit waits for the misses";

  inner_.Answer(
      1, Outcomes({Success("carol", {StringItem(kNick, "Carol")}), Failed("dave", TencentFailure(60008, "timeout"))}));
  ASSERT_EQ(delivery.calls, 1);
  EXPECT_THAT(delivery.Accounts(), UnorderedElementsAre("alice", "carol", "dave"));
  EXPECT_EQ(ItemsOf(*delivery.Find("alice"))[0].string_value(), "Alice");
  EXPECT_EQ(ItemsOf(*delivery.Find("carol"))[0].string_value(), "Carol");
  EXPECT_EQ(delivery.Find("dave")->failure->tencent_code, 60008);
}

TEST_F(CachingFetcherTest, ANewTagIsAMissForTheWholeAccount) {
  Delivery warm;
  FetchAndAnswer({"alice"}, {kNick}, {{"alice", Success("alice", {StringItem(kNick, "Alice")})}}, warm);

  Delivery delivery;
  fetcher_.Fetch({"alice"}, {kNick, kGender}, kDeadline, delivery.Callback());
  ASSERT_EQ(inner_.asks.size(), 2u);
  EXPECT_THAT(inner_.asks[1].tags, ElementsAre(kNick, kGender));
}

TEST_F(CachingFetcherTest, AnUnsetFieldIsServedFromTheCache) {
  Delivery warm;
  FetchAndAnswer({"alice"}, {kGender}, {{"alice", Success("alice", {})}}, warm);

  Delivery delivery;
  fetcher_.Fetch({"alice"}, {kGender}, kDeadline, delivery.Callback());
  EXPECT_EQ(inner_.asks.size(), 1u);
  ASSERT_EQ(delivery.calls, 1);
  ASSERT_EQ(delivery.result.outcomes.size(), 1u);
  EXPECT_FALSE(delivery.result.outcomes[0].failure.has_value());
  EXPECT_THAT(ItemsOf(delivery.result.outcomes[0]), IsEmpty());
}

TEST_F(CachingFetcherTest, EntriesExpireAfterTheTtl) {
  Delivery warm;
  FetchAndAnswer({"alice"}, {kNick}, {{"alice", Success("alice", {StringItem(kNick, "Alice")})}}, warm);

  clock_.Advance(kTtl - absl::Milliseconds(1));
  Delivery fresh;
  fetcher_.Fetch({"alice"}, {kNick}, kDeadline, fresh.Callback());
  EXPECT_EQ(inner_.asks.size(), 1u);
  EXPECT_EQ(fresh.calls, 1);

  clock_.Advance(absl::Milliseconds(1));
  Delivery stale;
  fetcher_.Fetch({"alice"}, {kNick}, kDeadline, stale.Callback());
  EXPECT_EQ(inner_.asks.size(), 2u);
  EXPECT_EQ(stale.calls, 0);
}

TEST(CachingFetcherBoundTest, AFullCacheEvictsAndTheEvictedAccountIsFetchedAgain) {
  FakeClock clock;
  FakeFetcher inner;
  CachingFetcher fetcher(inner, clock, Options(/*max_entries=*/1));
  for (const char* account : {"alice", "bob", "alice"}) {
    Delivery delivery;
    const size_t before = inner.asks.size();
    fetcher.Fetch({account}, {kNick}, kDeadline, delivery.Callback());
    ASSERT_EQ(inner.asks.size(), before + 1) << account << " should have been a miss";
    inner.Answer(before, Outcomes({Success(account, {StringItem(kNick, account)})}));
    EXPECT_EQ(delivery.calls, 1);
  }
  EXPECT_EQ(fetcher.cache_stats().entries, 1);
  EXPECT_EQ(fetcher.cache_stats().evictions, 2);
}

TEST_F(CachingFetcherTest, AnUnknownAccountIsRememberedForTheNegativeTtlWhateverTheTags) {
  Delivery warm;
  FetchAndAnswer({"ghost"}, {kNick}, {{"ghost", Failed("ghost", TencentFailure(40003, "account not found"))}}, warm);
  ASSERT_EQ(warm.calls, 1);
  EXPECT_EQ(warm.Find("ghost")->failure->tencent_code, 40003);

  Delivery cached;
  fetcher_.Fetch({"ghost"}, {kLevel, kGender}, kDeadline, cached.Callback());
  EXPECT_EQ(inner_.asks.size(), 1u);
  ASSERT_EQ(cached.calls, 1);
  ASSERT_TRUE(cached.Find("ghost")->failure.has_value());
  EXPECT_EQ(cached.Find("ghost")->failure->tencent_code, 40003);
  EXPECT_EQ(cached.Find("ghost")->failure->rule.grpc_code, absl::StatusCode::kNotFound);

  clock_.Advance(kNegativeTtl);
  Delivery expired;
  fetcher_.Fetch({"ghost"}, {kNick}, kDeadline, expired.Callback());
  EXPECT_EQ(inner_.asks.size(), 2u);
}

TEST_F(CachingFetcherTest, RetryableStreamEndingAndTagOrCallDependentFailuresAreNotCached) {
  Failure deadline;
  deadline.rule = {absl::StatusCode::kDeadlineExceeded, false, false, "DEADLINE_EXCEEDED", "deadline"};
  deadline.message = "the caller's deadline passed";
  Failure http_404;
  http_404.rule = RuleForHttpStatus(404);
  http_404.http_status = 404;
  Failure connect;
  connect.rule = RuleForTransportFailure(TransportFailure::kConnect);

  const std::vector<std::pair<std::string, Failure>> failures = {
      {"60008 service timeout", TencentFailure(60008, "timeout")},
      {"UNAVAILABLE connect", connect},
      {"70009 ends the stream", TencentFailure(70009, "bad key")},
      {"40009 unknown tag", TencentFailure(40009, "tag")},
      {"40007 no permission for a field", TencentFailure(40007, "permission")},
      {"deadline", deadline},
      {"HTTP 404", http_404},
  };
  for (const auto& [name, failure] : failures) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(CachingFetcher::IsCacheableFailure(failure));
    const std::string account = absl::StrCat("user-", name);
    Delivery first;
    FetchAndAnswer({account}, {kNick}, {{account, Failed(account, failure)}}, first);
    EXPECT_EQ(first.calls, 1);
    const size_t asks = inner_.asks.size();
    Delivery second;
    fetcher_.Fetch({account}, {kNick}, kDeadline, second.Callback());
    EXPECT_EQ(inner_.asks.size(), asks + 1) << "asked again";
    inner_.Answer(asks, Outcomes({Success(account, {})}));
  }
  EXPECT_TRUE(CachingFetcher::IsCacheableFailure(TencentFailure(40003, "")));
  EXPECT_TRUE(CachingFetcher::IsCacheableFailure(TencentFailure(70107, "")));
}

TEST_F(CachingFetcherTest, CancelDeliversCancelledOnceAndCancelsTheInnerFetch) {
  Delivery delivery;
  std::shared_ptr<ProfileFetcher::Ticket> ticket = fetcher_.Fetch({"alice"}, {kNick}, kDeadline, delivery.Callback());
  ASSERT_EQ(inner_.asks.size(), 1u);

  ticket->Cancel();
  EXPECT_EQ(delivery.calls, 1);
  EXPECT_TRUE(delivery.result.cancelled);
  EXPECT_THAT(delivery.result.outcomes, IsEmpty());
  EXPECT_EQ(*inner_.asks[0].cancels, 1);

  ticket->Cancel();
  EXPECT_EQ(*inner_.asks[0].cancels, 1);

  // The inner answer arrives anyway: not delivered again, but worth caching.
  inner_.Answer(0, Outcomes({Success("alice", {StringItem(kNick, "Alice")})}));
  EXPECT_EQ(delivery.calls, 1);
  Delivery after;
  fetcher_.Fetch({"alice"}, {kNick}, kDeadline, after.Callback());
  EXPECT_EQ(inner_.asks.size(), 1u);
  EXPECT_EQ(after.calls, 1);
}

TEST_F(CachingFetcherTest, CancelAfterDoneDoesNothing) {
  Delivery delivery;
  std::shared_ptr<ProfileFetcher::Ticket> ticket = fetcher_.Fetch({"alice"}, {kNick}, kDeadline, delivery.Callback());
  inner_.Answer(0, Outcomes({Success("alice", {StringItem(kNick, "Alice")})}));
  ticket->Cancel();
  EXPECT_EQ(delivery.calls, 1);
  EXPECT_FALSE(delivery.result.cancelled);
  EXPECT_EQ(*inner_.asks[0].cancels, 0);
}

TEST_F(CachingFetcherTest, AnInnerCancellationIsPassedOnAndNothingIsCached) {
  Delivery warm;
  FetchAndAnswer({"alice"}, {kNick}, {{"alice", Success("alice", {StringItem(kNick, "Alice")})}}, warm);

  Delivery delivery;
  fetcher_.Fetch({"alice", "bob"}, {kNick}, kDeadline, delivery.Callback());
  FetchResult cancelled;
  cancelled.cancelled = true;
  inner_.Answer(1, std::move(cancelled));
  ASSERT_EQ(delivery.calls, 1);
  EXPECT_TRUE(delivery.result.cancelled);
  EXPECT_THAT(delivery.result.outcomes, IsEmpty());

  Delivery again;
  fetcher_.Fetch({"bob"}, {kNick}, kDeadline, again.Callback());
  EXPECT_EQ(inner_.asks.size(), 3u);
}

TEST(CachingFetcherLifetimeTest, AnAnswerArrivingAfterTheFetcherIsGoneIsStillDelivered) {
  FakeClock clock;
  FakeFetcher inner;
  Delivery delivery;
  {
    CachingFetcher fetcher(inner, clock, Options());
    fetcher.Fetch({"alice"}, {kNick}, kDeadline, delivery.Callback());
  }
  inner.Answer(0, Outcomes({Success("alice", {StringItem(kNick, "Alice")})}));
  ASSERT_EQ(delivery.calls, 1);
  EXPECT_THAT(delivery.Accounts(), ElementsAre("alice"));
}

TEST(CachingFetcherConcurrencyTest, EightThreadsGetExactlyOneCompleteAnswerPerFetch) {
  constexpr int kThreads = 8;
  constexpr int kFetchesPerThread = 200;
  FakeClock clock;
  ThreadedFetcher inner;
  {
    CachingFetcher fetcher(inner, clock, Options(/*max_entries=*/150));
    std::atomic<int> bad{0};
    std::atomic<int> delivered{0};
    std::atomic<int> cancelled{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kFetchesPerThread; ++i) {
          std::vector<std::string> accounts;
          for (int k = 0; k < 10; ++k) accounts.push_back(absl::StrCat("user", (t * 31 + i * 7 + k * 13) % 200));
          std::sort(accounts.begin(), accounts.end());
          accounts.erase(std::unique(accounts.begin(), accounts.end()), accounts.end());
          auto calls = std::make_shared<std::atomic<int>>(0);
          auto finished = std::make_shared<absl::Notification>();
          std::shared_ptr<ProfileFetcher::Ticket> ticket =
              fetcher.Fetch(accounts, {kNick}, kDeadline, [&, accounts, calls, finished](FetchResult result) {
                if (calls->fetch_add(1) != 0) ++bad;
                if (result.cancelled) {
                  ++cancelled;
                } else {
                  std::vector<std::string> got;
                  for (const AccountOutcome& outcome : result.outcomes) got.push_back(outcome.account);
                  std::sort(got.begin(), got.end());
                  if (got != accounts) ++bad;
                  for (const AccountOutcome& outcome : result.outcomes) {
                    const std::vector<ProfileItem> items = ItemsOf(outcome);
                    const bool ok = outcome.failure.has_value()
                                        ? outcome.account.back() == '7' && outcome.failure->tencent_code == 40003
                                        : items.size() == 1 && items[0].string_value() == outcome.account;
                    if (!ok) ++bad;
                  }
                }
                ++delivered;
                finished->Notify();
              });
          if (i % 5 == 0) ticket->Cancel();
          finished->WaitForNotification();
          if (t == 0 && i % 50 == 0) clock.Advance(absl::Milliseconds(400));
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_EQ(delivered.load(), kThreads * kFetchesPerThread);
    EXPECT_LE(fetcher.cache_stats().entries, 150);
    EXPECT_GT(fetcher.cache_stats().hits, 0);
    EXPECT_LT(inner.accounts_fetched.load(), kThreads * kFetchesPerThread * 10);
    inner.JoinAll();  // Answers to cancelled Fetches still arrive: let them land while the counters live.
  }
}

}  // namespace
}  // namespace portrait_bridge

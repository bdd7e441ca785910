#include "bridge/service/shared_cache_fetcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "bridge/service/caching_fetcher.h"
#include "tests/unit/fetcher_fakes.h"

namespace portrait_bridge {
namespace {

using portraitbridge::profile::v1::ProfileItem;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr uint64_t kSdkAppId = 1400000000;
constexpr absl::Duration kTtl = absl::Seconds(30);
constexpr absl::Duration kNegativeTtl = absl::Seconds(1);
const std::string kNick = "Tag_Profile_IM_Nick";
const std::string kGender = "Tag_Profile_IM_Gender";
const std::string kLevel = "Tag_Profile_IM_Level";
const absl::Time kDeadline = absl::FromUnixSeconds(1800000000);

FetchResult Cancelled() {
  FetchResult result;
  result.cancelled = true;
  return result;
}

// A store kept in a map. By default it answers lookups inline; with `hold_lookups` it keeps them until
// AnswerLookup. Writes are recorded and applied to the map. Thread-safe.
class FakeStore final : public KeyValueStore {
 public:
  struct Write {
    std::vector<std::pair<std::string, std::string>> entries;
    absl::Duration ttl;
  };

  void MultiGet(std::vector<std::string> keys, GetDone done) override {
    absl::StatusOr<Values> answer;
    {
      absl::MutexLock lock(&mutex_);
      ++lookups_;
      last_keys_ = keys;
      if (hold_lookups_) {
        held_.emplace_back(std::move(keys), std::move(done));
        return;
      }
      answer = failure_.ok() ? absl::StatusOr<Values>(ReadLocked(keys)) : failure_;
    }
    std::move(done)(std::move(answer));
  }

  void MultiSet(std::vector<std::pair<std::string, std::string>> entries, absl::Duration ttl) override {
    absl::MutexLock lock(&mutex_);
    for (const auto& [key, value] : entries) data_[key] = value;
    writes_.push_back({std::move(entries), ttl});
  }

  // Answers the `index`th held lookup from the map, or with `failure`.
  void AnswerLookup(size_t index, absl::Status failure = absl::OkStatus()) {
    GetDone done;
    absl::StatusOr<Values> values;
    {
      absl::MutexLock lock(&mutex_);
      ASSERT_LT(index, held_.size());
      ASSERT_TRUE(held_[index].second != nullptr) << "answered twice";
      done = std::move(held_[index].second);
      held_[index].second = nullptr;
      if (failure.ok()) {
        values = ReadLocked(held_[index].first);
      } else {
        values = failure;
      }
    }
    std::move(done)(std::move(values));
  }

  void Put(const std::string& key, const std::string& value) {
    absl::MutexLock lock(&mutex_);
    data_[key] = value;
  }
  std::optional<std::string> Get(const std::string& key) {
    absl::MutexLock lock(&mutex_);
    auto it = data_.find(key);
    if (it == data_.end()) return std::nullopt;
    return it->second;
  }
  void Clear() {
    absl::MutexLock lock(&mutex_);
    data_.clear();
  }
  void HoldLookups() {
    absl::MutexLock lock(&mutex_);
    hold_lookups_ = true;
  }
  void FailLookups(absl::Status failure) {
    absl::MutexLock lock(&mutex_);
    failure_ = std::move(failure);
  }
  int lookups() {
    absl::MutexLock lock(&mutex_);
    return lookups_;
  }
  std::vector<std::string> last_keys() {
    absl::MutexLock lock(&mutex_);
    return last_keys_;
  }
  std::vector<Write> writes() {
    absl::MutexLock lock(&mutex_);
    return writes_;
  }

 private:
  Values ReadLocked(const std::vector<std::string>& keys) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    Values values;
    for (const std::string& key : keys) {
      auto it = data_.find(key);
      values.push_back(it == data_.end() ? std::nullopt : std::optional<std::string>(it->second));
    }
    return values;
  }

  absl::Mutex mutex_;
  std::map<std::string, std::string> data_ ABSL_GUARDED_BY(mutex_);
  std::vector<Write> writes_ ABSL_GUARDED_BY(mutex_);
  bool hold_lookups_ ABSL_GUARDED_BY(mutex_) = false;
  absl::Status failure_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::pair<std::vector<std::string>, GetDone>> held_ ABSL_GUARDED_BY(mutex_);
  int lookups_ ABSL_GUARDED_BY(mutex_) = 0;
  std::vector<std::string> last_keys_ ABSL_GUARDED_BY(mutex_);
};

class CountingObserver final : public SharedCacheObserver {
 public:
  void OnSharedCacheLookup(int64_t hits_now, int64_t misses_now) override {
    hits += hits_now;
    misses += misses_now;
  }
  void OnSharedCacheLookupFailed() override { ++lookup_failures; }
  void OnSharedCacheWritesFailed(int64_t entries) override { write_failures += entries; }

  std::atomic<int64_t> hits{0};
  std::atomic<int64_t> misses{0};
  std::atomic<int64_t> lookup_failures{0};
  std::atomic<int64_t> write_failures{0};
};

SharedCacheFetcherOptions Options() {
  SharedCacheFetcherOptions options;
  options.sdkappid = kSdkAppId;
  options.ttl = kTtl;
  options.negative_ttl = kNegativeTtl;
  return options;
}

std::string ProfileKey(const std::string& tag, const std::string& account) {
  return SharedCacheFetcher::ProfileKey(kSdkAppId, tag, account);
}
std::string NegativeKey(const std::string& account) { return SharedCacheFetcher::NegativeKey(kSdkAppId, account); }

// Two replicas: each with its own inner fetcher, sharing one store.
class SharedCacheFetcherTest : public ::testing::Test {
 protected:
  FakeStore store_;
  CountingObserver observer_;
  FakeFetcher inner_a_;
  FakeFetcher inner_b_;
  SharedCacheFetcher replica_a_{inner_a_, store_, Options(), &observer_};
  SharedCacheFetcher replica_b_{inner_b_, store_, Options(), &observer_};
};

TEST(SharedCacheFetcherKeyTest, KeysAreNamespacedByAppAndBinarySafe) {
  EXPECT_EQ(SharedCacheFetcher::ProfileKey(1400000000, "Tag_Profile_IM_Nick", "alice"),
            "portrait-bridge:1400000000:p:Tag_Profile_IM_Nick:alice");
  EXPECT_EQ(SharedCacheFetcher::NegativeKey(1400000000, "alice"), "portrait-bridge:1400000000:n:alice");
  const std::string odd("a:b\0\xff\n", 6);
  EXPECT_EQ(SharedCacheFetcher::ProfileKey(7, kNick, odd), "portrait-bridge:7:p:Tag_Profile_IM_Nick:" + odd);
  EXPECT_NE(SharedCacheFetcher::ProfileKey(7, kNick, "x"), SharedCacheFetcher::ProfileKey(8, kNick, "x"));
}

TEST_F(SharedCacheFetcherTest, AMissIsFetchedWrittenBackWithTheTtlAndServedToTheOtherReplica) {
  Delivery first;
  replica_a_.Fetch({"alice", "bob"}, {kNick, kLevel}, kDeadline, first.Callback());
  EXPECT_EQ(store_.lookups(), 1);
  EXPECT_THAT(store_.last_keys(),
              ElementsAre(NegativeKey("alice"), ProfileKey(kNick, "alice"), ProfileKey(kLevel, "alice"),
                          NegativeKey("bob"), ProfileKey(kNick, "bob"), ProfileKey(kLevel, "bob")));
  ASSERT_EQ(inner_a_.asks.size(), 1u);
  EXPECT_THAT(inner_a_.asks[0].accounts, ElementsAre("alice", "bob"));
  EXPECT_THAT(inner_a_.asks[0].tags, ElementsAre(kNick, kLevel));
  EXPECT_EQ(inner_a_.asks[0].deadline, kDeadline);
  EXPECT_EQ(first.calls, 0);

  inner_a_.Answer(0, Outcomes({Success("alice", {StringItem(kNick, "Alice"), UintItem(kLevel, 7)}),
                               Success("bob", {StringItem(kNick, "Bob")})}));
  ASSERT_EQ(first.calls, 1);
  EXPECT_THAT(first.Accounts(), UnorderedElementsAre("alice", "bob"));

  // One write of every (account, tag), for the ttl; bob's unset level is written as "no item".
  const std::vector<FakeStore::Write> writes = store_.writes();
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].ttl, kTtl);
  std::map<std::string, std::string> written(writes[0].entries.begin(), writes[0].entries.end());
  EXPECT_EQ(written.size(), 4u);
  EXPECT_EQ(written.at(ProfileKey(kLevel, "bob")), "E");
  // An item: kind 'I' and the ProfileItem's protobuf bytes, without the tag the key already names.
  const std::string& nick = written.at(ProfileKey(kNick, "alice"));
  ASSERT_FALSE(nick.empty());
  EXPECT_EQ(nick[0], 'I');
  ProfileItem decoded;
  ASSERT_TRUE(decoded.ParseFromString(nick.substr(1)));
  EXPECT_EQ(decoded.string_value(), "Alice");
  EXPECT_TRUE(decoded.tag().empty());

  // Replica B is served from the store alone, inline, items in the order of its tags.
  Delivery second;
  std::shared_ptr<ProfileFetcher::Ticket> ticket =
      replica_b_.Fetch({"bob", "alice"}, {kLevel, kNick}, kDeadline, second.Callback());
  EXPECT_THAT(inner_b_.asks, IsEmpty());
  ASSERT_EQ(second.calls, 1);
  EXPECT_FALSE(second.result.cancelled);
  EXPECT_THAT(second.Accounts(), UnorderedElementsAre("alice", "bob"));
  ASSERT_THAT(TagsOf(second.Find("alice")->items), ElementsAre(kLevel, kNick));
  EXPECT_EQ(second.Find("alice")->items[0].uint_value(), 7u);
  EXPECT_EQ(second.Find("alice")->items[1].string_value(), "Alice");
  ASSERT_THAT(TagsOf(second.Find("bob")->items), ElementsAre(kNick));
  EXPECT_EQ(second.Find("bob")->items[0].string_value(), "Bob");
  ticket->Cancel();  // Nothing left to cancel.
  EXPECT_EQ(second.calls, 1);
  EXPECT_FALSE(second.result.cancelled);
  EXPECT_EQ(observer_.hits.load(), 2);
  EXPECT_EQ(observer_.misses.load(), 2);
}

TEST_F(SharedCacheFetcherTest, OnlyAccountsMissingATagGoToTheInnerFetcher) {
  store_.Put(ProfileKey(kNick, "alice"), "E");
  store_.Put(ProfileKey(kGender, "alice"), "E");
  store_.Put(ProfileKey(kNick, "carol"), "E");  // carol lacks the gender: a miss as a whole.

  Delivery delivery;
  replica_a_.Fetch({"carol", "alice", "dave"}, {kNick, kGender}, kDeadline, delivery.Callback());
  ASSERT_EQ(inner_a_.asks.size(), 1u);
  EXPECT_THAT(inner_a_.asks[0].accounts, ElementsAre("carol", "dave"));
  EXPECT_THAT(inner_a_.asks[0].tags, ElementsAre(kNick, kGender));
  EXPECT_EQ(delivery.calls, 0) << "the hit waits for the misses";

  inner_a_.Answer(
      0, Outcomes({Success("carol", {StringItem(kNick, "Carol")}), Failed("dave", TencentFailure(60008, "timeout"))}));
  ASSERT_EQ(delivery.calls, 1);
  EXPECT_THAT(delivery.Accounts(), UnorderedElementsAre("alice", "carol", "dave"));
  EXPECT_THAT(delivery.Find("alice")->items, IsEmpty());
  EXPECT_FALSE(delivery.Find("alice")->failure.has_value());
  EXPECT_EQ(delivery.Find("carol")->items[0].string_value(), "Carol");
  EXPECT_EQ(delivery.Find("dave")->failure->tencent_code, 60008);

  // carol's two tags are written; dave's retryable failure is not.
  const std::vector<FakeStore::Write> writes = store_.writes();
  ASSERT_EQ(writes.size(), 1u);
  std::vector<std::string> keys;
  for (const auto& [key, value] : writes[0].entries) keys.push_back(key);
  EXPECT_THAT(keys, UnorderedElementsAre(ProfileKey(kNick, "carol"), ProfileKey(kGender, "carol")));
}

TEST_F(SharedCacheFetcherTest, AnUnknownAccountIsSharedForTheNegativeTtlWhateverTheTags) {
  Delivery first;
  replica_a_.Fetch({"ghost"}, {kNick}, kDeadline, first.Callback());
  inner_a_.Answer(0, Outcomes({Failed("ghost", TencentFailure(40003, "Err_Profile_Account_Not_Found"))}));
  ASSERT_EQ(first.calls, 1);

  const std::vector<FakeStore::Write> writes = store_.writes();
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].ttl, kNegativeTtl);
  ASSERT_EQ(writes[0].entries.size(), 1u);
  EXPECT_EQ(writes[0].entries[0].first, NegativeKey("ghost"));
  EXPECT_EQ(writes[0].entries[0].second, "N40003:Err_Profile_Account_Not_Found");

  // Other tags, other replica: the failure is rebuilt exactly as a fresh Tencent answer would be.
  Delivery second;
  replica_b_.Fetch({"ghost"}, {kLevel, kGender}, kDeadline, second.Callback());
  EXPECT_THAT(inner_b_.asks, IsEmpty());
  ASSERT_EQ(second.calls, 1);
  ASSERT_TRUE(second.Find("ghost")->failure.has_value());
  const Failure& failure = *second.Find("ghost")->failure;
  const Failure expected = TencentFailure(40003, "Err_Profile_Account_Not_Found");
  EXPECT_EQ(failure.tencent_code, 40003);
  EXPECT_EQ(failure.tencent_info, expected.tencent_info);
  EXPECT_EQ(failure.message, expected.message);
  EXPECT_EQ(failure.rule.grpc_code, absl::StatusCode::kNotFound);
  EXPECT_EQ(failure.rule.reason, expected.rule.reason);
  EXPECT_THAT(second.Find("ghost")->items, IsEmpty());
}

TEST_F(SharedCacheFetcherTest, ANegativeEntryShadowsFieldEntries) {
  store_.Put(ProfileKey(kNick, "alice"), "E");
  store_.Put(NegativeKey("alice"), "N70107:gone");
  Delivery delivery;
  replica_a_.Fetch({"alice"}, {kNick}, kDeadline, delivery.Callback());
  ASSERT_EQ(delivery.calls, 1);
  EXPECT_EQ(delivery.Find("alice")->failure->tencent_code, 70107);
}

TEST_F(SharedCacheFetcherTest, UncacheableFailuresAreNotWritten) {
  Failure http_502;
  http_502.rule = RuleForHttpStatus(502);
  http_502.http_status = 502;
  Delivery delivery;
  replica_a_.Fetch({"a", "b", "c", "d"}, {kNick}, kDeadline, delivery.Callback());
  inner_a_.Answer(0, Outcomes({Failed("a", TencentFailure(60008, "timeout")), Failed("b", TencentFailure(40009, "tag")),
                               Failed("c", http_502), Failed("d", OmittedAccountFailure())}));
  EXPECT_EQ(delivery.calls, 1);
  EXPECT_THAT(store_.writes(), IsEmpty());
}

TEST_F(SharedCacheFetcherTest, EntriesThatDoNotDecodeAreMissesAndAreOverwritten) {
  store_.Put(ProfileKey(kNick, "a"), "");                       // Empty.
  store_.Put(ProfileKey(kNick, "b"), "Z??");                    // Unknown kind.
  store_.Put(ProfileKey(kNick, "c"), std::string("I\xff", 2));  // Not protobuf.
  store_.Put(ProfileKey(kNick, "d"), "Eextra");                 // Trailing bytes.
  store_.Put(NegativeKey("e"), "N60008:retryable");             // Never cached by this bridge.
  store_.Put(NegativeKey("f"), "Nnot-a-number:x");
  Delivery delivery;
  replica_a_.Fetch({"a", "b", "c", "d", "e", "f"}, {kNick}, kDeadline, delivery.Callback());
  ASSERT_EQ(inner_a_.asks.size(), 1u);
  EXPECT_THAT(inner_a_.asks[0].accounts, ElementsAre("a", "b", "c", "d", "e", "f"));
  std::vector<AccountOutcome> outcomes;
  for (const std::string& account : inner_a_.asks[0].accounts) {
    outcomes.push_back(Success(account, {StringItem(kNick, account)}));
  }
  inner_a_.Answer(0, Outcomes(std::move(outcomes)));
  EXPECT_EQ(delivery.calls, 1);
  EXPECT_EQ(store_.Get(ProfileKey(kNick, "b")).value_or("")[0], 'I');
}

TEST_F(SharedCacheFetcherTest, AFailedLookupSendsEveryAccountToTheInnerFetcherOnce) {
  store_.Put(ProfileKey(kNick, "alice"), "E");  // Would be a hit, but the store cannot say so.
  store_.FailLookups(absl::DeadlineExceededError("redis timeout"));
  Delivery delivery;
  replica_a_.Fetch({"alice", "bob"}, {kNick}, kDeadline, delivery.Callback());
  ASSERT_EQ(inner_a_.asks.size(), 1u);
  EXPECT_THAT(inner_a_.asks[0].accounts, ElementsAre("alice", "bob"));
  inner_a_.Answer(0, Outcomes({Success("alice", {}), Success("bob", {})}));
  ASSERT_EQ(delivery.calls, 1);
  EXPECT_THAT(delivery.Accounts(), UnorderedElementsAre("alice", "bob"));
  EXPECT_EQ(observer_.lookup_failures.load(), 1);
  EXPECT_EQ(observer_.misses.load(), 2);
  EXPECT_EQ(store_.writes().size(), 1u) << "still written back: the store may be back";
}

TEST_F(SharedCacheFetcherTest, ALookupOfTheWrongSizeIsAMiss) {
  // A store that answers one value too few must not shift values onto other accounts.
  class ShortStore final : public KeyValueStore {
   public:
    void MultiGet(std::vector<std::string> keys, GetDone done) override {
      std::move(done)(Values(keys.size() - 1, std::string("E")));
    }
    void MultiSet(std::vector<std::pair<std::string, std::string>>, absl::Duration) override {}
  } store;
  FakeFetcher inner;
  SharedCacheFetcher fetcher(inner, store, Options());
  Delivery delivery;
  fetcher.Fetch({"alice"}, {kNick}, kDeadline, delivery.Callback());
  ASSERT_EQ(inner.asks.size(), 1u);
}

TEST_F(SharedCacheFetcherTest, NoAccountsIsAnsweredInlineWithoutALookup) {
  Delivery delivery;
  replica_a_.Fetch({}, {kNick}, kDeadline, delivery.Callback());
  EXPECT_EQ(delivery.calls, 1);
  EXPECT_THAT(delivery.result.outcomes, IsEmpty());
  EXPECT_EQ(store_.lookups(), 0);
}

TEST_F(SharedCacheFetcherTest, CancelBeforeTheLookupAnswersFinishesAtOnceAndIgnoresTheReply) {
  store_.HoldLookups();
  Delivery delivery;
  std::shared_ptr<ProfileFetcher::Ticket> ticket = replica_a_.Fetch({"alice"}, {kNick}, kDeadline, delivery.Callback());
  EXPECT_EQ(delivery.calls, 0);
  ticket->Cancel();
  ASSERT_EQ(delivery.calls, 1);
  EXPECT_TRUE(delivery.result.cancelled);
  ticket->Cancel();
  store_.AnswerLookup(0);
  EXPECT_EQ(delivery.calls, 1);
  EXPECT_THAT(inner_a_.asks, IsEmpty()) << "a cancelled Fetch asks upstream for nothing";
}

TEST_F(SharedCacheFetcherTest, CancelAfterTheLookupCancelsTheInnerFetchAndStillWritesItsAnswer) {
  Delivery delivery;
  std::shared_ptr<ProfileFetcher::Ticket> ticket = replica_a_.Fetch({"alice"}, {kNick}, kDeadline, delivery.Callback());
  ASSERT_EQ(inner_a_.asks.size(), 1u);
  ticket->Cancel();
  ASSERT_EQ(delivery.calls, 1);
  EXPECT_TRUE(delivery.result.cancelled);
  EXPECT_THAT(delivery.result.outcomes, IsEmpty());
  EXPECT_EQ(*inner_a_.asks[0].cancels, 1);
  ticket->Cancel();
  EXPECT_EQ(*inner_a_.asks[0].cancels, 1);

  // The inner answer arrives anyway: not delivered again, but shared.
  inner_a_.Answer(0, Outcomes({Success("alice", {StringItem(kNick, "Alice")})}));
  EXPECT_EQ(delivery.calls, 1);
  EXPECT_EQ(store_.writes().size(), 1u);
}

TEST_F(SharedCacheFetcherTest, CancelWhileTheInnerFetchIsBeingMadeStillCancelsIt) {
  store_.HoldLookups();
  Delivery delivery;
  std::shared_ptr<ProfileFetcher::Ticket> ticket = replica_a_.Fetch({"alice"}, {kNick}, kDeadline, delivery.Callback());
  inner_a_.on_fetch = [&ticket] { ticket->Cancel(); };  // Before the inner ticket is handed back.
  store_.AnswerLookup(0);
  ASSERT_EQ(inner_a_.asks.size(), 1u);
  ASSERT_EQ(delivery.calls, 1);
  EXPECT_TRUE(delivery.result.cancelled);
  EXPECT_EQ(*inner_a_.asks[0].cancels, 1);
  inner_a_.Answer(0, Cancelled());
  EXPECT_EQ(delivery.calls, 1);
}

TEST_F(SharedCacheFetcherTest, AnInnerFetcherAnsweringInlineIsDeliveredOnce) {
  // E.g. the coalescer refusing at once when overloaded: the answer comes before the inner ticket does.
  inner_a_.on_fetch = [this] { inner_a_.Answer(0, Outcomes({Failed("alice", BudgetExhaustedFailure())})); };
  Delivery delivery;
  std::shared_ptr<ProfileFetcher::Ticket> ticket = replica_a_.Fetch({"alice"}, {kNick}, kDeadline, delivery.Callback());
  ASSERT_EQ(delivery.calls, 1);
  EXPECT_EQ(delivery.Find("alice")->failure->rule.grpc_code, absl::StatusCode::kResourceExhausted);
  ticket->Cancel();
  EXPECT_EQ(delivery.calls, 1);
  EXPECT_EQ(*inner_a_.asks[0].cancels, 0);
}

TEST_F(SharedCacheFetcherTest, AnInnerCancellationIsPassedOnAndNothingIsWritten) {
  Delivery delivery;
  replica_a_.Fetch({"alice"}, {kNick}, kDeadline, delivery.Callback());
  inner_a_.Answer(0, Cancelled());
  ASSERT_EQ(delivery.calls, 1);
  EXPECT_TRUE(delivery.result.cancelled);
  EXPECT_THAT(store_.writes(), IsEmpty());
}

TEST(SharedCacheFetcherLifetimeTest, RepliesArrivingAfterTheFetcherIsGoneAreDeliveredAndNotWritten) {
  FakeStore store;
  store.HoldLookups();
  FakeFetcher inner;
  CountingObserver observer;
  Delivery delivery;
  {
    SharedCacheFetcher fetcher(inner, store, Options(), &observer);
    fetcher.Fetch({"alice"}, {kNick}, kDeadline, delivery.Callback());
  }
  store.AnswerLookup(0);
  ASSERT_EQ(inner.asks.size(), 1u);
  inner.Answer(0, Outcomes({Success("alice", {StringItem(kNick, "Alice")})}));
  ASSERT_EQ(delivery.calls, 1);
  EXPECT_THAT(delivery.Accounts(), ElementsAre("alice"));
  EXPECT_THAT(store.writes(), IsEmpty());
  EXPECT_EQ(observer.misses.load(), 0) << "the observer is not touched after the fetcher is gone";
}

// A store whose lookups answer on threads of their own, randomly failing or dropping entries, like Redis timing
// out or evicting; thread-safe.
class ThreadedStore final : public KeyValueStore {
 public:
  ~ThreadedStore() override { JoinAll(); }
  void JoinAll() {
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&mutex_);
      threads.swap(threads_);
    }
    for (std::thread& thread : threads) thread.join();
  }
  void MultiGet(std::vector<std::string> keys, GetDone done) override {
    absl::StatusOr<Values> answer;
    {
      absl::MutexLock lock(&mutex_);
      const int roll = static_cast<int>(random_() % 10);
      Values values;
      for (const std::string& key : keys) {
        auto it = data_.find(key);
        const bool evicted = roll == 1 && random_() % 2 == 0;
        values.push_back(it == data_.end() || evicted ? std::nullopt : std::optional<std::string>(it->second));
      }
      answer = std::move(values);
      if (roll == 0) answer = absl::DeadlineExceededError("timeout");
      if (roll != 2) {
        threads_.emplace_back(
            [answer = std::move(answer), done = std::move(done)]() mutable { std::move(done)(std::move(answer)); });
        return;
      }
    }
    std::move(done)(std::move(answer));  // Inline, as a store may.
  }
  void MultiSet(std::vector<std::pair<std::string, std::string>> entries, absl::Duration) override {
    absl::MutexLock lock(&mutex_);
    for (auto& [key, value] : entries) data_[key] = std::move(value);
  }

 private:
  absl::Mutex mutex_;
  std::minstd_rand random_ ABSL_GUARDED_BY(mutex_){42};
  absl::flat_hash_map<std::string, std::string> data_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mutex_);
};

TEST(SharedCacheFetcherConcurrencyTest, RandomFailuresAndCancelsStillGiveExactlyOneCompleteAnswerPerFetch) {
  constexpr int kThreads = 8;
  constexpr int kFetchesPerThread = 200;
  ThreadedStore store;
  ThreadedFetcher inner;
  {
    SharedCacheFetcher replica_a(inner, store, Options());
    SharedCacheFetcher replica_b(inner, store, Options());
    std::atomic<int> bad{0};
    std::atomic<int> delivered{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::minstd_rand random(t);
        SharedCacheFetcher& fetcher = t % 2 == 0 ? replica_a : replica_b;
        for (int i = 0; i < kFetchesPerThread; ++i) {
          std::vector<std::string> accounts;
          for (int k = 0; k < 10; ++k) accounts.push_back(absl::StrCat("user", random() % 200));
          std::sort(accounts.begin(), accounts.end());
          accounts.erase(std::unique(accounts.begin(), accounts.end()), accounts.end());
          auto calls = std::make_shared<std::atomic<int>>(0);
          auto finished = std::make_shared<absl::Notification>();
          std::shared_ptr<ProfileFetcher::Ticket> ticket =
              fetcher.Fetch(accounts, {kNick}, kDeadline, [&, accounts, calls, finished](FetchResult result) {
                if (calls->fetch_add(1) != 0) ++bad;
                if (!result.cancelled) {
                  std::vector<std::string> got;
                  for (const AccountOutcome& outcome : result.outcomes) got.push_back(outcome.account);
                  std::sort(got.begin(), got.end());
                  if (got != accounts) ++bad;
                  for (const AccountOutcome& outcome : result.outcomes) {
                    const bool ok = outcome.failure.has_value()
                                        ? outcome.account.back() == '7' && outcome.failure->tencent_code == 40003
                                        : outcome.items.size() == 1 &&
                                              outcome.items[0].string_value() == outcome.account &&
                                              outcome.items[0].tag() == kNick;
                    if (!ok) ++bad;
                  }
                }
                ++delivered;
                finished->Notify();
              });
          if (random() % 5 == 0) ticket->Cancel();
          finished->WaitForNotification();
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_EQ(delivered.load(), kThreads * kFetchesPerThread);
    EXPECT_LT(inner.accounts_fetched.load(), kThreads * kFetchesPerThread * 5) << "the store served some";
    // Replies to cancelled Fetches still arrive: let them land while the fetchers live.
    store.JoinAll();
    inner.JoinAll();
  }
}

}  // namespace
}  // namespace portrait_bridge

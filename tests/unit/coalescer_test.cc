#include "bridge/service/coalescer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/rpc/error_details.pb.h"
#include "tests/unit/fake_clock.h"

namespace portrait_bridge {
namespace {

using portraitbridge::profile::v1::ProfileItem;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

const std::vector<std::string> kNick = {"Tag_Profile_IM_Nick"};
const std::vector<std::string> kGender = {"Tag_Profile_IM_Gender"};
// Waits at most this long for anything that should happen "promptly" (tests on the real clock only).
constexpr absl::Duration kPatience = absl::Seconds(5);
// A batch wait for tests that need one but not a particular one.
constexpr absl::Duration kLongWait = absl::Milliseconds(300);
constexpr absl::Duration kMs = absl::Milliseconds(1);

// The value the fake gives an account, so a test can tell which call an answer came from.
std::string ValueFor(const std::string& account, const std::vector<std::string>& tags) {
  return absl::StrCat(account, "|", absl::StrJoin(tags, ","));
}

Failure CallFailure() {
  Failure failure;
  failure.rule = {absl::StatusCode::kUnavailable, true, false, "UPSTREAM_HTTP_5XX", "upstream failed"};
  failure.message = "upstream answered HTTP 502";
  failure.http_status = 502;
  return failure;
}

/// The inner fetcher: records each Fetch and lets the test answer it. Cancel() answers cancelled at once, like
/// DirectFetcher. Thread-safe.
class FakeInner final : public ProfileFetcher {
 public:
  explicit FakeInner(const Clock& clock) : clock_(clock) {}

  struct CallInfo {
    std::vector<std::string> accounts;
    std::vector<std::string> tags;
    absl::Time deadline;
    absl::Time sent_at;
    bool cancel_requested = false;
    bool answered = false;
  };

  /// When set, every Fetch succeeds inline, before it returns.
  void AnswerInline() {
    absl::MutexLock lock(&mutex_);
    answer_inline_ = true;
  }

  std::shared_ptr<Ticket> Fetch(std::vector<std::string> accounts, std::vector<std::string> tags, absl::Time deadline,
                                Done done) override {
    size_t index;
    bool inline_answer;
    {
      absl::MutexLock lock(&mutex_);
      index = calls_.size();
      calls_.push_back({{std::move(accounts), std::move(tags), deadline, clock_.Now()}, std::move(done)});
      inline_answer = answer_inline_;
    }
    if (inline_answer) Succeed(index);
    return std::make_shared<FakeTicket>(this, index);
  }

  size_t CallCount() const {
    absl::MutexLock lock(&mutex_);
    return calls_.size();
  }
  CallInfo Info(size_t index) const {
    absl::MutexLock lock(&mutex_);
    return calls_.at(index).info;
  }
  /// Calls not answered yet.
  std::vector<size_t> Open() const {
    absl::MutexLock lock(&mutex_);
    std::vector<size_t> open;
    for (size_t i = 0; i < calls_.size(); ++i) {
      if (!calls_[i].info.answered) open.push_back(i);
    }
    return open;
  }

  /// Answers call `index`; false if it was already answered.
  bool Complete(size_t index, FetchResult result) {
    Done done;
    {
      absl::MutexLock lock(&mutex_);
      Record& call = calls_.at(index);
      if (call.info.answered) return false;
      call.info.answered = true;
      done = std::move(call.done);
    }
    std::move(done)(std::move(result));
    return true;
  }
  /// Every account gets one item whose value is ValueFor(account, tags).
  bool Succeed(size_t index) {
    const CallInfo info = Info(index);
    FetchResult result;
    for (const std::string& account : info.accounts) {
      AccountOutcome& outcome = result.outcomes.emplace_back();
      outcome.account = account;
      ProfileItem& item = outcome.items.emplace_back();
      item.set_tag(info.tags.empty() ? "" : info.tags[0]);
      item.set_string_value(ValueFor(account, info.tags));
    }
    return Complete(index, std::move(result));
  }
  /// A failure of the whole call, reported on every account (as OutcomesForAccounts does).
  bool Fail(size_t index, const Failure& failure) {
    const CallInfo info = Info(index);
    FetchResult result;
    for (const std::string& account : info.accounts) {
      AccountOutcome& outcome = result.outcomes.emplace_back();
      outcome.account = account;
      outcome.failure = failure;
    }
    return Complete(index, std::move(result));
  }

 private:
  struct Record {
    CallInfo info;
    Done done;
  };

  class FakeTicket final : public Ticket {
   public:
    FakeTicket(FakeInner* inner, size_t index) : inner_(inner), index_(index) {}
    void Cancel() override {
      {
        absl::MutexLock lock(&inner_->mutex_);
        inner_->calls_.at(index_).info.cancel_requested = true;
      }
      FetchResult result;
      result.cancelled = true;
      inner_->Complete(index_, std::move(result));
    }

   private:
    FakeInner* const inner_;
    const size_t index_;
  };

  const Clock& clock_;
  mutable absl::Mutex mutex_;
  bool answer_inline_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<Record> calls_ ABSL_GUARDED_BY(mutex_);
};

/// What one outer Fetch got. Counts its done calls, to prove "exactly once".
class Answer {
 public:
  ProfileFetcher::Done Callback() {
    return [this](FetchResult result) {
      absl::MutexLock lock(&mutex_);
      ++calls_;
      result_ = std::move(result);
    };
  }
  int Calls() const {
    absl::MutexLock lock(&mutex_);
    return calls_;
  }
  bool Wait(absl::Duration timeout = kPatience) const {
    absl::MutexLock lock(&mutex_);
    auto answered = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return calls_ > 0; };
    return mutex_.AwaitWithTimeout(absl::Condition(&answered), timeout);
  }
  FetchResult Result() const {
    absl::MutexLock lock(&mutex_);
    return result_;
  }
  bool Cancelled() const { return Result().cancelled; }
  std::vector<std::string> Accounts() const {
    std::vector<std::string> accounts;
    for (const AccountOutcome& outcome : Result().outcomes) accounts.push_back(outcome.account);
    return accounts;
  }
  std::optional<AccountOutcome> For(const std::string& account) const {
    for (AccountOutcome& outcome : Result().outcomes) {
      if (outcome.account == account) return outcome;
    }
    return std::nullopt;
  }
  /// The value the fake gave `account`, or "failed: REASON".
  std::string ValueOf(const std::string& account) const {
    const std::optional<AccountOutcome> outcome = For(account);
    if (!outcome.has_value()) return "missing";
    if (outcome->failure.has_value()) return absl::StrCat("failed: ", outcome->failure->rule.reason);
    if (outcome->items.size() != 1) return "wrong item count";
    return outcome->items[0].string_value();
  }

 private:
  mutable absl::Mutex mutex_;
  int calls_ ABSL_GUARDED_BY(mutex_) = 0;
  FetchResult result_ ABSL_GUARDED_BY(mutex_);
};

// The coalescer on a clock of type `ClockType`, with its own timer queue on it.
template <typename ClockType>
class CoalescerTestBase : public ::testing::Test {
 protected:
  std::unique_ptr<Coalescer> Make(absl::Duration wait, int64_t max_pending = 100000,
                                  std::function<absl::Duration()> budget_wait = nullptr,
                                  std::function<absl::Duration()> spare_wait = nullptr,
                                  absl::Duration max_spare_hold = absl::Milliseconds(50)) {
    CoalescerOptions options;
    options.wait = wait;
    options.max_pending_accounts = max_pending;
    options.budget_wait = std::move(budget_wait);
    options.spare_wait = std::move(spare_wait);
    options.max_spare_hold = max_spare_hold;
    options.sparse_asks_per_second = sparse_asks_per_second_;
    return std::make_unique<Coalescer>(inner_, timers_, clock_, std::move(options));
  }

  // A spare_wait whose spare slot comes at `when` on the test's clock.
  std::function<absl::Duration()> SpareAt(absl::Time when) {
    return [this, when] { return std::max(absl::ZeroDuration(), when - clock_.Now()); };
  }

  absl::Time FarDeadline() const { return clock_.Now() + absl::Seconds(60); }

  std::shared_ptr<ProfileFetcher::Ticket> Ask(Coalescer& coalescer, Answer& answer, std::vector<std::string> accounts,
                                              const std::vector<std::string>& tags = kNick,
                                              std::optional<absl::Time> deadline = std::nullopt) {
    return coalescer.Fetch(std::move(accounts), tags, deadline.value_or(FarDeadline()), answer.Callback());
  }

  // For the coalescers Make makes from then on (0: every batch waits).
  double sparse_asks_per_second_ = 0;

  // Declared first: destroyed after the coalescer a test makes.
  ClockType clock_;
  FakeInner inner_{clock_};
  TimerQueue timers_{clock_};
};

// Time moves only when the test advances it, and batch timers run inside the Advance that reaches them, on the
// test's thread: "not sent at 49 ms, sent at 50 ms" is exact, and every call below is made before Advance returns.
using CoalescerTest = CoalescerTestBase<FakeClock>;

// The real clock and the timer queue's own thread, for tests whose point is real concurrency.
using CoalescerRealClockTest = CoalescerTestBase<SystemClock>;

TEST_F(CoalescerTest, FullCallsGoOutAtOnceAndTheRestAfterTheWait) {
  auto coalescer = Make(kLongWait);
  constexpr int kAsks = 250;
  std::vector<Answer> answers(kAsks);
  std::vector<std::shared_ptr<ProfileFetcher::Ticket>> tickets(kAsks);
  const absl::Time start = clock_.Now();
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < 10; ++t) {
      threads.emplace_back([&, t] {
        for (int i = t; i < kAsks; i += 10) tickets[i] = Ask(*coalescer, answers[i], {absl::StrCat("u", i)});
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  // Two calls filled up and went out without waiting; the last 50 accounts wait for the timer.
  ASSERT_EQ(inner_.CallCount(), 2u);
  EXPECT_EQ(inner_.Info(0).accounts.size(), 100u);
  EXPECT_EQ(inner_.Info(1).accounts.size(), 100u);
  EXPECT_EQ(coalescer->PendingAccounts(), 50);

  clock_.Advance(kLongWait - kMs);
  EXPECT_EQ(inner_.CallCount(), 2u) << "1 ms before the wait ends";
  clock_.Advance(kMs);
  ASSERT_EQ(inner_.CallCount(), 3u);
  EXPECT_EQ(inner_.Info(2).accounts.size(), 50u);
  EXPECT_EQ(inner_.Info(2).sent_at - start, kLongWait);
  EXPECT_EQ(coalescer->PendingAccounts(), 0);

  std::vector<std::string> sent;
  for (size_t call = 0; call < 3; ++call) {
    for (const std::string& account : inner_.Info(call).accounts) sent.push_back(account);
    EXPECT_EQ(inner_.Info(call).tags, kNick);
  }
  std::vector<std::string> asked;
  for (int i = 0; i < kAsks; ++i) asked.push_back(absl::StrCat("u", i));
  EXPECT_THAT(sent, UnorderedElementsAreArray(asked));

  for (size_t call : {2, 0, 1}) ASSERT_TRUE(inner_.Succeed(call));
  for (int i = 0; i < kAsks; ++i) {
    EXPECT_EQ(answers[i].Calls(), 1) << i;
    EXPECT_EQ(answers[i].ValueOf(absl::StrCat("u", i)), ValueFor(absl::StrCat("u", i), kNick));
    EXPECT_THAT(answers[i].Accounts(), ElementsAre(absl::StrCat("u", i)));
  }
}

TEST_F(CoalescerTest, ALoneAskGoesOutAfterTheWaitNotBefore) {
  constexpr absl::Duration kWait = absl::Milliseconds(50);
  auto coalescer = Make(kWait);
  Answer answer;
  const absl::Time asked = clock_.Now();
  auto ticket = Ask(*coalescer, answer, {"a", "b"});
  EXPECT_EQ(inner_.CallCount(), 0u);
  EXPECT_EQ(coalescer->PendingAccounts(), 2);

  clock_.Advance(kWait - kMs);
  EXPECT_EQ(inner_.CallCount(), 0u) << "1 ms before the wait ends";
  EXPECT_EQ(coalescer->PendingAccounts(), 2);
  clock_.Advance(kMs);
  ASSERT_EQ(inner_.CallCount(), 1u);
  const FakeInner::CallInfo call = inner_.Info(0);
  EXPECT_EQ(call.sent_at - asked, kWait);
  EXPECT_THAT(call.accounts, ElementsAre("a", "b"));  // Arrival order.
  EXPECT_EQ(coalescer->PendingAccounts(), 0);

  ASSERT_TRUE(inner_.Succeed(0));
  EXPECT_EQ(answer.Calls(), 1);
  EXPECT_EQ(answer.ValueOf("a"), ValueFor("a", kNick));
  EXPECT_EQ(answer.ValueOf("b"), ValueFor("b", kNick));
}

TEST_F(CoalescerTest, SparseAsksGoOutWithoutTheWait) {
  sparse_asks_per_second_ = 100;  // Asks more than 10 ms apart, on average, are sparse.
  auto coalescer = Make(absl::Milliseconds(50));
  Answer first, second;
  auto first_ticket = Ask(*coalescer, first, {"a"});
  ASSERT_EQ(inner_.CallCount(), 1u) << "a lone ask after a quiet spell waited for company";
  EXPECT_THAT(inner_.Info(0).accounts, ElementsAre("a"));
  clock_.Advance(absl::Milliseconds(40));
  auto second_ticket = Ask(*coalescer, second, {"b"});
  ASSERT_EQ(inner_.CallCount(), 2u);
  EXPECT_THAT(inner_.Info(1).accounts, ElementsAre("b"));
  EXPECT_EQ(coalescer->PendingAccounts(), 0);
  ASSERT_TRUE(inner_.Succeed(0));
  ASSERT_TRUE(inner_.Succeed(1));
  EXPECT_EQ(first.ValueOf("a"), ValueFor("a", kNick));
  EXPECT_EQ(second.ValueOf("b"), ValueFor("b", kNick));
}

TEST_F(CoalescerTest, DenseAsksWaitForCompanyAgain) {
  sparse_asks_per_second_ = 100;
  constexpr absl::Duration kWait = absl::Milliseconds(3);
  auto coalescer = Make(kWait);
  inner_.AnswerInline();
  // An ask every millisecond, 1,000 a second: the first go alone (the coalescer has been quiet), and once the
  // mean gap is under 10 ms every ask waits for the batch's wait or joins a waiting batch.
  constexpr int kAsks = 40;
  std::vector<Answer> answers(kAsks);
  std::vector<std::shared_ptr<ProfileFetcher::Ticket>> tickets;
  std::vector<bool> sent_at_once;
  for (int i = 0; i < kAsks; ++i) {
    const size_t calls_before = inner_.CallCount();
    tickets.push_back(Ask(*coalescer, answers[i], {absl::StrCat("u", i)}));
    sent_at_once.push_back(inner_.CallCount() > calls_before);
    clock_.Advance(kMs);
  }
  clock_.Advance(kWait);
  EXPECT_TRUE(sent_at_once.front()) << "the first ask after a quiet spell waited";
  for (int i = kAsks - 10; i < kAsks; ++i) EXPECT_FALSE(sent_at_once[i]) << "ask " << i << " went alone";
  EXPECT_LT(inner_.CallCount(), static_cast<size_t>(kAsks) - 10) << "dense asks should share calls";
  for (int i = 0; i < kAsks; ++i) {
    EXPECT_EQ(answers[i].Calls(), 1) << i;
    EXPECT_EQ(answers[i].ValueOf(absl::StrCat("u", i)), ValueFor(absl::StrCat("u", i), kNick)) << i;
  }
}

TEST_F(CoalescerTest, ZeroWaitSendsAtOnceButStillJoinsCallsInFlight) {
  auto coalescer = Make(absl::ZeroDuration());
  Answer first, second;
  auto t1 = Ask(*coalescer, first, {"a", "b"});
  ASSERT_EQ(inner_.CallCount(), 1u);
  auto t2 = Ask(*coalescer, second, {"b", "c"});
  ASSERT_EQ(inner_.CallCount(), 2u);
  EXPECT_THAT(inner_.Info(1).accounts, ElementsAre("c"));  // "b" is in flight already.

  ASSERT_TRUE(inner_.Succeed(0));
  EXPECT_EQ(first.Calls(), 1);
  EXPECT_EQ(second.Calls(), 0);  // Still waits for "c".
  ASSERT_TRUE(inner_.Succeed(1));
  EXPECT_EQ(second.Calls(), 1);
  EXPECT_EQ(second.ValueOf("b"), ValueFor("b", kNick));
  EXPECT_EQ(second.ValueOf("c"), ValueFor("c", kNick));
}

TEST_F(CoalescerTest, AnInnerFetchThatAnswersInlineIsFine) {
  inner_.AnswerInline();
  auto coalescer = Make(absl::ZeroDuration());
  Answer answer;
  auto ticket = Ask(*coalescer, answer, {"a"});
  EXPECT_EQ(answer.Calls(), 1);  // Answered before Fetch returned, without a deadlock.
  EXPECT_EQ(answer.ValueOf("a"), ValueFor("a", kNick));
  ticket->Cancel();  // Too late: nothing happens.
  EXPECT_EQ(answer.Calls(), 1);
}

TEST_F(CoalescerTest, AnAccountPendingOrInFlightIsAskedForOnce) {
  auto coalescer = Make(absl::Milliseconds(50));
  std::vector<Answer> answers(6);
  std::vector<std::shared_ptr<ProfileFetcher::Ticket>> tickets;
  // Three waiters while the batch is pending.
  tickets.push_back(Ask(*coalescer, answers[0], {"a"}));
  tickets.push_back(Ask(*coalescer, answers[1], {"a", "b"}));
  tickets.push_back(Ask(*coalescer, answers[2], {"b", "a"}));
  EXPECT_EQ(coalescer->PendingAccounts(), 2);
  clock_.Advance(absl::Milliseconds(50));
  ASSERT_EQ(inner_.CallCount(), 1u);
  EXPECT_THAT(inner_.Info(0).accounts, ElementsAre("a", "b"));

  // Three more while it is in flight.
  tickets.push_back(Ask(*coalescer, answers[3], {"a"}));
  tickets.push_back(Ask(*coalescer, answers[4], {"b"}));
  tickets.push_back(Ask(*coalescer, answers[5], {"a", "b"}));
  EXPECT_EQ(coalescer->PendingAccounts(), 0);
  clock_.Advance(absl::Milliseconds(150));  // Three times the wait: a second call would have gone out.
  EXPECT_EQ(inner_.CallCount(), 1u);

  ASSERT_TRUE(inner_.Succeed(0));
  for (size_t i = 0; i < answers.size(); ++i) {
    EXPECT_EQ(answers[i].Calls(), 1) << i;
    for (const std::string& account : answers[i].Accounts()) {
      EXPECT_EQ(answers[i].ValueOf(account), ValueFor(account, kNick)) << i;
    }
  }
  EXPECT_THAT(answers[2].Accounts(), UnorderedElementsAre("a", "b"));

  // Once answered, the account is asked for afresh.
  Answer later;
  auto ticket = Ask(*coalescer, later, {"a"});
  clock_.Advance(absl::Milliseconds(50));
  ASSERT_EQ(inner_.CallCount(), 2u);
  EXPECT_THAT(inner_.Info(1).accounts, ElementsAre("a"));
  ASSERT_TRUE(inner_.Succeed(1));
  EXPECT_EQ(later.Calls(), 1);
}

TEST_F(CoalescerTest, DifferentTagListsGoInSeparateCalls) {
  auto coalescer = Make(absl::Milliseconds(30));
  const std::vector<std::string> nick_gender = {kNick[0], kGender[0]};
  const std::vector<std::string> gender_nick = {kGender[0], kNick[0]};
  Answer nick_a, gender_a, nick_b, both, both_reversed;
  auto t1 = Ask(*coalescer, nick_a, {"a"}, kNick);
  auto t2 = Ask(*coalescer, gender_a, {"a"}, kGender);
  auto t3 = Ask(*coalescer, nick_b, {"b"}, kNick);
  auto t4 = Ask(*coalescer, both, {"a"}, nick_gender);
  auto t5 = Ask(*coalescer, both_reversed, {"a"}, gender_nick);  // Keyed by the exact order: another call.
  clock_.Advance(absl::Milliseconds(29));
  EXPECT_EQ(inner_.CallCount(), 0u);
  clock_.Advance(kMs);
  EXPECT_EQ(inner_.CallCount(), 4u);
  clock_.Advance(absl::Milliseconds(60));
  ASSERT_EQ(inner_.CallCount(), 4u);

  std::map<std::vector<std::string>, std::vector<std::string>> accounts_by_tags;
  for (size_t call = 0; call < 4; ++call) accounts_by_tags[inner_.Info(call).tags] = inner_.Info(call).accounts;
  EXPECT_THAT(accounts_by_tags[kNick], ElementsAre("a", "b"));
  EXPECT_THAT(accounts_by_tags[kGender], ElementsAre("a"));
  EXPECT_THAT(accounts_by_tags[nick_gender], ElementsAre("a"));
  EXPECT_THAT(accounts_by_tags[gender_nick], ElementsAre("a"));

  for (size_t call = 0; call < 4; ++call) ASSERT_TRUE(inner_.Succeed(call));
  EXPECT_EQ(nick_a.ValueOf("a"), ValueFor("a", kNick));
  EXPECT_EQ(gender_a.ValueOf("a"), ValueFor("a", kGender));
  EXPECT_EQ(nick_b.ValueOf("b"), ValueFor("b", kNick));
  EXPECT_EQ(both.ValueOf("a"), ValueFor("a", nick_gender));
  EXPECT_EQ(both_reversed.ValueOf("a"), ValueFor("a", gender_nick));
}

TEST_F(CoalescerTest, CancellingOnePendingWaiterLeavesTheOthers) {
  auto coalescer = Make(absl::Milliseconds(50));
  Answer first, second;
  auto t1 = Ask(*coalescer, first, {"a", "b"});
  auto t2 = Ask(*coalescer, second, {"b", "c"});
  EXPECT_EQ(coalescer->PendingAccounts(), 3);

  t1->Cancel();
  EXPECT_EQ(first.Calls(), 1);  // At once, not when the batch goes out.
  EXPECT_TRUE(first.Cancelled());
  EXPECT_EQ(coalescer->PendingAccounts(), 2);  // "a" had no one else.
  t1->Cancel();                                // Again: nothing.
  EXPECT_EQ(first.Calls(), 1);

  clock_.Advance(absl::Milliseconds(50));
  ASSERT_EQ(inner_.CallCount(), 1u);
  EXPECT_THAT(inner_.Info(0).accounts, ElementsAre("b", "c"));
  ASSERT_TRUE(inner_.Succeed(0));
  EXPECT_EQ(second.Calls(), 1);
  EXPECT_FALSE(second.Cancelled());
  EXPECT_EQ(second.ValueOf("b"), ValueFor("b", kNick));
  EXPECT_EQ(second.ValueOf("c"), ValueFor("c", kNick));
  EXPECT_EQ(first.Calls(), 1);
}

TEST_F(CoalescerTest, CancellingEveryPendingWaiterSendsNothing) {
  auto coalescer = Make(absl::Milliseconds(30));
  Answer first, second;
  auto t1 = Ask(*coalescer, first, {"a"});
  auto t2 = Ask(*coalescer, second, {"a", "b"});
  t2->Cancel();
  t1->Cancel();
  EXPECT_EQ(coalescer->PendingAccounts(), 0);
  clock_.Advance(absl::Milliseconds(100));  // Past the batch's timer.
  EXPECT_EQ(inner_.CallCount(), 0u);
  EXPECT_EQ(first.Calls(), 1);
  EXPECT_EQ(second.Calls(), 1);
}

// A cancelled waiter's account leaves a hole in the pending batch; asked again before the batch goes, it is a new
// entry of the same batch, and an ask while that call is in flight still joins it.
TEST_F(CoalescerTest, AnAccountCancelledAndAskedAgainInOneBatchStillGathersItsWaiters) {
  auto coalescer = Make(absl::Milliseconds(50));
  Answer keeper, cancelled, again, in_flight;
  auto t1 = Ask(*coalescer, keeper, {"x"});
  auto t2 = Ask(*coalescer, cancelled, {"a"});
  t2->Cancel();
  EXPECT_EQ(coalescer->PendingAccounts(), 1);
  auto t3 = Ask(*coalescer, again, {"a"});
  EXPECT_EQ(coalescer->PendingAccounts(), 2);
  clock_.Advance(absl::Milliseconds(50));
  ASSERT_EQ(inner_.CallCount(), 1u);
  EXPECT_THAT(inner_.Info(0).accounts, ElementsAre("x", "a"));

  auto t4 = Ask(*coalescer, in_flight, {"a"});
  clock_.Advance(absl::Milliseconds(150));  // Three times the wait: a second call would have gone out.
  EXPECT_EQ(inner_.CallCount(), 1u);
  ASSERT_TRUE(inner_.Succeed(0));
  EXPECT_EQ(keeper.ValueOf("x"), ValueFor("x", kNick));
  EXPECT_EQ(again.ValueOf("a"), ValueFor("a", kNick));
  EXPECT_EQ(in_flight.ValueOf("a"), ValueFor("a", kNick));
  EXPECT_EQ(cancelled.Calls(), 1);
  EXPECT_TRUE(cancelled.Cancelled());
}

// The inner fetcher may answer in any order, with a stranger and a repeat: each waiter still gets its own
// accounts' outcomes, once each (a repeat is ignored).
TEST_F(CoalescerTest, OutcomesInAnyOrderReachTheirWaiters) {
  auto coalescer = Make(absl::Milliseconds(20));
  Answer first, second;
  auto t1 = Ask(*coalescer, first, {"a", "b", "c"});
  auto t2 = Ask(*coalescer, second, {"c", "d"});
  clock_.Advance(absl::Milliseconds(20));
  ASSERT_EQ(inner_.CallCount(), 1u);
  EXPECT_THAT(inner_.Info(0).accounts, ElementsAre("a", "b", "c", "d"));
  FetchResult shuffled;
  for (const std::string account : {"d", "stranger", "b", "a", "b", "c"}) {
    AccountOutcome& outcome = shuffled.outcomes.emplace_back();
    outcome.account = account;
    outcome.items.emplace_back().set_string_value(absl::StrCat(account, " #", shuffled.outcomes.size()));
  }
  ASSERT_TRUE(inner_.Complete(0, std::move(shuffled)));
  EXPECT_EQ(first.Calls(), 1);
  EXPECT_THAT(first.Accounts(), UnorderedElementsAre("a", "b", "c"));
  EXPECT_EQ(first.ValueOf("a"), "a #4");
  EXPECT_EQ(first.ValueOf("b"), "b #3");
  EXPECT_EQ(first.ValueOf("c"), "c #6");
  EXPECT_EQ(second.Calls(), 1);
  EXPECT_THAT(second.Accounts(), UnorderedElementsAre("c", "d"));
  EXPECT_EQ(second.ValueOf("c"), "c #6");
  EXPECT_EQ(second.ValueOf("d"), "d #1");
}

TEST_F(CoalescerTest, CancellingOneWaiterInFlightLeavesTheCallAndAllOfThemCancelIt) {
  auto coalescer = Make(absl::Milliseconds(20));
  Answer first, second, third;
  auto t1 = Ask(*coalescer, first, {"a"});
  auto t2 = Ask(*coalescer, second, {"a", "b"});
  clock_.Advance(absl::Milliseconds(20));
  ASSERT_EQ(inner_.CallCount(), 1u);

  t1->Cancel();
  EXPECT_TRUE(first.Cancelled());
  EXPECT_FALSE(inner_.Info(0).cancel_requested);
  t2->Cancel();  // Now no account of the call has a waiter.
  EXPECT_TRUE(second.Cancelled());
  EXPECT_TRUE(inner_.Info(0).cancel_requested);
  EXPECT_EQ(first.Calls(), 1);
  EXPECT_EQ(second.Calls(), 1);

  // A new ask does not join the cancelled call.
  auto t3 = Ask(*coalescer, third, {"a"});
  clock_.Advance(absl::Milliseconds(20));
  ASSERT_EQ(inner_.CallCount(), 2u);
  ASSERT_TRUE(inner_.Succeed(1));
  EXPECT_EQ(third.ValueOf("a"), ValueFor("a", kNick));
}

TEST_F(CoalescerTest, APartlyCancelledCallStillAnswersTheRest) {
  auto coalescer = Make(absl::Milliseconds(20));
  Answer first, second;
  auto t1 = Ask(*coalescer, first, {"a"});
  auto t2 = Ask(*coalescer, second, {"b"});
  clock_.Advance(absl::Milliseconds(20));
  ASSERT_EQ(inner_.CallCount(), 1u);
  t1->Cancel();
  EXPECT_FALSE(inner_.Info(0).cancel_requested);
  // A newcomer for "a" joins the call in flight even though "a" lost its only waiter.
  Answer third;
  auto t3 = Ask(*coalescer, third, {"a"});
  clock_.Advance(absl::Milliseconds(60));  // Three times the wait: a call for "a" would have gone out.
  EXPECT_EQ(inner_.CallCount(), 1u);
  ASSERT_TRUE(inner_.Succeed(0));
  EXPECT_EQ(first.Calls(), 1);
  EXPECT_TRUE(first.Cancelled());
  EXPECT_EQ(second.ValueOf("b"), ValueFor("b", kNick));
  EXPECT_EQ(third.ValueOf("a"), ValueFor("a", kNick));
}

TEST_F(CoalescerTest, BeyondMaxPendingAccountsAnAskIsRefusedAtOnce) {
  auto coalescer = Make(kLongWait, /*max_pending=*/5);
  Answer first, overflow, duplicate, exact;
  auto t1 = Ask(*coalescer, first, {"a", "b", "c"});
  auto t2 = Ask(*coalescer, overflow, {"d", "e", "f"});
  ASSERT_EQ(overflow.Calls(), 1);
  EXPECT_FALSE(overflow.Cancelled());
  EXPECT_THAT(overflow.Accounts(), UnorderedElementsAre("d", "e", "f"));
  for (const AccountOutcome& outcome : overflow.Result().outcomes) {
    ASSERT_TRUE(outcome.failure.has_value());
    EXPECT_EQ(outcome.failure->rule.grpc_code, absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(outcome.failure->rule.reason, "BRIDGE_OVERLOADED");
    EXPECT_TRUE(outcome.failure->rule.retryable);
    EXPECT_EQ(outcome.failure->retry_delay, absl::Seconds(1));
    EXPECT_THAT(outcome.failure->message, ::testing::HasSubstr("queue"));
    EXPECT_THAT(outcome.failure->message, ::testing::HasSubstr("max_pending_accounts"));
  }
  EXPECT_EQ(coalescer->PendingAccounts(), 3);

  // Accounts already pending cost nothing; up to the limit exactly is fine.
  auto t3 = Ask(*coalescer, duplicate, {"a", "b", "c"});
  auto t4 = Ask(*coalescer, exact, {"a", "d", "e"});
  EXPECT_EQ(duplicate.Calls(), 0);
  EXPECT_EQ(exact.Calls(), 0);
  EXPECT_EQ(coalescer->PendingAccounts(), 5);

  clock_.Advance(kLongWait);
  ASSERT_EQ(inner_.CallCount(), 1u);
  ASSERT_TRUE(inner_.Succeed(0));
  EXPECT_EQ(first.Calls(), 1);
  EXPECT_EQ(duplicate.ValueOf("c"), ValueFor("c", kNick));
  EXPECT_EQ(exact.ValueOf("e"), ValueFor("e", kNick));
  EXPECT_EQ(overflow.Calls(), 1);
}

TEST_F(CoalescerTest, AWaiterTheBudgetCannotServeInTimeFailsAtOnceWithRetryInfo) {
  static constexpr absl::Duration kBudgetWait = absl::Milliseconds(500);
  auto coalescer = Make(absl::Milliseconds(20), 100000, [] { return kBudgetWait; });
  Answer hurried, patient;
  const absl::Time soon = clock_.Now() + absl::Milliseconds(200);
  const absl::Time later = clock_.Now() + absl::Seconds(30);
  auto t1 = Ask(*coalescer, hurried, {"a", "b"}, kNick, soon);
  auto t2 = Ask(*coalescer, patient, {"b", "c"}, kNick, later);

  // When the batch goes out (at 20 ms), the hurried waiter fails without waiting for any upstream answer, long
  // before its deadline.
  clock_.Advance(absl::Milliseconds(19));
  EXPECT_EQ(hurried.Calls(), 0);
  clock_.Advance(kMs);
  EXPECT_EQ(hurried.Calls(), 1);
  EXPECT_THAT(hurried.Accounts(), UnorderedElementsAre("a", "b"));
  for (const AccountOutcome& outcome : hurried.Result().outcomes) {
    ASSERT_TRUE(outcome.failure.has_value());
    EXPECT_EQ(outcome.failure->rule.grpc_code, absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(outcome.failure->rule.reason, "UPSTREAM_BUDGET_EXHAUSTED");
    EXPECT_EQ(outcome.failure->retry_delay, kBudgetWait);
    const google::rpc::Status status = ToRpcStatus(*outcome.failure);
    bool has_retry_info = false;
    for (const auto& detail : status.details()) {
      google::rpc::RetryInfo retry;
      if (detail.UnpackTo(&retry)) {
        has_retry_info = true;
        EXPECT_EQ(retry.retry_delay().seconds(), 0);
        EXPECT_EQ(retry.retry_delay().nanos(), 500000000);
      }
    }
    EXPECT_TRUE(has_retry_info);
  }

  // "a" had no other waiter and left the call; the call's deadline is the remaining waiter's.
  ASSERT_EQ(inner_.CallCount(), 1u);
  EXPECT_THAT(inner_.Info(0).accounts, ElementsAre("b", "c"));
  EXPECT_EQ(inner_.Info(0).deadline, later);
  ASSERT_TRUE(inner_.Succeed(0));
  EXPECT_EQ(patient.ValueOf("b"), ValueFor("b", kNick));
  EXPECT_EQ(hurried.Calls(), 1);
}

TEST_F(CoalescerTest, WhenNoWaiterCanBeServedNoCallIsMade) {
  auto coalescer = Make(absl::ZeroDuration(), 100000, [] { return absl::Seconds(2); });
  Answer answer;
  auto ticket = Ask(*coalescer, answer, {"a"}, kNick, clock_.Now() + absl::Seconds(1));
  EXPECT_EQ(answer.Calls(), 1);  // Inline: the batch went out (and failed) within Fetch.
  EXPECT_EQ(answer.ValueOf("a"), "failed: UPSTREAM_BUDGET_EXHAUSTED");
  EXPECT_EQ(inner_.CallCount(), 0u);
  EXPECT_EQ(coalescer->PendingAccounts(), 0);
}

// The wait has passed but the budget has no spare slot yet: the batch stays open and fills, and goes out (with
// everything that arrived meanwhile) once a slot is spare.
TEST_F(CoalescerTest, UntilASlotIsSpareABatchKeepsFilling) {
  const absl::Time spare_at = clock_.Now() + absl::Milliseconds(40);
  auto coalescer = Make(absl::Milliseconds(10), 100000, nullptr, SpareAt(spare_at));
  Answer first, second;
  auto t1 = Ask(*coalescer, first, {"a"});
  clock_.Advance(absl::Milliseconds(20));  // Past the wait, no slot spare.
  EXPECT_EQ(inner_.CallCount(), 0u);
  auto t2 = Ask(*coalescer, second, {"b"});
  clock_.Advance(absl::Milliseconds(19));
  EXPECT_EQ(inner_.CallCount(), 0u) << "1 ms before a slot is spare";
  clock_.Advance(kMs);
  ASSERT_EQ(inner_.CallCount(), 1u);
  EXPECT_EQ(inner_.Info(0).sent_at, spare_at);
  EXPECT_EQ(inner_.Info(0).accounts, (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(inner_.Succeed(0));
  EXPECT_EQ(first.Calls(), 1);
  EXPECT_EQ(second.Calls(), 1);
}

// Without a wait, an ask goes out at once when a slot is spare; otherwise it waits for one, and asks arriving
// meanwhile join it.
TEST_F(CoalescerTest, WithoutAWaitABatchStillWaitsForASpareSlot) {
  const absl::Time spare_at = clock_.Now() + absl::Milliseconds(30);
  auto coalescer = Make(absl::ZeroDuration(), 100000, nullptr, SpareAt(spare_at));
  Answer first, second;
  auto t1 = Ask(*coalescer, first, {"a"});
  auto t2 = Ask(*coalescer, second, {"b"});
  EXPECT_EQ(inner_.CallCount(), 0u);
  clock_.Advance(absl::Milliseconds(29));
  EXPECT_EQ(inner_.CallCount(), 0u) << "1 ms before a slot is spare";
  clock_.Advance(kMs);
  ASSERT_EQ(inner_.CallCount(), 1u);
  EXPECT_EQ(inner_.Info(0).accounts, (std::vector<std::string>{"a", "b"}));

  // Once a slot is spare, a new ask goes out at once.
  Answer third;
  auto t3 = Ask(*coalescer, third, {"c"});
  ASSERT_EQ(inner_.CallCount(), 2u);
  EXPECT_EQ(inner_.Info(1).sent_at, spare_at);
  for (size_t call : {0, 1}) ASSERT_TRUE(inner_.Succeed(call));
  EXPECT_EQ(first.Calls(), 1);
  EXPECT_EQ(second.Calls(), 1);
  EXPECT_EQ(third.Calls(), 1);
}

// A full call does not wait for a spare slot: near the ceiling calls fill up and go, and the budget paces them.
TEST_F(CoalescerTest, AFullBatchGoesOutAtOnceWithoutASpareSlot) {
  auto coalescer = Make(absl::Milliseconds(10), 100000, nullptr, SpareAt(clock_.Now() + absl::Hours(1)));
  Answer answer;
  std::vector<std::string> accounts;
  for (int i = 0; i < 130; ++i) accounts.push_back(absl::StrCat("u", i));
  auto ticket = Ask(*coalescer, answer, accounts);
  ASSERT_EQ(inner_.CallCount(), 1u);
  EXPECT_EQ(inner_.Info(0).accounts.size(), 100u);
  EXPECT_EQ(coalescer->PendingAccounts(), 30);
  clock_.Advance(absl::Milliseconds(60));  // The rest, after the wait and the longest hold.
  ASSERT_EQ(inner_.CallCount(), 2u);
  for (size_t call : {0, 1}) ASSERT_TRUE(inner_.Succeed(call));
  EXPECT_EQ(answer.Calls(), 1);
}

// With no spare slot in sight (other tag lists, or full calls, keep the budget busy), a partial batch waits at most
// max_spare_hold past its wait, then goes and queues for the budget like a full call.
TEST_F(CoalescerTest, APartialBatchWaitsForASpareSlotAtMostMaxSpareHold) {
  constexpr absl::Duration kWait = absl::Milliseconds(10);
  constexpr absl::Duration kHold = absl::Milliseconds(50);
  auto coalescer = Make(kWait, 100000, nullptr, SpareAt(clock_.Now() + absl::Hours(1)), kHold);
  Answer answer;
  const absl::Time asked = clock_.Now();
  auto ticket = Ask(*coalescer, answer, {"a"});
  clock_.Advance(kWait + kHold - kMs);
  EXPECT_EQ(inner_.CallCount(), 0u) << "1 ms before the hold ends";
  clock_.Advance(kMs);
  ASSERT_EQ(inner_.CallCount(), 1u);
  EXPECT_EQ(inner_.Info(0).sent_at - asked, kWait + kHold);
  ASSERT_TRUE(inner_.Succeed(0));
  EXPECT_EQ(answer.Calls(), 1);
}

// A waiter whose deadline comes before the spare slot does not wait for it: its batch goes when the wait ends.
TEST_F(CoalescerTest, AWaiterDeadlineBeforeTheSpareSlotSendsTheBatchAfterTheWait) {
  constexpr absl::Duration kWait = absl::Milliseconds(10);
  auto coalescer = Make(kWait, 100000, nullptr, SpareAt(clock_.Now() + absl::Milliseconds(40)));
  Answer answer;
  auto ticket = Ask(*coalescer, answer, {"a"}, kNick, clock_.Now() + absl::Milliseconds(30));
  clock_.Advance(kWait - kMs);
  EXPECT_EQ(inner_.CallCount(), 0u);
  clock_.Advance(kMs);
  ASSERT_EQ(inner_.CallCount(), 1u);
  ASSERT_TRUE(inner_.Succeed(0));
  EXPECT_EQ(answer.Calls(), 1);
}

// Accounts go into calls in the order they were asked, the oldest first, so no caller waits behind later ones.
TEST_F(CoalescerTest, AccountsGoIntoCallsOldestFirst) {
  const absl::Time spare_at = clock_.Now() + absl::Milliseconds(100);
  auto coalescer = Make(absl::Milliseconds(10), 100000, nullptr, SpareAt(spare_at));
  std::vector<Answer> answers(250);
  std::vector<std::shared_ptr<ProfileFetcher::Ticket>> tickets;
  std::vector<std::string> asked;
  for (int i = 0; i < 250; ++i) {
    asked.push_back(absl::StrCat("u", i));
    tickets.push_back(Ask(*coalescer, answers[i], {asked.back()}));
    clock_.Advance(absl::Microseconds(100));
  }
  clock_.Advance(spare_at - clock_.Now());
  ASSERT_EQ(inner_.CallCount(), 3u);
  std::vector<std::string> sent;
  for (size_t call = 0; call < 3; ++call) {
    for (const std::string& account : inner_.Info(call).accounts) sent.push_back(account);
  }
  EXPECT_EQ(sent, asked);
  for (size_t call = 0; call < 3; ++call) ASSERT_TRUE(inner_.Succeed(call));
  for (const Answer& answer : answers) EXPECT_EQ(answer.Calls(), 1);
}

TEST_F(CoalescerTest, TheCallsDeadlineIsTheLatestOfItsWaiters) {
  auto coalescer = Make(absl::Milliseconds(20));
  Answer first, second;
  const absl::Time early = clock_.Now() + absl::Seconds(10);
  const absl::Time late = clock_.Now() + absl::Seconds(20);
  auto t1 = Ask(*coalescer, first, {"a"}, kNick, late);
  auto t2 = Ask(*coalescer, second, {"b"}, kNick, early);
  clock_.Advance(absl::Milliseconds(20));
  ASSERT_EQ(inner_.CallCount(), 1u);
  EXPECT_EQ(inner_.Info(0).deadline, late);
  ASSERT_TRUE(inner_.Succeed(0));
}

TEST_F(CoalescerTest, AnInnerFailureReachesEveryWaiterOfThoseAccounts) {
  auto coalescer = Make(absl::Milliseconds(20));
  Answer first, second;
  auto t1 = Ask(*coalescer, first, {"a", "b"});
  auto t2 = Ask(*coalescer, second, {"b"});
  clock_.Advance(absl::Milliseconds(20));
  ASSERT_EQ(inner_.CallCount(), 1u);
  ASSERT_TRUE(inner_.Fail(0, CallFailure()));
  EXPECT_EQ(first.ValueOf("a"), "failed: UPSTREAM_HTTP_5XX");
  EXPECT_EQ(first.ValueOf("b"), "failed: UPSTREAM_HTTP_5XX");
  EXPECT_EQ(second.ValueOf("b"), "failed: UPSTREAM_HTTP_5XX");
  EXPECT_EQ(second.For("b")->failure->http_status, 502);
  EXPECT_FALSE(first.Cancelled());
}

TEST_F(CoalescerTest, AnInnerCallCancelledUnderLiveWaitersFailsThemRetryably) {
  auto coalescer = Make(absl::Milliseconds(20));
  Answer answer;
  auto ticket = Ask(*coalescer, answer, {"a", "b"});
  clock_.Advance(absl::Milliseconds(20));
  ASSERT_EQ(inner_.CallCount(), 1u);
  FetchResult cancelled;
  cancelled.cancelled = true;
  ASSERT_TRUE(inner_.Complete(0, std::move(cancelled)));  // E.g. the inner fetcher shutting down.
  EXPECT_EQ(answer.Calls(), 1);
  EXPECT_FALSE(answer.Cancelled());  // The caller did not cancel.
  ASSERT_TRUE(answer.For("a").has_value());
  EXPECT_EQ(answer.For("a")->failure->rule.grpc_code, absl::StatusCode::kUnavailable);
  EXPECT_TRUE(answer.For("a")->failure->rule.retryable);
  EXPECT_EQ(answer.ValueOf("b"), "failed: UPSTREAM_CALL_CANCELLED");
}

TEST_F(CoalescerTest, AnAccountTheInnerAnswerLeftOutFailsInsteadOfHanging) {
  auto coalescer = Make(absl::Milliseconds(20));
  Answer answer;
  auto ticket = Ask(*coalescer, answer, {"a", "b"});
  clock_.Advance(absl::Milliseconds(20));
  ASSERT_EQ(inner_.CallCount(), 1u);
  FetchResult partial;
  AccountOutcome& outcome = partial.outcomes.emplace_back();
  outcome.account = "a";
  outcome.items.emplace_back().set_string_value("A");
  ASSERT_TRUE(inner_.Complete(0, std::move(partial)));
  EXPECT_EQ(answer.Calls(), 1);
  EXPECT_EQ(answer.ValueOf("a"), "A");
  EXPECT_EQ(answer.ValueOf("b"), "failed: UPSTREAM_OMITTED_ACCOUNT");
}

TEST_F(CoalescerTest, DestroyingTheCoalescerFinishesItsWaitersAndCancelsItsCalls) {
  auto coalescer = Make(absl::Milliseconds(30));
  Answer in_flight, pending;
  auto t1 = Ask(*coalescer, in_flight, {"a"});
  clock_.Advance(absl::Milliseconds(30));
  ASSERT_EQ(inner_.CallCount(), 1u);
  auto t2 = Ask(*coalescer, pending, {"b"});
  coalescer.reset();
  EXPECT_EQ(in_flight.Calls(), 1);
  EXPECT_TRUE(in_flight.Cancelled());
  EXPECT_EQ(pending.Calls(), 1);
  EXPECT_TRUE(pending.Cancelled());
  EXPECT_TRUE(inner_.Info(0).cancel_requested);
  t1->Cancel();  // Tickets outliving the coalescer are harmless.
  clock_.Advance(absl::Milliseconds(60));
  EXPECT_EQ(inner_.CallCount(), 1u);  // The pending batch's timer did not send it.
}

// Many asks from several threads with overlapping accounts and tag lists, random cancellations, and inner calls
// answered in random order, some failing: every caller is answered exactly once, with exactly its accounts, each
// with the outcome of a call for its own tags. On the real clock: the point is batches flushed by the timer
// thread while asker, canceller and answerer threads race with it, which a fake clock (timers on the test's
// thread, only when told) would serialize away. It asserts nothing about when anything happens.
TEST_F(CoalescerRealClockTest, EveryWaiterIsAnsweredExactlyOnce) {
  auto coalescer = Make(absl::Milliseconds(3));
  const std::vector<std::vector<std::string>> tag_lists = {kNick, kGender, {kNick[0], kGender[0]}};
  constexpr int kThreads = 4;
  constexpr int kAsksPerThread = 400;
  constexpr int kAccounts = 300;

  struct Ask {
    std::vector<std::string> accounts;
    size_t tags = 0;
    Answer answer;
    std::shared_ptr<ProfileFetcher::Ticket> ticket;
  };
  std::vector<std::vector<Ask>> asks(kThreads);
  for (auto& per_thread : asks) per_thread = std::vector<Ask>(kAsksPerThread);

  std::atomic<bool> asking{true};
  std::mt19937 answer_random(7);
  std::thread answerer([&] {
    // Answers open calls in random order, failing some, until the askers are done and nothing is open.
    while (true) {
      const bool still_asking = asking.load();
      std::vector<size_t> open = inner_.Open();
      if (open.empty()) {
        if (!still_asking) break;
        absl::SleepFor(absl::Microseconds(200));
        continue;
      }
      std::shuffle(open.begin(), open.end(), answer_random);
      for (size_t call : open) {
        if (answer_random() % 5 == 0) {
          inner_.Fail(call, CallFailure());
        } else {
          inner_.Succeed(call);
        }
      }
    }
  });

  std::vector<std::thread> askers;
  for (int t = 0; t < kThreads; ++t) {
    askers.emplace_back([&, t] {
      std::mt19937 random(100 + t);
      for (Ask& ask : asks[t]) {
        std::set<std::string> accounts;
        const size_t count = 1 + random() % 30;
        while (accounts.size() < count) accounts.insert(absl::StrCat("u", random() % kAccounts));
        ask.accounts.assign(accounts.begin(), accounts.end());
        ask.tags = random() % tag_lists.size();
        ask.ticket = coalescer->Fetch(ask.accounts, tag_lists[ask.tags], FarDeadline(), ask.answer.Callback());
        if (random() % 8 == 0) ask.ticket->Cancel();
        if (random() % 50 == 0) absl::SleepFor(absl::Milliseconds(4));  // Let some batches go on their timer.
      }
    });
  }
  for (std::thread& thread : askers) thread.join();
  // Every ask is now pending or in flight: wait for the last batches' timers and answers.
  for (const auto& per_thread : asks) {
    for (const Ask& ask : per_thread) ASSERT_TRUE(ask.answer.Wait());
  }
  asking = false;
  answerer.join();

  int cancelled = 0;
  for (const auto& per_thread : asks) {
    for (const Ask& ask : per_thread) {
      ASSERT_EQ(ask.answer.Calls(), 1);
      if (ask.answer.Cancelled()) {
        ++cancelled;
        EXPECT_THAT(ask.answer.Result().outcomes, IsEmpty());
        continue;
      }
      ASSERT_THAT(ask.answer.Accounts(), UnorderedElementsAreArray(ask.accounts));
      for (const std::string& account : ask.accounts) {
        const std::string value = ask.answer.ValueOf(account);
        if (value != "failed: UPSTREAM_HTTP_5XX") EXPECT_EQ(value, ValueFor(account, tag_lists[ask.tags]));
      }
    }
  }
  EXPECT_GT(cancelled, 0);
  EXPECT_EQ(coalescer->PendingAccounts(), 0);

  // Coalescing happened: far fewer calls than asks, none over 100 accounts, none with an account twice.
  const size_t calls = inner_.CallCount();
  EXPECT_LT(calls, static_cast<size_t>(kThreads * kAsksPerThread));
  for (size_t call = 0; call < calls; ++call) {
    const FakeInner::CallInfo info = inner_.Info(call);
    EXPECT_LE(info.accounts.size(), 100u);
    EXPECT_FALSE(info.accounts.empty());
    EXPECT_EQ(std::set<std::string>(info.accounts.begin(), info.accounts.end()).size(), info.accounts.size());
  }
}

}  // namespace
}  // namespace portrait_bridge

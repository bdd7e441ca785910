#include "bridge/service/timer_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "tests/unit/fake_clock.h"
#include "tests/unit/thread_names.h"

namespace portrait_bridge {
namespace {

// ---------------------------------------------------------------------------------------------------------------
// On a fake clock: the queue has no thread; the clock runs what became due as the test moves it.

class TimerQueueFakeClockTest : public ::testing::Test {
 protected:
  // A callback that records its number and the clock's time when it ran.
  absl::AnyInvocable<void() &&> Record(int n) {
    return [this, n] { runs_.push_back({n, clock_.Now()}); };
  }
  std::vector<int> Order() const {
    std::vector<int> order;
    for (const auto& [n, at] : runs_) order.push_back(n);
    return order;
  }

  FakeClock clock_;
  TimerQueue timers_{clock_};
  const absl::Time t0_ = clock_.Now();
  std::vector<std::pair<int, absl::Time>> runs_;  // Callbacks run on the test's thread.
};

TEST_F(TimerQueueFakeClockTest, NothingRunsBeforeItsTimeAndItRunsAtItsTime) {
  timers_.RunAt(t0_ + absl::Milliseconds(100), Record(1));
  clock_.Advance(absl::Milliseconds(99));
  EXPECT_TRUE(runs_.empty()) << "1 ms early";
  clock_.Advance(absl::Milliseconds(1));
  ASSERT_EQ(runs_.size(), 1u) << "due: run before Advance returned";
  EXPECT_EQ(runs_[0].second, t0_ + absl::Milliseconds(100));
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(runs_.size(), 1u) << "once";
}

TEST_F(TimerQueueFakeClockTest, OneAdvanceRunsEveryDueCallbackInTimeOrderEachAtItsOwnTime) {
  timers_.RunAt(t0_ + absl::Milliseconds(60), Record(4));
  timers_.RunAt(t0_ + absl::Milliseconds(20), Record(2));
  timers_.RunAt(t0_ + absl::Milliseconds(10), Record(1));
  timers_.RunAt(t0_ + absl::Milliseconds(20), Record(3));  // Same time as 2: runs after it.
  timers_.RunAt(t0_ + absl::Milliseconds(61), Record(5));
  clock_.Advance(absl::Milliseconds(60));
  EXPECT_EQ(Order(), (std::vector<int>{1, 2, 3, 4}));
  ASSERT_EQ(runs_.size(), 4u);
  EXPECT_EQ(runs_[0].second, t0_ + absl::Milliseconds(10));
  EXPECT_EQ(runs_[1].second, t0_ + absl::Milliseconds(20));
  EXPECT_EQ(runs_[3].second, t0_ + absl::Milliseconds(60));
  EXPECT_EQ(clock_.Now(), t0_ + absl::Milliseconds(60));
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(Order(), (std::vector<int>{1, 2, 3, 4, 5}));
}

TEST_F(TimerQueueFakeClockTest, SetForwardRunsWhatBecameDue) {
  timers_.RunAt(t0_ + absl::Seconds(1), Record(1));
  clock_.Set(t0_ + absl::Milliseconds(999));
  EXPECT_TRUE(runs_.empty());
  clock_.Set(t0_ + absl::Seconds(2));
  EXPECT_EQ(Order(), (std::vector<int>{1}));
}

TEST_F(TimerQueueFakeClockTest, CancelBeforeRunPreventsIt) {
  const uint64_t id = timers_.RunAt(t0_ + absl::Milliseconds(30), Record(1));
  timers_.RunAt(t0_ + absl::Milliseconds(30), Record(2));
  EXPECT_TRUE(timers_.Cancel(id));
  EXPECT_FALSE(timers_.Cancel(id)) << "a second Cancel has nothing left to remove";
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Order(), (std::vector<int>{2}));
}

TEST_F(TimerQueueFakeClockTest, CancelAfterRunReturnsFalse) {
  const uint64_t id = timers_.RunAt(t0_ + absl::Milliseconds(5), Record(1));
  clock_.Advance(absl::Milliseconds(5));
  ASSERT_EQ(runs_.size(), 1u);
  EXPECT_FALSE(timers_.Cancel(id));
}

TEST_F(TimerQueueFakeClockTest, ACallbackMayCancelAnotherDueAtTheSameTime) {
  uint64_t second = 0;
  timers_.RunAt(t0_ + absl::Milliseconds(10), [&] {
    runs_.push_back({1, clock_.Now()});
    EXPECT_TRUE(timers_.Cancel(second));
  });
  second = timers_.RunAt(t0_ + absl::Milliseconds(10), Record(2));
  clock_.Advance(absl::Milliseconds(10));
  EXPECT_EQ(Order(), (std::vector<int>{1}));
}

TEST_F(TimerQueueFakeClockTest, TimeInThePastRunsAtTheNextMoveAtTheCurrentTime) {
  clock_.Advance(absl::Seconds(1));
  timers_.RunAt(t0_, Record(1));
  EXPECT_TRUE(runs_.empty()) << "only a move of the clock runs callbacks";
  clock_.Advance(absl::ZeroDuration());
  ASSERT_EQ(runs_.size(), 1u);
  EXPECT_EQ(runs_[0].second, t0_ + absl::Seconds(1)) << "the clock never goes back";
}

// A callback's own timers run within the same Advance when they fall inside it, and not when they fall beyond it.
TEST_F(TimerQueueFakeClockTest, CallbackMayScheduleAnother) {
  timers_.RunAt(t0_ + absl::Milliseconds(10), [&] {
    runs_.push_back({1, clock_.Now()});
    timers_.RunAt(clock_.Now() + absl::Milliseconds(10), Record(2));
    timers_.RunAt(clock_.Now() + absl::Milliseconds(100), Record(3));
  });
  clock_.Advance(absl::Milliseconds(50));
  EXPECT_EQ(Order(), (std::vector<int>{1, 2}));
  EXPECT_EQ(runs_[1].second, t0_ + absl::Milliseconds(20));
  clock_.Advance(absl::Milliseconds(59));
  EXPECT_EQ(Order(), (std::vector<int>{1, 2}));
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(Order(), (std::vector<int>{1, 2, 3}));
}

TEST_F(TimerQueueFakeClockTest, TwoQueuesOnOneClockRunInOneTimeOrder) {
  TimerQueue other(clock_);
  timers_.RunAt(t0_ + absl::Milliseconds(30), Record(3));
  other.RunAt(t0_ + absl::Milliseconds(20), Record(2));
  timers_.RunAt(t0_ + absl::Milliseconds(10), Record(1));
  clock_.Advance(absl::Milliseconds(30));
  EXPECT_EQ(Order(), (std::vector<int>{1, 2, 3}));
}

TEST(TimerQueueFakeClockDestructionTest, DestructionDropsPendingCallbacksAndDetachesFromTheClock) {
  FakeClock clock;
  bool ran = false;
  {
    TimerQueue timers(clock);
    timers.RunAt(clock.Now() + absl::Seconds(1), [&] { ran = true; });
  }
  clock.Advance(absl::Hours(1));  // Would touch the destroyed queue if it were still attached.
  EXPECT_FALSE(ran);
}

// ---------------------------------------------------------------------------------------------------------------
// On the system clock: the queue's own thread sleeps until the next timer (production). These tests assert only
// what a slow machine cannot make pass wrongly: order, lower bounds on when, and eventual runs.

// Waits at most this long for anything that should happen "promptly"; real waits are a few milliseconds.
constexpr absl::Duration kPatience = absl::Seconds(5);

TEST(TimerQueueSystemClockTest, CallbacksRunInTimeOrderOnTheQueuesThread) {
  SystemClock clock;
  TimerQueue timers(clock);
  absl::Mutex mutex;
  std::vector<int> order;
  bool on_test_thread = false;
  const std::thread::id test_thread = std::this_thread::get_id();
  absl::BlockingCounter remaining(4);
  auto record = [&](int n) {
    return [&, n] {
      {
        absl::MutexLock lock(&mutex);
        order.push_back(n);
        on_test_thread = on_test_thread || std::this_thread::get_id() == test_thread;
      }
      remaining.DecrementCount();
    };
  };
  const absl::Time now = clock.Now();
  timers.RunAt(now + absl::Milliseconds(60), record(4));
  timers.RunAt(now + absl::Milliseconds(20), record(2));
  timers.RunAt(now + absl::Milliseconds(10), record(1));
  timers.RunAt(now + absl::Milliseconds(20), record(3));  // Same time as 2: runs after it.
  remaining.Wait();
  absl::MutexLock lock(&mutex);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_FALSE(on_test_thread);
}

// A callback kept waiting behind a slow one reports at least that wait as its lag (a lower bound: a slow machine
// only adds to it); every callback reports one.
TEST(TimerQueueSystemClockTest, ReportsHowLateEachCallbackStarted) {
  SystemClock clock;
  absl::Mutex mutex;
  std::vector<absl::Duration> lags;
  TimerQueue timers(clock, [&](absl::Duration lag) {
    absl::MutexLock lock(&mutex);
    lags.push_back(lag);
  });
  absl::Notification second_ran;
  const absl::Time now = clock.Now();
  timers.RunAt(now, [] { absl::SleepFor(absl::Milliseconds(30)); });
  timers.RunAt(now, [&] { second_ran.Notify(); });
  ASSERT_TRUE(second_ran.WaitForNotificationWithTimeout(kPatience));
  absl::MutexLock lock(&mutex);
  ASSERT_EQ(lags.size(), 2u);
  EXPECT_GE(lags[0], absl::ZeroDuration());
  EXPECT_GE(lags[1], absl::Milliseconds(30));
}

TEST(TimerQueueSystemClockTest, ItsThreadIsNamed) {
  SystemClock clock;
  TimerQueue timers(clock);
  absl::Notification ran;
  std::string name;
  timers.RunAt(clock.Now(), [&] {
    name = testing::ThisThreadName();
    ran.Notify();
  });
  ASSERT_TRUE(ran.WaitForNotificationWithTimeout(kPatience));
  EXPECT_EQ(name, "timer-queue");
}

TEST(TimerQueueSystemClockTest, CallbackDoesNotRunBeforeItsTime) {
  SystemClock clock;
  TimerQueue timers(clock);
  absl::Notification ran;
  absl::Time ran_at;
  const absl::Time when = clock.Now() + absl::Milliseconds(50);
  timers.RunAt(when, [&] {
    ran_at = clock.Now();
    ran.Notify();
  });
  ASSERT_TRUE(ran.WaitForNotificationWithTimeout(kPatience));
  EXPECT_GE(ran_at, when);
}

TEST(TimerQueueSystemClockTest, TimeInThePastRunsWithoutAnyMove) {
  SystemClock clock;
  TimerQueue timers(clock);
  absl::Notification ran;
  timers.RunAt(clock.Now() - absl::Hours(1), [&] { ran.Notify(); });
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(kPatience));
}

TEST(TimerQueueSystemClockTest, EarlierTimerAddedWhileWaitingForALaterOneRunsPromptly) {
  SystemClock clock;
  TimerQueue timers(clock);
  timers.RunAt(clock.Now() + absl::Hours(1), [] {});
  // Lets the thread go to sleep until the far timer. The queue offers no hook to observe that; a machine too slow
  // to get there in 10 ms makes the test weaker (the thread sees both timers at once), never wrongly red.
  absl::SleepFor(absl::Milliseconds(10));
  absl::Notification ran;
  timers.RunAt(clock.Now() + absl::Milliseconds(5), [&] { ran.Notify(); });
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(kPatience)) << "still sleeping until the far timer";
}

TEST(TimerQueueSystemClockTest, CancelBeforeRunPreventsIt) {
  SystemClock clock;
  TimerQueue timers(clock);
  std::atomic<bool> cancelled_ran{false};
  const uint64_t id = timers.RunAt(clock.Now() + absl::Milliseconds(30), [&] { cancelled_ran = true; });
  EXPECT_TRUE(timers.Cancel(id));
  // A later timer runs, so the cancelled one's time has certainly passed.
  absl::Notification later;
  timers.RunAt(clock.Now() + absl::Milliseconds(60), [&] { later.Notify(); });
  ASSERT_TRUE(later.WaitForNotificationWithTimeout(kPatience));
  EXPECT_FALSE(cancelled_ran.load());
}

TEST(TimerQueueSystemClockTest, CallbackMayScheduleAnother) {
  SystemClock clock;
  TimerQueue timers(clock);
  absl::Notification second;
  timers.RunAt(clock.Now(), [&] { timers.RunAt(clock.Now(), [&] { second.Notify(); }); });
  EXPECT_TRUE(second.WaitForNotificationWithTimeout(kPatience));
}

TEST(TimerQueueSystemClockTest, DestructionDropsPendingCallbacksWithoutWaitingForThem) {
  SystemClock clock;
  std::atomic<bool> ran{false};
  const absl::Time start = absl::Now();
  {
    TimerQueue timers(clock);
    timers.RunAt(clock.Now() + absl::Hours(1), [&] { ran = true; });
  }
  EXPECT_FALSE(ran.load());
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

}  // namespace
}  // namespace portrait_bridge

#include "bridge/service/timer_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

namespace portrait_bridge {
namespace {

// Waits at most this long for anything that should happen "promptly"; real waits are a few milliseconds.
constexpr absl::Duration kPatience = absl::Seconds(5);

TEST(TimerQueueTest, CallbacksRunInTimeOrderNotInsertionOrder) {
  TimerQueue timers;
  absl::Mutex mutex;
  std::vector<int> order;
  absl::BlockingCounter remaining(4);
  auto record = [&](int n) {
    return [&, n] {
      {
        absl::MutexLock lock(&mutex);
        order.push_back(n);
      }
      remaining.DecrementCount();
    };
  };
  const absl::Time now = absl::Now();
  timers.RunAt(now + absl::Milliseconds(60), record(4));
  timers.RunAt(now + absl::Milliseconds(20), record(2));
  timers.RunAt(now + absl::Milliseconds(10), record(1));
  timers.RunAt(now + absl::Milliseconds(20), record(3));  // Same time as 2: runs after it.
  remaining.Wait();
  absl::MutexLock lock(&mutex);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
}

TEST(TimerQueueTest, CallbackDoesNotRunBeforeItsTime) {
  TimerQueue timers;
  absl::Notification ran;
  absl::Time ran_at;
  const absl::Time when = absl::Now() + absl::Milliseconds(50);
  timers.RunAt(when, [&] {
    ran_at = absl::Now();
    ran.Notify();
  });
  ASSERT_TRUE(ran.WaitForNotificationWithTimeout(kPatience));
  EXPECT_GE(ran_at, when);
}

TEST(TimerQueueTest, CancelBeforeRunPreventsIt) {
  TimerQueue timers;
  std::atomic<bool> cancelled_ran{false};
  const uint64_t id = timers.RunAt(absl::Now() + absl::Milliseconds(30), [&] { cancelled_ran = true; });
  EXPECT_TRUE(timers.Cancel(id));
  EXPECT_FALSE(timers.Cancel(id)) << "a second Cancel has nothing left to remove";

  // A later timer runs, so the cancelled one's time has certainly passed.
  absl::Notification later;
  timers.RunAt(absl::Now() + absl::Milliseconds(60), [&] { later.Notify(); });
  ASSERT_TRUE(later.WaitForNotificationWithTimeout(kPatience));
  EXPECT_FALSE(cancelled_ran.load());
}

TEST(TimerQueueTest, CancelAfterRunReturnsFalse) {
  TimerQueue timers;
  absl::Notification ran;
  const uint64_t id = timers.RunAt(absl::Now(), [&] { ran.Notify(); });
  ASSERT_TRUE(ran.WaitForNotificationWithTimeout(kPatience));
  EXPECT_FALSE(timers.Cancel(id));
}

TEST(TimerQueueTest, TimeInThePastRunsPromptly) {
  TimerQueue timers;
  absl::Notification ran;
  const absl::Time start = absl::Now();
  timers.RunAt(start - absl::Hours(1), [&] { ran.Notify(); });
  ASSERT_TRUE(ran.WaitForNotificationWithTimeout(kPatience));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST(TimerQueueTest, EarlierTimerAddedWhileWaitingForALaterOneRunsPromptly) {
  TimerQueue timers;
  timers.RunAt(absl::Now() + absl::Hours(1), [] {});
  absl::SleepFor(absl::Milliseconds(10));  // Let the queue go to sleep until the far timer.
  absl::Notification ran;
  const absl::Time start = absl::Now();
  timers.RunAt(start + absl::Milliseconds(5), [&] { ran.Notify(); });
  ASSERT_TRUE(ran.WaitForNotificationWithTimeout(kPatience));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST(TimerQueueTest, CallbackMayScheduleAnother) {
  TimerQueue timers;
  absl::Notification second;
  timers.RunAt(absl::Now(), [&] { timers.RunAt(absl::Now(), [&] { second.Notify(); }); });
  EXPECT_TRUE(second.WaitForNotificationWithTimeout(kPatience));
}

TEST(TimerQueueTest, DestructionDropsPendingCallbacksWithoutWaitingForThem) {
  std::atomic<bool> ran{false};
  const absl::Time start = absl::Now();
  {
    TimerQueue timers;
    timers.RunAt(absl::Now() + absl::Hours(1), [&] { ran = true; });
  }
  EXPECT_FALSE(ran.load());
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

}  // namespace
}  // namespace portrait_bridge

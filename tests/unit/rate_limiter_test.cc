#include "bridge/core/rate_limiter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/unit/fake_clock.h"

namespace portrait_bridge {
namespace {

constexpr double kRate = 10;  // One token every 100 ms.
constexpr int64_t kBurst = 5;
const absl::Duration kInterval = RateLimiter::kPacingWindow / kRate;  // 102.2 ms.

TEST(RateLimiterTest, BurstStartsAtOnceAndTheNextWaitsOneInterval) {
  FakeClock clock;
  RateLimiter limiter(kRate, kBurst, clock);
  for (int i = 0; i < kBurst; ++i) {
    EXPECT_EQ(limiter.Reserve(absl::ZeroDuration()), absl::ZeroDuration()) << "call " << i;
  }
  EXPECT_EQ(limiter.Reserve(absl::InfiniteDuration()), kInterval);
  EXPECT_EQ(limiter.Reserve(absl::InfiniteDuration()), 2 * kInterval);
}

TEST(RateLimiterTest, TooLongAWaitReservesNothing) {
  FakeClock clock;
  RateLimiter limiter(kRate, kBurst, clock);
  for (int i = 0; i < kBurst; ++i) ASSERT_EQ(limiter.Reserve(absl::ZeroDuration()), absl::ZeroDuration());

  EXPECT_EQ(limiter.Reserve(absl::ZeroDuration()), std::nullopt);
  EXPECT_EQ(limiter.Reserve(kInterval - absl::Nanoseconds(1)), std::nullopt);
  // Had the refusals reserved anything, this one would have to wait longer than one interval.
  EXPECT_EQ(limiter.Reserve(kInterval), kInterval);
}

TEST(RateLimiterTest, TokensComeBackWithTimeUpToTheBurst) {
  FakeClock clock;
  RateLimiter limiter(kRate, kBurst, clock);
  for (int i = 0; i < kBurst; ++i) ASSERT_EQ(limiter.Reserve(absl::ZeroDuration()), absl::ZeroDuration());
  ASSERT_EQ(limiter.Reserve(absl::ZeroDuration()), std::nullopt);

  clock.Advance(kInterval);
  EXPECT_EQ(limiter.Reserve(absl::ZeroDuration()), absl::ZeroDuration());
  EXPECT_EQ(limiter.Reserve(absl::ZeroDuration()), std::nullopt);

  // A long idle time refills the bucket to the burst, not beyond.
  clock.Advance(absl::Hours(1));
  for (int i = 0; i < kBurst; ++i) {
    EXPECT_EQ(limiter.Reserve(absl::ZeroDuration()), absl::ZeroDuration()) << "call " << i;
  }
  EXPECT_EQ(limiter.Reserve(absl::ZeroDuration()), std::nullopt);
}

// Reservations are planned against a window as well as the bucket: however the asks come, no window of
// kPacingWindow holds more than `rate` planned starts (the bucket alone would allow burst + rate - 1 = 14 with rate
// 10/s and burst 5), and a saturated limiter plans exactly that many.
TEST(RateLimiterTest, PlannedStartsInAnyWindowNeverExceedTheRate) {
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  FakeClock clock(t0);
  RateLimiter limiter(kRate, kBurst, clock);
  std::mt19937 random(12345);
  std::uniform_int_distribution<int> step_ms(0, 20);
  std::uniform_int_distribution<int> calls_per_step(0, 3);

  std::vector<absl::Time> starts;
  int refused = 0;
  while (clock.Now() < t0 + absl::Seconds(10)) {
    for (int n = calls_per_step(random); n > 0; --n) {
      const std::optional<absl::Duration> wait = limiter.Reserve(absl::Seconds(2));
      if (!wait.has_value()) {
        ++refused;
        continue;
      }
      ASSERT_GE(*wait, absl::ZeroDuration());
      ASSERT_LE(*wait, absl::Seconds(2));
      starts.push_back(clock.Now() + *wait);
    }
    clock.Advance(absl::Milliseconds(step_ms(random)));
  }
  ASSERT_GT(refused, 0) << "the simulation should saturate the limiter";
  // First come, first served: start times follow reservation order.
  ASSERT_TRUE(std::is_sorted(starts.begin(), starts.end()));

  int64_t max_in_window = 0;
  size_t end = 0;
  // The busiest window can always be slid to begin at a start time.
  for (size_t begin = 0; begin < starts.size(); ++begin) {
    end = std::max(end, begin);
    while (end < starts.size() && starts[end] < starts[begin] + RateLimiter::kPacingWindow) ++end;
    max_in_window = std::max<int64_t>(max_in_window, static_cast<int64_t>(end - begin));
  }
  EXPECT_EQ(max_in_window, static_cast<int64_t>(kRate)) << "a saturated limiter should use its whole budget";

  // Over the whole run the limiter neither over- nor under-serves: at most `rate` per window (10 windows begin
  // in 10 s), and no fewer than the bucket earns after its first window (one per interval).
  const auto started_before_10s =
      std::count_if(starts.begin(), starts.end(), [&](absl::Time start) { return start < t0 + absl::Seconds(10); });
  EXPECT_LE(started_before_10s, 10 * static_cast<int64_t>(kRate));
  EXPECT_GE(started_before_10s,
            static_cast<int64_t>(kRate) + (absl::Seconds(10) - RateLimiter::kPacingWindow) / kInterval);
}

TEST(RateLimiterTest, EstimatedWaitIsTheNextReservesWaitAndReservesNothing) {
  FakeClock clock;
  RateLimiter limiter(kRate, kBurst, clock);
  EXPECT_EQ(limiter.EstimatedWait(), absl::ZeroDuration());
  for (int i = 0; i < kBurst; ++i) ASSERT_EQ(limiter.Reserve(absl::ZeroDuration()), absl::ZeroDuration());
  EXPECT_EQ(limiter.EstimatedWait(), kInterval);
  EXPECT_EQ(limiter.EstimatedWait(), kInterval);  // Asking twice reserved nothing.
  ASSERT_EQ(limiter.Reserve(absl::InfiniteDuration()), kInterval);
  EXPECT_EQ(limiter.EstimatedWait(), 2 * kInterval);
  clock.Advance(absl::Milliseconds(150));
  EXPECT_EQ(limiter.EstimatedWait(), 2 * kInterval - absl::Milliseconds(150));
  EXPECT_EQ(limiter.Reserve(absl::InfiniteDuration()), 2 * kInterval - absl::Milliseconds(150));
}

TEST(RateLimiterTest, SpareWaitKeepsHalfTheBurstForTheCallsBehind) {
  FakeClock clock;
  RateLimiter limiter(kRate, kBurst, clock);
  ASSERT_EQ(limiter.reserve(), kBurst / 2);
  // A full bucket: a call may take a token as long as the reserve stays behind.
  for (int64_t i = 0; i < kBurst - limiter.reserve(); ++i) {
    EXPECT_EQ(limiter.SpareWait(), absl::ZeroDuration()) << i;
    ASSERT_EQ(limiter.Reserve(absl::ZeroDuration()), absl::ZeroDuration());
  }
  // Only the reserve is left: a spare token comes with the next one earned, one interval on; nothing reserved.
  EXPECT_EQ(limiter.SpareWait(), kInterval);
  EXPECT_EQ(limiter.SpareWait(), kInterval);
  EXPECT_EQ(limiter.EstimatedWait(), absl::ZeroDuration()) << "the reserve is still there for a full call";
  clock.Advance(kInterval - absl::Milliseconds(1));
  EXPECT_EQ(limiter.SpareWait(), absl::Milliseconds(1));
  clock.Advance(absl::Milliseconds(1));
  EXPECT_EQ(limiter.SpareWait(), absl::ZeroDuration());
  // Calls taking the reserve push the spare token further back, one interval each.
  ASSERT_EQ(limiter.Reserve(absl::ZeroDuration()), absl::ZeroDuration());
  ASSERT_EQ(limiter.Reserve(absl::ZeroDuration()), absl::ZeroDuration());
  EXPECT_EQ(limiter.SpareWait(), 2 * kInterval);
}

TEST(RateLimiterTest, WithABurstOfOneTheSpareWaitIsTheNextCallsWait) {
  FakeClock clock;
  RateLimiter limiter(kRate, 1, clock);
  EXPECT_EQ(limiter.reserve(), 0);
  EXPECT_EQ(limiter.SpareWait(), absl::ZeroDuration());
  ASSERT_EQ(limiter.Reserve(absl::ZeroDuration()), absl::ZeroDuration());
  EXPECT_EQ(limiter.SpareWait(), kInterval);
  EXPECT_EQ(limiter.SpareWait(), limiter.EstimatedWait());
}

// The most calls starting in any half-open window [t, t + length) of `starts` (sorted).
int64_t MaxInWindow(const std::vector<absl::Time>& starts, absl::Duration length) {
  int64_t most = 0;
  size_t end = 0;
  for (size_t begin = 0; begin < starts.size(); ++begin) {
    end = std::max(end, begin);
    while (end < starts.size() && starts[end] < starts[begin] + length) ++end;
    most = std::max<int64_t>(most, static_cast<int64_t>(end - begin));
  }
  return most;
}

int64_t CountIn(const std::vector<absl::Time>& starts, absl::Time from, absl::Time to) {
  return std::count_if(starts.begin(), starts.end(), [&](absl::Time t) { return t >= from && t < to; });
}

TEST(RateLimiterThrottleTest, HalvesTheRateHoldsItForASecondThenRecoversAdditively) {
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  FakeClock clock(t0);
  RateLimiter limiter(kRate, kBurst, clock);
  EXPECT_DOUBLE_EQ(limiter.EffectiveCallsPerSecond(), kRate);

  limiter.OnThrottled();
  EXPECT_DOUBLE_EQ(limiter.EffectiveCallsPerSecond(), kRate / 2);
  clock.Advance(absl::Milliseconds(999));
  EXPECT_DOUBLE_EQ(limiter.EffectiveCallsPerSecond(), kRate / 2) << "held for a second";
  clock.Set(t0 + absl::Seconds(1) + absl::Milliseconds(2500));
  EXPECT_NEAR(limiter.EffectiveCallsPerSecond(), kRate * 0.75, 1e-9) << "plus 10% of the rate per second";
  clock.Set(t0 + absl::Seconds(6));
  EXPECT_NEAR(limiter.EffectiveCallsPerSecond(), kRate, 1e-9);
  clock.Advance(absl::Hours(1));
  EXPECT_DOUBLE_EQ(limiter.EffectiveCallsPerSecond(), kRate) << "never above the configured rate";
}

TEST(RateLimiterThrottleTest, SignalsWithinASecondHalveOnceAndTheRateHasAFloor) {
  FakeClock clock;
  RateLimiter limiter(kRate, kBurst, clock);
  limiter.OnThrottled();
  limiter.OnThrottled();  // Other in-flight calls answering 60007 for the same burst.
  clock.Advance(absl::Milliseconds(900));
  limiter.OnThrottled();
  EXPECT_DOUBLE_EQ(limiter.EffectiveCallsPerSecond(), kRate / 2);
  clock.Advance(absl::Milliseconds(100));
  limiter.OnThrottled();  // A second later upstream still refuses: halve again.
  EXPECT_DOUBLE_EQ(limiter.EffectiveCallsPerSecond(), kRate / 4);
  for (int i = 0; i < 20; ++i) {
    clock.Advance(absl::Seconds(1));
    limiter.OnThrottled();
  }
  EXPECT_DOUBLE_EQ(limiter.EffectiveCallsPerSecond(), 1) << "one call per second (10% here, above the 5% floor)";

  RateLimiter fast(200, 200, clock);
  for (int i = 0; i < 20; ++i) {
    fast.OnThrottled();
    clock.Advance(RateLimiter::kThrottleHold);  // Exactly one hold later: halves again.
  }
  EXPECT_DOUBLE_EQ(fast.EffectiveCallsPerSecond(), 200 * RateLimiter::kMinFactor) << "5% of the configured rate";
}

TEST(RateLimiterThrottleTest, ThrottleEmptiesTheBucket) {
  FakeClock clock;
  RateLimiter limiter(kRate, kBurst, clock);  // Idle: a full bucket of five.
  limiter.OnThrottled();
  // At half the rate the next call waits one doubled interval instead of starting with a burst.
  EXPECT_EQ(limiter.EstimatedWait(), 2 * kInterval);
  EXPECT_EQ(limiter.Reserve(absl::InfiniteDuration()), 2 * kInterval);
  EXPECT_EQ(limiter.Reserve(absl::InfiniteDuration()), 4 * kInterval);
}

// Callers poll far faster than the budget for 20 simulated seconds; upstream throttles at 5 s. In the second after
// the throttle at most half the configured calls start; afterwards the rate climbs back to the configured one and
// never goes above it: no one-second window ever holds more than the bucket bound of the configured rate.
TEST(RateLimiterThrottleTest, SimulatedClockHalfAfterThrottleFullAfterRecoveryNeverOverBudget) {
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  const absl::Time throttle_at = t0 + absl::Seconds(5);
  for (const absl::Duration max_wait : {absl::ZeroDuration(), absl::Seconds(2)}) {
    FakeClock clock(t0);
    RateLimiter limiter(kRate, kBurst, clock);
    std::mt19937 random(99);
    std::uniform_int_distribution<int> step_ms(0, 10);
    std::uniform_int_distribution<int> calls_per_step(0, 3);
    bool throttled = false;
    std::vector<absl::Time> starts;
    std::vector<absl::Time> starts_reserved_after_throttle;
    while (clock.Now() < t0 + absl::Seconds(20)) {
      if (!throttled && clock.Now() >= throttle_at) {
        limiter.OnThrottled();
        throttled = true;
      }
      for (int n = calls_per_step(random); n > 0; --n) {
        const std::optional<absl::Duration> wait = limiter.Reserve(max_wait);
        if (!wait.has_value()) continue;
        ASSERT_GE(*wait, absl::ZeroDuration());
        ASSERT_LE(*wait, max_wait);
        starts.push_back(clock.Now() + *wait);
        if (throttled) starts_reserved_after_throttle.push_back(clock.Now() + *wait);
      }
      clock.Advance(absl::Milliseconds(step_ms(random)));
    }
    ASSERT_TRUE(std::is_sorted(starts.begin(), starts.end()));
    const absl::Time throttle = throttle_at + absl::Milliseconds(10);  // Within one step after throttle_at.
    SCOPED_TRACE(absl::StrCat("max_wait ", absl::FormatDuration(max_wait)));

    EXPECT_LE(MaxInWindow(starts, absl::Seconds(1)), kBurst + static_cast<int64_t>(kRate) - 1);
    // Calls granted after the throttle: at most half the rate in the first second (the hold).
    EXPECT_LE(CountIn(starts_reserved_after_throttle, throttle_at, throttle + absl::Seconds(1)),
              static_cast<int64_t>(kRate / 2));
    EXPECT_LE(MaxInWindow(starts_reserved_after_throttle, absl::Seconds(1)), kBurst + static_cast<int64_t>(kRate) - 1);
    if (max_wait == absl::ZeroDuration()) {
      // Nothing was granted ahead of time, so all starts in that second count.
      EXPECT_LE(CountIn(starts, throttle_at, throttle_at + absl::Seconds(1)), static_cast<int64_t>(kRate / 2));
    }
    // Recovery: half a rate plus 10% per second after the hold reaches the full rate 6 s after the throttle. The
    // last seconds of the run carry the full rate again (one full second: the rate, give or take the edge).
    EXPECT_GE(CountIn(starts, t0 + absl::Seconds(18), t0 + absl::Seconds(19)), static_cast<int64_t>(kRate) - 1);
    EXPECT_DOUBLE_EQ(limiter.EffectiveCallsPerSecond(), kRate);
    // In between it climbs: the second after the hold carries fewer calls than the fifth after it (shifted by
    // max_wait: a call starts up to max_wait after it was granted, at the rate in force when it was granted).
    EXPECT_LT(CountIn(starts, throttle + max_wait + absl::Seconds(1), throttle + max_wait + absl::Seconds(2)),
              CountIn(starts, throttle + max_wait + absl::Seconds(5), throttle + max_wait + absl::Seconds(6)));
  }
}

// Sends at random moments, far more often than the budget, for 10 simulated seconds: whatever the burst, no window
// of kWindow ever holds more than `rate` sends, and a saturated sender gets the whole budget.
TEST(RateLimiterTest, SendsInAnyWindowNeverExceedTheRate) {
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  FakeClock clock(t0);
  RateLimiter limiter(kRate, /*burst=*/100, clock);
  std::mt19937 random(777);
  std::uniform_int_distribution<int> step_ms(0, 7);
  std::vector<absl::Time> sends;
  int refused = 0;
  while (clock.Now() < t0 + absl::Seconds(10)) {
    const absl::Duration wait = limiter.ClaimSendSlot();
    if (wait == absl::ZeroDuration()) {
      sends.push_back(clock.Now());
    } else {
      ++refused;
      EXPECT_LE(wait, RateLimiter::kWindow);
    }
    clock.Advance(absl::Milliseconds(step_ms(random)));
  }
  ASSERT_GT(refused, 0) << "the simulation should saturate the window";
  int64_t max_in_window = 0;
  size_t end = 0;
  for (size_t begin = 0; begin < sends.size(); ++begin) {
    while (end < sends.size() && sends[end] < sends[begin] + RateLimiter::kWindow) ++end;
    max_in_window = std::max<int64_t>(max_in_window, static_cast<int64_t>(end - begin));
  }
  EXPECT_EQ(max_in_window, static_cast<int64_t>(kRate));
  EXPECT_GE(static_cast<int64_t>(sends.size()), 9 * static_cast<int64_t>(kRate));
}

// A sender that always has a call ready, at Tencent's default rate with the default burst: it sends each call as
// soon as the limiter lets it (the reserved start, then the socket's window) and stalls once for 50 ms, as a
// starved thread does. The bucket lets it catch up after the stall and at the start; the calls a catch-up crowds
// together make the window hold back the calls a window later, which crowds them in turn. With a burst that
// covers only a few milliseconds of lateness, the gaps that this echo leaves stay short (a burst of a twentieth
// of the rate left a 45 to 50 ms gap every window, each one a pause for every caller in the queue).
TEST(RateLimiterTest, DefaultBurstLeavesNoLongGapAWindowAfterACatchUp) {
  constexpr double kTencentRate = 200;
  const absl::Duration interval = RateLimiter::kPacingWindow / kTencentRate;  // 5.11 ms.
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  FakeClock clock(t0);
  RateLimiter limiter(kTencentRate, RateLimiter::DefaultBurst(kTencentRate), clock);
  const absl::Time stall_at = t0 + absl::Milliseconds(2500);
  bool stalled = false;
  std::vector<absl::Time> sends;
  while (clock.Now() < t0 + absl::Seconds(6)) {
    if (!stalled && clock.Now() >= stall_at) {
      clock.Advance(absl::Milliseconds(50));
      stalled = true;
    }
    const std::optional<absl::Duration> wait = limiter.Reserve(absl::InfiniteDuration());
    ASSERT_TRUE(wait.has_value());
    clock.Advance(*wait);
    for (absl::Duration held = limiter.ClaimSendSlot(); held > absl::ZeroDuration(); held = limiter.ClaimSendSlot()) {
      clock.Advance(held);
    }
    sends.push_back(clock.Now());
  }
  // The gaps a window after the start and after the stall, and everywhere else but the stall itself.
  absl::Duration longest = absl::ZeroDuration();
  for (size_t i = 1; i < sends.size(); ++i) {
    if (sends[i - 1] >= stall_at - interval && sends[i] <= stall_at + absl::Milliseconds(60)) continue;
    longest = std::max(longest, sends[i] - sends[i - 1]);
  }
  EXPECT_LE(longest, 3 * interval) << "calls: " << sends.size();
  // And the burst still lets the sender use its budget: 200 per kPacingWindow, less the 50 ms it stalled.
  EXPECT_GE(static_cast<int64_t>(sends.size()),
            static_cast<int64_t>(6 * kTencentRate * absl::Seconds(1) / RateLimiter::kPacingWindow) - 12);
}

TEST(RateLimiterTest, DefaultBurstCoversTenMillisecondsOfCallsAndAtLeastTwo) {
  EXPECT_EQ(RateLimiter::DefaultBurst(200), 2);
  EXPECT_EQ(RateLimiter::DefaultBurst(2000), 20);
  EXPECT_EQ(RateLimiter::DefaultBurst(50), 2);
  EXPECT_EQ(RateLimiter::DefaultBurst(1), 2);
}

TEST(RateLimiterTest, WindowWaitSaysWhenTheOldestSendLeavesTheWindow) {
  FakeClock clock;
  RateLimiter limiter(kRate, kBurst, clock);
  for (int i = 0; i < static_cast<int>(kRate); ++i) {
    ASSERT_EQ(limiter.ClaimSendSlot(), absl::ZeroDuration());
    clock.Advance(absl::Milliseconds(10));
  }
  // The first send was 100 ms ago: the window frees up kWindow after it.
  EXPECT_EQ(limiter.ClaimSendSlot(), RateLimiter::kWindow - absl::Milliseconds(100));
  EXPECT_GE(limiter.EstimatedWait(), RateLimiter::kWindow - absl::Milliseconds(100));
  clock.Advance(RateLimiter::kWindow - absl::Milliseconds(100));
  EXPECT_EQ(limiter.ClaimSendSlot(), absl::ZeroDuration());
}

}  // namespace
}  // namespace portrait_bridge

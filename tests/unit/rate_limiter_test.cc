#include "bridge/core/rate_limiter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>
#include <vector>

#include "tests/unit/fake_clock.h"

namespace portrait_bridge {
namespace {

constexpr double kRate = 10;  // One token every 100 ms.
constexpr int64_t kBurst = 5;
constexpr absl::Duration kInterval = absl::Milliseconds(100);

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

// Callers reserve continuously, far faster than the budget, for 10 simulated seconds. A token bucket of `burst`
// tokens earning `rate` per second lets at most burst + ceil(rate * L) - 1 calls start in any half-open window
// [t, t + L): a full bucket at t, then one call per interval at t + interval, ..., all before t + L. With rate 10/s,
// burst 5 and L = 1 s that is 5 + 10 - 1 = 14, and a saturated limiter reaches it.
TEST(RateLimiterTest, StartsInAnyOneSecondWindowNeverExceedTheBucketBound) {
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

  const int64_t bound = kBurst + static_cast<int64_t>(kRate) - 1;
  int64_t max_in_window = 0;
  size_t end = 0;
  // The busiest window can always be slid to begin at a start time.
  for (size_t begin = 0; begin < starts.size(); ++begin) {
    end = std::max(end, begin);
    while (end < starts.size() && starts[end] < starts[begin] + absl::Seconds(1)) ++end;
    max_in_window = std::max<int64_t>(max_in_window, static_cast<int64_t>(end - begin));
  }
  EXPECT_LE(max_in_window, bound);
  EXPECT_EQ(max_in_window, bound) << "a saturated limiter should use its whole budget";

  // Over the whole run the limiter neither over- nor under-serves: a full bucket, then one call per interval.
  const auto started_before_10s =
      std::count_if(starts.begin(), starts.end(), [&](absl::Time start) { return start < t0 + absl::Seconds(10); });
  EXPECT_EQ(started_before_10s, kBurst + 10 * static_cast<int64_t>(kRate) - 1);
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
  EXPECT_EQ(limiter.EstimatedWait(), absl::Milliseconds(50));
  EXPECT_EQ(limiter.Reserve(absl::InfiniteDuration()), absl::Milliseconds(50));
}

}  // namespace
}  // namespace portrait_bridge

#include "bridge/sandbox/rate_limiter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace portrait_bridge::sandbox {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1700000000);

TEST(SlidingWindowLimiterTest, AdmitsUpToTheLimitWithinOneSecond) {
  SlidingWindowLimiter limiter(2);
  EXPECT_TRUE(limiter.Admit(kStart));
  EXPECT_TRUE(limiter.Admit(kStart + absl::Milliseconds(500)));
  EXPECT_FALSE(limiter.Admit(kStart + absl::Milliseconds(999)));
  EXPECT_TRUE(limiter.Admit(kStart + absl::Seconds(1)));  // The first admission left the window.
  EXPECT_FALSE(limiter.Admit(kStart + absl::Milliseconds(1400)));
  EXPECT_TRUE(limiter.Admit(kStart + absl::Milliseconds(1500)));
}

TEST(SlidingWindowLimiterTest, RejectedCallsDoNotExtendTheWindow) {
  SlidingWindowLimiter limiter(1);
  EXPECT_TRUE(limiter.Admit(kStart));
  for (int i = 1; i < 10; ++i) EXPECT_FALSE(limiter.Admit(kStart + absl::Milliseconds(100 * i)));
  EXPECT_TRUE(limiter.Admit(kStart + absl::Seconds(1)));
}

TEST(SlidingWindowLimiterTest, ZeroMeansUnlimited) {
  SlidingWindowLimiter limiter(0);
  for (int i = 0; i < 10000; ++i) EXPECT_TRUE(limiter.Admit(kStart));
}

// The window is (t - L, t]: an admission counts up to L - 1ns after it and no longer at exactly L.
TEST(SlidingWindowLimiterTest, AnAdmissionLeavesTheWindowExactlyOneWindowLater) {
  const absl::Duration window = absl::Milliseconds(1050);
  SlidingWindowLimiter limiter(1, window);
  ASSERT_TRUE(limiter.Admit(kStart));
  EXPECT_FALSE(limiter.Admit(kStart + window - absl::Nanoseconds(1)));
  EXPECT_TRUE(limiter.Admit(kStart + window));
  EXPECT_FALSE(limiter.Admit(kStart + 2 * window - absl::Nanoseconds(1)));
  EXPECT_TRUE(limiter.Admit(kStart + 2 * window));
}

TEST(SlidingWindowLimiterTest, AdmissionsResumeExactlyWhenTheOldestLeaves) {
  const absl::Duration window = absl::Milliseconds(250);
  SlidingWindowLimiter limiter(3, window);
  for (int ms : {0, 10, 20}) ASSERT_TRUE(limiter.Admit(kStart + absl::Milliseconds(ms)));
  EXPECT_FALSE(limiter.Admit(kStart + absl::Milliseconds(249)));
  EXPECT_TRUE(limiter.Admit(kStart + window));  // 0 left; 10, 20 and this one are in.
  EXPECT_FALSE(limiter.Admit(kStart + window + absl::Milliseconds(9)));
  EXPECT_TRUE(limiter.Admit(kStart + window + absl::Milliseconds(10)));  // 10 left.
  EXPECT_FALSE(limiter.Admit(kStart + window + absl::Milliseconds(19)));
  EXPECT_TRUE(limiter.Admit(kStart + window + absl::Milliseconds(20)));
}

TEST(SlidingWindowLimiterTest, ALateArrivalMayNotOverfillALaterWindow) {
  // Arrivals reach the limiter out of order when HTTP threads race for its lock.
  const absl::Duration window = absl::Seconds(1);
  SlidingWindowLimiter limiter(2, window);
  ASSERT_TRUE(limiter.Admit(kStart + absl::Milliseconds(500)));
  ASSERT_TRUE(limiter.Admit(kStart + absl::Milliseconds(1450)));
  // (450 ms, 1450 ms] would hold 460, 500 and 1450.
  EXPECT_FALSE(limiter.Admit(kStart + absl::Milliseconds(460)));
  // Every window holding 450 ends before 1450, so none of them holds 1450 as well.
  EXPECT_TRUE(limiter.Admit(kStart + absl::Milliseconds(450)));
}

TEST(SlidingWindowLimiterTest, AnArrivalOlderThanTheNewestByAWindowIsRefused) {
  SlidingWindowLimiter limiter(10, absl::Seconds(1));
  ASSERT_TRUE(limiter.Admit(kStart + absl::Seconds(5)));
  EXPECT_TRUE(limiter.Admit(kStart + absl::Seconds(4)));  // Exactly one window older: still judged.
  EXPECT_FALSE(limiter.Admit(kStart + absl::Seconds(4) - absl::Nanoseconds(1)));
}

// Brute force: the largest number of `admitted` in any window (s, s + L]. A window can slide right until its end
// meets its newest member without losing one, so windows ending at an admission cover every case.
int MaxAdmittedInAnyWindow(const std::vector<absl::Time>& admitted, absl::Duration window) {
  int best = 0;
  for (absl::Time end : admitted) {
    const int count = static_cast<int>(
        std::count_if(admitted.begin(), admitted.end(), [&](absl::Time t) { return t > end - window && t <= end; }));
    best = std::max(best, count);
  }
  return best;
}

// Brute force: whether `arrival` may be admitted next to `admitted`, by trying the start of every window that
// holds it. The count of (s, s + L] changes only where s crosses an admission or an admission minus L.
bool ReferenceAdmits(const std::vector<absl::Time>& admitted, absl::Time arrival, int limit, absl::Duration window) {
  std::vector<absl::Time> starts = {arrival - window};
  for (absl::Time t : admitted) {
    for (absl::Time s : {t, t - window}) {
      if (s >= arrival - window && s < arrival) starts.push_back(s);
    }
  }
  for (absl::Time s : starts) {
    const int count = static_cast<int>(
        std::count_if(admitted.begin(), admitted.end(), [&](absl::Time t) { return t > s && t <= s + window; }));
    if (count + 1 > limit) return false;
  }
  return true;
}

// Arrivals in bursts and gaps, on a microsecond grid, with duplicates and gaps of exactly one window so the
// boundary is exercised.
std::vector<absl::Time> RandomArrivals(std::mt19937& rng, absl::Duration window, int count) {
  const int64_t window_us = absl::ToInt64Microseconds(window);
  std::uniform_int_distribution<int> kind(0, 9);
  std::uniform_int_distribution<int64_t> small(0, window_us / 10);
  std::uniform_int_distribution<int64_t> large(0, 2 * window_us);
  std::vector<absl::Time> arrivals;
  absl::Time t = kStart;
  for (int i = 0; i < count; ++i) {
    const int k = kind(rng);
    if (k == 1) {
      t += window;  // Exactly one window.
    } else if (k == 2) {
      t += absl::Microseconds(large(rng));  // A pause.
    } else if (k > 2) {
      t += absl::Microseconds(small(rng));  // A burst; k == 0 repeats the same instant.
    }
    arrivals.push_back(t);
  }
  return arrivals;
}

TEST(SlidingWindowLimiterTest, RandomInOrderArrivalsNeverOverfillAWindowAndRefuseOnlyWhenFull) {
  std::mt19937 rng(20240801);
  int refused_total = 0;
  for (int round = 0; round < 200; ++round) {
    const int limit = std::uniform_int_distribution<int>(1, 8)(rng);
    const absl::Duration window = absl::Milliseconds(std::uniform_int_distribution<int>(1, 2000)(rng));
    SlidingWindowLimiter limiter(limit, window);
    std::vector<absl::Time> admitted;
    std::vector<absl::Time> refused;
    for (absl::Time t : RandomArrivals(rng, window, 150)) (limiter.Admit(t) ? admitted : refused).push_back(t);

    ASSERT_LE(MaxAdmittedInAnyWindow(admitted, window), limit) << "round " << round;
    // Not stricter than needed: each refusal found its window (t - L, t] full. Arrivals are in order, so later
    // admissions cannot fall inside it.
    for (absl::Time t : refused) {
      const auto in_window =
          std::count_if(admitted.begin(), admitted.end(), [&](absl::Time a) { return a > t - window && a <= t; });
      ASSERT_EQ(in_window, limit) << "round " << round << ", refused at " << t;
    }
    refused_total += static_cast<int>(refused.size());
  }
  EXPECT_GT(refused_total, 1000);  // The sequences did press against the limit.
}

TEST(SlidingWindowLimiterTest, RandomShuffledArrivalsDecideLikeTheBruteForce) {
  std::mt19937 rng(7);
  int refused_total = 0;
  for (int round = 0; round < 200; ++round) {
    const int limit = std::uniform_int_distribution<int>(1, 6)(rng);
    const absl::Duration window = absl::Milliseconds(std::uniform_int_distribution<int>(1, 1500)(rng));
    std::vector<absl::Time> arrivals = RandomArrivals(rng, window, 120);
    // Reorder neighbours less than half a window apart, as racing threads do; nothing becomes stale.
    for (size_t i = 0; i + 1 < arrivals.size(); ++i) {
      if (rng() % 3 == 0 && arrivals[i + 1] - arrivals[i] < window / 2) std::swap(arrivals[i], arrivals[i + 1]);
    }
    SlidingWindowLimiter limiter(limit, window);
    std::vector<absl::Time> admitted;
    for (absl::Time t : arrivals) {
      const bool expected = ReferenceAdmits(admitted, t, limit, window);
      ASSERT_EQ(limiter.Admit(t), expected) << "round " << round << ", arrival " << t;
      if (expected) {
        admitted.push_back(t);
      } else {
        ++refused_total;
      }
    }
    ASSERT_LE(MaxAdmittedInAnyWindow(admitted, window), limit) << "round " << round;
  }
  EXPECT_GT(refused_total, 1000);
}

}  // namespace
}  // namespace portrait_bridge::sandbox

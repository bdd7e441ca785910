#include "bridge/core/retry_policy.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

namespace portrait_bridge {
namespace {

constexpr absl::Duration kInitial = absl::Milliseconds(50);
constexpr absl::Duration kMax = absl::Seconds(1);

TEST(BackoffBoundTest, DoublesFromTheInitialBackoffUpToTheMaximum) {
  EXPECT_EQ(BackoffBound(1, kInitial, kMax), absl::Milliseconds(50));
  EXPECT_EQ(BackoffBound(2, kInitial, kMax), absl::Milliseconds(100));
  EXPECT_EQ(BackoffBound(3, kInitial, kMax), absl::Milliseconds(200));
  EXPECT_EQ(BackoffBound(4, kInitial, kMax), absl::Milliseconds(400));
  EXPECT_EQ(BackoffBound(5, kInitial, kMax), absl::Milliseconds(800));
  EXPECT_EQ(BackoffBound(6, kInitial, kMax), kMax);
  EXPECT_EQ(BackoffBound(7, kInitial, kMax), kMax);
}

TEST(BackoffBoundTest, LargeRetryNumbersNeitherOverflowNorExceedTheMaximum) {
  EXPECT_EQ(BackoffBound(1000, kInitial, kMax), kMax);
  EXPECT_EQ(BackoffBound(1 << 30, absl::Nanoseconds(1), absl::Hours(1)), absl::Hours(1));
}

TEST(BackoffBoundTest, TheMaximumCapsEvenTheFirstRetryAndNothingIsNegative) {
  EXPECT_EQ(BackoffBound(1, absl::Seconds(5), kMax), kMax);
  EXPECT_EQ(BackoffBound(0, kInitial, kMax), kInitial);
  EXPECT_EQ(BackoffBound(1, absl::ZeroDuration(), kMax), absl::ZeroDuration());
  EXPECT_EQ(BackoffBound(3, kInitial, absl::ZeroDuration()), absl::ZeroDuration());
}

TEST(FullJitterTest, DrawsStayWithinZeroAndTheBoundAndSpreadOverIt) {
  std::mt19937 random(42);
  for (int retry = 1; retry <= 8; ++retry) {
    const absl::Duration bound = BackoffBound(retry, kInitial, kMax);
    absl::Duration sum = absl::ZeroDuration();
    absl::Duration low = absl::InfiniteDuration();
    absl::Duration high = absl::ZeroDuration();
    constexpr int kDraws = 10000;
    for (int i = 0; i < kDraws; ++i) {
      const absl::Duration d = FullJitter(bound, random);
      ASSERT_GE(d, absl::ZeroDuration()) << "retry " << retry;
      ASSERT_LE(d, bound) << "retry " << retry;
      sum += d;
      low = std::min(low, d);
      high = std::max(high, d);
    }
    // Uniform over [0, bound]: the mean is near bound / 2 and the draws reach both ends.
    EXPECT_NEAR(absl::FDivDuration(sum / kDraws, bound), 0.5, 0.02) << "retry " << retry;
    EXPECT_LT(low, bound / 100) << "retry " << retry;
    EXPECT_GT(high, bound * 99 / 100) << "retry " << retry;
  }
}

TEST(FullJitterTest, AZeroBoundGivesZero) {
  std::mt19937 random(1);
  EXPECT_EQ(FullJitter(absl::ZeroDuration(), random), absl::ZeroDuration());
  EXPECT_EQ(FullJitter(-absl::Seconds(1), random), absl::ZeroDuration());
}

TEST(RetryBudgetTest, StartsFullAtItsCapacity) {
  RetryBudget budget(0.2);
  EXPECT_EQ(budget.capacity(), 20);
  EXPECT_EQ(budget.tokens(), 20);
  EXPECT_EQ(RetryBudget(0.01).capacity(), 10) << "at least ten tokens, so a fresh process can absorb a blip";
}

TEST(RetryBudgetTest, ARatioOfZeroNeverAllowsARetry) {
  RetryBudget budget(0);
  EXPECT_EQ(budget.capacity(), 0);
  for (int i = 0; i < 1000; ++i) budget.OnFirstAttempt();
  EXPECT_FALSE(budget.TrySpend());
}

TEST(RetryBudgetTest, OnceDrainedEachFirstAttemptEarnsRatioOfARetry) {
  RetryBudget budget(0.2);
  int spent = 0;
  while (budget.TrySpend()) ++spent;
  EXPECT_EQ(spent, 20);
  for (int i = 0; i < 4; ++i) {
    budget.OnFirstAttempt();
    EXPECT_FALSE(budget.TrySpend()) << "after " << i + 1 << " first attempts";
  }
  budget.OnFirstAttempt();  // The fifth: 5 * 0.2 = one token.
  EXPECT_TRUE(budget.TrySpend());
  EXPECT_FALSE(budget.TrySpend());
}

TEST(RetryBudgetTest, DepositsStopAtTheCapacity) {
  RetryBudget budget(0.5);
  for (int i = 0; i < 10000; ++i) budget.OnFirstAttempt();
  EXPECT_EQ(budget.tokens(), budget.capacity());
}

// The property the budget exists for: whatever the mix of first attempts and failures, retries never exceed
// ratio * first attempts + capacity.
TEST(RetryBudgetTest, RetriesNeverExceedRatioTimesFirstAttemptsPlusTheCapacity) {
  for (const double ratio : {0.0, 0.1, 0.2, 1.0}) {
    RetryBudget budget(ratio);
    std::mt19937 random(7);
    std::bernoulli_distribution fails(0.9);
    int64_t first_attempts = 0;
    int64_t retries = 0;
    for (int call = 0; call < 5000; ++call) {
      budget.OnFirstAttempt();
      ++first_attempts;
      // Each failing call wants up to two retries (three attempts).
      for (int attempt = 1; attempt < 3 && fails(random); ++attempt) {
        if (!budget.TrySpend()) break;
        ++retries;
      }
      ASSERT_LE(retries, ratio * first_attempts + budget.capacity() + 1e-6) << "ratio " << ratio;
    }
  }
}

TEST(RetryBudgetTest, ConcurrentSpendersNeverTakeMoreThanThereIs) {
  RetryBudget budget(0.2);
  std::vector<std::thread> threads;
  std::atomic<int> spent{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (budget.TrySpend()) ++spent;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(spent.load(), 20);
}

}  // namespace
}  // namespace portrait_bridge

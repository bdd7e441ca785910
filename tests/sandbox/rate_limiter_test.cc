#include "bridge/sandbox/rate_limiter.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace portrait_bridge::sandbox

// SharedBudget against a real redis-server the test starts: what it promises around a hand-over to its local
// fallback. Times are the system clock's; the checks compare promised send times, and the only waits are for
// Redis's connection to come up or go down.

#include "bridge/service/shared_budget.h"

#include <memory>
#include <optional>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "bridge/core/redis_url.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"

namespace portrait_bridge {
namespace {

using ::portrait_bridge::testing::RedisServer;

constexpr uint64_t kSdkAppId = 1400000000;

RedisOptions RedisAt(const RedisServer& redis) {
  RedisOptions options;
  options.address = *ParseRedisUrl(redis.url());
  options.timeout = absl::Seconds(2);  // A loaded test machine must not pass for a Redis failure.
  return options;
}

SharedBudgetOptions AppBudget() {
  SharedBudgetOptions options;
  options.sdkappid = kSdkAppId;
  options.calls_per_second = 200;
  options.burst = 10;
  options.fallback_calls_per_second = 66;
  return options;
}

// Acquire, waiting for the answer (a shared budget answers on its Redis thread).
BudgetAnswer AcquireNow(Budget& budget, absl::Duration max_wait) {
  absl::Notification answered;
  BudgetAnswer result;
  budget.Acquire(max_wait, [&](BudgetAnswer answer) {
    result = std::move(answer);
    answered.Notify();
  });
  answered.WaitForNotification();
  return result;
}

// The Redis client connects in the background; until then the fallback answers, and a bridge back from its
// fallback waits out the fallback's promises before its first shared send. Asks (a slot each, of either mode)
// until one is granted at once through Redis.
void WaitUntilShared(SharedBudget& budget) {
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (absl::Now() < give_up) {
    const BudgetAnswer answer = AcquireNow(budget, absl::ZeroDuration());
    if (answer.grant.has_value() && answer.grant->shared) return;
    absl::SleepFor(absl::Milliseconds(20));
  }
  FAIL() << "never granted a slot through Redis";
}

// A busy bridge plans well ahead of what a quiet one last heard from Redis. When Redis goes away, the busy one's
// planned slots are not used, and the quiet one's fallback starts a window after it found Redis gone.
TEST(SharedBudgetTest, NoSharedSlotIsUsedOnceRedisIsGoneAndTheFallbackWaitsAWindow) {
  RedisServer redis;
  const SystemClock clock;
  SharedBudget quiet(RedisAt(redis), clock, AppBudget());
  SharedBudget busy(RedisAt(redis), clock, AppBudget());
  WaitUntilShared(quiet);
  WaitUntilShared(busy);

  // 150 calls at once: the last ones are planned three quarters of a second ahead.
  std::optional<BudgetGrant> last_grant;
  for (int i = 0; i < 150; ++i) {
    const BudgetAnswer answer = AcquireNow(busy, absl::Seconds(10));
    ASSERT_TRUE(answer.grant.has_value() && answer.grant->shared) << "call " << i;
    last_grant = answer.grant;
  }
  ASSERT_GT(last_grant->send_at - clock.Now(), absl::Milliseconds(500));
  EXPECT_EQ(busy.ClaimAtSocket(*last_grant), std::nullopt) << "Redis up: a planned slot is used";

  redis.Stop();
  // The busy bridge's connection drops with Redis; from then on its planned slots are refused at the socket.
  const absl::Time give_up = clock.Now() + absl::Seconds(10);
  while (busy.ClaimAtSocket(*last_grant) == std::nullopt && clock.Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  const absl::Time shared_sends_ended = clock.Now();
  EXPECT_EQ(busy.ClaimAtSocket(*last_grant), absl::ZeroDuration()) << "a slot planned before Redis went away";

  // The quiet bridge's next ask finds Redis gone and is answered by its fallback: a grant, or "ask again".
  const BudgetAnswer answer = AcquireNow(quiet, absl::Seconds(10));
  ASSERT_TRUE(answer.grant.has_value() || answer.ask_again_after.has_value());
  EXPECT_FALSE(answer.grant.has_value() && answer.grant->shared);
  const absl::Time first_fallback_send =
      answer.grant.has_value() ? answer.grant->send_at : clock.Now() + quiet.EstimatedWait();
  EXPECT_EQ(quiet.EffectiveCallsPerSecond(), AppBudget().fallback_calls_per_second) << "on the fallback";
  EXPECT_GE(first_fallback_send - shared_sends_ended, RateLimiter::kWindow)
      << "the last shared send and the first fallback send share a window";
}

}  // namespace
}  // namespace portrait_bridge

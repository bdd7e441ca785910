// SharedBudget against a real redis-server the test starts: what it promises around a hand-over to its local
// fallback. Times are the system clock's; the checks compare promised send times, and the only waits are for
// Redis's connection to come up or go down.

#include "bridge/service/shared_budget.h"

#include <algorithm>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "bridge/core/redis_url.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"
#include "tests/unit/fake_clock.h"

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

// A bridge whose first calls come before its Redis connection is up (a start-up) waits for it instead of answering
// them from its fallback: a fallback send would cost it a rejoin wait of over a second once Redis answers.
TEST(SharedBudgetTest, CallsBeforeTheFirstConnectionWaitForItInsteadOfFallingBack) {
  RedisServer redis;
  redis.Pause();  // The connection is accepted and its handshake goes unanswered.
  const SystemClock clock;
  SharedBudget budget(RedisAt(redis), clock, AppBudget());
  const BudgetAnswer early = AcquireNow(budget, absl::Seconds(10));
  EXPECT_FALSE(early.grant.has_value()) << "a slot before Redis answered";
  ASSERT_TRUE(early.ask_again_after.has_value());
  EXPECT_LE(*early.ask_again_after, absl::Milliseconds(10)) << "the wait ends when the connection is up";
  redis.Resume();

  // Asks again as the upstream client does, until granted.
  std::optional<BudgetGrant> grant;
  const absl::Time give_up = clock.Now() + absl::Seconds(10);
  while (!grant.has_value() && clock.Now() < give_up) {
    const BudgetAnswer answer = AcquireNow(budget, absl::Seconds(10));
    grant = answer.grant;
    if (answer.ask_again_after.has_value()) absl::SleepFor(*answer.ask_again_after);
  }
  ASSERT_TRUE(grant.has_value());
  EXPECT_TRUE(grant->shared) << "answered by the fallback";
  EXPECT_LT(grant->send_at - clock.Now(), absl::Milliseconds(100)) << "a rejoin wait after the start-up";
}

// ... but not for longer than the wait a rejoin would cost: then the fallback answers.
TEST(SharedBudgetTest, WithoutAFirstConnectionTheFallbackAnswersAfterTheGrace) {
  RedisServer redis;
  redis.Stop();  // Nothing listens on its port.
  FakeClock clock;
  SharedBudget budget(RedisAt(redis), clock, AppBudget());
  EXPECT_FALSE(AcquireNow(budget, absl::Seconds(10)).grant.has_value()) << "no wait for the connection";
  clock.Advance(SharedBudget::kFirstConnectionGrace - absl::Milliseconds(1));
  EXPECT_FALSE(AcquireNow(budget, absl::Seconds(10)).grant.has_value()) << "the wait ended early";
  clock.Advance(absl::Milliseconds(1));
  const BudgetAnswer answer = AcquireNow(budget, absl::Seconds(10));
  ASSERT_TRUE(answer.grant.has_value()) << "no fallback after the grace";
  EXPECT_FALSE(answer.grant->shared);
}

// The ids of the clients connected to `redis`, but for the connection asking.
std::set<int64_t> ClientIds(const RedisServer& redis) {
  const RedisServer::Reply list = redis.Command({"CLIENT", "LIST"});
  std::set<int64_t> ids;
  for (absl::string_view line : absl::StrSplit(list.str, '\n', absl::SkipWhitespace())) {
    if (absl::StrContains(line, "cmd=client")) continue;
    absl::string_view id_field = line.substr(0, line.find(' '));
    int64_t id = 0;
    if (absl::ConsumePrefix(&id_field, "id=") && absl::SimpleAtoi(id_field, &id)) ids.insert(id);
  }
  return ids;
}

// A bridge back from its fallback waits out its fallback's promises before its first shared send, and only its own
// calls wait: the other bridges' calls are planned as before. (A rejoin used to reserve its first slot that far ahead
// in Redis, moving the app-wide pacing: every bridge's calls stopped for about 1.2 s.)
TEST(SharedBudgetTest, ABridgeRejoiningAfterItsFallbackHoldsBackOnlyItsOwnCalls) {
  RedisServer redis;
  const SystemClock clock;
  SharedBudget steady(RedisAt(redis), clock, AppBudget());
  WaitUntilShared(steady);
  const std::set<int64_t> steady_connections = ClientIds(redis);
  RedisOptions rejoining_redis = RedisAt(redis);
  rejoining_redis.reconnect_interval = absl::Milliseconds(100);
  SharedBudget rejoining(rejoining_redis, clock, AppBudget());
  WaitUntilShared(rejoining);
  std::vector<int64_t> its_connection;
  const std::set<int64_t> all_connections = ClientIds(redis);
  std::set_difference(all_connections.begin(), all_connections.end(), steady_connections.begin(),
                      steady_connections.end(), std::back_inserter(its_connection));
  ASSERT_EQ(its_connection.size(), 1u);
  redis.Command({"CLIENT", "KILL", "ID", absl::StrCat(its_connection[0])});

  // Its fallback answers until the connection is back ("ask again": the fallback holds a window after Redis went
  // away, and never asks for longer than that). The first ask after that starts the rejoin.
  const BudgetAnswer first = AcquireNow(rejoining, absl::Seconds(10));
  ASSERT_FALSE(first.grant.has_value() && first.grant->shared) << "a shared slot on a lost connection";
  BudgetAnswer answer;
  const absl::Time give_up = clock.Now() + absl::Seconds(10);
  while (clock.Now() < give_up) {
    answer = AcquireNow(rejoining, absl::Seconds(10));
    if (answer.grant.has_value() && answer.grant->shared) break;
    if (answer.ask_again_after.has_value() && *answer.ask_again_after > SharedBudget::kPlanWindow) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  const absl::Time rejoined = clock.Now();
  ASSERT_TRUE(answer.grant.has_value() || answer.ask_again_after.has_value()) << "never back on Redis";
  const absl::Time first_shared_send =
      answer.grant.has_value() ? answer.grant->send_at : rejoined + *answer.ask_again_after;
  EXPECT_GE(first_shared_send - rejoined, SharedBudget::kFallbackHorizon + RateLimiter::kWindow)
      << "the fallback's last promise and the first shared send share a window";
  EXPECT_GE(rejoining.EstimatedWait(), SharedBudget::kFallbackHorizon) << "the wait is known to the coalescer";

  const BudgetAnswer steady_answer = AcquireNow(steady, absl::Seconds(10));
  ASSERT_TRUE(steady_answer.grant.has_value() && steady_answer.grant->shared);
  EXPECT_LT(steady_answer.grant->send_at - clock.Now(), absl::Milliseconds(100))
      << "another bridge's rejoin held back this bridge's call";

  absl::SleepFor(first_shared_send - clock.Now());
  const BudgetAnswer after_the_wait = AcquireNow(rejoining, absl::Seconds(10));
  ASSERT_TRUE(after_the_wait.grant.has_value());
  EXPECT_TRUE(after_the_wait.grant->shared) << "back on the shared budget once the wait is over";
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

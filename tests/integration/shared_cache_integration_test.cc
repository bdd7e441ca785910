// The shared profile cache against real processes: redis-server, the sandbox upstream and two bridges, each
// started on a free loopback port. Also the Redis KeyValueStore on its own against a real redis-server.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bridge/core/redis_url.h"
#include "bridge/service/shared_cache_fetcher.h"
#include "bridge/transport/redis_client.h"
#include "tests/integration/stack.h"
#include "tests/support/redis_server.h"

namespace portrait_bridge::testing {
namespace {

const std::vector<std::string> kTags = {"Tag_Profile_IM_Nick", "Tag_Profile_IM_BirthDay", "Tag_Profile_IM_Gender"};
constexpr uint64_t kAppId = 1400000000;
// Generous: on a loaded 2-core machine a Redis reply that misses it would turn an expected hit into a miss.
constexpr int kRedisTimeoutMs = 1000;

// Per account: how often it was answered, and the last answer as text.
struct Answers {
  std::map<std::string, int> counts;
  std::map<std::string, std::string> results;
};

// Asks `bridge` for `accounts` on one stream, 100 per request, and checks that each is answered exactly once.
Answers FetchAll(const Bridge& bridge, const std::vector<std::string>& accounts) {
  std::vector<v1::GetProfilesRequest> requests;
  for (size_t i = 0; i < accounts.size(); i += 100) {
    requests.push_back(MakeRequest(
        std::vector<std::string>(accounts.begin() + i, accounts.begin() + std::min(i + 100, accounts.size())), kTags));
  }
  const StreamOutcome outcome = RunStream(*bridge.NewChannel(), requests);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  Answers answers;
  for (const auto& [index, results] : outcome.results_by_request) {
    for (const v1::AccountResult& result : results) {
      ++answers.counts[result.account()];
      answers.results[result.account()] = result.ShortDebugString();
    }
  }
  std::map<std::string, int> expected;
  for (const std::string& account : accounts) expected[account] = 1;
  EXPECT_EQ(answers.counts, expected) << "every account answered exactly once";
  return answers;
}

std::vector<std::string> BridgeFlags(const RedisServer& redis) {
  return {"--cache_ttl_ms=60000", "--cache_negative_ttl_ms=60000", "--cache_redis_url=" + redis.url(),
          "--redis_timeout_ms=" + std::to_string(kRedisTimeoutMs)};
}

int SandboxAccounts(Sandbox& sandbox) { return sandbox.Stats()["accounts"].get<int>(); }
int SandboxCalls(Sandbox& sandbox) { return sandbox.Stats()["calls"].get<int>(); }

int64_t KeysInRedis(const RedisServer& redis) { return redis.Command({"DBSIZE"}).integer; }

TEST(SharedCacheIntegrationTest, ASecondBridgeIsServedFromRedisAndFallsBackToUpstreamWithoutIt) {
  RedisServer redis;
  Sandbox sandbox;
  Bridge bridge_a(sandbox.base_url(), BridgeFlags(redis));
  Bridge bridge_b(sandbox.base_url(), BridgeFlags(redis));

  std::vector<std::string> accounts = Users(0, 500);
  for (const char* unknown : {"nobody-1", "nobody-2", "nobody-3"}) accounts.push_back(unknown);

  const Answers from_a = FetchAll(bridge_a, accounts);
  const int calls_after_a = SandboxCalls(sandbox);
  const int accounts_after_a = SandboxAccounts(sandbox);
  EXPECT_EQ(accounts_after_a, static_cast<int>(accounts.size()));
  // Write-backs are fire-and-forget: wait for them to land rather than racing bridge B against them.
  const int64_t expected_keys = 500 * static_cast<int64_t>(kTags.size()) + 3;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (KeysInRedis(redis) < expected_keys && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(KeysInRedis(redis), expected_keys);

  const Answers from_b = FetchAll(bridge_b, accounts);
  EXPECT_EQ(SandboxCalls(sandbox), calls_after_a) << "bridge B asked upstream although Redis had every answer";
  EXPECT_EQ(SandboxAccounts(sandbox), accounts_after_a);
  EXPECT_EQ(from_b.results, from_a.results) << "answers from Redis differ from upstream's";
  EXPECT_THAT(from_b.results.at("nobody-2"), ::testing::HasSubstr("tencent_code: 40003"));

  // Without Redis, B asks upstream for what neither cache holds, and answers each account once.
  redis.Stop();
  const std::vector<std::string> fresh = Users(1000, 500);
  const Answers without_redis = FetchAll(bridge_b, fresh);
  EXPECT_EQ(SandboxAccounts(sandbox), accounts_after_a + 500);
  for (const auto& [account, result] : without_redis.results) {
    EXPECT_THAT(result, ::testing::HasSubstr("Tag_Profile_IM_Nick")) << account;
  }
  // What B already had in its local tier is still served, without upstream.
  const int accounts_before_local = SandboxAccounts(sandbox);
  FetchAll(bridge_b, Users(0, 100));
  EXPECT_EQ(SandboxAccounts(sandbox), accounts_before_local);
}

TEST(SharedCacheIntegrationTest, AHungRedisCostsTheTimeoutNotTheAnswer) {
  RedisServer redis;
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url(),
                {"--cache_ttl_ms=60000", "--cache_redis_url=" + redis.url(), "--redis_timeout_ms=100"});
  FetchAll(bridge, Users(0, 10));  // Connected and warm.

  redis.Pause();
  const auto started = std::chrono::steady_clock::now();
  FetchAll(bridge, Users(100, 300));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_LT(elapsed, std::chrono::seconds(10));
  EXPECT_EQ(SandboxAccounts(sandbox), 310);
  redis.Resume();
}

TEST(SharedCacheIntegrationTest, BridgesShareAgainAfterRedisRestarts) {
  RedisServer redis;
  Sandbox sandbox;
  Bridge bridge_a(sandbox.base_url(), BridgeFlags(redis));
  Bridge bridge_b(sandbox.base_url(), BridgeFlags(redis));
  redis.Restart();  // Empty, same port: both bridges must reconnect by themselves.

  // A's write-backs land once A has reconnected; each round asks for an account no cache has seen.
  int next = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (KeysInRedis(redis) == 0 && std::chrono::steady_clock::now() < deadline) {
    FetchAll(bridge_a, Users(next++, 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(KeysInRedis(redis), 0) << "bridge A never wrote to the restarted Redis";

  // B may still be reconnecting: its lookups then miss, so retry with fresh accounts that A writes first.
  bool served_from_redis = false;
  for (int round = 0; round < 100 && !served_from_redis; ++round) {
    const std::string account = "user" + std::to_string(50000 + round);
    FetchAll(bridge_a, {account});
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // The write-back lands.
    const int before = SandboxAccounts(sandbox);
    FetchAll(bridge_b, {account});
    served_from_redis = SandboxAccounts(sandbox) == before;
  }
  EXPECT_TRUE(served_from_redis) << "bridge B never read from the restarted Redis";
}

TEST(SharedCacheIntegrationTest, ValuesAreCompactProtobufWithTheConfiguredTtls) {
  RedisServer redis;
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url(),
                {"--cache_ttl_ms=60000", "--cache_negative_ttl_ms=5000", "--cache_redis_url=" + redis.url()});
  FetchAll(bridge, {"alice", "nobody-here"});
  const std::string nick_key = SharedCacheFetcher::ProfileKey(kAppId, "Tag_Profile_IM_Nick", "alice");
  const std::string negative_key = SharedCacheFetcher::NegativeKey(kAppId, "nobody-here");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (KeysInRedis(redis) < 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  const RedisServer::Reply nick = redis.Command({"GET", nick_key});
  ASSERT_EQ(nick.type, RedisServer::Reply::Type::kString);
  ASSERT_FALSE(nick.str.empty());
  EXPECT_EQ(nick.str[0], 'I');
  v1::ProfileItem item;
  ASSERT_TRUE(item.ParseFromString(nick.str.substr(1)));
  EXPECT_FALSE(item.string_value().empty());
  const int64_t nick_ttl = redis.Command({"PTTL", nick_key}).integer;
  EXPECT_GT(nick_ttl, 50000);
  EXPECT_LE(nick_ttl, 60000);

  const RedisServer::Reply negative = redis.Command({"GET", negative_key});
  ASSERT_EQ(negative.type, RedisServer::Reply::Type::kString);
  EXPECT_EQ(negative.str.substr(0, 7), "N40003:");
  const int64_t negative_ttl = redis.Command({"PTTL", negative_key}).integer;
  EXPECT_GT(negative_ttl, 0);
  EXPECT_LE(negative_ttl, 5000);
}

// RedisKeyValueStore straight on a RedisClient.
class RedisKeyValueStoreTest : public ::testing::Test {
 protected:
  class Observer final : public SharedCacheObserver {
   public:
    void OnSharedCacheLookup(int64_t, int64_t) override {}
    void OnSharedCacheLookupFailed() override {}
    void OnSharedCacheWritesFailed(int64_t entries) override { write_failures += entries; }
    std::atomic<int64_t> write_failures{0};
  };

  void SetUp() override {
    RedisOptions options;
    options.address = *ParseRedisUrl(redis_.url());
    options.timeout = absl::Milliseconds(200);
    options.reconnect_interval = absl::Milliseconds(50);
    client_ = std::make_unique<RedisClient>(options);
    store_ = std::make_unique<RedisKeyValueStore>(*client_, &observer_);
    ASSERT_TRUE(WaitConnected(true));
  }

  bool WaitConnected(bool connected) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (client_->connected() != connected && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
    return client_->connected() == connected;
  }

  absl::StatusOr<KeyValueStore::Values> Get(std::vector<std::string> keys) {
    absl::Notification answered;
    absl::StatusOr<KeyValueStore::Values> values;
    store_->MultiGet(std::move(keys), [&](absl::StatusOr<KeyValueStore::Values> got) {
      values = std::move(got);
      answered.Notify();
    });
    EXPECT_TRUE(answered.WaitForNotificationWithTimeout(absl::Seconds(10)));
    return values;
  }

  RedisServer redis_;
  Observer observer_;
  std::unique_ptr<RedisClient> client_;
  std::unique_ptr<RedisKeyValueStore> store_;
};

TEST_F(RedisKeyValueStoreTest, WritesAndReadsBinarySafeEntriesThatExpire) {
  const std::string odd_key("k:\0\xff\r\n", 6);
  const std::string odd_value("v\0\r\n\x80", 5);
  store_->MultiSet({{odd_key, odd_value}, {"plain", "x"}}, absl::Seconds(30));
  store_->MultiSet({{"short", "y"}}, absl::Milliseconds(100));
  absl::StatusOr<KeyValueStore::Values> values = Get({odd_key, "missing", "plain", "short"});
  ASSERT_TRUE(values.ok()) << values.status();
  ASSERT_EQ(values->size(), 4u);
  EXPECT_EQ((*values)[0], odd_value);
  EXPECT_EQ((*values)[1], std::nullopt);
  EXPECT_EQ((*values)[2], "x");
  EXPECT_EQ((*values)[3], "y");
  const int64_t ttl = redis_.Command({"PTTL", odd_key}).integer;
  EXPECT_GT(ttl, 25000);
  EXPECT_LE(ttl, 30000);

  absl::SleepFor(absl::Milliseconds(300));
  values = Get({"short"});
  ASSERT_TRUE(values.ok());
  EXPECT_EQ((*values)[0], std::nullopt);
  EXPECT_EQ(observer_.write_failures.load(), 0);
}

TEST_F(RedisKeyValueStoreTest, AStoppedRedisFailsLookupsAndDropsWrites) {
  redis_.Stop();
  ASSERT_TRUE(WaitConnected(false));
  const absl::StatusOr<KeyValueStore::Values> values = Get({"a", "b"});
  EXPECT_FALSE(values.ok());
  store_->MultiSet({{"a", "1"}, {"b", "2"}}, absl::Seconds(1));
  EXPECT_EQ(observer_.write_failures.load(), 2);
}

TEST_F(RedisKeyValueStoreTest, AHungRedisFailsALookupWithDeadlineExceeded) {
  redis_.Pause();
  const absl::Time started = absl::Now();
  const absl::StatusOr<KeyValueStore::Values> values = Get({"a"});
  EXPECT_EQ(values.status().code(), absl::StatusCode::kDeadlineExceeded) << values.status();
  EXPECT_LT(absl::Now() - started, absl::Seconds(5));
  redis_.Resume();
}

}  // namespace
}  // namespace portrait_bridge::testing

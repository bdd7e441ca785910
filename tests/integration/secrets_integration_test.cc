// No secret in the bridge's output or metrics: bridges at --log_level=debug, in each log format, driven through
// successes, per-account failures, every upstream fault, UserSig renewal, a secret key the upstream rejects, and
// Redis (with a password, a wrong password, and a restart); then everything they wrote to stdout and stderr, and
// their /metrics, is searched for the secret keys, every UserSig they can have signed (and its HMAC), any
// `usersig=` query, any long token of UserSig characters, and the Redis passwords.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "bridge/core/usersig.h"
#include "tests/integration/stack.h"
#include "tests/support/redis_server.h"

namespace portrait_bridge::testing {
namespace {

// A different key of the same shape: the sandbox rejects this bridge's UserSigs (70009).
constexpr char kWrongSecretKey[] = "0e3c9a4bb1f2d7e8a6c5b4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3";
constexpr char kRedisPassword[] = "redis-pw-Q7vX2mK9pL4tR8sN";
constexpr char kWrongRedisPassword[] = "redis-pw-Z3cB6nH1jF5gD0wY";
const std::vector<std::string> kTags = {"Tag_Profile_IM_Nick", "Tag_Profile_IM_Level"};

// A bridge with its metrics endpoint on a free port, and its /metrics text as last scraped.
struct MeteredBridge {
  MeteredBridge(const std::string& upstream, std::vector<std::string> flags, const std::string& key) {
    flags.push_back("--metrics_address=127.0.0.1:0");
    flags.push_back("--metrics_port_file=" + dir.Path("metrics.port"));
    bridge = std::make_unique<Bridge>(upstream, flags, key);
    metrics_port = bridge->process().WaitForPortFile(dir.Path("metrics.port"));
  }
  double Metric(const std::string& series) { return MetricSample(metrics = ScrapeMetrics(metrics_port), series); }

  TempDir dir;
  std::unique_ptr<Bridge> bridge;
  int metrics_port = 0;
  std::string metrics;
};

// The longest run of characters a UserSig is made of (base64 with '*', '-', '_') that has upper-case letters,
// lower-case letters and digits: a UserSig or a base64 HMAC would be one (metric names and log words have no
// upper case; the hex keys are searched for on their own).
std::string LongestUserSigLikeToken(const std::string& text) {
  std::string longest;
  size_t start = 0;
  auto in_alphabet = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '*' || c == '-' || c == '_';
  };
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && in_alphabet(text[i])) continue;
    const std::string token = text.substr(start, i - start);
    const bool mixed = std::any_of(token.begin(), token.end(), ::isupper) &&
                       std::any_of(token.begin(), token.end(), ::islower) &&
                       std::any_of(token.begin(), token.end(), ::isdigit);
    if (mixed && token.size() > longest.size()) longest = token;
    start = i + 1;
  }
  return longest;
}

void ExpectNoSecret(const std::string& what, const std::string& text, const std::vector<std::string>& usersigs) {
  ASSERT_FALSE(text.empty()) << what << " is empty: nothing was searched";
  for (const char* secret : {kSecretKey, kWrongSecretKey, kRedisPassword, kWrongRedisPassword}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << what << " holds the secret " << secret;
  }
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  EXPECT_EQ(lower.find("usersig="), std::string::npos) << what << " holds a usersig= query value";
  for (const std::string& usersig : usersigs) {
    EXPECT_EQ(text.find(usersig), std::string::npos) << what << " holds the UserSig or HMAC " << usersig;
  }
  const std::string token = LongestUserSigLikeToken(text);
  EXPECT_LT(token.size(), 64u) << what << " holds a long UserSig-like token: " << token;
}

class SecretsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SecretsTest, NoSecretReachesTheOutputOrTheMetrics) {
  const std::string log_format = GetParam();
  RedisServer redis(kRedisPassword);
  Sandbox sandbox;
  TempDir dir;
  WriteFile(dir.Path("redis.password"), std::string(kRedisPassword) + "\n");
  WriteFile(dir.Path("wrong-redis.password"), std::string(kWrongRedisPassword) + "\n");
  const int64_t first_second = absl::ToUnixSeconds(absl::Now());
  const std::vector<std::string> log_flags = {"--log_level=debug", "--log_format=" + log_format};
  // The budget in Redis with its password; the cache in the same Redis with a wrong one (refused: every lookup a
  // miss, every refusal a chance to log what was sent).
  std::vector<std::string> flags = log_flags;
  flags.insert(flags.end(),
               {"--budget_redis_url=" + redis.url(), "--budget_redis_password_file=" + dir.Path("redis.password"),
                "--cache_ttl_ms=60000", "--cache_redis_url=" + redis.url(),
                "--cache_redis_password_file=" + dir.Path("wrong-redis.password"), "--redis_timeout_ms=1000",
                "--retry_max_attempts=1"});
  MeteredBridge good(sandbox.base_url(), flags, kSecretKey);
  MeteredBridge bad_key(sandbox.base_url(), log_flags, kWrongSecretKey);

  auto good_channel = good.bridge->NewChannel();
  // Successes, an unknown account, and the same account twice.
  StreamOutcome outcome = RunStream(*good_channel, {MakeRequest({"alice", "user1", "user2", "user1", "nobody"}, kTags),
                                                    MakeRequest(Users(100, 30), kTags)});
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  // The budget's first ask went to Redis, authenticated with the password.
  ASSERT_EQ(good.Metric("portrait_bridge_budget_shared"), 1) << "the bridge never authenticated to Redis";
  // Every upstream fault, one call each, each answered to its accounts (no retry: --retry_max_attempts=1).
  for (const char* fault : {"http_502_count", "drop_connection_count", "truncated_count", "non_json_count"}) {
    sandbox.SetFaults({{fault, 1}});
    outcome = RunStream(*good_channel, {MakeRequest({"user7"}, kTags)});
    EXPECT_TRUE(outcome.status.ok()) << fault << ": " << outcome.status.error_message();
    ASSERT_EQ(outcome.results_by_request[0].size(), 1u);
    EXPECT_EQ(outcome.results_by_request[0][0].status().code(), grpc::StatusCode::UNAVAILABLE) << fault;
  }
  sandbox.SetFaults({{"error_code", 60008}, {"error_count", 1}});
  EXPECT_TRUE(RunStream(*good_channel, {MakeRequest({"user8"}, kTags)}).status.ok());
  // A renewal, then a UserSig upstream keeps refusing: the stream ends FAILED_PRECONDITION with Tencent's reason.
  sandbox.SetFaults({{"usersig_expired_count", 1}});
  EXPECT_TRUE(RunStream(*good_channel, {MakeRequest({"user9"}, kTags)}).status.ok());
  sandbox.SetFaults({{"usersig_expired_count", 5}});
  outcome = RunStream(*good_channel, {MakeRequest({"user10"}, kTags)});
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  std::string error_messages = outcome.status.error_message() + "\n" + outcome.details.DebugString();
  sandbox.SetFaults(nlohmann::json::object());
  // Redis goes away and comes back: the bridge falls back, reconnects and authenticates again.
  redis.Stop();
  EXPECT_TRUE(RunStream(*good_channel, {MakeRequest({"user11"}, kTags)}).status.ok());
  ASSERT_TRUE(WaitUntil([&] { return good.Metric("portrait_bridge_budget_shared") == 0; }))
      << "the bridge did not notice Redis had gone";
  redis.Restart();
  int next_user = 1000;  // A fresh account each time: a cached one would not ask the budget.
  ASSERT_TRUE(WaitUntil(
      [&] {
        RunStream(*good_channel, {MakeRequest({"user" + std::to_string(next_user++)}, kTags)});
        return good.Metric("portrait_bridge_budget_shared") == 1;
      },
      std::chrono::seconds(20)))
      << "the bridge did not authenticate to the restarted Redis:\n"
      << good.bridge->process().Output();
  EXPECT_GT(good.Metric(R"(portrait_bridge_shared_cache_errors_total{operation="lookup"})"), 0)
      << "the cache's wrong password was never refused";

  // The wrong key: upstream answers 70009 and the stream ends FAILED_PRECONDITION.
  outcome = RunStream(*bad_key.bridge->NewChannel(), {MakeRequest({"alice"}, kTags)});
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(outcome.status.error_message().find("70009"), std::string::npos) << outcome.status.error_message();
  error_messages += outcome.status.error_message() + "\n" + outcome.details.DebugString();

  good.Metric(R"(portrait_bridge_upstream_retries_total{reason="http_error"})");
  bad_key.Metric(R"(portrait_bridge_upstream_retries_total{reason="http_error"})");
  const int64_t last_second = absl::ToUnixSeconds(absl::Now()) + 1;
  ASSERT_EQ(good.bridge->process().SignalAndWait(SIGTERM), 0);
  ASSERT_EQ(bad_key.bridge->process().SignalAndWait(SIGTERM), 0);

  // Every UserSig either bridge can have signed in this run (the renewals may date one a second later), and the
  // HMAC inside each.
  std::vector<std::string> usersigs;
  for (const char* key : {kSecretKey, kWrongSecretKey}) {
    for (int64_t t = first_second - 1; t <= last_second + 1; ++t) {
      const UserSigFields fields{kAdmin, 1400000000, t, 86400};
      usersigs.push_back(SignUserSig(key, fields));
      usersigs.push_back(ComputeUserSigHmac(key, fields));
    }
  }
  const std::string good_output = good.bridge->process().Output();
  const std::string bad_key_output = bad_key.bridge->process().Output();
  // The debug level was on, in the format asked for.
  const std::string debug_mark = log_format == "json" ? R"("level":"debug")" : " debug ";
  EXPECT_NE(good_output.find(debug_mark), std::string::npos) << good_output;
  ExpectNoSecret("the bridge's output", good_output, usersigs);
  ExpectNoSecret("the wrong-key bridge's output", bad_key_output, usersigs);
  ExpectNoSecret("the bridge's /metrics", good.metrics, usersigs);
  ExpectNoSecret("the wrong-key bridge's /metrics", bad_key.metrics, usersigs);
  ExpectNoSecret("the streams' error messages", error_messages, usersigs);
  // The searches can find: the output holds what the bridge did (the searched text is the real thing).
  EXPECT_NE(good_output.find("Redis"), std::string::npos) << "no Redis transition was logged:\n" << good_output;
}

INSTANTIATE_TEST_SUITE_P(LogFormats, SecretsTest, ::testing::Values("json", "text"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace portrait_bridge::testing

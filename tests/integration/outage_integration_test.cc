// Upstream outages against the real bridge and the real sandbox: retries absorb a short outage without losing or
// duplicating any account's answer, and the retry budget keeps a long outage from multiplying upstream load.

#include <gtest/gtest.h>
#include <httplib.h>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/stack.h"

namespace portrait_bridge::testing {
namespace {

const std::vector<std::string> kTags = {"Tag_Profile_IM_Nick", "Tag_Profile_IM_Level"};

// Bridge flags shared by the scenarios: one account per upstream call, so the sandbox's counters are counts of
// accounts, and short backoffs, so the tests run quickly.
std::vector<std::string> BridgeFlags(const TempDir& dir, std::vector<std::string> extra) {
  std::vector<std::string> flags = {"--max_accounts_per_call=1", "--retry_initial_backoff_ms=10",
                                    "--retry_max_backoff_ms=100", "--metrics_address=127.0.0.1:0",
                                    "--metrics_port_file=" + dir.Path("metrics.port")};
  flags.insert(flags.end(), extra.begin(), extra.end());
  return flags;
}

// The sandbox serves each connection on one worker thread, and an idle keep-alive connection keeps its worker
// for keep_alive_timeout_s; the bridge keeps up to 64 connections. With the default 32 workers a call on the 33rd
// connection waits for an idle one to time out, longer than an attempt's timeout. Enough workers for every
// connection the bridge may open.
std::vector<std::string> SandboxFlags() { return {"--threads=96"}; }

double Sample(int metrics_port, const std::string& series) { return MetricSample(ScrapeMetrics(metrics_port), series); }

// kStreams concurrent streams, each of kRequestsPerStream requests of kAccountsPerRequest accounts; every account
// of the whole run is distinct.
constexpr int kStreams = 4;
constexpr int kRequestsPerStream = 2;
constexpr int kAccountsPerRequest = 10;
constexpr int kAccounts = kStreams * kRequestsPerStream * kAccountsPerRequest;

std::string Account(int stream, int request, int i) {
  return "user" + std::to_string((stream * kRequestsPerStream + request) * kAccountsPerRequest + i);
}

// Runs the streams at once and returns every AccountResult by account.
std::map<std::string, std::vector<v1::AccountResult>> RunConcurrentStreams(Bridge& bridge) {
  std::vector<StreamOutcome> outcomes(kStreams);
  std::vector<std::thread> threads;
  for (int s = 0; s < kStreams; ++s) {
    threads.emplace_back([&bridge, &outcomes, s] {
      std::vector<v1::GetProfilesRequest> requests;
      for (int r = 0; r < kRequestsPerStream; ++r) {
        std::vector<std::string> accounts;
        for (int i = 0; i < kAccountsPerRequest; ++i) accounts.push_back(Account(s, r, i));
        requests.push_back(MakeRequest(accounts, kTags, "s" + std::to_string(s) + "r" + std::to_string(r)));
      }
      auto channel = bridge.NewChannel();
      outcomes[s] = RunStream(*channel, requests);
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::map<std::string, std::vector<v1::AccountResult>> by_account;
  for (int s = 0; s < kStreams; ++s) {
    EXPECT_TRUE(outcomes[s].status.ok()) << "stream " << s << ": " << outcomes[s].status.error_message();
    for (const auto& [request, results] : outcomes[s].results_by_request) {
      for (const v1::AccountResult& result : results) {
        // Each answer must come back on the stream and request that asked for it.
        EXPECT_EQ(result.account().rfind("user", 0), 0u);
        const int n = std::stoi(result.account().substr(4));
        EXPECT_EQ(n / kAccountsPerRequest, s * kRequestsPerStream + static_cast<int>(request)) << result.account();
        by_account[result.account()].push_back(result);
      }
    }
  }
  return by_account;
}

void ExpectEveryAccountAnsweredOnce(const std::map<std::string, std::vector<v1::AccountResult>>& by_account) {
  EXPECT_EQ(by_account.size(), static_cast<size_t>(kAccounts));
  for (const auto& [account, results] : by_account) EXPECT_EQ(results.size(), 1u) << account << " answered twice";
}

// An outage of 8 failed calls of every kind, shorter than what the retries can absorb (up to 10 attempts per call,
// and the retry budget starts with 20 tokens): every account is answered once, correctly, and upstream served each
// account exactly once.
TEST(OutageTest, ShortOutageIsRetriedAwayWithoutLosingOrDuplicatingAnswers) {
  Sandbox sandbox(SandboxFlags());
  TempDir dir;
  Bridge bridge(sandbox.base_url(), BridgeFlags(dir, {"--retry_max_attempts=10"}));
  const int metrics_port = bridge.process().WaitForPortFile(dir.Path("metrics.port"));
  sandbox.SetFaults({{"http_502_count", 3},
                     {"drop_connection_count", 2},
                     {"non_json_count", 1},
                     {"error_code", 60008},
                     {"error_count", 2}});

  const auto by_account = RunConcurrentStreams(bridge);
  ExpectEveryAccountAnsweredOnce(by_account);
  for (const auto& [account, results] : by_account) {
    const v1::AccountResult& result = results.at(0);
    EXPECT_EQ(result.status().code(), 0) << account << ": " << result.status().message();
    ASSERT_GE(result.items_size(), 1) << account;
    EXPECT_EQ(result.items(0).string_value(), "User " + account.substr(4));
  }

  const nlohmann::json stats = sandbox.Stats();
  EXPECT_EQ(stats["ok"].get<int>(), kAccounts) << "one successful upstream call per account, no duplicate" << stats;
  EXPECT_EQ(stats["accounts"].get<int>(), kAccounts) << stats;
  // Exactly the 8 faults: libcurl's own resend of a request on a dropped keep-alive connection is refused, so no
  // request reaches upstream that the bridge did not count as an attempt.
  EXPECT_EQ(stats["calls"].get<int>(), kAccounts + 8) << stats;
  EXPECT_EQ(stats["error_codes"]["60008"].get<int>(), 2) << stats;
  EXPECT_EQ(stats["throttled"].get<int>(), 0) << "the bridge must never exceed upstream's rate" << stats;
  const nlohmann::json faults_left = [&] {
    httplib::Client client("127.0.0.1", sandbox.port());
    auto response = client.Get("/sandbox/faults");
    return response ? nlohmann::json::parse(response->body) : nlohmann::json();
  }();
  EXPECT_EQ(faults_left["http_502_count"], 0) << "the whole outage was consumed: " << faults_left;
  EXPECT_EQ(faults_left["error_count"], 0) << faults_left;
  // Every request upstream saw beyond the first per account was a retry the bridge counted.
  EXPECT_EQ(MetricSum(ScrapeMetrics(metrics_port), "portrait_bridge_upstream_retries_total"),
            stats["calls"].get<int>() - kAccounts);
}

// Every call fails for as long as the test runs. Each account is answered once, UNAVAILABLE with the upstream's
// reason; and the retry budget (ratio 0.2, 20 tokens to start) holds upstream load to at most 1.2 times the first
// attempts plus those 20, where three attempts per call would have tripled it.
TEST(OutageTest, LongOutageIsReportedOnceAndTheRetryBudgetBoundsUpstreamLoad) {
  Sandbox sandbox(SandboxFlags());
  TempDir dir;
  Bridge bridge(sandbox.base_url(), BridgeFlags(dir, {"--retry_max_attempts=3", "--retry_budget_ratio=0.2"}));
  const int metrics_port = bridge.process().WaitForPortFile(dir.Path("metrics.port"));
  sandbox.SetFaults({{"http_502_count", -1}});

  const auto by_account = RunConcurrentStreams(bridge);
  ExpectEveryAccountAnsweredOnce(by_account);
  for (const auto& [account, results] : by_account) {
    const v1::AccountResult& result = results.at(0);
    EXPECT_EQ(result.status().code(), grpc::StatusCode::UNAVAILABLE) << account;
    EXPECT_EQ(ErrorInfoOf(result.status()).reason(), "UPSTREAM_HTTP_5XX") << account;
    EXPECT_EQ(result.result_code(), v1::RESULT_CODE_NO_UPSTREAM_ANSWER) << account;
  }

  const nlohmann::json stats = sandbox.Stats();
  const int calls = stats["calls"].get<int>();
  constexpr int kFirstAttempts = kAccounts;  // One account per call.
  constexpr double kRatio = 0.2;
  constexpr int kInitialTokens = 20;  // max(10, 100 * ratio)
  EXPECT_LE(calls, static_cast<int>((1 + kRatio) * kFirstAttempts) + kInitialTokens) << stats;
  EXPECT_LT(calls, 3 * kFirstAttempts);
  // The budget is used, not merely idle: the 20 starting tokens at least were spent on retries.
  EXPECT_GE(calls, kFirstAttempts + kInitialTokens) << stats;
  EXPECT_EQ(stats["faulted"].get<int>(), calls);
  EXPECT_EQ(MetricSum(ScrapeMetrics(metrics_port), "portrait_bridge_upstream_retries_total"), calls - kFirstAttempts);
  EXPECT_EQ(stats["throttled"].get<int>(), 0) << stats;
}

// Upstream answers 60007 ("call frequency over the limit") to 5 calls: the bridge slows down, retries them and
// every account is still answered once and OK; the sandbox's own rate limit never refuses the bridge.
TEST(OutageTest, ThrottlingAnswersAreRetriedAfterSlowingDown) {
  Sandbox sandbox(SandboxFlags());
  TempDir dir;
  Bridge bridge(sandbox.base_url(), BridgeFlags(dir, {"--retry_max_attempts=10"}));
  const int metrics_port = bridge.process().WaitForPortFile(dir.Path("metrics.port"));
  sandbox.SetFaults({{"error_code", 60007}, {"error_count", 5}});

  const auto by_account = RunConcurrentStreams(bridge);
  ExpectEveryAccountAnsweredOnce(by_account);
  for (const auto& [account, results] : by_account) {
    EXPECT_EQ(results.at(0).status().code(), 0) << account << ": " << results.at(0).status().message();
  }
  const nlohmann::json stats = sandbox.Stats();
  EXPECT_EQ(stats["ok"].get<int>(), kAccounts) << stats;
  EXPECT_EQ(stats["error_codes"]["60007"].get<int>(), 5) << stats;
  EXPECT_EQ(stats["throttled"].get<int>(), 0) << stats;
  EXPECT_EQ(Sample(metrics_port, "portrait_bridge_upstream_throttled_total"), 5);
  EXPECT_EQ(MetricSum(ScrapeMetrics(metrics_port), "portrait_bridge_upstream_retries_total"), 5);
}

}  // namespace
}  // namespace portrait_bridge::testing

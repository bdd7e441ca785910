// The bridge's logs and readiness as an operator sees them, against the real sandbox: a storm of upstream 502s
// writes a few lines and a summary with the count; a wrong secret key is an error line with 70009, readiness
// NOT_SERVING and portrait_bridge_misconfigured at 1; the caller's x-request-id and traceparent reach the call's
// log line, and invalid ones do not.

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/integration/stack.h"

namespace portrait_bridge::testing {
namespace {

using grpc::health::v1::HealthCheckResponse;

constexpr char kReadinessService[] = "portraitbridge.profile.v1.ProfileService";
constexpr char kWrongSecretKey[] = "0e3c9a4bb1f2d7e8a6c5b4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3";
constexpr char kFailedMsg[] = "upstream call failed";
constexpr char kSummaryMsg[] = "upstream failures left out of the log";
constexpr char kMisconfiguredMsg[] = "upstream says the bridge is misconfigured: not ready until it answers again";
constexpr char kTraceparent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const std::vector<std::string> kTags = {"Tag_Profile_IM_Nick"};

// A bridge with its metrics endpoint on a free port.
struct MeteredBridge {
  MeteredBridge(const std::string& upstream, std::vector<std::string> flags, const std::string& key = kSecretKey) {
    flags.push_back("--metrics_address=127.0.0.1:0");
    flags.push_back("--metrics_port_file=" + dir.Path("metrics.port"));
    bridge = std::make_unique<Bridge>(upstream, flags, key);
    metrics_port = bridge->process().WaitForPortFile(dir.Path("metrics.port"));
  }
  double Metric(const std::string& series) { return MetricSample(ScrapeMetrics(metrics_port), series); }

  TempDir dir;
  std::unique_ptr<Bridge> bridge;
  int metrics_port = 0;
};

// Every JSON record the bridge has written so far; fails the test on a line that is not one.
std::vector<nlohmann::json> Records(Subprocess& process) {
  std::vector<nlohmann::json> records;
  std::istringstream lines(process.Output());
  for (std::string line; std::getline(lines, line);) {
    nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(record.is_object()) << "not a JSON record: " << line;
    if (record.is_object()) records.push_back(std::move(record));
  }
  return records;
}

std::vector<nlohmann::json> WithMsg(const std::vector<nlohmann::json>& records, const std::string& msg) {
  std::vector<nlohmann::json> found;
  for (const nlohmann::json& record : records) {
    if (record.value("msg", "") == msg) found.push_back(record);
  }
  return found;
}

HealthCheckResponse::ServingStatus CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                               const std::string& service) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  HealthCheckResponse response;
  const grpc::Status status = grpc::health::v1::Health::NewStub(channel)->Check(&context, request, &response);
  return status.ok() ? response.status() : HealthCheckResponse::UNKNOWN;
}

grpc::Status BatchGet(const std::shared_ptr<grpc::Channel>& channel, const std::vector<std::string>& accounts,
                      const std::vector<std::pair<std::string, std::string>>& metadata = {}) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  for (const auto& [key, value] : metadata) context.AddMetadata(key, value);
  v1::BatchGetProfilesRequest request;
  for (const std::string& account : accounts) request.add_accounts(account);
  for (const std::string& tag : kTags) request.add_tags(tag);
  v1::BatchGetProfilesResponse response;
  return v1::ProfileService::NewStub(channel)->BatchGetProfiles(&context, request, &response);
}

// A storm of 502s, one account per upstream call: a bounded number of lines, each with the HTTP status, and
// summaries whose counts add up, with the lines, to every 502 the sandbox sent.
TEST(LogsTest, AStormOfUpstream502sWritesAFewLinesAndASummaryWithTheCount) {
  Sandbox sandbox({"--threads=96"});
  MeteredBridge bridge(sandbox.base_url(),
                       {"--max_accounts_per_call=1", "--retry_initial_backoff_ms=10", "--retry_max_backoff_ms=50"});
  sandbox.SetFaults({{"http_502_count", -1}});
  const StreamOutcome outcome = RunStream(*bridge.bridge->NewChannel(), {MakeRequest(Users(1, 300), kTags)});
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  const int64_t sent = sandbox.Stats()["faults"]["http_502"];
  ASSERT_GE(sent, 300) << "every account's call was answered 502 at least once";

  // Once every interval that saw a 502 has ended, the logged lines and the summaries account for every 502.
  int64_t logged = 0;
  int64_t summarized = 0;
  const bool complete = WaitUntil(
      [&] {
        const std::vector<nlohmann::json> records = Records(bridge.bridge->process());
        logged = 0;
        summarized = 0;
        for (const nlohmann::json& line : WithMsg(records, kFailedMsg)) logged += line["http_status"] == 502;
        for (const nlohmann::json& line : WithMsg(records, kSummaryMsg)) {
          if (line["http_status"] == 502) summarized += line["count"].get<int64_t>();
        }
        return logged + summarized == sent;
      },
      std::chrono::seconds(30));
  EXPECT_TRUE(complete) << sent << " 502s, " << logged << " logged and " << summarized << " summarized:\n"
                        << bridge.bridge->process().Output();
  const std::vector<nlohmann::json> records = Records(bridge.bridge->process());
  const std::vector<nlohmann::json> failed = WithMsg(records, kFailedMsg);
  ASSERT_FALSE(failed.empty());
  EXPECT_LE(failed.size(), 4u) << "one line per 10 s interval, not one per call";
  EXPECT_EQ(failed[0]["level"], "warning");
  EXPECT_EQ(failed[0]["reason"], "UPSTREAM_HTTP_5XX");
  EXPECT_TRUE(failed[0]["http_status"].is_number_integer()) << failed[0];
  const std::vector<nlohmann::json> summaries = WithMsg(records, kSummaryMsg);
  ASSERT_FALSE(summaries.empty());
  EXPECT_EQ(summaries[0]["interval_s"], 10);
  EXPECT_LE(records.size(), 20u) << "a storm of " << sent << " failures writes a handful of lines";
  // 502s say nothing about the configuration.
  EXPECT_EQ(CheckHealth(bridge.bridge->NewChannel(), kReadinessService), HealthCheckResponse::SERVING);
}

// A wrong secret key: the first call gets 70009, logged at error with what to fix; readiness goes NOT_SERVING
// (liveness stays SERVING), the gauge says why, and the key appears nowhere.
TEST(LogsTest, AWrongSecretKeyIsAnErrorAndTakesReadinessAway) {
  Sandbox sandbox;
  MeteredBridge bridge(sandbox.base_url(), {}, kWrongSecretKey);
  auto channel = bridge.bridge->NewChannel();
  EXPECT_EQ(CheckHealth(channel, kReadinessService), HealthCheckResponse::SERVING) << "nothing known before a call";
  const StreamOutcome outcome = RunStream(*channel, {MakeRequest({"user1"}, kTags)});
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  EXPECT_EQ(CheckHealth(channel, kReadinessService), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(CheckHealth(channel, ""), HealthCheckResponse::SERVING) << "liveness: a restart would not fix the key";
  EXPECT_EQ(bridge.Metric(R"(portrait_bridge_misconfigured{reason="TENCENT_70009"})"), 1);
  EXPECT_EQ(bridge.Metric(R"(portrait_bridge_misconfigured{reason="TENCENT_70016"})"), 0);
  const std::vector<nlohmann::json> errors = WithMsg(Records(bridge.bridge->process()), kMisconfiguredMsg);
  ASSERT_EQ(errors.size(), 1u) << bridge.bridge->process().Output();
  EXPECT_EQ(errors[0]["level"], "error");
  EXPECT_EQ(errors[0]["code"], 70009);
  EXPECT_NE(errors[0]["fix"].get<std::string>().find("wrong secret key"), std::string::npos) << errors[0];
  ASSERT_EQ(bridge.bridge->process().SignalAndWait(SIGTERM), 0);
  const std::string output = bridge.bridge->process().Output();
  EXPECT_EQ(output.find(kWrongSecretKey), std::string::npos);
  EXPECT_EQ(output.find("usersig="), std::string::npos);
}

// A misconfiguration that upstream stops reporting (an admin fixed in the console): the next answered call makes
// the bridge ready again and the gauge 0.
TEST(LogsTest, TheNextAnsweredCallEndsAMisconfiguration) {
  Sandbox sandbox;
  MeteredBridge bridge(sandbox.base_url(), {});
  auto channel = bridge.bridge->NewChannel();
  sandbox.SetFaults({{"error_code", 40004}, {"error_count", -1}});
  EXPECT_EQ(BatchGet(channel, {"user1"}).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(CheckHealth(channel, kReadinessService), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(bridge.Metric(R"(portrait_bridge_misconfigured{reason="TENCENT_40004"})"), 1);

  sandbox.SetFaults(nlohmann::json::object());
  EXPECT_TRUE(BatchGet(channel, {"user2"}).ok());  // Readiness keeps load balancers away, not a direct caller.
  EXPECT_EQ(CheckHealth(channel, kReadinessService), HealthCheckResponse::SERVING);
  EXPECT_EQ(bridge.Metric(R"(portrait_bridge_misconfigured{reason="TENCENT_40004"})"), 0);
}

// The caller's ids reach the line each call ends with; invalid ones are left out.
TEST(LogsTest, RequestAndTraceIdsReachTheCallsLogLine) {
  Sandbox sandbox;
  MeteredBridge bridge(sandbox.base_url(), {"--log_level=debug"});
  auto channel = bridge.bridge->NewChannel();
  ASSERT_TRUE(BatchGet(channel, {"user1"}, {{"x-request-id", "req-7f3a"}, {"traceparent", kTraceparent}}).ok());
  ASSERT_TRUE(
      BatchGet(channel, {"user2"},
               {{"x-request-id", std::string(129, 'x')},
                {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-" + std::string(1000, 'f')}})
          .ok());
  {
    grpc::ClientContext context;
    context.AddMetadata("x-request-id", "stream-1");
    context.AddMetadata("traceparent", kTraceparent);
    auto stream = v1::ProfileService::NewStub(channel)->GetProfiles(&context);
    ASSERT_TRUE(stream->Write(MakeRequest({"user3"}, kTags)));
    ASSERT_TRUE(stream->WritesDone());
    v1::GetProfilesResponse response;
    while (stream->Read(&response)) {
    }
    ASSERT_TRUE(stream->Finish().ok());
  }
  std::vector<nlohmann::json> batch_lines;
  std::vector<nlohmann::json> stream_lines;
  ASSERT_TRUE(WaitUntil([&] {
    const std::vector<nlohmann::json> records = Records(bridge.bridge->process());
    batch_lines = WithMsg(records, "BatchGetProfiles finished");
    stream_lines = WithMsg(records, "GetProfiles stream finished");
    return batch_lines.size() == 2 && stream_lines.size() == 1;
  })) << bridge.bridge->process().Output();
  EXPECT_EQ(batch_lines[0]["request_id"], "req-7f3a");
  EXPECT_EQ(batch_lines[0]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(batch_lines[0]["span_id"], "00f067aa0ba902b7");
  EXPECT_EQ(batch_lines[0]["grpc_code"], "OK");
  EXPECT_TRUE(batch_lines[0]["duration_ms"].is_number_integer()) << batch_lines[0];
  EXPECT_EQ(batch_lines[0]["accounts"], 1);
  for (const char* key : {"request_id", "trace_id", "span_id"}) {
    EXPECT_FALSE(batch_lines[1].contains(key)) << "an invalid " << key << " is left out: " << batch_lines[1];
  }
  EXPECT_EQ(stream_lines[0]["request_id"], "stream-1");
  EXPECT_EQ(stream_lines[0]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
}

}  // namespace
}  // namespace portrait_bridge::testing

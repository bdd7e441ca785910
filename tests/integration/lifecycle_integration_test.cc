// The bridge as a process: health, graceful shutdown, and secrets kept out of its output.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "absl/time/clock.h"
#include "bridge/core/usersig.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/integration/stack.h"

namespace portrait_bridge::testing {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

constexpr char kReadinessService[] = "portraitbridge.profile.v1.ProfileService";
const std::vector<std::string> kTags = {"Tag_Profile_IM_Nick"};

HealthCheckResponse::ServingStatus CheckHealth(grpc::Channel& channel, const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(std::shared_ptr<grpc::Channel>(&channel, [](grpc::Channel*) {}));
  HealthCheckRequest request;
  request.set_service(service);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  return status.ok() ? response.status() : HealthCheckResponse::UNKNOWN;
}

// A Watch on the ProfileService's readiness, over `channel`, for at most `seconds`.
class ReadinessWatch {
 public:
  ReadinessWatch(const std::shared_ptr<grpc::Channel>& channel, int seconds)
      : stub_(grpc::health::v1::Health::NewStub(channel)) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
    HealthCheckRequest request;
    request.set_service(kReadinessService);
    reader_ = stub_->Watch(&context_, request);
  }
  ~ReadinessWatch() { Close(); }

  // The next status the watch reports; UNKNOWN once it has ended.
  HealthCheckResponse::ServingStatus Next() {
    HealthCheckResponse update;
    return reader_->Read(&update) ? update.status() : HealthCheckResponse::UNKNOWN;
  }

  void Close() {
    if (reader_ == nullptr) return;
    context_.TryCancel();
    reader_->Finish();
    reader_.reset();
  }

 private:
  std::unique_ptr<grpc::health::v1::Health::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader_;
};

TEST(LifecycleTest, HealthIsServingForTheProcessAndTheService) {
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url());
  auto channel = bridge.NewChannel();
  EXPECT_EQ(CheckHealth(*channel, ""), HealthCheckResponse::SERVING);
  EXPECT_EQ(CheckHealth(*channel, kReadinessService), HealthCheckResponse::SERVING);
}

TEST(LifecycleTest, ReadinessGoesNotServingWhenDrainBegins) {
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url(), {"--shutdown_grace_seconds=2"});
  ReadinessWatch watch(bridge.NewChannel(), 10);
  ASSERT_EQ(watch.Next(), HealthCheckResponse::SERVING);
  kill(bridge.process().pid(), SIGTERM);
  EXPECT_EQ(watch.Next(), HealthCheckResponse::NOT_SERVING) << "no NOT_SERVING update after SIGTERM";
  watch.Close();
  EXPECT_EQ(bridge.process().SignalAndWait(0, 10000), 0);  // Exits 0 once the grace period has passed.
}

// During the drain delay a new caller (a fresh connection, as a load balancer's health check makes) is still
// answered, and hears NOT_SERVING rather than a refused connection; then the process exits 0.
TEST(LifecycleTest, DuringTheDrainDelayNewHealthChecksSeeNotServing) {
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url(), {"--shutdown_drain_delay_ms=3000", "--shutdown_grace_seconds=1"});
  ASSERT_EQ(CheckHealth(*bridge.NewChannel(), kReadinessService), HealthCheckResponse::SERVING);
  kill(bridge.process().pid(), SIGTERM);
  EXPECT_TRUE(WaitUntil([&] {
    return CheckHealth(*bridge.NewChannel(), kReadinessService) == HealthCheckResponse::NOT_SERVING;
  })) << "no new health check saw NOT_SERVING during the drain delay";
  // Calls are still accepted and answered meanwhile.
  const StreamOutcome outcome = RunStream(*bridge.NewChannel(), {MakeRequest({"alice"}, kTags)});
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  const int status = bridge.process().SignalAndWait(0, 15000);
  ASSERT_NE(status, -1) << "the bridge did not exit";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// A client that pings every 10 s (as services behind a mesh do) keeps an idle stream for a minute: the server
// accepts its pings instead of answering GOAWAY too_many_pings.
TEST(LifecycleTest, AClientPingingEvery10sKeepsAnIdleStreamForAMinute) {
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url());
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);  // gRPC's default: a loaded machine may answer a ping late.
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  auto channel =
      grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(bridge.port()), grpc::InsecureChannelCredentials(), args);
  auto stub = v1::ProfileService::NewStub(channel);
  grpc::ClientContext context;
  auto stream = stub->GetProfiles(&context);
  ASSERT_TRUE(stream->Write(MakeRequest({"alice"}, kTags)));
  v1::GetProfilesResponse response;
  ASSERT_TRUE(stream->Read(&response));
  // Idle for a minute: six pings. A refused ping would end the connection, and this stream with it.
  std::this_thread::sleep_for(std::chrono::seconds(61));
  if (!stream->Write(MakeRequest({"bob"}, kTags))) {
    const grpc::Status status = stream->Finish();
    FAIL() << "the stream died while idle: " << status.error_code() << ": " << status.error_message();
  }
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.request_index(), 1u);
  stream->WritesDone();
  while (stream->Read(&response)) {
  }
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
}

// A connection older than max_connection_age_ms gets GOAWAY: a stream open on it finishes within the grace, and
// the client's next calls go over a new connection.
TEST(LifecycleTest, AnAgedConnectionIsReplacedAndItsOpenStreamFinishes) {
  Sandbox sandbox;
  sandbox.SetFaults({{"latency_ms", 1500}});
  Bridge bridge(sandbox.base_url(), {"--max_connection_age_ms=500", "--max_connection_age_grace_ms=10000"});
  auto channel = bridge.NewChannel();
  // Started at once, answered after the connection's age has passed (the upstream takes 1.5 s).
  const StreamOutcome slow = RunStream(*channel, {MakeRequest({"alice"}, kTags)});
  ASSERT_TRUE(slow.status.ok()) << slow.status.error_message();
  ASSERT_EQ(slow.results_by_request.at(0).size(), 1u);
  EXPECT_EQ(slow.results_by_request.at(0).at(0).status().code(), 0);
  // The aged connection went away: the channel left READY, and reconnects for the next call.
  EXPECT_TRUE(WaitUntil([&] { return channel->GetState(false) != GRPC_CHANNEL_READY; }))
      << "the connection was not aged out";
  sandbox.SetFaults(nlohmann::json::object());
  EXPECT_TRUE(RunStream(*channel, {MakeRequest({"bob"}, kTags)}).status.ok());
}

TEST(LifecycleTest, SigtermLetsInFlightStreamsFinishThenExitsZero) {
  Sandbox sandbox;
  sandbox.SetFaults({{"latency_ms", 1500}});
  Bridge bridge(sandbox.base_url());
  auto channel = bridge.NewChannel();
  StreamOutcome outcome;
  std::thread caller([&] { outcome = RunStream(*channel, {MakeRequest({"alice", "bob"}, kTags)}); });
  ASSERT_TRUE(WaitUntil([&] { return sandbox.Stats()["in_flight"].get<int64_t>() == 1; }))
      << "the upstream call never reached the sandbox";
  const int status = bridge.process().SignalAndWait(SIGTERM, 15000);
  caller.join();
  ASSERT_NE(status, -1) << "the bridge did not exit";
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_EQ(outcome.results_by_request.at(0).size(), 2u);
  EXPECT_NE(bridge.process().Output().find("draining"), std::string::npos);
}

// SIGTERM while twenty callers wait on an upstream that hangs: an open health watch hears NOT_SERVING, the
// streams are cancelled once the drain delay and the grace have passed, and the process exits 0 in that time.
TEST(LifecycleTest, SigtermUnderLoadWithAHungUpstreamExitsZeroWithinTheGrace) {
  Sandbox sandbox;
  sandbox.SetFaults({{"latency_ms", 60000}});
  Bridge bridge(sandbox.base_url(), {"--shutdown_drain_delay_ms=500", "--shutdown_grace_seconds=1"});
  ReadinessWatch watch(bridge.NewChannel(), 20);
  ASSERT_EQ(watch.Next(), HealthCheckResponse::SERVING);

  constexpr int kCallers = 20;
  std::vector<StreamOutcome> outcomes(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      outcomes[i] = RunStream(*bridge.NewChannel(), {MakeRequest({"user" + std::to_string(i)}, kTags)}, 30000);
    });
  }
  ASSERT_TRUE(WaitUntil([&] { return sandbox.Stats()["in_flight"].get<int64_t>() >= 1; }))
      << "no upstream call reached the sandbox";
  const auto start = std::chrono::steady_clock::now();
  kill(bridge.process().pid(), SIGTERM);
  EXPECT_EQ(watch.Next(), HealthCheckResponse::NOT_SERVING) << "no NOT_SERVING update after SIGTERM";
  const int status = bridge.process().SignalAndWait(0, 10000);
  const auto exited_after = std::chrono::steady_clock::now() - start;
  for (std::thread& caller : callers) caller.join();
  watch.Close();
  ASSERT_NE(status, -1) << "the bridge did not exit";
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // Drain delay 0.5 s + grace 1 s, and a margin for a loaded machine.
  EXPECT_LT(exited_after, std::chrono::milliseconds(4000));
  for (const StreamOutcome& outcome : outcomes) {
    // The upstream never answered: every stream ended with an error, none with a result.
    EXPECT_FALSE(outcome.status.ok());
    EXPECT_EQ(outcome.results_by_request.count(0), 0u);
  }
}

TEST(LifecycleTest, SecretKeyAndUserSigNeverReachTheOutput) {
  Sandbox sandbox;
  const int64_t first_second = absl::ToUnixSeconds(absl::Now());
  Bridge bridge(sandbox.base_url(), {"--log_level=debug"});
  auto channel = bridge.NewChannel();
  // Success, a per-account failure, call failures and a renewal: every path that logs or builds a message.
  EXPECT_TRUE(RunStream(*channel, {MakeRequest({"alice", "nobody-here"}, kTags)}).status.ok());
  sandbox.SetFaults({{"http_502_count", 1}});
  RunStream(*channel, {MakeRequest({"alice"}, kTags)});
  sandbox.SetFaults({{"usersig_expired_count", 5}});
  const StreamOutcome expired = RunStream(*channel, {MakeRequest({"alice"}, kTags)});
  EXPECT_EQ(expired.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  const int64_t last_second = absl::ToUnixSeconds(absl::Now()) + 1;
  ASSERT_EQ(bridge.process().SignalAndWait(SIGTERM), 0);

  const std::string output = bridge.process().Output();
  ASSERT_FALSE(output.empty());
  EXPECT_EQ(output.find(kSecretKey), std::string::npos);
  EXPECT_EQ(output.find("usersig="), std::string::npos);
  // Every UserSig the bridge can have signed in this run (the renewal may date one a second later).
  for (int64_t t = first_second - 1; t <= last_second + 1; ++t) {
    const std::string usersig = SignUserSig(kSecretKey, {kAdmin, 1400000000, t, 86400});
    EXPECT_EQ(output.find(usersig), std::string::npos) << "UserSig of time " << t << " leaked";
  }
  EXPECT_EQ(expired.status.error_message().find(kSecretKey), std::string::npos);
}

}  // namespace
}  // namespace portrait_bridge::testing

namespace portrait_bridge::testing {
namespace {

TEST(MetricsTest, ScrapedSeriesCountWhatHappened) {
  Sandbox sandbox;
  TempDir dir;
  Bridge bridge(sandbox.base_url(), {"--metrics_address=127.0.0.1:0", "--metrics_port_file=" + dir.Path("metrics.port"),
                                     "--retry_max_attempts=1"});  // The 502 below is reported, not retried.
  Subprocess& process = bridge.process();
  const int metrics_port = process.WaitForPortFile(dir.Path("metrics.port"));
  auto channel = bridge.NewChannel();

  ASSERT_TRUE(RunStream(*channel, {MakeRequest({"alice", "bob", "nobody-here"}, kTags)}).status.ok());
  sandbox.SetFaults({{"http_502_count", 1}});
  ASSERT_TRUE(RunStream(*channel, {MakeRequest({"carol"}, kTags)}).status.ok());
  sandbox.SetFaults({{"usersig_expired_count", 1}});
  ASSERT_TRUE(RunStream(*channel, {MakeRequest({"alice"}, kTags)}).status.ok());
  ASSERT_TRUE(RunStream(*channel, {MakeRequest({}, kTags)}).status.ok());  // Refused in-band; the stream goes on.

  const std::string metrics = ScrapeMetrics(metrics_port);
  EXPECT_EQ(
      MetricSample(metrics, R"(grpc_server_handled_total{grpc_code="OK",grpc_method="GetProfiles",)"
                            R"(grpc_service="portraitbridge.profile.v1.ProfileService",grpc_type="bidi_stream"})"),
      4);
  EXPECT_EQ(MetricSample(metrics, "portrait_bridge_invalid_requests_total"), 1);
  EXPECT_EQ(MetricSample(metrics, "portrait_bridge_unread_response_bytes"), 0);
  EXPECT_EQ(MetricSample(metrics, R"(portrait_bridge_accounts_total{result="OK"})"), 3);
  EXPECT_EQ(MetricSample(metrics, R"(portrait_bridge_accounts_total{result="NOT_FOUND"})"), 1);
  EXPECT_EQ(MetricSample(metrics, R"(portrait_bridge_accounts_total{result="UNAVAILABLE"})"), 1);
  EXPECT_EQ(MetricSample(metrics, R"(portrait_bridge_upstream_calls_total{code="0"})"), 2);
  EXPECT_EQ(MetricSample(metrics, R"(portrait_bridge_upstream_calls_total{code="http_502"})"), 1);
  EXPECT_EQ(MetricSample(metrics, R"(portrait_bridge_upstream_calls_total{code="70001"})"), 1);
  EXPECT_EQ(MetricSample(metrics, "portrait_bridge_usersig_renewals_total"), 1);
  EXPECT_EQ(MetricSample(metrics, R"(portrait_bridge_upstream_call_duration_seconds_count{outcome="ok"})"), 2);
  EXPECT_EQ(MetricSample(metrics, R"(portrait_bridge_upstream_call_duration_seconds_count{outcome="http_error"})"), 1);
  EXPECT_EQ(MetricSample(metrics, R"(portrait_bridge_upstream_call_duration_seconds_count{outcome="tencent_error"})"),
            1);
  EXPECT_EQ(
      MetricSample(metrics, R"(grpc_server_handling_seconds_count{grpc_method="GetProfiles",)"
                            R"(grpc_service="portraitbridge.profile.v1.ProfileService",grpc_type="bidi_stream"})"),
      4);
  EXPECT_EQ(MetricSample(metrics, "portrait_bridge_streams_in_flight"), 0);
  EXPECT_EQ(MetricSample(metrics, "portrait_bridge_upstream_calls_in_flight"), 0);
  EXPECT_EQ(metrics.find(kSecretKey), std::string::npos);
}

}  // namespace
}  // namespace portrait_bridge::testing

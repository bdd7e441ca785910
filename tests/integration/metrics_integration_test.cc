// The /metrics endpoint as Prometheus scrapes it, from the real bridge against the real sandbox: the standard
// grpc_server_* series for every method served (the ProfileService's two, health, and an unknown method), the
// lookup latency, the engine's series, build info, and none of prometheus-cpp's own exposer_* series.

#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/integration/stack.h"

namespace portrait_bridge::testing {
namespace {

const std::vector<std::string> kTags = {"Tag_Profile_IM_Nick"};
constexpr char kProfileService[] = "portraitbridge.profile.v1.ProfileService";

// A grpc_server_* series of one method, labels in the order Prometheus prints them (sorted by name).
std::string GrpcSeries(const std::string& name, const std::string& service, const std::string& method,
                       const std::string& type, const std::string& code = "") {
  return absl::StrCat(name, "{", code.empty() ? "" : absl::StrCat("grpc_code=\"", code, "\","), "grpc_method=\"",
                      method, "\",grpc_service=\"", service, "\",grpc_type=\"", type, "\"}");
}

TEST(MetricsEndpointTest, StandardGrpcSeriesEngineSeriesAndNothingElse) {
  Sandbox sandbox;
  TempDir dir;
  // A local cache, so that its series count something.
  Bridge bridge(sandbox.base_url(), {"--metrics_address=127.0.0.1:0", "--metrics_port_file=" + dir.Path("metrics.port"),
                                     "--cache_ttl_ms=60000"});
  const int metrics_port = bridge.process().WaitForPortFile(dir.Path("metrics.port"));
  auto channel = bridge.NewChannel();

  // A stream of three requests, each with accounts of its own.
  constexpr int kStreamRequests = 3;
  const StreamOutcome streamed = RunStream(
      *channel, {MakeRequest(Users(1, 5), kTags), MakeRequest(Users(10, 3), kTags), MakeRequest(Users(20, 2), kTags)});
  ASSERT_TRUE(streamed.status.ok()) << streamed.status.error_message();
  ASSERT_EQ(streamed.results_by_request.size(), 3u);

  // BatchGetProfiles: one answered (twice the stream's first account: one cache hit), one invalid (no accounts).
  auto stub = v1::ProfileService::NewStub(channel);
  v1::BatchGetProfilesRequest batch;
  for (const std::string& account : {"user1", "user40"}) batch.add_accounts(account);
  batch.add_tags(kTags[0]);
  {
    grpc::ClientContext context;
    v1::BatchGetProfilesResponse response;
    ASSERT_TRUE(stub->BatchGetProfiles(&context, batch, &response).ok());
  }
  {
    grpc::ClientContext context;
    v1::BatchGetProfilesRequest invalid;
    invalid.add_tags(kTags[0]);
    v1::BatchGetProfilesResponse response;
    EXPECT_EQ(stub->BatchGetProfiles(&context, invalid, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  // A health check, and a method the server does not know.
  {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(grpc::health::v1::Health::NewStub(channel)->Check(&context, request, &response).ok());
  }
  {
    grpc::GenericStub generic(channel);
    grpc::ClientContext context;
    grpc::Slice slice(batch.SerializeAsString());
    const grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    absl::Mutex mutex;
    std::optional<grpc::Status> status;
    generic.UnaryCall(&context, "/portraitbridge.profile.v1.ProfileService/NoSuchMethod", grpc::StubOptions(), &request,
                      &response, [&](grpc::Status answered) {
                        absl::MutexLock lock(&mutex);
                        status = std::move(answered);
                      });
    absl::MutexLock lock(&mutex);
    mutex.Await(absl::Condition(
        +[](std::optional<grpc::Status>* s) { return s->has_value(); }, &status));
    EXPECT_EQ(status->error_code(), grpc::StatusCode::UNIMPLEMENTED);
  }

  const std::string metrics = ScrapeMetrics(metrics_port);
  const auto sample = [&](const std::string& series) { return MetricSample(metrics, series); };

  // GetProfiles: one stream, OK; each request and each response a message.
  EXPECT_EQ(sample(GrpcSeries("grpc_server_started_total", kProfileService, "GetProfiles", "bidi_stream")), 1);
  EXPECT_EQ(sample(GrpcSeries("grpc_server_handled_total", kProfileService, "GetProfiles", "bidi_stream", "OK")), 1);
  EXPECT_EQ(sample(GrpcSeries("grpc_server_msg_received_total", kProfileService, "GetProfiles", "bidi_stream")),
            kStreamRequests);
  EXPECT_EQ(sample(GrpcSeries("grpc_server_msg_sent_total", kProfileService, "GetProfiles", "bidi_stream")),
            static_cast<double>(streamed.responses.size()));
  EXPECT_EQ(sample(GrpcSeries("grpc_server_handling_seconds_count", kProfileService, "GetProfiles", "bidi_stream")), 1);
  // BatchGetProfiles: two calls, one OK and one InvalidArgument (which sent no message).
  EXPECT_EQ(sample(GrpcSeries("grpc_server_started_total", kProfileService, "BatchGetProfiles", "unary")), 2);
  EXPECT_EQ(sample(GrpcSeries("grpc_server_handled_total", kProfileService, "BatchGetProfiles", "unary", "OK")), 1);
  EXPECT_EQ(
      sample(GrpcSeries("grpc_server_handled_total", kProfileService, "BatchGetProfiles", "unary", "InvalidArgument")),
      1);
  EXPECT_EQ(sample(GrpcSeries("grpc_server_msg_received_total", kProfileService, "BatchGetProfiles", "unary")), 2);
  EXPECT_EQ(sample(GrpcSeries("grpc_server_msg_sent_total", kProfileService, "BatchGetProfiles", "unary")), 1);
  EXPECT_EQ(sample(GrpcSeries("grpc_server_handling_seconds_count", kProfileService, "BatchGetProfiles", "unary")), 2);
  // Every code of every method exists from the start, at zero.
  EXPECT_EQ(sample(GrpcSeries("grpc_server_handled_total", kProfileService, "BatchGetProfiles", "unary",
                              "FailedPrecondition")),
            0);
  // Health and the unknown method.
  EXPECT_EQ(sample(GrpcSeries("grpc_server_handled_total", "grpc.health.v1.Health", "Check", "unary", "OK")), 1);
  EXPECT_EQ(sample(GrpcSeries("grpc_server_handled_total", "grpc.health.v1.Health", "Watch", "server_stream", "OK")),
            0);
  EXPECT_EQ(sample(GrpcSeries("grpc_server_started_total", "grpc.reflection.v1.ServerReflection",
                              "ServerReflectionInfo", "bidi_stream")),
            0);
  EXPECT_EQ(sample(GrpcSeries("grpc_server_started_total", "grpc.reflection.v1alpha.ServerReflection",
                              "ServerReflectionInfo", "bidi_stream")),
            0);
  EXPECT_EQ(sample(GrpcSeries("grpc_server_handled_total", "unknown", "unknown", "bidi_stream", "Unimplemented")), 1);
  EXPECT_FALSE(absl::StrContains(metrics, "NoSuchMethod"));

  // Lookups: the stream's three requests and the answered BatchGetProfiles call.
  EXPECT_EQ(sample(R"(portrait_bridge_lookup_duration_seconds_count{method="GetProfiles"})"), kStreamRequests);
  EXPECT_EQ(sample(R"(portrait_bridge_lookup_duration_seconds_count{method="BatchGetProfiles"})"), 1);

  // The engine: one histogram sample per upstream call the sandbox saw, filled with every account asked upstream
  // (11 distinct; user1 came from the cache the second time).
  const int upstream_calls = sandbox.Stats()["calls"].get<int>();
  EXPECT_GT(upstream_calls, 0);
  EXPECT_EQ(sample("portrait_bridge_upstream_call_accounts_count"), upstream_calls);
  EXPECT_EQ(sample("portrait_bridge_upstream_call_accounts_sum"), 11);
  EXPECT_EQ(sample(R"(portrait_bridge_upstream_call_duration_seconds_count{outcome="ok"})"), upstream_calls);
  EXPECT_EQ(sample(R"(portrait_bridge_cache_accounts_total{result="hit"})"), 1);
  EXPECT_EQ(sample(R"(portrait_bridge_cache_accounts_total{result="miss"})"), 11);
  EXPECT_EQ(sample("portrait_bridge_pending_accounts"), 0);
  EXPECT_GT(sample("portrait_bridge_budget_calls_per_second"), 0);
  EXPECT_EQ(MetricSum(metrics, "portrait_bridge_upstream_retries_total"), 0);
  EXPECT_EQ(sample(R"(portrait_bridge_upstream_retries_total{reason="throttled"})"), 0);

  // Build info, and nothing that is not the bridge's: no exposer_* series, no NaN.
  bool build_info = false;
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_FALSE(absl::StartsWith(line, "exposer_")) << line;
    EXPECT_FALSE(absl::StrContains(line, "Nan") || absl::StrContains(line, "NaN")) << line;
    if (absl::StartsWith(line, "portrait_bridge_build_info{")) {
      build_info = true;
      EXPECT_TRUE(absl::StrContains(line, "grpc_version=\"1.")) << line;
      EXPECT_TRUE(absl::EndsWith(line, " 1")) << line;
    }
  }
  EXPECT_TRUE(build_info) << metrics;
}

// A stream the caller cancels while its lookup waits upstream is still counted, once, as Canceled, and its
// handling time observed: started and handled agree.
TEST(MetricsEndpointTest, ACancelledStreamIsHandledCanceled) {
  Sandbox sandbox;
  TempDir dir;
  Bridge bridge(sandbox.base_url(),
                {"--metrics_address=127.0.0.1:0", "--metrics_port_file=" + dir.Path("metrics.port")});
  const int metrics_port = bridge.process().WaitForPortFile(dir.Path("metrics.port"));
  sandbox.SetFaults({{"latency_ms", 3000}});
  auto stub = v1::ProfileService::NewStub(bridge.NewChannel());
  grpc::ClientContext context;
  auto stream = stub->GetProfiles(&context);
  ASSERT_TRUE(stream->Write(MakeRequest({"user1"}, kTags)));
  ASSERT_TRUE(WaitUntil([&] {
    return MetricSample(ScrapeMetrics(metrics_port), "portrait_bridge_upstream_calls_in_flight") == 1;
  })) << "the lookup never reached the upstream";
  context.TryCancel();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);

  const std::string canceled =
      GrpcSeries("grpc_server_handled_total", kProfileService, "GetProfiles", "bidi_stream", "Canceled");
  ASSERT_TRUE(WaitUntil([&] { return MetricSample(ScrapeMetrics(metrics_port), canceled) == 1; }))
      << ScrapeMetrics(metrics_port);
  const std::string metrics = ScrapeMetrics(metrics_port);
  EXPECT_EQ(
      MetricSample(metrics, GrpcSeries("grpc_server_started_total", kProfileService, "GetProfiles", "bidi_stream")), 1);
  EXPECT_EQ(MetricSum(metrics, "grpc_server_handled_total"), MetricSum(metrics, "grpc_server_started_total"));
  EXPECT_EQ(MetricSample(metrics, GrpcSeries("grpc_server_handling_seconds_count", kProfileService, "GetProfiles",
                                             "bidi_stream")),
            1);
  EXPECT_EQ(MetricSample(metrics, R"(portrait_bridge_lookup_duration_seconds_count{method="GetProfiles"})"), 0);
  EXPECT_EQ(MetricSample(metrics, "portrait_bridge_streams_in_flight"), 0);
}

}  // namespace
}  // namespace portrait_bridge::testing

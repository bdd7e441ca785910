// The metrics' own logic, read back as Prometheus text: the standard gRPC series' labels and bounds, and the
// bridge's series whose values are derived (outcomes, retry reasons, counters sampled at each scrape). The hooks
// firing in a real server are tested end to end in tests/integration/metrics_integration_test.cc.

#include "bridge/service/metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bridge/service/grpc_server_metrics.h"
#include "portraitbridge/profile/v1/profile.grpc.pb.h"

namespace portrait_bridge {
namespace {

std::string Scrape(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

// The value of the line that starts with `series ` (name and labels as printed); -1 when there is none.
double Sample(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (absl::StartsWith(line, series + " ")) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

int CountLines(const std::string& text, const std::string& prefix) {
  int count = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) count += absl::StartsWith(line, prefix) ? 1 : 0;
  return count;
}

TEST(GrpcCodeLabelTest, SpellsEveryCodeAsGo) {
  // Go's codes.Code.String(), which stock dashboards and alerts match on.
  const char* const go[] = {"OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
                            "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
                            "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
                            "DataLoss", "Unauthenticated"};
  for (int code = 0; code < kGrpcStatusCodes; ++code) {
    EXPECT_STREQ(GrpcCodeLabel(static_cast<grpc::StatusCode>(code)), go[code]) << code;
  }
}

TEST(GrpcServerMetricsTest, EveryServedMethodWithItsTypeAndEveryCodeExistsAtZero) {
  prometheus::Registry registry;
  const std::string service = portraitbridge::profile::v1::ProfileService::service_full_name();
  GrpcServerMetrics metrics(registry, {service, "no.such.Service"});
  const std::string text = Scrape(registry);

  EXPECT_EQ(Sample(text, absl::StrCat(R"(grpc_server_started_total{grpc_method="GetProfiles",grpc_service=")", service,
                                      R"(",grpc_type="bidi_stream"})")),
            0);
  EXPECT_EQ(Sample(text, absl::StrCat(R"(grpc_server_started_total{grpc_method="BatchGetProfiles",grpc_service=")",
                                      service, R"(",grpc_type="unary"})")),
            0);
  EXPECT_EQ(Sample(text, absl::StrCat(R"(grpc_server_handled_total{grpc_code="Unauthenticated",)",
                                      R"(grpc_method="BatchGetProfiles",grpc_service=")", service,
                                      R"(",grpc_type="unary"})")),
            0);
  // The two methods and "unknown", each with the 17 codes; the service that is not compiled in adds nothing.
  EXPECT_EQ(CountLines(text, "grpc_server_handled_total{"), 3 * 17);
  EXPECT_EQ(CountLines(text, "grpc_server_msg_sent_total{"), 3);
  EXPECT_EQ(CountLines(text, "grpc_server_handling_seconds_count{"), 3);
  EXPECT_FALSE(absl::StrContains(text, "no.such.Service"));
}

TEST(GrpcServerMetricsTest, MethodsNotServedShareTheUnknownSeries) {
  prometheus::Registry registry;
  const std::string service = portraitbridge::profile::v1::ProfileService::service_full_name();
  GrpcServerMetrics metrics(registry, {service});
  const GrpcServerMetrics::MethodSeries& unknown = metrics.SeriesOf("/x.Y/Z");
  EXPECT_EQ(&metrics.SeriesOf("/other.Service/Method"), &unknown);
  EXPECT_EQ(&metrics.SeriesOf(nullptr), &unknown);
  EXPECT_NE(&metrics.SeriesOf(absl::StrCat("/", service, "/GetProfiles").c_str()), &unknown);

  unknown.started->Increment();
  unknown.handled[grpc::StatusCode::UNIMPLEMENTED]->Increment();
  const std::string text = Scrape(registry);
  EXPECT_EQ(Sample(text, R"(grpc_server_started_total{grpc_method="unknown",grpc_service="unknown",)"
                         R"(grpc_type="bidi_stream"})"),
            1);
  EXPECT_EQ(Sample(text, R"(grpc_server_handled_total{grpc_code="Unimplemented",grpc_method="unknown",)"
                         R"(grpc_service="unknown",grpc_type="bidi_stream"})"),
            1);
}

TEST(GrpcServerMetricsTest, ACallReportCountsTheStartEachMessageAndOneStatus) {
  prometheus::Registry registry;
  const std::string service = portraitbridge::profile::v1::ProfileService::service_full_name();
  GrpcServerMetrics metrics(registry, {service});
  const std::string method = absl::StrCat("/", service, "/GetProfiles");
  const GrpcServerMetrics::MethodSeries& series = metrics.ReportedByHandler(method);
  EXPECT_EQ(&series, &metrics.SeriesOf(method.c_str()));
  EXPECT_TRUE(series.reported_by_handler);
  EXPECT_FALSE(metrics.SeriesOf(absl::StrCat("/", service, "/BatchGetProfiles").c_str()).reported_by_handler);
  // A method that is not served is not marked: its calls stay with the interceptor, under "unknown".
  EXPECT_EQ(&metrics.ReportedByHandler("/x.Y/Z"), &metrics.SeriesOf("/x.Y/Z"));
  EXPECT_FALSE(metrics.SeriesOf("/x.Y/Z").reported_by_handler);

  {
    GrpcServerMetrics::CallReport report(series);
    report.Received();
    report.Received();
    report.Sent();
    report.Handled(grpc::StatusCode::NOT_FOUND);
    report.Handled(grpc::StatusCode::OK);  // A status is sent once; a second one is not counted.
  }
  { GrpcServerMetrics::CallReport never_handled(series); }  // Its transport went away: counted as cancelled.

  const std::string text = Scrape(registry);
  const std::string labels =
      absl::StrCat(R"(grpc_method="GetProfiles",grpc_service=")", service, R"(",grpc_type="bidi_stream"})");
  EXPECT_EQ(Sample(text, absl::StrCat("grpc_server_started_total{", labels)), 2);
  EXPECT_EQ(Sample(text, absl::StrCat("grpc_server_msg_received_total{", labels)), 2);
  EXPECT_EQ(Sample(text, absl::StrCat("grpc_server_msg_sent_total{", labels)), 1);
  EXPECT_EQ(Sample(text, absl::StrCat(R"(grpc_server_handled_total{grpc_code="NotFound",)", labels)), 1);
  EXPECT_EQ(Sample(text, absl::StrCat(R"(grpc_server_handled_total{grpc_code="OK",)", labels)), 0);
  EXPECT_EQ(Sample(text, absl::StrCat(R"(grpc_server_handled_total{grpc_code="Canceled",)", labels)), 1);
  EXPECT_EQ(Sample(text, absl::StrCat("grpc_server_handling_seconds_count{", labels)), 2);
}

TEST(BridgeMetricsTest, UpstreamAttemptsByBoundedOutcomeAndRetriesByReason) {
  BridgeMetrics metrics("1.2.3", "1.51.1", "3.21.12");
  for (const char* code :
       {"0", "0", "60007", "70001", "http_502", "http_429", "transport_error", "malformed_body", "cancelled"}) {
    metrics.OnAttemptStarted();
    metrics.OnAttempt(code, absl::Milliseconds(3));
  }
  metrics.OnRetry("throttled", absl::Milliseconds(10));
  metrics.OnRetry("http_error", absl::Milliseconds(10));
  metrics.OnRetry("http_error", absl::Milliseconds(10));
  const std::string text = Scrape(*metrics.registry());

  const auto attempts = [&](const char* outcome) {
    return Sample(text,
                  absl::StrCat(R"(portrait_bridge_upstream_call_duration_seconds_count{outcome=")", outcome, R"("})"));
  };
  EXPECT_EQ(attempts("ok"), 2);
  EXPECT_EQ(attempts("tencent_error"), 2);
  EXPECT_EQ(attempts("http_error"), 2);
  EXPECT_EQ(attempts("transport_error"), 1);
  EXPECT_EQ(attempts("malformed_body"), 1);
  EXPECT_EQ(attempts("cancelled"), 1);
  EXPECT_EQ(CountLines(text, "portrait_bridge_upstream_call_duration_seconds_count{"), 6);
  EXPECT_EQ(Sample(text, R"(portrait_bridge_upstream_retries_total{reason="throttled"})"), 1);
  EXPECT_EQ(Sample(text, R"(portrait_bridge_upstream_retries_total{reason="http_error"})"), 2);
  EXPECT_EQ(Sample(text, R"(portrait_bridge_upstream_retries_total{reason="transport_error"})"), 0);
  EXPECT_EQ(Sample(text, "portrait_bridge_upstream_calls_in_flight"), 0);
  EXPECT_EQ(Sample(text, R"(portrait_bridge_build_info{grpc_version="1.51.1",protobuf_version="3.21.12",)"
                         R"(version="1.2.3"})"),
            1);
}

TEST(BridgeMetricsTest, SampledSeriesFollowTheirSourcesAtEachRefresh) {
  BridgeMetrics metrics;
  ProfileCache::Stats cache;
  int64_t pending = 0;
  double rate = 0;
  metrics.SetSampledSources({[&] { return rate; }, [&] { return pending; }, [&] { return cache; }});

  cache = {.hits = 3, .misses = 2, .evictions = 1, .entries = 40};
  pending = 7;
  rate = 200;
  metrics.RefreshSampled();
  cache = {.hits = 5, .misses = 2, .evictions = 4, .entries = 38};
  pending = 0;
  rate = 100;  // Throttled: halved.
  // Before a refresh the series keep the last sampled values.
  EXPECT_EQ(Sample(Scrape(*metrics.registry()), "portrait_bridge_pending_accounts"), 7);
  metrics.RefreshSampled();
  metrics.RefreshSampled();  // Nothing new: the counters stay.

  const std::string text = Scrape(*metrics.registry());
  EXPECT_EQ(Sample(text, R"(portrait_bridge_cache_accounts_total{result="hit"})"), 5);
  EXPECT_EQ(Sample(text, R"(portrait_bridge_cache_accounts_total{result="miss"})"), 2);
  EXPECT_EQ(Sample(text, "portrait_bridge_cache_evictions_total"), 4);
  EXPECT_EQ(Sample(text, "portrait_bridge_cache_entries"), 38);
  EXPECT_EQ(Sample(text, "portrait_bridge_pending_accounts"), 0);
  EXPECT_EQ(Sample(text, "portrait_bridge_budget_calls_per_second"), 100);

  // Sources cleared (the parts are going away): a refresh reads nothing and keeps the values.
  metrics.SetSampledSources({});
  metrics.RefreshSampled();
  EXPECT_EQ(Sample(Scrape(*metrics.registry()), "portrait_bridge_cache_evictions_total"), 4);
}

TEST(BridgeMetricsTest, ThreadLagPerNamedThread) {
  BridgeMetrics metrics;
  const auto timers = metrics.ThreadLagRecorder("timer-queue");
  const auto loop = metrics.ThreadLagRecorder("curl-loop");
  // Both series exist from the start, at zero.
  std::string text = Scrape(*metrics.registry());
  EXPECT_EQ(Sample(text, R"(portrait_bridge_thread_lag_seconds_count{thread="curl-loop"})"), 0);
  timers(absl::Microseconds(80));
  timers(absl::Milliseconds(12));
  loop(absl::Microseconds(300));
  text = Scrape(*metrics.registry());
  EXPECT_EQ(Sample(text, R"(portrait_bridge_thread_lag_seconds_count{thread="timer-queue"})"), 2);
  EXPECT_EQ(Sample(text, R"(portrait_bridge_thread_lag_seconds_bucket{thread="timer-queue",le="0.0001"})"), 1);
  EXPECT_EQ(Sample(text, R"(portrait_bridge_thread_lag_seconds_bucket{thread="timer-queue",le="0.01"})"), 1);
  EXPECT_EQ(Sample(text, R"(portrait_bridge_thread_lag_seconds_bucket{thread="timer-queue",le="0.025"})"), 2);
  EXPECT_EQ(Sample(text, R"(portrait_bridge_thread_lag_seconds_count{thread="curl-loop"})"), 1) << text;
}

TEST(BridgeMetricsTest, LookupsAndBatchFill) {
  BridgeMetrics metrics;
  metrics.OnLookupAnswered("GetProfiles", absl::Milliseconds(4));
  metrics.OnLookupAnswered("GetProfiles", absl::Milliseconds(400));
  metrics.OnLookupAnswered("BatchGetProfiles", absl::Milliseconds(2));
  metrics.OnCallSent(100);
  metrics.OnCallSent(7);
  metrics.OnBudgetExhausted();
  const std::string text = Scrape(*metrics.registry());
  EXPECT_EQ(Sample(text, R"(portrait_bridge_lookup_duration_seconds_count{method="GetProfiles"})"), 2);
  EXPECT_EQ(Sample(text, R"(portrait_bridge_lookup_duration_seconds_bucket{method="GetProfiles",le="0.005"})"), 1);
  EXPECT_EQ(Sample(text, R"(portrait_bridge_lookup_duration_seconds_count{method="BatchGetProfiles"})"), 1);
  EXPECT_EQ(Sample(text, "portrait_bridge_upstream_call_accounts_count"), 2);
  EXPECT_EQ(Sample(text, "portrait_bridge_upstream_call_accounts_sum"), 107);
  EXPECT_EQ(Sample(text, R"(portrait_bridge_upstream_call_accounts_bucket{le="10"})"), 1) << text;
  EXPECT_EQ(Sample(text, "portrait_bridge_budget_exhausted_total"), 1);
}

}  // namespace
}  // namespace portrait_bridge

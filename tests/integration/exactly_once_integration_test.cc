// Exactly once under upstream faults: a sustained load (four concurrent streams at a time, over ten thousand
// account entries in all, distinct accounts, the same account twice or more in one request, accounts every stream
// asks for, unknown accounts) runs through the real bridge while the real sandbox fails in every way, one fault
// class after another: stopped and restarted, killed and restarted, HTTP 502s, dropped connections, truncated
// bodies, non-JSON bodies, slow answers, answers slower than the attempt timeout. Every stream ends OK and every
// entry of every request is answered exactly once (failed ones with their UNAVAILABLE status); the bridge lives on.
// Each phase waits for what the processes report (the bridge's metrics, the sandbox's fault counters, answers
// arriving), never for a fixed time.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <iostream>
#include <set>
#include <string>

#include "tests/integration/stack.h"
#include "tests/support/exactly_once_load.h"
#include "tests/support/sanitizers.h"

namespace portrait_bridge::testing {
namespace {

constexpr int kFaultCount = 30;  // Calls answered by each counted fault (502, drop, truncated, non-JSON).
constexpr int kAttemptTimeoutMs = 1000;

// The sample of `series` in the bridge's /metrics; 0 while the series does not exist yet (a counter with a label
// appears at its first increment).
double Sample(int metrics_port, const std::string& series) {
  const std::string metrics = ScrapeMetrics(metrics_port);
  for (size_t at = 0; (at = metrics.find(series + " ", at)) != std::string::npos; ++at) {
    if (at == 0 || metrics[at - 1] == '\n') return std::stod(metrics.substr(at + series.size() + 1));
  }
  return 0;
}

TEST(ExactlyOnceUnderFaultsTest, EveryEntryIsAnsweredOnceThroughEveryUpstreamFault) {
  // Enough sandbox workers for every connection the bridge may open (see outage_integration_test.cc), and for
  // calls held by the latency phases.
  Sandbox sandbox({"--threads=128"});
  TempDir dir;
  // Ten accounts per upstream call: many calls, so that every fault lands on some; short backoffs; an attempt
  // timeout the slowest phase exceeds.
  Bridge bridge(sandbox.base_url(),
                {"--max_accounts_per_call=10", "--retry_initial_backoff_ms=10", "--retry_max_backoff_ms=200",
                 "--attempt_timeout_ms=" + std::to_string(kAttemptTimeoutMs), "--metrics_address=127.0.0.1:0",
                 "--metrics_port_file=" + dir.Path("metrics.port")});
  const int metrics_port = bridge.process().WaitForPortFile(dir.Path("metrics.port"));
  auto transport_errors = [&] {
    return Sample(metrics_port, R"(portrait_bridge_upstream_calls_total{code="transport_error"})");
  };

  ExactlyOnceOptions options;
  options.target = "127.0.0.1:" + std::to_string(bridge.port());
  options.streams = 4;
  options.max_outstanding_per_stream = 300;
  options.entries_per_stream = 1500;  // Streams end and new ones start while the faults go on.
  options.stream_deadline = std::chrono::seconds(60);
  ExactlyOnceLoad load(options);
  const auto start = std::chrono::steady_clock::now();
  auto log = [&](const std::string& phase) {
    std::cout << "["
              << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count()
              << " ms] " << phase << ": sent " << load.sent() << ", answered " << load.answered() << " (OK "
              << load.answered_ok() << ", failed " << load.answered_failed() << ")" << std::endl;
  };
  // The load goes on: `more` further accounts answered OK (so the upstream is really back, not merely reachable).
  // False at once if the load has ended (a stream failed: the report says how).
  auto progresses = [&](int64_t more) {
    const int64_t target = load.answered_ok() + more;
    return WaitUntil([&] { return load.answered_ok() >= target || !load.running(); }, std::chrono::seconds(30)) &&
           load.answered_ok() >= target;
  };
  auto report_so_far = [&] { return "\n" + load.Report().Summary(); };

  load.Start();
  ASSERT_TRUE(progresses(2000)) << "no load got through before any fault" << report_so_far();
  log("healthy");

  // Stopped (SIGTERM: open connections are closed, calls in progress answered) and started again on its port.
  {
    const double before = transport_errors();
    sandbox.Stop(SIGTERM);
    EXPECT_TRUE(WaitUntil([&] { return transport_errors() >= before + 10; }))
        << "the bridge never met the stopped sandbox";
    log("sandbox stopped");
    sandbox.Restart();
    ASSERT_TRUE(progresses(2000)) << "no answer after the sandbox was restarted" << report_so_far();
    log("sandbox restarted");
  }

  // Killed (SIGKILL) while answering: slow answers keep calls in flight, so connections die under them.
  {
    sandbox.SetFaults({{"latency_ms", 200}});
    EXPECT_TRUE(WaitUntil([&] { return sandbox.Stats()["in_flight"].get<int64_t>() >= 5; }))
        << "no calls in flight to kill";
    const double before = transport_errors();
    sandbox.Stop(SIGKILL);
    EXPECT_TRUE(WaitUntil([&] { return transport_errors() >= before + 10; }))
        << "the bridge never met the killed sandbox";
    log("sandbox killed");
    sandbox.Restart();  // Without the latency: a new process starts with no faults.
    ASSERT_TRUE(progresses(2000)) << "no answer after the sandbox was killed and restarted" << report_so_far();
    log("sandbox restarted");
  }

  // Each counted fault, on the sandbox started last (whose counters the end of the test reads): set, consumed to
  // the last one, then the load still gets through.
  for (const char* fault : {"http_502_count", "drop_connection_count", "truncated_count", "non_json_count"}) {
    sandbox.SetFaults({{fault, kFaultCount}});
    EXPECT_TRUE(WaitUntil([&] { return sandbox.Faults()[fault].get<int64_t>() == 0; }, std::chrono::seconds(30)))
        << fault << " not consumed: " << sandbox.Faults();
    ASSERT_TRUE(progresses(1000)) << "no answer after " << fault << report_so_far();
    log(fault);
  }

  // Slow answers within the attempt timeout: answered late, not failed.
  {
    auto slow_calls = [&] {
      const std::string metrics = ScrapeMetrics(metrics_port);
      double slow = 0;  // Every outcome's attempts over 0.25 s (prometheus-cpp prints le last).
      for (const std::string outcome :
           {"ok", "tencent_error", "http_error", "transport_error", "malformed_body", "cancelled"}) {
        const std::string labels = "{outcome=\"" + outcome + "\"";
        slow +=
            MetricSample(metrics, "portrait_bridge_upstream_call_duration_seconds_count" + labels + "}") -
            MetricSample(metrics, "portrait_bridge_upstream_call_duration_seconds_bucket" + labels + ",le=\"0.25\"}");
      }
      return slow;
    };
    const double before = slow_calls();
    sandbox.SetFaults({{"latency_ms", 300}});
    EXPECT_TRUE(WaitUntil([&] { return slow_calls() >= before + 50; }, std::chrono::seconds(30)))
        << "no upstream call took 300 ms";
    sandbox.SetFaults(nlohmann::json::object());
    ASSERT_TRUE(progresses(1000)) << "no answer after the slow answers" << report_so_far();
    log("latency_ms 300");
  }

  // Answers slower than the attempt timeout: the bridge gives up on them (UPSTREAM_TIMEOUT), retries, and goes on.
  {
    const double before = transport_errors();
    sandbox.SetFaults({{"latency_ms", kAttemptTimeoutMs + 500}});
    EXPECT_TRUE(WaitUntil([&] { return transport_errors() >= before + 20; }, std::chrono::seconds(30)))
        << "no upstream attempt timed out";
    sandbox.SetFaults(nlohmann::json::object());
    ASSERT_TRUE(progresses(1000)) << "no answer after the timeouts" << report_so_far();
    log("latency_ms " + std::to_string(kAttemptTimeoutMs + 500));
  }

  load.Stop();
  log("load stopped");
  const ExactlyOnceReport report = load.Report();
  std::cout << report.Summary() << std::endl;

  // Exactly once: every entry asked for answered by one result, and none answered twice or left out.
  EXPECT_GE(report.expected, 10000) << "thousands of entries in all";
  EXPECT_EQ(report.answered, report.expected);
  EXPECT_EQ(report.duplicates, 0);
  EXPECT_EQ(report.missing, 0);
  EXPECT_EQ(report.wrong, 0) << "an OK result carried another account's profile";
  EXPECT_EQ(report.bad_completions, 0) << "a request without exactly one request_complete, or results after it";
  EXPECT_GE(report.streams, 8) << "streams ended and new ones started during the faults";
  EXPECT_EQ(report.stream_statuses, (std::map<std::string, int64_t>{{"OK", report.streams}}))
      << "upstream failures are reported per account; no stream may end for them";
  // Failed accounts carry the README's statuses for upstream failures, nothing else.
  const std::set<std::string> allowed = {"OK", "NOT_FOUND", "UNAVAILABLE", "RESOURCE_EXHAUSTED"};
  for (const auto& [code, count] : report.result_codes) {
    EXPECT_EQ(allowed.count(code), 1u) << count << " results " << code;
  }
  EXPECT_GT(report.result_codes.count("UNAVAILABLE"), 0u) << "the faults failed no account at all";
  EXPECT_GT(report.result_codes.count("OK") != 0 ? report.result_codes.at("OK") : 0, report.expected / 2)
      << "most entries answered with their profile";

  // The bridge lives on, with nothing left in flight; every fault was served to it, to the count.
  EXPECT_TRUE(bridge.process().Running()) << bridge.process().Output();
  EXPECT_EQ(Sample(metrics_port, "portrait_bridge_streams_in_flight"), 0);
  EXPECT_EQ(Sample(metrics_port, "portrait_bridge_upstream_calls_in_flight"), 0);
  EXPECT_EQ(Sample(metrics_port, R"(grpc_server_handled_total{grpc_code="OK",grpc_method="GetProfiles",)"
                                 R"(grpc_service="portraitbridge.profile.v1.ProfileService",grpc_type="bidi_stream"})"),
            report.streams);
  EXPECT_GT(MetricSum(ScrapeMetrics(metrics_port), "portrait_bridge_upstream_retries_total"), 0);
  const nlohmann::json stats = sandbox.Stats();
  for (const char* fault : {"http_502", "drop_connection", "truncated", "non_json"}) {
    EXPECT_EQ(stats["faults"][fault].get<int64_t>(), kFaultCount) << fault << ": " << stats;
  }
  // Not in a sanitizer build: a Debug ASan bridge sends its budgeted calls late and bunched after the sandbox
  // restarts, and the sandbox then counts a few of them over its window (tests/support/sanitizers.h).
  if (kMeasuresResourcesAndThroughput) {
    EXPECT_EQ(stats["throttled"].get<int64_t>(), 0) << "the bridge must never exceed upstream's rate" << stats;
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(90));
  RecordProperty("entries", std::to_string(report.expected));
  RecordProperty("seconds", std::to_string(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count()));
}

}  // namespace
}  // namespace portrait_bridge::testing

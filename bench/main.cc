// portrait-bench: drives the bridge with many concurrent gRPC callers and, as the baseline, calls the same sandbox
// directly over signed REST, then prints a table per scenario (bench/README.md).

#include <curl/curl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/grpc_load.h"
#include "bench/measure.h"
#include "bench/plot.h"
#include "bench/rest_load.h"
#include "bench/stack.h"
#include "bench/stalls.h"
#include "bridge/core/options.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/support/redis_server.h"

namespace portrait_bridge::bench {
namespace {

using ::portrait_bridge::testing::RedisServer;

// In the order a full run takes them; --scenario names one.
constexpr std::array<const char*, 6> kScenarioNames = {"1", "1b", "2", "3", "4", "5"};
// Tencent's limit on portrait_get per SDKAppID: the cap of every capped sandbox, and the bridge's default budget.
constexpr int kCallsPerSecond = 200;
// Tencent's limit on accounts per portrait_get call: with kCallsPerSecond, the profiles/s ceiling.
constexpr int kMaxAccountsPerCall = 100;
// The windows of the wire check: the sandbox's own (1 s), and one 5% longer to show how close to the edge the
// bridges spaced their calls.
constexpr std::array<int64_t, 2> kWireWindowsMs = {1000, 1050};
// Scenario 5: bridges sharing one budget, and the share of the callers on the first (an uneven load, which a
// static split of the budget serves badly).
constexpr int kS5Bridges = 3;
constexpr double kS5FirstBridgeShare = 0.8;
// The open loop (scenario 1b): lookups outstanding beyond this are dropped and counted, never slowed down; and the
// generator's lag (intended arrival -> sent) at p99 above which a run is flagged, its latencies then partly the
// generator's own.
constexpr int64_t kOpenLoopMaxOutstanding = 20000;
constexpr double kMaxGeneratorLagMs = 5;
// Scenario 1b's targets (issue 9): p99 and, where set, p999 latency from intended arrival at a rate.
struct OpenLoopTarget {
  double rate_per_s;
  double p99_ms;
  double p999_ms;  // 0: no target
};
constexpr std::array<OpenLoopTarget, 3> kS1bTargets = {{{500, 10, 0}, {10000, 10, 0}, {18000, 25, 50}}};
// How long a load may take to finish once stopped (answers still coming) before what is left is cancelled.
constexpr std::chrono::seconds kDrain{10};

struct Options {
  std::string scenario;  // Empty: all.
  bool quick = false;
  double warmup_s = 2, duration_s = 10, low_load_s = 3;
  int s1_callers = 500, s2_callers = 50, s3_callers = 50, s4_streams = 10000, s5_callers = 500;
  std::vector<double> s1b_rates = {500, 10000, 18000};
  double s1b_duration_s = 15;
  // One connection, as a service keeps one channel per target; 64 streams, so that the bridge's 1,000 accounts in
  // flight per stream (max_inflight_accounts_per_stream) bind only past the generator's own cap of 20,000.
  int s1b_streams = 64, s1b_channels = 1, s1b_rest_connections = 128;
  uint64_t seed = 1;
  int channels = 8;
  int rest_threads = 2;
  std::vector<std::string> tags = {"Tag_Profile_IM_Nick", "Tag_Profile_IM_Gender", "Tag_Profile_IM_BirthDay",
                                   "Tag_Profile_IM_Level"};
  std::vector<std::string> bridge_flags;
  std::string bridge_binary = BENCH_BRIDGE_BINARY;
  std::string sandbox_binary = BENCH_SANDBOX_BINARY;
  std::string redis_binary;  // Empty: redis-server from PATH.
  std::string json_out;
  std::string plots_dir = BENCH_PLOTS_DIR;
};

using B = OptionBuilder<Options>;

// A count of callers, streams or connections.
Option<Options> Count(std::string name, int64_t min, int64_t max, std::string help, int Options::*field) {
  return B::Integer(std::move(name), "", min, max, std::move(help), Field(field));
}

// A length of time in seconds (fractions allowed); only a warm-up may be zero.
Option<Options> Seconds(std::string name, bool zero_allowed, std::string help, double Options::*field) {
  return B::Number(std::move(name), "", 0, 86400, /*min_exclusive=*/!zero_allowed, std::move(help), Field(field));
}

// The flags, one line each; the defaults are Options' initial values (--help prints them).
const OptionTable<Options>& BenchTable() {
  static const auto* table = new OptionTable<Options>(
      OptionSources{/*env_prefix=*/"", /*config_file=*/false, /*defaults_from_target=*/true, /*error_prefix=*/""},
      {
          B::String("scenario", "", "run scenario N only (1, 1b, 2, 3, 4 or 5); default: all, in that order",
                    Field(&Options::scenario),
                    [](absl::string_view name) {
                      return name.empty() || std::find(kScenarioNames.begin(), kScenarioNames.end(), name) !=
                                                 kScenarioNames.end()
                                 ? absl::OkStatus()
                                 : absl::InvalidArgumentError("must be one of 1, 1b, 2, 3, 4, 5");
                    }),
          B::Bool("quick", "",
                  "smoke mode: 1 s warm-up, 3 s measurement (1b too), 1 s low-load runs, 2,000 idle streams (each "
                  "unless given)",
                  Field(&Options::quick)),
          Seconds("warmup_s", /*zero_allowed=*/true, "warm-up before each measurement, seconds", &Options::warmup_s),
          Seconds("duration_s", /*zero_allowed=*/false, "measurement window, seconds", &Options::duration_s),
          Seconds("low_load_s", /*zero_allowed=*/false, "each low-load run of scenario 2, seconds",
                  &Options::low_load_s),
          Count("s1_callers", 1, 1000000, "scenario 1 callers", &Options::s1_callers),
          Count("s2_callers", 1, 1000000, "scenario 2 callers", &Options::s2_callers),
          Count("s3_callers", 1, 1000000, "scenario 3 callers", &Options::s3_callers),
          Count("s4_streams", 1, 10000000, "scenario 4 idle streams", &Options::s4_streams),
          Count("s5_callers", kS5Bridges, 1000000, "scenario 5 callers, 80% on the first of its three bridges",
                &Options::s5_callers),
          B::List(
              "s1b_rates", "", "scenario 1b open-loop lookup rates per second, one window each",
              [](std::vector<std::string> texts, Options& options) {
                if (texts.empty()) return absl::InvalidArgumentError("needs at least one rate");
                options.s1b_rates.clear();
                for (const std::string& text : texts) {
                  absl::StatusOr<double> rate = ParseNumberOption(text, 0, 1e7, /*min_exclusive=*/true);
                  if (!rate.ok()) return rate.status();
                  options.s1b_rates.push_back(*rate);
                }
                return absl::OkStatus();
              },
              [](const Options& options) { return absl::StrJoin(options.s1b_rates, ","); }),
          Seconds("s1b_duration_s", /*zero_allowed=*/false, "scenario 1b window per rate, seconds",
                  &Options::s1b_duration_s),
          Count("s1b_streams", 1, 100000, "scenario 1b long-lived GetProfiles streams the lookups are spread over",
                &Options::s1b_streams),
          Count("s1b_channels", 1, 10000, "scenario 1b gRPC connections the streams are spread over",
                &Options::s1b_channels),
          Count("s1b_rest_connections", 1, 100000, "scenario 1b direct REST connection pool (at least --rest_threads)",
                &Options::s1b_rest_connections),
          B::Integer("seed", "", 0, (int64_t{1} << 53) - 1, "seed of the open-loop arrivals and accounts",
                     Field(&Options::seed)),
          Count("channels", 1, 10000, "gRPC connections for the callers", &Options::channels),
          Count("rest_threads", 1, 1024, "curl multi threads of the REST baseline", &Options::rest_threads),
          B::Strings("tags", "", "tags asked", Field(&Options::tags)),
          B::Repeated("bridge_flag", "extra bridge flag for every scenario, e.g. --k=v", Field(&Options::bridge_flags)),
          B::String("bridge_binary", "", "the bridge to run", Field(&Options::bridge_binary)),
          B::String("sandbox_binary", "", "the sandbox to run", Field(&Options::sandbox_binary)),
          B::String("redis_binary", "", "redis-server for scenario 5 (default: redis-server from PATH)",
                    Field(&Options::redis_binary)),
          B::String("json_out", "", "also write a JSON summary here", Field(&Options::json_out)),
          B::String("plots_dir", "", "latency percentile plots (empty: none)", Field(&Options::plots_dir)),
      });
  return *table;
}

std::optional<Options> ParseOptions(int argc, char** argv) {
  Options options;
  const std::optional<ParsedOptions> parsed = BenchTable().ParseCommandLine(
      argc, argv, "portrait-bench", "load generator for portrait-bridge (see bench/README.md)", options);
  if (!parsed.has_value()) return std::nullopt;
  if (options.s1b_rest_connections < options.rest_threads) {
    std::fprintf(stderr, "portrait-bench: --s1b_rest_connections must be at least --rest_threads\n");
    return std::nullopt;
  }
  if (options.quick) {
    if (!parsed->IsSet("warmup_s")) options.warmup_s = 1;
    if (!parsed->IsSet("duration_s")) options.duration_s = 3;
    if (!parsed->IsSet("low_load_s")) options.low_load_s = 1;
    if (!parsed->IsSet("s4_streams")) options.s4_streams = 2000;
    if (!parsed->IsSet("s1b_duration_s")) options.s1b_duration_s = 3;
  }
  return options;
}

// The 1-minute load average: how busy the machine was (other builds share it).
std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one.empty() ? "n/a" : one;
}

void SleepSeconds(double seconds) {
  std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6)));
}

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// ---- One measured run (bridges or direct REST) ----

/// A bridge's budget figures from its /metrics at the end of a run: totals since it started.
struct BridgeBudget {
  double shared = -1;             // portrait_bridge_budget_shared (a gauge)
  double fallback_asks = -1;      // portrait_bridge_budget_fallback_asks_total
  double refused_at_socket = -1;  // portrait_bridge_budget_refused_at_socket_total
  // portrait_bridge_thread_lag_seconds: how often the pacing threads started due work more than 5 ms late.
  double timer_queue_late = -1;
  double curl_loop_late = -1;
};

// Of a bridge's portrait_bridge_thread_lag_seconds{thread}, the observations over 5 ms; -1 when not exported.
double LateOver5Ms(const std::string& metrics, const std::string& thread) {
  const std::string series = "portrait_bridge_thread_lag_seconds";
  const std::string label = "thread=\"" + thread + "\"";
  const double count = PrometheusValue(metrics, series + "_count{" + label + "}");
  const double within = PrometheusValue(metrics, series + "_bucket{" + label + ",le=\"0.005\"}");
  return count < 0 || within < 0 ? -1 : count - within;
}

BridgeBudget ReadBridgeBudget(const BridgeProcess& bridge) {
  const std::string metrics = HttpGet(bridge.metrics_port(), "/metrics");
  return {PrometheusValue(metrics, "portrait_bridge_budget_shared"),
          PrometheusValue(metrics, "portrait_bridge_budget_fallback_asks_total"),
          PrometheusValue(metrics, "portrait_bridge_budget_refused_at_socket_total"),
          LateOver5Ms(metrics, "timer-queue"), LateOver5Ms(metrics, "curl-loop")};
}

struct Side {
  bool ran = false;
  bool open_loop = false;              // Arrivals at a fixed rate; latency from intended arrival.
  bool arrivals_realtime = false;      // The open loop's arrival thread ran at real-time priority.
  LoadResult load;                     // all bridges together
  std::vector<LoadResult> per_bridge;  // one per bridge when the run drives several
  std::vector<BridgeBudget> budgets;   // one per bridge
  UpstreamDelta upstream;              // inside the window
  UpstreamDelta upstream_run;          // warm-up and window
  Arrivals wire;                       // the bridges' whole life; read by the scenario once they have exited
  double bridge_cpu_s = -1;            // all bridges together
  int64_t bridge_hwm_kib = -1;         // the largest of the bridges
  double sandbox_cpu_s = -1;
  double bench_cpu_s = -1;
  Stalls stalls;  // The machine's own stalls in the window (StallMeter).

  double PerSecond(int64_t count) const { return load.seconds > 0 ? static_cast<double>(count) / load.seconds : 0; }
  double profiles_per_s() const { return PerSecond(load.accounts_ok); }
  double mean_fill() const {
    return upstream.ok > 0 ? static_cast<double>(upstream.accounts) / static_cast<double>(upstream.ok) : 0;
  }
  int64_t throttled_run() const {
    int64_t throttled = upstream_run.throttled;
    for (const char* code : {"60011", "60018", "60019"}) {
      auto it = upstream_run.error_codes.find(code);
      if (it != upstream_run.error_codes.end()) throttled += it->second;
    }
    return throttled;
  }
};

// One figure of each bridge's budget, in bridge order.
std::vector<double> PerBridgeBudget(const Side& side, double BridgeBudget::*field) {
  std::vector<double> values;
  for (const BridgeBudget& budget : side.budgets) values.push_back(budget.*field);
  return values;
}

std::vector<double> PerBridgeProfilesPerSecond(const Side& side) {
  std::vector<double> values;
  for (const LoadResult& load : side.per_bridge) {
    values.push_back(load.seconds > 0 ? static_cast<double>(load.accounts_ok) / load.seconds : 0);
  }
  return values;
}

double CpuSeconds(const std::vector<pid_t>& pids) {
  double sum = 0;
  for (pid_t pid : pids) sum += ProcessCpuSeconds(pid);
  return sum;
}

/// Warm-up, then the measured window. `start` begins the load (it keeps running through both), `stop` ends it
/// after the window. One recorder per bridge (or one for the REST baseline, whose `bridge_pids` is empty).
Side Measure(const Options& options, SandboxProcess& sandbox, const std::vector<pid_t>& bridge_pids,
             const std::vector<Recorder*>& recorders, const std::function<void()>& start,
             const std::function<void()>& stop, double warmup_s) {
  Side side;
  side.ran = true;
  const bool bridges = !bridge_pids.empty();
  const nlohmann::json before_run = SandboxStats(sandbox.port());
  start();
  SleepSeconds(warmup_s);
  const nlohmann::json before = SandboxStats(sandbox.port());
  const double bridge_cpu0 = CpuSeconds(bridge_pids);
  const double sandbox_cpu0 = ProcessCpuSeconds(sandbox.pid());
  const double bench_cpu0 = ProcessCpuSeconds(getpid());
  StallMeter stall_meter;
  stall_meter.Start();
  for (Recorder* recorder : recorders) recorder->OpenWindow();
  SleepSeconds(options.duration_s);
  for (Recorder* recorder : recorders) recorder->CloseWindow();
  side.stalls = stall_meter.Stop();
  const nlohmann::json after = SandboxStats(sandbox.port());
  if (bridges) side.bridge_cpu_s = CpuSeconds(bridge_pids) - bridge_cpu0;
  side.sandbox_cpu_s = ProcessCpuSeconds(sandbox.pid()) - sandbox_cpu0;
  side.bench_cpu_s = ProcessCpuSeconds(getpid()) - bench_cpu0;
  stop();
  for (pid_t pid : bridge_pids) side.bridge_hwm_kib = std::max(side.bridge_hwm_kib, ProcessStatusKiB(pid, "VmHWM"));
  side.load = Recorder::Combined(std::vector<const Recorder*>(recorders.begin(), recorders.end()));
  if (recorders.size() > 1) {
    for (const Recorder* recorder : recorders) side.per_bridge.push_back(recorder->Result());
  }
  side.upstream = Diff(before, after);
  side.upstream_run = Diff(before_run, SandboxStats(sandbox.port()));
  return side;
}

/// `loads[i]` drives `bridges[i]` (its target is set here); all start together and stop together.
Side MeasureGrpc(const Options& options, SandboxProcess& sandbox, const std::vector<BridgeProcess*>& bridges,
                 std::vector<GrpcLoadOptions> loads, double warmup_s) {
  std::vector<std::unique_ptr<Recorder>> recorders;
  std::vector<std::unique_ptr<GrpcLoad>> generators;
  std::vector<pid_t> pids;
  for (size_t i = 0; i < bridges.size(); ++i) {
    loads[i].target = bridges[i]->target();
    recorders.push_back(std::make_unique<Recorder>());
    generators.push_back(std::make_unique<GrpcLoad>(loads[i], *recorders.back()));
    pids.push_back(bridges[i]->pid());
  }
  std::vector<Recorder*> raw;
  for (auto& recorder : recorders) raw.push_back(recorder.get());
  Side side = Measure(
      options, sandbox, pids, raw,
      [&] {
        for (auto& load : generators) load->Start();
      },
      [&] {
        // In parallel: each Stop waits up to its drain, and no load should go on asking while another drains.
        std::vector<std::thread> stopping;
        for (auto& load : generators) stopping.emplace_back([&load] { load->Stop(kDrain); });
        for (std::thread& thread : stopping) thread.join();
      },
      warmup_s);
  for (const BridgeProcess* bridge : bridges) side.budgets.push_back(ReadBridgeBudget(*bridge));
  return side;
}

/// The open loop against one bridge (scenario 1b).
Side MeasureGrpcOpen(const Options& options, SandboxProcess& sandbox, BridgeProcess& bridge,
                     GrpcOpenLoadOptions load_options, double warmup_s) {
  Recorder recorder;
  load_options.target = bridge.target();
  GrpcOpenLoad load(load_options, recorder);
  Side side = Measure(
      options, sandbox, {bridge.pid()}, {&recorder}, [&] { load.Start(); }, [&] { load.Stop(kDrain); }, warmup_s);
  side.open_loop = true;
  side.arrivals_realtime = load.arrivals_realtime();
  side.budgets.push_back(ReadBridgeBudget(bridge));
  return side;
}

Side MeasureRestOpen(const Options& options, SandboxProcess& sandbox, RestOpenLoadOptions load_options,
                     double warmup_s) {
  Recorder recorder;
  load_options.base_url = sandbox.base_url();
  load_options.threads = options.rest_threads;
  RestOpenLoad load(load_options, recorder);
  Side side = Measure(
      options, sandbox, {}, {&recorder}, [&] { load.Start(); }, [&] { load.Stop(kDrain); }, warmup_s);
  side.open_loop = true;
  side.arrivals_realtime = load.arrivals_realtime();
  return side;
}

Side MeasureRest(const Options& options, SandboxProcess& sandbox, RestLoadOptions load_options, double warmup_s) {
  Recorder recorder;
  load_options.base_url = sandbox.base_url();
  load_options.threads = options.rest_threads;
  RestLoad load(load_options, recorder);
  return Measure(
      options, sandbox, {}, {&recorder}, [&] { load.Start(); }, [&] { load.Stop(); }, warmup_s);
}

// Sends `requests` on one stream (a writer thread, this thread reads) and returns the accounts answered OK.
int64_t SyncAsk(const std::string& target, const std::vector<std::vector<std::string>>& requests,
                const std::vector<std::string>& tags) {
  auto channel = MakeChannels(target, 1)[0];
  auto stub = v1::ProfileService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = stub->GetProfiles(&context);
  std::thread writer([&] {
    for (const auto& accounts : requests) {
      v1::GetProfilesRequest request;
      for (const auto& account : accounts) request.add_accounts(account);
      for (const auto& tag : tags) request.add_tags(tag);
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
  });
  int64_t ok = 0;
  v1::GetProfilesResponse response;
  while (stream->Read(&response)) {
    for (const auto& result : response.results()) ok += result.status().code() == 0 ? 1 : 0;
  }
  writer.join();
  const grpc::Status status = stream->Finish();
  if (!status.ok()) {
    std::printf("  (sync ask ended %s: %s)\n", CodeName(status.error_code()).c_str(), status.error_message().c_str());
  }
  return ok;
}

// ---- Output ----

std::string Number(double value, int decimals = 0) {
  if (value < 0) return "n/a";
  std::string text = absl::StrFormat("%.*f", decimals, value);
  // Thousands separators on the integer part.
  const size_t dot = text.find('.');
  size_t end = dot == std::string::npos ? text.size() : dot;
  for (int position = static_cast<int>(end) - 3; position > 0; position -= 3) text.insert(position, ",");
  return text;
}

struct Row {
  Row(std::string metric, std::string left, std::string right)
      : metric(std::move(metric)), cells{std::move(left), std::move(right)} {}
  Row(std::string metric, std::vector<std::string> cells) : metric(std::move(metric)), cells(std::move(cells)) {}
  std::string metric;
  std::vector<std::string> cells;  // One per column of the report.
};

struct Check {
  std::string target;
  bool pass = false;
  std::string measured;
};

struct Report {
  std::string title;
  // What is measured, and its baseline (scenario 1b: that pair per rate).
  std::vector<std::string> columns = {"bridge", "direct REST"};
  std::vector<Row> rows;
  std::vector<std::string> notes;
  std::vector<Check> checks;
  nlohmann::json json;
  // The latency percentile plot (scenarios with latencies), drawn once the scenario has run.
  std::vector<Curve> curves;
  std::vector<PlotLine> plot_lines;
};

// A side's latencies on the report's plot: one colour per `group`, the baseline dashed. Open-loop lookups without
// an answer have no latency to draw: the label says how many.
void AddCurve(Report& report, const std::string& label, const Side& side, int group, bool baseline) {
  if (!side.ran) return;
  const int64_t missing = side.open_loop ? std::max<int64_t>(0, side.load.offered - side.load.latency.count) : 0;
  report.curves.push_back({missing > 0 ? absl::StrCat(label, " (", Number(static_cast<double>(missing)),
                                                      " dropped or unanswered, not drawn)")
                                       : label,
                           side.load.latencies_us, group, baseline});
}

// CPU seconds per profile answered OK in the window, in microseconds; 0 when unknown.
double CpuMicrosPerProfile(double cpu_s, const Side& side) {
  if (!side.ran || cpu_s < 0 || side.load.accounts_ok <= 0) return 0;
  return 1e6 * cpu_s / static_cast<double>(side.load.accounts_ok);
}

std::string Errors(const Side& side) {
  if (!side.ran) return "n/a";
  if (side.load.errors.empty()) return "none";
  std::vector<std::pair<int64_t, std::string>> sorted;
  for (const auto& [label, count] : side.load.errors) sorted.emplace_back(count, label);
  std::sort(sorted.rbegin(), sorted.rend());
  std::string text;
  for (const auto& [count, label] : sorted) {
    if (!text.empty()) text += "; ";
    text += label + " x" + Number(static_cast<double>(count));
  }
  return text;
}

nlohmann::json SideJson(const Side& side) {
  if (!side.ran) return nullptr;
  nlohmann::json j = {{"seconds", side.load.seconds},
                      {"profiles_per_s", side.profiles_per_s()},
                      {"asks_per_s", side.PerSecond(side.load.asks)},
                      {"accounts_failed_per_s", side.PerSecond(side.load.accounts_failed)},
                      {"upstream_stats_known", side.upstream.known},
                      {"upstream_calls_per_s", side.PerSecond(side.upstream.calls)},
                      {"upstream_ok_calls_per_s", side.PerSecond(side.upstream.ok)},
                      {"upstream_mean_fill", side.mean_fill()},
                      {"upstream_throttled_window", side.upstream.throttled},
                      {"upstream_throttled_run", side.throttled_run()},
                      {"upstream_error_codes", side.upstream.error_codes},
                      {"latency_ms",
                       {{"count", side.load.latency.count},
                        {"p50", side.load.latency.p50_ms},
                        {"p90", side.load.latency.p90_ms},
                        {"p99", side.load.latency.p99_ms},
                        {"p999", side.load.latency.p999_ms},
                        {"max", side.load.latency.max_ms},
                        {"mean", side.load.latency.mean_ms}}},
                      {"errors", side.load.errors},
                      {"sandbox_cpu_s", side.sandbox_cpu_s},
                      {"load_generator_cpu_s", side.bench_cpu_s}};
  if (side.open_loop) {
    j["open_loop"] = {{"offered_per_s", side.PerSecond(side.load.offered)},
                      {"offered", side.load.offered},
                      {"dropped", side.load.dropped},
                      {"unanswered", side.load.unanswered()},
                      {"generator_lag_ms",
                       {{"p50", side.load.lag.p50_ms},
                        {"p99", side.load.lag.p99_ms},
                        {"p999", side.load.lag.p999_ms},
                        {"max", side.load.lag.max_ms}}}};
  }
  if (side.bridge_cpu_s >= 0) j["bridge_cpu_s"] = side.bridge_cpu_s;
  if (side.bridge_hwm_kib >= 0) j["bridge_peak_rss_kib"] = side.bridge_hwm_kib;
  if (!side.per_bridge.empty()) j["per_bridge_profiles_per_s"] = PerBridgeProfilesPerSecond(side);
  for (const BridgeBudget& budget : side.budgets) {
    j["bridge_budget"].push_back({{"shared", budget.shared},
                                  {"fallback_asks", budget.fallback_asks},
                                  {"refused_at_socket", budget.refused_at_socket}});
  }
  if (side.stalls.measured()) {
    j["machine_stalls"] = {{"p99_ms", side.stalls.late.p99_ms},
                           {"max_ms", side.stalls.late.max_ms},
                           {"over_5ms", side.stalls.over_5ms},
                           {"realtime", side.stalls.realtime}};
  }
  if (side.wire.known) {
    j["wire"] = {{"arrivals", side.wire.count}, {"dropped", side.wire.dropped}};
    for (const auto& [window, most] : side.wire.max_in_window) {
      j["wire"]["max_in_" + std::to_string(window) + "_ms"] = most;
    }
    if (side.wire.gap_p50_us >= 0) {
      j["wire"]["gap_us"] = {
          {"p50", side.wire.gap_p50_us}, {"p99", side.wire.gap_p99_us}, {"max", side.wire.gap_max_us}};
    }
  }
  return j;
}

// "direct REST" -> "direct_rest", "bridge 10,000/s" -> "bridge_10000_s": a column's key in the JSON summary.
std::string JsonKey(const std::string& label) {
  std::string key;
  for (char c : label) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (c != ',' && !key.empty() && key.back() != '_') {
      key += '_';
    }
  }
  return key;
}

// The rows every scenario with a load prints, one cell per side (the report's columns, in order).
void AddStandardRows(Report& report, const std::vector<const Side*>& sides) {
  const bool open = std::any_of(sides.begin(), sides.end(), [](const Side* s) { return s->open_loop; });
  auto all = [&](const std::string& metric, const std::function<std::string(const Side&)>& f) {
    std::vector<std::string> cells;
    for (const Side* side : sides) cells.push_back(side->ran ? f(*side) : "n/a");
    report.rows.push_back({metric, std::move(cells)});
  };
  all("measured window (s)", [](const Side& s) { return Number(s.load.seconds, 1); });
  if (open) {
    all("offered lookups/s (arrivals intended in window)",
        [](const Side& s) { return Number(s.PerSecond(s.load.offered)); });
    all("answered lookups/s (gRPC requests | HTTP calls)",
        [](const Side& s) { return Number(s.PerSecond(s.load.asks)); });
  }
  all("profiles/s", [](const Side& s) { return Number(s.profiles_per_s()); });
  if (!open) {
    all("asks/s (gRPC requests | HTTP calls)", [](const Side& s) { return Number(s.PerSecond(s.load.asks)); });
  }
  all("failed accounts/s", [](const Side& s) { return Number(s.PerSecond(s.load.accounts_failed)); });
  if (open) {
    all(absl::StrCat("dropped (", Number(kOpenLoopMaxOutstanding), " outstanding) | never answered"),
        [](const Side& s) {
          return Number(static_cast<double>(s.load.dropped)) + " | " +
                 Number(static_cast<double>(std::max<int64_t>(0, s.load.unanswered())));
        });
  }
  // "n/a" when a /sandbox/stats snapshot could not be had.
  all("upstream calls/s (all)",
      [](const Side& s) { return s.upstream.known ? Number(s.PerSecond(s.upstream.calls), 1) : std::string("n/a"); });
  all("upstream OK calls/s",
      [](const Side& s) { return s.upstream.known ? Number(s.PerSecond(s.upstream.ok), 1) : std::string("n/a"); });
  all("mean fill (accounts per OK call)",
      [](const Side& s) { return s.upstream.known ? Number(s.mean_fill(), 1) : std::string("n/a"); });
  all("upstream throttled (window | whole run)", [](const Side& s) {
    return (s.upstream.known ? Number(static_cast<double>(s.upstream.throttled)) : std::string("n/a")) + " | " +
           (s.upstream_run.known ? Number(static_cast<double>(s.throttled_run())) : std::string("n/a"));
  });
  auto latency = [](double LatencySummary::*field) {
    return [field](const Side& s) {
      return s.load.latency.count > 0 ? Number(s.load.latency.*field, 2) : std::string("n/a");
    };
  };
  all(open ? "latency samples (lookups intended in window, answered)" : "latency samples (asks started in window)",
      [](const Side& s) { return Number(static_cast<double>(s.load.latency.count)); });
  const std::string unit = open ? " (ms from intended arrival)" : " (ms)";
  all("latency p50" + unit, latency(&LatencySummary::p50_ms));
  all("latency p90" + unit, latency(&LatencySummary::p90_ms));
  all("latency p99" + unit, latency(&LatencySummary::p99_ms));
  all("latency p999" + unit, latency(&LatencySummary::p999_ms));
  all("latency max" + unit, latency(&LatencySummary::max_ms));
  all("bridge CPU s in window (cores)", [](const Side& s) {
    if (s.bridge_cpu_s < 0) return std::string("n/a");
    return Number(s.bridge_cpu_s, 2) + " (" + Number(s.bridge_cpu_s / s.load.seconds, 2) + ")";
  });
  all("CPU us per profile (bridge | REST client: load generator)", [](const Side& s) {
    const bool rest = s.bridge_cpu_s < 0;
    const double us = CpuMicrosPerProfile(rest ? s.bench_cpu_s : s.bridge_cpu_s, s);
    return us > 0 ? Number(us, 2) : std::string("n/a");
  });
  all("bridge peak RSS (MiB)", [](const Side& s) { return Number(s.bridge_hwm_kib / 1024.0, 1); });
  all("sandbox CPU s in window", [](const Side& s) { return Number(s.sandbox_cpu_s, 2); });
  all("load generator CPU s in window", [](const Side& s) { return Number(s.bench_cpu_s, 2); });
  if (open) {
    all("load generator lag p99 | max (ms; intended -> sent)", [](const Side& s) {
      return s.load.lag.count > 0 ? Number(s.load.lag.p99_ms, 2) + " | " + Number(s.load.lag.max_ms, 2)
                                  : std::string("n/a");
    });
  }
  all("machine stalls: a 1 ms sleeper late p99 | max (ms); wakes > 5 ms late", [](const Side& s) {
    if (!s.stalls.measured()) return std::string("n/a");
    return Number(s.stalls.late.p99_ms, 2) + " | " + Number(s.stalls.late.max_ms, 2) + "; " +
           Number(static_cast<double>(s.stalls.over_5ms)) + (s.stalls.realtime ? "" : " (not real-time)");
  });
  auto codes = [](const Side& s) {
    std::string text;
    for (const auto& [code, count] : s.upstream.error_codes) {
      text += (text.empty() ? "" : ", ") + code + " x" + Number(static_cast<double>(count));
    }
    return text.empty() ? std::string("none") : text;
  };
  bool unknown = false;
  for (size_t i = 0; i < sides.size(); ++i) {
    const Side& side = *sides[i];
    const std::string& column = report.columns.at(i);
    report.notes.push_back("errors, " + column +
                           (i == 0 ? " (accounts by status and ErrorInfo reason; streams): " : ": ") + Errors(side));
    if (side.ran && side.upstream.known) {
      report.notes.push_back("upstream ErrorCodes in window, " + column + " run: " + codes(side));
    }
    unknown = unknown || (side.ran && !side.upstream.known);
    report.json[JsonKey(column)] = SideJson(side);
  }
  if (unknown) report.notes.push_back("(a /sandbox/stats snapshot failed: upstream figures marked n/a)");
}

void AddStandardRows(Report& report, const Side& bridge, const Side& rest) {
  AddStandardRows(report, {&bridge, &rest});
}

// "1.0 s", "1.05 s".
std::string WindowName(int64_t ms) {
  return absl::StrFormat("%.*f s", ms % 100 == 0 ? 1 : 2, static_cast<double>(ms) / 1000.0);
}

// "x | y | z": one figure per bridge.
std::string PerBridge(const std::vector<double>& values, int decimals = 0) {
  std::string text;
  for (double value : values) text += (text.empty() ? "" : " | ") + Number(value, decimals);
  return text;
}

// The wire check (bench/README.md): the most arrivals the sandbox saw in any window of each length over the
// bridges' whole life (start to exit, warm-up and drain included), beside the budget, and the requests the
// bridges' budgets refused at the socket. A side without bridges (direct REST, which ignores the cap) shows n/a.
void AddWireRows(Report& report, const std::vector<const Side*>& sides) {
  auto all = [&](const std::string& metric, const std::function<std::string(const Side&)>& f) {
    std::vector<std::string> cells;
    for (const Side* s : sides) cells.push_back(s->ran && !s->budgets.empty() && s->wire.known ? f(*s) : "n/a");
    report.rows.push_back({metric, std::move(cells)});
  };
  all("wire: arrivals at the sandbox (whole bridge run)", [](const Side& s) {
    return Number(static_cast<double>(s.wire.count)) +
           (s.wire.dropped > 0 ? " (" + Number(static_cast<double>(s.wire.dropped)) + " dropped)" : "");
  });
  for (int64_t window : kWireWindowsMs) {
    all(absl::StrCat("wire: largest count in any ", WindowName(window), " window (budget ", kCallsPerSecond, ")"),
        [window](const Side& s) { return Number(static_cast<double>(s.wire.max_in_window.at(window))); });
  }
  all("wire: gap between arrivals p50 | p99 | max (ms)", [](const Side& s) {
    if (s.wire.gap_p50_us < 0) return std::string("n/a");
    return Number(s.wire.gap_p50_us / 1000.0, 2) + " | " + Number(s.wire.gap_p99_us / 1000.0, 2) + " | " +
           Number(s.wire.gap_max_us / 1000.0, 2);
  });
  all("bridge pacing threads > 5 ms late: timer-queue | curl-loop (whole run)", [](const Side& s) {
    auto total = [&s](double BridgeBudget::*field) {
      double sum = 0;
      for (double count : PerBridgeBudget(s, field)) {
        if (count < 0) return std::string("n/a");
        sum += count;
      }
      return Number(sum);
    };
    return total(&BridgeBudget::timer_queue_late) + " | " + total(&BridgeBudget::curl_loop_late);
  });
  all("budget refused at socket (whole bridge run)", [](const Side& s) {
    const std::vector<double> refused = PerBridgeBudget(s, &BridgeBudget::refused_at_socket);
    double total = 0;
    for (double count : refused) total += std::max(0.0, count);  // -1: not read.
    return refused.size() > 1 ? Number(total) + " (" + PerBridge(refused) + ")" : PerBridge(refused);
  });
  const int64_t first = kWireWindowsMs.front();
  for (size_t i = 0; i < sides.size(); ++i) {
    const Side& side = *sides[i];
    if (!side.ran || side.budgets.empty()) continue;
    const Arrivals& wire = side.wire;
    std::string measured = "n/a: /sandbox/arrivals did not answer";
    if (wire.known) {
      measured = "";
      for (const auto& [window, most] : wire.max_in_window) {
        measured += (measured.empty() ? "" : ", ") + Number(static_cast<double>(most)) + " in " + WindowName(window);
      }
      measured += " of " + Number(static_cast<double>(wire.count)) + " arrivals";
      if (wire.dropped > 0) measured += " (" + Number(static_cast<double>(wire.dropped)) + " dropped: maxima low)";
    }
    report.checks.push_back(
        {absl::StrCat(report.columns.at(i), ": at most ", kCallsPerSecond, " calls/s on the wire (arrivals in any ",
                      WindowName(first), " window, whole bridge run)"),
         wire.known && wire.dropped == 0 && wire.max_in_window.at(first) <= kCallsPerSecond, measured});
  }
}

void AddWireRows(Report& report, const Side& left, const Side& right) { AddWireRows(report, {&left, &right}); }

void Print(const Report& report) {
  std::printf("\n== %s ==\n", report.title.c_str());
  size_t width = std::string("metric").size();
  for (const Row& row : report.rows) width = std::max(width, row.metric.size());
  // Every column right-aligned, except that a two-column table keeps its baseline column ragged.
  const size_t columns = report.columns.size();
  std::vector<size_t> widths(columns, 12);
  for (size_t i = 0; i < columns; ++i) widths[i] = std::max(widths[i], report.columns[i].size());
  for (const Row& row : report.rows) {
    for (size_t i = 0; i < row.cells.size() && i < columns; ++i) widths[i] = std::max(widths[i], row.cells[i].size());
  }
  auto line = [&](const std::string& metric, const std::vector<std::string>& cells) {
    std::string text = absl::StrFormat("%-*s", static_cast<int>(width), metric);
    for (size_t i = 0; i < cells.size(); ++i) {
      const bool ragged = columns == 2 && i + 1 == columns;
      text += "  " + (ragged ? cells[i] : absl::StrFormat("%*s", static_cast<int>(widths[i]), cells[i]));
    }
    std::printf("%s\n", text.c_str());
  };
  line("metric", report.columns);
  for (const Row& row : report.rows) line(row.metric, row.cells);
  for (const std::string& note : report.notes) std::printf("%s\n", note.c_str());
  for (const Check& check : report.checks) {
    std::printf("%s  %s: %s\n", check.pass ? "PASS" : "MISS", check.target.c_str(), check.measured.c_str());
  }
  std::fflush(stdout);
}

void FinishJson(Report& report) {
  report.json["title"] = report.title;
  nlohmann::json checks = nlohmann::json::array();
  for (const Check& check : report.checks) {
    checks.push_back({{"target", check.target}, {"pass", check.pass}, {"measured", check.measured}});
  }
  report.json["checks"] = checks;
  nlohmann::json notes = report.notes;
  report.json["notes"] = notes;
}

std::string SandboxThreads(int callers) { return "--threads=" + std::to_string(callers + 80); }

std::string CappedSandbox() { return absl::StrCat("--calls_per_second=", kCallsPerSecond); }

// RESOURCE_EXHAUSTED account results (60007 passed on, or the bridge's own queue full).
int64_t ThrottledResults(const Side& side) {
  int64_t count = 0;
  for (const auto& [label, n] : side.load.errors) {
    if (label.find("60007") != std::string::npos || label.find("RESOURCE_EXHAUSTED") != std::string::npos) count += n;
  }
  return count;
}

// ---- Scenarios ----

Report Scenario1(const Options& options) {
  Report report;
  report.title = absl::StrCat("Scenario 1: many small callers under the real cap (sandbox ", kCallsPerSecond,
                              " calls/s; ", options.s1_callers, " callers x 1 account from user0..user99999)");
  std::printf("%s ...\n", report.title.c_str());
  std::fflush(stdout);
  SandboxProcess sandbox(options.sandbox_binary, {CappedSandbox(), SandboxThreads(options.s1_callers)});
  AskShape shape{1, 0, 100000, options.tags};
  Side bridge_side;
  {
    BridgeProcess bridge(options.bridge_binary, sandbox.base_url(), options.bridge_flags);
    GrpcLoadOptions load;
    load.callers = options.s1_callers;
    load.channels = options.channels;
    load.shape = shape;
    bridge_side = MeasureGrpc(options, sandbox, {&bridge}, {load}, options.warmup_s);
  }
  bridge_side.wire = SandboxArrivals(sandbox.port(), kWireWindowsMs);  // The bridge has exited: its whole run.
  SleepSeconds(1.1);  // Let the sandbox's 1 s window forget the bridge's calls.
  RestLoadOptions rest;
  rest.callers = options.s1_callers;
  rest.shape = shape;
  Side rest_side = MeasureRest(options, sandbox, rest, options.warmup_s);
  AddStandardRows(report, bridge_side, rest_side);
  const double ceiling = kCallsPerSecond * kMaxAccountsPerCall;
  report.checks.push_back({"bridge >= 19,600 profiles/s (98% of the 20,000/s ceiling)",
                           bridge_side.profiles_per_s() >= 19600,
                           Number(bridge_side.profiles_per_s()) + " profiles/s (" +
                               Number(100 * bridge_side.profiles_per_s() / ceiling, 1) + "% of ceiling)"});
  const int64_t throttled_results = ThrottledResults(bridge_side);
  report.checks.push_back({"zero upstream throttling errors",
                           bridge_side.upstream_run.known && bridge_side.throttled_run() == 0 && throttled_results == 0,
                           Number(static_cast<double>(bridge_side.throttled_run())) +
                               " throttled upstream calls over the bridge run (warm-up included), " +
                               Number(static_cast<double>(throttled_results)) +
                               " RESOURCE_EXHAUSTED account results in the window"});
  const LatencySummary& latency = bridge_side.load.latency;
  const bool answered = latency.count > 0;
  // Little's law: with every caller always waiting for one ask, the mean wait is callers / asks per second.
  const double asks_per_s = bridge_side.PerSecond(bridge_side.load.asks);
  const double little_ms = asks_per_s > 0 ? 1000.0 * options.s1_callers / asks_per_s : 0;
  report.rows.push_back({"mean wait by Little's law (ms; callers / asks/s)", Number(little_ms, 2),
                         Number(1000.0 * options.s1_callers / rest_side.PerSecond(rest_side.load.asks), 2)});
  report.checks.push_back({"bridge p99 <= 1.5 x the mean wait by Little's law",
                           answered && little_ms > 0 && latency.p99_ms <= 1.5 * little_ms,
                           answered ? Number(latency.p99_ms, 2) + " ms vs 1.5 x " + Number(little_ms, 2) + " = " +
                                          Number(1.5 * little_ms, 2) + " ms"
                                    : std::string("n/a: no ask that started in the window was answered in it")});
  AddWireRows(report, bridge_side, rest_side);
  AddCurve(report, "bridge", bridge_side, 0, false);
  AddCurve(report, "direct REST", rest_side, 0, true);
  if (little_ms > 0) report.plot_lines.push_back({1.5 * little_ms, "bridge p99 target (1.5 x Little)"});
  report.notes.insert(
      report.notes.begin(),
      absl::StrCat("direct REST: ", options.s1_callers, " keep-alive connections on ", options.rest_threads,
                   " curl multi threads, no retry: a throttled call moves on to the next account"));
  return report;
}

// A percentile of the lookups offered and sent, counting those never answered (dropped at the cap, or left when
// the drain ended) as slower than any answered one: infinity when they reach into it.
double PercentileCountingMissing(const LoadResult& load, double q) {
  const int64_t answered = static_cast<int64_t>(load.latencies_us.size());
  const int64_t missing = std::max<int64_t>(0, load.offered - answered);
  if (answered + missing == 0) return std::numeric_limits<double>::infinity();
  const auto rank = static_cast<int64_t>(std::ceil(q * static_cast<double>(answered + missing)));
  if (rank > answered) return std::numeric_limits<double>::infinity();
  return Percentile(load.latencies_us, q * static_cast<double>(answered + missing) / static_cast<double>(answered));
}

std::string Milliseconds(double ms) {
  return std::isinf(ms) ? std::string("past the answered ones (dropped or never answered)") : Number(ms, 2) + " ms";
}

// Scenario 1b: the open loop under the real cap. Per rate, a fresh sandbox and bridge with the lookups on streams
// (so that the wire check covers that rate's bridge run alone), then the same with a BatchGetProfiles call per
// lookup (the README's advice for lookups) against a sandbox of its own, then direct REST at the same rate and seed
// against the first sandbox.
Report Scenario1b(const Options& options) {
  Report report;
  std::string rates;
  for (double rate : options.s1b_rates) rates += (rates.empty() ? "" : ", ") + Number(rate);
  report.title =
      absl::StrCat("Scenario 1b: open loop under the real cap (sandbox ", kCallsPerSecond,
                   " calls/s; one-account lookups from user0..user99999, Poisson arrivals at ", rates,
                   " lookups/s, seed ", options.seed, "; bridge: ", options.s1b_streams, " long-lived streams on ",
                   options.s1b_channels, options.s1b_channels == 1 ? " connection" : " connections",
                   ", then a BatchGetProfiles call per lookup on as many; direct REST: a pool of ",
                   options.s1b_rest_connections, " keep-alive connections)");
  std::printf("%s ...\n", report.title.c_str());
  std::fflush(stdout);
  Options window = options;
  window.duration_s = options.s1b_duration_s;
  const AskShape shape{1, 0, 100000, options.tags};
  std::vector<Side> sides;  // Per rate: the bridge through streams, through BatchGetProfiles, direct REST.
  sides.reserve(3 * options.s1b_rates.size());
  report.columns.clear();
  for (size_t i = 0; i < options.s1b_rates.size(); ++i) {
    const double rate = options.s1b_rates[i];
    std::printf("  %s lookups/s: bridge (streams, then BatchGetProfiles), then direct REST ...\n",
                Number(rate).c_str());
    std::fflush(stdout);
    const std::vector<std::string> sandbox_flags = {CappedSandbox(), SandboxThreads(options.s1b_rest_connections)};
    auto run_bridge = [&](SandboxProcess& sandbox, bool unary) {
      Side side;
      {
        BridgeProcess bridge(options.bridge_binary, sandbox.base_url(), options.bridge_flags);
        GrpcOpenLoadOptions load;
        load.rate_per_s = rate;
        load.seed = options.seed;
        load.channels = options.s1b_channels;
        load.streams = options.s1b_streams;
        load.max_outstanding = kOpenLoopMaxOutstanding;
        load.shape = shape;
        load.unary = unary;
        side = MeasureGrpcOpen(window, sandbox, bridge, load, options.warmup_s);
      }
      side.wire = SandboxArrivals(sandbox.port(), kWireWindowsMs);  // The bridge has exited: its whole run.
      return side;
    };
    SandboxProcess sandbox(options.sandbox_binary, sandbox_flags);
    Side stream_side = run_bridge(sandbox, /*unary=*/false);
    Side unary_side;
    {
      SandboxProcess unary_sandbox(options.sandbox_binary, sandbox_flags);  // Its own wire check.
      unary_side = run_bridge(unary_sandbox, /*unary=*/true);
    }
    SleepSeconds(1.1);  // Let the sandbox's 1 s window forget the bridge's calls.
    RestOpenLoadOptions rest;
    rest.rate_per_s = rate;
    rest.seed = options.seed;
    rest.connections = options.s1b_rest_connections;
    rest.max_outstanding = kOpenLoopMaxOutstanding;
    rest.shape = shape;
    Side rest_side = MeasureRestOpen(window, sandbox, rest, options.warmup_s);
    const std::string suffix = " " + Number(rate) + "/s";
    report.columns.push_back("bridge" + suffix);
    report.columns.push_back("BatchGet" + suffix);
    report.columns.push_back("REST" + suffix);
    const int group = static_cast<int>(i);
    AddCurve(report, "bridge" + suffix, stream_side, group, false);
    AddCurve(report, "bridge, BatchGetProfiles" + suffix, unary_side,
             group + static_cast<int>(options.s1b_rates.size()), false);
    AddCurve(report, "direct REST" + suffix, rest_side, group, true);
    sides.push_back(std::move(stream_side));
    sides.push_back(std::move(unary_side));
    sides.push_back(std::move(rest_side));
  }
  std::vector<const Side*> pointers;
  for (const Side& side : sides) pointers.push_back(&side);
  AddStandardRows(report, pointers);
  AddWireRows(report, pointers);
  report.json["rates_per_s"] = options.s1b_rates;

  for (size_t i = 0; i < options.s1b_rates.size(); ++i) {
    const double rate = options.s1b_rates[i];
    const Side& streams = sides[3 * i];
    const Side& unary = sides[3 * i + 1];
    const Side& rest = sides[3 * i + 2];
    const auto target = std::find_if(kS1bTargets.begin(), kS1bTargets.end(),
                                     [rate](const OpenLoopTarget& t) { return t.rate_per_s == rate; });
    for (const auto& [side, api] : {std::pair{&streams, ""}, {&unary, " through BatchGetProfiles"}}) {
      const Side& bridge = *side;
      const double p99 = PercentileCountingMissing(bridge.load, 0.99);
      const double p999 = PercentileCountingMissing(bridge.load, 0.999);
      const std::string measured = absl::StrCat(
          "p99 ", Milliseconds(p99), ", p999 ", Milliseconds(p999), " (", Number(bridge.load.latency.count),
          " answered, ", Number(std::max<int64_t>(0, bridge.load.offered - bridge.load.latency.count)),
          " dropped or never answered, counted as slowest); direct REST p99 ",
          Milliseconds(PercentileCountingMissing(rest.load, 0.99)));
      if (target == kS1bTargets.end()) {
        report.notes.push_back(
            absl::StrCat("bridge", api, " at ", Number(rate), " lookups/s (no target at this rate): ", measured));
        continue;
      }
      std::string goal =
          absl::StrCat("bridge", api, " at ", Number(rate), " lookups/s: p99 < ", Number(target->p99_ms), " ms");
      bool pass = p99 < target->p99_ms;
      if (target->p999_ms > 0) {
        absl::StrAppend(&goal, " and p999 < ", Number(target->p999_ms), " ms");
        pass = pass && p999 < target->p999_ms;
      }
      report.checks.push_back({goal + " (from intended arrival)", pass, measured});
    }
    // The generator's own lag, on every side: past a few ms, latencies are partly its own.
    double worst = 0;
    std::string lags;
    for (const auto& [side, name] :
         {std::pair{&streams, "bridge side "}, {&unary, ", BatchGetProfiles side "}, {&rest, ", direct REST side "}}) {
      worst = std::max(worst, side->load.lag.p99_ms);
      absl::StrAppend(&lags, name, Number(side->load.lag.p99_ms, 3), " ms (max ", Number(side->load.lag.max_ms, 2),
                      ")");
    }
    report.checks.push_back(
        {absl::StrCat("load generator keeps up at ", Number(rate),
                      " lookups/s (lag p99 <= ", Number(kMaxGeneratorLagMs), " ms, intended arrival -> sent)"),
         worst <= kMaxGeneratorLagMs,
         absl::StrCat(
             lags, worst > kMaxGeneratorLagMs ? ": FLAGGED, latencies at this rate include the generator's lag" : "")});
  }
  // The targets as lines on the plot, rates that share a figure on one line.
  std::map<double, std::string> lines;
  for (const OpenLoopTarget& target : kS1bTargets) {
    std::string& label = lines[target.p99_ms];
    label += (label.empty() ? "p99 target at " : " and ") + Number(target.rate_per_s) + "/s";
    if (target.p999_ms > 0) lines[target.p999_ms] += "p999 target at " + Number(target.rate_per_s) + "/s";
  }
  for (const auto& [ms, label] : lines) report.plot_lines.push_back({ms, label});
  report.notes.insert(
      report.notes.begin(),
      {absl::StrCat("latency from each lookup's intended arrival (Poisson schedule), to its request_complete "
                    "response (bridge) or parsed HTTP answer (REST), whatever the answer; lookups intended in the "
                    "window are followed through the drain (",
                    kDrain.count(), " s)"),
       absl::StrCat("direct REST: the same arrivals (seed ", options.seed, ") over a pool of ",
                    options.s1b_rest_connections, " keep-alive connections on ", options.rest_threads,
                    " curl threads, no retry: a throttled call (60007) is answered, fast, and counts as failed"),
       absl::StrCat("arrival thread at real-time priority (SCHED_FIFO 1, so that a busy machine does not delay the "
                    "schedule): ",
                    std::all_of(sides.begin(), sides.end(), [](const Side& s) { return s.arrivals_realtime; })
                        ? "yes"
                        : "no (not permitted here: lag on a busy machine is higher)")});
  return report;
}

// Sequential grpc.health.v1 Check calls to the bridge over one fresh connection, for `seconds`: a gRPC round trip
// with no work behind it, the floor under whatever latency the bridge adds to a lookup on this machine.
LatencySummary BareGrpcRoundTrip(const BridgeProcess& bridge, double seconds) {
  auto channel = grpc::CreateChannel(bridge.target(), grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  std::vector<uint32_t> latencies_us;
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (int i = 0; std::chrono::steady_clock::now() < until; ++i) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    const auto start = std::chrono::steady_clock::now();
    const grpc::Status status = stub->Check(&context, request, &response);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    // The first calls set up the connection; only what follows is a round trip.
    if (status.ok() && i >= 10) {
      latencies_us.push_back(
          static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()));
    }
  }
  return Summarize(latencies_us);
}

Report Scenario2(const Options& options) {
  Report report;
  report.title = absl::StrCat("Scenario 2: overhead, cap off (sandbox unlimited; ", options.s2_callers,
                              " callers x 100 accounts; low load: 1 caller x 100 accounts)");
  std::printf("%s ...\n", report.title.c_str());
  std::fflush(stdout);
  SandboxProcess sandbox(options.sandbox_binary, {"--calls_per_second=0", SandboxThreads(options.s2_callers)});
  AskShape shape{100, 0, 100000, options.tags};
  const std::vector<std::string> uncapped = {"--upstream_calls_per_second=1000000", "--upstream_burst=1000000"};
  Side bridge_side, bridge_low;
  LatencySummary bare_grpc;
  {
    BridgeProcess bridge(options.bridge_binary, sandbox.base_url(), Concat(uncapped, options.bridge_flags));
    GrpcLoadOptions load;
    load.callers = options.s2_callers;
    load.channels = std::min(options.channels, options.s2_callers);
    load.shape = shape;
    bridge_side = MeasureGrpc(options, sandbox, {&bridge}, {load}, options.warmup_s);
    load.callers = 1;
    load.channels = 1;
    Options low = options;
    low.duration_s = options.low_load_s;
    bridge_low = MeasureGrpc(low, sandbox, {&bridge}, {load}, 0.5);
    bare_grpc = BareGrpcRoundTrip(bridge, options.low_load_s);
  }
  RestLoadOptions rest;
  rest.callers = options.s2_callers;
  rest.shape = shape;
  Side rest_side = MeasureRest(options, sandbox, rest, options.warmup_s);
  rest.callers = 1;
  Options low = options;
  low.duration_s = options.low_load_s;
  Side rest_low = MeasureRest(low, sandbox, rest, 0.5);

  AddStandardRows(report, bridge_side, rest_side);
  report.rows.push_back({"low load: asks/s (1 caller, sequential)", Number(bridge_low.PerSecond(bridge_low.load.asks)),
                         Number(rest_low.PerSecond(rest_low.load.asks))});
  report.rows.push_back({"low load: latency p50 (ms)", Number(bridge_low.load.latency.p50_ms, 3),
                         Number(rest_low.load.latency.p50_ms, 3)});
  report.rows.push_back({"low load: latency p99 (ms)", Number(bridge_low.load.latency.p99_ms, 3),
                         Number(rest_low.load.latency.p99_ms, 3)});
  report.rows.push_back(
      {"low load: upstream mean fill", Number(bridge_low.mean_fill(), 1), Number(rest_low.mean_fill(), 1)});
  report.rows.push_back({"low load: bare gRPC round trip to the bridge, p50 | p99 (ms; health Check)",
                         Number(bare_grpc.p50_ms, 3) + " | " + Number(bare_grpc.p99_ms, 3), "n/a"});
  report.notes.push_back("errors, bridge low load: " + Errors(bridge_low));
  report.notes.push_back("errors, direct REST low load: " + Errors(rest_low));
  report.json["bridge_low_load"] = SideJson(bridge_low);
  report.json["direct_rest_low_load"] = SideJson(rest_low);
  report.json["bare_grpc_round_trip_ms"] = {
      {"p50", bare_grpc.p50_ms}, {"p99", bare_grpc.p99_ms}, {"count", bare_grpc.count}};
  AddCurve(report, absl::StrCat("bridge, ", options.s2_callers, " callers"), bridge_side, 0, false);
  AddCurve(report, absl::StrCat("direct REST, ", options.s2_callers, " callers"), rest_side, 0, true);
  AddCurve(report, "bridge, low load (1 caller)", bridge_low, 1, false);
  AddCurve(report, "direct REST, low load (1 caller)", rest_low, 1, true);

  const double ratio = rest_side.profiles_per_s() > 0 ? bridge_side.profiles_per_s() / rest_side.profiles_per_s() : 0;
  report.checks.push_back({"bridge throughput >= 85% of direct REST at the same concurrency", ratio >= 0.85,
                           Number(100 * ratio, 1) + "% (" + Number(bridge_side.profiles_per_s()) + " vs " +
                               Number(rest_side.profiles_per_s()) + " profiles/s)"});
  const double added = bridge_low.load.latency.p50_ms - rest_low.load.latency.p50_ms;
  const double bridge_us = CpuMicrosPerProfile(bridge_side.bridge_cpu_s, bridge_side);
  const double rest_us = CpuMicrosPerProfile(rest_side.bench_cpu_s, rest_side);
  report.checks.push_back({"bridge CPU per profile <= 1.5 x the REST client's",
                           bridge_us > 0 && rest_us > 0 && bridge_us <= 1.5 * rest_us,
                           Number(bridge_us, 2) + " vs " + Number(rest_us, 2) + " us per profile (" +
                               Number(rest_us > 0 ? bridge_us / rest_us : 0, 2) + " x)"});
  report.checks.push_back({"added p50 latency at low load < 0.2 ms",
                           bridge_low.load.latency.count > 0 && rest_low.load.latency.count > 0 && added < 0.2,
                           Number(bridge_low.load.latency.p50_ms, 3) + " - " + Number(rest_low.load.latency.p50_ms, 3) +
                               " = " + absl::StrFormat("%.3f", added) +
                               " ms (a bare gRPC round trip to the bridge alone: p50 " + Number(bare_grpc.p50_ms, 3) +
                               " ms)"});
  report.notes.insert(report.notes.begin(),
                      "bridge started with --upstream_calls_per_second=1000000 --upstream_burst=1000000 (cap off)");
  return report;
}

Report Scenario3(const Options& options) {
  Report report;
  report.title = absl::StrCat("Scenario 3: hot set, cache on (--cache_ttl_ms=60000; hot set user0..user9999; ",
                              options.s3_callers, " callers x 100 accounts; sandbox ", kCallsPerSecond, " calls/s)");
  std::printf("%s ...\n", report.title.c_str());
  std::fflush(stdout);
  SandboxProcess sandbox(options.sandbox_binary, {CappedSandbox(), SandboxThreads(options.s3_callers)});
  AskShape shape{100, 0, 10000, options.tags};
  Side bridge_side;
  {
    BridgeProcess bridge(options.bridge_binary, sandbox.base_url(),
                         Concat({"--cache_ttl_ms=60000"}, options.bridge_flags));
    // Warm the cache: every hot account once, 100 per request.
    std::vector<std::vector<std::string>> requests;
    for (int first = 0; first < 10000; first += 100) {
      requests.emplace_back();
      for (int i = first; i < first + 100; ++i) requests.back().push_back("user" + std::to_string(i));
    }
    const auto started = Clock::now();
    const int64_t warmed = SyncAsk(bridge.target(), requests, options.tags);
    report.notes.push_back(absl::StrFormat("cache warm-up: %d of 10,000 hot accounts answered OK in %.2f s", warmed,
                                           std::chrono::duration<double>(Clock::now() - started).count()));
    SleepSeconds(1.1);
    GrpcLoadOptions load;
    load.callers = options.s3_callers;
    load.channels = std::min(options.channels, options.s3_callers);
    load.shape = shape;
    bridge_side = MeasureGrpc(options, sandbox, {&bridge}, {load}, options.warmup_s);
  }
  // The bridge has exited: its whole run, the cache warm-up included.
  bridge_side.wire = SandboxArrivals(sandbox.port(), kWireWindowsMs);
  SleepSeconds(1.1);
  RestLoadOptions rest;
  rest.callers = options.s3_callers;
  rest.shape = shape;
  Side rest_side = MeasureRest(options, sandbox, rest, options.warmup_s);
  AddStandardRows(report, bridge_side, rest_side);
  const double cores = bridge_side.bridge_cpu_s / bridge_side.load.seconds;
  const double per_core = cores > 0 ? bridge_side.profiles_per_s() / cores : 0;
  report.checks.push_back(
      {"bridge >= 1,000,000 profiles/s per bridge core from the 10,000-account hot set", per_core >= 1000000,
       Number(per_core) + " profiles/s per core (" + Number(bridge_side.profiles_per_s()) + " profiles/s on " +
           Number(cores, 2) + " cores; " + Number(bridge_side.PerSecond(bridge_side.upstream.calls), 1) +
           " upstream calls/s in the window)"});
  AddWireRows(report, bridge_side, rest_side);
  AddCurve(report, "bridge (cache on)", bridge_side, 0, false);
  AddCurve(report, "direct REST (no cache, capped)", rest_side, 0, true);
  report.notes.insert(report.notes.begin(),
                      "direct REST has no cache: same callers and hot set against the capped sandbox");
  return report;
}

Report Scenario4(const Options& options) {
  Report report;
  const int streams = options.s4_streams;
  report.title =
      absl::StrCat("Scenario 4: many open streams (", streams, " idle GetProfiles streams, 100 per connection)");
  std::printf("%s ...\n", report.title.c_str());
  std::fflush(stdout);
  SandboxProcess sandbox(options.sandbox_binary, {});
  BridgeProcess bridge(options.bridge_binary, sandbox.base_url(), options.bridge_flags);
  // One real ask first, so that lazily built state (upstream connection, UserSig) is in the baseline.
  SyncAsk(bridge.target(), {{"user1", "user2"}}, options.tags);
  SleepSeconds(0.5);
  const int64_t rss_before = ProcessStatusKiB(bridge.pid(), "VmRSS");
  const double cpu_before = ProcessCpuSeconds(bridge.pid());
  const auto started = Clock::now();
  IdleStreams idle(bridge.target(), 100);
  idle.Open(streams);
  // Wait until the bridge counts them all (its streams_in_flight gauge), at most 60 s.
  double in_flight = -1;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    in_flight = PrometheusValue(HttpGet(bridge.metrics_port(), "/metrics"), "portrait_bridge_streams_in_flight");
    if (in_flight >= streams || idle.ended() > 0) break;
    SleepSeconds(0.1);
  }
  const double open_s = std::chrono::duration<double>(Clock::now() - started).count();
  SleepSeconds(1.0);
  in_flight = PrometheusValue(HttpGet(bridge.metrics_port(), "/metrics"), "portrait_bridge_streams_in_flight");
  const int64_t rss_after = ProcessStatusKiB(bridge.pid(), "VmRSS");
  const int64_t hwm = ProcessStatusKiB(bridge.pid(), "VmHWM");
  const double cpu = ProcessCpuSeconds(bridge.pid()) - cpu_before;
  const int ended = idle.ended();
  const std::string error = idle.first_error();
  idle.CancelAll();
  const double per_stream = static_cast<double>(rss_after - rss_before) / streams;

  report.rows.push_back(
      {"streams opened | seen by the bridge (gauge)", Number(streams) + " | " + Number(in_flight), "n/a"});
  report.rows.push_back({"streams ended early", Number(ended), "n/a"});
  report.rows.push_back({"time to open all (s)", Number(open_s, 2), "n/a"});
  report.rows.push_back({"bridge RSS before (MiB)", Number(rss_before / 1024.0, 1), "n/a"});
  report.rows.push_back({"bridge RSS with streams open (MiB)", Number(rss_after / 1024.0, 1), "n/a"});
  report.rows.push_back({"bridge peak RSS (MiB)", Number(hwm / 1024.0, 1), "n/a"});
  report.rows.push_back({"bridge memory per stream (KiB)", Number(per_stream, 1), "n/a"});
  report.rows.push_back({"bridge CPU s to open them", Number(cpu, 2), "n/a"});
  if (!error.empty()) report.notes.push_back("first stream failure: " + error);
  report.checks.push_back({absl::StrCat(streams, " idle streams cost <= 16 KiB of bridge memory each"),
                           per_stream <= 16 && ended == 0 && in_flight >= streams,
                           Number(per_stream, 1) + " KiB per stream ((RSS after - RSS before) / streams)"});
  report.json = {
      {"streams", streams},         {"bridge_streams_in_flight", in_flight}, {"streams_ended_early", ended},
      {"open_seconds", open_s},     {"bridge_rss_before_kib", rss_before},   {"bridge_rss_after_kib", rss_after},
      {"bridge_peak_rss_kib", hwm}, {"kib_per_stream", per_stream},          {"bridge_cpu_s", cpu}};
  return report;
}

// Scenario 5's callers per bridge: kS5FirstBridgeShare on the first (at least one left for each other), the rest
// split evenly.
std::vector<int> S5Callers(int total) {
  std::vector<int> callers(kS5Bridges);
  callers[0] = std::min(static_cast<int>(std::lround(total * kS5FirstBridgeShare)), total - (kS5Bridges - 1));
  int rest = total - callers[0];
  for (int i = 1; i < kS5Bridges; ++i) {
    callers[static_cast<size_t>(i)] = rest / (kS5Bridges - i);
    rest -= callers[static_cast<size_t>(i)];
  }
  return callers;
}

// One side of scenario 5: a fresh sandbox capped at kCallsPerSecond, one bridge per entry of `callers`, all
// started with `bridge_flags`, each driven by that many one-account callers. The sandbox's arrivals are read once
// the bridges have exited, so they cover the bridges' whole run.
Side RunFleet(const Options& options, const std::vector<std::string>& bridge_flags, const std::vector<int>& callers) {
  SandboxProcess sandbox(options.sandbox_binary, {CappedSandbox(), SandboxThreads(options.s5_callers)});
  Side side;
  {
    std::vector<std::unique_ptr<BridgeProcess>> bridges;
    std::vector<BridgeProcess*> targets;
    std::vector<GrpcLoadOptions> loads;
    for (int count : callers) {
      bridges.push_back(std::make_unique<BridgeProcess>(options.bridge_binary, sandbox.base_url(), bridge_flags));
      targets.push_back(bridges.back().get());
      GrpcLoadOptions load;
      load.callers = count;
      load.channels = std::min(options.channels, count);
      load.shape = AskShape{1, 0, 100000, options.tags};
      loads.push_back(load);
    }
    side = MeasureGrpc(options, sandbox, targets, loads, options.warmup_s);
  }
  side.wire = SandboxArrivals(sandbox.port(), kWireWindowsMs);
  return side;
}

Report Scenario5(const Options& options) {
  Report report;
  report.columns = {"shared", "static split"};
  const std::vector<int> callers = S5Callers(options.s5_callers);
  const std::vector<double> caller_counts(callers.begin(), callers.end());
  // The static split's budget per bridge, and each shared bridge's fallback while Redis is unreachable.
  const int share = kCallsPerSecond / kS5Bridges;
  report.title = absl::StrCat("Scenario 5: ", kS5Bridges, " bridges, one budget (sandbox ", kCallsPerSecond,
                              " calls/s; ", options.s5_callers, " callers x 1 account, ", PerBridge(caller_counts),
                              " per bridge; shared through Redis vs a static split of ", share, " calls/s each)");
  std::printf("%s ...\n", report.title.c_str());
  std::fflush(stdout);
  Side shared, split;
  std::string redis_url;
  {
    RedisServer::Options redis_options;
    redis_options.binary = options.redis_binary;
    RedisServer redis(redis_options);  // Stopped by PID when this block ends, or when a run throws.
    redis_url = redis.url();
    shared = RunFleet(
        options,
        Concat({"--budget_redis_url=" + redis_url, absl::StrCat("--upstream_calls_per_second=", kCallsPerSecond),
                absl::StrCat("--budget_fallback_calls_per_second=", share)},
               options.bridge_flags),
        callers);
  }
  split =
      RunFleet(options, Concat({absl::StrCat("--upstream_calls_per_second=", share)}, options.bridge_flags), callers);

  AddStandardRows(report, shared, split);
  const auto profiles_row =
      std::find_if(report.rows.begin(), report.rows.end(), [](const Row& row) { return row.metric == "profiles/s"; });
  report.rows.insert(profiles_row == report.rows.end() ? profiles_row : profiles_row + 1,
                     {"profiles/s per bridge (" + PerBridge(caller_counts) + " callers)",
                      PerBridge(PerBridgeProfilesPerSecond(shared)), PerBridge(PerBridgeProfilesPerSecond(split))});
  auto budget_row = [&](const std::string& metric, double BridgeBudget::*field) {
    report.rows.push_back(
        {metric, PerBridge(PerBridgeBudget(shared, field)), PerBridge(PerBridgeBudget(split, field))});
  };
  budget_row("budget shared at the end (gauge, per bridge)", &BridgeBudget::shared);
  budget_row("budget fallback asks (per bridge, whole run)", &BridgeBudget::fallback_asks);

  constexpr double kTargetProfilesPerSecond = 19000;
  const double ceiling = kCallsPerSecond * kMaxAccountsPerCall;
  auto throttles = [](const Side& s) {
    return s.upstream_run.known ? Number(static_cast<double>(s.throttled_run())) : std::string("n/a");
  };
  report.checks.push_back(
      {absl::StrCat("shared >= ", Number(kTargetProfilesPerSecond), " profiles/s (",
                    Number(100 * kTargetProfilesPerSecond / ceiling), "% of the ", Number(ceiling),
                    "/s ceiling) with zero throttles"),
       shared.profiles_per_s() >= kTargetProfilesPerSecond && shared.upstream_run.known && shared.throttled_run() == 0,
       Number(shared.profiles_per_s()) + " profiles/s, " + throttles(shared) +
           " throttled upstream calls over the run (sandbox throttled + 60011/60018/60019, warm-up included), " +
           Number(static_cast<double>(ThrottledResults(shared))) +
           " RESOURCE_EXHAUSTED account results in the window; static split: " + Number(split.profiles_per_s()) +
           " profiles/s, " + throttles(split) + " throttled"});
  AddWireRows(report, shared, split);
  AddCurve(report, "shared budget (Redis)", shared, 0, false);
  AddCurve(report, "static split", split, 0, true);
  const std::vector<double> gauges = PerBridgeBudget(shared, &BridgeBudget::shared);
  report.checks.push_back(
      {absl::StrCat("all ", kS5Bridges, " shared bridges report portrait_bridge_budget_shared 1 at the end"),
       gauges.size() == static_cast<size_t>(kS5Bridges) &&
           std::all_of(gauges.begin(), gauges.end(), [](double gauge) { return gauge == 1; }),
       PerBridge(gauges)});

  report.notes.insert(
      report.notes.begin(),
      {absl::StrCat("shared: each bridge --budget_redis_url=", redis_url,
                    " --upstream_calls_per_second=", kCallsPerSecond, " --budget_fallback_calls_per_second=", share,
                    "; static split: each --upstream_calls_per_second=", share, ", no Redis"),
       "each side has its own sandbox and bridges; bridge CPU is the bridges' sum, bridge peak RSS the largest"});
  report.json["callers_per_bridge"] = callers;
  return report;
}

int Run(int argc, char** argv) {
  std::optional<Options> options = ParseOptions(argc, argv);
  if (!options) return 2;
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  for (const std::string& binary : {options->bridge_binary, options->sandbox_binary}) {
    if (access(binary.c_str(), X_OK) != 0) {
      std::fprintf(stderr, "portrait-bench: %s is not an executable\n", binary.c_str());
      return 2;
    }
  }
  std::printf("portrait-bench: %s mode, warm-up %.1f s, window %.1f s, %ld cores; bridge %s\n",
              options->quick ? "quick" : "full", options->warmup_s, options->duration_s, sysconf(_SC_NPROCESSORS_ONLN),
              options->bridge_binary.c_str());
  std::printf(
      "(sandbox, bridge and this load generator share the machine; other work on it adds noise; "
      "load average now %s)\n",
      LoadAverage().c_str());
  std::fflush(stdout);

  nlohmann::json summary = {{"mode", options->quick ? "quick" : "full"}, {"warmup_s", options->warmup_s},
                            {"duration_s", options->duration_s},         {"cores", sysconf(_SC_NPROCESSORS_ONLN)},
                            {"bridge_flags", options->bridge_flags},     {"scenarios", nlohmann::json::object()}};
  // One function per entry of kScenarioNames, in its order.
  const std::array<std::function<Report(const Options&)>, kScenarioNames.size()> scenarios = {
      Scenario1, Scenario1b, Scenario2, Scenario3, Scenario4, Scenario5};
  int misses = 0;
  std::vector<Check> all_checks;
  for (size_t index = 0; index < kScenarioNames.size(); ++index) {
    const std::string name = kScenarioNames[index];
    if (!options->scenario.empty() && options->scenario != name) continue;
    Report report;
    try {
      report = scenarios[index](*options);
    } catch (const std::exception& e) {
      report.title = absl::StrCat("Scenario ", name, " could not run");
      report.checks.push_back({"scenario ran", false, e.what()});
    }
    if (!report.curves.empty() && !options->plots_dir.empty()) {
      report.notes.push_back(
          WritePercentilePlot(options->plots_dir, name, report.title, report.curves, report.plot_lines));
    }
    report.notes.push_back("machine load average (1 min) after the scenario: " + LoadAverage());
    Print(report);
    FinishJson(report);
    summary["scenarios"][name] = report.json;
    for (const Check& check : report.checks) {
      misses += check.pass ? 0 : 1;
      all_checks.push_back(check);
    }
  }
  std::printf("\n== Summary ==\n");
  for (const Check& check : all_checks) {
    std::printf("%s  %s: %s\n", check.pass ? "PASS" : "MISS", check.target.c_str(), check.measured.c_str());
  }
  if (!options->json_out.empty()) {
    std::ofstream out(options->json_out, std::ios::trunc);
    out << summary.dump(2) << "\n";
    std::printf("JSON summary: %s\n", options->json_out.c_str());
  }
  curl_global_cleanup();
  // Misses are results, not failures of the command.
  (void)misses;
  return 0;
}

}  // namespace
}  // namespace portrait_bridge::bench

int main(int argc, char** argv) { return portrait_bridge::bench::Run(argc, argv); }

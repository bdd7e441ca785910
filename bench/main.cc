// portrait-bench: drives the bridge with many concurrent gRPC callers and, as the baseline, calls the same sandbox
// directly over signed REST, then prints a table per scenario (bench/README.md).

#include <curl/curl.h>
#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/grpc_load.h"
#include "bench/measure.h"
#include "bench/rest_load.h"
#include "bench/stack.h"

namespace portrait_bridge::bench {
namespace {

constexpr char kUsage[] = R"(portrait-bench: load generator for portrait-bridge (see bench/README.md)

  --scenario=N          run scenario N only (1..4); default: all
  --quick               smoke mode: 1 s warm-up, 3 s measurement, 1 s low-load runs, 2,000 idle streams
  --warmup_s=S          warm-up before each measurement (default 2)
  --duration_s=S        measurement window (default 10)
  --low_load_s=S        each low-load run of scenario 2 (default 3)
  --s1_callers=N        scenario 1 callers (default 500)
  --s2_callers=N        scenario 2 callers (default 50)
  --s3_callers=N        scenario 3 callers (default 50)
  --s4_streams=N        scenario 4 idle streams (default 10000)
  --channels=N          gRPC connections for the callers (default 8)
  --rest_threads=N      curl multi threads of the REST baseline (default 2)
  --tags=T,T            tags asked (default Nick,Gender,BirthDay,Level)
  --bridge_flag=--k=v   extra bridge flag for every scenario (repeatable)
  --bridge_binary=PATH, --sandbox_binary=PATH   (default: the ones built beside this binary)
  --json_out=PATH       also write a JSON summary
)";

struct Options {
  int scenario = 0;
  bool quick = false;
  double warmup_s = 2, duration_s = 10, low_load_s = 3;
  int s1_callers = 500, s2_callers = 50, s3_callers = 50, s4_streams = 10000;
  int channels = 8;
  int rest_threads = 2;
  std::vector<std::string> tags = {"Tag_Profile_IM_Nick", "Tag_Profile_IM_Gender", "Tag_Profile_IM_BirthDay",
                                   "Tag_Profile_IM_Level"};
  std::vector<std::string> bridge_flags;
  std::string bridge_binary = BENCH_BRIDGE_BINARY;
  std::string sandbox_binary = BENCH_SANDBOX_BINARY;
  std::string json_out;
};

std::optional<Options> ParseOptions(int argc, char** argv) {
  Options options;
  bool warmup_set = false, duration_set = false, low_set = false, streams_set = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string name = arg, value;
    const size_t equals = arg.find('=');
    if (equals != std::string::npos) {
      name = arg.substr(0, equals);
      value = arg.substr(equals + 1);
    } else if (arg != "--quick" && arg != "--help" && i + 1 < argc) {
      value = argv[++i];  // "--scenario 2"
    }
    try {
      if (name == "--help" || name == "-h") {
        std::fputs(kUsage, stdout);
        std::exit(0);
      } else if (name == "--quick") {
        options.quick = true;
      } else if (name == "--scenario") {
        options.scenario = std::stoi(value);
      } else if (name == "--warmup_s") {
        options.warmup_s = std::stod(value), warmup_set = true;
      } else if (name == "--duration_s") {
        options.duration_s = std::stod(value), duration_set = true;
      } else if (name == "--low_load_s") {
        options.low_load_s = std::stod(value), low_set = true;
      } else if (name == "--s1_callers") {
        options.s1_callers = std::stoi(value);
      } else if (name == "--s2_callers") {
        options.s2_callers = std::stoi(value);
      } else if (name == "--s3_callers") {
        options.s3_callers = std::stoi(value);
      } else if (name == "--s4_streams") {
        options.s4_streams = std::stoi(value), streams_set = true;
      } else if (name == "--channels") {
        options.channels = std::stoi(value);
      } else if (name == "--rest_threads") {
        options.rest_threads = std::stoi(value);
      } else if (name == "--tags") {
        options.tags = absl::StrSplit(value, ',', absl::SkipEmpty());
      } else if (name == "--bridge_flag") {
        options.bridge_flags.push_back(value);
      } else if (name == "--bridge_binary") {
        options.bridge_binary = value;
      } else if (name == "--sandbox_binary") {
        options.sandbox_binary = value;
      } else if (name == "--json_out") {
        options.json_out = value;
      } else {
        std::fprintf(stderr, "portrait-bench: unknown flag %s\n%s", arg.c_str(), kUsage);
        return std::nullopt;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "portrait-bench: bad value for %s\n", name.c_str());
      return std::nullopt;
    }
  }
  if (options.scenario < 0 || options.scenario > 4) {
    std::fprintf(stderr, "portrait-bench: --scenario must be 1..4\n");
    return std::nullopt;
  }
  if (options.quick) {
    if (!warmup_set) options.warmup_s = 1;
    if (!duration_set) options.duration_s = 3;
    if (!low_set) options.low_load_s = 1;
    if (!streams_set) options.s4_streams = 2000;
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

// ---- One measured run (bridge or direct REST) ----

struct Side {
  bool ran = false;
  LoadResult load;
  UpstreamDelta upstream;      // inside the window
  UpstreamDelta upstream_run;  // warm-up and window
  double bridge_cpu_s = -1;
  int64_t bridge_hwm_kib = -1;
  double sandbox_cpu_s = -1;
  double bench_cpu_s = -1;

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

/// Warm-up, then the measured window. `start` begins the load (it keeps running through both), `stop` ends it
/// after the window. `bridge_pid` is 0 for the REST baseline.
Side Measure(const Options& options, SandboxProcess& sandbox, pid_t bridge_pid, Recorder& recorder,
             const std::function<void()>& start, const std::function<void()>& stop, double warmup_s) {
  Side side;
  side.ran = true;
  const nlohmann::json before_run = SandboxStats(sandbox.port());
  start();
  SleepSeconds(warmup_s);
  const nlohmann::json before = SandboxStats(sandbox.port());
  const double bridge_cpu0 = bridge_pid > 0 ? ProcessCpuSeconds(bridge_pid) : 0;
  const double sandbox_cpu0 = ProcessCpuSeconds(sandbox.pid());
  const double bench_cpu0 = ProcessCpuSeconds(getpid());
  recorder.OpenWindow();
  SleepSeconds(options.duration_s);
  recorder.CloseWindow();
  const nlohmann::json after = SandboxStats(sandbox.port());
  if (bridge_pid > 0) side.bridge_cpu_s = ProcessCpuSeconds(bridge_pid) - bridge_cpu0;
  side.sandbox_cpu_s = ProcessCpuSeconds(sandbox.pid()) - sandbox_cpu0;
  side.bench_cpu_s = ProcessCpuSeconds(getpid()) - bench_cpu0;
  stop();
  if (bridge_pid > 0) side.bridge_hwm_kib = ProcessStatusKiB(bridge_pid, "VmHWM");
  side.load = recorder.Result();
  side.upstream = Diff(before, after);
  side.upstream_run = Diff(before_run, SandboxStats(sandbox.port()));
  return side;
}

Side MeasureGrpc(const Options& options, SandboxProcess& sandbox, BridgeProcess& bridge, GrpcLoadOptions load_options,
                 double warmup_s) {
  Recorder recorder;
  load_options.target = bridge.target();
  GrpcLoad load(load_options, recorder);
  return Measure(
      options, sandbox, bridge.pid(), recorder, [&] { load.Start(); },
      [&] { load.Stop(std::chrono::seconds(10)); }, warmup_s);
}

Side MeasureRest(const Options& options, SandboxProcess& sandbox, RestLoadOptions load_options, double warmup_s) {
  Recorder recorder;
  load_options.base_url = sandbox.base_url();
  load_options.threads = options.rest_threads;
  RestLoad load(load_options, recorder);
  return Measure(
      options, sandbox, 0, recorder, [&] { load.Start(); }, [&] { load.Stop(); }, warmup_s);
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
  std::string metric, bridge, rest;
};

struct Check {
  std::string target;
  bool pass = false;
  std::string measured;
};

struct Report {
  std::string title;
  std::vector<Row> rows;
  std::vector<std::string> notes;
  std::vector<Check> checks;
  nlohmann::json json;
};

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
                        {"p99", side.load.latency.p99_ms},
                        {"p999", side.load.latency.p999_ms},
                        {"max", side.load.latency.max_ms},
                        {"mean", side.load.latency.mean_ms}}},
                      {"errors", side.load.errors},
                      {"sandbox_cpu_s", side.sandbox_cpu_s},
                      {"load_generator_cpu_s", side.bench_cpu_s}};
  if (side.bridge_cpu_s >= 0) j["bridge_cpu_s"] = side.bridge_cpu_s;
  if (side.bridge_hwm_kib >= 0) j["bridge_peak_rss_kib"] = side.bridge_hwm_kib;
  return j;
}

void AddStandardRows(Report& report, const Side& bridge, const Side& rest) {
  auto both = [&](const std::string& metric, const std::function<std::string(const Side&)>& f) {
    report.rows.push_back({metric, bridge.ran ? f(bridge) : "n/a", rest.ran ? f(rest) : "n/a"});
  };
  both("measured window (s)", [](const Side& s) { return Number(s.load.seconds, 1); });
  both("profiles/s", [](const Side& s) { return Number(s.profiles_per_s()); });
  both("asks/s (gRPC requests | HTTP calls)", [](const Side& s) { return Number(s.PerSecond(s.load.asks)); });
  both("failed accounts/s", [](const Side& s) { return Number(s.PerSecond(s.load.accounts_failed)); });
  // "n/a" when a /sandbox/stats snapshot could not be had.
  both("upstream calls/s (all)", [](const Side& s) {
    return s.upstream.known ? Number(s.PerSecond(s.upstream.calls), 1) : std::string("n/a");
  });
  both("upstream OK calls/s", [](const Side& s) {
    return s.upstream.known ? Number(s.PerSecond(s.upstream.ok), 1) : std::string("n/a");
  });
  both("mean fill (accounts per OK call)", [](const Side& s) {
    return s.upstream.known ? Number(s.mean_fill(), 1) : std::string("n/a");
  });
  both("upstream throttled (window | whole run)", [](const Side& s) {
    return (s.upstream.known ? Number(static_cast<double>(s.upstream.throttled)) : std::string("n/a")) + " | " +
           (s.upstream_run.known ? Number(static_cast<double>(s.throttled_run())) : std::string("n/a"));
  });
  auto latency = [](double LatencySummary::*field) {
    return [field](const Side& s) {
      return s.load.latency.count > 0 ? Number(s.load.latency.*field, 2) : std::string("n/a");
    };
  };
  both("latency samples (asks started in window)", [](const Side& s) {
    return Number(static_cast<double>(s.load.latency.count));
  });
  both("latency p50 (ms)", latency(&LatencySummary::p50_ms));
  both("latency p99 (ms)", latency(&LatencySummary::p99_ms));
  both("latency p999 (ms)", latency(&LatencySummary::p999_ms));
  both("latency max (ms)", latency(&LatencySummary::max_ms));
  both("bridge CPU s in window (cores)", [](const Side& s) {
    if (s.bridge_cpu_s < 0) return std::string("n/a");
    return Number(s.bridge_cpu_s, 2) + " (" + Number(s.bridge_cpu_s / s.load.seconds, 2) + ")";
  });
  both("bridge peak RSS (MiB)", [](const Side& s) { return Number(s.bridge_hwm_kib / 1024.0, 1); });
  both("sandbox CPU s in window", [](const Side& s) { return Number(s.sandbox_cpu_s, 2); });
  both("load generator CPU s in window", [](const Side& s) { return Number(s.bench_cpu_s, 2); });
  report.notes.push_back("errors, bridge (accounts by status and ErrorInfo reason; streams): " + Errors(bridge));
  report.notes.push_back("errors, direct REST: " + Errors(rest));
  auto codes = [](const Side& s) {
    std::string text;
    for (const auto& [code, count] : s.upstream.error_codes) {
      text += (text.empty() ? "" : ", ") + code + " x" + Number(static_cast<double>(count));
    }
    return text.empty() ? std::string("none") : text;
  };
  if (bridge.ran && bridge.upstream.known) {
    report.notes.push_back("upstream ErrorCodes in window, bridge run: " + codes(bridge));
  }
  if (rest.ran && rest.upstream.known) {
    report.notes.push_back("upstream ErrorCodes in window, direct REST run: " + codes(rest));
  }
  if ((bridge.ran && !bridge.upstream.known) || (rest.ran && !rest.upstream.known)) {
    report.notes.push_back("(a /sandbox/stats snapshot failed: upstream figures marked n/a)");
  }
  report.json["bridge"] = SideJson(bridge);
  report.json["direct_rest"] = SideJson(rest);
}

void Print(const Report& report) {
  std::printf("\n== %s ==\n", report.title.c_str());
  size_t width = 0;
  for (const Row& row : report.rows) width = std::max(width, row.metric.size());
  size_t bridge_width = 12;
  for (const Row& row : report.rows) bridge_width = std::max(bridge_width, row.bridge.size());
  std::printf("%-*s  %*s  %s\n", static_cast<int>(width), "metric", static_cast<int>(bridge_width), "bridge",
              "direct REST");
  for (const Row& row : report.rows) {
    std::printf("%-*s  %*s  %s\n", static_cast<int>(width), row.metric.c_str(), static_cast<int>(bridge_width),
                row.bridge.c_str(), row.rest.c_str());
  }
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

// ---- Scenarios ----

Report Scenario1(const Options& options) {
  Report report;
  report.title = absl::StrCat("Scenario 1: many small callers under the real cap (sandbox 200 calls/s; ",
                              options.s1_callers, " callers x 1 account from user0..user99999)");
  std::printf("%s ...\n", report.title.c_str());
  std::fflush(stdout);
  SandboxProcess sandbox(options.sandbox_binary, {"--calls_per_second=200", SandboxThreads(options.s1_callers)});
  AskShape shape{1, 0, 100000, options.tags};
  Side bridge_side;
  {
    BridgeProcess bridge(options.bridge_binary, sandbox.base_url(), options.bridge_flags);
    GrpcLoadOptions load;
    load.callers = options.s1_callers;
    load.channels = options.channels;
    load.shape = shape;
    bridge_side = MeasureGrpc(options, sandbox, bridge, load, options.warmup_s);
  }
  SleepSeconds(1.1);  // Let the sandbox's 1 s window forget the bridge's calls.
  RestLoadOptions rest;
  rest.callers = options.s1_callers;
  rest.shape = shape;
  Side rest_side = MeasureRest(options, sandbox, rest, options.warmup_s);
  AddStandardRows(report, bridge_side, rest_side);
  const double ceiling = 200.0 * 100;
  report.checks.push_back({"bridge >= 18,000 profiles/s (90% of the 20,000/s ceiling)",
                           bridge_side.profiles_per_s() >= 18000,
                           Number(bridge_side.profiles_per_s()) + " profiles/s (" +
                               Number(100 * bridge_side.profiles_per_s() / ceiling, 1) + "% of ceiling)"});
  int64_t throttled_results = 0;
  for (const auto& [label, count] : bridge_side.load.errors) {
    if (label.find("60007") != std::string::npos || label.find("RESOURCE_EXHAUSTED") != std::string::npos) {
      throttled_results += count;
    }
  }
  report.checks.push_back({"zero upstream throttling errors",
                           bridge_side.upstream_run.known && bridge_side.throttled_run() == 0 && throttled_results == 0,
                           Number(static_cast<double>(bridge_side.throttled_run())) +
                               " throttled upstream calls over the bridge run (warm-up included), " +
                               Number(static_cast<double>(throttled_results)) +
                               " RESOURCE_EXHAUSTED account results in the window"});
  report.checks.push_back({"bridge p99 < 50 ms", bridge_side.load.latency.count > 0 && bridge_side.load.latency.p99_ms < 50,
                           bridge_side.load.latency.count > 0
                               ? Number(bridge_side.load.latency.p99_ms, 2) + " ms"
                               : std::string("n/a: no ask that started in the window was answered in it")});
  report.notes.insert(report.notes.begin(),
                      absl::StrCat("direct REST: ", options.s1_callers, " keep-alive connections on ",
                                   options.rest_threads,
                                   " curl multi threads, no retry: a throttled call moves on to the next account"));
  return report;
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
  {
    BridgeProcess bridge(options.bridge_binary, sandbox.base_url(), Concat(uncapped, options.bridge_flags));
    GrpcLoadOptions load;
    load.callers = options.s2_callers;
    load.channels = std::min(options.channels, options.s2_callers);
    load.shape = shape;
    bridge_side = MeasureGrpc(options, sandbox, bridge, load, options.warmup_s);
    load.callers = 1;
    load.channels = 1;
    Options low = options;
    low.duration_s = options.low_load_s;
    bridge_low = MeasureGrpc(low, sandbox, bridge, load, 0.5);
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
  report.rows.push_back({"low load: upstream mean fill", Number(bridge_low.mean_fill(), 1),
                         Number(rest_low.mean_fill(), 1)});
  report.notes.push_back("errors, bridge low load: " + Errors(bridge_low));
  report.notes.push_back("errors, direct REST low load: " + Errors(rest_low));
  report.json["bridge_low_load"] = SideJson(bridge_low);
  report.json["direct_rest_low_load"] = SideJson(rest_low);

  const double ratio = rest_side.profiles_per_s() > 0 ? bridge_side.profiles_per_s() / rest_side.profiles_per_s() : 0;
  report.checks.push_back({"bridge throughput >= 70% of direct REST at the same concurrency", ratio >= 0.7,
                           Number(100 * ratio, 1) + "% (" + Number(bridge_side.profiles_per_s()) + " vs " +
                               Number(rest_side.profiles_per_s()) + " profiles/s)"});
  const double added = bridge_low.load.latency.p50_ms - rest_low.load.latency.p50_ms;
  report.checks.push_back({"added p50 latency at low load < 0.5 ms",
                           bridge_low.load.latency.count > 0 && rest_low.load.latency.count > 0 && added < 0.5,
                           Number(bridge_low.load.latency.p50_ms, 3) + " - " + Number(rest_low.load.latency.p50_ms, 3) +
                               " = " + absl::StrFormat("%.3f", added) + " ms"});
  report.notes.insert(report.notes.begin(),
                      "bridge started with --upstream_calls_per_second=1000000 --upstream_burst=1000000 (cap off)");
  return report;
}

Report Scenario3(const Options& options) {
  Report report;
  report.title = absl::StrCat("Scenario 3: hot set, cache on (--cache_ttl_ms=60000; hot set user0..user9999; ",
                              options.s3_callers, " callers x 100 accounts; sandbox 200 calls/s)");
  std::printf("%s ...\n", report.title.c_str());
  std::fflush(stdout);
  SandboxProcess sandbox(options.sandbox_binary, {"--calls_per_second=200", SandboxThreads(options.s3_callers)});
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
    bridge_side = MeasureGrpc(options, sandbox, bridge, load, options.warmup_s);
  }
  SleepSeconds(1.1);
  RestLoadOptions rest;
  rest.callers = options.s3_callers;
  rest.shape = shape;
  Side rest_side = MeasureRest(options, sandbox, rest, options.warmup_s);
  AddStandardRows(report, bridge_side, rest_side);
  report.checks.push_back({"bridge >= 100,000 profiles/s from the 10,000-account hot set",
                           bridge_side.profiles_per_s() >= 100000,
                           Number(bridge_side.profiles_per_s()) + " profiles/s (" +
                               Number(bridge_side.PerSecond(bridge_side.upstream.calls), 1) +
                               " upstream calls/s in the window)"});
  report.notes.insert(report.notes.begin(),
                      "direct REST has no cache: same callers and hot set against the capped sandbox");
  return report;
}

Report Scenario4(const Options& options) {
  Report report;
  const int streams = options.s4_streams;
  report.title = absl::StrCat("Scenario 4: many open streams (", streams, " idle GetProfiles streams, 100 per connection)");
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

  report.rows.push_back({"streams opened | seen by the bridge (gauge)", Number(streams) + " | " + Number(in_flight), "n/a"});
  report.rows.push_back({"streams ended early", Number(ended), "n/a"});
  report.rows.push_back({"time to open all (s)", Number(open_s, 2), "n/a"});
  report.rows.push_back({"bridge RSS before (MiB)", Number(rss_before / 1024.0, 1), "n/a"});
  report.rows.push_back({"bridge RSS with streams open (MiB)", Number(rss_after / 1024.0, 1), "n/a"});
  report.rows.push_back({"bridge peak RSS (MiB)", Number(hwm / 1024.0, 1), "n/a"});
  report.rows.push_back({"bridge memory per stream (KiB)", Number(per_stream, 1), "n/a"});
  report.rows.push_back({"bridge CPU s to open them", Number(cpu, 2), "n/a"});
  if (!error.empty()) report.notes.push_back("first stream failure: " + error);
  report.checks.push_back({absl::StrCat(streams, " idle streams cost <= 32 KiB of bridge memory each"),
                           per_stream <= 32 && ended == 0 && in_flight >= streams,
                           Number(per_stream, 1) + " KiB per stream ((RSS after - RSS before) / streams)"});
  report.json = {{"streams", streams},
                 {"bridge_streams_in_flight", in_flight},
                 {"streams_ended_early", ended},
                 {"open_seconds", open_s},
                 {"bridge_rss_before_kib", rss_before},
                 {"bridge_rss_after_kib", rss_after},
                 {"bridge_peak_rss_kib", hwm},
                 {"kib_per_stream", per_stream},
                 {"bridge_cpu_s", cpu}};
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
  std::printf("(sandbox, bridge and this load generator share the machine; other work on it adds noise; "
              "load average now %s)\n",
              LoadAverage().c_str());
  std::fflush(stdout);

  nlohmann::json summary = {{"mode", options->quick ? "quick" : "full"},
                            {"warmup_s", options->warmup_s},
                            {"duration_s", options->duration_s},
                            {"cores", sysconf(_SC_NPROCESSORS_ONLN)},
                            {"bridge_flags", options->bridge_flags},
                            {"scenarios", nlohmann::json::object()}};
  std::vector<std::function<Report(const Options&)>> scenarios = {Scenario1, Scenario2, Scenario3, Scenario4};
  int misses = 0;
  std::vector<Check> all_checks;
  for (int index = 1; index <= 4; ++index) {
    if (options->scenario != 0 && options->scenario != index) continue;
    Report report;
    try {
      report = scenarios[static_cast<size_t>(index - 1)](*options);
    } catch (const std::exception& e) {
      report.title = absl::StrCat("Scenario ", index, " could not run");
      report.checks.push_back({"scenario ran", false, e.what()});
    }
    report.notes.push_back("machine load average (1 min) after the scenario: " + LoadAverage());
    Print(report);
    FinishJson(report);
    summary["scenarios"][std::to_string(index)] = report.json;
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

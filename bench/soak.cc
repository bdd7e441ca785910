// portrait-soak: pushes a million account entries (--accounts) through a real bridge in front of a real sandbox
// while injecting every upstream fault class at random (sandbox stopped and restarted, killed and restarted, HTTP
// 502, dropped connections, truncated bodies, non-JSON bodies, slow answers, answers slower than the attempt
// timeout), keeps a ledger of every entry asked and every result received (tests/support/exactly_once_load.h),
// and samples the bridge's memory. Prints answered / expected / duplicates / missing and the bridge's peak RSS;
// exits 1 when any entry was answered twice or never, or a stream failed, or the bridge died. Not a test: a
// command of its own (README.md, "Soak").

#include <curl/curl.h>
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/measure.h"
#include "bench/stack.h"
#include "bridge/core/options.h"
#include "tests/support/exactly_once_load.h"
#include "tests/support/subprocess.h"

namespace portrait_bridge::bench {
namespace {

// The fault classes, drawn uniformly.
enum class Fault { kStop, kKill, kHttp502, kDrop, kTruncated, kNonJson, kSlow, kTimeout };
constexpr Fault kFaults[] = {Fault::kStop,      Fault::kKill,    Fault::kHttp502, Fault::kDrop,
                             Fault::kTruncated, Fault::kNonJson, Fault::kSlow,    Fault::kTimeout};

const char* FaultName(Fault fault) {
  switch (fault) {
    case Fault::kStop:
      return "sandbox stopped (SIGTERM) and restarted";
    case Fault::kKill:
      return "sandbox killed (SIGKILL) and restarted";
    case Fault::kHttp502:
      return "HTTP 502";
    case Fault::kDrop:
      return "dropped connection";
    case Fault::kTruncated:
      return "truncated body";
    case Fault::kNonJson:
      return "non-JSON body";
    case Fault::kSlow:
      return "slow answers (latency within the attempt timeout)";
    case Fault::kTimeout:
      return "answers slower than the attempt timeout";
  }
  return "?";
}

struct Options {
  int64_t accounts = 1000000;
  int streams = 8;
  int64_t entries_per_stream = 20000;
  int outstanding = 2000;
  int fault_min_ms = 500, fault_max_ms = 2500;
  int attempt_timeout_ms = 1000;
  uint64_t seed = 1;
  std::vector<std::string> bridge_flags;
  std::string bridge_binary = BENCH_BRIDGE_BINARY;
  std::string sandbox_binary = BENCH_SANDBOX_BINARY;
};

using B = OptionBuilder<Options>;

// The flags, one line each (the shared option parser, bridge/core/options.h); the defaults are Options' initial
// values.
const OptionTable<Options>& SoakTable() {
  static const auto* table = new OptionTable<Options>(
      OptionSources{/*env_prefix=*/"", /*config_file=*/false, /*defaults_from_target=*/true, /*error_prefix=*/""},
      {
          B::Integer("accounts", "", 1, int64_t{1} << 40, "account entries to push through in all",
                     Field(&Options::accounts)),
          B::Integer("streams", "", 1, 10000,
                     "concurrent GetProfiles streams; each ends after --entries_per_stream and a new one starts",
                     Field(&Options::streams)),
          B::Integer("entries_per_stream", "", 1, int64_t{1} << 40, "account entries per stream",
                     Field(&Options::entries_per_stream)),
          B::Integer("outstanding", "", 1, 1000000, "entries asked and not yet answered, per stream",
                     Field(&Options::outstanding)),
          B::List(
              "fault_every_ms", "", "pause before each fault, uniform in [A, B] ms (A,B; or A alone)",
              [](std::vector<std::string> texts, Options& options) {
                if (texts.empty() || texts.size() > 2) return absl::InvalidArgumentError("must be A,B or A");
                absl::StatusOr<int64_t> low = ParseIntegerOption(texts[0], 0, 3600000);
                if (!low.ok()) return low.status();
                absl::StatusOr<int64_t> high = ParseIntegerOption(texts.back(), *low, 3600000);
                if (!high.ok()) return high.status();
                options.fault_min_ms = static_cast<int>(*low);
                options.fault_max_ms = static_cast<int>(*high);
                return absl::OkStatus();
              },
              [](const Options& options) { return absl::StrCat(options.fault_min_ms, ",", options.fault_max_ms); }),
          B::Integer("attempt_timeout_ms", "", 1, 600000,
                     "the bridge's upstream attempt timeout; the slowest fault exceeds it",
                     Field(&Options::attempt_timeout_ms)),
          B::Integer("seed", "", 0, (int64_t{1} << 53) - 1, "of the faults and of the accounts", Field(&Options::seed)),
          B::Repeated("bridge_flag", "extra bridge flag, e.g. --k=v", Field(&Options::bridge_flags)),
          B::String("bridge_binary", "", "the bridge to run", Field(&Options::bridge_binary)),
          B::String("sandbox_binary", "", "the sandbox to run", Field(&Options::sandbox_binary)),
      });
  return *table;
}

std::optional<Options> ParseOptions(int argc, char** argv) {
  Options options;
  if (!SoakTable().ParseCommandLine(argc, argv, "portrait-soak",
                                    "a million account entries through the bridge under random upstream faults",
                                    options)) {
    return std::nullopt;
  }
  return options;
}

// POST http://127.0.0.1:<port>/sandbox/faults; false unless answered 200.
bool SetFaults(int port, const nlohmann::json& faults) {
  CURL* curl = curl_easy_init();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/sandbox/faults";
  const std::string body = faults.dump();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(
      curl, CURLOPT_WRITEFUNCTION, +[](char*, size_t size, size_t count, void*) -> size_t { return size * count; });
  long status = 0;
  const bool sent = curl_easy_perform(curl) == CURLE_OK;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  return sent && status == 200;
}

// Processes whose environment carries this soak's run marker (tests/support/subprocess.h), i.e. processes it
// started that are still alive.
std::vector<pid_t> MarkedProcesses() {
  const std::string marker = std::string(testing::kTestRunVariable) + "=" + testing::TestRunId();
  std::vector<pid_t> pids;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* entry = readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atol(entry->d_name));
    if (pid <= 0 || pid == getpid()) continue;
    std::ifstream in("/proc/" + std::to_string(pid) + "/environ");
    std::string variable;
    while (std::getline(in, variable, '\0')) {
      if (variable == marker) {
        pids.push_back(pid);
        break;
      }
    }
  }
  closedir(proc);
  return pids;
}

class Soak {
 public:
  explicit Soak(Options options) : options_(std::move(options)), random_(options_.seed) {}

  int Run() {
    std::cout << absl::StrFormat("portrait-soak: %d account entries, %d streams, a fault every %d..%d ms\n",
                                 options_.accounts, options_.streams, options_.fault_min_ms, options_.fault_max_ms);
    // As many sandbox workers as the bridge may hold connections, plus those the slow faults keep busy.
    sandbox_.emplace(options_.sandbox_binary, std::vector<std::string>{"--threads=192"});
    std::vector<std::string> bridge_flags = {"--attempt_timeout_ms=" + std::to_string(options_.attempt_timeout_ms),
                                             "--retry_initial_backoff_ms=10", "--retry_max_backoff_ms=200"};
    bridge_flags.insert(bridge_flags.end(), options_.bridge_flags.begin(), options_.bridge_flags.end());
    bridge_.emplace(options_.bridge_binary, sandbox_->base_url(), bridge_flags);
    const int64_t rss_at_start_kib = ProcessStatusKiB(bridge_->pid(), "VmRSS");

    testing::ExactlyOnceOptions load_options;
    load_options.target = bridge_->target();
    load_options.streams = options_.streams;
    load_options.total_entries = options_.accounts;
    load_options.distinct_per_request = 50;
    load_options.duplicates_per_request = 10;
    load_options.hot_per_request = 2;
    load_options.unknown_per_request = 1;
    load_options.max_outstanding_per_stream = options_.outstanding;
    load_options.entries_per_stream = options_.entries_per_stream;
    load_options.stream_deadline = std::chrono::minutes(10);
    load_options.seed = options_.seed;
    testing::ExactlyOnceLoad load(load_options);

    const auto start = std::chrono::steady_clock::now();
    started_ = start;
    load.Start();
    std::thread faults([this] { InjectFaults(); });
    std::thread sampler([this, &load, start] { Sample(load, start); });
    load.Wait();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    faults.join();
    sampler.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    const bool bridge_alive = bridge_->Running();
    const int64_t peak_kib = ProcessStatusKiB(bridge_->pid(), "VmHWM");
    const int64_t rss_at_end_kib = ProcessStatusKiB(bridge_->pid(), "VmRSS");
    if (sandbox_->Running()) AddSandboxStats();
    const testing::ExactlyOnceReport report = load.Report();
    const pid_t bridge_pid = bridge_->pid(), sandbox_pid = sandbox_->pid();
    bridge_.reset();
    sandbox_.reset();
    const std::vector<pid_t> leftovers = MarkedProcesses();

    const int64_t never_asked = options_.accounts - report.expected;
    const int64_t missing = report.missing + never_asked;
    std::cout << "\n" << report.Summary() << "\n\n";
    std::cout << absl::StrFormat(
        "answered:   %d\nexpected:   %d\nduplicates: %d\nmissing:    %d%s\n", report.answered, options_.accounts,
        report.duplicates, missing,
        never_asked > 0 ? absl::StrFormat(" (%d never asked: a stream failed)", never_asked) : std::string());
    std::cout << absl::StrFormat(
        "wrong answers: %d, bad completions: %d, streams %d (not OK: %d)\n", report.wrong, report.bad_completions,
        report.streams,
        report.streams - (report.stream_statuses.count("OK") != 0 ? report.stream_statuses.at("OK") : 0));
    std::cout << absl::StrFormat("time: %.1f s, %.0f entries/s\n", seconds, report.answered / seconds);
    std::cout << "faults injected:";
    for (const auto& [name, count] : injected_) std::cout << "\n  " << count << " x " << name;
    std::cout << absl::StrFormat(
        "\nupstream (sandbox counters, summed over its %d processes): %d calls, %d OK, %d faulted, %d throttled\n",
        sandbox_processes_, upstream_calls_, upstream_ok_, upstream_faulted_, upstream_throttled_);
    // VmHWM is the kernel's high-water mark, which it updates lazily: a 100 ms sample of VmRSS can be a little higher.
    std::cout << absl::StrFormat(
        "bridge (pid %d): %s; peak RSS %.1f MiB (VmHWM %.1f MiB, highest VmRSS sample %.1f MiB); RSS %.1f MiB at "
        "start, %.1f MiB at the end\n",
        bridge_pid, bridge_alive ? "running to the end" : "DIED", std::max(peak_kib, max_rss_kib_) / 1024.0,
        peak_kib / 1024.0, max_rss_kib_ / 1024.0, rss_at_start_kib / 1024.0, rss_at_end_kib / 1024.0);
    std::cout << "processes left behind: " << leftovers.size() << " (sandbox pid " << sandbox_pid << ")\n";

    const bool clean = report.duplicates == 0 && missing == 0 && report.wrong == 0 && report.bad_completions == 0 &&
                       report.Clean() && bridge_alive && leftovers.empty();
    std::cout << (clean ? "PASS: every entry answered exactly once\n" : "FAIL\n");
    return clean ? 0 : 1;
  }

 private:
  int Between(int low, int high) { return std::uniform_int_distribution<int>(low, high)(random_); }

  // Sleeps `ms`, or less once the load is done; returns whether it is done.
  bool Pause(int ms) {
    std::unique_lock<std::mutex> lock(mutex_);
    return wake_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return done_; });
  }

  // Adds the counters of the sandbox process that is about to go (or has finished) to the totals.
  void AddSandboxStats() {
    const nlohmann::json stats = SandboxStats(sandbox_->port());
    if (!stats.is_object()) return;
    ++sandbox_processes_;
    upstream_calls_ += stats.value("calls", int64_t{0});
    upstream_ok_ += stats.value("ok", int64_t{0});
    upstream_faulted_ += stats.value("faulted", int64_t{0});
    upstream_throttled_ += stats.value("throttled", int64_t{0});
  }

  void Log(const std::string& line) {
    std::cout << absl::StrFormat("[%6.1f s] ",
                                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count())
              << line << std::endl;
  }

  void InjectFaults() {
    while (!Pause(Between(options_.fault_min_ms, options_.fault_max_ms))) {
      const Fault fault = kFaults[Between(0, static_cast<int>(std::size(kFaults)) - 1)];
      ++injected_[FaultName(fault)];
      const int port = sandbox_->port();
      switch (fault) {
        case Fault::kStop:
        case Fault::kKill: {
          const int downtime_ms = Between(100, 1500);
          AddSandboxStats();  // Calls in the moment between this read and the stop are not counted.
          if (!sandbox_->Stop(fault == Fault::kStop ? SIGTERM : SIGKILL)) Log("the sandbox did not stop");
          Log(absl::StrFormat("%s, down %d ms", FaultName(fault), downtime_ms));
          Pause(downtime_ms);  // Even when done: the sandbox comes back before the end.
          if (!sandbox_->Restart()) {
            Log("the sandbox could not be restarted on its port: no more faults");
            return;
          }
          break;
        }
        case Fault::kHttp502:
        case Fault::kDrop:
        case Fault::kTruncated:
        case Fault::kNonJson: {
          const char* key = fault == Fault::kHttp502     ? "http_502_count"
                            : fault == Fault::kDrop      ? "drop_connection_count"
                            : fault == Fault::kTruncated ? "truncated_count"
                                                         : "non_json_count";
          const int count = Between(1, 50);
          SetFaults(port, {{key, count}});
          Log(absl::StrFormat("%s x %d", FaultName(fault), count));
          break;
        }
        case Fault::kSlow:
        case Fault::kTimeout: {
          const int latency_ms = fault == Fault::kSlow
                                     ? Between(50, options_.attempt_timeout_ms * 8 / 10)
                                     : Between(options_.attempt_timeout_ms + 200, options_.attempt_timeout_ms * 2);
          const int for_ms = Between(300, 1500);
          SetFaults(port, {{"latency_ms", latency_ms}});
          Log(absl::StrFormat("%s: %d ms for %d ms", FaultName(fault), latency_ms, for_ms));
          Pause(for_ms);
          SetFaults(port, nlohmann::json::object());
          break;
        }
      }
    }
    SetFaults(sandbox_->port(), nlohmann::json::object());
  }

  // Progress every 5 s; the bridge's RSS every 100 ms.
  void Sample(const testing::ExactlyOnceLoad& load, std::chrono::steady_clock::time_point start) {
    auto next_report = start + std::chrono::seconds(5);
    for (;;) {
      const int64_t rss = ProcessStatusKiB(bridge_->pid(), "VmRSS");
      max_rss_kib_ = std::max(max_rss_kib_, rss);
      if (std::chrono::steady_clock::now() >= next_report) {
        next_report += std::chrono::seconds(5);
        Log(absl::StrFormat("answered %d of %d (failed %d), bridge RSS %.1f MiB", load.answered(), options_.accounts,
                            load.answered_failed(), rss / 1024.0));
      }
      if (Pause(100)) return;
    }
  }

  const Options options_;
  std::mt19937_64 random_;  // Only the fault thread draws.
  std::optional<SandboxProcess> sandbox_;
  std::optional<BridgeProcess> bridge_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  // The fault thread's, read after it has ended.
  std::map<std::string, int64_t> injected_;
  int64_t sandbox_processes_ = 0, upstream_calls_ = 0, upstream_ok_ = 0, upstream_faulted_ = 0, upstream_throttled_ = 0;
  int64_t max_rss_kib_ = 0;  // The sampler's, read after it has ended.
};

}  // namespace
}  // namespace portrait_bridge::bench

int main(int argc, char** argv) {
  const std::optional<portrait_bridge::bench::Options> options = portrait_bridge::bench::ParseOptions(argc, argv);
  if (!options.has_value()) return 2;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  signal(SIGPIPE, SIG_IGN);
  const int status = portrait_bridge::bench::Soak(*options).Run();
  curl_global_cleanup();
  return status;
}

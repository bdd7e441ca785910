// What the benchmark measures: a recorder shared by the load generators (counts and latencies inside a
// measurement window), process CPU and memory from /proc, and the sandbox's call counters.
#ifndef PORTRAIT_BRIDGE_BENCH_MEASURE_H_
#define PORTRAIT_BRIDGE_BENCH_MEASURE_H_

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/types/span.h"

namespace portrait_bridge::bench {

using Clock = std::chrono::steady_clock;

/// p50/p90/p99/p999 of a set of latencies, in milliseconds.
struct LatencySummary {
  int64_t count = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0, mean_ms = 0;
};

/// What a load generator did inside the measurement window.
struct LoadResult {
  double seconds = 0;                     ///< Length of the window.
  int64_t asks = 0;                       ///< Asks (gRPC requests, REST calls) completed in the window.
  int64_t accounts_ok = 0;                ///< Accounts answered with a profile (status OK / ResultCode 0).
  int64_t accounts_failed = 0;            ///< Accounts answered with a failure.
  std::map<std::string, int64_t> errors;  ///< Failure label -> count (accounts, or streams/calls as labelled).
  LatencySummary latency;
  std::vector<uint32_t> latencies_us;  ///< The samples behind `latency`, sorted (for the percentile plots).

  // Open loop only (zero for closed-loop callers): arrivals whose intended time fell inside the window.
  int64_t offered = 0;
  int64_t dropped = 0;  ///< Not sent: the cap on outstanding lookups was reached.
  LatencySummary lag;   ///< The generator's own lag: intended arrival -> handed to the transport.
  /// Offered, not dropped, and never answered by the end of the drain (cancelled, or on a stream that failed).
  int64_t unanswered() const { return offered - dropped - latency.count; }
};

/// Collects events from any number of threads. Only events that complete while the window is open count.
/// Sharded by caller so that hundreds of callers do not contend on one lock.
class Recorder {
 public:
  void OpenWindow();
  void CloseWindow();
  bool measuring() const { return measuring_.load(std::memory_order_relaxed); }

  /// An ask that started at `started` has just finished. It counts when it finishes inside the window; its
  /// latency counts only when it also started inside it (so that connection set-up during the warm-up, e.g. a
  /// SYN retransmitted after 1 s, does not land in the window's percentiles).
  void AddAsk(int shard, Clock::time_point started);

  // The open loop (bench/README.md): latency runs from each lookup's intended arrival, so that the time it
  // queued before it could be sent (coordinated omission) is in it.
  // AddOffered and AddSent are called by the arrival schedule's thread only. They have a lock of their own, which no
  // answer-handling thread takes: that thread may run at real-time priority, and must not wait for a lock held by
  // a thread that is itself waiting for a core.
  /// An arrival of the schedule, intended at `intended`; `dropped` when it was not sent (too many outstanding).
  void AddOffered(Clock::time_point intended, bool dropped);
  /// The lookup intended at `intended` was handed to the client at `sent`: the generator's lag.
  void AddSent(Clock::time_point intended, Clock::time_point sent);
  /// The lookup intended at `intended` has just been answered. It counts as answered when that happens inside the
  /// window; its latency counts when `intended` is inside the window, even when the answer comes after the window
  /// closed (during the drain): leaving out the slowest lookups would flatter the tail.
  void AddLookup(int shard, Clock::time_point intended);
  void AddAccounts(int shard, int64_t ok, int64_t failed);
  void AddError(int shard, const std::string& label, int64_t count = 1);

  LoadResult Result() const;
  /// The events of several recorders as one result (e.g. the loads of several bridges); the window is the first
  /// recorder's.
  static LoadResult Combined(const std::vector<const Recorder*>& recorders);

 private:
  static constexpr int kShards = 64;
  struct Shard {
    std::mutex mutex;
    std::vector<uint32_t> latencies_us;
    std::map<std::string, int64_t> errors;
    int64_t asks = 0, ok = 0, failed = 0;
  };
  struct Arrivals {
    std::mutex mutex;
    std::vector<uint32_t> lags_us;
    int64_t offered = 0, dropped = 0;
  };
  Shard& shard(int index) { return shards_[static_cast<size_t>(index) % kShards]; }

  // Whether an intended arrival time falls inside the window (once opened; closed_ticks_ is "never" until closed).
  bool Inside(Clock::time_point t) const {
    const Clock::rep ticks = t.time_since_epoch().count();
    return ticks >= opened_ticks_.load() && ticks < closed_ticks_.load();
  }

  std::atomic<bool> measuring_{false};
  std::atomic<Clock::rep> opened_ticks_{std::numeric_limits<Clock::rep>::max()};
  std::atomic<Clock::rep> closed_ticks_{std::numeric_limits<Clock::rep>::max()};
  Clock::time_point opened_, closed_;
  mutable std::array<Shard, kShards> shards_;
  mutable Arrivals arrivals_;
};

/// Sorts `latencies_us` in place and summarizes it (nearest-rank percentiles).
LatencySummary Summarize(std::vector<uint32_t>& latencies_us);

/// The nearest-rank percentile `q` (0..1] of sorted samples, in ms; 0 when there are none.
double Percentile(const std::vector<uint32_t>& sorted_us, double q);

/// For a thread of the load generator that must keep time on a busy machine (the open loop's arrivals, the stall
/// meter): wake-ups no longer deferred to be batched (timer slack of 1 ns instead of 50 us), and the lowest real-time
/// priority (SCHED_FIFO 1) when allowed, so that busy cores do not delay it. Returns whether it got the priority.
bool KeepTimeOnThisThread();

/// CPU seconds (user + system) of a process, from /proc/<pid>/stat; -1 if unreadable.
double ProcessCpuSeconds(pid_t pid);
/// A "VmXxx:" line of /proc/<pid>/status in KiB (VmRSS, VmHWM); -1 if unreadable.
int64_t ProcessStatusKiB(pid_t pid, const char* field);

/// GET http://127.0.0.1:<port><path> with a 5 s timeout; empty on failure.
std::string HttpGet(int port, const std::string& path);

/// The sandbox's /sandbox/stats counters (null JSON when unreachable after a few attempts).
nlohmann::json SandboxStats(int port);

/// The difference of two /sandbox/stats snapshots, as the benchmark reports it.
struct UpstreamDelta {
  bool known = false;  ///< False when a snapshot could not be had.
  int64_t calls = 0, ok = 0, throttled = 0, accounts = 0, max_accounts_per_call = 0;
  std::map<std::string, int64_t> error_codes;
};
UpstreamDelta Diff(const nlohmann::json& before, const nlohmann::json& after);

/// What the sandbox saw on the wire (`GET /sandbox/arrivals`): every portrait_get request that reached it since
/// it started (or since its stats were reset), whatever the answer, throttled ones included.
struct Arrivals {
  bool known = false;  ///< False when the sandbox did not answer.
  int64_t count = 0;
  int64_t dropped = 0;                       ///< Overwritten by the sandbox's ring (the maxima may then be low).
  std::map<int64_t, int64_t> max_in_window;  ///< Window (ms) -> the most arrivals inside any window of that length.
  /// The spacing of the arrivals (gaps between consecutive ones, microseconds); -1 with fewer than two arrivals.
  int64_t gap_p50_us = -1;
  int64_t gap_p99_us = -1;
  int64_t gap_max_us = -1;
};
Arrivals SandboxArrivals(int port, absl::Span<const int64_t> windows_ms);

/// The value of an unlabelled Prometheus gauge or counter in a /metrics text; -1 if absent.
double PrometheusValue(const std::string& text, const std::string& name);

}  // namespace portrait_bridge::bench

#endif  // PORTRAIT_BRIDGE_BENCH_MEASURE_H_

// The direct REST baseline: what a service without the bridge does. Callers sign (once, then reuse the UserSig)
// and send portrait_get calls straight to the upstream over keep-alive HTTP/1.1, on libcurl multi handles (a few
// threads, not one per caller), parsing each answer into typed profiles: closed-loop callers, or open-loop calls
// at a fixed arrival rate.
#ifndef PORTRAIT_BRIDGE_BENCH_REST_LOAD_H_
#define PORTRAIT_BRIDGE_BENCH_REST_LOAD_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/arrivals.h"
#include "bench/load.h"
#include "bench/measure.h"

namespace portrait_bridge::bench {

struct RestLoadOptions {
  std::string base_url;
  int callers = 1;
  int threads = 2;  ///< curl multi loops; callers are spread over them.
  AskShape shape;
};

/// Latency is per HTTP call. An account counts as a profile when the call is OK and its ResultCode is 0; the
/// accounts of a failed call count as failed accounts. Errors are labelled per call ("calls: ErrorCode 60007",
/// transport and HTTP failures) or per account ("accounts: ResultCode 40003").
class RestLoad {
 public:
  RestLoad(RestLoadOptions options, Recorder& recorder);
  ~RestLoad();
  void Start();
  /// Stops starting calls and waits for those in flight (each bounded by a 10 s timeout).
  void Stop();

 private:
  void Loop(int thread_index);

  const RestLoadOptions options_;
  Recorder& recorder_;
  std::string usersig_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

struct RestOpenLoadOptions {
  std::string base_url;
  double rate_per_s = 1000;  ///< Mean arrival rate of calls.
  uint64_t seed = 1;         ///< Of the arrival schedule and the accounts asked (as GrpcOpenLoadOptions).
  int threads = 2;           ///< curl multi loops; arrivals are spread round-robin over them.
  /// Keep-alive connections in all, split over the threads: a service's connection pool. Calls beyond it wait
  /// in arrival order for a free connection, and that wait is part of their latency (not of the generator's lag).
  int connections = 128;
  int64_t max_outstanding = 20000;  ///< As GrpcOpenLoadOptions: arrivals beyond it are dropped and counted.
  AskShape shape;
};

/// Open-loop calls: each arrival of a PoissonArrivals schedule is one signed portrait_get call, its latency from
/// the intended arrival to the parsed answer, whatever the answer (a throttled call is answered fast). Counts and
/// errors as RestLoad's; Recorder shards are the curl threads.
class RestOpenLoad {
 public:
  RestOpenLoad(RestOpenLoadOptions options, Recorder& recorder);
  ~RestOpenLoad();
  void Start();
  /// Stops the arrivals and waits up to `drain` for the calls outstanding; those left are abandoned (unanswered).
  void Stop(std::chrono::milliseconds drain);
  /// Whether the arrivals ran at real-time priority (PoissonArrivals::realtime).
  bool arrivals_realtime() const { return arrivals_.realtime(); }

  struct Worker;

 private:
  void Arrive(Clock::time_point intended);  // On the arrivals thread.
  void Loop(Worker& worker);

  const RestOpenLoadOptions options_;
  Recorder& recorder_;
  std::string usersig_;
  PoissonArrivals arrivals_;
  std::mt19937_64 rng_;  // Accounts; arrivals thread only.
  size_t next_worker_ = 0;
  std::atomic<int64_t> outstanding_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<Clock::rep> drain_deadline_ticks_{0};
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
};

}  // namespace portrait_bridge::bench

#endif  // PORTRAIT_BRIDGE_BENCH_REST_LOAD_H_

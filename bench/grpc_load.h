// The gRPC side of the benchmark, on the callback API (no thread per caller): closed-loop callers that each keep
// one ask in flight on a GetProfiles stream, open-loop lookups multiplexed onto long-lived streams, and idle
// streams for the memory scenario.
#ifndef PORTRAIT_BRIDGE_BENCH_GRPC_LOAD_H_
#define PORTRAIT_BRIDGE_BENCH_GRPC_LOAD_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bench/arrivals.h"
#include "bench/load.h"
#include "bench/measure.h"
#include "portraitbridge/profile/v1/profile.grpc.pb.h"

namespace portrait_bridge::bench {

namespace v1 = portraitbridge::profile::v1;

/// `count` channels to `target`, each its own HTTP/2 connection (a local subchannel pool and a distinct
/// channel argument, so that gRPC does not share one connection between them).
std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(const std::string& target, int count);

/// The canonical name of a gRPC status code.
std::string CodeName(int code);

struct GrpcLoadOptions {
  std::string target;
  int callers = 1;
  int channels = 1;  ///< Callers are spread round-robin over this many connections.
  AskShape shape;
  /// A caller half-closes its stream and opens a new one after this many asks or this age, so streams stay
  /// under the bridge's max_accounts_per_stream and stream setup is part of what is measured, now and then.
  int asks_per_stream = 100;
  std::chrono::milliseconds stream_max_age{5000};
  std::chrono::milliseconds deadline{30000};  ///< Per stream.
};

/// Closed-loop callers: each asks, waits for the ask's last response (request_complete), and asks again.
/// Latency is from the ask (StartWrite) to its request_complete response.
class GrpcLoad {
 public:
  GrpcLoad(GrpcLoadOptions options, Recorder& recorder);
  ~GrpcLoad();
  void Start();
  /// Stops asking: each stream half-closes after its current ask. Streams still open after `drain` are
  /// cancelled. Returns when every stream has ended.
  void Stop(std::chrono::milliseconds drain);

  class Caller;
  class Stream;

 private:
  friend class Caller;
  void CallerFinished();

  const GrpcLoadOptions options_;
  Recorder& recorder_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<v1::ProfileService::Stub>> stubs_;
  std::vector<std::unique_ptr<Caller>> callers_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  std::mutex mutex_;
  std::condition_variable finished_cv_;
  int finished_ = 0;
};

struct GrpcOpenLoadOptions {
  std::string target;
  double rate_per_s = 1000;  ///< Mean arrival rate of lookups.
  uint64_t seed = 1;         ///< Of the arrival schedule and the accounts asked.
  int channels = 8;          ///< HTTP/2 connections; streams are spread round-robin over them.
  int streams = 64;          ///< Long-lived GetProfiles streams; arrivals are spread round-robin over them.
  /// A stream is half-closed and replaced after this many lookups: under the bridge's max_accounts_per_stream.
  int64_t lookups_per_stream = 50000;
  /// Arrivals beyond this many lookups outstanding are dropped and counted (the schedule never slows down).
  int64_t max_outstanding = 20000;
  AskShape shape;
  /// Each lookup is a BatchGetProfiles call of its own, on the channels in turn, instead of a request on a stream:
  /// what a service that follows the README's advice for lookups does.
  bool unary = false;
  /// Unary only: each call's deadline, counted from when it is sent (it bounds Stop's wait).
  std::chrono::milliseconds call_deadline{10000};
};

/// Open-loop lookups: each arrival of a PoissonArrivals schedule is one GetProfilesRequest, written to the next of
/// `streams` long-lived GetProfiles streams, as a service that multiplexes its users' lookups onto a few open
/// streams would (a stream per lookup would add stream set-up to every lookup, which no service would choose for
/// one-account lookups). Latency runs from the intended arrival to the lookup's request_complete response, matched
/// by request_index. A stream that fails is replaced at the next arrival for its slot; its lookups still
/// outstanding count as unanswered. Recorder shards are stream slots. With `unary`, each arrival is instead a
/// BatchGetProfiles call of its own, timed from the intended arrival to the call's end; a call that does not end OK
/// leaves its lookup unanswered.
class GrpcOpenLoad {
 public:
  GrpcOpenLoad(GrpcOpenLoadOptions options, Recorder& recorder);
  ~GrpcOpenLoad();
  void Start();
  /// Stops the arrivals, half-closes every stream once its lookups are written, and waits for their answers;
  /// streams still open after `drain` are cancelled. Returns when every stream (or unary call) has ended.
  void Stop(std::chrono::milliseconds drain);
  /// Whether the arrivals ran at real-time priority (PoissonArrivals::realtime).
  bool arrivals_realtime() const { return arrivals_.realtime(); }

  class Stream;
  struct UnaryCall;

 private:
  friend class Stream;
  struct Lookup {
    Clock::time_point intended;
    std::vector<std::string> accounts;
  };
  void Arrive(Clock::time_point intended);      // On the arrivals thread.
  Stream* OpenStream(size_t slot);              // Likewise.
  void StartUnary(size_t slot, Lookup lookup);  // Likewise.
  void FinishUnary(UnaryCall* call, const grpc::Status& status);
  void StreamDone();

  const GrpcOpenLoadOptions options_;
  Recorder& recorder_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<v1::ProfileService::Stub>> stubs_;
  PoissonArrivals arrivals_;
  std::mt19937_64 rng_;         // Accounts; arrivals thread only.
  std::vector<Stream*> slots_;  // The stream taking each slot's lookups; arrivals thread only (then Stop).
  size_t next_slot_ = 0;
  // Lookups offered to a stream (or sent as unary calls) and not yet answered or given up; with `unary`, done_cv_
  // is notified as each call ends.
  std::atomic<int64_t> outstanding_{0};
  bool started_ = false;
  std::mutex mutex_;
  std::condition_variable done_cv_;
  std::vector<std::unique_ptr<Stream>> streams_;  // Every stream opened; deleted with this object.
  size_t done_ = 0;
};

/// Streams that are opened and then left idle (no request, no half-close) until CancelAll.
class IdleStreams {
 public:
  explicit IdleStreams(const std::string& target, int streams_per_channel);
  ~IdleStreams();
  void Open(int count);
  /// Streams that have ended (they should not, until CancelAll).
  int ended();
  /// The first failure other than cancellation, if any stream ended with one.
  std::string first_error();
  /// Cancels every stream and waits until all have ended.
  void CancelAll();

  class Stream;

 private:
  friend class Stream;
  void Ended(Stream* stream, const grpc::Status& status);

  const std::string target_;
  const int streams_per_channel_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<v1::ProfileService::Stub>> stubs_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Stream>> streams_;  // Deleted with this object, after all have ended.
  int ended_ = 0;
  std::string first_error_;
};

}  // namespace portrait_bridge::bench

#endif  // PORTRAIT_BRIDGE_BENCH_GRPC_LOAD_H_

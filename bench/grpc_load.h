// The gRPC side of the benchmark, on the callback API (no thread per caller): closed-loop callers that each keep
// one ask in flight on a GetProfiles stream, and idle streams for the memory scenario.
#ifndef PORTRAIT_BRIDGE_BENCH_GRPC_LOAD_H_
#define PORTRAIT_BRIDGE_BENCH_GRPC_LOAD_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "bench/load.h"
#include "bench/measure.h"
#include "tencentcloud/chat/profile/v1/profile.grpc.pb.h"

namespace portrait_bridge::bench {

namespace v1 = tencentcloud::chat::profile::v1;

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

// The direct REST baseline: what a service without the bridge does. Closed-loop callers that each sign (once,
// then reuse the UserSig) and send portrait_get calls straight to the upstream over keep-alive HTTP/1.1, on
// libcurl multi handles (a few threads, not one per caller), parsing each answer into typed profiles.
#ifndef PORTRAIT_BRIDGE_BENCH_REST_LOAD_H_
#define PORTRAIT_BRIDGE_BENCH_REST_LOAD_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

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

}  // namespace portrait_bridge::bench

#endif  // PORTRAIT_BRIDGE_BENCH_REST_LOAD_H_

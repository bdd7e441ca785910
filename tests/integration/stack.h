#ifndef PORTRAIT_BRIDGE_TESTS_INTEGRATION_STACK_H_
#define PORTRAIT_BRIDGE_TESTS_INTEGRATION_STACK_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "portraitbridge/profile/v1/profile.grpc.pb.h"
#include "tests/support/subprocess.h"

namespace portrait_bridge::testing {

namespace v1 = portraitbridge::profile::v1;

inline constexpr char kSdkAppId[] = "1400000000";
inline constexpr char kAdmin[] = "administrator";
inline constexpr char kSecretKey[] = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";

/// The real sandbox upstream, started on a free loopback port.
class Sandbox {
 public:
  explicit Sandbox(const std::vector<std::string>& extra_flags = {});
  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  /// Replaces the sandbox's faults (POST /sandbox/faults).
  void SetFaults(const nlohmann::json& faults);
  /// GET /sandbox/stats.
  nlohmann::json Stats();
  /// GET /sandbox/faults: the faults in force, with the counts left.
  nlohmann::json Faults();
  Subprocess& process() { return *process_; }

  /// Stops the process with `signal` (SIGTERM: a clean stop; SIGKILL: a crash) and waits until it has exited;
  /// fails the test if it does not.
  void Stop(int signal);
  /// Starts the sandbox again, after Stop, on the same port with the same flags (its faults and counters start
  /// afresh), and waits until it listens; fails the test if it cannot.
  void Restart();

 private:
  // Starts the process on `port` (0: a free one); returns the port it listens on, or 0 if it exited first.
  int Launch(int port);

  const std::vector<std::string> extra_flags_;
  TempDir dir_;
  std::unique_ptr<Subprocess> process_;
  int port_ = 0;
};

/// The real bridge, started on a free loopback port against `upstream_base_url`.
class Bridge {
 public:
  Bridge(const std::string& upstream_base_url, const std::vector<std::string>& extra_flags = {},
         const std::string& secret_key = kSecretKey);
  int port() const { return port_; }
  std::shared_ptr<grpc::Channel> NewChannel() const;
  Subprocess& process() { return *process_; }

 private:
  TempDir dir_;
  std::unique_ptr<Subprocess> process_;
  int port_ = 0;
};

/// What one GetProfiles stream returned.
struct StreamOutcome {
  grpc::Status status;
  std::vector<v1::GetProfilesResponse> responses;
  /// Every AccountResult by request index, in arrival order.
  std::map<uint64_t, std::vector<v1::AccountResult>> results_by_request;
  google::rpc::Status details;  // Decoded from the status's error details, if any.
};

/// Sends `requests` on one stream, half-closes and reads everything back.
StreamOutcome RunStream(grpc::Channel& channel, const std::vector<v1::GetProfilesRequest>& requests,
                        int deadline_ms = 20000);

v1::GetProfilesRequest MakeRequest(const std::vector<std::string>& accounts, const std::vector<std::string>& tags,
                                   const std::string& request_id = "");

/// "user<first>" .. "user<first + count - 1>": accounts the sandbox knows (up to user99999).
std::vector<std::string> Users(int first, int count);

/// Polls `condition` (every 10 ms) until it holds or `limit` passes; returns whether it held. For waiting on a state
/// the processes report (a metric, the sandbox's stats), instead of sleeping for a time and hoping.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds limit = std::chrono::seconds(10));

/// The Prometheus text of the bridge's /metrics on `port`; fails the test (and returns "") when unreachable.
std::string ScrapeMetrics(int port);

/// The value of the sample whose line starts with `series` (name and labels as Prometheus prints them); fails the
/// test (and returns -1) when there is none.
double MetricSample(const std::string& metrics, const std::string& series);

/// What a stream of raw messages got back: for tests that speak a method without its generated code, or send bytes
/// that are no valid message.
struct RawStreamOutcome {
  size_t messages_written = 0;  ///< Writes stop at the first one the server no longer takes.
  std::vector<std::string> responses;
  grpc::Status status;
};

/// Opens `method` ("/package.Service/Method") through the generic stub, writes `messages` until one fails,
/// half-closes, reads every response and finishes.
RawStreamOutcome RunRawStream(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                              const std::vector<std::string>& messages);

/// The sum of every sample of metric `name` over all its label sets ("name{...} v" and "name v" lines); 0 when it has
/// none.
double MetricSum(const std::string& metrics, const std::string& name);

/// The ErrorInfo in a google.rpc.Status's details; fails the test when there is none.
google::rpc::ErrorInfo ErrorInfoOf(const google::rpc::Status& status);

/// The BadRequest in a google.rpc.Status's details; fails the test when there is none.
google::rpc::BadRequest BadRequestOf(const google::rpc::Status& status);

}  // namespace portrait_bridge::testing

#endif  // PORTRAIT_BRIDGE_TESTS_INTEGRATION_STACK_H_

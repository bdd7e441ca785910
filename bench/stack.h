// The processes a scenario starts: a sandbox upstream and a bridge in front of it, each on a free loopback port
// discovered from its port file. Stopped (SIGTERM, then SIGKILL) when destroyed.
#ifndef PORTRAIT_BRIDGE_BENCH_STACK_H_
#define PORTRAIT_BRIDGE_BENCH_STACK_H_

#include <memory>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"

namespace portrait_bridge::bench {

inline constexpr char kSdkAppId[] = "1400000000";
inline constexpr uint64_t kSdkAppIdNumber = 1400000000;
inline constexpr char kAdmin[] = "administrator";
inline constexpr char kSecretKey[] = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";

class SandboxProcess {
 public:
  SandboxProcess(const std::string& binary, const std::vector<std::string>& flags);
  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return process_->pid(); }
  bool Running() { return process_->Running(); }

  /// Stops the process with `signal` (SIGTERM: a clean stop; SIGKILL: a crash) and waits for its exit; false if
  /// it did not exit within 10 s.
  bool Stop(int signal);
  /// Starts it again after Stop, on the same port with the same flags (faults and counters start afresh); tries
  /// for up to 10 s while the port cannot be bound yet. False if it never listened.
  bool Restart();

 private:
  // Starts the process on `port` (0: a free one); returns the port it listens on, or 0 if it exited first.
  int Launch(int port);

  const std::string binary_;
  const std::vector<std::string> flags_;
  testing::TempDir dir_;
  std::unique_ptr<testing::Subprocess> process_;
  int port_ = 0;
};

class BridgeProcess {
 public:
  /// Serves metrics on a free loopback port too (the default configuration serves them).
  BridgeProcess(const std::string& binary, const std::string& upstream_base_url, const std::vector<std::string>& flags);
  ~BridgeProcess();
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return process_->pid(); }
  bool Running() { return process_->Running(); }
  /// Whatever the bridge logged (for a failed start).
  std::string Output() const { return process_->Output(); }

 private:
  testing::TempDir dir_;
  std::unique_ptr<testing::Subprocess> process_;
  int port_ = 0;
  int metrics_port_ = 0;
};

}  // namespace portrait_bridge::bench

#endif  // PORTRAIT_BRIDGE_BENCH_STACK_H_

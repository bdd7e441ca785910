#include "bench/stack.h"

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <thread>

namespace portrait_bridge::bench {

SandboxProcess::SandboxProcess(const std::string& binary, const std::vector<std::string>& flags)
    : binary_(binary), flags_(flags) {
  port_ = Launch(0);
  if (port_ == 0) throw std::runtime_error("the sandbox did not start; its output:\n" + process_->Output());
}

int SandboxProcess::Launch(int port) {
  const std::string port_file = dir_.Path("sandbox.port");
  std::remove(port_file.c_str());
  std::vector<std::string> args = {"--listen=127.0.0.1:" + std::to_string(port), "--port_file=" + port_file,
                                   "--sdkappid=" + std::string(kSdkAppId), "--admin_identifier=" + std::string(kAdmin)};
  args.insert(args.end(), flags_.begin(), flags_.end());
  process_ = std::make_unique<testing::Subprocess>(
      binary_, args, std::map<std::string, std::string>{{"PORTRAIT_SANDBOX_SECRET_KEY", kSecretKey}});
  return process_->PortFromFile(port_file);  // 0 when, e.g., the port could not be bound.
}

bool SandboxProcess::Stop(int signal) { return process_->SignalAndWait(signal, 10000) != -1; }

bool SandboxProcess::Restart() {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    if (Launch(port_) == port_) return true;
    process_->SignalAndWait(SIGKILL, 5000);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

BridgeProcess::BridgeProcess(const std::string& binary, const std::string& upstream_base_url,
                             const std::vector<std::string>& flags) {
  const std::string port_file = dir_.Path("bridge.port");
  const std::string metrics_port_file = dir_.Path("metrics.port");
  std::vector<std::string> args = {"--listen_address=127.0.0.1:0",         "--port_file=" + port_file,
                                   "--metrics_address=127.0.0.1:0",        "--metrics_port_file=" + metrics_port_file,
                                   "--sdkappid=" + std::string(kSdkAppId), "--admin_identifier=" + std::string(kAdmin),
                                   "--base_url=" + upstream_base_url,      "--shutdown_grace_seconds=2",
                                   "--shutdown_drain_delay_ms=0",          "--log_level=warning"};
  args.insert(args.end(), flags.begin(), flags.end());
  process_ = std::make_unique<testing::Subprocess>(
      binary, args, std::map<std::string, std::string>{{"PORTRAIT_BRIDGE_SECRET_KEY", kSecretKey}});
  port_ = process_->WaitForPortFile(port_file);
  metrics_port_ = process_->WaitForPortFile(metrics_port_file);
}

BridgeProcess::~BridgeProcess() {
  // Subprocess's destructor waits 5 s per signal; the bridge drains within its 2 s grace.
  if (process_->Running() && process_->SignalAndWait(SIGTERM, 8000) == -1) process_->SignalAndWait(SIGKILL, 5000);
}

}  // namespace portrait_bridge::bench

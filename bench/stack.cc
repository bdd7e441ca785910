#include "bench/stack.h"

#include <signal.h>

#include <map>

namespace portrait_bridge::bench {

SandboxProcess::SandboxProcess(const std::string& binary, const std::vector<std::string>& flags) {
  const std::string port_file = dir_.Path("sandbox.port");
  std::vector<std::string> args = {"--listen=127.0.0.1:0", "--port_file=" + port_file,
                                   "--sdkappid=" + std::string(kSdkAppId), "--admin_identifier=" + std::string(kAdmin)};
  args.insert(args.end(), flags.begin(), flags.end());
  process_ = std::make_unique<testing::Subprocess>(
      binary, args, std::map<std::string, std::string>{{"PORTRAIT_SANDBOX_SECRET_KEY", kSecretKey}});
  port_ = process_->WaitForPortFile(port_file);
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

#ifndef PORTRAIT_BRIDGE_SANDBOX_SANDBOX_FLAGS_H_
#define PORTRAIT_BRIDGE_SANDBOX_SANDBOX_FLAGS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/sandbox/faults.h"
#include "bridge/sandbox/sandbox.h"

namespace portrait_bridge::sandbox {

/// Everything `portrait-sandbox` is started with, validated.
struct SandboxOptions {
  std::string listen_host = "127.0.0.1";
  int listen_port = 0;  ///< 0 picks a free port, reported through port_file and the log.
  std::string port_file;
  std::string tls_cert_file;  ///< With tls_key_file: serve HTTPS instead of HTTP.
  std::string tls_key_file;
  int threads = 128;  ///< HTTP worker threads; an idle keep-alive connection holds one.
  int keep_alive_timeout_s = 10;
  int keep_alive_max_count = 1000;
  bool access_log = false;
  SandboxConfig config;
  Faults faults;
  bool help = false;  ///< --help was given: print SandboxUsage() and exit 0.
};

/// Looks up an environment variable; nullptr when unset (std::getenv in the binary, a map in tests).
using EnvLookup = std::function<const char*(const char*)>;

/// Parses `args` (without argv[0]): `--name=value`, `--name value`, and bare `--name` for booleans. Reads the
/// secret key from --secret_key_file (trailing CR/LF trimmed) or else PORTRAIT_SANDBOX_SECRET_KEY. Any
/// unknown flag, bad value or missing key is an error whose message names the flag (the binary exits 2).
absl::StatusOr<SandboxOptions> ParseSandboxFlags(const std::vector<std::string>& args, const EnvLookup& env);

/// The --help text: every flag with its default.
std::string SandboxUsage();

}  // namespace portrait_bridge::sandbox

#endif  // PORTRAIT_BRIDGE_SANDBOX_SANDBOX_FLAGS_H_

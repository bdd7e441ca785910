#include "bridge/sandbox/sandbox_flags.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "bridge/core/options.h"

namespace portrait_bridge::sandbox {
namespace {

constexpr char kSecretKeyEnv[] = "PORTRAIT_SANDBOX_SECRET_KEY";
constexpr size_t kMaxAdmins = 10;  // Upstream's limit per app.

// The flags' own state while parsing: the options, and what becomes them only once every flag is read.
struct SandboxFlags {
  SandboxOptions options;
  std::string admin_identifier = "administrator";
  std::vector<std::string> extra_admins;
  std::string secret_key_file;
  nlohmann::json faults = nlohmann::json::object();  // Parsed by ParseFaults, as POST /sandbox/faults is.
};

using F = OptionBuilder<SandboxFlags>;

absl::Status FlagError(absl::string_view name, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", problem));
}

absl::Status ParseListen(absl::string_view text, SandboxOptions& options) {
  std::string host;
  std::string port_text;
  if (absl::StartsWith(text, "[")) {  // [v6]:port
    const size_t close = text.find("]:");
    if (close == absl::string_view::npos) return absl::InvalidArgumentError("want [HOST]:PORT");
    host = std::string(text.substr(1, close - 1));
    port_text = std::string(text.substr(close + 2));
  } else {
    const size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) return absl::InvalidArgumentError("want HOST:PORT, e.g. 127.0.0.1:0");
    host = std::string(text.substr(0, colon));
    port_text = std::string(text.substr(colon + 1));
  }
  int port = 0;
  if (host.empty() || !absl::SimpleAtoi(port_text, &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError("want HOST:PORT with PORT in 0..65535");
  }
  options.listen_host = host;
  options.listen_port = port;
  return absl::OkStatus();
}

absl::Status CheckCustomTag(absl::string_view tag) {
  constexpr absl::string_view kPrefix = "Tag_Profile_Custom_";
  // The looser of the two documented keyword rules (letters, digits, '_', up to 16), so no real tag is refused.
  const absl::string_view keyword = absl::StartsWith(tag, kPrefix) ? tag.substr(kPrefix.size()) : "";
  const bool valid = !keyword.empty() && keyword.size() <= 16 &&
                     std::all_of(keyword.begin(), keyword.end(),
                                 [](char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; });
  if (!valid) {
    return absl::InvalidArgumentError(
        absl::StrCat("lists \"", tag, "\", which is not Tag_Profile_Custom_<1-16 of A-Za-z0-9_>"));
  }
  return absl::OkStatus();
}

// The file named by --secret_key_file, else PORTRAIT_SANDBOX_SECRET_KEY; trailing CR/LF trimmed.
absl::StatusOr<std::string> ReadSecretKey(const std::string& path, const EnvLookup& env) {
  std::string key;
  if (!path.empty()) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return FlagError("secret_key_file", absl::StrCat("cannot read ", path));
    std::stringstream buffer;
    buffer << in.rdbuf();
    key = buffer.str();
  } else if (const char* from_env = env(kSecretKeyEnv); from_env != nullptr) {
    key = from_env;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("no secret key: pass --secret_key_file=PATH or set ", kSecretKeyEnv));
  }
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  if (key.empty()) return absl::InvalidArgumentError("the secret key is empty");
  return key;
}

// A fault flag: an integer kept for ParseFaults, which checks it as POST /sandbox/faults does (its bounds are
// ParseFaults', so none are shown here).
Option<SandboxFlags> FaultCount(std::string name, std::string help) {
  OptionSpec spec = F::Spec(name, "0", OptionKind::kInteger, std::move(help));
  return F::Custom(std::move(spec), [name](absl::string_view text, SandboxFlags& flags) {
    absl::StatusOr<int64_t> value = ParseIntegerOption(text, -1, int64_t{1} << 40);
    if (!value.ok()) return value.status();
    flags.faults[name] = *value;
    return absl::OkStatus();
  });
}

// One line per flag; the defaults are the fields' initial values (in sandbox.h and above), so each is written once.
const OptionTable<SandboxFlags>& SandboxTable() {
  static const auto* table = new OptionTable<SandboxFlags>(
      OptionSources{/*env_prefix=*/"", /*config_file=*/false, /*defaults_from_target=*/true, /*error_prefix=*/""},
      {
          F::Custom(
              F::Spec("listen", "", OptionKind::kString, "Address to serve on; port 0 picks a free port."),
              [](absl::string_view text, SandboxFlags& flags) { return ParseListen(text, flags.options); },
              [](const SandboxFlags& flags) {
                const std::string& host = flags.options.listen_host;
                return absl::StrCat(absl::StrContains(host, ':') ? "[" + host + "]" : host, ":",
                                    flags.options.listen_port);
              }),
          F::String("port_file", "", "After binding, write the port and '\\n' here (atomically, via rename).",
                    Field(&SandboxFlags::options, &SandboxOptions::port_file)),
          F::Integer("sdkappid", "", 1, 0xFFFFFFFFLL, "The SDKAppID this sandbox emulates.",
                     Field(&SandboxFlags::options, &SandboxOptions::config, &SandboxConfig::sdkappid)),
          F::String("admin_identifier", "", "The app admin allowed to call.", Field(&SandboxFlags::admin_identifier),
                    [](absl::string_view admin) {
                      return admin.empty() ? absl::InvalidArgumentError("must not be empty") : absl::OkStatus();
                    }),
          F::Strings("extra_admins", "", "More admin identifiers (at most 10 admins in all).",
                     Field(&SandboxFlags::extra_admins)),
          F::String("secret_key_file", "", "File holding the app secret key (else $PORTRAIT_SANDBOX_SECRET_KEY).",
                    Field(&SandboxFlags::secret_key_file)),
          F::String("tls_cert_file", "", "PEM certificate: serve HTTPS (needs --tls_key_file).",
                    Field(&SandboxFlags::options, &SandboxOptions::tls_cert_file)),
          F::String("tls_key_file", "", "PEM private key for --tls_cert_file.",
                    Field(&SandboxFlags::options, &SandboxOptions::tls_key_file)),
          F::Integer("pool_size", "", 0, int64_t{1} << 40,
                     "Accounts user0 .. user<N-1> exist (plus alice, bob, carol).",
                     Field(&SandboxFlags::options, &SandboxOptions::config, &SandboxConfig::pool_size)),
          F::List(
              "custom_tags", "", "Configured custom profile tags; others give 40009.",
              [](std::vector<std::string> tags, SandboxFlags& flags) {
                for (const std::string& tag : tags) {
                  if (absl::Status status = CheckCustomTag(tag); !status.ok()) return status;
                }
                flags.options.config.custom_tags = std::move(tags);
                return absl::OkStatus();
              },
              [](const SandboxFlags& flags) { return absl::StrJoin(flags.options.config.custom_tags, ","); }),
          F::Integer("calls_per_second", "", 0, 1000000,
                     "Rate limit: admitted calls in any --rate_window_ms over all calls; 0 = unlimited (else 60007).",
                     Field(&SandboxFlags::options, &SandboxOptions::config, &SandboxConfig::calls_per_second)),
          F::Integer("rate_window_ms", "", 1, 3600000, "The rate limit's sliding window on arrival time, (t - MS, t].",
                     Field(&SandboxFlags::options, &SandboxOptions::config, &SandboxConfig::rate_window_ms)),
          F::Integer("max_accounts_per_call", "", 1, 100000, "To_Account limit per call (40001 above it).",
                     Field(&SandboxFlags::options, &SandboxOptions::config, &SandboxConfig::max_accounts_per_call)),
          F::Integer("invalidate_sigs_before", "", 0, int64_t{1} << 40,
                     "UserSigs with TLS.time before this (Unix seconds) get 70052; 0 = off.",
                     Field(&SandboxFlags::options, &SandboxOptions::config, &SandboxConfig::invalidate_sigs_before)),
          F::Integer("threads", "", 1, 1024,
                     "HTTP worker threads (slow answers and idle keep-alive connections hold one; the bridge keeps up "
                     "to 64 connections).",
                     Field(&SandboxFlags::options, &SandboxOptions::threads)),
          F::Integer("keep_alive_timeout_s", "", 1, 3600, "Close idle keep-alive connections after N seconds.",
                     Field(&SandboxFlags::options, &SandboxOptions::keep_alive_timeout_s)),
          F::Bool("access_log", "", "Log one line per portrait_get call (never the UserSig).",
                  Field(&SandboxFlags::options, &SandboxOptions::access_log)),
          FaultCount("throttle_for_ms",
                     "Fault: every call in the first MS ms after start gets 60007, as if throttled."),
          FaultCount("latency_ms", "Fault: delay every portrait_get answer."),
          F::Custom(F::Spec("fail_accounts", "", OptionKind::kString,
                            "Fault: these accounts fail with that per-user ResultCode (ID=CODE,...)."),
                    [](absl::string_view text, SandboxFlags& flags) {
                      absl::StatusOr<std::map<std::string, int64_t>> fail_accounts =
                          ParseFailAccountsFlag(std::string(text));
                      if (!fail_accounts.ok()) return fail_accounts.status();
                      flags.faults["fail_accounts"] = *fail_accounts;
                      return absl::OkStatus();
                    }),
          FaultCount("error_code", "Fault: request-level ErrorCode (ActionStatus FAIL); 0 = off."),
          FaultCount("error_count", "Fault: how many calls get --error_code; 0 or -1 = every call."),
          FaultCount("http_502_count", "Fault: next N calls get HTTP 502 with HTML; -1 = always."),
          FaultCount("non_json_count", "Fault: next N calls get HTTP 200 with an HTML body; -1 = always."),
          FaultCount("truncated_count", "Fault: next N calls get JSON cut in the middle; -1 = always."),
          FaultCount("drop_connection_count",
                     "Fault: next N calls get the connection closed, no response; -1 = always."),
          FaultCount("usersig_expired_count", "Fault: next N calls get 70001 (UserSig expired); -1 = always."),
          F::Custom(F::Spec("expire_all_sigs", "false", OptionKind::kBool, "Fault: every call gets 70001."),
                    [](absl::string_view text, SandboxFlags& flags) {
                      absl::StatusOr<bool> value = ParseBoolOption(text);
                      if (!value.ok()) return value.status();
                      flags.faults["expire_all_sigs"] = *value;
                      return absl::OkStatus();
                    }),
      });
  return *table;
}

}  // namespace

absl::StatusOr<SandboxOptions> ParseSandboxFlags(const std::vector<std::string>& args, const EnvLookup& env) {
  SandboxFlags flags;
  absl::StatusOr<ParsedOptions> parsed = SandboxTable().Parse(args, env, flags);
  if (!parsed.ok()) return parsed.status();
  SandboxOptions& options = flags.options;
  if (parsed->help()) {
    options.help = true;
    return options;
  }

  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert_file and --tls_key_file go together");
  }
  SandboxConfig& config = options.config;
  config.admins = {flags.admin_identifier};
  config.admins.insert(config.admins.end(), flags.extra_admins.begin(), flags.extra_admins.end());
  if (config.admins.size() > kMaxAdmins) return FlagError("extra_admins", "an app has at most 10 admins");

  absl::StatusOr<std::string> key = ReadSecretKey(flags.secret_key_file, env);
  if (!key.ok()) return key.status();
  config.secret_key = *std::move(key);

  // Fault flags go through the same parser as POST /sandbox/faults, so both accept the same values.
  absl::StatusOr<Faults> parsed_faults = ParseFaults(flags.faults);
  if (!parsed_faults.ok()) return absl::InvalidArgumentError(absl::StrCat("--", parsed_faults.status().message()));
  options.faults = *std::move(parsed_faults);
  return options;
}

std::string SandboxUsage() {
  return absl::StrCat(
      "portrait-sandbox: a local stand-in for Tencent Cloud Chat's POST /v4/profile/portrait_get.\n"
      "Usage: portrait-sandbox [--flag=value ...]   (--help or -h: this text)\n\nFlags:\n",
      SandboxTable().Help(),
      "\nControl endpoints: POST /sandbox/faults, GET /sandbox/faults, GET /sandbox/stats,\n"
      "POST /sandbox/stats/reset, GET /sandbox/arrivals?windows_ms=MS,MS&include_times=1,\n"
      "GET /sandbox/usersig?identifier=ID&expire=SECONDS, GET /sandbox/health.\n"
      "See bridge/sandbox/README.md.\n");
}

}  // namespace portrait_bridge::sandbox

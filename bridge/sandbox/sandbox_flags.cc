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
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace portrait_bridge::sandbox {
namespace {

constexpr char kSecretKeyEnv[] = "PORTRAIT_SANDBOX_SECRET_KEY";
constexpr size_t kMaxAdmins = 10;  // Upstream's limit per app.

struct FlagSpec {
  const char* name;
  const char* value_hint;    // nullptr for booleans.
  const char* default_text;  // nullptr: an integer flag whose default is its field's initial value (kIntFields).
  const char* help;
};

// One table drives parsing, the unknown-flag check and --help, so they cannot drift apart.
constexpr FlagSpec kFlags[] = {
    {"listen", "HOST:PORT", "127.0.0.1:0", "Address to serve on; port 0 picks a free port."},
    {"port_file", "PATH", "", "After binding, write the port and '\\n' here (atomically, via rename)."},
    {"sdkappid", "N", "1400000000", "The SDKAppID this sandbox emulates."},
    {"admin_identifier", "ID", "administrator", "The app admin allowed to call."},
    {"extra_admins", "ID,ID", "", "More admin identifiers (at most 10 admins in all)."},
    {"secret_key_file", "PATH", "", "File holding the app secret key (else $PORTRAIT_SANDBOX_SECRET_KEY)."},
    {"tls_cert_file", "PATH", "", "PEM certificate: serve HTTPS (needs --tls_key_file)."},
    {"tls_key_file", "PATH", "", "PEM private key for --tls_cert_file."},
    {"pool_size", "N", nullptr, "Accounts user0 .. user<N-1> exist (plus alice, bob, carol)."},
    {"custom_tags", "TAG,TAG", "Tag_Profile_Custom_Test,Tag_Profile_Custom_Blob",
     "Configured custom profile tags; others give 40009."},
    {"calls_per_second", "N", nullptr,
     "Rate limit: admitted calls in any --rate_window_ms over all calls; 0 = unlimited (else 60007)."},
    {"rate_window_ms", "MS", nullptr, "The rate limit's sliding window on arrival time, (t - MS, t]."},
    {"max_accounts_per_call", "N", nullptr, "To_Account limit per call (40001 above it)."},
    {"invalidate_sigs_before", "UNIX", nullptr, "UserSigs with TLS.time before this get 70052; 0 = off."},
    {"threads", "N", nullptr,
     "HTTP worker threads (slow answers and idle keep-alive connections hold one; the bridge keeps up to 64 "
     "connections)."},
    {"keep_alive_timeout_s", "N", nullptr, "Close idle keep-alive connections after N seconds."},
    {"access_log", nullptr, "false", "Log one line per portrait_get call (never the UserSig)."},
    {"throttle_for_ms", "MS", "0", "Fault: every call in the first MS ms after start gets 60007, as if throttled."},
    {"latency_ms", "N", "0", "Fault: delay every portrait_get answer."},
    {"fail_accounts", "ID=CODE,...", "", "Fault: these accounts fail with that per-user ResultCode."},
    {"error_code", "N", "0", "Fault: request-level ErrorCode (ActionStatus FAIL); 0 = off."},
    {"error_count", "N", "0", "Fault: how many calls get --error_code; 0 or -1 = every call."},
    {"http_502_count", "N", "0", "Fault: next N calls get HTTP 502 with HTML; -1 = always."},
    {"non_json_count", "N", "0", "Fault: next N calls get HTTP 200 with an HTML body; -1 = always."},
    {"truncated_count", "N", "0", "Fault: next N calls get JSON cut in the middle; -1 = always."},
    {"drop_connection_count", "N", "0", "Fault: next N calls get the connection closed, no response; -1 = always."},
    {"usersig_expired_count", "N", "0", "Fault: next N calls get 70001 (UserSig expired); -1 = always."},
    {"expire_all_sigs", nullptr, "false", "Fault: every call gets 70001."},
    {"help", nullptr, "", "Print this help and exit."},
};

// Integer flags bound to their field. The field's initial value (in sandbox.h or sandbox_flags.h) is the
// default: parsing leaves an absent flag's field alone and --help prints it, so each default is written once.
struct IntField {
  const char* name;
  int64_t min;
  int64_t max;
  int64_t (*get)(const SandboxOptions&);
  void (*set)(SandboxOptions&, int64_t);
};

constexpr IntField kIntFields[] = {
    {"pool_size", 0, int64_t{1} << 40, [](const SandboxOptions& o) -> int64_t { return o.config.pool_size; },
     [](SandboxOptions& o, int64_t v) { o.config.pool_size = v; }},
    {"calls_per_second", 0, 1000000, [](const SandboxOptions& o) -> int64_t { return o.config.calls_per_second; },
     [](SandboxOptions& o, int64_t v) { o.config.calls_per_second = static_cast<int>(v); }},
    {"rate_window_ms", 1, 3600000, [](const SandboxOptions& o) -> int64_t { return o.config.rate_window_ms; },
     [](SandboxOptions& o, int64_t v) { o.config.rate_window_ms = v; }},
    {"max_accounts_per_call", 1, 100000,
     [](const SandboxOptions& o) -> int64_t { return o.config.max_accounts_per_call; },
     [](SandboxOptions& o, int64_t v) { o.config.max_accounts_per_call = static_cast<int>(v); }},
    {"invalidate_sigs_before", 0, int64_t{1} << 40,
     [](const SandboxOptions& o) -> int64_t { return o.config.invalidate_sigs_before; },
     [](SandboxOptions& o, int64_t v) { o.config.invalidate_sigs_before = v; }},
    {"threads", 1, 1024, [](const SandboxOptions& o) -> int64_t { return o.threads; },
     [](SandboxOptions& o, int64_t v) { o.threads = static_cast<int>(v); }},
    {"keep_alive_timeout_s", 1, 3600, [](const SandboxOptions& o) -> int64_t { return o.keep_alive_timeout_s; },
     [](SandboxOptions& o, int64_t v) { o.keep_alive_timeout_s = static_cast<int>(v); }},
};

const IntField* FindIntField(absl::string_view name) {
  for (const IntField& field : kIntFields) {
    if (name == field.name) return &field;
  }
  return nullptr;
}

const FlagSpec* FindFlag(absl::string_view name) {
  for (const FlagSpec& spec : kFlags) {
    if (name == spec.name) return &spec;
  }
  return nullptr;
}

absl::Status FlagError(absl::string_view name, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", problem));
}

absl::StatusOr<int64_t> IntFlag(const std::map<std::string, std::string>& raw, const char* name, int64_t fallback,
                                int64_t min, int64_t max) {
  auto it = raw.find(name);
  if (it == raw.end()) return fallback;
  int64_t value = 0;
  if (!absl::SimpleAtoi(it->second, &value) || value < min || value > max) {
    return FlagError(name, absl::StrCat("want an integer in ", min, "..", max, ", got \"", it->second, "\""));
  }
  return value;
}

absl::StatusOr<bool> BoolFlag(const std::map<std::string, std::string>& raw, const char* name) {
  auto it = raw.find(name);
  if (it == raw.end()) return false;
  bool value = false;
  if (!absl::SimpleAtob(it->second, &value)) return FlagError(name, "want true or false");
  return value;
}

std::string FlagOr(const std::map<std::string, std::string>& raw, const char* name, std::string fallback) {
  auto it = raw.find(name);
  return it == raw.end() ? fallback : it->second;
}

absl::Status ParseListen(const std::string& text, SandboxOptions& options) {
  std::string host;
  std::string port_text;
  if (absl::StartsWith(text, "[")) {  // [v6]:port
    const size_t close = text.find("]:");
    if (close == std::string::npos) return FlagError("listen", "want [HOST]:PORT");
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos) return FlagError("listen", "want HOST:PORT, e.g. 127.0.0.1:0");
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  int port = 0;
  if (host.empty() || !absl::SimpleAtoi(port_text, &port) || port < 0 || port > 65535) {
    return FlagError("listen", absl::StrCat("want HOST:PORT with PORT in 0..65535, got \"", text, "\""));
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
    return FlagError("custom_tags", absl::StrCat("\"", tag, "\" is not Tag_Profile_Custom_<1-16 of A-Za-z0-9_>"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadSecretKey(const std::map<std::string, std::string>& raw, const EnvLookup& env) {
  std::string key;
  if (auto it = raw.find("secret_key_file"); it != raw.end()) {
    std::ifstream in(it->second, std::ios::binary);
    if (!in) return FlagError("secret_key_file", absl::StrCat("cannot read ", it->second));
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

}  // namespace

absl::StatusOr<SandboxOptions> ParseSandboxFlags(const std::vector<std::string>& args, const EnvLookup& env) {
  std::map<std::string, std::string> raw;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!absl::StartsWith(arg, "--") || arg.size() == 2) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\" (flags are --name=value)"));
    }
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
    const FlagSpec* spec = FindFlag(name);
    if (spec == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    if (equals != std::string::npos) {
      raw[name] = arg.substr(equals + 1);
    } else if (spec->value_hint == nullptr) {
      raw[name] = "true";
    } else if (i + 1 < args.size()) {
      raw[name] = args[++i];
    } else {
      return FlagError(name, absl::StrCat("needs a value (", spec->value_hint, ")"));
    }
  }

  SandboxOptions options;
  absl::StatusOr<bool> help = BoolFlag(raw, "help");
  if (!help.ok()) return help.status();
  if (*help) {
    options.help = true;
    return options;
  }

  if (absl::Status s = ParseListen(FlagOr(raw, "listen", "127.0.0.1:0"), options); !s.ok()) return s;
  options.port_file = FlagOr(raw, "port_file", "");
  options.tls_cert_file = FlagOr(raw, "tls_cert_file", "");
  options.tls_key_file = FlagOr(raw, "tls_key_file", "");
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert_file and --tls_key_file go together");
  }

  SandboxConfig& config = options.config;
  absl::StatusOr<int64_t> sdkappid = IntFlag(raw, "sdkappid", 1400000000, 1, 0xFFFFFFFFLL);
  if (!sdkappid.ok()) return sdkappid.status();
  config.sdkappid = static_cast<uint64_t>(*sdkappid);

  config.admins = {FlagOr(raw, "admin_identifier", "administrator")};
  if (config.admins[0].empty()) return FlagError("admin_identifier", "must not be empty");
  for (absl::string_view admin : absl::StrSplit(FlagOr(raw, "extra_admins", ""), ',', absl::SkipEmpty())) {
    config.admins.emplace_back(admin);
  }
  if (config.admins.size() > kMaxAdmins) return FlagError("extra_admins", "an app has at most 10 admins");

  absl::StatusOr<std::string> key = ReadSecretKey(raw, env);
  if (!key.ok()) return key.status();
  config.secret_key = *std::move(key);

  config.custom_tags.clear();
  for (absl::string_view tag : absl::StrSplit(
           FlagOr(raw, "custom_tags", "Tag_Profile_Custom_Test,Tag_Profile_Custom_Blob"), ',', absl::SkipEmpty())) {
    if (absl::Status s = CheckCustomTag(tag); !s.ok()) return s;
    config.custom_tags.emplace_back(tag);
  }

  for (const IntField& field : kIntFields) {
    absl::StatusOr<int64_t> value = IntFlag(raw, field.name, field.get(options), field.min, field.max);
    if (!value.ok()) return value.status();
    field.set(options, *value);
  }
  absl::StatusOr<bool> access_log = BoolFlag(raw, "access_log");
  if (!access_log.ok()) return access_log.status();
  options.access_log = *access_log;

  // Fault flags go through the same parser as POST /sandbox/faults, so both accept the same values.
  nlohmann::json faults = nlohmann::json::object();
  for (const char* name : {"throttle_for_ms", "latency_ms", "error_code", "error_count", "http_502_count",
                           "non_json_count", "truncated_count", "drop_connection_count", "usersig_expired_count"}) {
    absl::StatusOr<int64_t> value = IntFlag(raw, name, 0, -1, int64_t{1} << 40);
    if (!value.ok()) return value.status();
    if (raw.count(name) > 0) faults[name] = *value;
  }
  absl::StatusOr<bool> expire_all = BoolFlag(raw, "expire_all_sigs");
  if (!expire_all.ok()) return expire_all.status();
  faults["expire_all_sigs"] = *expire_all;
  if (auto it = raw.find("fail_accounts"); it != raw.end()) {
    absl::StatusOr<std::map<std::string, int64_t>> fail_accounts = ParseFailAccountsFlag(it->second);
    if (!fail_accounts.ok()) return fail_accounts.status();
    faults["fail_accounts"] = *fail_accounts;
  }
  absl::StatusOr<Faults> parsed_faults = ParseFaults(faults);
  if (!parsed_faults.ok()) return absl::InvalidArgumentError(absl::StrCat("--", parsed_faults.status().message()));
  options.faults = *std::move(parsed_faults);
  return options;
}

std::string SandboxUsage() {
  const SandboxOptions defaults;
  std::string out =
      "portrait-sandbox: a local stand-in for Tencent Cloud Chat's POST /v4/profile/portrait_get.\n"
      "Usage: portrait-sandbox [--flag=value ...]\n\nFlags:\n";
  for (const FlagSpec& spec : kFlags) {
    std::string left = absl::StrCat("  --", spec.name);
    if (spec.value_hint != nullptr) absl::StrAppend(&left, "=", spec.value_hint);
    if (left.size() < 34) left.resize(34, ' ');
    absl::StrAppend(&out, left, " ", spec.help);
    std::string default_text;
    if (spec.default_text != nullptr) {
      default_text = spec.default_text;
    } else if (const IntField* field = FindIntField(spec.name); field != nullptr) {
      default_text = absl::StrCat(field->get(defaults));
    }
    if (!default_text.empty()) absl::StrAppend(&out, " (default ", default_text, ")");
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, "\nControl endpoints: POST /sandbox/faults, GET /sandbox/faults, GET /sandbox/stats,\n",
                  "POST /sandbox/stats/reset, GET /sandbox/arrivals?windows_ms=MS,MS&include_times=1,\n",
                  "GET /sandbox/usersig?identifier=ID&expire=SECONDS, GET /sandbox/health.\n",
                  "See bridge/sandbox/README.md.\n");
  return out;
}

}  // namespace portrait_bridge::sandbox

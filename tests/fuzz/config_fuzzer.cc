// libFuzzer target: LoadConfig with arbitrary flags, environment and config file.
//
// The input is text, one item per line:
//   env:NAME=VALUE   sets an environment variable (getenv sees only this fake environment)
//   env:NAME         unsets one
//   file:            everything after this line is the config file's text, written to config.json
//   anything else    one command-line argument
// The environment starts with the two required settings, PORTRAIT_BRIDGE_SDKAPPID and PORTRAIT_BRIDGE_SECRET_KEY,
// so that most inputs get past them to the other checks.
// File settings (--config, PORTRAIT_BRIDGE_CONFIG, secret_key_file, ca_bundle, the password files and the TLS
// files) name files in a scratch directory of this process ($TMPDIR or /tmp, config_fuzzer_XXXXXX): a value without
// '/' is taken as a name there (the directory holds config.json, key, empty, pem and password); an input that gives
// one of them a value with '/' is skipped, so that nothing outside is ever read (no /dev/zero).
//
// Checked: LoadConfig never crashes; it returns a Config or INVALID_ARGUMENT; an accepted Config holds every
// setting in the range config.cc documents (ConfigOptions() and README's table), and Describe() shows no secret.
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "bridge/config/config.h"
#include "bridge/core/portrait_api.h"
#include "bridge/core/profile_tags.h"
#include "bridge/core/redis_url.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using portrait_bridge::Config;
using portrait_bridge::LogLevel;
using Json = nlohmann::json;

// The settings that name a file ("config" is the flag --config; its variable is PORTRAIT_BRIDGE_CONFIG).
const std::set<std::string>& FileKeys() {
  static const auto* keys =
      new std::set<std::string>{"config",        "secret_key_file", "ca_bundle",          "budget_redis_password_file",
                                "tls_cert_file", "tls_key_file",    "tls_client_ca_file", "cache_redis_password_file"};
  return *keys;
}

std::string& ScratchDir() {
  static auto* dir = new std::string;
  return *dir;
}

void RemoveScratch() {
  for (const char* name : {"config.json", "key", "empty", "pem", "password"}) {
    std::remove((ScratchDir() + "/" + name).c_str());
  }
  rmdir(ScratchDir().c_str());
}

// A file setting's value, as LoadConfig gets it: a name in the scratch directory. False when it holds a '/'.
bool InScratch(std::string& value) {
  if (absl::StrContains(value, '/')) return false;
  if (!value.empty()) value = ScratchDir() + "/" + value;
  return true;
}

std::string Quote(const std::string& text) { return absl::StrCat("\"", absl::CHexEscape(text), "\""); }

bool HostPort(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = -1;
  return colon != std::string::npos && colon > 0 && absl::SimpleAtoi(address.substr(colon + 1), &port) && port >= 0 &&
         port <= 65535;
}

bool Readable(const std::string& path) { return std::ifstream(path).good(); }

// Every documented range of an accepted configuration.
void CheckRanges(const Config& c, const std::string& input) {
  const auto ms = [](absl::Duration d) { return absl::ToInt64Milliseconds(d); };
  const auto where = [&input](const std::string& what) { return absl::StrCat(what, "\ninput: ", Quote(input)); };
#define FUZZ_RANGE(value, low, high) \
  FUZZ_CHECK((value) >= (low) && (value) <= (high), where(absl::StrCat(#value, " = ", (value))))

  FUZZ_CHECK(HostPort(c.listen_address), where("listen_address " + Quote(c.listen_address)));
  FUZZ_CHECK(c.metrics_address.empty() || HostPort(c.metrics_address), where("metrics_address"));
  FUZZ_RANGE(c.upstream.sdkappid, 1u, 0xFFFFFFFFu);
  FUZZ_RANGE(c.upstream.identifier.size(), 1u, 32u);
  for (char ch : c.upstream.identifier) {
    FUZZ_CHECK(absl::ascii_isalnum(ch) || ch == '_' || ch == '-' || ch == '@' || ch == '.',
               where("admin_identifier " + Quote(c.upstream.identifier)));
  }
  FUZZ_CHECK(!c.secret_key.empty(), where("secret_key is empty"));
  FUZZ_CHECK(absl::StartsWith(c.upstream.base_url, "http://") || absl::StartsWith(c.upstream.base_url, "https://"),
             where("base_url " + Quote(c.upstream.base_url)));
  FUZZ_CHECK(c.transport.ca_bundle.empty() || Readable(c.transport.ca_bundle), where("ca_bundle"));
  FUZZ_RANGE(absl::ToInt64Seconds(c.usersig_validity), 300, 180 * 86400);
  FUZZ_RANGE(ms(c.upstream.attempt_timeout), 1, 600000);
  FUZZ_RANGE(c.stream_limits.max_accounts_per_stream, 1, 100000000);
  FUZZ_RANGE(c.stream_limits.max_accounts_per_batch_get, 1, 100000);
  FUZZ_RANGE(c.stream_limits.max_inflight_accounts, 1, 1000000);
  FUZZ_RANGE(c.stream_limits.max_accounts_per_call, 1, static_cast<int64_t>(portrait_bridge::kMaxAccountsPerCall));
  for (const std::string& tag : c.bytes_tags) {
    FUZZ_CHECK(absl::StartsWith(tag, "Tag_Profile_Custom_") && portrait_bridge::ValidateTag(tag).ok(),
               where("bytes_tags " + Quote(tag)));
  }
  FUZZ_CHECK(c.budget.calls_per_second > 0 && c.budget.calls_per_second <= 1e6,
             where(absl::StrCat("upstream_calls_per_second = ", c.budget.calls_per_second)));
  FUZZ_RANGE(c.budget.burst, 1, 1000000);
  FUZZ_RANGE(ms(c.coalescer.wait), 0, 1000);
  FUZZ_RANGE(c.coalescer.max_pending_accounts, 100, 100000000);
  FUZZ_RANGE(c.upstream.retry_max_attempts, 1, 10);
  FUZZ_RANGE(ms(c.upstream.retry_initial_backoff), 1, 60000);
  FUZZ_RANGE(ms(c.upstream.retry_max_backoff), ms(c.upstream.retry_initial_backoff), 600000);
  FUZZ_CHECK(c.upstream.retry_budget_ratio >= 0 && c.upstream.retry_budget_ratio <= 10,
             where(absl::StrCat("retry_budget_ratio = ", c.upstream.retry_budget_ratio)));
  FUZZ_RANGE(ms(c.cache.ttl), 0, 7LL * 86400 * 1000);
  FUZZ_RANGE(c.cache.max_entries, 1, 1000000000);
  FUZZ_RANGE(ms(c.cache.negative_ttl), 0, 3600 * 1000);
  FUZZ_CHECK(c.budget_redis_url.empty() || portrait_bridge::ParseRedisUrl(c.budget_redis_url).ok(),
             where("budget_redis_url " + Quote(c.budget_redis_url)));
  FUZZ_CHECK(c.cache_redis_url.empty() || portrait_bridge::ParseRedisUrl(c.cache_redis_url).ok(),
             where("cache_redis_url " + Quote(c.cache_redis_url)));
  FUZZ_CHECK(c.cache_redis_url.empty() || c.cache.ttl > absl::ZeroDuration(), where("cache_redis_url without a TTL"));
  FUZZ_CHECK(c.budget.fallback_calls_per_second > 0 && c.budget.fallback_calls_per_second <= c.budget.calls_per_second,
             where(absl::StrCat("budget_fallback_calls_per_second = ", c.budget.fallback_calls_per_second,
                                " with upstream_calls_per_second = ", c.budget.calls_per_second)));
  FUZZ_RANGE(ms(c.budget_redis.timeout), 1, 10000);
  FUZZ_RANGE(absl::ToInt64Seconds(c.shutdown_grace), 0, 3600);
  FUZZ_RANGE(ms(c.shutdown_drain_delay), 0, 600000);
  FUZZ_RANGE(ms(c.keepalive_min_ping_interval), 1000, 3600000);
  FUZZ_RANGE(ms(c.max_connection_age), 0, 86400000);
  FUZZ_RANGE(ms(c.max_connection_age_grace), 0, 3600000);
  FUZZ_CHECK(c.log_level == LogLevel::kDebug || c.log_level == LogLevel::kInfo || c.log_level == LogLevel::kWarning ||
                 c.log_level == LogLevel::kError,
             where("log_level"));
  FUZZ_CHECK(c.tls_cert_file.empty() == c.tls_key_file.empty(), where("tls_cert_file and tls_key_file"));
  FUZZ_CHECK(c.tls_client_ca_file.empty() || !c.tls_cert_file.empty(), where("tls_client_ca_file"));
  for (const std::string* file : {&c.tls_cert_file, &c.tls_key_file, &c.tls_client_ca_file}) {
    FUZZ_CHECK(file->empty() || Readable(*file), where("TLS file " + Quote(*file)));
  }
  FUZZ_RANGE(absl::ToInt64Seconds(c.tls_reload_interval), 1, 3600);
#undef FUZZ_RANGE

  // Describe() must not depend on any secret.
  Config other = c;
  other.secret_key = c.secret_key + "-other";
  // Another password of the same emptiness: Describe shows whether one is set, never what it is.
  if (!c.budget_redis.password.empty()) other.budget_redis.password = c.budget_redis.password + "-other";
  if (!c.cache_redis.password.empty()) other.cache_redis.password = c.cache_redis.password + "-other";
  FUZZ_CHECK(other.Describe() == c.Describe(), where("Describe() shows a secret: " + c.Describe()));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/config_fuzzer_XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("config_fuzzer: mkdtemp");
    std::abort();
  }
  ScratchDir() = pattern;
  std::atexit(RemoveScratch);
  std::ofstream(pattern + "/key") << "s3cr3t-key-0123456789abcdef\n";
  std::ofstream(pattern + "/empty") << "";
  std::ofstream(pattern + "/pem") << "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  std::ofstream(pattern + "/password") << "redis-password\n";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args;
  std::map<std::string, std::string> env = {{"PORTRAIT_BRIDGE_SDKAPPID", "1400000000"},
                                            {"PORTRAIT_BRIDGE_SECRET_KEY", "s3cr3t-key-0123456789abcdef"}};
  bool has_file = false;
  std::string file_text;
  for (size_t start = 0; start <= input.size();) {
    size_t end = input.find('\n', start);
    if (end == std::string::npos) end = input.size();
    const std::string line = input.substr(start, end - start);
    start = end + 1;
    if (line == "file:") {
      has_file = true;
      if (start < input.size()) file_text = input.substr(start);
      break;
    }
    if (absl::StartsWith(line, "env:")) {
      const std::vector<std::string> parts = absl::StrSplit(line.substr(4), absl::MaxSplits('=', 1));
      if (parts.size() > 1) {
        env[parts[0]] = parts[1];
      } else {
        env.erase(parts[0]);
      }
    } else if (!line.empty() || end < input.size()) {
      args.push_back(line);
    }
  }

  // File settings point into the scratch directory, whichever source they come from.
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (!absl::ConsumePrefix(&arg, "--")) continue;
    const size_t equals = arg.find('=');
    const std::string key(arg.substr(0, equals));
    if (equals == absl::string_view::npos) {
      if (++i < args.size() && FileKeys().count(key) > 0 && !InScratch(args[i])) return -1;
    } else if (FileKeys().count(key) > 0) {
      std::string value(arg.substr(equals + 1));
      if (!InScratch(value)) return -1;
      args[i] = absl::StrCat("--", key, "=", value);
    }
  }
  for (const std::string& key : FileKeys()) {
    const auto it = env.find("PORTRAIT_BRIDGE_" + absl::AsciiStrToUpper(key));
    if (it != env.end() && !InScratch(it->second)) return -1;
  }
  const std::string config_path = ScratchDir() + "/config.json";
  if (has_file) {
    Json document = Json::parse(file_text, nullptr, /*allow_exceptions=*/false);
    bool rewrite = false;
    if (document.is_object()) {
      for (auto& [key, value] : document.items()) {
        if (FileKeys().count(key) == 0) continue;
        if (!value.is_string()) return -1;
        std::string path = value.get<std::string>();
        if (!InScratch(path)) return -1;
        value = path;
        rewrite = true;
      }
    }
    std::ofstream(config_path, std::ios::binary | std::ios::trunc) << (rewrite ? document.dump() : file_text);
  } else {
    std::remove(config_path.c_str());
  }

  const auto getenv = [&env](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  const absl::StatusOr<Config> config = portrait_bridge::LoadConfig(args, getenv);
  if (!config.ok()) {
    FUZZ_CHECK(config.status().code() == absl::StatusCode::kInvalidArgument,
               absl::StrCat(config.status().ToString(), "\ninput: ", Quote(input)));
    return 0;
  }
  CheckRanges(*config, input);
  return 0;
}

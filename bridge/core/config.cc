#include "bridge/core/config.h"

#include <charconv>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "bridge/core/portrait_api.h"
#include "bridge/core/profile_tags.h"
#include "bridge/core/rate_limiter.h"
#include "bridge/core/redis_url.h"

namespace portrait_bridge {
namespace {

constexpr char kEnvPrefix[] = "PORTRAIT_BRIDGE_";

// A raw value and where it came from, for error messages.
struct RawValue {
  std::string value;
  std::string source;
};

const std::vector<OptionDoc>& Options() {
  static const auto* options = new std::vector<OptionDoc>{
      {"listen_address", "0.0.0.0:50051", "gRPC listen address (host:port; port 0 picks a free port)"},
      {"port_file", "", "after binding, write the gRPC port to this file (for tests and scripts)"},
      {"metrics_address", "0.0.0.0:9464", "Prometheus /metrics listen address; empty disables it"},
      {"metrics_port_file", "", "after binding, write the metrics port to this file"},
      {"sdkappid", "", "Tencent Cloud Chat SDKAppID (required)"},
      {"admin_identifier", "administrator", "an app admin account, used as `identifier` on every call"},
      {"secret_key_file", "", "file holding the app's secret key (or set PORTRAIT_BRIDGE_SECRET_KEY)"},
      {"region", "singapore", "the app's region: " + RegionNames()},
      {"base_url", "", "upstream base URL, overriding region (proxies, the sandbox)"},
      {"ca_bundle", "", "CA bundle file for upstream TLS verification (default: the system store)"},
      {"usersig_validity_seconds", "86400", "validity of the admin UserSig; renewed at half of it"},
      {"attempt_timeout_ms", "5000", "timeout of one upstream attempt (Tencent's backend gives up at 3 s)"},
      {"max_accounts_per_stream", "100000", "accounts one GetProfiles stream may ask for in all"},
      {"max_accounts_per_batch_get", "1000",
       "entries of `accounts` in one BatchGetProfiles call, 1 to 100000; more is INVALID_ARGUMENT (use the "
       "GetProfiles stream)"},
      {"max_inflight_accounts_per_stream", "1000",
       "accounts of one stream in upstream calls at once; the stream stops reading beyond it"},
      {"max_accounts_per_call", "100", "accounts per upstream call, 1 to 100"},
      {"unread_responses_mib", "64",
       "responses that callers have not read yet, across all streams (each stream pauses at 1 MiB unread); a "
       "stream that needs more while the bridge holds this much ends with RESOURCE_EXHAUSTED"},
      {"max_accepted_accounts", "300000",
       "distinct accounts of accepted requests not yet answered, across all streams (about 120 bytes each); a "
       "request that would go past it is refused in-band with RESOURCE_EXHAUSTED"},
      {"grpc_memory_quota_mib", "64",
       "gRPC's own buffers (its resource quota): under pressure gRPC reads less at a time and shrinks windows"},
      {"max_streams_per_connection", "100",
       "concurrent streams one client connection may open (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); a client "
       "queues the rest"},
      {"bytes_tags", "", "comma-separated custom tags returned as bytes_value instead of string_value"},
      {"upstream_calls_per_second", "200", "upstream call budget of this bridge (Tencent: 200/s per app)"},
      {"upstream_burst", "",
       "calls that may start at once within the budget (default: a twentieth of the calls per second, at least 1; "
       "a large burst only lets calls start early to wait at the per-second window)"},
      {"coalesce_wait_ms", "2",
       "how long an ask may wait for asks of other streams to fill an upstream call (0: send at once)"},
      {"max_pending_accounts", "100000",
       "accounts waiting for an upstream call or for budget, all streams together; beyond it: RESOURCE_EXHAUSTED"},
      {"retry_max_attempts", "3", "attempts per upstream call for transient failures, the first included"},
      {"retry_initial_backoff_ms", "50", "backoff before the first retry; doubles per retry, with full jitter"},
      {"retry_max_backoff_ms", "1000", "upper bound of one backoff"},
      {"retry_budget_ratio", "0.2", "retries allowed per upstream call over time, so an outage cannot multiply load"},
      {"cache_ttl_ms", "0", "profile cache lifetime per account and tag; 0 disables the cache"},
      {"cache_max_entries", "200000",
       "profile cache bound, in account-and-tag entries (about 250 bytes each: the default is ~50 MB)"},
      {"cache_negative_ttl_ms", "1000", "how long a per-account failure is remembered when the cache is on"},
      {"budget_redis_url", "",
       "share one budget of upstream_calls_per_second among all bridges of the SDKAppID through this Redis "
       "(redis://host:port[/db] or unix:///path); empty: each bridge has its own budget"},
      {"budget_redis_password_file", "", "file holding the password of budget_redis_url's server, if it needs one"},
      {"budget_fallback_calls_per_second", "",
       "the local budget used while budget_redis_url cannot be reached (default: a tenth of "
       "upstream_calls_per_second; the chart sets total / maximum replicas)"},
      {"redis_timeout_ms", "10",
       "longest wait for one Redis operation; past it the bridge goes on without Redis (local budget, cache miss)"},
      {"cache_redis_url", "",
       "share cached profiles among all bridges through this Redis (needs cache_ttl_ms > 0; the local cache stays "
       "in front)"},
      {"cache_redis_password_file", "", "file holding the password of cache_redis_url's server, if it needs one"},
      {"shutdown_drain_delay_ms", "2000",
       "on SIGTERM/SIGINT, how long readiness reports NOT_SERVING while new calls are still accepted, before the "
       "server stops accepting (load balancers and meshes take the pod out meanwhile)"},
      {"shutdown_grace_seconds", "10", "then, how long in-flight streams may finish"},
      {"keepalive_min_ping_interval_ms", "5000",
       "client keepalive pings are accepted this often, with or without calls in flight (half of the common 10 s, "
       "which timer jitter makes a little shorter at times); pings more often get GOAWAY ENHANCE_YOUR_CALM"},
      {"max_connection_age_ms", "300000",
       "a client connection is asked to go away (GOAWAY) after about this long, so clients spread over new pods; "
       "0: never"},
      {"max_connection_age_grace_ms", "30000",
       "streams still open on a connection past its age get this long to finish before it closes"},
      {"log_level", "info", "debug, info, warning or error"},
      {"log_format", "json", "json (one object per line) or text"},
      {"tls_cert_file", "", "serve gRPC over TLS with this certificate chain (PEM)"},
      {"tls_key_file", "", "private key (PEM) for tls_cert_file"},
      {"tls_client_ca_file", "", "require client certificates signed by this CA (mTLS)"},
      {"tls_reload_interval_seconds", "60",
       "how often the TLS files are reread, 1 to 3600; new connections get a renewed certificate or client CA "
       "without a restart"},
  };
  return *options;
}

bool IsOption(const std::string& name) {
  for (const OptionDoc& option : Options()) {
    if (option.name == name) return true;
  }
  return false;
}

absl::Status Invalid(const std::string& key, const RawValue& raw, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("configuration: ", key, "=\"", raw.value, "\" (from ", raw.source, ") ", why));
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("configuration: cannot read ", what, " \"", path, "\""));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::Status MergeConfigFile(const std::string& path, std::map<std::string, RawValue>& values) {
  absl::StatusOr<std::string> text = ReadSmallFile(path, "config file");
  if (!text.ok()) return text.status();
  const nlohmann::json document = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("configuration: ", path, " is not a JSON object"));
  }
  const std::string source = absl::StrCat("config file ", path);
  for (const auto& [key, value] : document.items()) {
    if (!IsOption(key)) {
      return absl::InvalidArgumentError(absl::StrCat("configuration: unknown key \"", key, "\" in ", source));
    }
    std::string text_value;
    if (value.is_string()) {
      text_value = value.get<std::string>();
    } else if (value.is_number() || value.is_boolean()) {
      text_value = value.dump();
    } else if (value.is_array()) {
      for (const auto& element : value) {
        if (!element.is_string()) {
          return absl::InvalidArgumentError(
              absl::StrCat("configuration: ", key, " in ", source, " must be a string or an array of strings"));
        }
        if (!text_value.empty()) text_value += ",";
        text_value += element.get<std::string>();
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("configuration: ", key, " in ", source, " must be a string, number or array"));
    }
    values[key] = {text_value, source};
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ParseInt(const std::string& key, const RawValue& raw, int64_t min, int64_t max) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(raw.value, &value)) return Invalid(key, raw, "is not an integer");
  if (value < min || value > max) {
    return Invalid(key, raw, absl::StrCat("must be between ", min, " and ", max));
  }
  return value;
}

bool ValidHostPort(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  int port = 0;
  return absl::SimpleAtoi(address.substr(colon + 1), &port) && port >= 0 && port <= 65535;
}

}  // namespace

const std::vector<OptionDoc>& ConfigOptions() { return Options(); }

std::string ConfigHelp() {
  std::string help =
      "Usage: portrait-bridge [--config=FILE] [--KEY=VALUE ...]\n\n"
      "Serves portraitbridge.profile.v1.ProfileService over gRPC in front of Tencent Cloud Chat's\n"
      "v4/profile/portrait_get. Each KEY may also come from the environment as PORTRAIT_BRIDGE_<KEY>\n"
      "(upper case) or from the JSON config file; precedence: flag > environment > file > default.\n"
      "The secret key comes from secret_key_file or PORTRAIT_BRIDGE_SECRET_KEY, never from a flag.\n\n";
  for (const OptionDoc& option : Options()) {
    absl::StrAppend(&help, "  --", option.name,
                    "  (default: ", option.default_value.empty() ? "none" : option.default_value, ")\n      ",
                    option.description, "\n");
  }
  return help;
}

absl::StatusOr<Config> LoadConfig(const std::vector<std::string>& args,
                                  const std::function<const char*(const char*)>& getenv) {
  // Flags first, so that --config is known before the file is read.
  std::map<std::string, RawValue> flags;
  std::string config_path;
  if (const char* env_path = getenv("PORTRAIT_BRIDGE_CONFIG"); env_path != nullptr) config_path = env_path;
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (!absl::ConsumePrefix(&arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\"; flags look like --key=value"));
    }
    std::string key;
    std::string value;
    if (const size_t equals = arg.find('='); equals != absl::string_view::npos) {
      key = std::string(arg.substr(0, equals));
      value = std::string(arg.substr(equals + 1));
    } else {
      key = std::string(arg);
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat("flag --", key, " needs a value"));
      value = args[++i];
    }
    if (key == "config") {
      config_path = value;
      continue;
    }
    if (key == "secret_key") {
      return absl::InvalidArgumentError(
          "--secret_key is not accepted (it would show in the process list): use --secret_key_file or "
          "PORTRAIT_BRIDGE_SECRET_KEY");
    }
    if (!IsOption(key)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", key, " (see --help)"));
    }
    flags[key] = {value, "flag --" + key};
  }

  std::map<std::string, RawValue> values;
  for (const OptionDoc& option : Options()) values[option.name] = {option.default_value, "default"};
  if (!config_path.empty()) {
    if (absl::Status status = MergeConfigFile(config_path, values); !status.ok()) return status;
  }
  for (const OptionDoc& option : Options()) {
    const std::string env_name = kEnvPrefix + absl::AsciiStrToUpper(option.name);
    if (const char* env_value = getenv(env_name.c_str()); env_value != nullptr) {
      values[option.name] = {env_value, "environment " + env_name};
    }
  }
  for (auto& [key, raw] : flags) values[key] = raw;

  Config config;
  auto text = [&](const char* key) { return values.at(key).value; };
  config.listen_address = text("listen_address");
  if (!ValidHostPort(config.listen_address)) {
    return Invalid("listen_address", values.at("listen_address"), "must look like host:port");
  }
  config.port_file = text("port_file");
  config.metrics_address = text("metrics_address");
  config.metrics_port_file = text("metrics_port_file");
  if (!config.metrics_address.empty() && !ValidHostPort(config.metrics_address)) {
    return Invalid("metrics_address", values.at("metrics_address"), "must look like host:port, or be empty");
  }

  if (text("sdkappid").empty()) {
    return absl::InvalidArgumentError(
        "configuration: sdkappid is required (flag --sdkappid, PORTRAIT_BRIDGE_SDKAPPID or the config file)");
  }
  absl::StatusOr<int64_t> sdkappid = ParseInt("sdkappid", values.at("sdkappid"), 1, 0xFFFFFFFFLL);
  if (!sdkappid.ok()) return sdkappid.status();
  config.sdkappid = static_cast<uint64_t>(*sdkappid);

  config.admin_identifier = text("admin_identifier");
  if (config.admin_identifier.empty() || config.admin_identifier.size() > 32) {
    return Invalid("admin_identifier", values.at("admin_identifier"), "must be 1 to 32 bytes");
  }
  for (char c : config.admin_identifier) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-' && c != '@' && c != '.') {
      return Invalid("admin_identifier", values.at("admin_identifier"),
                     "may hold only letters, digits and _ - @ . (it is sent in the URL)");
    }
  }

  if (const char* env_key = getenv("PORTRAIT_BRIDGE_SECRET_KEY");
      env_key != nullptr && *env_key != '\0' && flags.count("secret_key_file") == 0) {
    config.secret_key = env_key;
  } else if (!text("secret_key_file").empty()) {
    absl::StatusOr<std::string> key = ReadSmallFile(text("secret_key_file"), "secret_key_file");
    if (!key.ok()) return key.status();
    config.secret_key = std::string(absl::StripTrailingAsciiWhitespace(*key));
  }
  if (config.secret_key.empty()) {
    return absl::InvalidArgumentError(
        "configuration: the secret key is missing or empty: set secret_key_file or PORTRAIT_BRIDGE_SECRET_KEY");
  }

  config.region = text("region");
  if (!text("base_url").empty()) {
    config.base_url = text("base_url");
    if (!absl::StartsWith(config.base_url, "http://") && !absl::StartsWith(config.base_url, "https://")) {
      return Invalid("base_url", values.at("base_url"), "must start with http:// or https://");
    }
  } else {
    absl::StatusOr<std::string> url = RegionBaseUrl(config.region);
    if (!url.ok()) return Invalid("region", values.at("region"), url.status().message());
    config.base_url = *url;
  }
  config.ca_bundle = text("ca_bundle");
  if (!config.ca_bundle.empty() && !std::ifstream(config.ca_bundle)) {
    return Invalid("ca_bundle", values.at("ca_bundle"), "cannot be read");
  }

  absl::StatusOr<int64_t> validity =
      ParseInt("usersig_validity_seconds", values.at("usersig_validity_seconds"), 300, 180LL * 86400);
  if (!validity.ok()) return validity.status();
  config.usersig_validity = absl::Seconds(*validity);
  absl::StatusOr<int64_t> attempt = ParseInt("attempt_timeout_ms", values.at("attempt_timeout_ms"), 1, 600000);
  if (!attempt.ok()) return attempt.status();
  config.attempt_timeout = absl::Milliseconds(*attempt);

  absl::StatusOr<int64_t> per_stream =
      ParseInt("max_accounts_per_stream", values.at("max_accounts_per_stream"), 1, 100000000);
  if (!per_stream.ok()) return per_stream.status();
  config.max_accounts_per_stream = *per_stream;
  absl::StatusOr<int64_t> per_batch_get =
      ParseInt("max_accounts_per_batch_get", values.at("max_accounts_per_batch_get"), 1, 100000);
  if (!per_batch_get.ok()) return per_batch_get.status();
  config.max_accounts_per_batch_get = *per_batch_get;
  absl::StatusOr<int64_t> inflight =
      ParseInt("max_inflight_accounts_per_stream", values.at("max_inflight_accounts_per_stream"), 1, 1000000);
  if (!inflight.ok()) return inflight.status();
  config.max_inflight_accounts_per_stream = *inflight;
  absl::StatusOr<int64_t> unread = ParseInt("unread_responses_mib", values.at("unread_responses_mib"), 2, 65536);
  if (!unread.ok()) return unread.status();
  config.unread_responses_bytes = *unread << 20;
  absl::StatusOr<int64_t> accepted =
      ParseInt("max_accepted_accounts", values.at("max_accepted_accounts"), 100, 100000000);
  if (!accepted.ok()) return accepted.status();
  config.max_accepted_accounts = *accepted;
  absl::StatusOr<int64_t> quota = ParseInt("grpc_memory_quota_mib", values.at("grpc_memory_quota_mib"), 8, 65536);
  if (!quota.ok()) return quota.status();
  config.grpc_memory_quota_bytes = *quota << 20;
  absl::StatusOr<int64_t> streams =
      ParseInt("max_streams_per_connection", values.at("max_streams_per_connection"), 1, 100000);
  if (!streams.ok()) return streams.status();
  config.max_streams_per_connection = *streams;
  absl::StatusOr<int64_t> per_call = ParseInt("max_accounts_per_call", values.at("max_accounts_per_call"), 1,
                                              static_cast<int64_t>(kMaxAccountsPerCall));
  if (!per_call.ok()) return per_call.status();
  config.max_accounts_per_call = *per_call;

  for (absl::string_view tag : absl::StrSplit(text("bytes_tags"), ',', absl::SkipWhitespace())) {
    tag = absl::StripAsciiWhitespace(tag);
    if (!absl::StartsWith(tag, "Tag_Profile_Custom_") || !ValidateTag(tag).ok()) {
      return Invalid("bytes_tags", values.at("bytes_tags"),
                     absl::StrCat("lists \"", tag, "\", which is not a valid Tag_Profile_Custom_ tag"));
    }
    config.bytes_tags.insert(std::string(tag));
  }

  if (!absl::SimpleAtod(text("upstream_calls_per_second"), &config.upstream_calls_per_second) ||
      !(config.upstream_calls_per_second > 0) || config.upstream_calls_per_second > 1e6) {
    return Invalid("upstream_calls_per_second", values.at("upstream_calls_per_second"),
                   "must be a number above 0 and at most 1000000");
  }
  if (text("upstream_burst").empty()) {
    config.upstream_burst = RateLimiter::DefaultBurst(config.upstream_calls_per_second);
  } else {
    absl::StatusOr<int64_t> burst = ParseInt("upstream_burst", values.at("upstream_burst"), 1, 1000000);
    if (!burst.ok()) return burst.status();
    config.upstream_burst = *burst;
  }

  absl::StatusOr<int64_t> coalesce_wait = ParseInt("coalesce_wait_ms", values.at("coalesce_wait_ms"), 0, 1000);
  if (!coalesce_wait.ok()) return coalesce_wait.status();
  config.coalesce_wait = absl::Milliseconds(*coalesce_wait);
  absl::StatusOr<int64_t> pending = ParseInt("max_pending_accounts", values.at("max_pending_accounts"), 100, 100000000);
  if (!pending.ok()) return pending.status();
  config.max_pending_accounts = *pending;
  absl::StatusOr<int64_t> attempts = ParseInt("retry_max_attempts", values.at("retry_max_attempts"), 1, 10);
  if (!attempts.ok()) return attempts.status();
  config.retry_max_attempts = *attempts;
  absl::StatusOr<int64_t> initial_backoff =
      ParseInt("retry_initial_backoff_ms", values.at("retry_initial_backoff_ms"), 1, 60000);
  if (!initial_backoff.ok()) return initial_backoff.status();
  config.retry_initial_backoff = absl::Milliseconds(*initial_backoff);
  absl::StatusOr<int64_t> max_backoff = ParseInt("retry_max_backoff_ms", values.at("retry_max_backoff_ms"), 1, 600000);
  if (!max_backoff.ok()) return max_backoff.status();
  config.retry_max_backoff = absl::Milliseconds(*max_backoff);
  if (config.retry_max_backoff < config.retry_initial_backoff) {
    return Invalid("retry_max_backoff_ms", values.at("retry_max_backoff_ms"),
                   "must be at least retry_initial_backoff_ms");
  }
  if (!absl::SimpleAtod(text("retry_budget_ratio"), &config.retry_budget_ratio) || !(config.retry_budget_ratio >= 0) ||
      config.retry_budget_ratio > 10) {
    return Invalid("retry_budget_ratio", values.at("retry_budget_ratio"), "must be a number from 0 to 10");
  }
  absl::StatusOr<int64_t> cache_ttl = ParseInt("cache_ttl_ms", values.at("cache_ttl_ms"), 0, 7LL * 86400 * 1000);
  if (!cache_ttl.ok()) return cache_ttl.status();
  config.cache_ttl = absl::Milliseconds(*cache_ttl);
  absl::StatusOr<int64_t> cache_entries = ParseInt("cache_max_entries", values.at("cache_max_entries"), 1, 1000000000);
  if (!cache_entries.ok()) return cache_entries.status();
  config.cache_max_entries = *cache_entries;
  absl::StatusOr<int64_t> negative_ttl =
      ParseInt("cache_negative_ttl_ms", values.at("cache_negative_ttl_ms"), 0, 3600 * 1000);
  if (!negative_ttl.ok()) return negative_ttl.status();
  config.cache_negative_ttl = absl::Milliseconds(*negative_ttl);

  for (const auto& [url_key, password_key, url, password] :
       {std::tuple("budget_redis_url", "budget_redis_password_file", &config.budget_redis_url,
                   &config.budget_redis_password),
        std::tuple("cache_redis_url", "cache_redis_password_file", &config.cache_redis_url,
                   &config.cache_redis_password)}) {
    *url = text(url_key);
    if (!url->empty()) {
      if (absl::StatusOr<RedisAddress> address = ParseRedisUrl(*url); !address.ok()) {
        return Invalid(url_key, values.at(url_key), address.status().message());
      }
    }
    if (!text(password_key).empty()) {
      absl::StatusOr<std::string> secret = ReadSmallFile(text(password_key), password_key);
      if (!secret.ok()) return secret.status();
      *password = std::string(absl::StripTrailingAsciiWhitespace(*secret));
    }
  }
  if (!config.cache_redis_url.empty() && config.cache_ttl <= absl::ZeroDuration()) {
    return Invalid("cache_redis_url", values.at("cache_redis_url"), "needs cache_ttl_ms above 0");
  }
  if (text("budget_fallback_calls_per_second").empty()) {
    config.budget_fallback_calls_per_second = config.upstream_calls_per_second / 10;
  } else if (!absl::SimpleAtod(text("budget_fallback_calls_per_second"), &config.budget_fallback_calls_per_second) ||
             !(config.budget_fallback_calls_per_second > 0) ||
             config.budget_fallback_calls_per_second > config.upstream_calls_per_second) {
    return Invalid("budget_fallback_calls_per_second", values.at("budget_fallback_calls_per_second"),
                   "must be a number above 0 and at most upstream_calls_per_second");
  }
  absl::StatusOr<int64_t> redis_timeout = ParseInt("redis_timeout_ms", values.at("redis_timeout_ms"), 1, 10000);
  if (!redis_timeout.ok()) return redis_timeout.status();
  config.redis_timeout = absl::Milliseconds(*redis_timeout);

  absl::StatusOr<int64_t> grace = ParseInt("shutdown_grace_seconds", values.at("shutdown_grace_seconds"), 0, 3600);
  if (!grace.ok()) return grace.status();
  config.shutdown_grace = absl::Seconds(*grace);
  absl::StatusOr<int64_t> drain = ParseInt("shutdown_drain_delay_ms", values.at("shutdown_drain_delay_ms"), 0, 600000);
  if (!drain.ok()) return drain.status();
  config.shutdown_drain_delay = absl::Milliseconds(*drain);
  absl::StatusOr<int64_t> ping =
      ParseInt("keepalive_min_ping_interval_ms", values.at("keepalive_min_ping_interval_ms"), 1000, 3600000);
  if (!ping.ok()) return ping.status();
  config.keepalive_min_ping_interval = absl::Milliseconds(*ping);
  absl::StatusOr<int64_t> age = ParseInt("max_connection_age_ms", values.at("max_connection_age_ms"), 0, 86400000);
  if (!age.ok()) return age.status();
  config.max_connection_age = absl::Milliseconds(*age);
  absl::StatusOr<int64_t> age_grace =
      ParseInt("max_connection_age_grace_ms", values.at("max_connection_age_grace_ms"), 0, 3600000);
  if (!age_grace.ok()) return age_grace.status();
  config.max_connection_age_grace = absl::Milliseconds(*age_grace);

  const std::string level = text("log_level");
  if (level == "debug")
    config.log_level = LogLevel::kDebug;
  else if (level == "info")
    config.log_level = LogLevel::kInfo;
  else if (level == "warning")
    config.log_level = LogLevel::kWarning;
  else if (level == "error")
    config.log_level = LogLevel::kError;
  else
    return Invalid("log_level", values.at("log_level"), "must be debug, info, warning or error");
  const std::string format = text("log_format");
  if (format != "json" && format != "text")
    return Invalid("log_format", values.at("log_format"), "must be json or text");
  config.log_json = format == "json";

  config.tls_cert_file = text("tls_cert_file");
  config.tls_key_file = text("tls_key_file");
  config.tls_client_ca_file = text("tls_client_ca_file");
  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    return absl::InvalidArgumentError("configuration: tls_cert_file and tls_key_file must be set together");
  }
  if (!config.tls_client_ca_file.empty() && config.tls_cert_file.empty()) {
    return absl::InvalidArgumentError("configuration: tls_client_ca_file (mTLS) needs tls_cert_file and tls_key_file");
  }
  for (const char* key : {"tls_cert_file", "tls_key_file", "tls_client_ca_file"}) {
    if (!text(key).empty() && !std::ifstream(text(key))) return Invalid(key, values.at(key), "cannot be read");
  }
  absl::StatusOr<int64_t> tls_reload =
      ParseInt("tls_reload_interval_seconds", values.at("tls_reload_interval_seconds"), 1, 3600);
  if (!tls_reload.ok()) return tls_reload.status();
  config.tls_reload_interval = absl::Seconds(*tls_reload);
  return config;
}

std::string Config::Describe() const {
  return absl::StrCat(
      "listen_address=", listen_address, " metrics_address=", metrics_address, " sdkappid=", sdkappid,
      " admin_identifier=", admin_identifier, " base_url=", base_url,
      " secret_key=", secret_key.empty() ? "missing" : "set",
      " attempt_timeout_ms=", absl::ToInt64Milliseconds(attempt_timeout),
      " max_accounts_per_call=", max_accounts_per_call, " max_accounts_per_stream=", max_accounts_per_stream,
      " max_accounts_per_batch_get=", max_accounts_per_batch_get,
      " max_inflight_accounts_per_stream=", max_inflight_accounts_per_stream,
      " unread_responses_mib=", unread_responses_bytes >> 20, " max_accepted_accounts=", max_accepted_accounts,
      " grpc_memory_quota_mib=", grpc_memory_quota_bytes >> 20,
      " max_streams_per_connection=", max_streams_per_connection,
      " upstream_calls_per_second=", upstream_calls_per_second, " upstream_burst=", upstream_burst,
      " coalesce_wait_ms=", absl::ToInt64Milliseconds(coalesce_wait), " retry_max_attempts=", retry_max_attempts,
      " cache_ttl_ms=", absl::ToInt64Milliseconds(cache_ttl),
      " budget=", budget_redis_url.empty() ? "local" : "shared in " + budget_redis_url,
      " budget_fallback_calls_per_second=", budget_fallback_calls_per_second, " cache_redis_url=", cache_redis_url,
      " shutdown_drain_delay_ms=", absl::ToInt64Milliseconds(shutdown_drain_delay),
      " keepalive_min_ping_interval_ms=", absl::ToInt64Milliseconds(keepalive_min_ping_interval),
      " max_connection_age_ms=", absl::ToInt64Milliseconds(max_connection_age),
      " tls=", tls_cert_file.empty() ? "off" : (tls_client_ca_file.empty() ? "on" : "mutual"));
}

}  // namespace portrait_bridge

#include "bridge/config/config.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "bridge/core/portrait_api.h"
#include "bridge/core/profile_tags.h"
#include "bridge/core/rate_limiter.h"
#include "bridge/core/redis_url.h"

namespace portrait_bridge {
namespace {

using O = OptionBuilder<Config>;
constexpr OptionUnit kMs = OptionUnit::kMilliseconds;
constexpr OptionUnit kSeconds = OptionUnit::kSeconds;

// The shared budget's Redis is asked on every upstream call: a timeout drops the connection and every ask
// meanwhile goes to the fallback, so it reconnects sooner than RedisOptions' default.
constexpr absl::Duration kBudgetRedisReconnectInterval = absl::Milliseconds(100);

absl::Status HostPort(absl::string_view address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || colon == 0 || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError("must look like host:port");
  }
  return absl::OkStatus();
}

absl::Status Readable(absl::string_view path) {
  if (!path.empty() && !std::ifstream(std::string(path))) return absl::InvalidArgumentError("cannot be read");
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadSecretFile(absl::string_view path) {
  std::ifstream in{std::string(path)};
  if (!in) return absl::InvalidArgumentError("cannot be read");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return std::string(absl::StripTrailingAsciiWhitespace(buffer.str()));
}

absl::Status AdminIdentifier(absl::string_view identifier) {
  if (identifier.empty() || identifier.size() > 32) return absl::InvalidArgumentError("must be 1 to 32 bytes");
  for (char c : identifier) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-' && c != '@' && c != '.') {
      return absl::InvalidArgumentError("may hold only letters, digits and _ - @ . (it is sent in the URL)");
    }
  }
  return absl::OkStatus();
}

std::vector<std::pair<std::string, std::string>> Regions() {
  std::vector<std::pair<std::string, std::string>> regions;
  for (absl::string_view name : absl::StrSplit(RegionNames(), ", ")) regions.emplace_back(name, name);
  return regions;
}

// A Redis URL (validated here, so main.cc can take the address as given) into its text and its RedisOptions.
Option<Config> RedisUrl(std::string name, std::string help, std::string Config::*url, RedisOptions Config::*redis) {
  OptionSpec spec = O::Spec(std::move(name), "", OptionKind::kString, std::move(help));
  return O::Custom(
      std::move(spec),
      [url, redis](absl::string_view text, Config& config) {
        config.*url = std::string(text);
        if (text.empty()) return absl::OkStatus();
        absl::StatusOr<RedisAddress> address = ParseRedisUrl(std::string(text));
        if (!address.ok()) return address.status();
        (config.*redis).address = *std::move(address);
        return absl::OkStatus();
      },
      [url](const Config& config) { return config.*url; });
}

// A password read from a file into its RedisOptions; printed only as set or unset.
Option<Config> RedisPasswordFile(std::string name, std::string help, RedisOptions Config::*redis) {
  OptionSpec spec = O::Spec(std::move(name), "", OptionKind::kString, std::move(help));
  return O::Custom(
      std::move(spec),
      [redis](absl::string_view path, Config& config) {
        if (path.empty()) return absl::OkStatus();
        absl::StatusOr<std::string> password = ReadSecretFile(path);
        if (!password.ok()) return password.status();
        (config.*redis).password = *std::move(password);
        return absl::OkStatus();
      },
      [redis](const Config& config) { return std::string((config.*redis).password.empty() ? "unset" : "set"); });
}

OptionTable<Config>* MakeTable() {
  OptionSources sources;
  sources.env_prefix = "PORTRAIT_BRIDGE_";
  sources.config_file = true;
  sources.error_prefix = "configuration: ";
  // One line per option: name, default, bounds (unit), help, and the field it goes to. Rules across options
  // (required, computed defaults, pairs) are in LoadConfig, after the table.
  return new OptionTable<Config>(
      sources,
      {
          O::String("listen_address", "0.0.0.0:50051", "gRPC listen address (host:port; port 0 picks a free port)",
                    Field(&Config::listen_address), HostPort),
          O::String("port_file", "", "after binding, write the gRPC port to this file (for tests and scripts)",
                    Field(&Config::port_file)),
          O::String("metrics_address", "0.0.0.0:9464", "Prometheus /metrics listen address; empty disables it",
                    Field(&Config::metrics_address),
                    [](absl::string_view address) {
                      return address.empty() || HostPort(address).ok()
                                 ? absl::OkStatus()
                                 : absl::InvalidArgumentError("must look like host:port, or be empty");
                    }),
          O::String("metrics_port_file", "", "after binding, write the metrics port to this file",
                    Field(&Config::metrics_port_file)),
          O::Integer("sdkappid", "", 1, 0xFFFFFFFFLL, "Tencent Cloud Chat SDKAppID (required)",
                     Field(&Config::upstream, &UpstreamOptions::sdkappid)),
          O::String("admin_identifier", "administrator", "an app admin account, used as `identifier` on every call",
                    Field(&Config::upstream, &UpstreamOptions::identifier), AdminIdentifier),
          O::String("secret_key_file", "", "file holding the app's secret key (or set PORTRAIT_BRIDGE_SECRET_KEY)",
                    Field(&Config::secret_key_file)),
          O::Enum("region", "singapore", Regions(), "the app's region, which names its endpoint",
                  Field(&Config::region)),
          O::String("base_url", "", "upstream base URL, overriding region (proxies, the sandbox)",
                    Field(&Config::upstream, &UpstreamOptions::base_url),
                    [](absl::string_view url) {
                      return url.empty() || absl::StartsWith(url, "http://") || absl::StartsWith(url, "https://")
                                 ? absl::OkStatus()
                                 : absl::InvalidArgumentError("must start with http:// or https://");
                    }),
          O::String("ca_bundle", "", "CA bundle file for upstream TLS verification (default: the system store)",
                    Field(&Config::transport, &CurlTransportOptions::ca_bundle), Readable),
          O::Duration("usersig_validity_seconds", "86400", 300, 180LL * 86400, kSeconds,
                      "validity of the admin UserSig; renewed at half of it", Field(&Config::usersig_validity)),
          O::Duration("attempt_timeout_ms", "5000", 1, 600000, kMs,
                      "timeout of one upstream attempt (Tencent's backend gives up at 3 s)",
                      Field(&Config::upstream, &UpstreamOptions::attempt_timeout)),
          O::Integer("max_accounts_per_stream", "100000", 1, 100000000,
                     "accounts one GetProfiles stream may ask for in all",
                     Field(&Config::stream_limits, &StreamLimits::max_accounts_per_stream)),
          O::Integer("max_accounts_per_batch_get", "1000", 1, 100000,
                     "entries of `accounts` in one BatchGetProfiles call; more is INVALID_ARGUMENT (use the "
                     "GetProfiles stream)",
                     Field(&Config::stream_limits, &StreamLimits::max_accounts_per_batch_get)),
          O::Integer("max_inflight_accounts_per_stream", "1000", 1, 1000000,
                     "accounts of one stream in upstream calls at once; the stream stops reading beyond it",
                     Field(&Config::stream_limits, &StreamLimits::max_inflight_accounts)),
          O::Integer("max_accounts_per_call", "100", 1, kMaxAccountsPerCall, "accounts per upstream call",
                     Field(&Config::stream_limits, &StreamLimits::max_accounts_per_call)),
          O::Mebibytes("unread_responses_mib", "64", 2, 65536,
                       "responses that callers have not read yet, across all streams (each stream pauses at 1 MiB "
                       "unread); a stream that needs more while the bridge holds this much ends with "
                       "RESOURCE_EXHAUSTED",
                       Field(&Config::server_limits, &ServerLimits::max_unread_bytes)),
          O::Integer("max_accepted_accounts", "300000", 100, 100000000,
                     "distinct accounts of accepted requests not yet answered, across all streams (about 120 bytes "
                     "each); a request that would go past it is refused in-band with RESOURCE_EXHAUSTED",
                     Field(&Config::server_limits, &ServerLimits::max_accepted_accounts)),
          O::Mebibytes("grpc_memory_quota_mib", "64", 8, 65536,
                       "gRPC's own buffers (its resource quota): under pressure gRPC reads less at a time and "
                       "shrinks windows",
                       Field(&Config::grpc_memory_quota_bytes)),
          O::Integer("max_streams_per_connection", "100", 1, 100000,
                     "concurrent streams one client connection may open (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); a "
                     "client queues the rest",
                     Field(&Config::max_streams_per_connection)),
          O::List(
              "bytes_tags", "", "comma-separated custom tags returned as bytes_value instead of string_value",
              [](std::vector<std::string> tags, Config& config) {
                for (const std::string& tag : tags) {
                  if (!absl::StartsWith(tag, "Tag_Profile_Custom_") || !ValidateTag(tag).ok()) {
                    return absl::InvalidArgumentError(
                        absl::StrCat("lists \"", tag, "\", which is not a valid Tag_Profile_Custom_ tag"));
                  }
                }
                config.bytes_tags = std::set<std::string>(tags.begin(), tags.end());
                config.upstream.tag_types = TagTypes(config.bytes_tags);
                return absl::OkStatus();
              },
              [](const Config& config) { return absl::StrJoin(config.bytes_tags, ","); }),
          O::Number("upstream_calls_per_second", "200", 0, 1e6, /*min_exclusive=*/true,
                    "upstream call budget of this bridge (Tencent: 200/s per app)",
                    Field(&Config::budget, &SharedBudgetOptions::calls_per_second)),
          O::Integer("upstream_burst", "", 1, 1000000,
                     "calls that may start at once within the budget (default: a hundredth of the calls per "
                     "second, at least 2: enough to catch up with a call sent late; a larger burst makes the "
                     "per-second window hold calls back a second later)",
                     Field(&Config::budget, &SharedBudgetOptions::burst)),
          O::Duration("coalesce_wait_ms", "2", 0, 1000, kMs,
                      "how long an ask may wait for asks of other streams to fill an upstream call (0: send at "
                      "once); no wait while asks come slower than half of upstream_calls_per_second",
                      Field(&Config::coalescer, &CoalescerOptions::wait)),
          O::Integer("max_pending_accounts", "100000", 100, 100000000,
                     "accounts waiting for an upstream call or for budget, all streams together; beyond it: "
                     "RESOURCE_EXHAUSTED",
                     Field(&Config::coalescer, &CoalescerOptions::max_pending_accounts)),
          O::Integer("retry_max_attempts", "3", 1, 10,
                     "attempts per upstream call for transient failures, the first included",
                     Field(&Config::upstream, &UpstreamOptions::retry_max_attempts)),
          O::Duration("retry_initial_backoff_ms", "50", 1, 60000, kMs,
                      "backoff before the first retry; doubles per retry, with full jitter",
                      Field(&Config::upstream, &UpstreamOptions::retry_initial_backoff)),
          O::Duration("retry_max_backoff_ms", "1000", 1, 600000, kMs,
                      "upper bound of one backoff (at least retry_initial_backoff_ms)",
                      Field(&Config::upstream, &UpstreamOptions::retry_max_backoff)),
          O::Number("retry_budget_ratio", "0.2", 0, 10, /*min_exclusive=*/false,
                    "retries allowed per upstream call over time, so an outage cannot multiply load",
                    Field(&Config::upstream, &UpstreamOptions::retry_budget_ratio)),
          O::Duration("cache_ttl_ms", "0", 0, 7LL * 86400 * 1000, kMs,
                      "profile cache lifetime per account and tag; 0 disables the cache",
                      Field(&Config::cache, &CachingFetcherOptions::ttl)),
          O::Integer("cache_max_entries", "200000", 1, 1000000000,
                     "profile cache bound, in account-and-tag entries (about 250 bytes each: the default is ~50 MB)",
                     Field(&Config::cache, &CachingFetcherOptions::max_entries)),
          O::Duration("cache_negative_ttl_ms", "1000", 0, 3600 * 1000, kMs,
                      "how long a per-account failure is remembered when the cache is on",
                      Field(&Config::cache, &CachingFetcherOptions::negative_ttl)),
          RedisUrl("budget_redis_url",
                   "share one budget of upstream_calls_per_second among all bridges of the SDKAppID through this "
                   "Redis (redis://host:port[/db] or unix:///path); empty: each bridge has its own budget",
                   &Config::budget_redis_url, &Config::budget_redis),
          RedisPasswordFile("budget_redis_password_file",
                            "file holding the password of budget_redis_url's server, if it needs one",
                            &Config::budget_redis),
          O::Number("budget_fallback_calls_per_second", "", 0, 1e6, /*min_exclusive=*/true,
                    "the local budget used while budget_redis_url cannot be reached, at most "
                    "upstream_calls_per_second (default: a tenth of upstream_calls_per_second; the chart sets "
                    "total / maximum replicas)",
                    Field(&Config::budget, &SharedBudgetOptions::fallback_calls_per_second)),
          O::Duration("redis_timeout_ms", "10", 1, 10000, kMs,
                      "longest wait for one Redis operation; past it the bridge goes on without Redis (local budget, "
                      "cache miss)",
                      Field(&Config::budget_redis, &RedisOptions::timeout)),
          RedisUrl("cache_redis_url",
                   "share cached profiles among all bridges through this Redis (needs cache_ttl_ms > 0; the local "
                   "cache stays in front)",
                   &Config::cache_redis_url, &Config::cache_redis),
          RedisPasswordFile("cache_redis_password_file",
                            "file holding the password of cache_redis_url's server, if it needs one",
                            &Config::cache_redis),
          O::Duration("shutdown_drain_delay_ms", "2000", 0, 600000, kMs,
                      "on SIGTERM/SIGINT, how long readiness reports NOT_SERVING while new calls are still accepted, "
                      "before the server stops accepting (load balancers and meshes take the pod out meanwhile)",
                      Field(&Config::shutdown_drain_delay)),
          O::Duration("shutdown_grace_seconds", "10", 0, 3600, kSeconds, "then, how long in-flight streams may finish",
                      Field(&Config::shutdown_grace)),
          O::Duration("keepalive_min_ping_interval_ms", "5000", 1000, 3600000, kMs,
                      "client keepalive pings are accepted this often, with or without calls in flight (half of the "
                      "common 10 s, which timer jitter makes a little shorter at times); pings more often get GOAWAY "
                      "ENHANCE_YOUR_CALM",
                      Field(&Config::keepalive_min_ping_interval)),
          O::Duration("max_connection_age_ms", "300000", 0, 86400000, kMs,
                      "a client connection is asked to go away (GOAWAY) after about this long, so clients spread "
                      "over new pods; 0: never",
                      Field(&Config::max_connection_age)),
          O::Duration("max_connection_age_grace_ms", "30000", 0, 3600000, kMs,
                      "streams still open on a connection past its age get this long to finish before it closes",
                      Field(&Config::max_connection_age_grace)),
          O::Enum<LogLevel>("log_level", "info",
                            {{"debug", LogLevel::kDebug},
                             {"info", LogLevel::kInfo},
                             {"warning", LogLevel::kWarning},
                             {"error", LogLevel::kError}},
                            "the least severe level logged", Field(&Config::log_level)),
          O::Enum<bool>("log_format", "json", {{"json", true}, {"text", false}}, "json (one object per line) or text",
                        Field(&Config::log_json)),
          O::String("tls_cert_file", "", "serve gRPC over TLS with this certificate chain (PEM)",
                    Field(&Config::tls_cert_file), Readable),
          O::String("tls_key_file", "", "private key (PEM) for tls_cert_file", Field(&Config::tls_key_file), Readable),
          O::String("tls_client_ca_file", "", "require client certificates signed by this CA (mTLS)",
                    Field(&Config::tls_client_ca_file), Readable),
          O::Duration("tls_reload_interval_seconds", "60", 1, 3600, kSeconds,
                      "how often the TLS files are reread; new connections get a renewed certificate or client CA "
                      "without a restart",
                      Field(&Config::tls_reload_interval)),
      });
}

// The rules across options, after the table has put every value in its place.
absl::Status ApplyRules(const ParsedOptions& parsed, const EnvLookup& getenv, Config& config) {
  if (parsed.Find("sdkappid") == nullptr || parsed.Find("sdkappid")->text.empty()) {
    return parsed.Error("sdkappid is required (flag --sdkappid, PORTRAIT_BRIDGE_SDKAPPID or the config file)");
  }
  config.budget.sdkappid = config.upstream.sdkappid;
  config.shared_cache.sdkappid = config.upstream.sdkappid;

  // The key from the environment, unless a flag names the file; else from secret_key_file.
  const RawValue* key_file = parsed.Find("secret_key_file");
  const bool key_file_flag = key_file != nullptr && absl::StartsWith(key_file->source, "flag");
  if (const char* env_key = getenv("PORTRAIT_BRIDGE_SECRET_KEY");
      env_key != nullptr && *env_key != '\0' && !key_file_flag) {
    config.secret_key = env_key;
  } else if (!config.secret_key_file.empty()) {
    absl::StatusOr<std::string> key = ReadSecretFile(config.secret_key_file);
    if (!key.ok()) return parsed.Invalid("secret_key_file", key.status().message());
    config.secret_key = *std::move(key);
  }
  if (config.secret_key.empty()) {
    return parsed.Error("the secret key is missing or empty: set secret_key_file or PORTRAIT_BRIDGE_SECRET_KEY");
  }

  if (config.upstream.base_url.empty()) config.upstream.base_url = *RegionBaseUrl(config.region);  // An Enum.

  config.coalescer.max_accounts_per_call = static_cast<size_t>(config.stream_limits.max_accounts_per_call);

  const RawValue* burst = parsed.Find("upstream_burst");
  if (burst == nullptr || burst->text.empty()) {
    config.budget.burst = RateLimiter::DefaultBurst(config.budget.calls_per_second);
  }
  const RawValue* fallback = parsed.Find("budget_fallback_calls_per_second");
  if (fallback == nullptr || fallback->text.empty()) {
    config.budget.fallback_calls_per_second = config.budget.calls_per_second / 10;
  } else if (config.budget.fallback_calls_per_second > config.budget.calls_per_second) {
    return parsed.Invalid("budget_fallback_calls_per_second",
                          "must be a number above 0 and at most upstream_calls_per_second");
  }

  if (config.upstream.retry_max_backoff < config.upstream.retry_initial_backoff) {
    return parsed.Invalid("retry_max_backoff_ms", "must be at least retry_initial_backoff_ms");
  }

  config.shared_cache.ttl = config.cache.ttl;
  config.shared_cache.negative_ttl = config.cache.negative_ttl;
  if (!config.cache_redis_url.empty() && config.cache.ttl <= absl::ZeroDuration()) {
    return parsed.Invalid("cache_redis_url", "needs cache_ttl_ms above 0");
  }
  config.cache_redis.timeout = config.budget_redis.timeout;
  config.budget_redis.reconnect_interval = kBudgetRedisReconnectInterval;

  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    return parsed.Error("tls_cert_file and tls_key_file must be set together");
  }
  if (!config.tls_client_ca_file.empty() && config.tls_cert_file.empty()) {
    return parsed.Error("tls_client_ca_file (mTLS) needs tls_cert_file and tls_key_file");
  }
  return absl::OkStatus();
}

}  // namespace

const OptionTable<Config>& ConfigTable() {
  static const OptionTable<Config>* table = MakeTable();
  return *table;
}

std::string ConfigHelp() {
  return absl::StrCat(
      "Usage: portrait-bridge [--config=FILE] [--KEY=VALUE ...]\n\n"
      "Serves portraitbridge.profile.v1.ProfileService over gRPC in front of Tencent Cloud Chat's\n"
      "v4/profile/portrait_get. Each KEY may also come from the environment as PORTRAIT_BRIDGE_<KEY>\n"
      "(upper case, shown after each option) or from the JSON config file; precedence: flag > environment >\n"
      "file > default. Bounds are in [brackets].\n"
      "The secret key comes from secret_key_file or PORTRAIT_BRIDGE_SECRET_KEY, never from a flag.\n\n",
      ConfigTable().Help());
}

absl::StatusOr<Config> LoadConfig(const std::vector<std::string>& args, const EnvLookup& getenv) {
  for (const std::string& arg : args) {
    if (arg == "--secret_key" || absl::StartsWith(arg, "--secret_key=")) {
      return absl::InvalidArgumentError(
          "--secret_key is not accepted (it would show in the process list): use --secret_key_file or "
          "PORTRAIT_BRIDGE_SECRET_KEY");
    }
  }
  Config config;
  absl::StatusOr<ParsedOptions> parsed = ConfigTable().Parse(args, getenv, config);
  if (!parsed.ok()) return parsed.status();
  if (absl::Status status = ApplyRules(*parsed, getenv, config); !status.ok()) return status;
  return config;
}

std::string Config::Describe() const {
  return absl::StrCat(ConfigTable().Describe(*this), " secret_key=", secret_key.empty() ? "missing" : "set");
}

}  // namespace portrait_bridge

#ifndef PORTRAIT_BRIDGE_CORE_CONFIG_H_
#define PORTRAIT_BRIDGE_CORE_CONFIG_H_

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace portrait_bridge {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

/// The bridge's configuration, validated once at start and immutable afterwards.
struct Config {
  std::string listen_address;
  std::string port_file;
  std::string metrics_address;
  std::string metrics_port_file;
  uint64_t sdkappid = 0;
  std::string admin_identifier;
  std::string secret_key;  ///< Never logged or printed; see Describe().
  std::string region;
  std::string base_url;  ///< Resolved: the region's URL unless base_url was set.
  std::string ca_bundle;
  absl::Duration usersig_validity;
  absl::Duration attempt_timeout;
  int64_t max_accounts_per_stream = 0;
  int64_t max_accounts_per_batch_get = 0;
  int64_t max_inflight_accounts_per_stream = 0;
  int64_t unread_responses_bytes = 0;      ///< Server-wide bound on responses not yet read by their callers.
  int64_t max_accepted_accounts = 0;       ///< Server-wide bound on accepted, unanswered distinct accounts.
  int64_t grpc_memory_quota_bytes = 0;     ///< gRPC's resource quota.
  int64_t max_streams_per_connection = 0;  ///< HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS.
  int64_t max_accounts_per_call = 0;
  std::set<std::string> bytes_tags;
  double upstream_calls_per_second = 0;
  int64_t upstream_burst = 0;
  absl::Duration coalesce_wait;      ///< How long an ask may wait for others to fill an upstream call.
  int64_t max_pending_accounts = 0;  ///< Accounts waiting for a call or for budget, all streams together.
  int64_t retry_max_attempts = 0;    ///< Attempts per upstream call, the first included.
  absl::Duration retry_initial_backoff;
  absl::Duration retry_max_backoff;
  double retry_budget_ratio = 0;  ///< Retries allowed per first attempt, over time.
  absl::Duration cache_ttl;       ///< Zero: no cache.
  int64_t cache_max_entries = 0;
  absl::Duration cache_negative_ttl;
  /// Empty: this bridge keeps its own budget of upstream_calls_per_second. Set: every bridge of the SDKAppID shares
  /// one budget of upstream_calls_per_second in this Redis.
  std::string budget_redis_url;
  std::string budget_redis_password;  ///< Read from budget_redis_password_file. Never logged.
  /// The local budget while the shared one cannot be reached.
  double budget_fallback_calls_per_second = 0;
  absl::Duration redis_timeout;      ///< Per Redis operation.
  std::string cache_redis_url;       ///< Empty: no shared profile cache.
  std::string cache_redis_password;  ///< Read from cache_redis_password_file. Never logged.
  absl::Duration shutdown_grace;
  absl::Duration shutdown_drain_delay;         ///< NOT_SERVING, still accepting, before the server stops accepting.
  absl::Duration keepalive_min_ping_interval;  ///< The shortest client ping interval accepted.
  absl::Duration max_connection_age;           ///< Zero: connections are never aged out.
  absl::Duration max_connection_age_grace;
  LogLevel log_level = LogLevel::kInfo;
  bool log_json = true;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  absl::Duration tls_reload_interval;  ///< How often the TLS files are reread.

  /// The effective settings as "key=value" lines, the secret key shown only as set or not.
  std::string Describe() const;
};

/// One documented setting, for --help and the README.
struct OptionDoc {
  std::string name;
  std::string default_value;
  std::string description;
};

/// Every setting, in documentation order.
const std::vector<OptionDoc>& ConfigOptions();

/// Reads `args` (flags without the program name: "--key=value" or "--key value", and "--config=FILE"), the
/// environment through `getenv` (PORTRAIT_BRIDGE_<KEY>, and PORTRAIT_BRIDGE_CONFIG for the file) and the JSON
/// config file. Precedence: flag > environment > file > default. Any unknown key or impossible value is an
/// INVALID_ARGUMENT error naming the key and its source.
absl::StatusOr<Config> LoadConfig(const std::vector<std::string>& args,
                                  const std::function<const char*(const char*)>& getenv);

/// The --help text: usage and every option with its default.
std::string ConfigHelp();

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_CONFIG_H_

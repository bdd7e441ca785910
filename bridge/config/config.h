#ifndef PORTRAIT_BRIDGE_CONFIG_CONFIG_H_
#define PORTRAIT_BRIDGE_CONFIG_CONFIG_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bridge/core/log.h"
#include "bridge/core/options.h"
#include "bridge/service/caching_fetcher.h"
#include "bridge/service/coalescer.h"
#include "bridge/service/profile_requests.h"
#include "bridge/service/shared_budget.h"
#include "bridge/service/shared_cache_fetcher.h"
#include "bridge/service/upstream_client.h"
#include "bridge/transport/curl_transport.h"
#include "bridge/transport/redis_client.h"

namespace portrait_bridge {

/// The bridge's configuration, validated once at start and immutable afterwards. Each component's options are
/// read straight into its own struct (ConfigTable() says which option goes where); main.cc's own settings (the
/// server: addresses, gRPC's limits, shutdown, TLS) are the plain fields.
struct Config {
  std::string listen_address;
  std::string port_file;
  std::string metrics_address;
  std::string metrics_port_file;
  int64_t grpc_memory_quota_bytes = 0;     ///< gRPC's resource quota.
  int64_t max_streams_per_connection = 0;  ///< HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS.
  absl::Duration shutdown_grace;
  absl::Duration shutdown_drain_delay;         ///< NOT_SERVING, still accepting, before the server stops accepting.
  absl::Duration keepalive_min_ping_interval;  ///< The shortest client ping interval accepted.
  absl::Duration max_connection_age;           ///< Zero: connections are never aged out.
  absl::Duration max_connection_age_grace;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  absl::Duration tls_reload_interval;  ///< How often the TLS files are reread.
  LogLevel log_level = LogLevel::kInfo;
  bool log_json = true;

  std::string secret_key_file;
  std::string secret_key;  ///< Never logged or printed; see Describe().
  absl::Duration usersig_validity;
  std::string region;
  std::set<std::string> bytes_tags;  ///< Also in upstream.tag_types.

  CurlTransportOptions transport;
  /// base_url (resolved: the region's URL unless base_url was set), sdkappid, identifier, timeouts, retries.
  UpstreamOptions upstream;
  StreamLimits stream_limits;
  ServerLimits server_limits;
  /// The coalescer's wait and bounds; main.cc adds the budget's wait functions.
  CoalescerOptions coalescer;
  CachingFetcherOptions cache;  ///< ttl zero: no cache.
  SharedCacheFetcherOptions shared_cache;
  /// The budget: calls_per_second and burst are this bridge's own (LocalBudget), or the whole app's when
  /// budget_redis_url is set (then fallback_calls_per_second applies while Redis cannot be reached).
  SharedBudgetOptions budget;
  std::string budget_redis_url;  ///< Empty: this bridge keeps its own budget.
  RedisOptions budget_redis;     ///< Its address, password (never logged) and timeout.
  std::string cache_redis_url;   ///< Empty: no shared profile cache.
  RedisOptions cache_redis;

  /// The effective settings as "key=value" words, secrets shown only as set or unset.
  std::string Describe() const;
};

/// Every option of the bridge, in documentation order: parsing, --help, Describe, the README and schema tests.
const OptionTable<Config>& ConfigTable();

/// Reads `args` (flags without the program name: "--key=value" or "--key value", and "--config=FILE"), the
/// environment through `getenv` (PORTRAIT_BRIDGE_<KEY>, and PORTRAIT_BRIDGE_CONFIG for the file) and the JSON
/// config file. Precedence: flag > environment > file > default. Any unknown key or impossible value is an
/// INVALID_ARGUMENT error naming the key and its source.
absl::StatusOr<Config> LoadConfig(const std::vector<std::string>& args, const EnvLookup& getenv);

/// The --help text: usage and every option with its default, bounds and environment variable.
std::string ConfigHelp();

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CONFIG_CONFIG_H_

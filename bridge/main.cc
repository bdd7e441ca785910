// portrait-bridge: wires configuration, the curl transport, the upstream client and the gRPC server, then waits
// for SIGTERM/SIGINT and drains.

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <prometheus/exposer.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bridge/core/admin_usersig.h"
#include "bridge/core/budget.h"
#include "bridge/core/clock.h"
#include "bridge/core/config.h"
#include "bridge/core/log.h"
#include "bridge/reflection/descriptor_index.h"
#include "bridge/reflection/reflection_service.h"
#include "bridge/reflection/served_descriptor_set.h"
#include "bridge/service/caching_fetcher.h"
#include "bridge/service/coalescer.h"
#include "bridge/service/metrics.h"
#include "bridge/service/profile_service.h"
#include "bridge/service/readiness.h"
#include "bridge/service/shared_budget.h"
#include "bridge/service/shared_cache_fetcher.h"
#include "bridge/service/timer_queue.h"
#include "bridge/service/upstream_client.h"
#include "bridge/service/upstream_health.h"
#include "bridge/transport/curl_transport.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace portrait_bridge {
namespace {

// The health service name that readiness probes watch: NOT_SERVING while draining, and while upstream says the
// bridge is misconfigured. The overall service ("") stays SERVING until the process exits, so liveness probes do
// not kill a draining or misconfigured pod (a restart would not fix its configuration).
constexpr char kReadinessService[] = "portraitbridge.profile.v1.ProfileService";

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const Config& config) {
  if (config.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(config.tls_client_ca_file.empty()
                                                ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                                : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_key_cert_pairs.push_back({ReadFileOrEmpty(config.tls_key_file), ReadFileOrEmpty(config.tls_cert_file)});
  if (!config.tls_client_ca_file.empty()) options.pem_root_certs = ReadFileOrEmpty(config.tls_client_ca_file);
  return grpc::SslServerCredentials(options);
}

bool WritePortFile(const std::string& path, int port) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << port << "\n";
    if (!out) return false;
  }
  return std::rename(temporary.c_str(), path.c_str()) == 0;
}

// The upstream call budget: this bridge's own, or one shared by every bridge of the SDKAppID through Redis.
std::unique_ptr<Budget> MakeBudget(const Config& config, const Clock& clock, BudgetObserver& observer) {
  observer.OnBudgetShared(false);
  if (config.budget_redis_url.empty()) {
    return std::make_unique<LocalBudget>(config.upstream_calls_per_second, config.upstream_burst, clock);
  }
  RedisOptions redis;
  redis.address = *ParseRedisUrl(config.budget_redis_url);  // Validated with the configuration.
  redis.password = config.budget_redis_password;
  redis.timeout = config.redis_timeout;
  // A timeout drops the connection; every ask meanwhile goes to the fallback, so reconnect soon.
  redis.reconnect_interval = absl::Milliseconds(100);
  SharedBudgetOptions options;
  options.sdkappid = config.sdkappid;
  options.calls_per_second = config.upstream_calls_per_second;
  options.burst = config.upstream_burst;
  options.fallback_calls_per_second = config.budget_fallback_calls_per_second;
  return std::make_unique<SharedBudget>(std::move(redis), clock, options, &observer);
}

int Run(int argc, char** argv) {
  // Debian's Abseil is built without NDEBUG, so absl::Mutex defaults to deadlock detection: every mutex that is
  // ever locked (the bridge's, and gRPC's own, several per stream) gets a node in a global lock graph, about
  // 0.5 KiB each, and every Lock() updates that graph under one global lock. A production binary wants neither.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::fputs(ConfigHelp().c_str(), stdout);
      return 0;
    }
  }
  absl::StatusOr<Config> loaded = LoadConfig(args, [](const char* name) { return std::getenv(name); });
  if (!loaded.ok()) {
    std::fprintf(stderr, "portrait-bridge: %s\n", std::string(loaded.status().message()).c_str());
    return 2;
  }
  const Config config = *std::move(loaded);
  ConfigureLog(config.log_level, config.log_json);

  // Signals are taken by sigwait below; every thread started from here on inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  BridgeMetrics metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  if (!config.metrics_address.empty()) {
    try {
      exposer = std::make_unique<prometheus::Exposer>(config.metrics_address, /*num_threads=*/1);
    } catch (const std::exception& e) {
      Log(LogLevel::kError, "cannot serve metrics", {{"metrics_address", config.metrics_address}, {"error", e.what()}});
      return 1;
    }
    exposer->RegisterCollectable(metrics.registry());
    const std::vector<int> ports = exposer->GetListeningPorts();
    if (!config.metrics_port_file.empty() && (ports.empty() || !WritePortFile(config.metrics_port_file, ports[0]))) {
      Log(LogLevel::kError, "cannot write metrics_port_file", {{"metrics_port_file", config.metrics_port_file}});
      return 1;
    }
  }

  SystemClock clock;
  CurlTransport transport({.ca_bundle = config.ca_bundle});
  TimerQueue timers(clock);
  AdminUserSig usersig(config.secret_key, config.admin_identifier, config.sdkappid, config.usersig_validity, clock);
  std::unique_ptr<Budget> budget = MakeBudget(config, clock, metrics);
  UpstreamOptions upstream_options;
  upstream_options.base_url = config.base_url;
  upstream_options.sdkappid = config.sdkappid;
  upstream_options.identifier = config.admin_identifier;
  upstream_options.attempt_timeout = config.attempt_timeout;
  upstream_options.tag_types = TagTypes(config.bytes_tags);
  upstream_options.retry_max_attempts = static_cast<int>(config.retry_max_attempts);
  upstream_options.retry_initial_backoff = config.retry_initial_backoff;
  upstream_options.retry_max_backoff = config.retry_max_backoff;
  upstream_options.retry_budget_ratio = config.retry_budget_ratio;
  // Upstream failures in the log; a misconfiguration (wrong key, region, admin...) also takes readiness away until
  // upstream answers a call again, which a probe call (the admin's own profile) checks every 30 s meanwhile.
  Readiness readiness(kReadinessService);
  UpstreamHealth health(timers, clock, UpstreamHealthOptions{}, [&](absl::string_view reason) {
    metrics.SetMisconfigured(reason);
    readiness.SetMisconfigured(!reason.empty());
  });
  UpstreamClient upstream(transport, usersig, *budget, timers, clock, std::move(upstream_options), &metrics, &health);
  health.SetProbe([&upstream, &clock, &config] {
    upstream.Fetch({config.admin_identifier}, {"Tag_Profile_IM_Nick"}, clock.Now() + config.attempt_timeout,
                   [](CallOutcome) {});
  });

  StreamLimits limits;
  limits.max_accounts_per_stream = config.max_accounts_per_stream;
  limits.max_accounts_per_batch_get = config.max_accounts_per_batch_get;
  limits.max_inflight_accounts = config.max_inflight_accounts_per_stream;
  limits.max_accounts_per_call = config.max_accounts_per_call;
  // Asks flow: the streams' reactors -> [cache, when cache_ttl_ms > 0] -> [shared cache in Redis, when
  // cache_redis_url is set] -> coalescer -> one upstream call per batch.
  DirectFetcher direct(upstream);
  CoalescerOptions coalescer_options;
  coalescer_options.wait = config.coalesce_wait;
  coalescer_options.max_accounts_per_call = static_cast<size_t>(config.max_accounts_per_call);
  coalescer_options.max_pending_accounts = config.max_pending_accounts;
  coalescer_options.budget_wait = [&budget = *budget] { return budget.EstimatedWait(); };
  coalescer_options.spare_wait = [&budget = *budget] { return budget.SpareWait(); };
  Coalescer coalescer(direct, timers, clock, std::move(coalescer_options));
  // Declared after the coalescer: the Redis client's last replies (failed at its destruction) still ask it.
  std::unique_ptr<RedisClient> cache_redis;
  std::unique_ptr<RedisKeyValueStore> cache_store;
  std::unique_ptr<SharedCacheFetcher> shared_cache;
  if (!config.cache_redis_url.empty()) {
    RedisOptions redis;
    redis.address = *ParseRedisUrl(config.cache_redis_url);  // Validated with the configuration.
    redis.password = config.cache_redis_password;
    redis.timeout = config.redis_timeout;
    cache_redis = std::make_unique<RedisClient>(std::move(redis));
    cache_store = std::make_unique<RedisKeyValueStore>(*cache_redis, &metrics);
    shared_cache = std::make_unique<SharedCacheFetcher>(
        coalescer, *cache_store,
        SharedCacheFetcherOptions{config.sdkappid, config.cache_ttl, config.cache_negative_ttl}, &metrics);
  }
  ProfileFetcher& behind_cache = shared_cache != nullptr ? static_cast<ProfileFetcher&>(*shared_cache) : coalescer;
  std::unique_ptr<CachingFetcher> cache;
  if (config.cache_ttl > absl::ZeroDuration()) {
    cache = std::make_unique<CachingFetcher>(
        behind_cache, clock,
        CachingFetcherOptions{config.cache_ttl, config.cache_max_entries, config.cache_negative_ttl});
  }
  ProfileFetcher& fetcher = cache != nullptr ? static_cast<ProfileFetcher&>(*cache) : coalescer;
  ServerLimits server_limits;
  server_limits.max_unread_bytes = config.unread_responses_bytes;
  server_limits.max_accepted_accounts = config.max_accepted_accounts;
  ProfileService service(fetcher, limits, server_limits, &metrics);

  // Reflection from the descriptors compiled in with their comments (bridge/reflection/), so that grpcurl
  // describe and buf curl show the schema's documentation; gRPC's own reflection plugin would serve them bare.
  absl::StatusOr<std::unique_ptr<DescriptorIndex>> descriptors = DescriptorIndex::Create(
      ServedDescriptorSet(),
      {portraitbridge::profile::v1::ProfileService::service_full_name(), grpc::health::v1::Health::service_full_name(),
       grpc::reflection::v1::ServerReflection::service_full_name(),
       grpc::reflection::v1alpha::ServerReflection::service_full_name()});
  if (!descriptors.ok()) {  // A build defect (the set is made at build time): no test would pass.
    Log(LogLevel::kError, "cannot serve reflection", {{"error", std::string(descriptors.status().message())}});
    return 1;
  }
  ReflectionServiceV1 reflection(**descriptors);
  ReflectionServiceV1Alpha reflection_v1alpha(**descriptors);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen_address, ServerCredentials(config), &port);
  builder.RegisterService(&service);
  builder.RegisterService(&reflection);
  builder.RegisterService(&reflection_v1alpha);
  // The bridge never compresses what it sends (no default compression algorithm, none set per call), so the
  // send-side compression filter would only pass messages through; leaving it out of the server's filter stack
  // saves its per-call state, about 0.2 KiB per open stream (scenario 4). Compressed requests are still accepted:
  // the decompression filter is a separate one and stays (grpc.per_message_decompression).
  builder.AddChannelArgument(GRPC_ARG_ENABLE_PER_MESSAGE_COMPRESSION, 0);
  // Memory: gRPC's buffers within their quota, and a bounded number of streams per connection (a client queues
  // the rest); the service bounds the responses it holds for slow readers itself (unread_responses_mib).
  grpc::ResourceQuota quota("portrait-bridge");
  quota.Resize(static_cast<size_t>(config.grpc_memory_quota_bytes));
  builder.SetResourceQuota(quota);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, static_cast<int>(config.max_streams_per_connection));
  // Clients behind meshes keep idle streams alive with pings: accept them at keepalive_min_ping_interval_ms, calls
  // or not (gRPC's default, 5 minutes, answers a 10 s ping with GOAWAY too_many_pings).
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(config.keepalive_min_ping_interval)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Aged connections get GOAWAY, so that long-lived clients spread over new pods.
  if (config.max_connection_age > absl::ZeroDuration()) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                               static_cast<int>(absl::ToInt64Milliseconds(config.max_connection_age)));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               static_cast<int>(absl::ToInt64Milliseconds(config.max_connection_age_grace)));
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    Log(LogLevel::kError, "cannot listen", {{"listen_address", config.listen_address}});
    return 1;
  }
  readiness.Attach(server->GetHealthCheckService());
  if (!config.port_file.empty() && !WritePortFile(config.port_file, port)) {
    Log(LogLevel::kError, "cannot write port_file", {{"port_file", config.port_file}});
    return 1;
  }
  Log(LogLevel::kInfo, "portrait-bridge serving", {{"port", port}, {"config", config.Describe()}});

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  Log(LogLevel::kInfo, "draining",
      {{"signal", signal_number},
       {"drain_delay_ms", absl::ToInt64Milliseconds(config.shutdown_drain_delay)},
       {"grace_seconds", absl::ToInt64Seconds(config.shutdown_grace)}});
  // Readiness first, while calls are still accepted: health checks see NOT_SERVING (not a refused connection) and
  // the pod leaves the load balancers before the server stops accepting.
  readiness.SetDraining();
  absl::SleepFor(config.shutdown_drain_delay);
  server->Shutdown(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(absl::ToInt64Milliseconds(config.shutdown_grace)));
  server->Wait();
  health.SetProbe(nullptr);  // The probe calls `upstream`, which goes first.
  Log(LogLevel::kInfo, "stopped");
  return 0;
}

}  // namespace
}  // namespace portrait_bridge

int main(int argc, char** argv) { return portrait_bridge::Run(argc, argv); }

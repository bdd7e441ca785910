// portrait-bridge: wires configuration, the curl transport, the upstream client and the gRPC server, then waits
// for SIGTERM/SIGINT and drains.

#include <google/protobuf/stubs/common.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <malloc.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bridge/config/config.h"
#include "bridge/core/admin_usersig.h"
#include "bridge/core/budget.h"
#include "bridge/core/clock.h"
#include "bridge/core/log.h"
#include "bridge/core/tls_files.h"
#include "bridge/reflection/descriptor_index.h"
#include "bridge/reflection/reflection_service.h"
#include "bridge/reflection/served_descriptor_set.h"
#include "bridge/service/caching_fetcher.h"
#include "bridge/service/coalescer.h"
#include "bridge/service/grpc_server_metrics.h"
#include "bridge/service/metrics.h"
#include "bridge/service/metrics_endpoint.h"
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

// Free memory at the top of a malloc arena beyond this much goes back to the kernel (see Run).
constexpr int kMallocTrimThresholdBytes = 256 << 20;

// The gRPC port's credentials. With TLS, gRPC's file-watcher provider rereads the files every
// tls_reload_interval_seconds and serves each new connection with what it last read: a renewed certificate, key or
// client CA (a Kubernetes Secret updated in place) takes effect without a restart, and connections already open keep
// the certificate they were made with. The provider only logs files it cannot use, so they are checked here first:
// the bridge does not start without a usable certificate.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const Config& config) {
  if (config.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  if (absl::Status files = CheckServerTlsFiles(config.tls_cert_file, config.tls_key_file, config.tls_client_ca_file);
      !files.ok()) {
    return files;
  }
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      config.tls_key_file, config.tls_cert_file, config.tls_client_ca_file,
      static_cast<unsigned int>(absl::ToInt64Seconds(config.tls_reload_interval)));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!config.tls_client_ca_file.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
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
    return std::make_unique<LocalBudget>(config.budget.calls_per_second, config.budget.burst, clock);
  }
  return std::make_unique<SharedBudget>(config.budget_redis, clock, config.budget, &observer);
}

int Run(int argc, char** argv) {
  // Debian's Abseil is built without NDEBUG, so absl::Mutex defaults to deadlock detection: every mutex that is
  // ever locked (the bridge's, and gRPC's own, several per stream) gets a node in a global lock graph, about
  // 0.5 KiB each, and every Lock() updates that graph under one global lock. A production binary wants neither.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // glibc hands a thread arena's free top back to the kernel (madvise) whenever it passes 128 KiB, and the next
  // burst of answers takes the pages back through page faults: with the threshold at 256 MiB the memory stays
  // with the process for reuse. Measured (bench scenario 3, same run): 7 to 15% more cached profiles per bridge
  // core, and scenario 2 about 5% less CPU per profile; the idle stream's cost is unchanged. The price: RSS stays
  // at its high-water mark after a burst instead of shrinking back.
  mallopt(M_TRIM_THRESHOLD, kMallocTrimThresholdBytes);
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

  BridgeMetrics metrics(PORTRAIT_BRIDGE_VERSION, grpc::Version(),
                        google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION));
  std::unique_ptr<MetricsEndpoint> metrics_endpoint;
  if (!config.metrics_address.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsEndpoint>> started =
        MetricsEndpoint::Start(config.metrics_address, metrics.registry(), [&metrics] { metrics.RefreshSampled(); });
    if (!started.ok()) {
      Log(LogLevel::kError, "cannot serve metrics",
          {{"metrics_address", config.metrics_address}, {"error", std::string(started.status().message())}});
      return 1;
    }
    metrics_endpoint = *std::move(started);
    if (!config.metrics_port_file.empty() && !WritePortFile(config.metrics_port_file, metrics_endpoint->port())) {
      Log(LogLevel::kError, "cannot write metrics_port_file", {{"metrics_port_file", config.metrics_port_file}});
      return 1;
    }
  }

  SystemClock clock;
  CurlTransportOptions transport_options = config.transport;
  transport_options.on_start_lag = metrics.ThreadLagRecorder("curl-loop");
  CurlTransport transport(transport_options);
  TimerQueue timers(clock, metrics.ThreadLagRecorder("timer-queue"));
  AdminUserSig usersig(config.secret_key, config.upstream.identifier, config.upstream.sdkappid, config.usersig_validity,
                       clock);
  std::unique_ptr<Budget> budget = MakeBudget(config, clock, metrics);
  // Upstream failures in the log; a misconfiguration (wrong key, region, admin...) also takes readiness away until
  // upstream answers a call again, which a probe call (the admin's own profile) checks every 30 s meanwhile.
  Readiness readiness(kReadinessService);
  UpstreamHealth health(timers, clock, UpstreamHealthOptions{}, [&](absl::string_view reason) {
    metrics.SetMisconfigured(reason);
    readiness.SetMisconfigured(!reason.empty());
  });
  UpstreamClient upstream(transport, usersig, *budget, timers, clock, config.upstream, &metrics, &health);
  health.SetProbe([&upstream, &clock, &config] {
    upstream.Fetch({config.upstream.identifier}, {"Tag_Profile_IM_Nick"}, clock.Now() + config.upstream.attempt_timeout,
                   [](CallOutcome) {});
  });
  // Declared after `upstream`, so the probe stops before `upstream` goes, on every return.
  absl::Cleanup stop_probing = [&health] { health.SetProbe(nullptr); };

  // Asks flow: the streams' reactors -> [cache, when cache_ttl_ms > 0] -> [shared cache in Redis, when
  // cache_redis_url is set] -> coalescer -> one upstream call per batch.
  DirectFetcher direct(upstream);
  CoalescerOptions coalescer_options = config.coalescer;
  coalescer_options.budget_wait = [&budget = *budget] { return budget.EstimatedWait(); };
  coalescer_options.spare_wait = [&budget = *budget] { return budget.SpareWait(); };
  // Asks slower than half the budget's calls go out without the coalesce wait: one call each fits the budget.
  coalescer_options.sparse_asks_per_second = config.budget.calls_per_second / 2;
  coalescer_options.observer = &metrics;
  Coalescer coalescer(direct, timers, clock, std::move(coalescer_options));
  // Declared after the coalescer: the Redis client's last replies (failed at its destruction) still ask it.
  std::unique_ptr<RedisClient> cache_redis;
  std::unique_ptr<RedisKeyValueStore> cache_store;
  std::unique_ptr<SharedCacheFetcher> shared_cache;
  if (!config.cache_redis_url.empty()) {
    cache_redis = std::make_unique<RedisClient>(config.cache_redis);
    cache_store = std::make_unique<RedisKeyValueStore>(*cache_redis, &metrics);
    shared_cache = std::make_unique<SharedCacheFetcher>(coalescer, *cache_store, config.shared_cache, &metrics);
  }
  ProfileFetcher& behind_cache = shared_cache != nullptr ? static_cast<ProfileFetcher&>(*shared_cache) : coalescer;
  std::unique_ptr<CachingFetcher> cache;
  if (config.cache.ttl > absl::ZeroDuration()) {
    cache = std::make_unique<CachingFetcher>(behind_cache, clock, config.cache);
  }
  ProfileFetcher& fetcher = cache != nullptr ? static_cast<ProfileFetcher&>(*cache) : coalescer;
  // The services served, for the grpc_server_* series and for reflection.
  const std::vector<std::string> served_services = {portraitbridge::profile::v1::ProfileService::service_full_name(),
                                                    grpc::health::v1::Health::service_full_name(),
                                                    grpc::reflection::v1::ServerReflection::service_full_name(),
                                                    grpc::reflection::v1alpha::ServerReflection::service_full_name()};
  GrpcServerMetrics grpc_metrics(*metrics.registry(), served_services);
  ProfileService service(fetcher, config.stream_limits, config.server_limits, &metrics, &grpc_metrics);
  metrics.SetSampledSources(
      {[&budget = *budget] { return budget.EffectiveCallsPerSecond(); },
       [&coalescer] { return coalescer.PendingAccounts(); },
       cache == nullptr ? std::function<ProfileCache::Stats()>() : [&cache = *cache] { return cache.cache_stats(); }});
  // Declared after what they read, so scrapes stop reading them before those are destroyed.
  absl::Cleanup stop_sampling = [&metrics] { metrics.SetSampledSources({}); };

  // Reflection from the descriptors compiled in with their comments (bridge/reflection/), so that grpcurl
  // describe and buf curl show the schema's documentation; gRPC's own reflection plugin would serve them bare.
  absl::StatusOr<std::unique_ptr<DescriptorIndex>> descriptors =
      DescriptorIndex::Create(ServedDescriptorSet(), served_services);
  if (!descriptors.ok()) {  // A build defect (the set is made at build time): no test would pass.
    Log(LogLevel::kError, "cannot serve reflection", {{"error", std::string(descriptors.status().message())}});
    return 1;
  }
  ReflectionServiceV1 reflection(**descriptors);
  ReflectionServiceV1Alpha reflection_v1alpha(**descriptors);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = ServerCredentials(config);
  if (!credentials.ok()) {
    Log(LogLevel::kError, "cannot serve TLS", {{"error", std::string(credentials.status().message())}});
    return 2;
  }
  builder.AddListeningPort(config.listen_address, *credentials, &port);
  builder.RegisterService(&service);
  builder.RegisterService(&reflection);
  builder.RegisterService(&reflection_v1alpha);
  // Health and reflection are counted by an interceptor; the ProfileService counts its own calls.
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(grpc_metrics.CreateInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
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
  Log(LogLevel::kInfo, "stopped");
  return 0;
}

}  // namespace
}  // namespace portrait_bridge

int main(int argc, char** argv) { return portrait_bridge::Run(argc, argv); }

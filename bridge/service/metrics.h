#ifndef PORTRAIT_BRIDGE_SERVICE_METRICS_H_
#define PORTRAIT_BRIDGE_SERVICE_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "bridge/core/profile_cache.h"
#include "bridge/service/coalescer.h"
#include "bridge/service/grpc_server_metrics.h"
#include "bridge/service/profile_requests.h"
#include "bridge/service/profile_service.h"
#include "bridge/service/shared_cache_fetcher.h"
#include "bridge/service/upstream_client.h"

namespace portrait_bridge {

/// The bridge's own Prometheus series (portrait_bridge_*; the standard grpc_server_* ones are GrpcServerMetrics'),
/// fed by the service, the coalescer, the upstream client, the budget and the shared cache, plus state sampled at
/// each scrape (RefreshSampled). Labels never carry accounts, request ids, keys or UserSigs, and every label value
/// comes from a small fixed set. Thread-safe; the observer hooks are non-blocking (prometheus-cpp metrics are
/// atomic).
class BridgeMetrics final : public UpstreamObserver,
                            public StreamObserver,
                            public BudgetObserver,
                            public SharedCacheObserver,
                            public CoalescerObserver {
 public:
  /// State read at each scrape rather than hooked on a hot path; each may be empty (that part is not running).
  struct SampledSources {
    std::function<double()> budget_calls_per_second;   ///< Budget::EffectiveCallsPerSecond.
    std::function<int64_t()> pending_accounts;         ///< Coalescer::PendingAccounts.
    std::function<ProfileCache::Stats()> local_cache;  ///< CachingFetcher::cache_stats.
  };

  /// How many outcomes label portrait_bridge_upstream_call_duration_seconds (ok, tencent_error, http_error,
  /// transport_error, malformed_body, cancelled).
  static constexpr size_t kUpstreamOutcomeCount = 6;

  /// `version`, `grpc_version` and `protobuf_version` label portrait_bridge_build_info.
  BridgeMetrics(const std::string& version = "", const std::string& grpc_version = "",
                const std::string& protobuf_version = "");

  /// What the /metrics endpoint serves.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  /// Sets what RefreshSampled reads (once the parts exist; scrapes before that sample nothing).
  void SetSampledSources(SampledSources sources);
  /// Brings the sampled series up to date; the metrics endpoint calls it before each scrape.
  void RefreshSampled();

  void OnAttemptStarted() override;
  void OnRefusedBeforeSend() override;
  void OnAttempt(const std::string& code, absl::Duration latency) override;
  void OnBudgetWait(absl::Duration wait) override;
  void OnUserSigRenewal() override;
  void OnRetry(const char* reason, absl::Duration backoff) override;
  void OnThrottled() override;
  /// Both the upstream client's and the coalescer's (one per caller failed UPSTREAM_BUDGET_EXHAUSTED).
  void OnBudgetExhausted() override;

  void OnCallSent(int64_t accounts) override;

  void OnBudgetShared(bool shared) override;
  void OnBudgetFallback() override;

  void OnSharedCacheLookup(int64_t hits, int64_t misses) override;
  void OnSharedCacheLookupFailed() override;
  void OnSharedCacheWritesFailed(int64_t entries) override;

  void OnStreamStarted() override;
  void OnAccountsAnswered(grpc::StatusCode code, int64_t count) override;
  void OnInvalidRequest() override;
  void OnUnreadBytes(int64_t delta) override;
  void OnStreamFinished() override;
  void OnLookupAnswered(const char* method, absl::Duration latency) override;

  /// A hook for portrait_bridge_thread_lag_seconds{thread="<thread>"} (timer-queue, curl-loop): how late that thread
  /// started work that was due. The series is made here, once, and exists from then on.
  std::function<void(absl::Duration)> ThreadLagRecorder(const std::string& thread);

  /// portrait_bridge_misconfigured{reason} (from UpstreamHealth): 1 for `reason` (an error-table reason,
  /// MisconfigurationReasons()), 0 for every other; "" sets all to 0.
  void SetMisconfigured(absl::string_view reason);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Histogram>& lookup_seconds_;
  prometheus::Gauge& streams_in_flight_;
  prometheus::Family<prometheus::Counter>& accounts_;
  // Series of the per-lookup events, found once: Family::Add builds a label map and takes the family's lock, which
  // was a tenth of the bridge's own work for a one-account lookup. lookup_histograms_ pairs each of the service's
  // method names (made at start) with its series; accounts_by_code_ is filled as codes are first seen.
  std::vector<std::pair<const char*, prometheus::Histogram*>> lookup_histograms_;
  std::array<std::atomic<prometheus::Counter*>, kGrpcStatusCodes> accounts_by_code_{};
  prometheus::Counter& invalid_requests_;
  prometheus::Gauge& unread_bytes_;
  prometheus::Family<prometheus::Counter>& upstream_calls_;
  prometheus::Family<prometheus::Histogram>& upstream_seconds_;
  // Per upstream attempt, found once as well: the "0" code's counter when first seen, each outcome's histogram.
  std::atomic<prometheus::Counter*> upstream_calls_ok_{nullptr};
  std::array<prometheus::Histogram*, kUpstreamOutcomeCount> upstream_seconds_by_outcome_{};
  prometheus::Gauge& upstream_in_flight_;
  prometheus::Histogram& upstream_call_accounts_;
  prometheus::Counter& usersig_renewals_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Counter& throttled_;
  prometheus::Counter& budget_waits_;
  prometheus::Histogram& budget_wait_seconds_;
  prometheus::Counter& refused_before_send_;
  prometheus::Counter& budget_exhausted_;
  prometheus::Gauge& budget_shared_;
  prometheus::Counter& budget_fallbacks_;
  prometheus::Family<prometheus::Counter>& shared_cache_accounts_;
  prometheus::Family<prometheus::Counter>& shared_cache_errors_;
  prometheus::Gauge& budget_calls_per_second_;
  prometheus::Gauge& pending_accounts_;
  prometheus::Family<prometheus::Counter>& local_cache_accounts_;
  prometheus::Counter& local_cache_evictions_;
  prometheus::Gauge& local_cache_entries_;
  prometheus::Family<prometheus::Histogram>& thread_lag_seconds_;

  absl::Mutex sampled_mutex_;  // Scrapes only; never taken by a hook.
  SampledSources sampled_ ABSL_GUARDED_BY(sampled_mutex_);
  ProfileCache::Stats cache_counted_ ABSL_GUARDED_BY(sampled_mutex_);  // Added to the counters so far.

  prometheus::Family<prometheus::Gauge>& misconfigured_;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_METRICS_H_

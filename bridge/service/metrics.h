#ifndef PORTRAIT_BRIDGE_SERVICE_METRICS_H_
#define PORTRAIT_BRIDGE_SERVICE_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>

#include "bridge/service/profile_service.h"
#include "bridge/service/shared_cache_fetcher.h"
#include "bridge/service/upstream_client.h"

namespace portrait_bridge {

/// The bridge's Prometheus metrics, fed by the service and the upstream client. Labels never carry accounts,
/// keys or UserSigs. Thread-safe and non-blocking (prometheus-cpp metrics are atomic).
class BridgeMetrics final : public UpstreamObserver,
                            public StreamObserver,
                            public BudgetObserver,
                            public SharedCacheObserver {
 public:
  BridgeMetrics();

  /// What the /metrics endpoint serves.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  void OnAttemptStarted() override;
  void OnRefusedBeforeSend() override;
  void OnAttempt(const std::string& code, absl::Duration latency) override;
  void OnBudgetWait(absl::Duration wait) override;
  void OnUserSigRenewal() override;
  void OnRetry(absl::Duration backoff) override;
  void OnThrottled() override;

  void OnBudgetShared(bool shared) override;
  void OnBudgetFallback() override;

  void OnSharedCacheLookup(int64_t hits, int64_t misses) override;
  void OnSharedCacheLookupFailed() override;
  void OnSharedCacheWritesFailed(int64_t entries) override;

  void OnStreamStarted() override;
  void OnAccountsAnswered(grpc::StatusCode code, int64_t count) override;
  void OnInvalidRequest() override;
  void OnUnreadBytes(int64_t delta) override;
  void OnStreamFinished(grpc::StatusCode code, int64_t accounts, int64_t failed_accounts,
                        absl::Duration duration) override;
  void OnBatchGetFinished(grpc::StatusCode code, int64_t accounts, int64_t failed_accounts,
                          absl::Duration duration) override;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& rpcs_;
  prometheus::Family<prometheus::Histogram>& rpc_seconds_family_;
  prometheus::Histogram& rpc_seconds_;
  prometheus::Histogram& batch_get_seconds_;
  prometheus::Gauge& streams_in_flight_;
  prometheus::Family<prometheus::Counter>& accounts_;
  prometheus::Counter& invalid_requests_;
  prometheus::Gauge& unread_bytes_;
  prometheus::Family<prometheus::Counter>& upstream_calls_;
  prometheus::Histogram& upstream_seconds_;
  prometheus::Gauge& upstream_in_flight_;
  prometheus::Counter& usersig_renewals_;
  prometheus::Counter& retries_;
  prometheus::Counter& throttled_;
  prometheus::Counter& budget_waits_;
  prometheus::Histogram& budget_wait_seconds_;
  prometheus::Counter& refused_before_send_;
  prometheus::Gauge& budget_shared_;
  prometheus::Counter& budget_fallbacks_;
  prometheus::Family<prometheus::Counter>& shared_cache_accounts_;
  prometheus::Family<prometheus::Counter>& shared_cache_errors_;

  // Misconfiguration (UpstreamHealth): portrait_bridge_misconfigured{reason}.
 public:
  /// 1 for `reason` (an error-table reason, MisconfigurationReasons()), 0 for every other; "" sets all to 0.
  void SetMisconfigured(absl::string_view reason);

 private:
  static prometheus::Family<prometheus::Gauge>& MisconfiguredFamily(prometheus::Registry& registry);
  prometheus::Family<prometheus::Gauge>& misconfigured_ = MisconfiguredFamily(*registry_);
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_METRICS_H_

#include "bridge/service/metrics.h"

#include <string>

namespace portrait_bridge {
namespace {

const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                                 0.25,  0.5,    1,     2.5,  5,     10};

}  // namespace

BridgeMetrics::BridgeMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      rpcs_(prometheus::BuildCounter()
                .Name("portrait_bridge_rpcs_total")
                .Help("Finished RPCs by method and gRPC status code")
                .Register(*registry_)),
      rpc_seconds_family_(prometheus::BuildHistogram()
                              .Name("portrait_bridge_rpc_duration_seconds")
                              .Help("Duration of RPCs by method (GetProfiles streams, BatchGetProfiles calls)")
                              .Register(*registry_)),
      rpc_seconds_(rpc_seconds_family_.Add({{"method", "GetProfiles"}}, kLatencyBuckets)),
      batch_get_seconds_(rpc_seconds_family_.Add({{"method", "BatchGetProfiles"}}, kLatencyBuckets)),
      streams_in_flight_(prometheus::BuildGauge()
                             .Name("portrait_bridge_streams_in_flight")
                             .Help("Open GetProfiles streams")
                             .Register(*registry_)
                             .Add({})),
      accounts_(prometheus::BuildCounter()
                    .Name("portrait_bridge_accounts_total")
                    .Help("Accounts answered, by the gRPC code of their result")
                    .Register(*registry_)),
      invalid_requests_(prometheus::BuildCounter()
                            .Name("portrait_bridge_invalid_requests_total")
                            .Help("Requests refused as invalid (INVALID_ARGUMENT in-band on a stream, or as the status "
                                  "of a BatchGetProfiles call)")
                            .Register(*registry_)
                            .Add({})),
      unread_bytes_(prometheus::BuildGauge()
                        .Name("portrait_bridge_unread_response_bytes")
                        .Help("Bytes of responses held for callers that have not read them yet (bounded by "
                              "unread_responses_mib)")
                        .Register(*registry_)
                        .Add({})),
      upstream_calls_(prometheus::BuildCounter()
                          .Name("portrait_bridge_upstream_calls_total")
                          .Help("Upstream portrait_get attempts by Tencent ErrorCode, or http_<status>, "
                                "malformed_body, transport_error, cancelled")
                          .Register(*registry_)),
      upstream_seconds_(prometheus::BuildHistogram()
                            .Name("portrait_bridge_upstream_call_duration_seconds")
                            .Help("Duration of upstream portrait_get attempts")
                            .Register(*registry_)
                            .Add({}, kLatencyBuckets)),
      upstream_in_flight_(prometheus::BuildGauge()
                              .Name("portrait_bridge_upstream_calls_in_flight")
                              .Help("Upstream portrait_get attempts in flight")
                              .Register(*registry_)
                              .Add({})),
      usersig_renewals_(prometheus::BuildCounter()
                            .Name("portrait_bridge_usersig_renewals_total")
                            .Help("Admin UserSig renewals after Tencent rejected one (70001, 70052)")
                            .Register(*registry_)
                            .Add({})),
      retries_(prometheus::BuildCounter()
                   .Name("portrait_bridge_upstream_retries_total")
                   .Help("Upstream calls retried after a transient failure (within the retry budget)")
                   .Register(*registry_)
                   .Add({})),
      throttled_(prometheus::BuildCounter()
                     .Name("portrait_bridge_upstream_throttled_total")
                     .Help("Upstream answers that throttled the bridge (60007, 60011, 60018, 60019, HTTP 429)")
                     .Register(*registry_)
                     .Add({})),
      budget_waits_(prometheus::BuildCounter()
                        .Name("portrait_bridge_rate_limiter_waits_total")
                        .Help("Upstream calls that waited for rate budget")
                        .Register(*registry_)
                        .Add({})),
      budget_wait_seconds_(prometheus::BuildHistogram()
                               .Name("portrait_bridge_rate_limiter_wait_seconds")
                               .Help("Time upstream calls waited for rate budget")
                               .Register(*registry_)
                               .Add({}, kLatencyBuckets)),
      refused_before_send_(prometheus::BuildCounter()
                               .Name("portrait_bridge_budget_refused_at_socket_total")
                               .Help("Upstream requests not sent because the budget refused them at the moment of "
                                     "writing (full send window, or a stale shared claim); each asked again")
                               .Register(*registry_)
                               .Add({})),
      budget_shared_(prometheus::BuildGauge()
                         .Name("portrait_bridge_budget_shared")
                         .Help("1 while the upstream budget is shared through Redis (budget_redis_url), 0 while "
                               "this bridge runs on its local budget (no Redis configured, or the fallback)")
                         .Register(*registry_)
                         .Add({})),
      budget_fallbacks_(prometheus::BuildCounter()
                            .Name("portrait_bridge_budget_fallback_asks_total")
                            .Help("Asks of the shared budget answered by the local fallback budget because "
                                  "Redis failed, timed out or was not connected")
                            .Register(*registry_)
                            .Add({})),
      shared_cache_accounts_(prometheus::BuildCounter()
                                 .Name("portrait_bridge_shared_cache_accounts_total")
                                 .Help("Accounts looked up in the shared cache (cache_redis_url): hit, answered from "
                                       "Redis; miss, asked upstream (every account of a failed lookup included)")
                                 .Register(*registry_)),
      shared_cache_errors_(prometheus::BuildCounter()
                               .Name("portrait_bridge_shared_cache_errors_total")
                               .Help("Shared-cache Redis failures and timeouts: lookup, one per failed MGET (its "
                                     "accounts went upstream); write, one per dropped entry")
                               .Register(*registry_)) {
  // Zero from the start, so that rates work before the first event.
  for (const char* result : {"hit", "miss"}) shared_cache_accounts_.Add({{"result", result}});
  for (const char* operation : {"lookup", "write"}) shared_cache_errors_.Add({{"operation", operation}});
}

void BridgeMetrics::OnAttemptStarted() { upstream_in_flight_.Increment(); }

void BridgeMetrics::OnRefusedBeforeSend() {
  upstream_in_flight_.Decrement();
  refused_before_send_.Increment();
}

void BridgeMetrics::OnBudgetShared(bool shared) { budget_shared_.Set(shared ? 1 : 0); }

void BridgeMetrics::OnBudgetFallback() { budget_fallbacks_.Increment(); }

void BridgeMetrics::OnSharedCacheLookup(int64_t hits, int64_t misses) {
  if (hits > 0) shared_cache_accounts_.Add({{"result", "hit"}}).Increment(static_cast<double>(hits));
  if (misses > 0) shared_cache_accounts_.Add({{"result", "miss"}}).Increment(static_cast<double>(misses));
}

void BridgeMetrics::OnSharedCacheLookupFailed() { shared_cache_errors_.Add({{"operation", "lookup"}}).Increment(); }

void BridgeMetrics::OnSharedCacheWritesFailed(int64_t entries) {
  shared_cache_errors_.Add({{"operation", "write"}}).Increment(static_cast<double>(entries));
}

void BridgeMetrics::OnAttempt(const std::string& code, absl::Duration latency) {
  upstream_in_flight_.Decrement();
  upstream_calls_.Add({{"code", code}}).Increment();
  upstream_seconds_.Observe(absl::ToDoubleSeconds(latency));
}

void BridgeMetrics::OnBudgetWait(absl::Duration wait) {
  budget_waits_.Increment();
  budget_wait_seconds_.Observe(absl::ToDoubleSeconds(wait));
}

void BridgeMetrics::OnUserSigRenewal() { usersig_renewals_.Increment(); }

void BridgeMetrics::OnRetry(absl::Duration /*backoff*/) { retries_.Increment(); }

void BridgeMetrics::OnThrottled() { throttled_.Increment(); }

void BridgeMetrics::OnStreamStarted() { streams_in_flight_.Increment(); }

void BridgeMetrics::OnAccountsAnswered(grpc::StatusCode code, int64_t count) {
  accounts_.Add({{"result", StatusCodeName(code)}}).Increment(static_cast<double>(count));
}

void BridgeMetrics::OnInvalidRequest() { invalid_requests_.Increment(); }

void BridgeMetrics::OnUnreadBytes(int64_t delta) { unread_bytes_.Increment(static_cast<double>(delta)); }

void BridgeMetrics::OnStreamFinished(grpc::StatusCode code, int64_t /*accounts*/, int64_t /*failed_accounts*/,
                                     absl::Duration duration) {
  streams_in_flight_.Decrement();
  rpcs_.Add({{"method", "GetProfiles"}, {"code", StatusCodeName(code)}}).Increment();
  rpc_seconds_.Observe(absl::ToDoubleSeconds(duration));
}

void BridgeMetrics::OnBatchGetFinished(grpc::StatusCode code, int64_t /*accounts*/, int64_t /*failed_accounts*/,
                                       absl::Duration duration) {
  rpcs_.Add({{"method", "BatchGetProfiles"}, {"code", StatusCodeName(code)}}).Increment();
  batch_get_seconds_.Observe(absl::ToDoubleSeconds(duration));
}

// Misconfiguration (UpstreamHealth): every reason present from the start, at 0, so an alert needs no absent().
prometheus::Family<prometheus::Gauge>& BridgeMetrics::MisconfiguredFamily(prometheus::Registry& registry) {
  auto& family = prometheus::BuildGauge()
                     .Name("portrait_bridge_misconfigured")
                     .Help(
                         "1 while upstream says the bridge is misconfigured, for this reason (the error table's, "
                         "e.g. TENCENT_70009: wrong secret key); readiness is NOT_SERVING meanwhile")
                     .Register(registry);
  for (absl::string_view reason : MisconfigurationReasons()) family.Add({{"reason", std::string(reason)}});
  return family;
}

void BridgeMetrics::SetMisconfigured(absl::string_view reason) {
  for (absl::string_view known : MisconfigurationReasons()) {
    misconfigured_.Add({{"reason", std::string(known)}}).Set(known == reason ? 1 : 0);
  }
}

}  // namespace portrait_bridge

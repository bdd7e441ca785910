#include "bridge/service/metrics.h"

#include <array>
#include <atomic>
#include <cstring>
#include <string>

#include "absl/strings/match.h"

namespace portrait_bridge {
namespace {

const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                                 0.25,  0.5,    1,     2.5,  5,     10};
// A thread's lag: tens of microseconds when it has a CPU of its own, milliseconds when it waits for one.
const prometheus::Histogram::BucketBoundaries kThreadLagBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                                   0.005,  0.01,    0.025,  0.05,  0.1};
// Accounts per upstream call: 1 to kUpstreamMaxAccounts (100).
const prometheus::Histogram::BucketBoundaries kCallAccountsBuckets = {1, 2, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100};

// The methods whose lookups are timed (a label).
constexpr const char* kLookupMethods[] = {"GetProfiles", "BatchGetProfiles"};
// An upstream attempt's outcome (a label), from the code UpstreamObserver::OnAttempt reports: a bounded set where
// the code (a Tencent ErrorCode, http_<status>) is not.
enum UpstreamOutcome : size_t { kOk, kTencentError, kHttpError, kTransportError, kMalformedBody, kCancelled };
constexpr std::array<const char*, BridgeMetrics::kUpstreamOutcomeCount> kUpstreamOutcomeNames = {
    "ok", "tencent_error", "http_error", "transport_error", "malformed_body", "cancelled"};  // By UpstreamOutcome.
static_assert(kCancelled + 1 == BridgeMetrics::kUpstreamOutcomeCount, "a name for every outcome");
constexpr char kUpstreamOk[] = "0";  // The code of an answered call with ErrorCode 0.

UpstreamOutcome OutcomeOf(const std::string& code) {
  if (code == kUpstreamOk) return kOk;
  if (code == "cancelled") return kCancelled;
  if (code == "transport_error") return kTransportError;
  if (code == "malformed_body") return kMalformedBody;
  if (absl::StartsWith(code, "http_")) return kHttpError;
  return kTencentError;
}

// The series in `slot`, found by `find` (a Family::Add) the first time. Two threads may both find it first; Add
// returns the same series to both.
template <typename Find>
prometheus::Counter& FoundOnce(std::atomic<prometheus::Counter*>& slot, Find find) {
  prometheus::Counter* series = slot.load(std::memory_order_acquire);
  if (series == nullptr) {
    series = &find();
    slot.store(series, std::memory_order_release);
  }
  return *series;
}

}  // namespace

BridgeMetrics::BridgeMetrics(const std::string& version, const std::string& grpc_version,
                             const std::string& protobuf_version)
    : registry_(std::make_shared<prometheus::Registry>()),
      lookup_seconds_(prometheus::BuildHistogram()
                          .Name("portrait_bridge_lookup_duration_seconds")
                          .Help("Time from a lookup's arrival (a GetProfilesRequest on a stream, or a "
                                "BatchGetProfiles call) to its last result handed to gRPC, by method")
                          .Register(*registry_)),
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
                            .Help("Duration of upstream portrait_get attempts, by outcome: ok, tencent_error, "
                                  "http_error, transport_error, malformed_body, cancelled")
                            .Register(*registry_)),
      upstream_in_flight_(prometheus::BuildGauge()
                              .Name("portrait_bridge_upstream_calls_in_flight")
                              .Help("Upstream portrait_get attempts in flight")
                              .Register(*registry_)
                              .Add({})),
      upstream_call_accounts_(prometheus::BuildHistogram()
                                  .Name("portrait_bridge_upstream_call_accounts")
                                  .Help("Accounts per upstream call the coalescer sends (batch fill; at most 100, "
                                        "retries not counted again)")
                                  .Register(*registry_)
                                  .Add({}, kCallAccountsBuckets)),
      usersig_renewals_(prometheus::BuildCounter()
                            .Name("portrait_bridge_usersig_renewals_total")
                            .Help("Admin UserSig renewals after Tencent rejected one (70001, 70052)")
                            .Register(*registry_)
                            .Add({})),
      retries_(prometheus::BuildCounter()
                   .Name("portrait_bridge_upstream_retries_total")
                   .Help("Upstream calls retried after a transient failure (within the retry budget), by reason: "
                         "throttled, tencent_error, http_error, transport_error, malformed_body")
                   .Register(*registry_)),
      throttled_(prometheus::BuildCounter()
                     .Name("portrait_bridge_upstream_throttled_total")
                     .Help("Upstream answers that throttled the bridge (60007, 60011, 60018, 60019, HTTP 429)")
                     .Register(*registry_)
                     .Add({})),
      budget_waits_(prometheus::BuildCounter()
                        .Name("portrait_bridge_budget_waits_total")
                        .Help("Upstream calls that waited for rate budget")
                        .Register(*registry_)
                        .Add({})),
      budget_wait_seconds_(prometheus::BuildHistogram()
                               .Name("portrait_bridge_budget_wait_seconds")
                               .Help("Time upstream calls waited for rate budget")
                               .Register(*registry_)
                               .Add({}, kLatencyBuckets)),
      refused_before_send_(prometheus::BuildCounter()
                               .Name("portrait_bridge_budget_refused_at_socket_total")
                               .Help("Upstream requests not sent because the budget refused them at the moment of "
                                     "writing (full send window, or a stale shared claim); each asked again")
                               .Register(*registry_)
                               .Add({})),
      budget_exhausted_(prometheus::BuildCounter()
                            .Name("portrait_bridge_budget_exhausted_total")
                            .Help("Callers failed RESOURCE_EXHAUSTED (UPSTREAM_BUDGET_EXHAUSTED) because the budget "
                                  "had no slot before their deadline: by the coalescer, or by an upstream call")
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
                               .Register(*registry_)),
      budget_calls_per_second_(
          prometheus::BuildGauge()
              .Name("portrait_bridge_budget_calls_per_second")
              .Help("Upstream calls per second the budget allows now, less after throttling: the whole app's rate "
                    "while the budget is shared through Redis (the same on every bridge), else "
                    "this bridge's own (its split of the total, or the fallback rate)")
              .Register(*registry_)
              .Add({})),
      pending_accounts_(prometheus::BuildGauge()
                            .Name("portrait_bridge_pending_accounts")
                            .Help("Accounts waiting in the coalescer for an upstream call (filling, or held for a "
                                  "spare budget slot); bounded by max_pending_accounts")
                            .Register(*registry_)
                            .Add({})),
      local_cache_accounts_(prometheus::BuildCounter()
                                .Name("portrait_bridge_cache_accounts_total")
                                .Help("Accounts looked up in the local profile cache (cache_ttl_ms > 0): hit, "
                                      "answered from it; miss, asked behind it")
                                .Register(*registry_)),
      local_cache_evictions_(prometheus::BuildCounter()
                                 .Name("portrait_bridge_cache_evictions_total")
                                 .Help("Local profile cache entries evicted to stay within cache_max_entries")
                                 .Register(*registry_)
                                 .Add({})),
      local_cache_entries_(prometheus::BuildGauge()
                               .Name("portrait_bridge_cache_entries")
                               .Help("Entries in the local profile cache (one per account and tag, stale ones "
                                     "included until dropped)")
                               .Register(*registry_)
                               .Add({})),
      thread_lag_seconds_(prometheus::BuildHistogram()
                              .Name("portrait_bridge_thread_lag_seconds")
                              .Help("How late the bridge's pacing threads started work that was due: timer-queue, "
                                    "a timer past its time; curl-loop, a request from its hand-over to the loop "
                                    "until libcurl got it. Long lags: the threads wait for a CPU")
                              .Register(*registry_)),
      misconfigured_(prometheus::BuildGauge()
                         .Name("portrait_bridge_misconfigured")
                         .Help("1 while upstream says the bridge is misconfigured, for this reason (the error table's, "
                               "e.g. TENCENT_70009: wrong secret key); readiness is NOT_SERVING meanwhile")
                         .Register(*registry_)) {
  // Zero from the start, so that rates work before the first event.
  for (const char* result : {"hit", "miss"}) shared_cache_accounts_.Add({{"result", result}});
  for (const char* operation : {"lookup", "write"}) shared_cache_errors_.Add({{"operation", operation}});
  for (const char* result : {"hit", "miss"}) local_cache_accounts_.Add({{"result", result}});
  for (const char* method : kLookupMethods) {
    lookup_histograms_.emplace_back(method, &lookup_seconds_.Add({{"method", method}}, kLatencyBuckets));
  }
  for (size_t i = 0; i < kUpstreamOutcomeNames.size(); ++i) {
    upstream_seconds_by_outcome_[i] = &upstream_seconds_.Add({{"outcome", kUpstreamOutcomeNames[i]}}, kLatencyBuckets);
  }
  for (const char* reason : kRetryReasons) retries_.Add({{"reason", reason}});
  SetMisconfigured("");  // Every reason at 0, so an alert needs no absent().
  prometheus::BuildGauge()
      .Name("portrait_bridge_build_info")
      .Help("Always 1: the labels say which build runs")
      .Register(*registry_)
      .Add({{"version", version}, {"grpc_version", grpc_version}, {"protobuf_version", protobuf_version}})
      .Set(1);
}

void BridgeMetrics::SetSampledSources(SampledSources sources) {
  absl::MutexLock lock(&sampled_mutex_);
  sampled_ = std::move(sources);
}

void BridgeMetrics::RefreshSampled() {
  absl::MutexLock lock(&sampled_mutex_);
  if (sampled_.budget_calls_per_second) budget_calls_per_second_.Set(sampled_.budget_calls_per_second());
  if (sampled_.pending_accounts) pending_accounts_.Set(static_cast<double>(sampled_.pending_accounts()));
  if (sampled_.local_cache) {
    // The cache counts since its start; the counters get what is new since the last scrape.
    const ProfileCache::Stats stats = sampled_.local_cache();
    local_cache_accounts_.Add({{"result", "hit"}}).Increment(static_cast<double>(stats.hits - cache_counted_.hits));
    local_cache_accounts_.Add({{"result", "miss"}})
        .Increment(static_cast<double>(stats.misses - cache_counted_.misses));
    local_cache_evictions_.Increment(static_cast<double>(stats.evictions - cache_counted_.evictions));
    local_cache_entries_.Set(static_cast<double>(stats.entries));
    cache_counted_ = stats;
  }
}

void BridgeMetrics::OnCallSent(int64_t accounts) { upstream_call_accounts_.Observe(static_cast<double>(accounts)); }

void BridgeMetrics::OnBudgetExhausted() { budget_exhausted_.Increment(); }

void BridgeMetrics::OnLookupAnswered(const char* method, absl::Duration latency) {
  // The method comes from the service's own code (kLookupMethods), never from the caller.
  for (const auto& [name, histogram] : lookup_histograms_) {
    if (std::strcmp(name, method) == 0) {
      histogram->Observe(absl::ToDoubleSeconds(latency));
      return;
    }
  }
  lookup_seconds_.Add({{"method", method}}, kLatencyBuckets).Observe(absl::ToDoubleSeconds(latency));
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
  if (code == kUpstreamOk) {
    FoundOnce(upstream_calls_ok_, [&]() -> prometheus::Counter& {
      return upstream_calls_.Add({{"code", code}});
    }).Increment();
  } else {
    upstream_calls_.Add({{"code", code}}).Increment();  // Codes of failures: an open set, and rare.
  }
  upstream_seconds_by_outcome_[OutcomeOf(code)]->Observe(absl::ToDoubleSeconds(latency));
}

void BridgeMetrics::OnBudgetWait(absl::Duration wait) {
  budget_waits_.Increment();
  budget_wait_seconds_.Observe(absl::ToDoubleSeconds(wait));
}

std::function<void(absl::Duration)> BridgeMetrics::ThreadLagRecorder(const std::string& thread) {
  prometheus::Histogram* lag = &thread_lag_seconds_.Add({{"thread", thread}}, kThreadLagBuckets);
  return [lag](absl::Duration duration) { lag->Observe(absl::ToDoubleSeconds(duration)); };
}

void BridgeMetrics::OnUserSigRenewal() { usersig_renewals_.Increment(); }

void BridgeMetrics::OnRetry(const char* reason, absl::Duration /*backoff*/) {
  retries_.Add({{"reason", reason}}).Increment();
}

void BridgeMetrics::OnThrottled() { throttled_.Increment(); }

void BridgeMetrics::OnStreamStarted() { streams_in_flight_.Increment(); }

void BridgeMetrics::OnAccountsAnswered(grpc::StatusCode code, int64_t count) {
  const size_t index = static_cast<size_t>(code);
  if (index >= accounts_by_code_.size()) {
    accounts_.Add({{"result", StatusCodeName(code)}}).Increment(static_cast<double>(count));
    return;
  }
  FoundOnce(accounts_by_code_[index], [&]() -> prometheus::Counter& {
    return accounts_.Add({{"result", StatusCodeName(code)}});
  }).Increment(static_cast<double>(count));
}

void BridgeMetrics::OnInvalidRequest() { invalid_requests_.Increment(); }

void BridgeMetrics::OnUnreadBytes(int64_t delta) { unread_bytes_.Increment(static_cast<double>(delta)); }

// Calls by method and code, and their durations, are the standard grpc_server_* series (GrpcServerMetrics).
void BridgeMetrics::OnStreamFinished() { streams_in_flight_.Decrement(); }

void BridgeMetrics::SetMisconfigured(absl::string_view reason) {
  for (absl::string_view known : MisconfigurationReasons()) {
    misconfigured_.Add({{"reason", std::string(known)}}).Set(known == reason ? 1 : 0);
  }
}

}  // namespace portrait_bridge

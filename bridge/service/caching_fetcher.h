#ifndef PORTRAIT_BRIDGE_SERVICE_CACHING_FETCHER_H_
#define PORTRAIT_BRIDGE_SERVICE_CACHING_FETCHER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "bridge/core/clock.h"
#include "bridge/core/failure.h"
#include "bridge/core/profile_cache.h"
#include "bridge/service/profile_fetcher.h"

namespace portrait_bridge {

/// Settings of a CachingFetcher (config keys cache_ttl_ms, cache_max_entries, cache_negative_ttl_ms).
struct CachingFetcherOptions {
  absl::Duration ttl = absl::ZeroDuration();  ///< How long a fetched profile field is served from the cache.
  int64_t max_entries = 200'000;              ///< Bound on (account, tag) entries, LRU-evicted beyond it.
  absl::Duration negative_ttl = absl::Seconds(1);  ///< How long an account's cacheable failure is remembered.
};

/// Serves profiles from a ProfileCache and asks an inner fetcher (in production the coalescer) for the rest.
/// Opt-in: callers accept answers up to `ttl` old.
///
/// - An account whose every asked tag is cached and fresh (an unset field counts: "Tencent returned no item for
///   this tag" is remembered too), or that has a fresh remembered failure, is answered from the cache. Its items
///   come in the order of the asked tags, the order Tencent's answers use (TagList order).
/// - All other accounts go to the inner fetcher in one Fetch (same tags, same deadline); its successes and
///   cacheable failures are stored, and the merged outcomes reach `done` once, one per asked account.
/// - When every account is a hit, `done` runs inline, on the caller's thread, before Fetch returns.
/// - Only failures that say the account itself does not exist are remembered (IsCacheableFailure), for
///   negative_ttl, whatever tags are asked next. Retryable failures, failures that end the stream, and failures
///   that depend on the tags or on the call (40007, 40009, deadlines, HTTP and transport errors) are never cached.
/// - Ticket::Cancel cancels the inner Fetch and runs `done` with cancelled = true at once (unless it already ran).
///   The inner answer, if it still comes, is cached but not delivered.
///
/// Thread-safe. Never calls the inner fetcher or `done` under a lock of its own.
class CachingFetcher final : public ProfileFetcher {
 public:
  /// `inner` must outlive this object; `clock` must outlive every Fetch's completion. Answers the inner fetcher
  /// delivers after this object is gone are still safe (they share ownership of the cache).
  CachingFetcher(ProfileFetcher& inner, const Clock& clock, const CachingFetcherOptions& options);

  std::shared_ptr<Ticket> Fetch(std::vector<std::string> accounts, std::vector<std::string> tags,
                                absl::Time deadline, Done done) override;

  /// Whether `failure` may be remembered for an account regardless of tags: a per-account, not retryable
  /// NOT_FOUND from Tencent (40003, 70107). Others, even if not retryable, can depend on the asked tags
  /// (40007 no permission for a field, 40009 unknown tag) or on this call (deadline, HTTP status), so keying them
  /// by account alone would answer later asks wrongly.
  static bool IsCacheableFailure(const Failure& failure);

  ProfileCache::Stats cache_stats() const { return cache_->stats(); }

 private:
  ProfileFetcher& inner_;
  const std::shared_ptr<ProfileCache> cache_;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_CACHING_FETCHER_H_

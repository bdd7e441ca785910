#ifndef PORTRAIT_BRIDGE_SERVICE_SHARED_CACHE_FETCHER_H_
#define PORTRAIT_BRIDGE_SERVICE_SHARED_CACHE_FETCHER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/service/profile_fetcher.h"
#include "bridge/transport/redis_client.h"

namespace portrait_bridge {

/// The few operations the shared profile cache needs from a key-value store with expiring entries. Keys and
/// values are binary-safe.
///
/// Thread-safe. Implementations never block the caller and never wait for one operation before sending the next.
class KeyValueStore {
 public:
  /// One value per key, in the order of the keys; nullopt for a key that does not exist (or expired).
  using Values = std::vector<std::optional<std::string>>;
  using GetDone = absl::AnyInvocable<void(absl::StatusOr<Values>) &&>;

  virtual ~KeyValueStore() = default;

  /// Reads `keys` in one operation. `done` runs exactly once, inline or on another thread, with one value per
  /// key, or an error (the store is down, slow past its timeout, or answered something unexpected).
  virtual void MultiGet(std::vector<std::string> keys, GetDone done) = 0;

  /// Stores every (key, value) of `entries` for `ttl`, replacing what is there. Fire-and-forget: a write that
  /// fails is dropped (the store may count it).
  virtual void MultiSet(std::vector<std::pair<std::string, std::string>> entries, absl::Duration ttl) = 0;
};

/// Counts what the shared cache does, for metrics. Implementations are thread-safe and must not block.
class SharedCacheObserver {
 public:
  virtual ~SharedCacheObserver() = default;
  /// A lookup came back: `hits` accounts were answered from the store, `misses` went on to the inner fetcher
  /// (all of a Fetch's accounts when the lookup failed).
  virtual void OnSharedCacheLookup(int64_t hits, int64_t misses) = 0;
  /// A lookup failed or timed out; its accounts were treated as misses.
  virtual void OnSharedCacheLookupFailed() = 0;
  /// `entries` writes were dropped because the store failed, timed out or was not connected.
  virtual void OnSharedCacheWritesFailed(int64_t entries) = 0;
};

/// A KeyValueStore on a RedisClient: MGET for MultiGet; one `SET key value PX ttl` per entry for MultiSet,
/// pipelined on the client's one connection, replies ignored except for counting failures. While the client is
/// not connected both fail at once, without queueing anything.
///
/// Thread-safe. `client` and `observer` (may be null) must outlive this object and every reply of `client`.
class RedisKeyValueStore final : public KeyValueStore {
 public:
  explicit RedisKeyValueStore(RedisClient& client, SharedCacheObserver* observer = nullptr)
      : client_(client), observer_(observer) {}

  void MultiGet(std::vector<std::string> keys, GetDone done) override;
  void MultiSet(std::vector<std::pair<std::string, std::string>> entries, absl::Duration ttl) override;

 private:
  RedisClient& client_;
  SharedCacheObserver* const observer_;
};

/// Settings of a SharedCacheFetcher (config keys sdkappid, cache_ttl_ms, cache_negative_ttl_ms).
struct SharedCacheFetcherOptions {
  uint64_t sdkappid = 0;                           ///< Namespaces the keys, so one store can serve several apps.
  absl::Duration ttl = absl::ZeroDuration();       ///< Lifetime of a stored profile field. Zero: nothing stored.
  absl::Duration negative_ttl = absl::Seconds(1);  ///< Lifetime of a stored per-account failure. Zero: none.
};

/// A second cache tier shared by every bridge replica: sits between the local CachingFetcher and the coalescer
/// and keeps profiles in a KeyValueStore (Redis in production), so that N replicas fetch each profile from
/// upstream about once per ttl rather than N times.
///
/// - The same facts as the local cache, under the same rules: one entry per (account, tag) holding the field's
///   ProfileItem or "Tencent returned no item for this tag", and one per-account entry for a cacheable failure
///   (CachingFetcher::IsCacheableFailure: the account does not exist), which shadows the field entries. Keys are
///   ProfileKey() and NegativeKey(); values are a one-byte kind plus compact bytes (see the .cc).
/// - Fetch makes one MultiGet for every key of every asked account (its tags and its failure entry). An account
///   with a stored failure, or with every asked tag stored, is answered from the store; all others go to the
///   inner fetcher in one Fetch (same tags, same deadline). Inner successes are written back for ttl and
///   cacheable inner failures for negative_ttl; the merged outcomes reach `done` once, one per asked account.
/// - The store is an optimisation, never a source of errors: a lookup that fails or times out sends every
///   account to the inner fetcher, an entry that does not decode is a miss, and failed writes are dropped.
/// - When every account is a hit, `done` runs on the thread that delivered the lookup (inline, or a store
///   thread such as the Redis client's loop, which is also where the inner Fetch is made).
/// - Ticket::Cancel cancels the inner Fetch (or stops it from being made) and runs `done` with cancelled = true
///   at once, unless it already ran. A lookup reply or inner answer arriving afterwards is ignored, except that
///   the inner answer is still written back.
///
/// Thread-safe. Never calls `done`, the inner fetcher or the store under a lock of its own (writes back under a
/// shared lock that only the destructor takes exclusively). `store` and `observer` (may be null) must outlive
/// this object: after it is gone they are no longer touched. `inner` must outlive every lookup reply of `store`
/// (in the bridge: the Redis client is destroyed before the coalescer).
class SharedCacheFetcher final : public ProfileFetcher {
 public:
  SharedCacheFetcher(ProfileFetcher& inner, KeyValueStore& store, const SharedCacheFetcherOptions& options,
                     SharedCacheObserver* observer = nullptr);
  /// Waits for write-backs in progress, then stops touching the store and the observer.
  ~SharedCacheFetcher() override;

  SharedCacheFetcher(const SharedCacheFetcher&) = delete;
  SharedCacheFetcher& operator=(const SharedCacheFetcher&) = delete;

  std::shared_ptr<Ticket> Fetch(std::vector<std::string> accounts, std::vector<std::string> tags, absl::Time deadline,
                                Done done) override;

  /// `portrait-bridge:<sdkappid>:p:<tag>:<account>`. Unambiguous because tags never hold ':' (request
  /// validation allows letters, digits and '_'); the account, last, may hold any byte.
  static std::string ProfileKey(uint64_t sdkappid, absl::string_view tag, absl::string_view account);
  /// `portrait-bridge:<sdkappid>:n:<account>`: the account's remembered failure.
  static std::string NegativeKey(uint64_t sdkappid, absl::string_view account);

 private:
  struct Core;
  const std::shared_ptr<Core> core_;  // Shared with lookup and inner callbacks, which may outlive this object.
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_SHARED_CACHE_FETCHER_H_

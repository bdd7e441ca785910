#ifndef PORTRAIT_BRIDGE_CORE_PROFILE_CACHE_H_
#define PORTRAIT_BRIDGE_CORE_PROFILE_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "bridge/core/clock.h"
#include "bridge/core/encoded_items.h"
#include "bridge/core/failure.h"
#include "portraitbridge/profile/v1/profile.pb.h"

namespace portrait_bridge {

/// Limits of a ProfileCache.
struct ProfileCacheOptions {
  /// How long a profile field stays fresh after it was stored. Zero or less: nothing is stored.
  absl::Duration ttl = absl::ZeroDuration();
  /// At most this many entries: one per (account, tag), plus one per remembered failure. Zero: nothing is stored.
  int64_t max_entries = 200'000;
  /// How long a remembered account failure stays fresh. Zero or less: failures are not stored.
  absl::Duration negative_ttl = absl::Seconds(1);
  /// Independent lock domains; an account's entries always live in one shard. Clamped to [1, max_entries].
  int shards = 16;
};

/// A bounded, expiring map from (account, tag) to one profile field, and from account to a failure.
///
/// Each (account, tag) entry holds either the field's ProfileItem or the fact that Tencent returned no item for that
/// tag (the field is unset), so an unset field is a hit too. An account-level failure entry shadows the account's
/// field entries while it is fresh. Entries expire individually `ttl` (`negative_ttl`) after they were stored; a
/// stale entry is dropped when a Lookup meets it (a stale field among the asked tags makes that Lookup a miss).
///
/// Recency is kept per account, not per entry: a hit, PutProfile and PutFailure make the account the most recently
/// used of its shard (a miss does not), except that a hit leaves an account where it is while it is still among the
/// newest quarter of its shard's accounts (so the order is least recently used up to that quarter, and an account
/// used within it is never the next to go). The bound counts entries, one per (account, tag) plus one per remembered
/// failure, per shard (max_entries / shards each), so the cache as a whole never holds more than max_entries: when
/// a store leaves a shard over its bound, the shard evicts whole accounts, least recently used first, until it fits,
/// and every entry of an evicted account counts as an eviction. A store that gives an account more entries than
/// its shard's bound evicts that account too.
///
/// Each shard holds one record per account: the account once, its failure, and its fields, whose tags and
/// serialized items (Hit::encoded_items) share one buffer. A hit is one hash lookup and at most one move in the
/// recency list, whatever the number of tags.
///
/// Pure: no threads of its own, time from the injected clock. Thread-safe; every operation takes one shard lock
/// and is O(number of tags x the account's fields), a handful each.
class ProfileCache {
 public:
  /// A fresh answer for one account.
  struct Hit {
    /// Set when the account's remembered answer is a failure; `encoded_items` is then empty.
    std::optional<Failure> failure;
    /// The cached items in the order of the tags asked for, unset fields left out, in wire form (see
    /// AppendEncodedItem): the cache keeps each item serialized, so that a hit copies bytes instead of building
    /// and serializing ProfileItem messages again for every answer.
    std::string encoded_items;

    /// The items decoded (for tests and callers that want messages).
    std::vector<portraitbridge::profile::v1::ProfileItem> items() const { return DecodeItems(encoded_items); }
  };

  /// Counters since construction.
  struct Stats {
    int64_t hits = 0;       ///< Lookups answered (all tags fresh, or a fresh failure).
    int64_t misses = 0;     ///< Lookups with at least one tag missing or stale.
    int64_t evictions = 0;  ///< Entries dropped because their shard was full (all of each evicted account's).
    int64_t entries = 0;    ///< Entries held now (including stale ones not yet dropped).
  };

  /// `clock` must outlive the cache.
  ProfileCache(const ProfileCacheOptions& options, const Clock& clock);
  ~ProfileCache();
  ProfileCache(const ProfileCache&) = delete;
  ProfileCache& operator=(const ProfileCache&) = delete;

  /// The account's fresh answer for every one of `tags`, or nullopt when any tag is missing or stale (and no fresh
  /// failure is remembered for the account). Items come in the order of `tags`, which is also the order Tencent
  /// returns them in (its TagList order). Tags are expected to be distinct.
  std::optional<Hit> Lookup(absl::string_view account, absl::Span<const std::string> tags);

  /// Remembers a successful answer: for each of `tags`, the item of `items` with that tag, or that there was none.
  /// Items for tags not in `tags` are ignored. Drops a remembered failure of the account.
  void PutProfile(absl::string_view account, absl::Span<const std::string> tags,
                  absl::Span<const portraitbridge::profile::v1::ProfileItem> items);
  /// The same, for items in wire form (a run written by AppendEncodedItem, as upstream answers hold them): each
  /// item's bytes are stored as they are.
  void PutProfile(absl::string_view account, absl::Span<const std::string> tags, absl::string_view encoded_items);

  /// Remembers that the account failed, for negative_ttl, whatever tags are asked next.
  void PutFailure(absl::string_view account, const Failure& failure);

  Stats stats() const;

 private:
  struct Shard;

  Shard& ShardFor(size_t account_hash) const;

  const absl::Duration ttl_;
  const absl::Duration negative_ttl_;
  const Clock& clock_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_PROFILE_CACHE_H_

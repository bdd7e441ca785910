#include "bridge/core/profile_cache.h"

#include <algorithm>
#include <list>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"

namespace portrait_bridge {

using tencentcloud::chat::profile::v1::ProfileItem;

namespace {

// The tag of an account's failure entry. Never a real tag: request validation rejects empty tags.
constexpr absl::string_view kFailureTag = "";

// One remembered fact. `account` and `tag` own the bytes the shard's index keys point into; list nodes never move.
struct Entry {
  std::string account;
  std::string tag;
  absl::Time expiry;
  bool present = false;              // The field was set: `item` holds it.
  ProfileItem item;                  // When present.
  std::unique_ptr<Failure> failure;  // Only on the failure entry (rare, so kept out of line).
};

using Key = std::pair<absl::string_view, absl::string_view>;  // (account, tag)

}  // namespace

// Entries in least-recently-used order (front: most recent) and an index over them. Aligned so that neighbouring
// shards' locks do not share a cache line.
struct alignas(64) ProfileCache::Shard {
  explicit Shard(int64_t capacity) : capacity(capacity) {}

  // The entry for `key`, if fresh at `now`: moved to the front. A stale one is dropped.
  const Entry* FindFresh(const Key& key, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    auto it = index.find(key);
    if (it == index.end()) return nullptr;
    std::list<Entry>::iterator entry = it->second;
    if (now >= entry->expiry) {
      index.erase(it);
      lru.erase(entry);
      return nullptr;
    }
    lru.splice(lru.begin(), lru, entry);
    return &*entry;
  }

  void Erase(const Key& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    auto it = index.find(key);
    if (it == index.end()) return;
    std::list<Entry>::iterator entry = it->second;
    index.erase(it);
    lru.erase(entry);
  }

  // The entry for (account, tag), new or reused, at the front; evicts the least recently used one when full.
  Entry& Upsert(absl::string_view account, absl::string_view tag) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    if (auto it = index.find(Key(account, tag)); it != index.end()) {
      lru.splice(lru.begin(), lru, it->second);
      return *it->second;
    }
    if (static_cast<int64_t>(index.size()) >= capacity) {
      Entry& victim = lru.back();
      index.erase(Key(victim.account, victim.tag));
      lru.pop_back();
      ++evictions;
    }
    Entry& entry = lru.emplace_front();
    entry.account = std::string(account);
    entry.tag = std::string(tag);
    index.emplace(Key(entry.account, entry.tag), lru.begin());
    return entry;
  }

  const int64_t capacity;
  mutable absl::Mutex mutex;
  std::list<Entry> lru ABSL_GUARDED_BY(mutex);
  absl::flat_hash_map<Key, std::list<Entry>::iterator> index ABSL_GUARDED_BY(mutex);
  int64_t hits ABSL_GUARDED_BY(mutex) = 0;
  int64_t misses ABSL_GUARDED_BY(mutex) = 0;
  int64_t evictions ABSL_GUARDED_BY(mutex) = 0;
};

ProfileCache::ProfileCache(const ProfileCacheOptions& options, const Clock& clock)
    : ttl_(options.ttl), negative_ttl_(options.negative_ttl), clock_(clock) {
  const int64_t max_entries = std::max<int64_t>(options.max_entries, 0);
  const int64_t shards = std::clamp<int64_t>(options.shards, 1, std::max<int64_t>(max_entries, 1));
  shards_.reserve(shards);
  // Floor division: the shards together never exceed max_entries.
  for (int64_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>(max_entries / shards));
}

ProfileCache::~ProfileCache() = default;

ProfileCache::Shard& ProfileCache::ShardFor(absl::string_view account) const {
  return *shards_[absl::Hash<absl::string_view>()(account) % shards_.size()];
}

std::optional<ProfileCache::Hit> ProfileCache::Lookup(absl::string_view account, absl::Span<const std::string> tags) {
  const absl::Time now = clock_.Now();
  Shard& shard = ShardFor(account);
  Hit hit;
  absl::MutexLock lock(&shard.mutex);
  if (const Entry* failed = shard.FindFresh(Key(account, kFailureTag), now); failed != nullptr) {
    hit.failure = *failed->failure;
    ++shard.hits;
    return hit;
  }
  hit.items.reserve(tags.size());
  for (const std::string& tag : tags) {
    const Entry* entry = shard.FindFresh(Key(account, tag), now);
    if (entry == nullptr) {
      ++shard.misses;
      return std::nullopt;
    }
    if (entry->present) hit.items.push_back(entry->item);
  }
  ++shard.hits;
  return hit;
}

void ProfileCache::PutProfile(absl::string_view account, absl::Span<const std::string> tags,
                              absl::Span<const ProfileItem> items) {
  if (ttl_ <= absl::ZeroDuration() || tags.empty()) return;
  const absl::Time expiry = clock_.Now() + ttl_;
  Shard& shard = ShardFor(account);
  if (shard.capacity == 0) return;
  absl::MutexLock lock(&shard.mutex);
  shard.Erase(Key(account, kFailureTag));
  for (const std::string& tag : tags) {
    // A handful of items per account: a linear scan beats building an index.
    const auto item = std::find_if(items.begin(), items.end(),
                                   [&tag](const ProfileItem& candidate) { return candidate.tag() == tag; });
    Entry& entry = shard.Upsert(account, tag);
    entry.expiry = expiry;
    entry.present = item != items.end();
    if (entry.present) {
      entry.item = *item;
    } else {
      entry.item.Clear();
    }
  }
}

void ProfileCache::PutFailure(absl::string_view account, const Failure& failure) {
  if (negative_ttl_ <= absl::ZeroDuration()) return;
  const absl::Time expiry = clock_.Now() + negative_ttl_;
  Shard& shard = ShardFor(account);
  if (shard.capacity == 0) return;
  absl::MutexLock lock(&shard.mutex);
  Entry& entry = shard.Upsert(account, kFailureTag);
  entry.expiry = expiry;
  entry.failure = std::make_unique<Failure>(failure);
}

ProfileCache::Stats ProfileCache::stats() const {
  Stats stats;
  for (const std::unique_ptr<Shard>& shard : shards_) {
    absl::MutexLock lock(&shard->mutex);
    stats.hits += shard->hits;
    stats.misses += shard->misses;
    stats.evictions += shard->evictions;
    stats.entries += static_cast<int64_t>(shard->index.size());
  }
  return stats;
}

}  // namespace portrait_bridge

#include "bridge/core/profile_cache.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <list>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"

namespace portrait_bridge {

using google::protobuf::internal::WireFormatLite;
using portraitbridge::profile::v1::AccountResult;
using portraitbridge::profile::v1::ProfileItem;

void AppendEncodedItem(const ProfileItem& item, std::string& out) {
  const size_t size = item.ByteSizeLong();
  uint8_t header[1 + 5];  // The tag (one byte: field 2), then the length as a varint (at most 5 bytes).
  uint8_t* end = google::protobuf::io::CodedOutputStream::WriteTagToArray(
      WireFormatLite::MakeTag(AccountResult::kItemsFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED), header);
  end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(size), end);
  out.append(reinterpret_cast<const char*>(header), end - header);
  const size_t start = out.size();
  out.resize(start + size);
  item.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(&out[start]));
}

std::vector<ProfileItem> DecodeItems(absl::string_view encoded) {
  // The fields are those of an AccountResult holding only items.
  AccountResult holder;
  if (!holder.ParseFromArray(encoded.data(), static_cast<int>(encoded.size()))) return {};
  return {holder.items().begin(), holder.items().end()};
}

namespace {

// The tag of an account's failure entry. Never a real tag: request validation rejects empty tags.
constexpr absl::string_view kFailureTag = "";

// One remembered fact. List nodes never move, so the account's index record points at them.
struct Entry {
  std::string account;
  std::string tag;
  absl::Time expiry;
  bool present = false;              // The field was set: `encoded_item` holds it.
  std::string encoded_item;          // When present: AppendEncodedItem's bytes for the field.
  std::unique_ptr<Failure> failure;  // Only on the failure entry (rare, so kept out of line).
};

using EntryList = std::list<Entry>;

// An account's entries: its fields and its failure entry. A handful per account, so a linear scan finds a tag.
using AccountEntries = absl::InlinedVector<EntryList::iterator, 4>;

}  // namespace

// Entries in least-recently-used order (front: most recent) and an index over them by account. Aligned so that
// neighbouring shards' locks do not share a cache line.
struct alignas(64) ProfileCache::Shard {
  explicit Shard(int64_t capacity) : capacity(capacity) {}

  // The entry for `tag` among the account's, if any.
  static AccountEntries::iterator FindTag(AccountEntries& entries, absl::string_view tag) {
    return std::find_if(entries.begin(), entries.end(), [tag](EntryList::iterator entry) { return entry->tag == tag; });
  }

  // The entry of the account (at `record`) for `tag`, if fresh at `now`: moved to the front. A stale one is dropped
  // (the record may then be left empty: the caller drops it with DropIfEmpty).
  const Entry* FindFresh(AccountEntries& entries, absl::string_view tag, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    const auto it = FindTag(entries, tag);
    if (it == entries.end()) return nullptr;
    const EntryList::iterator entry = *it;
    if (now >= entry->expiry) {
      entries.erase(it);
      lru.erase(entry);
      return nullptr;
    }
    lru.splice(lru.begin(), lru, entry);
    return &*entry;
  }

  void DropIfEmpty(absl::string_view account) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    if (auto it = index.find(account); it != index.end() && it->second.empty()) index.erase(it);
  }

  void Erase(absl::string_view account, absl::string_view tag) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    auto record = index.find(account);
    if (record == index.end()) return;
    const auto it = FindTag(record->second, tag);
    if (it == record->second.end()) return;
    const EntryList::iterator entry = *it;
    record->second.erase(it);
    if (record->second.empty()) index.erase(record);
    lru.erase(entry);  // Last: `account` and `tag` may point into it (eviction passes the victim's own strings).
  }

  // The entry for (account, tag), new or reused, at the front; evicts the least recently used one when full.
  Entry& Upsert(absl::string_view account, absl::string_view tag) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    if (auto record = index.find(account); record != index.end()) {
      if (const auto it = FindTag(record->second, tag); it != record->second.end()) {
        lru.splice(lru.begin(), lru, *it);
        return **it;
      }
    }
    // Evict before taking the account's record: the victim may be the record's last entry.
    if (static_cast<int64_t>(lru.size()) >= capacity) {
      const Entry& victim = lru.back();
      Erase(victim.account, victim.tag);
      ++evictions;
    }
    Entry& entry = lru.emplace_front();
    entry.account = std::string(account);
    entry.tag = std::string(tag);
    index[account].push_back(lru.begin());
    return entry;
  }

  const int64_t capacity;
  mutable absl::Mutex mutex;
  EntryList lru ABSL_GUARDED_BY(mutex);
  absl::flat_hash_map<std::string, AccountEntries> index ABSL_GUARDED_BY(mutex);
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
  // The high half of the hash: a shard's index hashes the account with the same function and takes its control
  // bits from the low bits, which would otherwise be the same for every account of the shard.
  return *shards_[(absl::Hash<absl::string_view>()(account) >> 32) % shards_.size()];
}

std::optional<ProfileCache::Hit> ProfileCache::Lookup(absl::string_view account, absl::Span<const std::string> tags) {
  const absl::Time now = clock_.Now();
  Shard& shard = ShardFor(account);
  Hit hit;
  absl::MutexLock lock(&shard.mutex);
  const auto record = shard.index.find(account);
  if (record == shard.index.end()) {
    ++shard.misses;
    return std::nullopt;
  }
  AccountEntries& entries = record->second;
  if (const Entry* failed = shard.FindFresh(entries, kFailureTag, now); failed != nullptr) {
    hit.failure = *failed->failure;
    ++shard.hits;
    return hit;
  }
  for (const std::string& tag : tags) {
    const Entry* entry = shard.FindFresh(entries, tag, now);
    if (entry == nullptr) {
      ++shard.misses;
      if (entries.empty()) shard.index.erase(record);
      return std::nullopt;
    }
    if (entry->present) hit.encoded_items.append(entry->encoded_item);
  }
  if (entries.empty()) shard.index.erase(record);  // Every tag stale: only possible with no tags asked.
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
  shard.Erase(account, kFailureTag);
  for (const std::string& tag : tags) {
    // A handful of items per account: a linear scan beats building an index.
    const auto item = std::find_if(items.begin(), items.end(),
                                   [&tag](const ProfileItem& candidate) { return candidate.tag() == tag; });
    Entry& entry = shard.Upsert(account, tag);
    entry.expiry = expiry;
    entry.present = item != items.end();
    entry.encoded_item.clear();
    if (entry.present) AppendEncodedItem(*item, entry.encoded_item);
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
    stats.entries += static_cast<int64_t>(shard->lru.size());
  }
  return stats;
}

}  // namespace portrait_bridge

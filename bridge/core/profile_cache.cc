#include "bridge/core/profile_cache.h"

#include <algorithm>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/inlined_vector.h"
#include "absl/container/node_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"

namespace portrait_bridge {

using portraitbridge::profile::v1::ProfileItem;

namespace {

// The account with its hash, computed once per call: the hash picks the shard and is the shard index's hash too.
struct HashedAccount {
  absl::string_view account;
  size_t hash;
};

HashedAccount Hashed(absl::string_view account) { return {account, absl::Hash<absl::string_view>()(account)}; }

struct AccountHash {
  using is_transparent = void;
  size_t operator()(absl::string_view account) const { return absl::Hash<absl::string_view>()(account); }
  size_t operator()(const HashedAccount& key) const { return key.hash; }
};

struct AccountEq {
  using is_transparent = void;
  bool operator()(absl::string_view a, absl::string_view b) const { return a == b; }
  bool operator()(absl::string_view a, const HashedAccount& b) const { return a == b.account; }
  bool operator()(const HashedAccount& a, absl::string_view b) const { return a.account == b; }
};

struct RememberedFailure {
  Failure failure;
  absl::Time expiry;
};

// One (account, tag) entry. Its item (AppendEncodedItem's bytes; none when the field is unset, while a set one
// always has some: the field header) and its tag lie in a buffer, the record's `bytes`. 32-bit offsets: the buffer
// holds one account's answer, far below 4 GiB.
struct Field {
  absl::Time expiry;
  uint32_t item_offset = 0;
  uint32_t item_size = 0;
  uint32_t tag_offset = 0;
  uint32_t tag_size = 0;
};

using Fields = absl::InlinedVector<Field, 4>;

absl::string_view TagOf(const Field& field, const std::string& bytes) {
  return {bytes.data() + field.tag_offset, field.tag_size};
}

// A field and the buffer it lies in, while a record's buffer is being rebuilt.
struct PackedField {
  const Field* field;
  const std::string* bytes;
};

// Copies the fields into `fields` and `bytes` (both empty): every item in order, then every tag. So fields asked for in
// the order they were stored in have their items back to back, and a hit copies them at once.
void Pack(absl::Span<const PackedField> sources, Fields& fields, std::string& bytes) {
  size_t size = 0;
  for (const PackedField& source : sources) size += source.field->item_size + source.field->tag_size;
  bytes.reserve(size);
  for (const PackedField& source : sources) {
    Field& field = fields.emplace_back(*source.field);
    field.item_offset = static_cast<uint32_t>(bytes.size());
    bytes.append(source.bytes->data() + source.field->item_offset, source.field->item_size);
  }
  for (size_t i = 0; i < sources.size(); ++i) {
    fields[i].tag_offset = static_cast<uint32_t>(bytes.size());
    bytes.append(sources[i].bytes->data() + sources[i].field->tag_offset, sources[i].field->tag_size);
  }
}

// An account's entries: its failure and its fields. Records are nodes of the shard's index, which never move, so
// they link into the recency list themselves.
struct Record {
  int64_t entries() const { return static_cast<int64_t>(fields.size()) + (failure != nullptr ? 1 : 0); }

  // The field for `wanted`; `hint` is where it is when the fields are asked for in the order they were stored in.
  const Field* Find(absl::string_view wanted, size_t hint) const {
    if (hint < fields.size() && TagOf(fields[hint], bytes) == wanted) return &fields[hint];
    for (const Field& field : fields) {
      if (TagOf(field, bytes) == wanted) return &field;
    }
    return nullptr;
  }

  absl::string_view account;  // The index's key.
  Record* newer = nullptr;    // Neighbours in the shard's recency list; null at its ends.
  Record* older = nullptr;
  uint64_t moved_at = 0;                       // The shard's `moves` when the record last went to the front.
  std::unique_ptr<RememberedFailure> failure;  // Rare, so kept out of line.
  Fields fields;
  // Laid out by Pack. Dropped fields' bytes stay until the next PutProfile of the account packs the buffer again.
  std::string bytes;
};

using Index = absl::node_hash_map<std::string, Record, AccountHash, AccountEq>;

}  // namespace

// An index of the shard's accounts and a list of them from most to least recently used. Aligned so that
// neighbouring shards' locks do not share a cache line.
struct alignas(64) ProfileCache::Shard {
  explicit Shard(int64_t capacity) : capacity(capacity) {}

  // The account's record, new (and empty, not yet in the recency list) if there was none.
  Record& FindOrAdd(const HashedAccount& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    if (const auto it = index.find(key); it != index.end()) return it->second;
    const auto it = index.try_emplace(std::string(key.account)).first;
    it->second.account = it->first;
    return it->second;
  }

  void Unlink(Record& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    (record.newer != nullptr ? record.newer->older : newest) = record.older;
    (record.older != nullptr ? record.older->newer : oldest) = record.newer;
    record.newer = record.older = nullptr;
  }

  // Makes the record the most recently used; `linked` says whether it is in the list already.
  void MoveToFront(Record& record, bool linked) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    record.moved_at = ++moves;
    if (newest == &record) return;
    if (linked) Unlink(record);
    record.older = newest;
    (newest != nullptr ? newest->newer : oldest) = &record;
    newest = &record;
  }

  // A hit's move: skipped while the record is still among the newest quarter of the list (fewer moves than that
  // since its own), where eviction cannot reach it. A move writes to three other records, each a likely cache miss
  // that the unlock then waits for; that was a fifth of a cached lookup.
  void Touch(Record& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    if (moves - record.moved_at >= index.size() / 4) MoveToFront(record, /*linked=*/true);
  }

  // Drops an account whose entries are already out of `entries`.
  void Erase(Index::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    Unlink(it->second);
    index.erase(it);
  }

  // Evicts least recently used accounts, whole, while the shard holds more than its capacity.
  void EvictToFit() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    while (entries > capacity) {
      Record& victim = *oldest;
      entries -= victim.entries();
      evictions += victim.entries();
      Erase(index.find(victim.account));
    }
  }

  const int64_t capacity;
  mutable absl::Mutex mutex;
  Index index ABSL_GUARDED_BY(mutex);
  Record* newest ABSL_GUARDED_BY(mutex) = nullptr;
  Record* oldest ABSL_GUARDED_BY(mutex) = nullptr;
  uint64_t moves ABSL_GUARDED_BY(mutex) = 0;   // Moves to the front so far (see Touch).
  int64_t entries ABSL_GUARDED_BY(mutex) = 0;  // Over all records: fields plus failures.
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

ProfileCache::Shard& ProfileCache::ShardFor(size_t account_hash) const {
  // The high half of the hash: the shard's index uses the same hash, and takes its control bits from the low bits,
  // which would otherwise be the same for every account of the shard.
  return *shards_[(account_hash >> 32) % shards_.size()];
}

std::optional<ProfileCache::Hit> ProfileCache::Lookup(absl::string_view account, absl::Span<const std::string> tags) {
  const absl::Time now = clock_.Now();
  const HashedAccount key = Hashed(account);
  Shard& shard = ShardFor(key.hash);
  std::optional<Hit> hit;
  absl::MutexLock lock(&shard.mutex);
  const auto it = shard.index.find(key);
  if (it == shard.index.end()) {
    ++shard.misses;
    return std::nullopt;
  }
  Record& record = it->second;
  if (record.failure != nullptr) {
    if (now < record.failure->expiry) {
      hit.emplace().failure = record.failure->failure;
      ++shard.hits;
      shard.Touch(record);
      return hit;
    }
    record.failure.reset();
    --shard.entries;
  }
  // Every asked field must be there and fresh. Their items are usually back to back (see Pack): then one copy.
  size_t begin = 0;
  size_t size = 0;
  bool adjacent = true;
  for (size_t i = 0; i < tags.size(); ++i) {
    const Field* field = record.Find(tags[i], i);
    if (field == nullptr || now >= field->expiry) {
      if (field != nullptr) {
        record.fields.erase(record.fields.begin() + (field - record.fields.data()));
        --shard.entries;
      }
      if (record.entries() == 0) shard.Erase(it);
      ++shard.misses;
      return std::nullopt;
    }
    if (i == 0) begin = field->item_offset;
    adjacent = adjacent && field->item_offset == begin + size;
    size += field->item_size;
  }
  ++shard.hits;
  std::string& out = hit.emplace().encoded_items;
  if (adjacent) {
    out = std::string(record.bytes.data() + begin, size);  // Cheaper than assign(), which allows overlap.
  } else {
    out.reserve(size);
    for (size_t i = 0; i < tags.size(); ++i) {
      const Field& field = *record.Find(tags[i], i);
      out.append(record.bytes.data() + field.item_offset, field.item_size);
    }
  }
  if (record.entries() == 0) {
    shard.Erase(it);  // Only a stale failure, and no tags asked.
  } else {
    shard.Touch(record);
  }
  return hit;
}

void ProfileCache::PutProfile(absl::string_view account, absl::Span<const std::string> tags,
                              absl::Span<const ProfileItem> items) {
  std::string encoded;
  for (const ProfileItem& item : items) AppendEncodedItem(item, encoded);
  PutProfile(account, tags, encoded);
}

void ProfileCache::PutProfile(absl::string_view account, absl::Span<const std::string> tags,
                              absl::string_view encoded_items) {
  if (ttl_ <= absl::ZeroDuration() || tags.empty()) return;
  const HashedAccount key = Hashed(account);
  Shard& shard = ShardFor(key.hash);
  if (shard.capacity == 0) return;
  // The new fields, laid out before taking the lock.
  const absl::Time expiry = clock_.Now() + ttl_;
  const std::vector<EncodedItemView> items = SplitEncodedItems(encoded_items);
  std::string fresh_bytes;
  Fields fresh;
  for (size_t i = 0; i < tags.size(); ++i) {
    const std::string& tag = tags[i];
    if (std::find(tags.begin(), tags.begin() + i, tag) != tags.begin() + i) continue;  // Stored once.
    Field& field = fresh.emplace_back();
    field.expiry = expiry;
    field.tag_offset = static_cast<uint32_t>(fresh_bytes.size());
    field.tag_size = static_cast<uint32_t>(tag.size());
    fresh_bytes.append(tag);
    field.item_offset = static_cast<uint32_t>(fresh_bytes.size());
    // A handful of items per account: a linear scan beats building an index.
    const auto item = std::find_if(items.begin(), items.end(),
                                   [&tag](const EncodedItemView& candidate) { return candidate.tag == tag; });
    if (item == items.end()) continue;
    fresh_bytes.append(item->field.data(), item->field.size());
    field.item_size = static_cast<uint32_t>(fresh_bytes.size() - field.item_offset);
  }

  // Declared before the lock so that what they end up holding (the record's old fields, bytes and failure) is freed
  // after it is released.
  Fields fields;
  std::string bytes;
  std::unique_ptr<RememberedFailure> failure;
  absl::InlinedVector<PackedField, 8> sources;
  absl::MutexLock lock(&shard.mutex);
  Record& record = shard.FindOrAdd(key);
  const int64_t before = record.entries();
  const bool linked = before > 0;
  failure.swap(record.failure);
  // The account's other fields keep their items and expiry, ahead of the new ones.
  for (const Field& kept : record.fields) {
    if (std::find(tags.begin(), tags.end(), TagOf(kept, record.bytes)) == tags.end()) {
      sources.push_back({&kept, &record.bytes});
    }
  }
  for (const Field& field : fresh) sources.push_back({&field, &fresh_bytes});
  Pack(sources, fields, bytes);
  record.fields.swap(fields);
  record.bytes.swap(bytes);
  shard.entries += record.entries() - before;
  shard.MoveToFront(record, linked);
  shard.EvictToFit();
}

void ProfileCache::PutFailure(absl::string_view account, const Failure& failure) {
  if (negative_ttl_ <= absl::ZeroDuration()) return;
  const HashedAccount key = Hashed(account);
  Shard& shard = ShardFor(key.hash);
  if (shard.capacity == 0) return;
  auto remembered = std::make_unique<RememberedFailure>(RememberedFailure{failure, clock_.Now() + negative_ttl_});
  absl::MutexLock lock(&shard.mutex);
  Record& record = shard.FindOrAdd(key);
  const bool linked = record.entries() > 0;
  if (record.failure == nullptr) ++shard.entries;
  record.failure.swap(remembered);  // A replaced failure is freed after the lock is released.
  shard.MoveToFront(record, linked);
  shard.EvictToFit();
}

ProfileCache::Stats ProfileCache::stats() const {
  Stats stats;
  for (const std::unique_ptr<Shard>& shard : shards_) {
    absl::MutexLock lock(&shard->mutex);
    stats.hits += shard->hits;
    stats.misses += shard->misses;
    stats.evictions += shard->evictions;
    stats.entries += shard->entries;
  }
  return stats;
}

}  // namespace portrait_bridge

#include "bridge/service/shared_cache_fetcher.h"

#include <algorithm>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/core/failure.h"
#include "bridge/service/caching_fetcher.h"

namespace portrait_bridge {

using portraitbridge::profile::v1::ProfileItem;
using Values = KeyValueStore::Values;

namespace {

// Stored values: one kind byte, then the kind's bytes. Printable kinds keep `redis-cli GET` readable. A value of
// an unknown kind (a newer bridge's) or that does not decode is a miss, and is overwritten by the write-back.
//
// 'I' + the ProfileItem's protobuf bytes without its tag (the key names it): the field's value.
constexpr char kItemKind = 'I';
// 'E' alone: Tencent returned no item for this tag (the field is unset).
constexpr char kNoItemKind = 'E';
// 'N' + the Tencent code in decimal + ':' + Tencent's ResultInfo for the account: it does not exist.
constexpr char kNotFoundKind = 'N';

constexpr absl::string_view kKeyPrefix = "portrait-bridge:";

std::string EncodeItem(const ProfileItem* item) {
  if (item == nullptr) return std::string(1, kNoItemKind);
  ProfileItem untagged = *item;
  untagged.clear_tag();
  std::string value(1, kItemKind);
  untagged.AppendToString(&value);
  return value;
}

// Appends the field `value` holds for `tag` to `items` (nothing for an unset field); false if it does not decode.
bool DecodeItem(absl::string_view value, const std::string& tag, std::vector<ProfileItem>& items) {
  if (value.empty()) return false;
  if (value[0] == kNoItemKind) return value.size() == 1;
  if (value[0] != kItemKind) return false;
  ProfileItem item;
  value.remove_prefix(1);
  if (!item.ParseFromArray(value.data(), static_cast<int>(value.size()))) return false;
  item.set_tag(tag);
  items.push_back(std::move(item));
  return true;
}

std::string EncodeFailure(const Failure& failure) {
  return absl::StrCat(absl::string_view(&kNotFoundKind, 1), failure.tencent_code, ":", failure.tencent_info);
}

// The failure a stored entry stands for, rebuilt as every per-account Tencent failure is; nullopt when the
// entry does not decode or names a failure this bridge would not have cached.
std::optional<Failure> DecodeFailure(absl::string_view value) {
  if (value.empty() || value[0] != kNotFoundKind) return std::nullopt;
  value.remove_prefix(1);
  const size_t colon = value.find(':');
  int64_t code = 0;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(value.substr(0, colon), &code)) return std::nullopt;
  Failure failure = TencentFailure(code, std::string(value.substr(colon + 1)));
  if (!CachingFetcher::IsCacheableFailure(failure)) return std::nullopt;
  return failure;
}

// Runs a `done` that was taken from a PendingFetch.
void Deliver(ProfileFetcher::Done done, FetchResult result) { std::move(done)(std::move(result)); }

// A lookup holds, per account, its failure entry and then one entry per tag, in the order of the tags.
size_t KeysPerAccount(const std::vector<std::string>& tags) { return tags.size() + 1; }

// Everything answered without the inner fetcher, or no accounts asked: `done` has already run.
class FinishedTicket final : public ProfileFetcher::Ticket {
 public:
  void Cancel() override {}
};

// One Fetch. Whoever takes `done` first (the lookup with all hits, the inner answer, or Cancel) delivers.
struct PendingFetch {
  explicit PendingFetch(ProfileFetcher::Done done) : done(std::move(done)) {}

  std::optional<ProfileFetcher::Done> TakeDone() ABSL_LOCKS_EXCLUDED(mutex) {
    absl::MutexLock lock(&mutex);
    return TakeDoneLocked();
  }
  std::optional<ProfileFetcher::Done> TakeDoneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    std::optional<ProfileFetcher::Done> taken = std::move(done);
    done.reset();
    return taken;
  }

  absl::Mutex mutex;
  std::optional<ProfileFetcher::Done> done ABSL_GUARDED_BY(mutex);
  bool cancelled ABSL_GUARDED_BY(mutex) = false;
  bool inner_answered ABSL_GUARDED_BY(mutex) = false;
  // Kept only while the inner Fetch may still answer, so that Cancel can reach it.
  std::shared_ptr<ProfileFetcher::Ticket> inner_ticket ABSL_GUARDED_BY(mutex);
};

class PendingTicket final : public ProfileFetcher::Ticket {
 public:
  explicit PendingTicket(std::shared_ptr<PendingFetch> pending) : pending_(std::move(pending)) {}

  void Cancel() override {
    std::optional<ProfileFetcher::Done> done;
    std::shared_ptr<ProfileFetcher::Ticket> inner;
    {
      absl::MutexLock lock(&pending_->mutex);
      done = pending_->TakeDoneLocked();
      if (!done.has_value()) return;
      pending_->cancelled = true;
      inner = std::move(pending_->inner_ticket);
    }
    if (inner != nullptr) inner->Cancel();
    FetchResult result;
    result.cancelled = true;
    Deliver(std::move(*done), std::move(result));
  }

 private:
  const std::shared_ptr<PendingFetch> pending_;
};

// Splits the lookup's values into accounts answered from the store and accounts to fetch.
void Partition(std::vector<std::string>& accounts, const std::vector<std::string>& tags,
               const absl::StatusOr<Values>& values, std::vector<AccountOutcome>& hits,
               std::vector<std::string>& missing) {
  const size_t stride = KeysPerAccount(tags);
  if (!values.ok() || values->size() != accounts.size() * stride) {
    missing = std::move(accounts);
    return;
  }
  for (size_t i = 0; i < accounts.size(); ++i) {
    const std::optional<std::string>* entries = values->data() + i * stride;
    if (entries[0].has_value()) {
      if (std::optional<Failure> failure = DecodeFailure(*entries[0]); failure.has_value()) {
        AccountOutcome& hit = hits.emplace_back();
        hit.account = std::move(accounts[i]);
        hit.failure = std::move(failure);
        continue;
      }
    }
    std::vector<ProfileItem> items;
    items.reserve(tags.size());
    bool complete = true;
    for (size_t t = 0; t < tags.size() && complete; ++t) {
      complete = entries[t + 1].has_value() && DecodeItem(*entries[t + 1], tags[t], items);
    }
    if (!complete) {
      missing.push_back(std::move(accounts[i]));
      continue;
    }
    AccountOutcome& hit = hits.emplace_back();
    hit.account = std::move(accounts[i]);
    hit.items = std::move(items);
  }
}

}  // namespace

// What lookup and inner callbacks share with the fetcher.
struct SharedCacheFetcher::Core {
  Core(ProfileFetcher& inner, KeyValueStore& store, const SharedCacheFetcherOptions& options,
       SharedCacheObserver* observer)
      : inner(inner), store(store), options(options), observer(observer) {}

  // Runs `use` with the store and observer unless the fetcher is gone. A shared lock: write-backs of different
  // Fetches do not wait for one another, only the destructor waits for them.
  template <typename Use>
  void IfOpen(Use use) ABSL_LOCKS_EXCLUDED(mutex) {
    absl::ReaderMutexLock lock(&mutex);
    if (!closed) use();
  }

  // Writes back what the inner fetcher learned, under the same rules as the local cache.
  void WriteBack(const std::vector<std::string>& tags, const std::vector<AccountOutcome>& outcomes) {
    std::vector<std::pair<std::string, std::string>> profiles;
    std::vector<std::pair<std::string, std::string>> failures;
    for (const AccountOutcome& outcome : outcomes) {
      if (outcome.failure.has_value()) {
        if (CachingFetcher::IsCacheableFailure(*outcome.failure)) {
          failures.emplace_back(NegativeKey(options.sdkappid, outcome.account), EncodeFailure(*outcome.failure));
        }
        continue;
      }
      const std::vector<ProfileItem> items = ItemsOf(outcome);
      for (const std::string& tag : tags) {
        const auto item = std::find_if(items.begin(), items.end(),
                                       [&tag](const ProfileItem& candidate) { return candidate.tag() == tag; });
        profiles.emplace_back(ProfileKey(options.sdkappid, tag, outcome.account),
                              EncodeItem(item == items.end() ? nullptr : &*item));
      }
    }
    if (options.ttl <= absl::ZeroDuration()) profiles.clear();
    if (options.negative_ttl <= absl::ZeroDuration()) failures.clear();
    if (profiles.empty() && failures.empty()) return;
    IfOpen([&] {
      if (!profiles.empty()) store.MultiSet(std::move(profiles), options.ttl);
      if (!failures.empty()) store.MultiSet(std::move(failures), options.negative_ttl);
    });
  }

  // The lookup came back: answer the hits, or ask the inner fetcher for the rest.
  static void OnLookup(const std::shared_ptr<Core>& core, const std::shared_ptr<PendingFetch>& pending,
                       std::vector<std::string> accounts, std::vector<std::string> tags, absl::Time deadline,
                       const absl::StatusOr<Values>& values) {
    {
      absl::MutexLock lock(&pending->mutex);
      if (!pending->done.has_value()) return;  // Cancelled while the lookup was out.
    }
    std::vector<AccountOutcome> hits;
    std::vector<std::string> missing;
    Partition(accounts, tags, values, hits, missing);
    core->IfOpen([&] {
      if (core->observer == nullptr) return;
      if (!values.ok()) core->observer->OnSharedCacheLookupFailed();
      core->observer->OnSharedCacheLookup(static_cast<int64_t>(hits.size()), static_cast<int64_t>(missing.size()));
    });

    if (missing.empty()) {
      std::optional<Done> done = pending->TakeDone();
      if (!done.has_value()) return;
      FetchResult result;
      result.outcomes = std::move(hits);
      Deliver(std::move(*done), std::move(result));
      return;
    }

    std::vector<std::string> inner_tags = tags;
    std::shared_ptr<Ticket> inner =
        core->inner.Fetch(std::move(missing), std::move(inner_tags), deadline,
                          [core, pending, tags = std::move(tags), hits = std::move(hits)](FetchResult result) mutable {
                            OnInnerAnswer(*core, *pending, tags, std::move(hits), std::move(result));
                          });
    bool cancel_inner = false;
    {
      absl::MutexLock lock(&pending->mutex);
      if (pending->cancelled) {
        cancel_inner = true;  // Cancel came while the inner Fetch was being made: it could not reach it.
      } else if (!pending->inner_answered) {
        pending->inner_ticket = inner;
      }
    }
    if (cancel_inner) inner->Cancel();
  }

  // The inner fetcher answered the misses: write back, then deliver them with the hits.
  static void OnInnerAnswer(Core& core, PendingFetch& pending, const std::vector<std::string>& tags,
                            std::vector<AccountOutcome> hits, FetchResult result) {
    if (!result.cancelled) core.WriteBack(tags, result.outcomes);
    std::optional<Done> done;
    std::shared_ptr<Ticket> inner;  // Released outside the lock.
    {
      absl::MutexLock lock(&pending.mutex);
      pending.inner_answered = true;
      inner = std::move(pending.inner_ticket);
      done = pending.TakeDoneLocked();
    }
    if (!done.has_value()) return;  // Cancelled meanwhile.
    if (!result.cancelled) {
      // The inner outcomes first: they are the bulk when they exist at all.
      result.outcomes.reserve(result.outcomes.size() + hits.size());
      for (AccountOutcome& hit : hits) result.outcomes.push_back(std::move(hit));
    }
    Deliver(std::move(*done), std::move(result));
  }

  ProfileFetcher& inner;
  KeyValueStore& store;
  const SharedCacheFetcherOptions options;
  SharedCacheObserver* const observer;
  absl::Mutex mutex;
  bool closed ABSL_GUARDED_BY(mutex) = false;
};

std::string SharedCacheFetcher::ProfileKey(uint64_t sdkappid, absl::string_view tag, absl::string_view account) {
  return absl::StrCat(kKeyPrefix, sdkappid, ":p:", tag, ":", account);
}

std::string SharedCacheFetcher::NegativeKey(uint64_t sdkappid, absl::string_view account) {
  return absl::StrCat(kKeyPrefix, sdkappid, ":n:", account);
}

SharedCacheFetcher::SharedCacheFetcher(ProfileFetcher& inner, KeyValueStore& store,
                                       const SharedCacheFetcherOptions& options, SharedCacheObserver* observer)
    : core_(std::make_shared<Core>(inner, store, options, observer)) {}

SharedCacheFetcher::~SharedCacheFetcher() {
  absl::MutexLock lock(&core_->mutex);
  core_->closed = true;
}

std::shared_ptr<ProfileFetcher::Ticket> SharedCacheFetcher::Fetch(std::vector<std::string> accounts,
                                                                  std::vector<std::string> tags, absl::Time deadline,
                                                                  Done done) {
  static const std::shared_ptr<Ticket>* const kFinished = new std::shared_ptr<Ticket>(new FinishedTicket());
  if (accounts.empty()) {
    std::move(done)(FetchResult{});
    return *kFinished;
  }

  std::vector<std::string> keys;
  keys.reserve(accounts.size() * KeysPerAccount(tags));
  for (const std::string& account : accounts) {
    keys.push_back(NegativeKey(core_->options.sdkappid, account));
    for (const std::string& tag : tags) keys.push_back(ProfileKey(core_->options.sdkappid, tag, account));
  }

  auto pending = std::make_shared<PendingFetch>(std::move(done));
  core_->store.MultiGet(std::move(keys), [core = core_, pending, accounts = std::move(accounts), tags = std::move(tags),
                                          deadline](absl::StatusOr<Values> values) mutable {
    Core::OnLookup(core, pending, std::move(accounts), std::move(tags), deadline, values);
  });
  return std::make_shared<PendingTicket>(std::move(pending));
}

void RedisKeyValueStore::MultiGet(std::vector<std::string> keys, GetDone done) {
  if (!client_.connected()) {
    std::move(done)(absl::UnavailableError("not connected to Redis"));
    return;
  }
  const size_t count = keys.size();
  std::vector<std::string> args;
  args.reserve(count + 1);
  args.emplace_back("MGET");
  for (std::string& key : keys) args.push_back(std::move(key));
  client_.Command(std::move(args), [count, done = std::move(done)](absl::StatusOr<RedisReply> reply) mutable {
    if (!reply.ok()) {
      std::move(done)(reply.status());
      return;
    }
    if (reply->type == RedisReply::Type::kError) {
      std::move(done)(absl::UnavailableError(absl::StrCat("Redis MGET failed: ", reply->str)));
      return;
    }
    if (reply->type != RedisReply::Type::kArray || reply->elements.size() != count) {
      std::move(done)(absl::InternalError("Redis MGET answered something other than one value per key"));
      return;
    }
    Values values(count);
    for (size_t i = 0; i < count; ++i) {
      RedisReply& element = reply->elements[i];
      if (element.type == RedisReply::Type::kString) values[i] = std::move(element.str);
    }
    std::move(done)(std::move(values));
  });
}

void RedisKeyValueStore::MultiSet(std::vector<std::pair<std::string, std::string>> entries, absl::Duration ttl) {
  if (entries.empty()) return;
  if (!client_.connected()) {
    if (observer_ != nullptr) observer_->OnSharedCacheWritesFailed(static_cast<int64_t>(entries.size()));
    return;
  }
  // PX takes whole milliseconds, at least 1.
  const std::string px = absl::StrCat(std::max<int64_t>(absl::ToInt64Milliseconds(ttl), 1));
  for (auto& [key, value] : entries) {
    client_.Command({"SET", std::move(key), std::move(value), "PX", px},
                    [observer = observer_](absl::StatusOr<RedisReply> reply) {
                      const bool failed = !reply.ok() || reply->type == RedisReply::Type::kError;
                      if (failed && observer != nullptr) observer->OnSharedCacheWritesFailed(1);
                    });
  }
}

}  // namespace portrait_bridge

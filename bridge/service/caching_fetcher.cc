#include "bridge/service/caching_fetcher.h"

#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace portrait_bridge {
namespace {

ProfileCacheOptions CacheOptions(const CachingFetcherOptions& options) {
  ProfileCacheOptions cache;
  cache.ttl = options.ttl;
  cache.max_entries = options.max_entries;
  cache.negative_ttl = options.negative_ttl;
  return cache;
}

// Everything answered from the cache: `done` has already run.
class FinishedTicket final : public ProfileFetcher::Ticket {
 public:
  void Cancel() override {}
};

// A Fetch waiting for the inner fetcher. Whoever takes `done` first (the inner answer or Cancel) delivers.
struct PendingFetch {
  PendingFetch(ProfileFetcher::Done done, std::vector<AccountOutcome> hits)
      : done(std::move(done)), hits(std::move(hits)) {}

  std::optional<ProfileFetcher::Done> TakeDone() {
    absl::MutexLock lock(&mutex);
    std::optional<ProfileFetcher::Done> taken = std::move(done);
    done.reset();
    return taken;
  }

  absl::Mutex mutex;
  std::optional<ProfileFetcher::Done> done ABSL_GUARDED_BY(mutex);
  std::vector<AccountOutcome> hits;  // Read only by whoever took `done`.
};

class PendingTicket final : public ProfileFetcher::Ticket {
 public:
  PendingTicket(std::shared_ptr<PendingFetch> pending, std::shared_ptr<ProfileFetcher::Ticket> inner)
      : pending_(std::move(pending)), inner_(std::move(inner)) {}

  void Cancel() override {
    std::optional<ProfileFetcher::Done> done = pending_->TakeDone();
    if (!done.has_value()) return;
    inner_->Cancel();
    FetchResult result;
    result.cancelled = true;
    std::move (*done)(std::move(result));
  }

 private:
  const std::shared_ptr<PendingFetch> pending_;
  const std::shared_ptr<ProfileFetcher::Ticket> inner_;
};

}  // namespace

CachingFetcher::CachingFetcher(ProfileFetcher& inner, const Clock& clock, const CachingFetcherOptions& options)
    : inner_(inner), cache_(std::make_shared<ProfileCache>(CacheOptions(options), clock)) {}

bool CachingFetcher::IsCacheableFailure(const Failure& failure) {
  return failure.tencent_code != 0 && failure.http_status == 0 && !failure.rule.retryable &&
         !failure.rule.ends_stream && failure.rule.grpc_code == absl::StatusCode::kNotFound;
}

std::shared_ptr<ProfileFetcher::Ticket> CachingFetcher::Fetch(std::vector<std::string> accounts,
                                                              std::vector<std::string> tags, absl::Time deadline,
                                                              Done done) {
  std::vector<AccountOutcome> hits;
  hits.reserve(accounts.size());  // A hot cache answers (nearly) all.
  std::vector<std::string> missing;
  for (std::string& account : accounts) {
    std::optional<ProfileCache::Hit> hit = cache_->Lookup(account, tags);
    if (!hit.has_value()) {
      missing.push_back(std::move(account));
      continue;
    }
    AccountOutcome& outcome = hits.emplace_back();
    outcome.account = std::move(account);
    outcome.failure = std::move(hit->failure);
    outcome.encoded_items = std::move(hit->encoded_items);
  }

  if (missing.empty()) {
    FetchResult result;
    result.outcomes = std::move(hits);
    std::move(done)(std::move(result));
    // Shared: a hot cache answers most Fetches here, and this ticket has no state.
    static const std::shared_ptr<Ticket>* const kFinished = new std::shared_ptr<Ticket>(new FinishedTicket());
    return *kFinished;
  }

  auto pending = std::make_shared<PendingFetch>(std::move(done), std::move(hits));
  std::vector<std::string> inner_tags = tags;
  std::shared_ptr<Ticket> inner =
      inner_.Fetch(std::move(missing), std::move(inner_tags), deadline,
                   [cache = cache_, pending, tags = std::move(tags)](FetchResult result) {
                     if (!result.cancelled) {
                       for (const AccountOutcome& outcome : result.outcomes) {
                         if (!outcome.failure.has_value()) {
                           cache->PutProfile(outcome.account, tags, EncodedItemsOf(outcome));
                         } else if (IsCacheableFailure(*outcome.failure)) {
                           cache->PutFailure(outcome.account, *outcome.failure);
                         }
                       }
                     }
                     std::optional<Done> done = pending->TakeDone();
                     if (!done.has_value()) return;  // Cancelled meanwhile.
                     if (!result.cancelled) {
                       // The inner outcomes first: they are the bulk when they exist at all.
                       result.outcomes.reserve(result.outcomes.size() + pending->hits.size());
                       for (AccountOutcome& hit : pending->hits) result.outcomes.push_back(std::move(hit));
                     }
                     std::move (*done)(std::move(result));
                   });
  return std::make_shared<PendingTicket>(std::move(pending), std::move(inner));
}

}  // namespace portrait_bridge

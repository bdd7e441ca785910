#ifndef PORTRAIT_BRIDGE_SERVICE_PROFILE_FETCHER_H_
#define PORTRAIT_BRIDGE_SERVICE_PROFILE_FETCHER_H_

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/core/failure.h"
#include "bridge/service/upstream_client.h"
#include "portraitbridge/profile/v1/profile.pb.h"

namespace portrait_bridge {

/// What the bridge learned about one account.
struct AccountOutcome {
  std::string account;
  /// Set when the account failed: its own Tencent ResultCode, or the failure of the upstream call that carried it.
  /// A failure whose rule.ends_stream is set means the bridge is misconfigured.
  std::optional<Failure> failure;
  std::vector<portraitbridge::profile::v1::ProfileItem> items;  ///< On success.
  /// On success, more items already in wire form (AppendEncodedItem's bytes), after `items`. The in-process
  /// cache answers this way, so that a cached field is serialized once, not once per answer.
  std::string encoded_items;
};

/// All of the outcome's items as messages: `items`, then `encoded_items` decoded.
std::vector<portraitbridge::profile::v1::ProfileItem> ItemsOf(const AccountOutcome& outcome);

/// All of the outcome's items in wire form: `items` encoded, then `encoded_items` (the order ItemsOf gives).
std::string EncodedItemsOf(const AccountOutcome& outcome);

/// The result of one Fetch.
struct FetchResult {
  bool cancelled = false;
  /// One outcome per account asked for (in any order), unless cancelled.
  std::vector<AccountOutcome> outcomes;
};

/// Pairs the answers to a call with the names it asked for, in one way for every place that does so: calls
/// `pair(asked_index, answer_index)` for each answer whose name was asked and has no answer yet, so an asked name
/// gets its first answer only, and an answer for a name not asked, or answered already, is passed over. Asked names
/// are meant to be distinct (both callers' are); a name asked twice is not sure to get a second answer.
/// `asked_name(i)` and `answer_name(k)` give the names as views that stay valid throughout. Answers normally come
/// in the order asked (the sandbox's always do), so answer k is first compared with asked name k; from the
/// first answer out of place on, the rest are looked up by name.
template <typename AskedName, typename AnswerName, typename Pair>
void PairAnswersWithAsked(size_t asked_count, AskedName asked_name, size_t answer_count, AnswerName answer_name,
                          Pair pair) {
  size_t k = 0;
  for (; k < answer_count && k < asked_count && answer_name(k) == asked_name(k); ++k) pair(k, k);
  if (k == answer_count) return;
  absl::flat_hash_map<absl::string_view, size_t> unanswered;  // Asked names from the first answer out of place on.
  unanswered.reserve(asked_count - std::min(k, asked_count));
  for (size_t i = k; i < asked_count; ++i) unanswered.emplace(asked_name(i), i);
  for (; k < answer_count; ++k) {
    const auto it = unanswered.find(answer_name(k));
    if (it == unanswered.end()) continue;
    pair(it->second, k);
    unanswered.erase(it);
  }
}

/// Turns an upstream call's outcome into one AccountOutcome per account in `accounts` (in that order): the call's
/// failure for all of them, or the user entry paired with each (PairAnswersWithAsked), or a failure for an account
/// the answer left out.
std::vector<AccountOutcome> OutcomesForAccounts(std::vector<std::string> accounts, CallOutcome call);

/// Fetches profiles for the GetProfiles reactors. Implementations decide how asks become upstream calls
/// (one call per ask, coalesced across streams, served from a cache). Thread-safe.
class ProfileFetcher {
 public:
  /// A Fetch in progress. Cancel() is safe from any thread, at any time, and more than once.
  class Ticket {
   public:
    virtual ~Ticket() = default;
    /// Gives up: `done` then runs with cancelled = true, unless it has already run. Other callers waiting for the
    /// same accounts are not affected.
    virtual void Cancel() = 0;
  };
  using Done = absl::AnyInvocable<void(FetchResult) &&>;

  virtual ~ProfileFetcher() = default;

  /// Fetches `tags` for `accounts` (distinct; at most 100) by `deadline`. `done` runs exactly once, on a bridge
  /// thread or inline, never while the caller holds a lock it passed in.
  virtual std::shared_ptr<Ticket> Fetch(std::vector<std::string> accounts, std::vector<std::string> tags,
                                        absl::Time deadline, Done done) = 0;
};

/// One upstream call per Fetch: no coalescing, no cache.
class DirectFetcher final : public ProfileFetcher {
 public:
  /// `upstream` must outlive this object.
  explicit DirectFetcher(UpstreamClient& upstream) : upstream_(upstream) {}
  std::shared_ptr<Ticket> Fetch(std::vector<std::string> accounts, std::vector<std::string> tags, absl::Time deadline,
                                Done done) override;

 private:
  UpstreamClient& upstream_;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_PROFILE_FETCHER_H_

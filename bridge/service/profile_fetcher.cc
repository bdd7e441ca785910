#include "bridge/service/profile_fetcher.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "bridge/core/profile_cache.h"

namespace portrait_bridge {
namespace {

class CallTicket final : public ProfileFetcher::Ticket {
 public:
  explicit CallTicket(std::shared_ptr<UpstreamClient::Call> call) : call_(std::move(call)) {}
  void Cancel() override { call_->Cancel(); }

 private:
  std::shared_ptr<UpstreamClient::Call> call_;
};

}  // namespace

std::vector<portraitbridge::profile::v1::ProfileItem> ItemsOf(const AccountOutcome& outcome) {
  std::vector<portraitbridge::profile::v1::ProfileItem> items = outcome.items;
  for (auto& item : DecodeItems(outcome.encoded_items)) items.push_back(std::move(item));
  return items;
}

std::string EncodedItemsOf(const AccountOutcome& outcome) {
  std::string encoded;
  for (const auto& item : outcome.items) AppendEncodedItem(item, encoded);
  encoded.append(outcome.encoded_items);
  return encoded;
}

std::vector<AccountOutcome> OutcomesForAccounts(const std::vector<std::string>& accounts, CallOutcome call) {
  absl::flat_hash_map<absl::string_view, UserProfileEntry*> by_account;
  for (UserProfileEntry& user : call.users) by_account.emplace(user.account, &user);
  std::vector<AccountOutcome> outcomes;
  outcomes.reserve(accounts.size());
  for (const std::string& account : accounts) {
    AccountOutcome& outcome = outcomes.emplace_back();
    outcome.account = account;
    if (call.failure.has_value()) {
      outcome.failure = call.failure;
    } else if (auto it = by_account.find(account); it == by_account.end()) {
      outcome.failure = OmittedAccountFailure();
    } else if (it->second->result_code != 0) {
      outcome.failure = TencentFailure(it->second->result_code, it->second->result_info);
    } else {
      outcome.encoded_items = std::move(it->second->encoded_items);  // A repeated account keeps its first entry.
      by_account.erase(it);
    }
  }
  return outcomes;
}

std::shared_ptr<ProfileFetcher::Ticket> DirectFetcher::Fetch(std::vector<std::string> accounts,
                                                             std::vector<std::string> tags, absl::Time deadline,
                                                             Done done) {
  std::vector<std::string> asked = accounts;
  return std::make_shared<CallTicket>(
      upstream_.Fetch(std::move(accounts), std::move(tags), deadline,
                      [asked = std::move(asked), done = std::move(done)](CallOutcome call) mutable {
                        FetchResult result;
                        result.cancelled = call.cancelled;
                        if (!call.cancelled) result.outcomes = OutcomesForAccounts(asked, std::move(call));
                        std::move(done)(std::move(result));
                      }));
}

}  // namespace portrait_bridge

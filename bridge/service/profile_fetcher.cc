#include "bridge/service/profile_fetcher.h"

#include <algorithm>
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
  std::vector<AccountOutcome> outcomes;
  outcomes.reserve(accounts.size());
  // An answer normally lists its users in the order asked (the sandbox's always does), so each account's entry is
  // first looked for at its own index: no map. From the first account found elsewhere on, the rest of the answer
  // is looked up by account instead.
  bool in_order = true;
  absl::flat_hash_map<absl::string_view, UserProfileEntry*> by_account;
  for (size_t i = 0; i < accounts.size(); ++i) {
    const std::string& account = accounts[i];
    AccountOutcome& outcome = outcomes.emplace_back();
    outcome.account = account;
    if (call.failure.has_value()) {
      outcome.failure = call.failure;
      continue;
    }
    UserProfileEntry* user = nullptr;
    if (in_order && i < call.users.size() && call.users[i].account == account) {
      user = &call.users[i];
    } else {
      if (in_order) {
        in_order = false;
        by_account.reserve(call.users.size() - std::min(i, call.users.size()));
        for (size_t k = i; k < call.users.size(); ++k) by_account.emplace(call.users[k].account, &call.users[k]);
      }
      auto it = by_account.find(account);
      if (it != by_account.end()) {
        user = it->second;
        if (user->result_code == 0) by_account.erase(it);  // Its items move out: an account asked twice gets them once.
      }
    }
    if (user == nullptr) {
      outcome.failure = OmittedAccountFailure();
    } else if (user->result_code != 0) {
      outcome.failure = TencentFailure(user->result_code, user->result_info);
    } else {
      outcome.encoded_items = std::move(user->encoded_items);  // A repeated account keeps its first entry.
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

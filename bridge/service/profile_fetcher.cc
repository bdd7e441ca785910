#include "bridge/service/profile_fetcher.h"

#include <algorithm>
#include <utility>

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

std::vector<AccountOutcome> OutcomesForAccounts(std::vector<std::string> accounts, CallOutcome call) {
  std::vector<AccountOutcome> outcomes(accounts.size());
  if (call.failure.has_value()) {
    for (AccountOutcome& outcome : outcomes) outcome.failure = call.failure;
  } else {
    std::vector<bool> answered(accounts.size());
    PairAnswersWithAsked(
        accounts.size(), [&](size_t i) -> absl::string_view { return accounts[i]; }, call.users.size(),
        [&](size_t k) -> absl::string_view { return call.users[k].account; },
        [&](size_t i, size_t k) {
          UserProfileEntry& user = call.users[k];
          answered[i] = true;
          if (user.result_code != 0) {
            outcomes[i].failure = TencentFailure(user.result_code, user.result_info);
          } else {
            outcomes[i].encoded_items = std::move(user.encoded_items);
          }
        });
    for (size_t i = 0; i < outcomes.size(); ++i) {
      if (!answered[i]) outcomes[i].failure = OmittedAccountFailure();
    }
  }
  // Last: the pairing above reads the names.
  for (size_t i = 0; i < outcomes.size(); ++i) outcomes[i].account = std::move(accounts[i]);
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
                        if (!call.cancelled) result.outcomes = OutcomesForAccounts(std::move(asked), std::move(call));
                        std::move(done)(std::move(result));
                      }));
}

}  // namespace portrait_bridge

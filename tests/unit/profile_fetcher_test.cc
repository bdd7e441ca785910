// OutcomesForAccounts (bridge/service/profile_fetcher.h): an upstream call's answer turned into one outcome per
// account asked, whatever order the answer lists its users in.

#include "bridge/service/profile_fetcher.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bridge/core/failure.h"
#include "bridge/service/upstream_client.h"

namespace portrait_bridge {
namespace {

UserProfileEntry User(const std::string& account, int64_t result_code = 0) {
  UserProfileEntry user;
  user.account = account;
  user.result_code = result_code;
  if (result_code == 0) user.encoded_items = "items of " + account;
  return user;
}

// "account: items" or "account: the failure's reason", one per outcome, in the outcomes' order.
std::vector<std::string> Described(const std::vector<AccountOutcome>& outcomes) {
  std::vector<std::string> described;
  for (const AccountOutcome& outcome : outcomes) {
    described.push_back(
        outcome.account + ": " +
        (outcome.failure.has_value() ? std::string(outcome.failure->rule.reason) : outcome.encoded_items));
  }
  return described;
}

const std::string kOmitted(OmittedAccountFailure().rule.reason);
const std::string kNotFound(TencentFailure(40003, "").rule.reason);

TEST(OutcomesForAccountsTest, AnAnswerInTheOrderAskedGivesEachAccountItsEntry) {
  CallOutcome call;
  call.users = {User("a"), User("b", 40003), User("c")};
  EXPECT_EQ(Described(OutcomesForAccounts({"a", "b", "c"}, std::move(call))),
            (std::vector<std::string>{"a: items of a", "b: " + kNotFound, "c: items of c"}));
}

TEST(OutcomesForAccountsTest, AnAnswerInAnotherOrderIsMatchedByAccount) {
  CallOutcome call;
  call.users = {User("a"), User("d"), User("stranger"), User("b", 40003)};
  EXPECT_EQ(Described(OutcomesForAccounts({"a", "b", "c", "d"}, std::move(call))),
            (std::vector<std::string>{"a: items of a", "b: " + kNotFound, "c: " + kOmitted, "d: items of d"}));
}

TEST(OutcomesForAccountsTest, AShortAnswerLeavesTheRestOmitted) {
  CallOutcome call;
  call.users = {User("a")};
  EXPECT_EQ(Described(OutcomesForAccounts({"a", "b"}, std::move(call))),
            (std::vector<std::string>{"a: items of a", "b: " + kOmitted}));
}

TEST(OutcomesForAccountsTest, AnAccountAskedTwiceGetsItsItemsOnce) {
  CallOutcome call;
  call.users = {User("b"), User("a")};
  EXPECT_EQ(Described(OutcomesForAccounts({"a", "b", "a"}, std::move(call))),
            (std::vector<std::string>{"a: items of a", "b: items of b", "a: " + kOmitted}));
}

TEST(OutcomesForAccountsTest, AnAccountAnsweredTwiceKeepsItsFirstEntry) {
  CallOutcome call;
  call.users = {User("a"), User("b"), User("b", 40003), User("a", 40003)};
  EXPECT_EQ(Described(OutcomesForAccounts({"b", "a"}, std::move(call))),
            (std::vector<std::string>{"b: items of b", "a: items of a"}));
}

TEST(OutcomesForAccountsTest, TheCallsFailureGoesToEveryAccount) {
  CallOutcome call;
  call.failure = TencentFailure(60008, "timeout");
  call.users = {User("a")};
  const std::string reason(call.failure->rule.reason);
  EXPECT_EQ(Described(OutcomesForAccounts({"a", "b"}, std::move(call))),
            (std::vector<std::string>{"a: " + reason, "b: " + reason}));
}

}  // namespace
}  // namespace portrait_bridge

#include "bridge/service/profile_requests.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "portraitbridge/profile/v1/profile.pb.h"
#include "tests/unit/fetcher_fakes.h"

namespace portrait_bridge {
namespace {

namespace v1 = portraitbridge::profile::v1;

constexpr char kNick[] = "Tag_Profile_IM_Nick";

std::string StreamRequest(const std::vector<std::string>& accounts, const std::vector<std::string>& tags,
                          const std::string& request_id = "") {
  v1::GetProfilesRequest request;
  request.set_request_id(request_id);
  for (const std::string& account : accounts) request.add_accounts(account);
  for (const std::string& tag : tags) request.add_tags(tag);
  return request.SerializeAsString();
}

std::string BatchRequest(const std::vector<std::string>& accounts, const std::vector<std::string>& tags) {
  v1::BatchGetProfilesRequest request;
  for (const std::string& account : accounts) request.add_accounts(account);
  for (const std::string& tag : tags) request.add_tags(tag);
  return request.SerializeAsString();
}

v1::GetProfilesResponse Decode(const ResponseEncoder& encoder) {
  v1::GetProfilesResponse response;
  EXPECT_TRUE(response.ParseFromString(encoder.bytes()));
  return response;
}

// The field paths of the BadRequest detail of `status`.
std::vector<std::string> ViolatedFields(const google::rpc::Status& status) {
  std::vector<std::string> fields;
  for (const auto& detail : status.details()) {
    google::rpc::BadRequest bad_request;
    if (!detail.UnpackTo(&bad_request)) continue;
    for (const auto& violation : bad_request.field_violations()) fields.push_back(violation.field());
  }
  return fields;
}

google::rpc::Status Details(const grpc::Status& status) {
  google::rpc::Status details;
  EXPECT_TRUE(details.ParseFromString(status.error_details()));
  return details;
}

// Answers every pending call with a nickname per account, except for the accounts in `missing` (40003).
void AnswerAll(ProfileRequests& requests, const std::vector<std::string>& missing = {}) {
  while (requests.has_pending_call()) {
    ProfileRequests::Call call = requests.TakeNextCall();
    std::vector<AccountOutcome> outcomes;
    for (const std::string& account : call.accounts) {
      if (std::find(missing.begin(), missing.end(), account) != missing.end()) {
        outcomes.push_back(Failed(account, TencentFailure(40003, "not found")));
      } else {
        outcomes.push_back(Success(account, {StringItem(kNick, "nick-" + account)}));
      }
    }
    EXPECT_FALSE(requests.OnAnswer(call.request_index, std::move(outcomes)).has_value());
  }
}

ServerLimits AcceptedAccounts(int64_t limit) {
  ServerLimits limits;
  limits.max_accepted_accounts = limit;
  return limits;
}

class ProfileRequestsTest : public ::testing::Test {
 protected:
  StreamLimits limits_;
  ServerQuotas quotas_{ServerLimits{}};
};

TEST_F(ProfileRequestsTest, FetchesADuplicatedAccountOnceAndAnswersEveryEntry) {
  ProfileRequests requests(limits_, quotas_, nullptr);
  EXPECT_FALSE(requests.AcceptStreamRequest(StreamRequest({"alice", "bob", "alice"}, {kNick}, "r1")).has_value());
  ASSERT_TRUE(requests.has_pending_call());
  ProfileRequests::Call call = requests.TakeNextCall();
  EXPECT_EQ(call.accounts, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_FALSE(requests.has_pending_call());
  EXPECT_EQ(requests.TagsOf(0), std::vector<std::string>{kNick});
  EXPECT_EQ(quotas_.accepted_accounts.used(), 2);

  ASSERT_FALSE(
      requests.OnAnswer(0, {Success("bob", {StringItem(kNick, "Bob")}), Success("alice", {StringItem(kNick, "Alice")})})
          .has_value());
  std::optional<ResponseEncoder> encoded = requests.NextResponse();
  ASSERT_TRUE(encoded.has_value());
  const v1::GetProfilesResponse response = Decode(*encoded);
  EXPECT_EQ(response.request_id(), "r1");
  EXPECT_TRUE(response.request_complete());
  ASSERT_EQ(response.results_size(), 3);
  int alices = 0;
  for (const v1::AccountResult& result : response.results()) {
    EXPECT_EQ(result.result_code(), v1::RESULT_CODE_OK);
    if (result.account() == "alice") ++alices;
  }
  EXPECT_EQ(alices, 2);
  EXPECT_FALSE(requests.NextResponse().has_value());
  EXPECT_FALSE(requests.work_left());
  EXPECT_EQ(quotas_.accepted_accounts.used(), 0);  // Given back once answered.
  EXPECT_EQ(requests.accounts_answered(), 3);
  EXPECT_TRUE(requests.status().ok());
}

TEST_F(ProfileRequestsTest, SplitsARequestIntoCallsOfAtMostMaxAccountsPerCall) {
  limits_.max_accounts_per_call = 2;
  ProfileRequests requests(limits_, quotas_, nullptr);
  requests.AcceptStreamRequest(StreamRequest({"a", "b", "c", "d", "e"}, {kNick}));
  std::vector<size_t> sizes;
  while (requests.has_pending_call()) sizes.push_back(requests.TakeNextCall().accounts.size());
  EXPECT_EQ(sizes, (std::vector<size_t>{2, 2, 1}));
}

// The lookup latency runs from a request's acceptance to the response that completes it: only that response
// says when the request was accepted.
TEST_F(ProfileRequestsTest, OnlyTheResponseCompletingARequestCarriesItsAcceptanceTime) {
  limits_.max_accounts_per_call = 1;
  ProfileRequests requests(limits_, quotas_, nullptr);
  const absl::Time before = absl::Now();
  requests.AcceptStreamRequest(StreamRequest({"a", "b"}, {kNick}));
  const absl::Time after = absl::Now();
  ProfileRequests::Call first = requests.TakeNextCall();
  ASSERT_FALSE(requests.OnAnswer(0, {Success(first.accounts[0], {StringItem(kNick, "A")})}).has_value());
  absl::Time completes = absl::InfinitePast();
  ASSERT_TRUE(requests.NextResponse(&completes).has_value());
  EXPECT_EQ(completes, absl::InfinitePast());  // One of two accounts: the request is not complete.
  AnswerAll(requests);
  std::optional<ResponseEncoder> last = requests.NextResponse(&completes);
  ASSERT_TRUE(last.has_value());
  EXPECT_TRUE(Decode(*last).request_complete());
  EXPECT_GE(completes, before);
  EXPECT_LE(completes, after);
}

TEST_F(ProfileRequestsTest, RefusesAnInvalidRequestInBandAndGoesOn) {
  ProfileRequests requests(limits_, quotas_, nullptr);
  std::optional<ResponseEncoder> refusal = requests.AcceptStreamRequest(StreamRequest({"alice"}, {"Nick"}, "bad"));
  ASSERT_TRUE(refusal.has_value());
  const v1::GetProfilesResponse response = Decode(*refusal);
  EXPECT_EQ(response.request_id(), "bad");
  EXPECT_TRUE(response.request_complete());
  EXPECT_EQ(response.status().code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(ViolatedFields(response.status()), std::vector<std::string>{"requests[0].tags[0]"});
  EXPECT_FALSE(requests.has_pending_call());
  EXPECT_FALSE(requests.stop_reading());
  EXPECT_EQ(requests.invalid_requests(), 1);

  EXPECT_FALSE(requests.AcceptStreamRequest(StreamRequest({"bob"}, {kNick})).has_value());
  ASSERT_TRUE(requests.has_pending_call());
  EXPECT_EQ(requests.TakeNextCall().request_index, 1u);
}

TEST_F(ProfileRequestsTest, AnUndecodableMessageEndsTheStreamAfterTheAcceptedRequests) {
  ProfileRequests requests(limits_, quotas_, nullptr);
  requests.AcceptStreamRequest(StreamRequest({"alice"}, {kNick}));
  EXPECT_FALSE(requests.AcceptStreamRequest("\xff\xff\xff").has_value());
  EXPECT_TRUE(requests.stop_reading());
  EXPECT_FALSE(requests.ended());
  AnswerAll(requests);
  ASSERT_TRUE(requests.NextResponse().has_value());  // The accepted request is still answered.
  const grpc::Status status = requests.status();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(Details(status)), std::vector<std::string>{"requests[1]"});
}

TEST_F(ProfileRequestsTest, MoreAccountsThanMaxAccountsPerStreamEndTheStream) {
  limits_.max_accounts_per_stream = 3;
  ProfileRequests requests(limits_, quotas_, nullptr);
  requests.AcceptStreamRequest(StreamRequest({"a", "b"}, {kNick}));
  requests.AcceptStreamRequest(StreamRequest({"c", "d"}, {kNick}));
  EXPECT_TRUE(requests.stop_reading());
  const grpc::Status status = requests.status();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("max_accounts_per_stream"), std::string::npos);
  EXPECT_EQ(ViolatedFields(Details(status)), std::vector<std::string>{"requests[1].accounts"});
}

TEST_F(ProfileRequestsTest, ARequestOverTheAcceptedAccountsQuotaIsRefusedBeforeAnyFetch) {
  ServerQuotas quotas(AcceptedAccounts(3));
  ProfileRequests requests(limits_, quotas, nullptr);
  requests.AcceptStreamRequest(StreamRequest({"a", "b"}, {kNick}));
  requests.TakeNextCall();
  std::optional<ResponseEncoder> refusal = requests.AcceptStreamRequest(StreamRequest({"c", "d"}, {kNick}));
  ASSERT_TRUE(refusal.has_value());
  const v1::GetProfilesResponse response = Decode(*refusal);
  EXPECT_EQ(response.status().code(), static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_NE(response.status().message().find("max_accepted_accounts"), std::string::npos);
  EXPECT_FALSE(requests.has_pending_call());
  EXPECT_EQ(quotas.accepted_accounts.used(), 2);
  // A duplicate costs nothing more: two distinct accounts fit in what is left... once the first is answered.
  ASSERT_FALSE(requests.OnAnswer(0, {Success("a", {}), Success("b", {})}).has_value());
  requests.NextResponse();
  EXPECT_EQ(quotas.accepted_accounts.used(), 0);
  EXPECT_FALSE(requests.AcceptStreamRequest(StreamRequest({"c", "d", "c", "d", "c"}, {kNick})).has_value());
  EXPECT_EQ(quotas.accepted_accounts.used(), 2);
}

TEST_F(ProfileRequestsTest, GivesBackTheAccountsOfUnansweredRequestsWhenDestroyed) {
  {
    ProfileRequests requests(limits_, quotas_, nullptr);
    requests.AcceptStreamRequest(StreamRequest({"a", "b"}, {kNick}));
    EXPECT_TRUE(requests.AcceptBatchGet(BatchRequest({"c"}, {kNick})).ok());
    EXPECT_EQ(quotas_.accepted_accounts.used(), 3);
  }
  EXPECT_EQ(quotas_.accepted_accounts.used(), 0);
}

TEST_F(ProfileRequestsTest, NoResponseIsLargerThanKMaxResponseBytes) {
  ProfileRequests requests(limits_, quotas_, nullptr);
  // 3,000 entries of one account whose result is about 1 KiB, and one more account.
  std::vector<std::string> accounts(3000, "big");
  accounts.push_back("small");
  requests.AcceptStreamRequest(StreamRequest(accounts, {kNick}));
  ProfileRequests::Call call = requests.TakeNextCall();
  ASSERT_FALSE(requests
                   .OnAnswer(0, {Success("big", {StringItem(kNick, std::string(1000, 'x'))}),
                                 Success("small", {StringItem(kNick, "s")})})
                   .has_value());
  int results = 0;
  int responses = 0;
  bool complete = false;
  while (std::optional<ResponseEncoder> encoded = requests.NextResponse()) {
    EXPECT_LE(encoded->size(), kMaxResponseBytes);
    const v1::GetProfilesResponse response = Decode(*encoded);
    EXPECT_FALSE(complete) << "a response after request_complete";
    complete = response.request_complete();
    results += response.results_size();
    ++responses;
  }
  EXPECT_EQ(results, 3001);
  EXPECT_GE(responses, 3);
  EXPECT_TRUE(complete);
}

TEST_F(ProfileRequestsTest, AMisconfigurationEndsTheCallWithItsStatus) {
  ProfileRequests requests(limits_, quotas_, nullptr);
  requests.AcceptStreamRequest(StreamRequest({"a", "b"}, {kNick}));
  ProfileRequests::Call call = requests.TakeNextCall();
  std::optional<grpc::Status> fatal =
      requests.OnAnswer(0, {Failed("a", TencentFailure(60004, "bad sig")), Failed("b", TencentFailure(60004, ""))});
  ASSERT_TRUE(fatal.has_value());
  EXPECT_EQ(fatal->error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  requests.End(*fatal);
  EXPECT_TRUE(requests.ended());
  EXPECT_TRUE(requests.stop_reading());
  EXPECT_EQ(requests.status().error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  // The first End wins.
  requests.End(grpc::Status(grpc::StatusCode::CANCELLED, "later"));
  EXPECT_EQ(requests.status().error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(ProfileRequestsTest, EndDropsCallsNotYetMade) {
  limits_.max_accounts_per_call = 1;
  ProfileRequests requests(limits_, quotas_, nullptr);
  requests.AcceptStreamRequest(StreamRequest({"a", "b"}, {kNick}));
  requests.End(grpc::Status(grpc::StatusCode::CANCELLED, "gone"));
  EXPECT_FALSE(requests.work_left());
  EXPECT_EQ(requests.status().error_code(), grpc::StatusCode::CANCELLED);
  // An answer arriving after the end builds nothing.
  EXPECT_FALSE(requests.OnAnswer(0, {Success("a", {})}).has_value());
  EXPECT_FALSE(requests.NextResponse().has_value());
}

TEST_F(ProfileRequestsTest, BatchGetAnswersEveryEntryInRequestOrder) {
  limits_.max_accounts_per_call = 2;
  ProfileRequests requests(limits_, quotas_, nullptr);
  ASSERT_TRUE(requests.AcceptBatchGet(BatchRequest({"carol", "alice", "ghost", "alice", "bob"}, {kNick})).ok());
  EXPECT_EQ(quotas_.accepted_accounts.used(), 4);
  EXPECT_FALSE(requests.batch_answered());
  std::vector<std::vector<std::string>> calls;
  std::vector<ProfileRequests::Call> pending;
  while (requests.has_pending_call()) pending.push_back(requests.TakeNextCall());
  for (const auto& call : pending) calls.push_back(call.accounts);
  EXPECT_EQ(calls, (std::vector<std::vector<std::string>>{{"carol", "alice"}, {"ghost", "bob"}}));
  // Answers arrive in any order, the last call first.
  ASSERT_FALSE(requests
                   .OnAnswer(0, {Success("bob", {StringItem(kNick, "Bob")}),
                                 Failed("ghost", TencentFailure(40003, "not found"))})
                   .has_value());
  EXPECT_FALSE(requests.batch_answered());
  ASSERT_FALSE(
      requests
          .OnAnswer(0, {Success("alice", {StringItem(kNick, "Alice")}), Success("carol", {StringItem(kNick, "Carol")})})
          .has_value());
  ASSERT_TRUE(requests.batch_answered());
  EXPECT_EQ(quotas_.accepted_accounts.used(), 0);

  v1::BatchGetProfilesResponse response;
  ASSERT_TRUE(response.ParseFromString(requests.TakeBatchResponse()));
  std::vector<std::string> order;
  for (const v1::AccountResult& result : response.results()) order.push_back(result.account());
  EXPECT_EQ(order, (std::vector<std::string>{"carol", "alice", "ghost", "alice", "bob"}));
  EXPECT_EQ(response.results(1).items(0).string_value(), "Alice");
  EXPECT_EQ(response.results(3).items(0).string_value(), "Alice");
  EXPECT_EQ(response.results(0).result_code(), v1::RESULT_CODE_OK);
  EXPECT_EQ(response.results(2).tencent_code(), 40003);
  EXPECT_EQ(response.results(2).status().code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(requests.accounts_answered(), 5);
  EXPECT_EQ(requests.accounts_failed(), 1);
  EXPECT_TRUE(requests.status().ok());
}

TEST_F(ProfileRequestsTest, BatchGetRefusesAnInvalidRequestNamingItsFields) {
  ProfileRequests requests(limits_, quotas_, nullptr);
  const grpc::Status status = requests.AcceptBatchGet(BatchRequest({"alice", ""}, {"Nick", kNick}));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(Details(status)), (std::vector<std::string>{"accounts[1]", "tags[0]"}));
  EXPECT_FALSE(requests.has_pending_call());
  EXPECT_EQ(quotas_.accepted_accounts.used(), 0);
  EXPECT_EQ(requests.invalid_requests(), 1);

  ProfileRequests empty(limits_, quotas_, nullptr);
  EXPECT_EQ(ViolatedFields(Details(empty.AcceptBatchGet(""))), (std::vector<std::string>{"accounts", "tags"}));
  ProfileRequests garbage(limits_, quotas_, nullptr);
  EXPECT_EQ(garbage.AcceptBatchGet("\xff\xff\xff").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ProfileRequestsTest, BatchGetOverMaxAccountsPerBatchGetPointsToTheStream) {
  limits_.max_accounts_per_batch_get = 3;
  ProfileRequests requests(limits_, quotas_, nullptr);
  const grpc::Status status = requests.AcceptBatchGet(BatchRequest({"a", "b", "c", "a"}, {kNick}));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("max_accounts_per_batch_get"), std::string::npos);
  EXPECT_NE(status.error_message().find("GetProfiles"), std::string::npos);
  EXPECT_EQ(ViolatedFields(Details(status)), std::vector<std::string>{"accounts"});

  ProfileRequests at_limit(limits_, quotas_, nullptr);
  EXPECT_TRUE(at_limit.AcceptBatchGet(BatchRequest({"a", "b", "c"}, {kNick})).ok());
}

TEST_F(ProfileRequestsTest, BatchGetOverTheAcceptedAccountsQuotaIsResourceExhausted) {
  ServerQuotas quotas(AcceptedAccounts(2));
  ProfileRequests requests(limits_, quotas, nullptr);
  const grpc::Status status = requests.AcceptBatchGet(BatchRequest({"a", "b", "c"}, {kNick}));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("max_accepted_accounts"), std::string::npos);
  EXPECT_EQ(quotas.accepted_accounts.used(), 0);
  EXPECT_FALSE(requests.has_pending_call());
}

TEST_F(ProfileRequestsTest, BatchGetMisconfigurationEndsTheCall) {
  ProfileRequests requests(limits_, quotas_, nullptr);
  ASSERT_TRUE(requests.AcceptBatchGet(BatchRequest({"a"}, {kNick})).ok());
  ProfileRequests::Call call = requests.TakeNextCall();
  std::optional<grpc::Status> fatal = requests.OnAnswer(0, {Failed("a", TencentFailure(60006, "bad app"))});
  ASSERT_TRUE(fatal.has_value());
  EXPECT_EQ(fatal->error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace portrait_bridge

// End-to-end tests: the real bridge and the real sandbox upstream, on loopback ports, over real HTTP and gRPC.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "tests/integration/stack.h"

namespace portrait_bridge::testing {
namespace {

using ::grpc::StatusCode;

const std::vector<std::string> kTags = {"Tag_Profile_IM_Nick", "Tag_Profile_IM_BirthDay", "Tag_Profile_IM_Gender"};

// Every account of `requested` answered exactly once, in any order.
void ExpectEachAnsweredOnce(const std::vector<v1::AccountResult>& results, const std::vector<std::string>& requested) {
  std::multiset<std::string> answered;
  for (const auto& result : results) answered.insert(result.account());
  EXPECT_EQ(answered, std::multiset<std::string>(requested.begin(), requested.end()));
}

const v1::AccountResult* Find(const std::vector<v1::AccountResult>& results, const std::string& account) {
  for (const auto& result : results) {
    if (result.account() == account) return &result;
  }
  return nullptr;
}

const v1::ProfileItem* FindItem(const v1::AccountResult& result, const std::string& tag) {
  for (const auto& item : result.items()) {
    if (item.tag() == tag) return &item;
  }
  return nullptr;
}

class BridgeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      sandbox_ = new Sandbox();
      // Retries off: these tests check how each failure of one call is reported; outage_integration_test.cc
      // checks the retries.
      bridge_ = new Bridge(sandbox_->base_url(), {"--retry_max_attempts=1"});
    } catch (const std::exception& e) {
      start_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete bridge_;
    delete sandbox_;
  }
  void SetUp() override {
    ASSERT_NE(bridge_, nullptr) << "could not start the sandbox and the bridge: " << start_error_;
    sandbox_->SetFaults(nlohmann::json::object());
    channel_ = bridge_->NewChannel();
  }

  static inline std::string start_error_;
  static Sandbox* sandbox_;
  static Bridge* bridge_;
  std::shared_ptr<grpc::Channel> channel_;
};

Sandbox* BridgeTest::sandbox_ = nullptr;
Bridge* BridgeTest::bridge_ = nullptr;

TEST_F(BridgeTest, ReturnsTypedProfiles) {
  const StreamOutcome outcome = RunStream(*channel_, {MakeRequest({"alice", "user42"}, kTags, "first")});
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  ASSERT_EQ(outcome.responses.size(), 1u);
  EXPECT_EQ(outcome.responses[0].request_index(), 0u);
  EXPECT_EQ(outcome.responses[0].request_id(), "first");
  EXPECT_TRUE(outcome.responses[0].request_complete());
  const auto& results = outcome.results_by_request.at(0);
  ExpectEachAnsweredOnce(results, {"alice", "user42"});
  for (const auto& result : results) {
    EXPECT_EQ(result.result_code(), v1::RESULT_CODE_OK);
    EXPECT_EQ(result.status().code(), 0);
    const auto* nick = FindItem(result, "Tag_Profile_IM_Nick");
    ASSERT_NE(nick, nullptr);
    EXPECT_EQ(nick->value_case(), v1::ProfileItem::kStringValue);
    EXPECT_FALSE(nick->string_value().empty());
    const auto* birthday = FindItem(result, "Tag_Profile_IM_BirthDay");
    ASSERT_NE(birthday, nullptr);
    EXPECT_EQ(birthday->value_case(), v1::ProfileItem::kUintValue);
    EXPECT_GT(birthday->uint_value(), 19000000u);
    const auto* gender = FindItem(result, "Tag_Profile_IM_Gender");
    ASSERT_NE(gender, nullptr);
    EXPECT_TRUE(gender->string_value().rfind("Gender_Type_", 0) == 0) << gender->string_value();
  }
  EXPECT_EQ(FindItem(*Find(results, "alice"), "Tag_Profile_IM_Nick")->string_value(), "Alice");
}

TEST_F(BridgeTest, ManyRequestsOnOneStreamEachAnsweredOnce) {
  std::vector<v1::GetProfilesRequest> requests;
  for (int i = 0; i < 5; ++i) requests.push_back(MakeRequest(Users(i * 10, 10), kTags, "r" + std::to_string(i)));
  const StreamOutcome outcome = RunStream(*channel_, requests);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  ASSERT_EQ(outcome.results_by_request.size(), 5u);
  for (int i = 0; i < 5; ++i) ExpectEachAnsweredOnce(outcome.results_by_request.at(i), Users(i * 10, 10));
  for (const auto& response : outcome.responses) {
    EXPECT_EQ(response.request_id(), "r" + std::to_string(response.request_index()));
  }
}

TEST_F(BridgeTest, DuplicateAccountsInOneRequestGetOneResultPerEntry) {
  const StreamOutcome outcome = RunStream(*channel_, {MakeRequest({"bob", "bob", "carol"}, kTags)});
  ASSERT_TRUE(outcome.status.ok());
  ExpectEachAnsweredOnce(outcome.results_by_request.at(0), {"bob", "bob", "carol"});
}

TEST_F(BridgeTest, MoreThan100AccountsAreSplitIntoCallsOfAtMost100) {
  const nlohmann::json before = sandbox_->Stats();
  const std::vector<std::string> accounts = Users(1000, 250);
  const StreamOutcome outcome = RunStream(*channel_, {MakeRequest(accounts, kTags)});
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  ExpectEachAnsweredOnce(outcome.results_by_request.at(0), accounts);
  for (const auto& result : outcome.results_by_request.at(0)) EXPECT_EQ(result.status().code(), 0);
  EXPECT_EQ(outcome.responses.size(), 3u);
  int complete = 0;
  for (const auto& response : outcome.responses) complete += response.request_complete() ? 1 : 0;
  EXPECT_EQ(complete, 1);
  EXPECT_TRUE(outcome.responses.back().request_complete());
  const nlohmann::json after = sandbox_->Stats();
  EXPECT_EQ(after["calls"].get<int>() - before["calls"].get<int>(), 3);
  EXPECT_LE(after["max_accounts_per_call"].get<int>(), 100);
}

TEST_F(BridgeTest, UnknownAccountIsAPartialFailure) {
  const StreamOutcome outcome = RunStream(*channel_, {MakeRequest({"alice", "nobody-here"}, kTags)});
  ASSERT_TRUE(outcome.status.ok());
  const auto& results = outcome.results_by_request.at(0);
  ExpectEachAnsweredOnce(results, {"alice", "nobody-here"});
  EXPECT_EQ(Find(results, "alice")->status().code(), 0);
  const auto* missing = Find(results, "nobody-here");
  EXPECT_EQ(missing->result_code(), v1::RESULT_CODE_PROFILE_ACCOUNT_NOT_FOUND);
  EXPECT_EQ(missing->tencent_code(), 40003);
  EXPECT_EQ(missing->status().code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(missing->items().empty());
  const auto info = ErrorInfoOf(missing->status());
  EXPECT_EQ(info.reason(), "TENCENT_40003");
  EXPECT_EQ(info.metadata().at("tencent_code"), "40003");
}

TEST_F(BridgeTest, PerUserFailureFromUpstreamStaysOnThatAccount) {
  sandbox_->SetFaults({{"fail_accounts", {{"user7", 40006}}}});
  const StreamOutcome outcome = RunStream(*channel_, {MakeRequest(Users(5, 4), kTags)});
  ASSERT_TRUE(outcome.status.ok());
  const auto& results = outcome.results_by_request.at(0);
  ExpectEachAnsweredOnce(results, Users(5, 4));
  for (const auto& result : results) {
    if (result.account() == "user7") {
      EXPECT_EQ(result.result_code(), v1::RESULT_CODE_PROFILE_INTERNAL_ERROR);
      EXPECT_EQ(result.status().code(), grpc::StatusCode::UNAVAILABLE);
      EXPECT_EQ(ErrorInfoOf(result.status()).metadata().at("retryable"), "true");
    } else {
      EXPECT_EQ(result.status().code(), 0) << result.account();
    }
  }
}

// A failed upstream call is reported on its accounts; the stream and the other calls go on.
struct CallFault {
  const char* name;
  nlohmann::json faults;
  grpc::StatusCode code;
  const char* reason;
};

void PrintTo(const CallFault& fault, std::ostream* out) { *out << fault.name; }

class CallFaultTest : public BridgeTest, public ::testing::WithParamInterface<CallFault> {};

TEST_P(CallFaultTest, ReportedOnTheAccountsOfThatCall) {
  sandbox_->SetFaults(GetParam().faults);
  const std::vector<std::string> accounts = Users(0, 150);  // Two calls: the first fails, the second succeeds.
  const StreamOutcome outcome = RunStream(*channel_, {MakeRequest(accounts, kTags)});
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  const auto& results = outcome.results_by_request.at(0);
  ExpectEachAnsweredOnce(results, accounts);
  int failed = 0;
  int succeeded = 0;
  for (const auto& result : results) {
    if (result.status().code() == 0) {
      ++succeeded;
      continue;
    }
    ++failed;
    EXPECT_EQ(result.status().code(), GetParam().code) << result.status().message();
    EXPECT_EQ(ErrorInfoOf(result.status()).reason(), GetParam().reason);
    EXPECT_FALSE(result.status().message().empty());
  }
  // Exactly one of the two calls failed; which one depends on which reached the sandbox first.
  EXPECT_TRUE((failed == 100 && succeeded == 50) || (failed == 50 && succeeded == 100))
      << failed << " failed, " << succeeded << " succeeded";
}

INSTANTIATE_TEST_SUITE_P(
    Faults, CallFaultTest,
    ::testing::Values(
        CallFault{"Http502", {{"http_502_count", 1}}, grpc::StatusCode::UNAVAILABLE, "UPSTREAM_HTTP_5XX"},
        CallFault{"NonJson", {{"non_json_count", 1}}, grpc::StatusCode::UNAVAILABLE, "UPSTREAM_MALFORMED_BODY"},
        CallFault{"Truncated", {{"truncated_count", 1}}, grpc::StatusCode::UNAVAILABLE, "UPSTREAM_MALFORMED_BODY"},
        CallFault{"ServiceTimeout60008",
                  {{"error_code", 60008}, {"error_count", 1}},
                  grpc::StatusCode::UNAVAILABLE,
                  "TENCENT_60008"},
        CallFault{"Throttled60007",
                  {{"error_code", 60007}, {"error_count", 1}},
                  grpc::StatusCode::RESOURCE_EXHAUSTED,
                  "TENCENT_60007"}),
    [](const auto& info) { return std::string(info.param.name); });

// libcurl itself resends once when a reused keep-alive connection turns out dead before any byte of the answer,
// so a single drop can be absorbed; here every connection is dropped.
TEST_F(BridgeTest, DroppedConnectionsAreReportedOnTheAccounts) {
  sandbox_->SetFaults({{"drop_connection_count", 1000}});
  const StreamOutcome outcome = RunStream(*channel_, {MakeRequest({"alice", "bob"}, kTags)});
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  ExpectEachAnsweredOnce(outcome.results_by_request.at(0), {"alice", "bob"});
  for (const auto& result : outcome.results_by_request.at(0)) {
    EXPECT_EQ(result.status().code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(ErrorInfoOf(result.status()).reason(), "UPSTREAM_CONNECTION_LOST") << result.status().message();
    EXPECT_EQ(result.result_code(), v1::RESULT_CODE_NO_UPSTREAM_ANSWER);
  }
}

TEST_F(BridgeTest, HttpFailureCarriesTheHttpStatus) {
  sandbox_->SetFaults({{"http_502_count", 1}});
  const StreamOutcome outcome = RunStream(*channel_, {MakeRequest({"alice"}, kTags)});
  ASSERT_TRUE(outcome.status.ok());
  const auto& result = outcome.results_by_request.at(0).at(0);
  EXPECT_EQ(result.result_code(), v1::RESULT_CODE_NO_UPSTREAM_ANSWER);
  EXPECT_EQ(ErrorInfoOf(result.status()).metadata().at("http_status"), "502");
}

TEST_F(BridgeTest, ExpiredUserSigIsRenewedAndTheCallRetriedOnce) {
  sandbox_->SetFaults({{"usersig_expired_count", 1}});
  const nlohmann::json before = sandbox_->Stats();
  const StreamOutcome outcome = RunStream(*channel_, {MakeRequest({"alice"}, kTags)});
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_EQ(outcome.results_by_request.at(0).at(0).status().code(), 0);
  EXPECT_EQ(sandbox_->Stats()["calls"].get<int>() - before["calls"].get<int>(), 2);
}

TEST_F(BridgeTest, UserSigStillExpiredAfterRenewalEndsTheStream) {
  sandbox_->SetFaults({{"usersig_expired_count", 1000}});
  const StreamOutcome outcome = RunStream(*channel_, {MakeRequest({"alice"}, kTags)});
  EXPECT_EQ(outcome.status.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorInfoOf(outcome.details).reason(), "TENCENT_70001");
  EXPECT_NE(outcome.status.error_message().find("clock"), std::string::npos) << outcome.status.error_message();
}

TEST_F(BridgeTest, DeadlineShorterThanUpstreamLatency) {
  sandbox_->SetFaults({{"latency_ms", 1500}});
  const auto start = std::chrono::steady_clock::now();
  const StreamOutcome outcome = RunStream(*channel_, {MakeRequest({"alice"}, kTags)}, /*deadline_ms=*/300);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(outcome.status.error_code(), StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(elapsed, std::chrono::milliseconds(1200));
  // The bridge keeps serving.
  sandbox_->SetFaults(nlohmann::json::object());
  EXPECT_TRUE(RunStream(*channel_, {MakeRequest({"alice"}, kTags)}).status.ok());
}

// Cancelling the stream cancels the upstream call it was waiting for: the bridge's transfer ends as "cancelled"
// while the sandbox is still holding the request (its answer is 3 s away), not when the answer comes.
TEST(BridgeCancelTest, CancelledStreamCancelsItsUpstreamCall) {
  Sandbox sandbox;
  TempDir dir;
  Bridge bridge(sandbox.base_url(), {"--retry_max_attempts=1", "--metrics_address=127.0.0.1:0",
                                     "--metrics_port_file=" + dir.Path("metrics.port")});
  const int metrics_port = bridge.process().WaitForPortFile(dir.Path("metrics.port"));
  const std::string cancelled_series = "portrait_bridge_upstream_calls_total{code=\"cancelled\"}";
  sandbox.SetFaults({{"latency_ms", 3000}});
  auto channel = bridge.NewChannel();
  auto stub = v1::ProfileService::NewStub(channel);
  grpc::ClientContext context;
  auto stream = stub->GetProfiles(&context);
  ASSERT_TRUE(stream->Write(MakeRequest({"alice"}, kTags)));
  ASSERT_TRUE(WaitUntil([&] { return sandbox.Stats()["in_flight"].get<int64_t>() == 1; }))
      << "the upstream call never reached the sandbox";
  EXPECT_EQ(MetricSample(ScrapeMetrics(metrics_port), "portrait_bridge_upstream_calls_in_flight"), 1);

  const auto cancelled_at = std::chrono::steady_clock::now();
  context.TryCancel();
  v1::GetProfilesResponse response;
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), StatusCode::CANCELLED);
  // The series appears with the first cancelled transfer (MetricSample would fail the test while it is absent).
  ASSERT_TRUE(WaitUntil([&] { return absl::StrContains(ScrapeMetrics(metrics_port), cancelled_series + " 1"); }))
      << "the bridge's upstream transfer was not cancelled";
  EXPECT_LT(std::chrono::steady_clock::now() - cancelled_at, std::chrono::seconds(2))
      << "the transfer ended with the sandbox's late answer, not with the cancel";
  EXPECT_EQ(MetricSample(ScrapeMetrics(metrics_port), "portrait_bridge_upstream_calls_in_flight"), 0);

  sandbox.SetFaults(nlohmann::json::object());
  EXPECT_TRUE(RunStream(*channel, {MakeRequest({"bob"}, kTags)}).status.ok());
  EXPECT_TRUE(bridge.process().Running());
}

// Each kind of bad input: answered in-band, on a response of its own with INVALID_ARGUMENT and a BadRequest naming
// the field; the requests around it on the same stream are answered and the stream ends OK.
struct BadInput {
  const char* name;
  v1::GetProfilesRequest request;
  const char* field;
};

void PrintTo(const BadInput& input, std::ostream* out) { *out << input.name; }

class BadInputTest : public BridgeTest, public ::testing::WithParamInterface<BadInput> {};

TEST_P(BadInputTest, AnsweredInBandAndTheStreamGoesOn) {
  v1::GetProfilesRequest bad = GetParam().request;
  bad.set_request_id("bad-one");
  const StreamOutcome outcome =
      RunStream(*channel_, {MakeRequest({"alice"}, kTags, "before"), bad, MakeRequest({"bob", "carol"}, kTags)});
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  ExpectEachAnsweredOnce(outcome.results_by_request.at(0), {"alice"});
  ExpectEachAnsweredOnce(outcome.results_by_request.at(2), {"bob", "carol"});
  EXPECT_EQ(outcome.results_by_request.count(1), 0u);

  std::vector<v1::GetProfilesResponse> refusals;
  for (const auto& response : outcome.responses) {
    if (response.request_index() == 1) refusals.push_back(response);
    if (response.request_index() != 1) EXPECT_FALSE(response.has_status()) << "only the bad request has a status";
  }
  ASSERT_EQ(refusals.size(), 1u) << "one response answers the bad request";
  const v1::GetProfilesResponse& refusal = refusals[0];
  EXPECT_EQ(refusal.request_id(), "bad-one");
  EXPECT_TRUE(refusal.request_complete());
  EXPECT_EQ(refusal.results_size(), 0);
  EXPECT_EQ(refusal.status().code(), static_cast<int>(StatusCode::INVALID_ARGUMENT));
  EXPECT_NE(refusal.status().message().find(GetParam().field), std::string::npos) << refusal.status().message();
  const auto bad_request = BadRequestOf(refusal.status());
  ASSERT_GE(bad_request.field_violations_size(), 1);
  EXPECT_EQ(bad_request.field_violations(0).field(), GetParam().field);
  EXPECT_FALSE(bad_request.field_violations(0).description().empty());
}

TEST_F(BridgeTest, AMessageThatIsNoRequestEndsTheStreamAfterTheRequestsBeforeIt) {
  const std::string garbage("\x12\x7f", 2);  // accounts, 127 bytes long, then nothing.
  const RawStreamOutcome outcome =
      RunRawStream(channel_, "/portraitbridge.profile.v1.ProfileService/GetProfiles",
                   {MakeRequest({"alice"}, kTags).SerializeAsString(), garbage});  // The 2nd write may fail.
  ASSERT_GE(outcome.messages_written, 1u);
  const grpc::Status& status = outcome.status;
  std::vector<v1::GetProfilesResponse> responses;
  for (const std::string& bytes : outcome.responses) ASSERT_TRUE(responses.emplace_back().ParseFromString(bytes));

  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT) << status.error_message();
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(status.error_details()));
  EXPECT_EQ(BadRequestOf(details).field_violations(0).field(), "requests[1]");
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].request_index(), 0u);
  EXPECT_TRUE(responses[0].request_complete());
  ASSERT_EQ(responses[0].results_size(), 1);
  EXPECT_EQ(responses[0].results(0).account(), "alice");
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, BadInputTest,
    ::testing::Values(
        BadInput{"NoAccounts", MakeRequest({}, kTags), "requests[1].accounts"},
        BadInput{"NoTags", MakeRequest({"alice"}, {}), "requests[1].tags"},
        BadInput{"EmptyTag", MakeRequest({"alice"}, {""}), "requests[1].tags[0]"},
        BadInput{"MalformedTag", MakeRequest({"alice"}, {"Tag_Profile_IM_Nick", "Nick"}), "requests[1].tags[1]"},
        BadInput{"UnknownStandardTag", MakeRequest({"alice"}, {"Tag_Profile_IM_Shoe"}), "requests[1].tags[0]"},
        BadInput{"EmptyAccount", MakeRequest({"alice", ""}, kTags), "requests[1].accounts[1]"},
        BadInput{"AccountNotUtf8", MakeRequest({"alice", "bad\xff\xfe"}, kTags), "requests[1].accounts[1]"},
        BadInput{"AccountTooLong", MakeRequest({std::string(33, 'a')}, kTags), "requests[1].accounts[0]"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(BridgeTest, TagUnknownToTheAppIsReportedPerAccount) {
  const StreamOutcome outcome =
      RunStream(*channel_, {MakeRequest({"alice"}, {"Tag_Profile_IM_Nick", "Tag_Profile_Custom_Nope"})});
  ASSERT_TRUE(outcome.status.ok());
  const auto& result = outcome.results_by_request.at(0).at(0);
  EXPECT_EQ(result.result_code(), v1::RESULT_CODE_PROFILE_TAG_NOT_FOUND);
  EXPECT_EQ(result.status().code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(BridgeTest, EmptyStreamEndsOk) {
  const StreamOutcome outcome = RunStream(*channel_, {});
  EXPECT_TRUE(outcome.status.ok());
  EXPECT_TRUE(outcome.responses.empty());
}

TEST_F(BridgeTest, ConcurrentStreamsAreServedIndependently) {
  std::vector<std::thread> threads;
  std::vector<StreamOutcome> outcomes(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto channel = bridge_->NewChannel();
      outcomes[t] = RunStream(*channel, {MakeRequest(Users(t * 100, 120), kTags)});
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 8; ++t) {
    ASSERT_TRUE(outcomes[t].status.ok()) << outcomes[t].status.error_message();
    ExpectEachAnsweredOnce(outcomes[t].results_by_request.at(0), Users(t * 100, 120));
  }
}

TEST(BridgeConfigurationTest, WrongSecretKeyEndsTheStreamWithFailedPrecondition) {
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url(), {}, "not-the-apps-key");
  const StreamOutcome outcome = RunStream(*bridge.NewChannel(), {MakeRequest({"alice"}, kTags)});
  EXPECT_EQ(outcome.status.error_code(), StatusCode::FAILED_PRECONDITION);
  const auto info = ErrorInfoOf(outcome.details);
  EXPECT_EQ(info.reason(), "TENCENT_70009");
  EXPECT_EQ(info.metadata().at("tencent_code"), "70009");
  EXPECT_NE(outcome.status.error_message().find("secret key"), std::string::npos);
}

TEST(BridgeConfigurationTest, StreamAccountCapIsEnforcedAfterEarlierRequestsAreAnswered) {
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url(), {"--max_accounts_per_stream=150"});
  const StreamOutcome outcome =
      RunStream(*bridge.NewChannel(), {MakeRequest(Users(0, 100), kTags), MakeRequest(Users(100, 100), kTags)});
  EXPECT_EQ(outcome.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(BadRequestOf(outcome.details).field_violations(0).field(), "requests[1].accounts");
  ExpectEachAnsweredOnce(outcome.results_by_request.at(0), Users(0, 100));
}

TEST(BridgeConfigurationTest, UnreachableUpstreamIsReportedPerAccount) {
  Bridge bridge("http://127.0.0.1:1", {"--attempt_timeout_ms=2000"});
  const StreamOutcome outcome = RunStream(*bridge.NewChannel(), {MakeRequest({"alice", "bob"}, kTags)});
  ASSERT_TRUE(outcome.status.ok());
  for (const auto& result : outcome.results_by_request.at(0)) {
    EXPECT_EQ(result.status().code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(ErrorInfoOf(result.status()).reason(), "UPSTREAM_CONNECT_FAILED");
  }
}

TEST(BridgeConfigurationTest, BadConfigurationStopsTheStartWithAClearMessage) {
  TempDir dir;
  Subprocess bridge(BinaryFromEnv("BRIDGE_BINARY"), {"--sdkappid=abc"}, {{"PORTRAIT_BRIDGE_SECRET_KEY", kSecretKey}});
  const int status = bridge.SignalAndWait(0, 10000);  // Signal 0 only waits.
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(bridge.Output().find("sdkappid"), std::string::npos) << bridge.Output();
}

}  // namespace
}  // namespace portrait_bridge::testing

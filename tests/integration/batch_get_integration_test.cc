// BatchGetProfiles end to end: the real bridge and the real sandbox upstream, on loopback ports.

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/empty.pb.h>
#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "tests/integration/stack.h"

namespace portrait_bridge::testing {
namespace {

using ::grpc::StatusCode;

const std::vector<std::string> kTags = {"Tag_Profile_IM_Nick", "Tag_Profile_IM_BirthDay"};
constexpr char kBatchGetOk[] = R"(grpc_server_handled_total{grpc_code="OK",grpc_method="BatchGetProfiles",)"
                               R"(grpc_service="portraitbridge.profile.v1.ProfileService",grpc_type="unary"})";

struct BatchOutcome {
  grpc::Status status;
  v1::BatchGetProfilesResponse response;
  google::rpc::Status details;  // Decoded from the status's error details, if any.
};

v1::BatchGetProfilesRequest MakeBatch(const std::vector<std::string>& accounts, const std::vector<std::string>& tags) {
  v1::BatchGetProfilesRequest request;
  for (const std::string& account : accounts) request.add_accounts(account);
  for (const std::string& tag : tags) request.add_tags(tag);
  return request;
}

BatchOutcome BatchGet(const std::shared_ptr<grpc::Channel>& channel, const v1::BatchGetProfilesRequest& request,
                      int deadline_ms = 20000, grpc::ClientContext* context = nullptr) {
  grpc::ClientContext own_context;
  if (context == nullptr) context = &own_context;
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
  BatchOutcome outcome;
  outcome.status = v1::ProfileService::NewStub(channel)->BatchGetProfiles(context, request, &outcome.response);
  if (!outcome.status.error_details().empty()) {
    EXPECT_TRUE(outcome.details.ParseFromString(outcome.status.error_details()));
  }
  return outcome;
}

// A counter's value, 0 while its series does not exist yet.
double CounterValue(int metrics_port, const std::string& series) {
  const std::string metrics = ScrapeMetrics(metrics_port);
  return absl::StrContains(metrics, series + " ") ? MetricSample(metrics, series) : 0;
}

std::vector<std::string> FieldsOf(const google::rpc::Status& status) {
  std::vector<std::string> fields;
  const google::rpc::BadRequest bad_request = BadRequestOf(status);
  for (const auto& violation : bad_request.field_violations()) fields.push_back(violation.field());
  return fields;
}

class BatchGetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      sandbox_ = new Sandbox();
      dir_ = new TempDir();
      bridge_ = new Bridge(sandbox_->base_url(),
                           {"--retry_max_attempts=1", "--max_accounts_per_batch_get=20",
                            "--metrics_address=127.0.0.1:0", "--metrics_port_file=" + dir_->Path("metrics.port")});
      metrics_port_ = bridge_->process().WaitForPortFile(dir_->Path("metrics.port"));
    } catch (const std::exception& e) {
      start_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete bridge_;
    delete sandbox_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_NE(bridge_, nullptr) << "could not start the sandbox and the bridge: " << start_error_;
    sandbox_->SetFaults(nlohmann::json::object());
    // A test that waits for an upstream call to reach the sandbox must not see a slow one an earlier test left.
    ASSERT_TRUE(WaitUntil([] { return sandbox_->Stats()["in_flight"].get<int64_t>() == 0; }));
    channel_ = bridge_->NewChannel();
  }

  static inline std::string start_error_;
  static inline Sandbox* sandbox_ = nullptr;
  static inline TempDir* dir_ = nullptr;
  static inline Bridge* bridge_ = nullptr;
  static inline int metrics_port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(BatchGetTest, AnswersEveryEntryInRequestOrderFetchingEachDistinctAccountOnce) {
  const nlohmann::json before = sandbox_->Stats();
  const double ok_before = CounterValue(metrics_port_, kBatchGetOk);
  const std::vector<std::string> accounts = {"user7", "alice", "nobody-here", "user7", "bob", "alice"};
  const BatchOutcome outcome = BatchGet(channel_, MakeBatch(accounts, kTags));
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  ASSERT_EQ(outcome.response.results_size(), static_cast<int>(accounts.size()));
  for (size_t i = 0; i < accounts.size(); ++i) {
    const v1::AccountResult& result = outcome.response.results(static_cast<int>(i));
    EXPECT_EQ(result.account(), accounts[i]) << "entry " << i;
    if (accounts[i] == "nobody-here") {
      EXPECT_EQ(result.tencent_code(), 40003);
      EXPECT_EQ(result.result_code(), static_cast<v1::ResultCode>(40003));
      EXPECT_EQ(result.status().code(), static_cast<int>(StatusCode::NOT_FOUND));
      EXPECT_EQ(result.items_size(), 0);
    } else {
      EXPECT_EQ(result.result_code(), v1::RESULT_CODE_OK);
      EXPECT_EQ(result.status().code(), 0);
      ASSERT_EQ(result.items_size(), 2);
    }
  }
  EXPECT_EQ(outcome.response.results(1).items(0).string_value(), "Alice");
  EXPECT_EQ(outcome.response.results(5).SerializeAsString(), outcome.response.results(1).SerializeAsString());
  // One upstream call that asked for each of the four distinct accounts once.
  const nlohmann::json after = sandbox_->Stats();
  EXPECT_EQ(after["calls"].get<int>() - before["calls"].get<int>(), 1);
  EXPECT_EQ(after["accounts"].get<int>() - before["accounts"].get<int>(), 4);
  EXPECT_EQ(CounterValue(metrics_port_, kBatchGetOk), ok_before + 1);
}

TEST_F(BatchGetTest, MoreThanOneUpstreamCallOfAccountsStillComesBackInOrder) {
  std::vector<std::string> accounts = Users(500, 20);
  std::reverse(accounts.begin(), accounts.end());
  const BatchOutcome outcome = BatchGet(channel_, MakeBatch(accounts, kTags));
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  ASSERT_EQ(outcome.response.results_size(), 20);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(outcome.response.results(i).account(), accounts[i]);
}

TEST_F(BatchGetTest, AnInvalidRequestIsInvalidArgumentWithABadRequestNamingTheFields) {
  const nlohmann::json before = sandbox_->Stats();
  const BatchOutcome outcome =
      BatchGet(channel_, MakeBatch({"alice", "", std::string("bad\xff", 4)}, {"Nick", "Tag_Profile_IM_Nick"}));
  EXPECT_EQ(outcome.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(outcome.details.code(), static_cast<int>(StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(FieldsOf(outcome.details), (std::vector<std::string>{"accounts[1]", "accounts[2]", "tags[0]"}));
  EXPECT_EQ(outcome.response.results_size(), 0);
  EXPECT_EQ(sandbox_->Stats()["calls"].get<int>(), before["calls"].get<int>());  // Nothing was fetched.

  const BatchOutcome empty = BatchGet(channel_, v1::BatchGetProfilesRequest());
  EXPECT_EQ(empty.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldsOf(empty.details), (std::vector<std::string>{"accounts", "tags"}));
}

TEST_F(BatchGetTest, MoreAccountsThanTheLimitPointToTheStream) {
  const BatchOutcome outcome = BatchGet(channel_, MakeBatch(Users(0, 21), kTags));
  EXPECT_EQ(outcome.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(outcome.status.error_message(), "max_accounts_per_batch_get"))
      << outcome.status.error_message();
  EXPECT_TRUE(absl::StrContains(outcome.status.error_message(), "GetProfiles")) << outcome.status.error_message();
  EXPECT_EQ(FieldsOf(outcome.details).at(0), "accounts");
}

TEST_F(BatchGetTest, TheCallsDeadlineBoundsTheUpstreamWork) {
  sandbox_->SetFaults({{"latency_ms", 1500}});
  const auto start = std::chrono::steady_clock::now();
  const BatchOutcome outcome = BatchGet(channel_, MakeBatch({"alice"}, kTags), /*deadline_ms=*/300);
  EXPECT_EQ(outcome.status.error_code(), StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1200));
  sandbox_->SetFaults(nlohmann::json::object());
  EXPECT_TRUE(BatchGet(channel_, MakeBatch({"alice"}, kTags)).status.ok());
}

// An account already on its way upstream for a stream is not asked again for a BatchGetProfiles call: both share
// the coalescer.
TEST_F(BatchGetTest, CoalescesWithAConcurrentStream) {
  sandbox_->SetFaults({{"latency_ms", 800}});
  const nlohmann::json before = sandbox_->Stats();
  auto stream = std::async(std::launch::async, [&] { return RunStream(*channel_, {MakeRequest({"carol"}, kTags)}); });
  ASSERT_TRUE(WaitUntil([&] { return sandbox_->Stats()["in_flight"].get<int64_t>() == 1; }))
      << "the stream's upstream call never reached the sandbox";
  const BatchOutcome outcome = BatchGet(channel_, MakeBatch({"carol", "carol"}, kTags));
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  const StreamOutcome streamed = stream.get();
  ASSERT_TRUE(streamed.status.ok()) << streamed.status.error_message();
  ASSERT_EQ(outcome.response.results_size(), 2);
  for (const v1::AccountResult& result : outcome.response.results()) {
    EXPECT_EQ(result.SerializeAsString(), streamed.results_by_request.at(0).at(0).SerializeAsString());
  }
  EXPECT_EQ(sandbox_->Stats()["calls"].get<int>() - before["calls"].get<int>(), 1);
}

TEST_F(BatchGetTest, CancellingTheCallCancelsItsUpstreamCall) {
  const std::string cancelled_series = "portrait_bridge_upstream_calls_total{code=\"cancelled\"}";
  const double cancelled_before = CounterValue(metrics_port_, cancelled_series);
  sandbox_->SetFaults({{"latency_ms", 3000}});
  grpc::ClientContext context;
  auto call =
      std::async(std::launch::async, [&] { return BatchGet(channel_, MakeBatch({"dave"}, kTags), 20000, &context); });
  ASSERT_TRUE(WaitUntil([&] { return sandbox_->Stats()["in_flight"].get<int64_t>() == 1; }))
      << "the upstream call never reached the sandbox";
  const auto cancelled_at = std::chrono::steady_clock::now();
  context.TryCancel();
  EXPECT_EQ(call.get().status.error_code(), StatusCode::CANCELLED);
  ASSERT_TRUE(WaitUntil([&] { return CounterValue(metrics_port_, cancelled_series) == cancelled_before + 1; }))
      << "the bridge's upstream transfer was not cancelled";
  EXPECT_LT(std::chrono::steady_clock::now() - cancelled_at, std::chrono::seconds(2))
      << "the transfer ended with the sandbox's late answer, not with the cancel";
  EXPECT_TRUE(WaitUntil(
      [&] { return MetricSample(ScrapeMetrics(metrics_port_), "portrait_bridge_upstream_calls_in_flight") == 0; }));
}

// The length-delimited fields numbered `number` of a message, read without its schema.
std::vector<std::string> FieldsNumbered(const std::string& message, int number) {
  google::protobuf::Empty parsed;
  EXPECT_TRUE(parsed.ParseFromString(message));
  const google::protobuf::UnknownFieldSet& fields = parsed.GetReflection()->GetUnknownFields(parsed);
  std::vector<std::string> values;
  for (int i = 0; i < fields.field_count(); ++i) {
    if (fields.field(i).number() == number &&
        fields.field(i).type() == google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
      values.push_back(fields.field(i).length_delimited());
    }
  }
  return values;
}

// grpcurl and buf curl find the method through reflection (grpc.reflection.v1alpha, spoken here without its
// generated code, which Debian does not ship): the service's file descriptor lists it.
TEST_F(BatchGetTest, ReflectionListsTheMethod) {
  // ServerReflectionRequest{file_containing_symbol (4): the service}.
  const std::string symbol = "portraitbridge.profile.v1.ProfileService";
  const RawStreamOutcome outcome =
      RunRawStream(channel_, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                   {std::string("\x22") + static_cast<char>(symbol.size()) + symbol});
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  const std::vector<std::string>& responses = outcome.responses;
  ASSERT_EQ(responses.size(), 1u);
  // ServerReflectionResponse{file_descriptor_response (4): {file_descriptor_proto (1): the files}}.
  std::vector<std::string> methods;
  for (const std::string& files : FieldsNumbered(responses[0], 4)) {
    for (const std::string& file : FieldsNumbered(files, 1)) {
      google::protobuf::FileDescriptorProto descriptor;
      ASSERT_TRUE(descriptor.ParseFromString(file));
      for (const auto& service : descriptor.service()) {
        if (descriptor.package() + "." + service.name() != symbol) continue;
        for (const auto& method : service.method()) methods.push_back(method.name());
      }
    }
  }
  EXPECT_NE(std::find(methods.begin(), methods.end(), "BatchGetProfiles"), methods.end());
  EXPECT_NE(std::find(methods.begin(), methods.end(), "GetProfiles"), methods.end());
}

TEST(BatchGetConfigurationTest, WrongSecretKeyEndsTheCallAsItEndsAStream) {
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url(), {}, "not-the-apps-key");
  const BatchOutcome outcome = BatchGet(bridge.NewChannel(), MakeBatch({"alice"}, kTags));
  EXPECT_EQ(outcome.status.error_code(), StatusCode::FAILED_PRECONDITION);
  const auto info = ErrorInfoOf(outcome.details);
  EXPECT_EQ(info.reason(), "TENCENT_70009");
  EXPECT_EQ(info.metadata().at("tencent_code"), "70009");
  EXPECT_NE(outcome.status.error_message().find("secret key"), std::string::npos);
}

TEST(BatchGetConfigurationTest, TakesTheAcceptedAccountsQuota) {
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url(), {"--max_accepted_accounts=100"});
  const BatchOutcome outcome = BatchGet(bridge.NewChannel(), MakeBatch(Users(0, 101), kTags));
  EXPECT_EQ(outcome.status.error_code(), StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(absl::StrContains(outcome.status.error_message(), "max_accepted_accounts"))
      << outcome.status.error_message();
  EXPECT_EQ(sandbox.Stats()["calls"].get<int>(), 0);
  // Duplicates count once.
  std::vector<std::string> accounts = Users(0, 100);
  const std::vector<std::string> again = Users(0, 50);
  accounts.insert(accounts.end(), again.begin(), again.end());
  const BatchOutcome fits = BatchGet(bridge.NewChannel(), MakeBatch(accounts, kTags));
  ASSERT_TRUE(fits.status.ok()) << fits.status.error_message();
  EXPECT_EQ(fits.response.results_size(), 150);
}

}  // namespace
}  // namespace portrait_bridge::testing

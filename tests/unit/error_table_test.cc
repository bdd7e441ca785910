#include "bridge/core/error_table.h"

#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "portraitbridge/profile/v1/profile.pb.h"

namespace portrait_bridge {
namespace {

using Code = absl::StatusCode;
using portraitbridge::profile::v1::ResultCode;

// Every row of the table, written out once more: a change to the mapping must change this test too.
struct Expected {
  int64_t code;
  Code grpc_code;
  bool retryable;
  bool ends_stream;
};

constexpr Expected kExpected[] = {
    {40001, Code::kInvalidArgument, false, false},   {40002, Code::kInvalidArgument, false, false},
    {40003, Code::kNotFound, false, false},          {40004, Code::kFailedPrecondition, false, true},
    {40006, Code::kUnavailable, true, false},        {40007, Code::kPermissionDenied, false, false},
    {40009, Code::kInvalidArgument, false, false},   {60002, Code::kInternal, false, false},
    {60003, Code::kInternal, false, false},          {60004, Code::kFailedPrecondition, false, true},
    {60005, Code::kFailedPrecondition, false, true}, {60006, Code::kFailedPrecondition, false, true},
    {60007, Code::kResourceExhausted, true, false},  {60008, Code::kUnavailable, true, false},
    {60009, Code::kInternal, false, false},          {60010, Code::kFailedPrecondition, false, true},
    {60011, Code::kResourceExhausted, true, false},  {60012, Code::kFailedPrecondition, false, true},
    {60013, Code::kUnavailable, true, false},        {60014, Code::kUnavailable, true, false},
    {60015, Code::kInvalidArgument, false, false},   {60016, Code::kFailedPrecondition, false, true},
    {60017, Code::kPermissionDenied, false, true},   {60018, Code::kResourceExhausted, true, false},
    {60019, Code::kResourceExhausted, true, false},  {60020, Code::kFailedPrecondition, false, true},
    {60021, Code::kPermissionDenied, false, true},   {70001, Code::kFailedPrecondition, true, true},
    {70002, Code::kFailedPrecondition, false, true}, {70003, Code::kFailedPrecondition, false, true},
    {70005, Code::kFailedPrecondition, false, true}, {70009, Code::kFailedPrecondition, false, true},
    {70013, Code::kFailedPrecondition, false, true}, {70014, Code::kFailedPrecondition, false, true},
    {70016, Code::kFailedPrecondition, false, true}, {70020, Code::kFailedPrecondition, false, true},
    {70050, Code::kUnavailable, true, true},         {70051, Code::kPermissionDenied, false, false},
    {70052, Code::kFailedPrecondition, true, true},  {70107, Code::kNotFound, false, false},
    {70169, Code::kUnavailable, true, false},        {70202, Code::kUnavailable, true, false},
    {70398, Code::kFailedPrecondition, false, true}, {70402, Code::kInvalidArgument, false, false},
    {70403, Code::kFailedPrecondition, false, true}, {70500, Code::kUnavailable, true, false},
};

class TencentCodeRowTest : public ::testing::TestWithParam<Expected> {};

TEST_P(TencentCodeRowTest, MapsAsDocumented) {
  const Expected& expected = GetParam();
  const ErrorRule rule = RuleForTencentCode(expected.code);
  EXPECT_EQ(rule.grpc_code, expected.grpc_code);
  EXPECT_EQ(rule.retryable, expected.retryable);
  EXPECT_EQ(rule.ends_stream, expected.ends_stream);
  EXPECT_EQ(rule.reason, "TENCENT_" + std::to_string(expected.code));
  EXPECT_FALSE(rule.meaning.empty());
  // The schema names the same code with the same number.
  EXPECT_TRUE(portraitbridge::profile::v1::ResultCode_IsValid(static_cast<int>(expected.code)));
}

INSTANTIATE_TEST_SUITE_P(EveryRow, TencentCodeRowTest, ::testing::ValuesIn(kExpected),
                         [](const auto& info) { return std::to_string(info.param.code); });

TEST(ErrorTableTest, TableAndTestCoverTheSameCodesInOrder) {
  std::set<int64_t> tested;
  for (const Expected& e : kExpected) tested.insert(e.code);
  std::set<int64_t> table;
  int64_t previous = 0;
  for (const TencentCodeRow& row : TencentCodeTable()) {
    EXPECT_GT(row.code, previous) << "the table must stay sorted for the lookup";
    previous = row.code;
    table.insert(row.code);
  }
  EXPECT_EQ(tested, table);
}

TEST(ErrorTableTest, EverySchemaCodeIsInTheTable) {
  const auto* descriptor = portraitbridge::profile::v1::ResultCode_descriptor();
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const int number = descriptor->value(i)->number();
    if (number <= portraitbridge::profile::v1::RESULT_CODE_NO_UPSTREAM_ANSWER) continue;  // The schema's own codes.
    EXPECT_NE(RuleForTencentCode(number).grpc_code, Code::kUnknown) << number;
  }
}

TEST(ErrorTableTest, SuccessAndUnknownCodes) {
  EXPECT_EQ(RuleForTencentCode(0).grpc_code, Code::kOk);
  const ErrorRule unknown = RuleForTencentCode(99999);
  EXPECT_EQ(unknown.grpc_code, Code::kUnknown);
  EXPECT_FALSE(unknown.retryable);
  EXPECT_FALSE(unknown.ends_stream);
}

TEST(ErrorTableTest, HttpStatuses) {
  EXPECT_EQ(RuleForHttpStatus(502).grpc_code, Code::kUnavailable);
  EXPECT_TRUE(RuleForHttpStatus(502).retryable);
  EXPECT_EQ(RuleForHttpStatus(503).grpc_code, Code::kUnavailable);
  EXPECT_EQ(RuleForHttpStatus(504).grpc_code, Code::kUnavailable);
  EXPECT_EQ(RuleForHttpStatus(408).grpc_code, Code::kUnavailable);
  EXPECT_EQ(RuleForHttpStatus(429).grpc_code, Code::kResourceExhausted);
  EXPECT_TRUE(RuleForHttpStatus(429).retryable);
  EXPECT_EQ(RuleForHttpStatus(404).grpc_code, Code::kInternal);
  EXPECT_FALSE(RuleForHttpStatus(404).retryable);
  EXPECT_EQ(RuleForMalformedBody().grpc_code, Code::kUnavailable);
}

TEST(ErrorTableTest, TransportFailures) {
  using F = TransportFailure;
  const std::tuple<F, Code, bool, bool> rows[] = {
      {F::kTimeout, Code::kUnavailable, true, false},
      {F::kConnect, Code::kUnavailable, true, false},
      {F::kConnectionLost, Code::kUnavailable, true, false},
      {F::kTlsVerification, Code::kFailedPrecondition, false, true},
      {F::kBadConfiguration, Code::kFailedPrecondition, false, true},
      {F::kOther, Code::kUnavailable, true, false},
  };
  for (const auto& [failure, code, retryable, ends_stream] : rows) {
    const ErrorRule rule = RuleForTransportFailure(failure);
    EXPECT_EQ(rule.grpc_code, code) << rule.reason;
    EXPECT_EQ(rule.retryable, retryable) << rule.reason;
    EXPECT_EQ(rule.ends_stream, ends_stream) << rule.reason;
  }
}

TEST(ErrorTableTest, RenewalCodesAndRetryDelays) {
  EXPECT_TRUE(IsUserSigRenewalCode(70001));
  EXPECT_TRUE(IsUserSigRenewalCode(70052));
  EXPECT_FALSE(IsUserSigRenewalCode(70009));
  for (const int64_t code : {60007, 60011, 60018, 60019}) EXPECT_TRUE(IsThrottlingTencentCode(code)) << code;
  for (const int64_t code : {0, 60008, 40006, 70050, 70001}) EXPECT_FALSE(IsThrottlingTencentCode(code)) << code;
  EXPECT_EQ(RetryDelayForTencentCode(70050), absl::Seconds(60));
  EXPECT_EQ(RetryDelayForTencentCode(60007), absl::Seconds(1));
  EXPECT_EQ(RetryDelayForTencentCode(40003), absl::ZeroDuration());
}

}  // namespace
}  // namespace portrait_bridge

#include "bridge/sandbox/faults.h"

#include <gtest/gtest.h>

namespace portrait_bridge::sandbox {
namespace {

using nlohmann::json;

TEST(FaultsTest, EmptyObjectMeansNoFaults) {
  const absl::StatusOr<Faults> faults = ParseFaults(json::object());
  ASSERT_TRUE(faults.ok());
  EXPECT_EQ(FaultsToJson(*faults), FaultsToJson(Faults{}));
}

TEST(FaultsTest, RoundTripsEveryField) {
  const json in = {{"throttle_for_ms", 2500},    {"latency_ms", 5},        {"fail_accounts", {{"user7", 40006}}},
                   {"error_code", 70500},        {"error_count", 2},       {"http_502_count", -1},
                   {"non_json_count", 1},        {"truncated_count", 3},   {"drop_connection_count", 4},
                   {"usersig_expired_count", 1}, {"expire_all_sigs", true}};
  const absl::StatusOr<Faults> faults = ParseFaults(in);
  ASSERT_TRUE(faults.ok()) << faults.status();
  EXPECT_EQ(FaultsToJson(*faults), in);
}

TEST(FaultsTest, RejectsTyposAndBadValues) {
  EXPECT_FALSE(ParseFaults(json::array()).ok());
  EXPECT_FALSE(ParseFaults({{"http502_count", 1}}).ok());
  EXPECT_FALSE(ParseFaults({{"http_502_count", "1"}}).ok());
  EXPECT_FALSE(ParseFaults({{"http_502_count", -2}}).ok());
  EXPECT_FALSE(ParseFaults({{"latency_ms", -1}}).ok());
  EXPECT_FALSE(ParseFaults({{"throttle_for_ms", -1}}).ok());
  EXPECT_FALSE(ParseFaults({{"throttle_for_ms", 86400001}}).ok());
  EXPECT_FALSE(ParseFaults({{"throttle_for_ms", 1.5}}).ok());
  EXPECT_TRUE(ParseFaults({{"throttle_for_ms", 86400000}}).ok());
  EXPECT_FALSE(ParseFaults({{"expire_all_sigs", 1}}).ok());
  EXPECT_FALSE(ParseFaults({{"fail_accounts", {"user7"}}}).ok());
  EXPECT_FALSE(ParseFaults({{"fail_accounts", {{"user7", "40006"}}}}).ok());
}

TEST(FaultsTest, FailAccountsFlagForm) {
  const auto parsed = ParseFailAccountsFlag("user7=40006,bob=40003");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->at("user7"), 40006);
  EXPECT_EQ(parsed->at("bob"), 40003);
  EXPECT_FALSE(ParseFailAccountsFlag("user7").ok());
  EXPECT_FALSE(ParseFailAccountsFlag("user7=x").ok());
  EXPECT_FALSE(ParseFailAccountsFlag("=40006").ok());
}

}  // namespace
}  // namespace portrait_bridge::sandbox

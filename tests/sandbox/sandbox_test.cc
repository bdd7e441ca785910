#include "bridge/sandbox/sandbox.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "bridge/core/usersig.h"

namespace portrait_bridge::sandbox {
namespace {

using nlohmann::json;

constexpr char kKey[] = "sandbox-unit-test-key";
constexpr uint64_t kAppId = 1400000000;
constexpr char kAdmin[] = "administrator";
const absl::Time kNow = absl::FromUnixSeconds(1700000000);

std::string Sign(const std::string& identifier = kAdmin, uint64_t appid = kAppId, int64_t time = 1700000000 - 60,
                 int64_t expire = 86400, const std::string& key = kKey) {
  return SignUserSig(key, {identifier, appid, time, expire});
}

SandboxConfig TestConfig() {
  SandboxConfig config;
  config.secret_key = kKey;
  config.pool_size = 1000;
  config.calls_per_second = 0;  // Tests of the limiter set their own.
  return config;
}

PortraitGetRequest Request(json body, const std::string& usersig = Sign()) {
  PortraitGetRequest request;
  request.query = {{"sdkappid", std::to_string(kAppId)},
                   {"identifier", kAdmin},
                   {"usersig", usersig},
                   {"random", "4294967295"},
                   {"contenttype", "json"}};
  request.body = body.dump();
  return request;
}

json NickOf(const std::vector<std::string>& accounts) {
  return {{"To_Account", accounts}, {"TagList", {"Tag_Profile_IM_Nick"}}};
}

json Call(Sandbox& sandbox, const PortraitGetRequest& request, absl::Time now = kNow) {
  const Reply reply = sandbox.HandlePortraitGet(request, now);
  EXPECT_EQ(reply.http_status, 200);
  EXPECT_FALSE(reply.drop_connection);
  return json::parse(reply.body);
}

int64_t ErrorCodeOf(Sandbox& sandbox, const PortraitGetRequest& request, absl::Time now = kNow) {
  const json body = Call(sandbox, request, now);
  if (body["ErrorCode"] != 0) {
    EXPECT_EQ(body["ActionStatus"], "FAIL");
    EXPECT_TRUE(body["ErrorInfo"].is_string());
    EXPECT_EQ(body["ErrorDisplay"], "");
  }
  return body["ErrorCode"].get<int64_t>();
}

// A tag's value in a user item, or null when the tag is absent.
json ValueOf(const json& item, const std::string& tag) {
  for (const json& entry : item["ProfileItem"]) {
    if (entry["Tag"] == tag) return entry["Value"];
  }
  return nullptr;
}

TEST(SandboxTest, ValidCallReturnsProfilesInTagOrderWithNumberTypedIntegers) {
  Sandbox sandbox(TestConfig());
  const json body = Call(
      sandbox,
      Request({{"To_Account", {"alice", "user12"}},
               {"TagList",
                {"Tag_Profile_IM_BirthDay", "Tag_Profile_IM_Nick", "Tag_Profile_IM_Gender", "Tag_Profile_IM_Level"}}}));
  EXPECT_EQ(body["ActionStatus"], "OK");
  EXPECT_EQ(body["ErrorCode"], 0);
  EXPECT_EQ(body["ErrorInfo"], "");
  EXPECT_TRUE(body["RequestId"].is_string());
  EXPECT_FALSE(body.contains("Fail_Account"));
  ASSERT_EQ(body["UserProfileItem"].size(), 2u);

  const json& alice = body["UserProfileItem"][0];
  EXPECT_EQ(alice["To_Account"], "alice");
  EXPECT_EQ(alice["ResultCode"], 0);
  ASSERT_EQ(alice["ProfileItem"].size(), 4u);
  EXPECT_EQ(alice["ProfileItem"][0]["Tag"], "Tag_Profile_IM_BirthDay");
  EXPECT_EQ(alice["ProfileItem"][1]["Tag"], "Tag_Profile_IM_Nick");
  EXPECT_EQ(alice["ProfileItem"][1]["Value"], "Alice");

  const json& user = body["UserProfileItem"][1];
  EXPECT_EQ(user["To_Account"], "user12");
  const json birthday = ValueOf(user, "Tag_Profile_IM_BirthDay");
  ASSERT_TRUE(birthday.is_number_unsigned()) << birthday;
  EXPECT_EQ(birthday, 19900101 + 12 % 28);
  EXPECT_EQ(ValueOf(user, "Tag_Profile_IM_Nick"), "User 12");
  EXPECT_EQ(ValueOf(user, "Tag_Profile_IM_Gender"), "Gender_Type_Unknown");
  EXPECT_TRUE(ValueOf(user, "Tag_Profile_IM_Level").is_number());
}

TEST(SandboxTest, UnknownAccountsFailPerUserAndAreListed) {
  Sandbox sandbox(TestConfig());
  const json body = Call(sandbox, Request(NickOf({"user1", "nobody", "user1000"})));  // pool_size is 1000.
  EXPECT_EQ(body["ActionStatus"], "OK");
  ASSERT_EQ(body["UserProfileItem"].size(), 3u);
  const json& missing = body["UserProfileItem"][1];
  EXPECT_EQ(missing["ResultCode"], 40003);
  EXPECT_EQ(missing["ResultInfo"], "Err_Profile_Account_Not_Exist");
  EXPECT_FALSE(missing.contains("ProfileItem"));
  EXPECT_EQ(body["Fail_Account"], json({"nobody", "user1000"}));
}

TEST(SandboxTest, UnsetFieldsAreOmittedForSomeAndEmptyForOthers) {
  Sandbox sandbox(TestConfig());
  const json body = Call(sandbox, Request({{"To_Account", {"user1", "user2", "user5"}},
                                           {"TagList", {"Tag_Profile_IM_SelfSignature", "Tag_Profile_IM_Image"}}}));
  const json& items = body["UserProfileItem"];
  EXPECT_TRUE(ValueOf(items[0], "Tag_Profile_IM_SelfSignature").is_null());  // Odd N: omitted.
  EXPECT_EQ(ValueOf(items[1], "Tag_Profile_IM_SelfSignature"), "Signature of user 2");
  EXPECT_EQ(ValueOf(items[2], "Tag_Profile_IM_Image"), "");  // N % 5 == 0: present and empty.
}

TEST(SandboxTest, CustomTagsHoldStringsAndTheBlobIsBase64) {
  Sandbox sandbox(TestConfig());
  const json body =
      Call(sandbox,
           Request({{"To_Account", {"user6"}}, {"TagList", {"Tag_Profile_Custom_Test", "Tag_Profile_Custom_Blob"}}}));
  const json& item = body["UserProfileItem"][0];
  EXPECT_EQ(ValueOf(item, "Tag_Profile_Custom_Test"), "test-6");
  const json blob = ValueOf(item, "Tag_Profile_Custom_Blob");
  ASSERT_TRUE(blob.is_string());
  std::string bytes;
  EXPECT_TRUE(absl::Base64Unescape(blob.get<std::string>(), &bytes));
}

TEST(SandboxTest, EveryStandardTagIsKnown) {
  Sandbox sandbox(TestConfig());
  const json body = Call(sandbox, Request({{"To_Account", {"alice"}}, {"TagList", StandardProfileTags()}}));
  EXPECT_EQ(body["ErrorCode"], 0);
  EXPECT_EQ(body["UserProfileItem"][0]["ProfileItem"].size(), 12u);
}

TEST(SandboxTest, UserSigErrors) {
  Sandbox sandbox(TestConfig());
  const json body = NickOf({"user1"});
  EXPECT_EQ(ErrorCodeOf(sandbox, Request(body, "")), 70002);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request(body, "not-a-usersig")), 70003);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request(body, Sign().substr(0, 30))), 70003);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request(body, Sign("someone_else"))), 70013);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request(body, Sign(kAdmin, 1400000001))), 70014);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request(body, Sign(kAdmin, kAppId, 1700000000 - 60, 86400, "wrong-key"))), 70009);
  // Expired when now > time + expire; the last second itself is still valid.
  EXPECT_EQ(ErrorCodeOf(sandbox, Request(body, Sign(kAdmin, kAppId, 1700000000 - 100, 100))), 0);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request(body, Sign(kAdmin, kAppId, 1700000000 - 101, 100))), 70001);

  PortraitGetRequest no_sig = Request(body);
  no_sig.query.erase("usersig");
  EXPECT_EQ(ErrorCodeOf(sandbox, no_sig), 70002);
}

TEST(SandboxTest, InvalidatedSigsGet70052) {
  SandboxConfig config = TestConfig();
  config.invalidate_sigs_before = 1700000000 - 30;
  Sandbox sandbox(config);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request(NickOf({"user1"}), Sign(kAdmin, kAppId, 1700000000 - 60))), 70052);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request(NickOf({"user1"}), Sign(kAdmin, kAppId, 1700000000 - 10))), 0);
}

TEST(SandboxTest, NonAdminWithItsOwnValidSigGets70403) {
  Sandbox sandbox(TestConfig());
  PortraitGetRequest request = Request(NickOf({"user1"}), Sign("user1"));
  request.query.erase("identifier");
  request.query.emplace("identifier", "user1");
  EXPECT_EQ(ErrorCodeOf(sandbox, request), 70403);
}

TEST(SandboxTest, ExtraAdminsMayCall) {
  SandboxConfig config = TestConfig();
  config.admins = {kAdmin, "ops_admin"};
  Sandbox sandbox(config);
  PortraitGetRequest request = Request(NickOf({"user1"}), Sign("ops_admin"));
  request.query.erase("identifier");
  request.query.emplace("identifier", "ops_admin");
  EXPECT_EQ(ErrorCodeOf(sandbox, request), 0);
}

TEST(SandboxTest, QueryErrors) {
  Sandbox sandbox(TestConfig());
  const auto with = [](const char* name, const char* value) {
    PortraitGetRequest request = Request(NickOf({"user1"}));
    request.query.erase(name);
    if (value != nullptr) request.query.emplace(name, value);
    return request;
  };
  EXPECT_EQ(ErrorCodeOf(sandbox, with("sdkappid", nullptr)), 60012);
  EXPECT_EQ(ErrorCodeOf(sandbox, with("sdkappid", "14x")), 60006);
  EXPECT_EQ(ErrorCodeOf(sandbox, with("sdkappid", "-1")), 60006);
  EXPECT_EQ(ErrorCodeOf(sandbox, with("sdkappid", "1400000001")), 70016);
  EXPECT_EQ(ErrorCodeOf(sandbox, with("identifier", nullptr)), 60004);
  EXPECT_EQ(ErrorCodeOf(sandbox, with("identifier", "")), 60004);
  EXPECT_EQ(ErrorCodeOf(sandbox, with("random", nullptr)), 60002);
  EXPECT_EQ(ErrorCodeOf(sandbox, with("random", "4294967296")), 60002);
  EXPECT_EQ(ErrorCodeOf(sandbox, with("random", "-5")), 60002);
  EXPECT_EQ(ErrorCodeOf(sandbox, with("random", "0")), 0);
  EXPECT_EQ(ErrorCodeOf(sandbox, with("contenttype", nullptr)), 60002);
  EXPECT_EQ(ErrorCodeOf(sandbox, with("contenttype", "JSON")), 60002);  // Case-sensitive.
  // Query names are case-sensitive too.
  PortraitGetRequest upper = with("sdkappid", nullptr);
  upper.query.emplace("SdkAppId", std::to_string(kAppId));
  EXPECT_EQ(ErrorCodeOf(sandbox, upper), 60012);

  PortraitGetRequest get = Request(NickOf({"user1"}));
  get.method = "GET";
  EXPECT_EQ(ErrorCodeOf(sandbox, get), 60002);
}

TEST(SandboxTest, BodyErrors) {
  Sandbox sandbox(TestConfig());
  PortraitGetRequest not_json = Request(json::object());
  not_json.body = "{\"To_Account\":";
  EXPECT_EQ(ErrorCodeOf(sandbox, not_json), 60003);
  not_json.body = "";
  EXPECT_EQ(ErrorCodeOf(sandbox, not_json), 60003);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request(json::array({1, 2}))), 40001);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request({{"TagList", {"Tag_Profile_IM_Nick"}}})), 40002);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request({{"To_Account", json::array()}, {"TagList", {"Tag_Profile_IM_Nick"}}})),
            40002);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request({{"To_Account", "user1"}, {"TagList", {"Tag_Profile_IM_Nick"}}})), 40001);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request({{"To_Account", {"user1", 7}}, {"TagList", {"Tag_Profile_IM_Nick"}}})), 60015);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request({{"To_Account", {"user1"}}})), 40001);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request({{"To_Account", {"user1"}}, {"TagList", json::array()}})), 40001);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request({{"To_Account", {"user1"}}, {"TagList", {"Tag_Profile_IM_Nick", 3}}})), 40001);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request({{"To_Account", {"user1"}}, {"TagList", {"Tag_Profile_IM_Bogus"}}})), 40009);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request({{"To_Account", {"user1"}}, {"TagList", {"Tag_Profile_Custom_Other"}}})),
            40009);
}

TEST(SandboxTest, AtMostOneHundredAccountsPerCall) {
  Sandbox sandbox(TestConfig());
  std::vector<std::string> accounts;
  for (int i = 0; i < 100; ++i) accounts.push_back(absl::StrCat("user", i));
  const json ok = Call(sandbox, Request(NickOf(accounts)));
  EXPECT_EQ(ok["ErrorCode"], 0);
  EXPECT_EQ(ok["UserProfileItem"].size(), 100u);
  accounts.push_back("user100");
  EXPECT_EQ(ErrorCodeOf(sandbox, Request(NickOf(accounts))), 40001);
  EXPECT_EQ(sandbox.Stats()["max_accounts_per_call"], 100);
}

TEST(SandboxTest, RateLimitAnswers60007OverASlidingSecond) {
  SandboxConfig config = TestConfig();
  config.calls_per_second = 3;
  Sandbox sandbox(config);
  const PortraitGetRequest request = Request(NickOf({"user1"}));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ErrorCodeOf(sandbox, request, kNow + absl::Milliseconds(100 * i)), 0);
  EXPECT_EQ(ErrorCodeOf(sandbox, request, kNow + absl::Milliseconds(900)), 60007);
  EXPECT_EQ(ErrorCodeOf(sandbox, request, kNow + absl::Milliseconds(1050)), 0);  // The first call left the window.
  EXPECT_EQ(ErrorCodeOf(sandbox, request, kNow + absl::Milliseconds(1060)), 60007);
  const json stats = sandbox.Stats();
  EXPECT_EQ(stats["throttled"], 2);
  EXPECT_EQ(stats["error_codes"]["60007"], 2);
  EXPECT_EQ(stats["ok"], 4);
}

TEST(SandboxTest, RateWindowIsConfigurableAndHalfOpen) {
  SandboxConfig config = TestConfig();
  config.calls_per_second = 2;
  config.rate_window_ms = 500;
  Sandbox sandbox(config);
  const PortraitGetRequest request = Request(NickOf({"user1"}));
  EXPECT_EQ(ErrorCodeOf(sandbox, request, kNow), 0);
  EXPECT_EQ(ErrorCodeOf(sandbox, request, kNow + absl::Milliseconds(100)), 0);
  EXPECT_EQ(ErrorCodeOf(sandbox, request, kNow + absl::Microseconds(499999)), 60007);
  EXPECT_EQ(ErrorCodeOf(sandbox, request, kNow + absl::Milliseconds(500)), 0);  // kNow left (t - 500 ms, t].
  EXPECT_EQ(ErrorCodeOf(sandbox, request, kNow + absl::Milliseconds(599)), 60007);
  EXPECT_EQ(ErrorCodeOf(sandbox, request, kNow + absl::Milliseconds(600)), 0);
}

// The limiter and GET /sandbox/arrivals count the same instants: a run was throttled exactly when the report shows
// a window holding more than the limit. Arrival times carry nanoseconds, which both truncate alike.
TEST(SandboxTest, ThrottledExactlyWhenTheArrivalsReportShowsAnOverfullWindow) {
  std::mt19937 rng(1234);
  int throttled_runs = 0;
  int clean_runs = 0;
  for (int round = 0; round < 60; ++round) {
    SandboxConfig config = TestConfig();
    config.calls_per_second = std::uniform_int_distribution<int>(2, 6)(rng);
    config.rate_window_ms = std::uniform_int_distribution<int>(50, 1500)(rng);
    Sandbox sandbox(config);
    const PortraitGetRequest request = Request(NickOf({"user1"}));
    // Mean spacing around window / limit, a little under or over, so some runs stay inside the limit and some
    // do not.
    const double spacing = std::uniform_real_distribution<double>(0.8, 1.8)(rng);
    const int64_t mean_gap_ns =
        static_cast<int64_t>(spacing * static_cast<double>(config.rate_window_ms) * 1e6 / config.calls_per_second);
    std::uniform_int_distribution<int64_t> gap(mean_gap_ns / 2, mean_gap_ns * 3 / 2);
    absl::Time t = kNow;
    for (int i = 0; i < 25; ++i) {
      t += absl::Nanoseconds(gap(rng));
      sandbox.HandlePortraitGet(request, t);
    }
    ArrivalsQuery query;
    query.windows_ms = {config.rate_window_ms};
    const json report = sandbox.Arrivals(query);
    ASSERT_EQ(report["count"], 25);
    const int64_t max_in_window = report["max_in_window"][std::to_string(config.rate_window_ms)];
    const int64_t throttled = sandbox.Stats()["throttled"];
    ASSERT_EQ(throttled > 0, max_in_window > config.calls_per_second)
        << "round " << round << ": throttled " << throttled << ", max_in_window " << max_in_window;
    (throttled > 0 ? throttled_runs : clean_runs)++;
  }
  EXPECT_GT(throttled_runs, 5);
  EXPECT_GT(clean_runs, 5);
}

TEST(SandboxFaultsTest, ThrottleForAnswersExactlyLikeTheLimiterForItsSpan) {
  SandboxConfig config = TestConfig();
  config.calls_per_second = 1;
  Sandbox sandbox(config);
  const PortraitGetRequest request = Request(NickOf({"user1"}));
  ASSERT_EQ(ErrorCodeOf(sandbox, request, kNow), 0);
  json by_limiter = Call(sandbox, request, kNow + absl::Milliseconds(1));
  ASSERT_EQ(by_limiter["ErrorCode"], 60007);

  const absl::Time set_at = kNow + absl::Seconds(10);
  Faults faults;
  faults.throttle_for_ms = 2000;
  sandbox.SetFaults(faults, set_at);
  EXPECT_EQ(ErrorCodeOf(sandbox, request, set_at - absl::Microseconds(1)), 0);  // Arrived before it was set.
  json by_fault = Call(sandbox, request, set_at);
  EXPECT_EQ(ErrorCodeOf(sandbox, request, set_at + absl::Microseconds(1999999)), 60007);
  EXPECT_EQ(ErrorCodeOf(sandbox, request, set_at + absl::Seconds(2)), 0);  // [set, set + T): over.

  // Same answer but for the RequestId.
  by_limiter.erase("RequestId");
  by_fault.erase("RequestId");
  EXPECT_EQ(by_fault, by_limiter);
  const json stats = sandbox.Stats();
  EXPECT_EQ(stats["throttled"], 3);
  EXPECT_EQ(stats["faults"]["throttle_for"], 2);
  EXPECT_EQ(stats["error_codes"]["60007"], 3);
  EXPECT_EQ(stats["rejected"], 3);
  EXPECT_EQ(stats["faulted"], 0);
  EXPECT_EQ(stats["ok"], 3);
}

TEST(SandboxFaultsTest, ThrottleForComesFirstConsumesNothingAndKeepsTheLatency) {
  Faults faults;
  faults.throttle_for_ms = 1000;
  faults.http_502_count = 1;
  faults.latency_ms = 30;
  Sandbox sandbox(TestConfig(), faults, kNow);
  for (int ms : {0, 500, 999}) {
    const Reply reply = sandbox.HandlePortraitGet(Request(NickOf({"user1"})), kNow + absl::Milliseconds(ms));
    EXPECT_EQ(json::parse(reply.body)["ErrorCode"], 60007);
    EXPECT_EQ(reply.delay, absl::Milliseconds(30));
  }
  EXPECT_EQ(sandbox.GetFaults(kNow + absl::Seconds(1)).http_502_count, 1);
  EXPECT_EQ(sandbox.HandlePortraitGet(Request(NickOf({"user1"})), kNow + absl::Seconds(1)).http_status, 502);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request(NickOf({"user1"})), kNow + absl::Seconds(1)), 0);
}

TEST(SandboxFaultsTest, GetFaultsReportsTheThrottleTimeLeft) {
  Faults faults;
  faults.throttle_for_ms = 2000;
  Sandbox sandbox(TestConfig(), faults, kNow);
  EXPECT_EQ(sandbox.GetFaults(kNow).throttle_for_ms, 2000);
  EXPECT_EQ(sandbox.GetFaults(kNow + absl::Milliseconds(500)).throttle_for_ms, 1500);
  EXPECT_EQ(sandbox.GetFaults(kNow + absl::Microseconds(1999001)).throttle_for_ms, 1);  // Rounded up.
  EXPECT_EQ(sandbox.GetFaults(kNow + absl::Seconds(2)).throttle_for_ms, 0);
  EXPECT_EQ(sandbox.GetFaults(kNow + absl::Hours(1)).throttle_for_ms, 0);
  // Replacing the faults ends it (replace-all), and a new one runs from its own set time.
  sandbox.SetFaults({}, kNow + absl::Milliseconds(100));
  EXPECT_EQ(sandbox.GetFaults(kNow + absl::Milliseconds(100)).throttle_for_ms, 0);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request(NickOf({"user1"})), kNow + absl::Milliseconds(100)), 0);
  sandbox.SetFaults(faults, kNow + absl::Seconds(5));
  EXPECT_EQ(sandbox.GetFaults(kNow + absl::Seconds(6)).throttle_for_ms, 1000);
}

TEST(SandboxStatsTest, EveryRequestThatReachesTheHandlerIsAnArrival) {
  SandboxConfig config = TestConfig();
  config.calls_per_second = 1;
  Faults faults;
  faults.http_502_count = 1;
  Sandbox sandbox(config, faults, kNow);
  const PortraitGetRequest request = Request(NickOf({"user1"}));
  const std::vector<absl::Time> times = {
      kNow + absl::Microseconds(1),                       // 502 fault
      kNow + absl::Microseconds(10),                      // admitted
      kNow + absl::Microseconds(20),                      // throttled by the limiter
      kNow + absl::Seconds(2) + absl::Nanoseconds(1500),  // rejected: bad UserSig, once admitted (2 s + 1 us)
      kNow + absl::Seconds(2) - absl::Microseconds(5),    // late: (1 s + 1 us, 2 s + 1 us] would hold two
  };
  sandbox.HandlePortraitGet(request, times[0]);
  sandbox.HandlePortraitGet(request, times[1]);
  sandbox.HandlePortraitGet(request, times[2]);
  sandbox.HandlePortraitGet(Request(NickOf({"user1"}), "garbage"), times[3]);
  sandbox.HandlePortraitGet(request, times[4]);
  const json stats = sandbox.Stats();
  EXPECT_EQ(stats["calls"], 5);
  EXPECT_EQ(stats["faulted"], 1);
  EXPECT_EQ(stats["ok"], 1);
  EXPECT_EQ(stats["throttled"], 2);

  ArrivalsQuery query;
  query.windows_ms = {1000, 2000};
  query.include_times = true;
  const json report = sandbox.Arrivals(query);
  const int64_t start_us = absl::ToUnixMicros(kNow);
  EXPECT_EQ(report["count"], 5);
  EXPECT_EQ(report["first_unix_us"], start_us + 1);
  EXPECT_EQ(report["last_unix_us"], start_us + 2000001);
  EXPECT_EQ(report["times_us"],
            json({start_us + 1, start_us + 10, start_us + 20, start_us + 1999995, start_us + 2000001}));
  EXPECT_EQ(report["max_in_window"], json({{"1000", 3}, {"2000", 4}}));

  sandbox.ResetStats();
  EXPECT_EQ(sandbox.Arrivals(query)["count"], 0);
  sandbox.HandlePortraitGet(request, kNow + absl::Seconds(9));
  EXPECT_EQ(sandbox.Arrivals(query)["times_us"], json({start_us + 9000000}));
}

TEST(SandboxFaultsTest, LatencyIsReportedAsADelay) {
  Faults faults;
  faults.latency_ms = 250;
  Sandbox sandbox(TestConfig(), faults, kNow);
  EXPECT_EQ(sandbox.HandlePortraitGet(Request(NickOf({"user1"})), kNow).delay, absl::Milliseconds(250));
}

TEST(SandboxFaultsTest, FailAccountsGetTheirResultCode) {
  Faults faults;
  faults.fail_accounts = {{"user7", 40006}};
  Sandbox sandbox(TestConfig(), faults, kNow);
  const json body = Call(sandbox, Request(NickOf({"user6", "user7"})));
  EXPECT_EQ(body["ActionStatus"], "OK");
  EXPECT_EQ(body["UserProfileItem"][1]["ResultCode"], 40006);
  EXPECT_EQ(body["UserProfileItem"][1]["ResultInfo"], "Err_Profile_PortraitGet_Read_Custom_Data_Fail");
  EXPECT_EQ(body["Fail_Account"], json({"user7"}));
  EXPECT_EQ(sandbox.Stats()["result_codes"]["40006"], 1);
}

TEST(SandboxFaultsTest, ErrorCodeForACountOfCallsThenNormalService) {
  Faults faults;
  faults.error_code = 70500;
  faults.error_count = 2;
  Sandbox sandbox(TestConfig(), faults, kNow);
  const PortraitGetRequest request = Request(NickOf({"user1"}));
  EXPECT_EQ(ErrorCodeOf(sandbox, request), 70500);
  EXPECT_EQ(ErrorCodeOf(sandbox, request), 70500);
  EXPECT_EQ(ErrorCodeOf(sandbox, request), 0);
  EXPECT_EQ(sandbox.GetFaults(kNow).error_code, 0);
}

TEST(SandboxFaultsTest, ErrorCodeWithoutACountHitsEveryCall) {
  Faults faults;
  faults.error_code = 60007;
  Sandbox sandbox(TestConfig(), faults, kNow);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(ErrorCodeOf(sandbox, Request(NickOf({"user1"}))), 60007);
  EXPECT_EQ(sandbox.Stats()["throttled"], 0);  // Injected, not the limiter.
  EXPECT_EQ(sandbox.Stats()["faults"]["error_code"], 5);
}

TEST(SandboxFaultsTest, Http502ThenNormal) {
  Faults faults;
  faults.http_502_count = 1;
  Sandbox sandbox(TestConfig(), faults, kNow);
  const Reply reply = sandbox.HandlePortraitGet(Request(NickOf({"user1"})), kNow);
  EXPECT_EQ(reply.http_status, 502);
  EXPECT_EQ(reply.content_type, "text/html");
  EXPECT_EQ(reply.body, "<html><body><h1>502 Bad Gateway</h1></body></html>");
  EXPECT_EQ(ErrorCodeOf(sandbox, Request(NickOf({"user1"}))), 0);
}

TEST(SandboxFaultsTest, MinusOneMeansAlways) {
  Faults faults;
  faults.http_502_count = -1;
  Sandbox sandbox(TestConfig(), faults, kNow);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(sandbox.HandlePortraitGet(Request(NickOf({"user1"})), kNow).http_status, 502);
  EXPECT_EQ(sandbox.GetFaults(kNow).http_502_count, -1);
}

TEST(SandboxFaultsTest, NonJsonAndTruncatedBodies) {
  Faults faults;
  faults.non_json_count = 1;
  faults.truncated_count = 1;
  Sandbox sandbox(TestConfig(), faults, kNow);
  const Reply html = sandbox.HandlePortraitGet(Request(NickOf({"user1"})), kNow);
  EXPECT_EQ(html.http_status, 200);
  EXPECT_TRUE(json::parse(html.body, nullptr, false).is_discarded());
  const Reply truncated = sandbox.HandlePortraitGet(Request(NickOf({"user1"})), kNow);
  EXPECT_EQ(truncated.http_status, 200);
  EXPECT_EQ(truncated.content_type, "application/json");
  EXPECT_EQ(truncated.body.front(), '{');
  EXPECT_TRUE(json::parse(truncated.body, nullptr, false).is_discarded());
  EXPECT_EQ(sandbox.Stats()["faulted"], 2);
}

TEST(SandboxFaultsTest, DropConnection) {
  Faults faults;
  faults.drop_connection_count = 1;
  Sandbox sandbox(TestConfig(), faults, kNow);
  EXPECT_TRUE(sandbox.HandlePortraitGet(Request(NickOf({"user1"})), kNow).drop_connection);
  EXPECT_FALSE(sandbox.HandlePortraitGet(Request(NickOf({"user1"})), kNow).drop_connection);
  EXPECT_EQ(sandbox.Stats()["faults"]["drop_connection"], 1);
}

TEST(SandboxFaultsTest, UserSigExpiredCountThenRenewedSigSucceeds) {
  Faults faults;
  faults.usersig_expired_count = 1;
  Sandbox sandbox(TestConfig(), faults, kNow);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request(NickOf({"user1"}), Sign(kAdmin, kAppId, 1700000000 - 60))), 70001);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request(NickOf({"user1"}), Sign(kAdmin, kAppId, 1700000000 - 1))), 0);
}

TEST(SandboxFaultsTest, ExpireAllSigs) {
  Faults faults;
  faults.expire_all_sigs = true;
  Sandbox sandbox(TestConfig(), faults, kNow);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ErrorCodeOf(sandbox, Request(NickOf({"user1"}))), 70001);
  sandbox.SetFaults({}, kNow);
  EXPECT_EQ(ErrorCodeOf(sandbox, Request(NickOf({"user1"}))), 0);
}

TEST(SandboxFaultsTest, OneFaultPerCallInAFixedOrder) {
  Faults faults;
  faults.http_502_count = 1;
  faults.error_code = 60007;
  faults.error_count = 1;
  faults.drop_connection_count = 1;
  Sandbox sandbox(TestConfig(), faults, kNow);
  const PortraitGetRequest request = Request(NickOf({"user1"}));
  EXPECT_TRUE(sandbox.HandlePortraitGet(request, kNow).drop_connection);
  EXPECT_EQ(sandbox.HandlePortraitGet(request, kNow).http_status, 502);
  EXPECT_EQ(ErrorCodeOf(sandbox, request), 60007);
  EXPECT_EQ(ErrorCodeOf(sandbox, request), 0);
}

TEST(SandboxStatsTest, CountsAndReset) {
  Sandbox sandbox(TestConfig());
  Call(sandbox, Request(NickOf({"user1", "user2", "ghost"})));
  Call(sandbox, Request(NickOf({"user1"}), Sign(kAdmin, kAppId, 1700000000 - 5)));
  Call(sandbox, Request(NickOf({"user1"}), "garbage"));
  json stats = sandbox.Stats();
  EXPECT_EQ(stats["calls"], 3);
  EXPECT_EQ(stats["ok"], 2);
  EXPECT_EQ(stats["rejected"], 1);
  EXPECT_EQ(stats["accounts"], 4);
  EXPECT_EQ(stats["failed_accounts"], 1);
  EXPECT_EQ(stats["max_accounts_per_call"], 3);
  EXPECT_EQ(stats["distinct_usersigs"], 2);
  EXPECT_EQ(stats["error_codes"], json({{"70003", 1}}));
  EXPECT_EQ(stats["result_codes"], json({{"40003", 1}}));

  sandbox.CallStarted();
  sandbox.CallStarted();
  sandbox.CallFinished();
  EXPECT_EQ(sandbox.Stats()["max_in_flight"], 2);
  sandbox.ResetStats();
  stats = sandbox.Stats();
  EXPECT_EQ(stats["calls"], 0);
  EXPECT_EQ(stats["accounts"], 0);
  EXPECT_EQ(stats["error_codes"], json::object());
  EXPECT_EQ(stats["in_flight"], 1);  // Still running: not forgotten by a reset.
  sandbox.CallFinished();
}

TEST(SandboxTest, UnknownCommandGets60009) {
  Sandbox sandbox(TestConfig());
  const json body = json::parse(sandbox.HandleUnknownCommand("/v4/profile/portrait_set").body);
  EXPECT_EQ(body["ErrorCode"], 60009);
}

TEST(SandboxTest, IssuedUserSigIsAccepted) {
  Sandbox sandbox(TestConfig());
  EXPECT_EQ(ErrorCodeOf(sandbox, Request(NickOf({"user1"}), sandbox.IssueUserSig(kAdmin, 3600, kNow))), 0);
}

}  // namespace
}  // namespace portrait_bridge::sandbox

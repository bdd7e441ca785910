#include "bridge/service/upstream_health.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/fake_clock.h"
#include "tests/unit/log_capture.h"

namespace portrait_bridge {
namespace {

constexpr char kMisconfigured[] = "upstream says the bridge is misconfigured: not ready until it answers again";
constexpr char kFailed[] = "upstream call failed";
const absl::Duration kLogInterval = absl::Seconds(10);
const absl::Duration kProbeInterval = absl::Seconds(30);

Failure HttpFailure(int status) {
  Failure failure;
  failure.rule = RuleForHttpStatus(status);
  failure.http_status = status;
  failure.message = "upstream answered HTTP " + std::to_string(status);
  return failure;
}

class UpstreamHealthTest : public ::testing::Test {
 protected:
  UpstreamHealthTest() {
    health_.SetProbe([this] { ++probes_; });
  }

  LogCapture log_;
  FakeClock clock_;
  TimerQueue timers_{clock_};
  std::vector<std::string> changes_;
  int probes_ = 0;
  UpstreamHealth health_{timers_, clock_, UpstreamHealthOptions{kLogInterval, kProbeInterval},
                         [this](absl::string_view reason) { changes_.emplace_back(reason); }};
};

TEST_F(UpstreamHealthTest, AWrongSecretKeyIsAnErrorWithWhatToFixAndMarksTheBridgeMisconfigured) {
  health_.OnAttemptFailed(TencentFailure(70009, "Err_TLS_Cert_Verify_Fail"));
  EXPECT_EQ(health_.misconfiguration(), "TENCENT_70009");
  EXPECT_EQ(changes_, std::vector<std::string>{"TENCENT_70009"});
  const std::vector<nlohmann::json> lines = log_.WithMsg(kMisconfigured);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["level"], "error");
  EXPECT_EQ(lines[0]["code"], 70009);
  EXPECT_EQ(lines[0]["reason"], "TENCENT_70009");
  EXPECT_NE(lines[0]["fix"].get<std::string>().find("wrong secret key"), std::string::npos) << lines[0];
}

TEST_F(UpstreamHealthTest, RepeatsOfTheMisconfigurationChangeNothingAndAreSummarized) {
  for (int i = 0; i < 50; ++i) health_.OnAttemptFailed(TencentFailure(70009, ""));
  EXPECT_EQ(changes_.size(), 1u);
  EXPECT_EQ(log_.WithMsg(kMisconfigured).size(), 1u);
  clock_.Advance(kLogInterval);
  const std::vector<nlohmann::json> summaries = log_.WithMsg("upstream failures left out of the log");
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0]["count"], 49);
  EXPECT_EQ(summaries[0]["code"], 70009);
  EXPECT_EQ(summaries[0]["level"], "error");
}

TEST_F(UpstreamHealthTest, AnAnsweredAttemptClearsTheMisconfiguration) {
  health_.OnAttemptFailed(TencentFailure(70016, ""));
  health_.OnAttemptAnswered();
  EXPECT_EQ(health_.misconfiguration(), "");
  EXPECT_EQ(changes_, (std::vector<std::string>{"TENCENT_70016", ""}));
  ASSERT_EQ(log_.WithMsg("upstream accepts the bridge's configuration again: ready").size(), 1u);
  EXPECT_EQ(log_.WithMsg("upstream accepts the bridge's configuration again: ready")[0]["cleared_reason"],
            "TENCENT_70016");
  health_.OnAttemptAnswered();
  EXPECT_EQ(changes_.size(), 2u) << "answers while configured change nothing";
}

TEST_F(UpstreamHealthTest, ANewReasonReplacesTheOld) {
  health_.OnAttemptFailed(TencentFailure(70009, ""));
  health_.OnAttemptFailed(TencentFailure(40004, ""));
  EXPECT_EQ(changes_, (std::vector<std::string>{"TENCENT_70009", "TENCENT_40004"}));
  EXPECT_EQ(health_.misconfiguration(), "TENCENT_40004");
}

TEST_F(UpstreamHealthTest, TransientFailuresAreWarningsAndLeaveTheStateAlone) {
  health_.OnAttemptFailed(TencentFailure(70009, ""));
  health_.OnAttemptFailed(HttpFailure(502));
  health_.OnAttemptFailed(TencentFailure(60007, ""));
  EXPECT_EQ(health_.misconfiguration(), "TENCENT_70009") << "a 502 or a throttle says nothing of the configuration";
  const std::vector<nlohmann::json> failed = log_.WithMsg(kFailed);
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[0]["level"], "warning");
  EXPECT_EQ(failed[0]["http_status"], 502);
  EXPECT_EQ(failed[0]["reason"], "UPSTREAM_HTTP_5XX");
  EXPECT_EQ(failed[0]["retryable"], true);
  EXPECT_EQ(failed[1]["code"], 60007);
  EXPECT_FALSE(failed[1].contains("fix"));
}

TEST_F(UpstreamHealthTest, ProbesRunEveryIntervalOnlyWhileMisconfigured) {
  clock_.Advance(kProbeInterval * 2);
  EXPECT_EQ(probes_, 0) << "no probe while configured";
  health_.OnAttemptFailed(TencentFailure(70009, ""));
  clock_.Advance(kProbeInterval - absl::Milliseconds(1));
  EXPECT_EQ(probes_, 0) << "not before the interval";
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(probes_, 1);
  clock_.Advance(kProbeInterval);
  EXPECT_EQ(probes_, 2);
  health_.OnAttemptAnswered();
  clock_.Advance(kProbeInterval * 3);
  EXPECT_EQ(probes_, 2) << "probing stops once cleared";
}

TEST_F(UpstreamHealthTest, SetProbeNullStopsProbing) {
  health_.OnAttemptFailed(TencentFailure(70009, ""));
  health_.SetProbe(nullptr);
  clock_.Advance(kProbeInterval * 2);
  EXPECT_EQ(probes_, 0);
}

TEST_F(UpstreamHealthTest, TransportMisconfigurationsCountToo) {
  Failure failure;
  failure.rule = RuleForTransportFailure(TransportFailure::kTlsVerification);
  failure.message = "certificate verify failed";
  health_.OnAttemptFailed(failure);
  EXPECT_EQ(health_.misconfiguration(), "UPSTREAM_TLS_VERIFICATION_FAILED");
  const std::vector<nlohmann::json> lines = log_.WithMsg(kMisconfigured);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_FALSE(lines[0].contains("code"));
}

TEST(MisconfigurationReasonsTest, AreEveryRuleThatEndsTheStreamAndNoOther) {
  const std::vector<absl::string_view> reasons = MisconfigurationReasons();
  for (const TencentCodeRow& row : TencentCodeTable()) {
    const bool listed = std::find(reasons.begin(), reasons.end(), row.rule.reason) != reasons.end();
    EXPECT_EQ(listed, row.rule.ends_stream) << row.code;
  }
  EXPECT_NE(std::find(reasons.begin(), reasons.end(), "TENCENT_70009"), reasons.end());
  EXPECT_NE(std::find(reasons.begin(), reasons.end(), "UPSTREAM_TLS_VERIFICATION_FAILED"), reasons.end());
  EXPECT_EQ(std::find(reasons.begin(), reasons.end(), "TENCENT_60007"), reasons.end());
}

}  // namespace
}  // namespace portrait_bridge

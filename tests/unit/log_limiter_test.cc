#include "bridge/service/log_limiter.h"

#include <gtest/gtest.h>

#include "tests/unit/fake_clock.h"
#include "tests/unit/log_capture.h"

namespace portrait_bridge {
namespace {

constexpr char kSummary[] = "upstream failures left out of the log";
const absl::Duration kInterval = absl::Seconds(10);

class LogLimiterTest : public ::testing::Test {
 protected:
  void Event(const std::string& kind, int64_t code) {
    limiter_.Log(kind, LogLevel::kWarning, "upstream call failed", {{"code", code}, {"error", "details"}},
                 {{"code", code}});
  }

  LogCapture log_;
  FakeClock clock_;
  TimerQueue timers_{clock_};
  LogLimiter limiter_{timers_, clock_, kInterval, kSummary};
};

TEST_F(LogLimiterTest, AStormWritesTheFirstLineThenOneSummaryAtTheIntervalNotBefore) {
  for (int i = 0; i < 4873; ++i) Event("60007", 60007);
  ASSERT_EQ(log_.records().size(), 1u) << "only the first of the storm at once";
  EXPECT_EQ(log_.records()[0]["msg"], "upstream call failed");
  EXPECT_EQ(log_.records()[0]["code"], 60007);
  EXPECT_EQ(log_.records()[0]["error"], "details");

  clock_.Advance(kInterval - absl::Milliseconds(1));
  EXPECT_EQ(log_.records().size(), 1u) << "no summary before the interval ends";
  clock_.Advance(absl::Milliseconds(1));
  const std::vector<nlohmann::json> summaries = log_.WithMsg(kSummary);
  ASSERT_EQ(summaries.size(), 1u) << "the summary at the interval's end";
  EXPECT_EQ(summaries[0]["code"], 60007);
  EXPECT_EQ(summaries[0]["count"], 4872) << "every event but the one logged";
  EXPECT_EQ(summaries[0]["interval_s"], 10);
  EXPECT_EQ(summaries[0]["level"], "warning");
  EXPECT_FALSE(summaries[0].contains("error")) << "the summary names the kind, not one event's details";
}

TEST_F(LogLimiterTest, AfterTheSummaryTheNextEventIsLoggedAtOnce) {
  Event("60007", 60007);
  Event("60007", 60007);
  clock_.Advance(kInterval);
  ASSERT_EQ(log_.records().size(), 2u);
  Event("60007", 60007);
  EXPECT_EQ(log_.records().size(), 3u);
  EXPECT_EQ(log_.records()[2]["msg"], "upstream call failed");
}

TEST_F(LogLimiterTest, KindsAreCountedApart) {
  Event("60007", 60007);
  Event("http_502", 502);
  Event("60007", 60007);
  Event("60007", 60007);
  Event("http_502", 502);
  ASSERT_EQ(log_.records().size(), 2u) << "the first of each kind";
  clock_.Advance(kInterval);
  std::map<int64_t, int64_t> count_by_code;
  for (const nlohmann::json& summary : log_.WithMsg(kSummary)) count_by_code[summary["code"]] = summary["count"];
  EXPECT_EQ(count_by_code, (std::map<int64_t, int64_t>{{60007, 2}, {502, 1}}));
}

TEST_F(LogLimiterTest, AnIntervalWithNoRepeatWritesNoSummary) {
  Event("60007", 60007);
  clock_.Advance(kInterval * 3);
  EXPECT_EQ(log_.records().size(), 1u);
  Event("60007", 60007);  // The old interval ended: a fresh one, logged at once.
  EXPECT_EQ(log_.records().size(), 2u);
}

TEST_F(LogLimiterTest, ASummaryDueAfterTheLimiterIsGoneIsDropped) {
  {
    LogLimiter short_lived(timers_, clock_, kInterval, "short-lived summary");
    short_lived.Log("k", LogLevel::kWarning, "event", {}, {});
    short_lived.Log("k", LogLevel::kWarning, "event", {}, {});
  }
  clock_.Advance(kInterval);
  EXPECT_TRUE(log_.WithMsg("short-lived summary").empty());
  EXPECT_EQ(log_.WithMsg("event").size(), 1u);
}

}  // namespace
}  // namespace portrait_bridge

#include "bridge/core/log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace portrait_bridge {
namespace {

const absl::Time kTime = absl::FromUnixMillis(1700000000123);

nlohmann::json Parse(const std::string& line) { return nlohmann::json::parse(line); }

TEST(LogTest, ValuesKeepTheirTypesInJson) {
  const std::string line = FormatLogLine(
      kTime, LogLevel::kInfo, "finished",
      {{"duration_ms", 502}, {"accounts", int64_t{7}}, {"ratio", 0.25}, {"ok", true}, {"code", "NOT_FOUND"}}, true);
  const nlohmann::json record = Parse(line);
  EXPECT_TRUE(record["duration_ms"].is_number_integer()) << line;
  EXPECT_EQ(record["duration_ms"], 502);
  EXPECT_EQ(record["accounts"], 7);
  EXPECT_TRUE(record["ratio"].is_number_float()) << line;
  EXPECT_DOUBLE_EQ(record["ratio"].get<double>(), 0.25);
  EXPECT_TRUE(record["ok"].is_boolean()) << line;
  EXPECT_EQ(record["ok"], true);
  EXPECT_TRUE(record["code"].is_string()) << line;
  EXPECT_NE(line.find(R"("duration_ms":502)"), std::string::npos) << line;
}

TEST(LogTest, TheRecordLeadsWithTimeLevelAndMsg) {
  const std::string line = FormatLogLine(kTime, LogLevel::kWarning, "upstream call failed", {{"code", 60007}}, true);
  EXPECT_EQ(line.rfind(R"({"time":"2023-11-14T22:13:20.123Z","level":"warning","msg":"upstream call failed",)", 0), 0u)
      << line;
}

TEST(LogTest, FieldsNamedLikeTheRecordsKeysAreRenamed) {
  const std::string line = FormatLogLine(
      kTime, LogLevel::kInfo, "the message",
      {{"message", "status text"}, {"msg", "other"}, {"time", 5}, {"level", "fake"}, {"error", "e"}}, true);
  const nlohmann::json record = Parse(line);
  EXPECT_EQ(record["msg"], "the message");
  EXPECT_EQ(record["level"], "info");
  EXPECT_EQ(record["time"], "2023-11-14T22:13:20.123Z");
  EXPECT_FALSE(record.contains("message")) << line;
  EXPECT_EQ(record["field_message"], "status text");
  EXPECT_EQ(record["field_msg"], "other");
  EXPECT_EQ(record["field_time"], 5);
  EXPECT_EQ(record["field_level"], "fake");
  EXPECT_EQ(record["error"], "e");
  // Exactly one "msg" key on the line.
  EXPECT_EQ(line.find(R"("msg")"), line.rfind(R"("msg")")) << line;
}

TEST(LogTest, InvalidUtf8StillMakesOneValidJsonLine) {
  const std::string hostile = std::string("caller\xff\xfe said \"hi\"\n\x01 bye", 23);
  const std::string line = FormatLogLine(kTime, LogLevel::kInfo, hostile, {{"account", hostile}}, true);
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  const nlohmann::json record = Parse(line);  // Throws, failing the test, if the line is not valid JSON.
  EXPECT_NE(record["account"].get<std::string>().find("said \"hi\"\n"), std::string::npos);
  EXPECT_NE(record["msg"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos) << "U+FFFD replaces the bytes";
}

TEST(LogTest, TextFormatPrintsValuesAsTheyAre) {
  const std::string line =
      FormatLogLine(kTime, LogLevel::kError, "cannot listen",
                    {{"port", 8080}, {"ok", false}, {"ratio", 0.5}, {"address", "[::]:8080"}, {"message", "m"}}, false);
  EXPECT_EQ(line,
            "2023-11-14T22:13:20.123Z error cannot listen port=8080 ok=false ratio=0.5 address=[::]:8080 "
            "field_message=m");
}

TEST(LogTest, LevelsBelowTheMinimumAreNotWritten) {
  std::string written;
  SetLogSinkForTesting([&written](absl::string_view line) { written.append(line.data(), line.size()); });
  ConfigureLog(LogLevel::kWarning, true);
  Log(LogLevel::kInfo, "quiet");
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_TRUE(written.empty()) << written;
  Log(LogLevel::kWarning, "loud", {{"n", 1}});
  ConfigureLog(LogLevel::kInfo, true);
  SetLogSinkForTesting(nullptr);
  ASSERT_FALSE(written.empty());
  EXPECT_EQ(written.back(), '\n');
  EXPECT_EQ(Parse(written)["msg"], "loud");
  EXPECT_EQ(Parse(written)["n"], 1);
}

}  // namespace
}  // namespace portrait_bridge

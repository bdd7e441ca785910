#include "bridge/core/call_ids.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace portrait_bridge {
namespace {

constexpr char kTraceparent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(CallIdsTest, ValidIdsAreKept) {
  const CallIds ids = ParseCallIds("req-42/abc", kTraceparent);
  EXPECT_EQ(ids.request_id, "req-42/abc");
  EXPECT_EQ(ids.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(ids.span_id, "00f067aa0ba902b7");
}

TEST(CallIdsTest, AbsentIdsStayEmpty) {
  const CallIds ids = ParseCallIds(std::nullopt, std::nullopt);
  EXPECT_TRUE(ids.request_id.empty());
  EXPECT_TRUE(ids.trace_id.empty());
  EXPECT_TRUE(ids.span_id.empty());
}

TEST(CallIdsTest, RequestIdsMustBeShortPrintableAscii) {
  EXPECT_EQ(ParseCallIds(std::string(kMaxRequestIdLength, 'a'), std::nullopt).request_id.size(), kMaxRequestIdLength);
  for (const std::string& bad : {std::string(kMaxRequestIdLength + 1, 'a'), std::string(), std::string("a\nb"),
                                 std::string("a\x7f"), std::string("caf\xc3\xa9"), std::string("a\0b", 3)}) {
    EXPECT_TRUE(ParseCallIds(bad, std::nullopt).request_id.empty()) << bad;
  }
}

TEST(CallIdsTest, OnlyW3cVersion00TraceparentsAreKept) {
  const std::vector<std::string> bad = {
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",        // Another version.
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",        // Upper case.
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",        // All-zero trace id.
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",        // All-zero parent id.
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // Too long.
      "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",         // Short trace id.
      "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",        // Wrong separators.
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",        // Bad flags.
      "00-4bf92f3577b34da6a3ce929d0e0e47\n6-00f067aa0ba902b7-01",       // A control character.
      std::string(4096, '0'),
  };
  for (const std::string& traceparent : bad) {
    const CallIds ids = ParseCallIds("r1", traceparent);
    EXPECT_TRUE(ids.trace_id.empty()) << traceparent;
    EXPECT_TRUE(ids.span_id.empty()) << traceparent;
    EXPECT_EQ(ids.request_id, "r1") << "one bad id does not drop the other";
  }
}

TEST(CallIdsTest, FieldsNameEachIdThatIsSet) {
  std::vector<LogField> fields;
  AppendCallIdFields(ParseCallIds("r1", kTraceparent), fields);
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_EQ(fields[0].first, "request_id");
  EXPECT_EQ(fields[1].first, "trace_id");
  EXPECT_EQ(fields[2].first, "span_id");
  EXPECT_EQ(std::get<std::string>(fields[1].second.value()), "4bf92f3577b34da6a3ce929d0e0e4736");
  fields.clear();
  AppendCallIdFields(ParseCallIds(std::nullopt, kTraceparent), fields);
  EXPECT_EQ(fields.size(), 2u);
}

}  // namespace
}  // namespace portrait_bridge

#include "bridge/core/portrait_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/strip.h"

namespace portrait_bridge {
namespace {

using portraitbridge::profile::v1::ProfileItem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// --- Request -------------------------------------------------------------------------------------------------

TEST(BuildPortraitGetBodyTest, HoldsExactlyToAccountAndTagListInOrder) {
  const std::vector<std::string> accounts = {"id1", "id2", "\xE7\x94\xA8\xE6\x88\xB7"};
  const std::vector<std::string> tags = {"Tag_Profile_IM_Nick", "Tag_Profile_Custom_Test"};
  const std::string body = BuildPortraitGetBody(accounts, tags);
  const nlohmann::json parsed = nlohmann::json::parse(body);
  ASSERT_TRUE(parsed.is_object());
  EXPECT_EQ(parsed.size(), 2u) << body;
  EXPECT_EQ(parsed.at("To_Account"), nlohmann::json(accounts));
  EXPECT_EQ(parsed.at("TagList"), nlohmann::json(tags));
}

TEST(BuildPortraitGetBodyTest, SameBytesAsTheJsonDocumentsDump) {
  const std::vector<std::string> accounts = {"id1", "a\"b\\c/d", std::string("ctl\x01\x1f\b\f\n\r\t\x7f", 12),
                                             "\xE7\x94\xA8\xE6\x88\xB7", ""};
  const std::vector<std::string> tags = {"Tag_Profile_IM_Nick", "Tag\"x"};
  for (const auto& [a, t] : std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>>{
           {accounts, tags}, {{}, {}}, {{"only"}, {}}}) {
    nlohmann::json document = nlohmann::json::object();
    document["To_Account"] = a;
    document["TagList"] = t;
    EXPECT_EQ(BuildPortraitGetBody(a, t), document.dump());
  }
}

TEST(BuildPortraitGetBodyTest, EscapesCharactersThatWouldBreakJson) {
  const std::vector<std::string> accounts = {"quote\"back\\slash"};
  const std::vector<std::string> tags = {"Tag_Profile_IM_Nick"};
  const nlohmann::json parsed = nlohmann::json::parse(BuildPortraitGetBody(accounts, tags));
  EXPECT_EQ(parsed.at("To_Account").at(0), "quote\"back\\slash");
}

TEST(BuildPortraitGetUrlTest, BuildsTheDocumentedUrl) {
  EXPECT_EQ(BuildPortraitGetUrl("https://adminapisgp.im.qcloud.com", 1400000000, "administrator", "eJw*sig-_", 42),
            "https://adminapisgp.im.qcloud.com/v4/profile/portrait_get?sdkappid=1400000000"
            "&identifier=administrator&usersig=eJw*sig-_&random=42&contenttype=json");
}

TEST(BuildPortraitGetUrlTest, StripsTrailingSlashesOfTheBase) {
  const std::string expected =
      "http://127.0.0.1:8080/v4/profile/portrait_get?sdkappid=1&identifier=admin&usersig=s&random=4294967295"
      "&contenttype=json";
  EXPECT_EQ(BuildPortraitGetUrl("http://127.0.0.1:8080/", 1, "admin", "s", 4294967295u), expected);
  EXPECT_EQ(BuildPortraitGetUrl("http://127.0.0.1:8080//", 1, "admin", "s", 4294967295u), expected);
}

TEST(RegionBaseUrlTest, EveryRegionMapsToTheReferenceDomain) {
  const std::vector<std::pair<std::string, std::string>> regions = {
      {"china", "https://console.tim.qq.com"},
      {"singapore", "https://adminapisgp.im.qcloud.com"},
      {"seoul", "https://adminapikr.im.qcloud.com"},
      {"tokyo", "https://adminapijpn.im.qcloud.com"},
      {"frankfurt", "https://adminapiger.im.qcloud.com"},
      {"mumbai", "https://adminapiind.im.qcloud.com"},
      {"silicon-valley", "https://adminapiusa.im.qcloud.com"},
      {"jakarta", "https://adminapiidn.im.qcloud.com"},
  };
  for (const auto& [region, url] : regions) {
    const absl::StatusOr<std::string> resolved = RegionBaseUrl(region);
    ASSERT_TRUE(resolved.ok()) << region << ": " << resolved.status();
    EXPECT_EQ(*resolved, url) << region;
  }
}

TEST(RegionBaseUrlTest, UnknownRegionIsNotFoundAndListsTheKnownNames) {
  const absl::StatusOr<std::string> resolved = RegionBaseUrl("atlantis");
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.status().code(), absl::StatusCode::kNotFound);
  const std::string message(resolved.status().message());
  EXPECT_THAT(message, HasSubstr("atlantis"));
  for (const char* name :
       {"china", "singapore", "seoul", "tokyo", "frankfurt", "mumbai", "silicon-valley", "jakarta"}) {
    EXPECT_THAT(message, HasSubstr(name));
  }
}

TEST(RegionBaseUrlTest, RegionNamesAreCaseSensitive) {
  EXPECT_FALSE(RegionBaseUrl("Singapore").ok());
  EXPECT_FALSE(RegionBaseUrl("").ok());
}

// --- Response ------------------------------------------------------------------------------------------------

absl::StatusOr<PortraitGetAnswer> Parse(absl::string_view body, const TagTypes& types = TagTypes()) {
  return ParsePortraitGetBody(body, types);
}

TEST(ParsePortraitGetBodyTest, ReferenceExampleWithPartialSuccess) {
  constexpr char kBody[] = R"({"UserProfileItem":[
     {"To_Account":"id1","ProfileItem":[{"Tag":"Tag_Profile_IM_Nick","Value":"NickNameTest1"}],"ResultCode":0,"ResultInfo":""},
     {"To_Account":"id4","ResultCode":40006,"ResultInfo":"Err_Profile_PortraitGet_Read_Custom_Data_Fail"}],
   "Fail_Account":["id4"],
   "ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","ErrorDisplay":""})";
  const absl::StatusOr<PortraitGetAnswer> answer = Parse(kBody);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->error_code, 0);
  ASSERT_EQ(answer->users.size(), 2u);

  const UserProfileEntry& ok_user = answer->users[0];
  EXPECT_EQ(ok_user.account, "id1");
  EXPECT_EQ(ok_user.result_code, 0);
  ASSERT_EQ(ok_user.items().size(), 1u);
  EXPECT_EQ(ok_user.items()[0].tag(), "Tag_Profile_IM_Nick");
  EXPECT_EQ(ok_user.items()[0].value_case(), ProfileItem::kStringValue);
  EXPECT_EQ(ok_user.items()[0].string_value(), "NickNameTest1");

  const UserProfileEntry& failed_user = answer->users[1];
  EXPECT_EQ(failed_user.account, "id4");
  EXPECT_EQ(failed_user.result_code, 40006);
  EXPECT_EQ(failed_user.result_info, "Err_Profile_PortraitGet_Read_Custom_Data_Fail");
  EXPECT_TRUE(failed_user.items().empty());
}

// One user with one item whose Value is `value_json`, parsed with `types`.
absl::StatusOr<ProfileItem> ParseOneItem(const std::string& tag, const std::string& value_json,
                                         const TagTypes& types = TagTypes()) {
  const std::string body = R"({"ActionStatus":"OK","ErrorCode":0,"UserProfileItem":[{"To_Account":"u",)"
                           R"("ResultCode":0,"ProfileItem":[{"Tag":")" +
                           tag + R"(","Value":)" + value_json + "}]}]}";
  absl::StatusOr<PortraitGetAnswer> answer = ParsePortraitGetBody(body, types);
  if (!answer.ok()) return answer.status();
  if (answer->users.size() != 1 || answer->users[0].items().size() != 1) {
    return absl::InternalError("expected exactly one user with one item");
  }
  return answer->users[0].items()[0];
}

TEST(ParsePortraitGetBodyTest, IntegerFieldAsNumberIsUintValue) {
  const absl::StatusOr<ProfileItem> item = ParseOneItem("Tag_Profile_IM_BirthDay", "20190419");
  ASSERT_TRUE(item.ok()) << item.status();
  ASSERT_EQ(item->value_case(), ProfileItem::kUintValue);
  EXPECT_EQ(item->uint_value(), 20190419u);
}

TEST(ParsePortraitGetBodyTest, IntegerFieldAsDecimalStringIsUintValue) {
  const absl::StatusOr<ProfileItem> item = ParseOneItem("Tag_Profile_IM_BirthDay", R"("20190419")");
  ASSERT_TRUE(item.ok()) << item.status();
  ASSERT_EQ(item->value_case(), ProfileItem::kUintValue);
  EXPECT_EQ(item->uint_value(), 20190419u);
}

TEST(ParsePortraitGetBodyTest, IntegerFieldThatIsNotANumberKeepsItsTextAsString) {
  const absl::StatusOr<ProfileItem> item = ParseOneItem("Tag_Profile_IM_Level", R"("high")");
  ASSERT_TRUE(item.ok()) << item.status();
  ASSERT_EQ(item->value_case(), ProfileItem::kStringValue);
  EXPECT_EQ(item->string_value(), "high");
}

// uint_value is 32 bits, as Tencent's integer fields are: a larger value keeps its text, whole.
TEST(ParsePortraitGetBodyTest, IntegerFieldBeyond32BitsKeepsItsTextAsString) {
  const absl::StatusOr<ProfileItem> largest = ParseOneItem("Tag_Profile_IM_Level", "4294967295");
  ASSERT_TRUE(largest.ok()) << largest.status();
  ASSERT_EQ(largest->value_case(), ProfileItem::kUintValue);
  EXPECT_EQ(largest->uint_value(), 4294967295u);
  for (const std::string value : {"4294967296", R"("4294967296")", "18446744073709551615"}) {
    const absl::StatusOr<ProfileItem> item = ParseOneItem("Tag_Profile_IM_Level", value);
    ASSERT_TRUE(item.ok()) << item.status();
    ASSERT_EQ(item->value_case(), ProfileItem::kStringValue) << value;
    EXPECT_EQ(item->string_value(), absl::StripPrefix(absl::StripSuffix(value, "\""), "\"")) << value;
  }
}

TEST(ParsePortraitGetBodyTest, StringFieldAsNumberIsStringValue) {
  const absl::StatusOr<ProfileItem> item = ParseOneItem("Tag_Profile_IM_Nick", "12345");
  ASSERT_TRUE(item.ok()) << item.status();
  ASSERT_EQ(item->value_case(), ProfileItem::kStringValue);
  EXPECT_EQ(item->string_value(), "12345");
}

TEST(ParsePortraitGetBodyTest, CustomTagConfiguredAsBytesIsBytesValue) {
  const TagTypes types({"Tag_Profile_Custom_Blob"});
  const absl::StatusOr<ProfileItem> item = ParseOneItem("Tag_Profile_Custom_Blob", R"("\u0000raw")", types);
  ASSERT_TRUE(item.ok()) << item.status();
  ASSERT_EQ(item->value_case(), ProfileItem::kBytesValue);
  EXPECT_EQ(item->bytes_value(), std::string("\0raw", 4));

  const absl::StatusOr<ProfileItem> other = ParseOneItem("Tag_Profile_Custom_Text", R"("text")", types);
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_EQ(other->value_case(), ProfileItem::kStringValue);
  EXPECT_EQ(other->string_value(), "text");
}

TEST(ParsePortraitGetBodyTest, NullValueGivesAnItemWithoutValue) {
  const absl::StatusOr<ProfileItem> item = ParseOneItem("Tag_Profile_IM_Nick", "null");
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->tag(), "Tag_Profile_IM_Nick");
  EXPECT_EQ(item->value_case(), ProfileItem::VALUE_NOT_SET);
}

TEST(ParsePortraitGetBodyTest, EmptyStringValueIsKept) {
  const absl::StatusOr<ProfileItem> item = ParseOneItem("Tag_Profile_IM_Nick", R"("")");
  ASSERT_TRUE(item.ok()) << item.status();
  ASSERT_EQ(item->value_case(), ProfileItem::kStringValue);
  EXPECT_EQ(item->string_value(), "");
}

TEST(ParsePortraitGetBodyTest, UnknownFieldsAreIgnored) {
  constexpr char kBody[] = R"({"RequestId":"abc-123","ActionStatus":"OK","ErrorCode":0,"NewTopLevel":{"x":[1,2]},
    "UserProfileItem":[{"To_Account":"id1","Extra":true,"ResultCode":0,
      "ProfileItem":[{"Tag":"Tag_Profile_IM_Level","Value":7,"Unexpected":"y"}]}]})";
  const absl::StatusOr<PortraitGetAnswer> answer = Parse(kBody);
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_EQ(answer->users.size(), 1u);
  EXPECT_EQ(answer->users[0].account, "id1");
  ASSERT_EQ(answer->users[0].items().size(), 1u);
  EXPECT_EQ(answer->users[0].items()[0].uint_value(), 7u);
}

TEST(ParsePortraitGetBodyTest, RequestLevelFailureSetsErrorCode) {
  const absl::StatusOr<PortraitGetAnswer> answer =
      Parse(R"({"ActionStatus":"FAIL","ErrorCode":70001,"ErrorInfo":"usersig expired","ErrorDisplay":""})");
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->error_code, 70001);
  EXPECT_EQ(answer->error_info, "usersig expired");
  EXPECT_TRUE(answer->users.empty());
}

TEST(ParsePortraitGetBodyTest, FailWithZeroErrorCodeIsAnError) {
  EXPECT_EQ(Parse(R"({"ActionStatus":"FAIL","ErrorCode":0})").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParsePortraitGetBodyTest, BodiesThatAreNotPortraitGetDocumentsAreErrors) {
  const std::vector<std::string> bodies = {
      "<html><body><h1>502 Bad Gateway</h1></body></html>",
      R"({"ActionStatus":"OK","ErrorCode":0,"UserProfileItem":[{"To_Account":"id1")",   // truncated
      R"([{"ActionStatus":"OK","ErrorCode":0}])",                                       // array
      R"({"ActionStatus":"OK","ErrorCode":0,"UserProfileItem":{"To_Account":"id1"}})",  // not an array
      R"({"ActionStatus":"OK","ErrorCode":0,"UserProfileItem":[{"To_Account":"id1",)"
      R"("ProfileItem":[{"Value":"x"}]}]})",                                          // item without Tag
      R"({"ActionStatus":"OK","ErrorCode":0,"UserProfileItem":[{"ResultCode":0}]})",  // user without To_Account
      R"({"ActionStatus":"OK","ErrorCode":"zero"})",                                  // ErrorCode not a number
      R"({"something":"else"})",                                                      // neither status field
      "",
  };
  for (const std::string& body : bodies) {
    const absl::StatusOr<PortraitGetAnswer> answer = Parse(body);
    EXPECT_EQ(answer.status().code(), absl::StatusCode::kInvalidArgument) << body;
  }
}

TEST(ParsePortraitGetBodyTest, KeysInAnyOrderAndUnknownNestingAtEveryLevel) {
  constexpr char kBody[] = R"({"UserProfileItem":[
      {"Meta":{"a":[{"b":[]},{}],"c":{"d":{"e":1}}},"ProfileItem":[
         {"Value":19900101,"Extra":[[1],[2,{"x":"y"}]],"Tag":"Tag_Profile_IM_BirthDay"},
         {"Tag":"Tag_Profile_IM_Nick","Value":"N"}],
       "ResultInfo":"","To_Account":"id1","ResultCode":0},
      {"To_Account":"id2","ResultCode":40003,"ResultInfo":"Err","ProfileItem":null}],
    "Fail_Account":["id2"],"Nested":[{"UserProfileItem":[1,2]}],"ErrorCode":0,"ActionStatus":"OK"})";
  const absl::StatusOr<PortraitGetAnswer> answer = Parse(kBody);
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_EQ(answer->users.size(), 2u);
  EXPECT_EQ(answer->users[0].account, "id1");
  ASSERT_EQ(answer->users[0].items().size(), 2u);
  EXPECT_EQ(answer->users[0].items()[0].tag(), "Tag_Profile_IM_BirthDay");
  EXPECT_EQ(answer->users[0].items()[0].uint_value(), 19900101u);
  EXPECT_EQ(answer->users[0].items()[1].string_value(), "N");
  EXPECT_EQ(answer->users[1].account, "id2");
  EXPECT_EQ(answer->users[1].result_code, 40003);
  EXPECT_TRUE(answer->users[1].items().empty());
}

TEST(ParsePortraitGetBodyTest, ContainersWhereScalarsBelongAreErrors) {
  const std::vector<std::string> bodies = {
      R"({"ErrorCode":0,"UserProfileItem":[{"To_Account":"id1","ProfileItem":{"Tag":"x"}}]})",  // items object
      R"({"ErrorCode":0,"UserProfileItem":[{"To_Account":"id1","ProfileItem":[{"Tag":"T","Value":[1]}]}]})",
      R"({"ErrorCode":0,"UserProfileItem":[{"To_Account":"id1","ProfileItem":[{"Tag":"T","Value":{}}]}]})",
      R"({"ErrorCode":0,"UserProfileItem":[["id1"]]})",                                 // entry is an array
      R"({"ErrorCode":0,"UserProfileItem":[{"To_Account":{"id":"id1"}}]})",             // account object
      R"({"ErrorCode":0,"UserProfileItem":[{"To_Account":"id1","ProfileItem":[7]}]})",  // item scalar
      R"({"ErrorCode":{"code":0}})",                                                    // code object
  };
  for (const std::string& body : bodies)
    EXPECT_EQ(Parse(body).status().code(), absl::StatusCode::kInvalidArgument) << body;
}

// Found by tests/fuzz/portrait_api_fuzzer: an ActionStatus whose value was an array or an object did not count as
// present (a scalar of any type did), so such a body without ErrorCode was refused as having neither field.
TEST(ParsePortraitGetBodyTest, AnActionStatusOfAnyTypeCountsAsPresent) {
  for (const std::string status : {R"("OK")", "null", "7", R"(["OK"])", R"(["FAIL"])", R"({"a":"FAIL"})"}) {
    const std::string body =
        R"({"ActionStatus":)" + status + R"(,"UserProfileItem":[{"To_Account":"id1","ResultCode":0}]})";
    const absl::StatusOr<PortraitGetAnswer> answer = Parse(body);
    ASSERT_TRUE(answer.ok()) << body << ": " << answer.status();
    EXPECT_EQ(answer->error_code, 0);
    EXPECT_EQ(answer->users.size(), 1u) << body;
  }
}

TEST(ParsePortraitGetBodyTest, AFailedCallIgnoresAMalformedUserList) {
  const absl::StatusOr<PortraitGetAnswer> answer =
      Parse(R"({"ActionStatus":"FAIL","ErrorCode":60008,"UserProfileItem":[{"no":"account"}]})");
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->error_code, 60008);
  EXPECT_TRUE(answer->users.empty());
}

// Hostile answers: every truncation and thousands of random byte changes of a real answer parse to either an
// answer or INVALID_ARGUMENT, never anything else (and never a crash: the sanitizer build runs this too).

// `body` with 1 to max_changes random edits: a byte replaced by one of `alphabet`, 1 to max_erase bytes erased, or
// one of `alphabet` inserted. Never empty.
std::string Mutate(std::string body, std::mt19937& random, const std::string& alphabet, int max_changes,
                   int max_erase) {
  const int changes = 1 + static_cast<int>(random() % max_changes);
  for (int c = 0; c < changes; ++c) {
    const size_t at = random() % body.size();
    switch (random() % 3) {
      case 0:
        body[at] = alphabet[random() % alphabet.size()];
        break;
      case 1:
        body.erase(at, 1 + random() % max_erase);
        break;
      default:
        body.insert(at, 1, alphabet[random() % alphabet.size()]);
        break;
    }
    if (body.empty()) body = "x";
  }
  return body;
}

TEST(ParsePortraitGetBodyTest, MutatedAnswersAreAnswersOrInvalidArgument) {
  const std::string valid = R"({"UserProfileItem":[{"To_Account":"id1","ProfileItem":[{"Tag":"Tag_Profile_IM_Nick",)"
                            R"("Value":"N"},{"Tag":"Tag_Profile_IM_Level","Value":3}],"ResultCode":0,"ResultInfo":""},)"
                            R"({"To_Account":"id4","ResultCode":40006,"ResultInfo":"x"}],"Fail_Account":["id4"],)"
                            R"("ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""})";
  ASSERT_TRUE(Parse(valid).ok());
  auto acceptable = [](const absl::StatusOr<PortraitGetAnswer>& answer) {
    return answer.ok() || answer.status().code() == absl::StatusCode::kInvalidArgument;
  };
  for (size_t length = 0; length < valid.size(); ++length) {
    const std::string truncated = valid.substr(0, length);
    EXPECT_EQ(Parse(truncated).status().code(), absl::StatusCode::kInvalidArgument) << truncated;
  }
  std::mt19937 random(2026);
  const std::string alphabet = "{}[]:,\"0123456789-.eE truefalsn\\x";
  for (int round = 0; round < 20000; ++round) {
    const std::string mutated = Mutate(valid, random, alphabet, /*max_changes=*/4, /*max_erase=*/8);
    EXPECT_TRUE(acceptable(Parse(mutated))) << mutated;
  }
}

// The parser reads JSON itself: it accepts exactly what nlohmann's strict parser accepts, and decodes strings and
// numbers as it does.
bool IsJson(const std::string& body) {
  const absl::StatusOr<PortraitGetAnswer> answer = Parse(body);
  return answer.ok() || answer.status().message() != "the body is not JSON (or is truncated)";
}

TEST(ParsePortraitGetBodyTest, AcceptsTheJsonThatNlohmannAccepts) {
  const std::string head = R"({"ErrorCode":0,"UserProfileItem":[{"To_Account":"u","ProfileItem":[{"Tag":"T","Value":)";
  std::vector<std::string> bodies;
  for (const std::string value : {R"("a\"b\\c\/d\b\f\n\r\te")",
                                  R"("\u00e9\u4e2d\ud83d\ude00\u0000")",
                                  R"("\ud83d")",
                                  R"("\ude00")",
                                  R"("\ud83dx")",
                                  R"("\ud83d\u0041")",
                                  R"("\u12")",
                                  R"("\u12g4")",
                                  R"("\x")",
                                  "\"\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80\"",
                                  "\"\xC0\xAF\"",
                                  "\"\xE0\x80\xAF\"",
                                  "\"\xED\xA0\x80\"",
                                  "\"\xF4\x90\x80\x80\"",
                                  "\"\xF5\x80\x80\x80\"",
                                  "\"\xC3\"",
                                  "\"\x80\"",
                                  "\"a\tb\"",
                                  "\"a\x01\"",
                                  "\"a\x7F\"",
                                  "0",
                                  "-0",
                                  "01",
                                  "-",
                                  "1.",
                                  "1.5",
                                  ".5",
                                  "1e5",
                                  "1E+5",
                                  "1e-5",
                                  "1e",
                                  "1e+",
                                  "-1",
                                  "18446744073709551615",
                                  "18446744073709551616",
                                  "-9223372036854775808",
                                  "-9223372036854775809",
                                  "1.0e400",
                                  "true",
                                  "false",
                                  "null",
                                  "tru",
                                  "nul",
                                  "True",
                                  "[]",
                                  "{}",
                                  "[1,]",
                                  "{\"a\":}",
                                  "{\"a\" 1}",
                                  "{1:2}",
                                  "[1 2]"}) {
    bodies.push_back(head + value + "}]}]}");
  }
  for (const std::string body : {"", " ", "{}", " {} ", "\xEF\xBB\xBF{}", "\xEF\xBB{}", "{}x", "{} {}", "{\"a\":1,}",
                                 "{,}", "\t\r\n{\"ErrorCode\":0}\n", "{\"ErrorCode\":0}\x00", "[[[[]]]]", "[[[[]]]"}) {
    bodies.push_back(body);
  }
  bodies.push_back(std::string("{\"ErrorCode\":0}\0", 16));
  for (const std::string& body : bodies) {
    EXPECT_EQ(IsJson(body), nlohmann::json::accept(body)) << body;
  }
  for (const std::string value : {R"("a\"b\\c\/d\b\f\n\r\te")", R"("\u00e9\u4e2d\ud83d\ude00\u0000x")",
                                  "\"\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80\"", "1.5", "-3", "true", "1e3"}) {
    const absl::StatusOr<ProfileItem> item = ParseOneItem("Tag_Profile_IM_Nick", value);
    ASSERT_TRUE(item.ok()) << value << ": " << item.status();
    const nlohmann::json expected = nlohmann::json::parse(value);
    EXPECT_EQ(item->string_value(), expected.is_string() ? expected.get<std::string>() : expected.dump()) << value;
  }
}

// Strings are scanned eight bytes at a time: each kind of byte that ends a run of plain characters, at every place
// in the eight-byte words and in the tail, and strings cut short at every length, read as nlohmann reads them.
TEST(ParsePortraitGetBodyTest, StringsReadAlikeWhereverTheirSpecialBytesFall) {
  const std::string head = R"({"ErrorCode":0,"UserProfileItem":[{"To_Account":"u","ProfileItem":[{"Tag":"T","Value":)";
  const std::string tail = "}]}]}";
  for (const std::string special : {"\\\"", "\\\\", "\\n", "\\u00e9", "\\ud83d\\ude00", "\x01", "\x1F", "\x7F", " ",
                                    "~", "\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80", "\xC3", "\x80", "\xFF"}) {
    for (size_t before = 0; before <= 17; ++before) {
      for (size_t after : {0, 1, 7, 8, 9, 16}) {
        const std::string value = "\"" + std::string(before, 'a') + special + std::string(after, 'b') + "\"";
        const std::string body = head + value + tail;
        const bool is_json = nlohmann::json::accept(body);
        ASSERT_EQ(IsJson(body), is_json) << body;
        if (is_json) {
          const absl::StatusOr<ProfileItem> item = ParseOneItem("T", value);
          ASSERT_TRUE(item.ok()) << value << ": " << item.status();
          EXPECT_EQ(item->string_value(), nlohmann::json::parse(value).get<std::string>()) << value;
        }
        for (size_t cut = 1; cut < value.size(); ++cut) {
          const std::string short_body = head + value.substr(0, cut);
          ASSERT_FALSE(IsJson(short_body)) << short_body;
        }
      }
    }
  }
}

TEST(ParsePortraitGetBodyTest, MutatedBodiesAreJsonExactlyWhenNlohmannSaysSo) {
  const std::string valid = R"({"UserProfileItem":[{"To_Account":"id1","ProfileItem":[{"Tag":"Tag_Profile_IM_Nick",)"
                            R"("Value":"N\u00e9\n"},{"Tag":"Tag_Profile_IM_Level","Value":-3.5e2}],"ResultCode":0},)"
                            R"({"To_Account":"id4","ResultCode":40006,"ResultInfo":"x","X":[true,false,null,{}]}],)"
                            R"("ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""})";
  ASSERT_TRUE(Parse(valid).ok());
  std::mt19937 random(7);
  const std::string alphabet = "{}[]:,\"0123456789-+.eE truefalsn\\u\t\x01\xC3\xA9\xFF";
  for (int round = 0; round < 20000; ++round) {
    const std::string mutated = Mutate(valid, random, alphabet, /*max_changes=*/3, /*max_erase=*/4);
    ASSERT_EQ(IsJson(mutated), nlohmann::json::accept(mutated)) << mutated;
  }
}

TEST(ParsePortraitGetBodyTest, OkWithoutUserProfileItemHasNoUsers) {
  const absl::StatusOr<PortraitGetAnswer> answer = Parse(R"({"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""})");
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->error_code, 0);
  EXPECT_TRUE(answer->users.empty());
}

// --- Batching ------------------------------------------------------------------------------------------------

std::vector<std::string> Accounts(int count) {
  std::vector<std::string> accounts;
  for (int i = 0; i < count; ++i) accounts.push_back("user" + std::to_string(i));
  return accounts;
}

std::vector<size_t> Sizes(const std::vector<std::vector<std::string>>& calls) {
  std::vector<size_t> sizes;
  for (const auto& call : calls) sizes.push_back(call.size());
  return sizes;
}

TEST(SplitIntoCallsTest, GroupSizes) {
  EXPECT_TRUE(SplitIntoCalls(Accounts(0), 100).empty());
  EXPECT_THAT(Sizes(SplitIntoCalls(Accounts(1), 100)), ElementsAre(1u));
  EXPECT_THAT(Sizes(SplitIntoCalls(Accounts(100), 100)), ElementsAre(100u));
  EXPECT_THAT(Sizes(SplitIntoCalls(Accounts(101), 100)), ElementsAre(100u, 1u));
  EXPECT_THAT(Sizes(SplitIntoCalls(Accounts(250), 100)), ElementsAre(100u, 100u, 50u));
  EXPECT_THAT(Sizes(SplitIntoCalls(Accounts(5), 2)), ElementsAre(2u, 2u, 1u));
}

TEST(SplitIntoCallsTest, PreservesOrderAndEveryAccount) {
  const std::vector<std::string> accounts = Accounts(250);
  std::vector<std::string> joined;
  for (const auto& call : SplitIntoCalls(accounts, 100)) joined.insert(joined.end(), call.begin(), call.end());
  EXPECT_EQ(joined, accounts);
}

}  // namespace
}  // namespace portrait_bridge

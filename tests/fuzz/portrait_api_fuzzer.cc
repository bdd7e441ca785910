// libFuzzer target: ParsePortraitGetBody, the parser of portrait_get answers (a JSON reader of its own), checked
// against a full parse of the same body with nlohmann::json.
//
// Checked on every input:
// - The parser reports "the body is not JSON (or is truncated)" exactly when nlohmann::json::accept rejects the
//   body. (Both skip a leading UTF-8 BOM, and for both a NUL byte after the document ends the text.)
// - Any other outcome is an answer or INVALID_ARGUMENT.
// - For a JSON body in which no object repeats a key, the outcome is the one portrait_api.h documents, computed
//   here from nlohmann's DOM: accepted or not, and for an answer the ErrorCode and ErrorInfo, every user (account,
//   ResultCode, ResultInfo) and every item (tag, and the value typed as TagTypes says) equal what the DOM holds.
// Allowed difference: when an object repeats a key, nlohmann's DOM keeps the last value, while the parser takes
// each occurrence as it comes (a second UserProfileItem list adds its users to the first one's, for example).
// For such bodies only the first two points are checked.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "bridge/core/encoded_items.h"
#include "bridge/core/portrait_api.h"
#include "bridge/core/profile_tags.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using portrait_bridge::AppendEncodedItem;
using portrait_bridge::PortraitGetAnswer;
using portrait_bridge::TagTypes;
using portrait_bridge::UserProfileEntry;
using portrait_bridge::ValueType;
using portraitbridge::profile::v1::ProfileItem;
using Json = nlohmann::json;

constexpr char kNotJson[] = "the body is not JSON (or is truncated)";

// Two custom tags are bytes, so that all three value types are reached.
const TagTypes& Types() {
  static const TagTypes* types = new TagTypes({"Tag_Profile_Custom_Blob", "Tag_Profile_Custom_B"});
  return *types;
}

// Finds an object that repeats a key (stops at the first).
class DuplicateKeyFinder final : public nlohmann::json_sax<Json> {
 public:
  bool found() const { return found_; }

  bool null() override { return true; }
  bool boolean(bool /*value*/) override { return true; }
  bool number_integer(number_integer_t /*value*/) override { return true; }
  bool number_unsigned(number_unsigned_t /*value*/) override { return true; }
  bool number_float(number_float_t /*value*/, const string_t& /*text*/) override { return true; }
  bool string(string_t& /*value*/) override { return true; }
  bool binary(binary_t& /*value*/) override { return true; }
  bool start_object(std::size_t /*elements*/) override {
    keys_.emplace_back();
    return true;
  }
  bool key(string_t& key) override {
    found_ = found_ || !keys_.back().insert(key).second;
    return !found_;
  }
  bool end_object() override {
    keys_.pop_back();
    return true;
  }
  bool start_array(std::size_t /*elements*/) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t /*position*/, const std::string& /*token*/,
                   const nlohmann::detail::exception& /*ex*/) override {
    return false;
  }

 private:
  std::vector<std::set<std::string>> keys_;
  bool found_ = false;
};

// A JSON integer as the parser keeps it: int64, an unsigned value above INT64_MAX cast (as Json::get<int64_t> does).
int64_t AsInt64(const Json& value) {
  return value.is_number_unsigned() ? static_cast<int64_t>(value.get<uint64_t>()) : value.get<int64_t>();
}

// A value's text as a string field holds it: a string as is, anything else as its JSON text.
std::string ValueText(const Json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

// The item the documentation promises for {"Tag": tag, "Value": value} (value null: no value).
ProfileItem ExpectedItem(const std::string& tag, const Json& value) {
  ProfileItem item;
  item.set_tag(tag);
  if (value.is_null()) return item;
  switch (Types().TypeOf(tag)) {
    case ValueType::kUint: {  // uint_value is 32 bits: a larger number keeps its text.
      constexpr uint64_t kLargest = std::numeric_limits<uint32_t>::max();
      if (value.is_number_unsigned() && value.get<uint64_t>() <= kLargest) {
        item.set_uint_value(static_cast<uint32_t>(value.get<uint64_t>()));
        return item;
      }
      if (value.is_string()) {  // A decimal string, all of it.
        const std::string& text = value.get_ref<const std::string&>();
        uint64_t parsed = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
        if (!text.empty() && error == std::errc() && end == text.data() + text.size() && parsed <= kLargest) {
          item.set_uint_value(static_cast<uint32_t>(parsed));
          return item;
        }
      }
      item.set_string_value(ValueText(value));
      return item;
    }
    case ValueType::kString:
      item.set_string_value(ValueText(value));
      return item;
    case ValueType::kBytes:
      item.set_bytes_value(ValueText(value));
      return item;
  }
  return item;
}

// What ParsePortraitGetBody must return for a JSON document without repeated keys: true and the answer, or false
// for INVALID_ARGUMENT.
bool ExpectedAnswer(const Json& document, PortraitGetAnswer& answer) {
  if (!document.is_object()) return false;
  const auto code = document.find("ErrorCode");
  const auto status = document.find("ActionStatus");
  if (code == document.end() && status == document.end()) return false;
  if (code != document.end()) {
    if (!code->is_number_integer()) return false;
    answer.error_code = AsInt64(*code);
  }
  const bool fail = status != document.end() && status->is_string() && *status == "FAIL";
  if (answer.error_code == 0 && fail) return false;
  if (const auto info = document.find("ErrorInfo"); info != document.end() && info->is_string()) {
    answer.error_info = info->get<std::string>();
  }
  if (answer.error_code != 0) return true;  // The users of a failed call are ignored, well-formed or not.

  const auto users = document.find("UserProfileItem");
  if (users == document.end() || users->is_null()) return true;
  if (!users->is_array()) return false;
  for (const Json& user : *users) {
    if (!user.is_object()) return false;
    UserProfileEntry& entry = answer.users.emplace_back();
    const auto account = user.find("To_Account");
    if (account == user.end() || !account->is_string()) return false;
    entry.account = account->get<std::string>();
    if (const auto result = user.find("ResultCode"); result != user.end() && result->is_number_integer()) {
      entry.result_code = AsInt64(*result);
    }
    if (const auto info = user.find("ResultInfo"); info != user.end() && info->is_string()) {
      entry.result_info = info->get<std::string>();
    }
    const auto items = user.find("ProfileItem");
    if (items == user.end() || items->is_null()) continue;
    if (!items->is_array()) return false;
    for (const Json& item : *items) {
      if (!item.is_object()) return false;
      const auto tag = item.find("Tag");
      if (tag == item.end() || !tag->is_string()) return false;
      const auto value = item.find("Value");
      if (value != item.end() && value->is_structured()) return false;
      // protobuf's own serializer: the parser's wire form must be exactly its bytes.
      AppendEncodedItem(ExpectedItem(tag->get<std::string>(), value == item.end() ? Json() : *value),
                        entry.encoded_items);
    }
  }
  return true;
}

std::string Describe(const PortraitGetAnswer& answer) {
  std::string text = absl::StrCat("error_code=", answer.error_code, " error_info=\"",
                                  absl::CHexEscape(answer.error_info), "\" users=", answer.users.size(), "\n");
  for (const UserProfileEntry& user : answer.users) {
    absl::StrAppend(&text, "  account=\"", absl::CHexEscape(user.account), "\" result_code=", user.result_code,
                    " result_info=\"", absl::CHexEscape(user.result_info), "\" items=", user.items().size(), "\n");
    for (const ProfileItem& item : user.items()) absl::StrAppend(&text, "    ", item.ShortDebugString(), "\n");
  }
  return text;
}

bool SameAnswer(const PortraitGetAnswer& a, const PortraitGetAnswer& b) {
  if (a.error_code != b.error_code || a.error_info != b.error_info || a.users.size() != b.users.size()) return false;
  for (size_t i = 0; i < a.users.size(); ++i) {
    const UserProfileEntry& x = a.users[i];
    const UserProfileEntry& y = b.users[i];
    if (x.account != y.account || x.result_code != y.result_code || x.result_info != y.result_info ||
        x.encoded_items != y.encoded_items) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  const auto shown = [&body] { return absl::StrCat("body: \"", absl::CHexEscape(body.substr(0, 4000)), "\""); };

  const absl::StatusOr<PortraitGetAnswer> parsed = portrait_bridge::ParsePortraitGetBody(body, Types());
  const bool is_json = Json::accept(body);
  const bool said_not_json = !parsed.ok() && parsed.status().message() == kNotJson;
  FUZZ_CHECK(said_not_json == !is_json,
             absl::StrCat("nlohmann accepts: ", is_json, "; parser: ", parsed.status().ToString(), "\n", shown()));
  FUZZ_CHECK(parsed.ok() || parsed.status().code() == absl::StatusCode::kInvalidArgument,
             absl::StrCat(parsed.status().ToString(), "\n", shown()));
  if (!is_json) return 0;

  DuplicateKeyFinder duplicates;
  Json::sax_parse(body, &duplicates);
  if (duplicates.found()) return 0;

  const Json document = Json::parse(body);
  PortraitGetAnswer expected;
  const bool expect_ok = ExpectedAnswer(document, expected);
  FUZZ_CHECK(parsed.ok() == expect_ok, absl::StrCat("expected ", expect_ok ? "an answer" : "INVALID_ARGUMENT",
                                                    "; parser: ", parsed.status().ToString(), "\n", shown()));
  if (!expect_ok) return 0;
  FUZZ_CHECK(SameAnswer(*parsed, expected),
             absl::StrCat("parser:\n", Describe(*parsed), "nlohmann:\n", Describe(expected), shown()));
  // The cache picks items out of the wire form by tag (SplitEncodedItems): the pieces are the items, whole.
  for (const UserProfileEntry& user : parsed->users) {
    const std::vector<ProfileItem> items = user.items();
    const std::vector<portrait_bridge::EncodedItemView> views = portrait_bridge::SplitEncodedItems(user.encoded_items);
    std::string joined;
    for (const portrait_bridge::EncodedItemView& view : views) joined.append(view.field.data(), view.field.size());
    FUZZ_CHECK(joined == user.encoded_items && views.size() == items.size(), Describe(*parsed) + shown());
    for (size_t i = 0; i < views.size(); ++i) FUZZ_CHECK(views[i].tag == items[i].tag(), Describe(*parsed) + shown());
  }
  return 0;
}

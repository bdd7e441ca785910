#include "bridge/core/portrait_api.h"

#include <array>
#include <charconv>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace portrait_bridge {
namespace {

using tencentcloud::chat::profile::v1::ProfileItem;
using Json = nlohmann::json;

constexpr std::array<std::pair<absl::string_view, absl::string_view>, 8> kRegions = {{
    {"china", "https://console.tim.qq.com"},
    {"singapore", "https://adminapisgp.im.qcloud.com"},
    {"seoul", "https://adminapikr.im.qcloud.com"},
    {"tokyo", "https://adminapijpn.im.qcloud.com"},
    {"frankfurt", "https://adminapiger.im.qcloud.com"},
    {"mumbai", "https://adminapiind.im.qcloud.com"},
    {"silicon-valley", "https://adminapiusa.im.qcloud.com"},
    {"jakarta", "https://adminapiidn.im.qcloud.com"},
}};

std::string JsonScalarText(const Json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// Types a value as the schema promises, falling back to the JSON type when it does not fit.
void SetItemValue(const Json& value, ValueType type, ProfileItem& item) {
  switch (type) {
    case ValueType::kUint:
      if (value.is_number_unsigned()) {
        item.set_uint_value(value.get<uint64_t>());
        return;
      }
      if (value.is_string()) {
        const std::string text = value.get<std::string>();
        uint64_t parsed = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
        if (error == std::errc() && end == text.data() + text.size() && !text.empty()) {
          item.set_uint_value(parsed);
          return;
        }
      }
      item.set_string_value(JsonScalarText(value));
      return;
    case ValueType::kString:
      item.set_string_value(JsonScalarText(value));
      return;
    case ValueType::kBytes:
      item.set_bytes_value(JsonScalarText(value));
      return;
  }
}

absl::StatusOr<UserProfileEntry> ParseUser(const Json& user, const TagTypes& tag_types) {
  if (!user.is_object()) return absl::InvalidArgumentError("a UserProfileItem entry is not an object");
  UserProfileEntry entry;
  const auto account = user.find("To_Account");
  if (account == user.end() || !account->is_string()) {
    return absl::InvalidArgumentError("a UserProfileItem entry has no string To_Account");
  }
  entry.account = account->get<std::string>();
  if (const auto code = user.find("ResultCode"); code != user.end() && code->is_number_integer()) {
    entry.result_code = code->get<int64_t>();
  }
  if (const auto info = user.find("ResultInfo"); info != user.end() && info->is_string()) {
    entry.result_info = info->get<std::string>();
  }
  const auto items = user.find("ProfileItem");
  if (items == user.end() || items->is_null()) return entry;
  if (!items->is_array()) return absl::InvalidArgumentError("ProfileItem is not an array");
  for (const Json& raw : *items) {
    if (!raw.is_object()) return absl::InvalidArgumentError("a ProfileItem entry is not an object");
    const auto tag = raw.find("Tag");
    const auto value = raw.find("Value");
    if (tag == raw.end() || !tag->is_string()) return absl::InvalidArgumentError("a ProfileItem has no string Tag");
    ProfileItem& item = entry.items.emplace_back();
    item.set_tag(tag->get<std::string>());
    if (value == raw.end() || value->is_null()) continue;  // Present but unset: no value.
    if (!value->is_primitive()) return absl::InvalidArgumentError("a ProfileItem Value is not a number or string");
    SetItemValue(*value, tag_types.TypeOf(item.tag()), item);
  }
  return entry;
}

}  // namespace

std::string BuildPortraitGetBody(absl::Span<const std::string> accounts, absl::Span<const std::string> tags) {
  Json body = Json::object();
  body["To_Account"] = Json(std::vector<std::string>(accounts.begin(), accounts.end()));
  body["TagList"] = Json(std::vector<std::string>(tags.begin(), tags.end()));
  return body.dump();
}

std::string BuildPortraitGetUrl(absl::string_view base_url, uint64_t sdkappid, absl::string_view identifier,
                                absl::string_view usersig, uint32_t random) {
  while (!base_url.empty() && base_url.back() == '/') base_url.remove_suffix(1);
  // Identifiers are admin names chosen by the app ([A-Za-z0-9_@.-]); the UserSig alphabet needs no escaping.
  return absl::StrCat(base_url, "/v4/profile/portrait_get?sdkappid=", sdkappid, "&identifier=", identifier,
                      "&usersig=", usersig, "&random=", random, "&contenttype=json");
}

absl::StatusOr<std::string> RegionBaseUrl(absl::string_view region) {
  for (const auto& [name, url] : kRegions) {
    if (name == region) return std::string(url);
  }
  return absl::NotFoundError(absl::StrCat("unknown region \"", region, "\"; known regions: ", RegionNames()));
}

std::string RegionNames() {
  std::vector<absl::string_view> names;
  for (const auto& [name, url] : kRegions) names.push_back(name);
  return absl::StrJoin(names, ", ");
}

absl::StatusOr<PortraitGetAnswer> ParsePortraitGetBody(absl::string_view body, const TagTypes& tag_types) {
  const Json document = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return absl::InvalidArgumentError("the body is not JSON (or is truncated)");
  if (!document.is_object()) return absl::InvalidArgumentError("the body is JSON but not an object");

  PortraitGetAnswer answer;
  const auto error_code = document.find("ErrorCode");
  const auto action_status = document.find("ActionStatus");
  if (error_code == document.end() && action_status == document.end()) {
    return absl::InvalidArgumentError("the body has neither ErrorCode nor ActionStatus");
  }
  if (error_code != document.end()) {
    if (!error_code->is_number_integer()) return absl::InvalidArgumentError("ErrorCode is not an integer");
    answer.error_code = error_code->get<int64_t>();
  }
  if (const auto info = document.find("ErrorInfo"); info != document.end() && info->is_string()) {
    answer.error_info = info->get<std::string>();
  }
  // A FAIL without a code still failed; keep it distinguishable from success.
  if (answer.error_code == 0 && action_status != document.end() && action_status->is_string() &&
      action_status->get<std::string>() == "FAIL") {
    return absl::InvalidArgumentError("ActionStatus is FAIL but ErrorCode is 0");
  }
  if (answer.error_code != 0) return answer;

  const auto users = document.find("UserProfileItem");
  if (users == document.end() || users->is_null()) return answer;
  if (!users->is_array()) return absl::InvalidArgumentError("UserProfileItem is not an array");
  for (const Json& user : *users) {
    absl::StatusOr<UserProfileEntry> entry = ParseUser(user, tag_types);
    if (!entry.ok()) return entry.status();
    answer.users.push_back(*std::move(entry));
  }
  return answer;
}

std::vector<std::vector<std::string>> SplitIntoCalls(std::vector<std::string> accounts, size_t max_per_call) {
  std::vector<std::vector<std::string>> calls;
  for (size_t start = 0; start < accounts.size(); start += max_per_call) {
    const size_t end = std::min(accounts.size(), start + max_per_call);
    calls.emplace_back(std::make_move_iterator(accounts.begin() + start),
                       std::make_move_iterator(accounts.begin() + end));
  }
  return calls;
}

}  // namespace portrait_bridge

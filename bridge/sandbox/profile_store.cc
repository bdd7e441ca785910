#include "bridge/sandbox/profile_store.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace portrait_bridge::sandbox {
namespace {

constexpr absl::string_view kPoolPrefix = "user";
constexpr absl::string_view kCustomPrefix = "Tag_Profile_Custom_";

using Profile = std::map<std::string, nlohmann::json, std::less<>>;

// Hand-written accounts for demos and README examples; bob leaves fields unset both ways, carol has a
// non-ASCII nick so clients prove they keep UTF-8 intact.
const std::map<std::string, Profile, std::less<>>& NamedProfiles() {
  static const auto* profiles = new std::map<std::string, Profile, std::less<>>{
      {"alice",
       {{"Tag_Profile_IM_Nick", "Alice"},
        {"Tag_Profile_IM_Gender", "Gender_Type_Female"},
        {"Tag_Profile_IM_BirthDay", 19950315},
        {"Tag_Profile_IM_Location", "Shenzhen"},
        {"Tag_Profile_IM_SelfSignature", "Hi, I am Alice"},
        {"Tag_Profile_IM_AllowType", "AllowType_Type_AllowAny"},
        {"Tag_Profile_IM_Language", 1},
        {"Tag_Profile_IM_Image", "https://sandbox.invalid/avatar/alice.png"},
        {"Tag_Profile_IM_MsgSettings", 0},
        {"Tag_Profile_IM_AdminForbidType", "AdminForbid_Type_None"},
        {"Tag_Profile_IM_Level", 42},
        {"Tag_Profile_IM_Role", 1},
        {"Tag_Profile_Custom_Test", "alice-test"},
        {"Tag_Profile_Custom_Blob", "YWxpY2UtYmxvYg=="}}},
      {"bob",
       {{"Tag_Profile_IM_Nick", "Bob"},
        {"Tag_Profile_IM_Gender", "Gender_Type_Male"},
        {"Tag_Profile_IM_BirthDay", 0},
        {"Tag_Profile_IM_SelfSignature", ""},
        {"Tag_Profile_IM_AllowType", "AllowType_Type_NeedConfirm"},
        {"Tag_Profile_IM_MsgSettings", 1},
        {"Tag_Profile_IM_AdminForbidType", "AdminForbid_Type_SendOut"},
        {"Tag_Profile_IM_Level", 0},
        {"Tag_Profile_IM_Role", 0}}},
      {"carol",
       {{"Tag_Profile_IM_Nick", "Carol \xE5\x8D\xA1\xE7\xBD\x97\xE5\xB0\x94"},  // "Carol 卡罗尔"
        {"Tag_Profile_IM_Gender", "Gender_Type_Unknown"},
        {"Tag_Profile_IM_BirthDay", 20000229},
        {"Tag_Profile_IM_Location", "Singapore"},
        {"Tag_Profile_IM_SelfSignature", "\xF0\x9F\x8C\xB8"},  // A 4-byte UTF-8 character.
        {"Tag_Profile_IM_AllowType", "AllowType_Type_DenyAny"},
        {"Tag_Profile_IM_Language", 2},
        {"Tag_Profile_IM_Image", ""},
        {"Tag_Profile_IM_MsgSettings", 0},
        {"Tag_Profile_IM_AdminForbidType", "AdminForbid_Type_None"},
        {"Tag_Profile_IM_Level", 7},
        {"Tag_Profile_IM_Role", 3},
        {"Tag_Profile_Custom_Test", ""}}},
  };
  return *profiles;
}

std::optional<nlohmann::json> PoolValue(int64_t n, absl::string_view tag) {
  static constexpr const char* kGenders[] = {"Gender_Type_Unknown", "Gender_Type_Female", "Gender_Type_Male"};
  static constexpr const char* kAllowTypes[] = {"AllowType_Type_NeedConfirm", "AllowType_Type_AllowAny",
                                                "AllowType_Type_DenyAny"};
  static constexpr const char* kLocations[] = {"Shenzhen", "Beijing", "Singapore", "Seoul", "Frankfurt",
                                               "Tokyo", "Jakarta"};
  if (tag == "Tag_Profile_IM_Nick") return nlohmann::json(absl::StrCat("User ", n));
  if (tag == "Tag_Profile_IM_Gender") return nlohmann::json(kGenders[n % 3]);
  if (tag == "Tag_Profile_IM_BirthDay") return nlohmann::json(19900101 + n % 28);
  if (tag == "Tag_Profile_IM_Location") return nlohmann::json(kLocations[n % 7]);
  if (tag == "Tag_Profile_IM_SelfSignature") {
    if (n % 2 == 1) return std::nullopt;  // Unset, omitted.
    return nlohmann::json(absl::StrCat("Signature of user ", n));
  }
  if (tag == "Tag_Profile_IM_AllowType") return nlohmann::json(kAllowTypes[n % 3]);
  if (tag == "Tag_Profile_IM_Language") return nlohmann::json(n % 4);
  if (tag == "Tag_Profile_IM_Image") {
    if (n % 5 == 0) return nlohmann::json("");  // Unset, returned empty.
    return nlohmann::json(absl::StrCat("https://sandbox.invalid/avatar/user", n, ".png"));
  }
  if (tag == "Tag_Profile_IM_MsgSettings") return nlohmann::json(n % 2);
  if (tag == "Tag_Profile_IM_AdminForbidType") {
    return nlohmann::json(n % 10 == 9 ? "AdminForbid_Type_SendOut" : "AdminForbid_Type_None");
  }
  if (tag == "Tag_Profile_IM_Level") return nlohmann::json(n % 100);
  if (tag == "Tag_Profile_IM_Role") return nlohmann::json(n % 4);
  // Custom tags: a "Blob"-named tag holds bytes (sent base64 as upstream does); others hold text.
  // Every fourth account leaves them unset.
  if (n % 4 == 3) return std::nullopt;
  const absl::string_view keyword = tag.substr(kCustomPrefix.size());
  if (absl::StrContains(absl::AsciiStrToLower(keyword), "blob")) {
    const std::string bytes = absl::StrCat("\x01\x02", keyword, ":", n, "\xff");
    return nlohmann::json(absl::Base64Escape(bytes));
  }
  return nlohmann::json(absl::StrCat(absl::AsciiStrToLower(keyword), "-", n));
}

}  // namespace

const std::vector<std::string>& StandardProfileTags() {
  static const auto* tags = new std::vector<std::string>{
      "Tag_Profile_IM_Nick",         "Tag_Profile_IM_Gender",         "Tag_Profile_IM_BirthDay",
      "Tag_Profile_IM_Location",     "Tag_Profile_IM_SelfSignature",  "Tag_Profile_IM_AllowType",
      "Tag_Profile_IM_Language",     "Tag_Profile_IM_Image",          "Tag_Profile_IM_MsgSettings",
      "Tag_Profile_IM_AdminForbidType", "Tag_Profile_IM_Level",       "Tag_Profile_IM_Role"};
  return *tags;
}

std::optional<int64_t> PoolIndex(absl::string_view account) {
  if (!absl::StartsWith(account, kPoolPrefix)) return std::nullopt;
  const absl::string_view digits = account.substr(kPoolPrefix.size());
  if (digits.empty() || digits.size() > 18 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  int64_t n = 0;
  if (!absl::SimpleAtoi(digits, &n)) return std::nullopt;
  return n;
}

ProfileStore::ProfileStore(int64_t pool_size, std::vector<std::string> custom_tags)
    : pool_size_(pool_size), custom_tags_(custom_tags.begin(), custom_tags.end()) {}

bool ProfileStore::Exists(absl::string_view account) const {
  if (NamedProfiles().count(account) > 0) return true;
  const std::optional<int64_t> n = PoolIndex(account);
  return n.has_value() && *n < pool_size_;
}

bool ProfileStore::KnownTag(absl::string_view tag) const {
  if (custom_tags_.count(tag) > 0) return true;
  for (const std::string& standard : StandardProfileTags()) {
    if (standard == tag) return true;
  }
  return false;
}

std::optional<nlohmann::json> ProfileStore::Value(absl::string_view account, absl::string_view tag) const {
  if (auto named = NamedProfiles().find(account); named != NamedProfiles().end()) {
    auto value = named->second.find(tag);
    if (value == named->second.end()) return std::nullopt;
    return value->second;
  }
  const std::optional<int64_t> n = PoolIndex(account);
  if (!n.has_value()) return std::nullopt;
  return PoolValue(*n, tag);
}

}  // namespace portrait_bridge::sandbox

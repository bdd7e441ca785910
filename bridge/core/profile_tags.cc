#include "bridge/core/profile_tags.h"

#include <array>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace portrait_bridge {
namespace {

constexpr absl::string_view kStandardPrefix = "Tag_Profile_IM_";
constexpr absl::string_view kCustomPrefix = "Tag_Profile_Custom_";
constexpr size_t kMaxCustomKeyword = 16;  // Tencent's blog allows 16; the docs' stricter 8 is not enforced.
constexpr size_t kMaxAccountBytes = 32;

// Tencent's standard profile fields and their value types (reference section 4).
constexpr std::array<std::pair<absl::string_view, ValueType>, 12> kStandardTags = {{
    {"Tag_Profile_IM_Nick", ValueType::kString},
    {"Tag_Profile_IM_Gender", ValueType::kString},
    {"Tag_Profile_IM_BirthDay", ValueType::kUint},
    {"Tag_Profile_IM_Location", ValueType::kString},
    {"Tag_Profile_IM_SelfSignature", ValueType::kString},
    {"Tag_Profile_IM_AllowType", ValueType::kString},
    {"Tag_Profile_IM_Language", ValueType::kUint},
    {"Tag_Profile_IM_Image", ValueType::kString},
    {"Tag_Profile_IM_MsgSettings", ValueType::kUint},
    {"Tag_Profile_IM_AdminForbidType", ValueType::kString},
    {"Tag_Profile_IM_Level", ValueType::kUint},
    {"Tag_Profile_IM_Role", ValueType::kUint},
}};

const ValueType* StandardTagType(absl::string_view tag) {
  for (const auto& [name, type] : kStandardTags) {
    if (name == tag) return &type;
  }
  return nullptr;
}

}  // namespace

bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t code_point = 0;
    if (byte < 0x80) {
      ++i;
      continue;
    } else if ((byte & 0xE0) == 0xC0) {
      length = 2;
      code_point = byte & 0x1F;
    } else if ((byte & 0xF0) == 0xE0) {
      length = 3;
      code_point = byte & 0x0F;
    } else if ((byte & 0xF8) == 0xF0) {
      length = 4;
      code_point = byte & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    // Reject overlong forms, UTF-16 surrogates and values past U+10FFFF.
    constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kMinForLength[length] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

ValueType TagTypes::TypeOf(absl::string_view tag) const {
  if (const ValueType* type = StandardTagType(tag)) return *type;
  if (bytes_tags_.count(std::string(tag)) > 0) return ValueType::kBytes;
  return ValueType::kString;
}

absl::Status ValidateTag(absl::string_view tag) {
  if (tag.empty()) return absl::InvalidArgumentError("tag is empty");
  // Checked first so that the messages below never quote bytes a client could not decode.
  if (!IsValidUtf8(tag)) return absl::InvalidArgumentError("tag is not valid UTF-8");
  if (absl::StartsWith(tag, kStandardPrefix)) {
    if (StandardTagType(tag) != nullptr) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat("unknown standard tag \"", tag,
                     "\"; standard tags are Tag_Profile_IM_Nick, _Gender, _BirthDay, _Location, _SelfSignature, "
                     "_AllowType, _Language, _Image, _MsgSettings, _AdminForbidType, _Level and _Role"));
  }
  if (absl::StartsWith(tag, kCustomPrefix)) {
    const absl::string_view keyword = tag.substr(kCustomPrefix.size());
    bool keyword_ok = !keyword.empty() && keyword.size() <= kMaxCustomKeyword;
    for (char c : keyword) keyword_ok = keyword_ok && (absl::ascii_isalnum(c) || c == '_');
    if (keyword_ok) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(
        "custom tag \"", tag, "\" is malformed: the keyword after Tag_Profile_Custom_ must be 1 to 16 letters, "
                              "digits or '_'"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("tag \"", tag, "\" must start with Tag_Profile_IM_ or Tag_Profile_Custom_"));
}

absl::Status ValidateAccount(absl::string_view account) {
  if (account.empty()) return absl::InvalidArgumentError("account is empty");
  if (account.size() > kMaxAccountBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("account is ", account.size(), " bytes long; Tencent UserIDs are at most 32 bytes"));
  }
  if (!IsValidUtf8(account)) return absl::InvalidArgumentError("account is not valid UTF-8");
  return absl::OkStatus();
}

}  // namespace portrait_bridge

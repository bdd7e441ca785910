#ifndef PORTRAIT_BRIDGE_CORE_PROFILE_TAGS_H_
#define PORTRAIT_BRIDGE_CORE_PROFILE_TAGS_H_

#include <set>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace portrait_bridge {

/// How a profile field's value is typed in the gRPC schema (ProfileItem.value).
enum class ValueType { kUint, kString, kBytes };

/// Decides the type of each tag: standard tags by Tencent's table, custom tags as strings unless listed as
/// bytes in the configuration. Immutable after construction; safe to share between threads.
class TagTypes {
 public:
  explicit TagTypes(std::set<std::string> bytes_tags = {}) : bytes_tags_(std::move(bytes_tags)) {}
  ValueType TypeOf(absl::string_view tag) const;

 private:
  std::set<std::string> bytes_tags_;
};

/// OK for a standard `Tag_Profile_IM_*` tag from Tencent's table or a custom `Tag_Profile_Custom_<keyword>` tag
/// (keyword: 1 to 16 letters, digits or '_'); otherwise INVALID_ARGUMENT saying what is wrong.
absl::Status ValidateTag(absl::string_view tag);

/// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF).
bool IsValidUtf8(absl::string_view text);

/// OK for a Tencent UserID the bridge can send: non-empty, at most 32 bytes, valid UTF-8.
absl::Status ValidateAccount(absl::string_view account);

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_PROFILE_TAGS_H_

#ifndef PORTRAIT_BRIDGE_CORE_PORTRAIT_API_H_
#define PORTRAIT_BRIDGE_CORE_PORTRAIT_API_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "bridge/core/encoded_items.h"
#include "bridge/core/profile_tags.h"
#include "portraitbridge/profile/v1/profile.pb.h"

namespace portrait_bridge {

/// Tencent allows at most this many accounts in one portrait_get call.
inline constexpr size_t kMaxAccountsPerCall = 100;

/// The JSON body of a portrait_get call: {"To_Account":[...],"TagList":[...]}.
std::string BuildPortraitGetBody(absl::Span<const std::string> accounts, absl::Span<const std::string> tags);

/// The full portrait_get URL for `base_url` (scheme and host, e.g. "https://adminapisgp.im.qcloud.com").
/// The result holds the UserSig: it must never be logged.
std::string BuildPortraitGetUrl(absl::string_view base_url, uint64_t sdkappid, absl::string_view identifier,
                                absl::string_view usersig, uint32_t random);

/// The base URL of a Tencent region by name (china, singapore, seoul, tokyo, frankfurt, mumbai, silicon-valley,
/// jakarta); NOT_FOUND for any other name.
absl::StatusOr<std::string> RegionBaseUrl(absl::string_view region);

/// The region names RegionBaseUrl accepts, for messages and documentation.
std::string RegionNames();

/// One user's entry in a portrait_get answer.
struct UserProfileEntry {
  std::string account;
  /// The user's ProfileItems in wire form (see encoded_items.h), in the answer's order.
  std::string encoded_items;
  int64_t result_code = 0;
  std::string result_info;

  /// The items decoded (for tests and callers that want messages).
  std::vector<portraitbridge::profile::v1::ProfileItem> items() const { return DecodeItems(encoded_items); }
};

/// A parsed portrait_get answer. When error_code is non-zero the call failed as a whole.
struct PortraitGetAnswer {
  int64_t error_code = 0;
  std::string error_info;
  std::vector<UserProfileEntry> users;
};

/// Parses an HTTP 200 body. Values may be JSON numbers or strings; they are typed by `tag_types`, falling back to
/// the JSON type when the value does not fit (so nothing is lost). Unknown fields are ignored, a user without
/// ProfileItem is fine. INVALID_ARGUMENT (with a short reason) when the body is not a portrait_get document.
absl::StatusOr<PortraitGetAnswer> ParsePortraitGetBody(absl::string_view body, const TagTypes& tag_types);

/// Splits `accounts` into consecutive groups of at most `max_per_call`.
std::vector<std::vector<std::string>> SplitIntoCalls(std::vector<std::string> accounts, size_t max_per_call);

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_PORTRAIT_API_H_

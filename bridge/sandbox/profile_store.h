#ifndef PORTRAIT_BRIDGE_SANDBOX_PROFILE_STORE_H_
#define PORTRAIT_BRIDGE_SANDBOX_PROFILE_STORE_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include <nlohmann/json.hpp>

namespace portrait_bridge::sandbox {

/// The 12 standard profile tags, in the reference's order.
const std::vector<std::string>& StandardProfileTags();

/// The seeded, read-only demo profiles: every `user<N>` with 0 <= N < pool_size (decimal, no leading zeros),
/// plus the hand-written `alice`, `bob` and `carol`. Values are computed from N, so nothing is stored and
/// every run answers the same. Thread-safe (immutable after construction).
///
/// Unset fields come in both forms the reference allows: some are omitted (Value() returns nullopt), some are
/// present as "" (e.g. SelfSignature is omitted for odd N; Image is "" when N % 5 == 0).
class ProfileStore {
 public:
  ProfileStore(int64_t pool_size, std::vector<std::string> custom_tags);

  bool Exists(absl::string_view account) const;

  /// Whether `tag` is a standard tag or one of the configured custom tags.
  bool KnownTag(absl::string_view tag) const;

  /// The value of `tag` for an existing account: a JSON number for integer fields, a string otherwise;
  /// nullopt when the field is unset and omitted. Requires Exists(account) and KnownTag(tag).
  std::optional<nlohmann::json> Value(absl::string_view account, absl::string_view tag) const;

 private:
  const int64_t pool_size_;
  const std::set<std::string, std::less<>> custom_tags_;
};

/// N for "user<N>", or nullopt when `account` is not of that form.
std::optional<int64_t> PoolIndex(absl::string_view account);

}  // namespace portrait_bridge::sandbox

#endif  // PORTRAIT_BRIDGE_SANDBOX_PROFILE_STORE_H_

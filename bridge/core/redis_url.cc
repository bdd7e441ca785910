#include "bridge/core/redis_url.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace portrait_bridge {

absl::StatusOr<RedisAddress> ParseRedisUrl(const std::string& url) {
  absl::string_view rest = url;
  RedisAddress address;
  if (absl::ConsumePrefix(&rest, "unix://")) {
    if (!absl::StartsWith(rest, "/")) {
      return absl::InvalidArgumentError("a unix:// Redis URL needs an absolute socket path (unix:///path)");
    }
    address.unix_socket = std::string(rest);
    return address;
  }
  if (!absl::ConsumePrefix(&rest, "redis://")) {
    return absl::InvalidArgumentError("a Redis URL starts with redis:// or unix://");
  }
  if (absl::StrContains(rest, '@')) {
    return absl::InvalidArgumentError("a Redis URL must not hold a password: use the password file setting");
  }
  if (const size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    if (!absl::SimpleAtoi(rest.substr(slash + 1), &address.database) || address.database < 0 ||
        address.database > 1000000) {
      return absl::InvalidArgumentError("the database after the Redis URL's '/' must be a number from 0");
    }
    rest = rest.substr(0, slash);
  }
  if (const size_t colon = rest.rfind(':'); colon != absl::string_view::npos) {
    if (!absl::SimpleAtoi(rest.substr(colon + 1), &address.port) || address.port < 1 || address.port > 65535) {
      return absl::InvalidArgumentError("the Redis URL's port must be a number from 1 to 65535");
    }
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return absl::InvalidArgumentError("the Redis URL has no host");
  address.host = std::string(rest);
  return address;
}

}  // namespace portrait_bridge

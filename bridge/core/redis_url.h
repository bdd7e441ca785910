#ifndef PORTRAIT_BRIDGE_CORE_REDIS_URL_H_
#define PORTRAIT_BRIDGE_CORE_REDIS_URL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace portrait_bridge {

/// Where a Redis server listens: a TCP host and port (and database), or a unix socket.
struct RedisAddress {
  std::string host;  ///< Empty for a unix socket.
  int port = 6379;
  int64_t database = 0;     ///< SELECTed after connecting when not 0 (TCP only).
  std::string unix_socket;  ///< The socket's path, for unix:// URLs.
};

/// Parses `redis://host[:port][/db]` or `unix:///path/to/socket`. A password in the URL is refused (it would
/// end up in config dumps and process lists): it comes from a password file. INVALID_ARGUMENT says what is wrong.
absl::StatusOr<RedisAddress> ParseRedisUrl(const std::string& url);

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_REDIS_URL_H_

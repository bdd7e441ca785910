#ifndef PORTRAIT_BRIDGE_CORE_USERSIG_H_
#define PORTRAIT_BRIDGE_CORE_USERSIG_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portrait_bridge {

/// The fields a UserSig (version 2, HMAC-SHA256) signs.
struct UserSigFields {
  std::string identifier;
  uint64_t sdkappid = 0;
  int64_t time = 0;    ///< Unix seconds when it was issued.
  int64_t expire = 0;  ///< Validity in seconds from `time`.
};

/// Base64 of HMAC-SHA256(key = secret key bytes as written, content = the four "TLS.x:v\n" lines).
std::string ComputeUserSigHmac(absl::string_view secret_key, const UserSigFields& fields);

/// Builds a UserSig: JSON document, zlib-compressed, base64 with '+/=' replaced by '*-_'. The identifier goes into
/// the JSON document, so it must be valid UTF-8: otherwise nlohmann::json::type_error is thrown.
std::string SignUserSig(absl::string_view secret_key, const UserSigFields& fields);

/// A decoded UserSig: its fields and the TLS.sig it carries.
struct DecodedUserSig {
  UserSigFields fields;
  std::string version;
  std::string sig;
};

/// Reverses SignUserSig without checking the signature. Fails with INVALID_ARGUMENT on any malformed layer.
absl::StatusOr<DecodedUserSig> DecodeUserSig(absl::string_view usersig);

/// Whether `decoded.sig` is the HMAC of its fields under `secret_key` (constant-time comparison).
bool UserSigSignatureMatches(absl::string_view secret_key, const DecodedUserSig& decoded);

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_USERSIG_H_

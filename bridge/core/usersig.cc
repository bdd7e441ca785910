#include "bridge/core/usersig.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace portrait_bridge {
namespace {

std::string Base64Encode(absl::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(written));
  return out;
}

absl::StatusOr<std::string> Base64Decode(absl::string_view text) {
  if (text.empty() || text.size() % 4 != 0) {
    return absl::InvalidArgumentError("UserSig is not valid base64 (length is not a multiple of 4)");
  }
  std::string out(3 * text.size() / 4, '\0');
  const int written =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(text.data()),
                      static_cast<int>(text.size()));
  if (written < 0) return absl::InvalidArgumentError("UserSig is not valid base64");
  // EVP_DecodeBlock counts padding as zero bytes; drop them.
  size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  out.resize(static_cast<size_t>(written) - padding);
  return out;
}

std::string ZlibCompress(absl::string_view data) {
  uLongf size = compressBound(static_cast<uLong>(data.size()));
  std::string out(size, '\0');
  compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(data.data()),
            static_cast<uLong>(data.size()), Z_BEST_COMPRESSION);
  out.resize(size);
  return out;
}

absl::StatusOr<std::string> ZlibInflate(absl::string_view data) {
  constexpr size_t kMaxInflated = 64 * 1024;  // A UserSig document is a few hundred bytes.
  z_stream stream{};
  if (inflateInit(&stream) != Z_OK) return absl::InternalError("zlib inflateInit failed");
  std::string out(kMaxInflated, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&stream, Z_FINISH);
  const size_t produced = stream.total_out;
  inflateEnd(&stream);
  if (rc != Z_STREAM_END) return absl::InvalidArgumentError("UserSig is not a zlib stream");
  out.resize(produced);
  return out;
}

std::string SignedContent(const UserSigFields& f) {
  return absl::StrCat("TLS.identifier:", f.identifier, "\nTLS.sdkappid:", f.sdkappid, "\nTLS.time:", f.time,
                      "\nTLS.expire:", f.expire, "\n");
}

}  // namespace

std::string ComputeUserSigHmac(absl::string_view secret_key, const UserSigFields& fields) {
  const std::string content = SignedContent(fields);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  HMAC(EVP_sha256(), secret_key.data(), static_cast<int>(secret_key.size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(), digest, &digest_len);
  return Base64Encode(absl::string_view(reinterpret_cast<const char*>(digest), digest_len));
}

std::string SignUserSig(absl::string_view secret_key, const UserSigFields& fields) {
  const nlohmann::json document = {{"TLS.ver", "2.0"},
                                   {"TLS.identifier", fields.identifier},
                                   {"TLS.sdkappid", fields.sdkappid},
                                   {"TLS.expire", fields.expire},
                                   {"TLS.time", fields.time},
                                   {"TLS.sig", ComputeUserSigHmac(secret_key, fields)}};
  std::string encoded = Base64Encode(ZlibCompress(document.dump()));
  for (char& c : encoded) {
    if (c == '+')
      c = '*';
    else if (c == '/')
      c = '-';
    else if (c == '=')
      c = '_';
  }
  return encoded;
}

absl::StatusOr<DecodedUserSig> DecodeUserSig(absl::string_view usersig) {
  std::string base64(usersig);
  for (char& c : base64) {
    if (c == '*')
      c = '+';
    else if (c == '-')
      c = '/';
    else if (c == '_')
      c = '=';
  }
  absl::StatusOr<std::string> compressed = Base64Decode(base64);
  if (!compressed.ok()) return compressed.status();
  absl::StatusOr<std::string> text = ZlibInflate(*compressed);
  if (!text.ok()) return text.status();
  const nlohmann::json document = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) return absl::InvalidArgumentError("UserSig does not hold a JSON object");
  DecodedUserSig decoded;
  try {
    // Numbers must be integers: a float out of range would make get<int64_t>() undefined behaviour.
    for (const char* key : {"TLS.sdkappid", "TLS.time", "TLS.expire"}) {
      if (!document.at(key).is_number_integer()) {
        return absl::InvalidArgumentError(absl::StrCat("UserSig field ", key, " is not an integer"));
      }
    }
    decoded.version = document.at("TLS.ver").get<std::string>();
    decoded.fields.identifier = document.at("TLS.identifier").get<std::string>();
    decoded.fields.sdkappid = document.at("TLS.sdkappid").get<uint64_t>();
    decoded.fields.time = document.at("TLS.time").get<int64_t>();
    decoded.fields.expire = document.at("TLS.expire").get<int64_t>();
    decoded.sig = document.at("TLS.sig").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("UserSig JSON lacks a field or has a wrong type: ", e.what()));
  }
  return decoded;
}

bool UserSigSignatureMatches(absl::string_view secret_key, const DecodedUserSig& decoded) {
  const std::string expected = ComputeUserSigHmac(secret_key, decoded.fields);
  return expected.size() == decoded.sig.size() &&
         CRYPTO_memcmp(expected.data(), decoded.sig.data(), expected.size()) == 0;
}

}  // namespace portrait_bridge

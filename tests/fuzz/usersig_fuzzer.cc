// libFuzzer target: UserSig v2 signing and decoding (bridge/core/usersig.h). The last byte of the input picks a
// mode; the rest is its data.
//
// 0  Round trip: a secret key, identifier, SDKAppID, time and expire taken from the data are signed, and the
//    UserSig is checked: only [A-Za-z0-9*_-], decodes to the same fields with version "2.0" and the HMAC of the
//    fields as TLS.sig, matches the key and not another key. An identifier that is not UTF-8 cannot be put in the
//    JSON document: SignUserSig throws nlohmann::json::type_error for it (documented in usersig.h), and only then.
// 1  The data as a UserSig: decoding never crashes; a decoded UserSig signs again into one that decodes the same.
// 2  The data as the JSON document: zlib-compressed and base64-encoded here, then decoded, so that the JSON layer
//    is reached. When the document is an object with the six fields in the documented types (strings; integers
//    for TLS.sdkappid, TLS.time and TLS.expire) the decoding succeeds with those values; otherwise it fails with
//    INVALID_ARGUMENT.
// 3  The data as the zlib stream: base64-encoded here, then decoded (never crashes; INVALID_ARGUMENT or a UserSig).
#include <fuzzer/FuzzedDataProvider.h>
#include <openssl/evp.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "bridge/core/profile_tags.h"
#include "bridge/core/usersig.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using portrait_bridge::DecodedUserSig;
using portrait_bridge::UserSigFields;
using Json = nlohmann::json;

constexpr char kKey[] = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";

std::string Show(const UserSigFields& f) {
  return absl::StrCat("identifier=\"", absl::CHexEscape(f.identifier), "\" sdkappid=", f.sdkappid, " time=", f.time,
                      " expire=", f.expire);
}

bool SameFields(const UserSigFields& a, const UserSigFields& b) {
  return a.identifier == b.identifier && a.sdkappid == b.sdkappid && a.time == b.time && a.expire == b.expire;
}

// The UserSig's outer layers, as SignUserSig builds them: zlib, base64, then '+/=' replaced by '*-_'.
std::string Base64UrlSafe(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(written));
  for (char& c : out) {
    if (c == '+') c = '*';
    if (c == '/') c = '-';
    if (c == '=') c = '_';
  }
  return out;
}

std::string Zlib(const std::string& data) {
  uLongf size = compressBound(static_cast<uLong>(data.size()));
  std::string out(size, '\0');
  compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(data.data()),
            static_cast<uLong>(data.size()), Z_DEFAULT_COMPRESSION);
  out.resize(size);
  return out;
}

void CheckDecodedSignsAgain(const DecodedUserSig& decoded) {
  const std::string again = portrait_bridge::SignUserSig(kKey, decoded.fields);
  const absl::StatusOr<DecodedUserSig> redecoded = portrait_bridge::DecodeUserSig(again);
  FUZZ_CHECK(redecoded.ok() && SameFields(redecoded->fields, decoded.fields),
             absl::StrCat(Show(decoded.fields), " signed again: ", redecoded.status().ToString()));
  FUZZ_CHECK(portrait_bridge::UserSigSignatureMatches(kKey, *redecoded), Show(decoded.fields));
}

void RoundTrip(FuzzedDataProvider& provider) {
  const std::string key = provider.ConsumeRandomLengthString(100);
  UserSigFields fields;
  fields.identifier = provider.ConsumeRandomLengthString(100);
  fields.sdkappid = provider.ConsumeIntegral<uint64_t>();
  fields.time = provider.ConsumeIntegral<int64_t>();
  fields.expire = provider.ConsumeIntegral<int64_t>();

  std::string usersig;
  bool threw = false;
  try {
    usersig = portrait_bridge::SignUserSig(key, fields);
  } catch (const Json::type_error& e) {
    threw = true;
  }
  const bool utf8 = portrait_bridge::IsValidUtf8(fields.identifier);
  FUZZ_CHECK(threw == !utf8, absl::StrCat("threw: ", threw, ", identifier is UTF-8: ", utf8, "; ", Show(fields)));
  if (threw) return;

  for (char c : usersig) {
    FUZZ_CHECK(absl::ascii_isalnum(c) || c == '*' || c == '-' || c == '_', absl::StrCat("UserSig: ", usersig));
  }
  const absl::StatusOr<DecodedUserSig> decoded = portrait_bridge::DecodeUserSig(usersig);
  FUZZ_CHECK(decoded.ok(), absl::StrCat(decoded.status().ToString(), "; ", Show(fields)));
  FUZZ_CHECK(SameFields(decoded->fields, fields), absl::StrCat(Show(decoded->fields), " != ", Show(fields)));
  FUZZ_CHECK(decoded->version == "2.0", decoded->version);
  FUZZ_CHECK(decoded->sig == portrait_bridge::ComputeUserSigHmac(key, fields), decoded->sig);
  FUZZ_CHECK(portrait_bridge::UserSigSignatureMatches(key, *decoded), Show(fields));
  FUZZ_CHECK(!portrait_bridge::UserSigSignatureMatches(key + "x", *decoded), Show(fields));
}

// Whether `document` holds the six fields in the documented types.
bool WellTyped(const Json& document) {
  if (!document.is_object()) return false;
  for (const char* key : {"TLS.ver", "TLS.identifier", "TLS.sig"}) {
    if (!document.contains(key) || !document[key].is_string()) return false;
  }
  for (const char* key : {"TLS.sdkappid", "TLS.time", "TLS.expire"}) {
    if (!document.contains(key) || !document[key].is_number_integer()) return false;
  }
  return true;
}

void DecodeDocument(const std::string& text) {
  const absl::StatusOr<DecodedUserSig> decoded = portrait_bridge::DecodeUserSig(Base64UrlSafe(Zlib(text)));
  const Json document = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  const bool well_typed = WellTyped(document);
  FUZZ_CHECK(decoded.ok() == well_typed,
             absl::StrCat("decoded: ", decoded.status().ToString(), "; document: \"", absl::CHexEscape(text), "\""));
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.status().code() == absl::StatusCode::kInvalidArgument, decoded.status().ToString());
    return;
  }
  const UserSigFields expected = {document["TLS.identifier"].get<std::string>(),
                                  document["TLS.sdkappid"].get<uint64_t>(), document["TLS.time"].get<int64_t>(),
                                  document["TLS.expire"].get<int64_t>()};
  FUZZ_CHECK(SameFields(decoded->fields, expected), absl::StrCat(Show(decoded->fields), " != ", Show(expected)));
  FUZZ_CHECK(decoded->version == document["TLS.ver"].get<std::string>(), decoded->version);
  FUZZ_CHECK(decoded->sig == document["TLS.sig"].get<std::string>(), decoded->sig);
  CheckDecodedSignsAgain(*decoded);
}

void DecodeAny(const std::string& usersig) {
  const absl::StatusOr<DecodedUserSig> decoded = portrait_bridge::DecodeUserSig(usersig);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.status().code() == absl::StatusCode::kInvalidArgument, decoded.status().ToString());
    return;
  }
  portrait_bridge::UserSigSignatureMatches(kKey, *decoded);
  CheckDecodedSignsAgain(*decoded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[size - 1] % 4;
  const std::string rest(reinterpret_cast<const char*>(data), size - 1);
  switch (mode) {
    case 0: {
      FuzzedDataProvider provider(data, size - 1);
      RoundTrip(provider);
      break;
    }
    case 1:
      DecodeAny(rest);
      break;
    case 2:
      DecodeDocument(rest);
      break;
    default:
      DecodeAny(Base64UrlSafe(rest));
      break;
  }
  return 0;
}

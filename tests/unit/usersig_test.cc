#include "bridge/core/usersig.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_replace.h"

namespace portrait_bridge {
namespace {

constexpr char kVectorKey[] = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";

UserSigFields VectorFields() { return {"xiaojun", 1400000000, 1700000000, 15552000}; }

TEST(UserSigTest, HmacMatchesReferenceVector) {
  EXPECT_EQ(ComputeUserSigHmac(kVectorKey, VectorFields()), "LvA7d/Iw7gSsnskvVzBDPOCCDbuNCw4GHwTC0bip+B4=");
}

TEST(UserSigTest, SignedUserSigUsesUrlSafeAlphabet) {
  const std::string sig = SignUserSig(kVectorKey, VectorFields());
  ASSERT_FALSE(sig.empty());
  for (char c : sig) {
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '*' || c == '-' || c == '_') << c;
  }
}

TEST(UserSigTest, DecodeRoundTripsEveryField) {
  const auto decoded = DecodeUserSig(SignUserSig(kVectorKey, VectorFields()));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->version, "2.0");
  EXPECT_EQ(decoded->fields.identifier, "xiaojun");
  EXPECT_EQ(decoded->fields.sdkappid, 1400000000u);
  EXPECT_EQ(decoded->fields.time, 1700000000);
  EXPECT_EQ(decoded->fields.expire, 15552000);
  EXPECT_EQ(decoded->sig, "LvA7d/Iw7gSsnskvVzBDPOCCDbuNCw4GHwTC0bip+B4=");
  EXPECT_TRUE(UserSigSignatureMatches(kVectorKey, *decoded));
}

TEST(UserSigTest, VerificationFailsWithAnotherKey) {
  const auto decoded = DecodeUserSig(SignUserSig(kVectorKey, VectorFields()));
  ASSERT_TRUE(decoded.ok());
  EXPECT_FALSE(UserSigSignatureMatches("another-key", *decoded));
}

TEST(UserSigTest, VerificationFailsWhenAFieldIsAltered) {
  auto decoded = DecodeUserSig(SignUserSig(kVectorKey, VectorFields()));
  ASSERT_TRUE(decoded.ok());
  decoded->fields.expire += 1;  // Extending the validity must break the signature.
  EXPECT_FALSE(UserSigSignatureMatches(kVectorKey, *decoded));
}

TEST(UserSigTest, DecodeRejectsGarbage) {
  EXPECT_FALSE(DecodeUserSig("").ok());
  EXPECT_FALSE(DecodeUserSig("not-a-usersig").ok());
  EXPECT_FALSE(DecodeUserSig("eJw_").ok());
  const std::string truncated = SignUserSig(kVectorKey, VectorFields()).substr(0, 40);
  EXPECT_FALSE(DecodeUserSig(truncated).ok());
}

// A UserSig holding `document` as its JSON text: zlib, base64, then '+/=' replaced by '*-_'.
std::string UserSigOfDocument(const std::string& document) {
  uLongf size = compressBound(static_cast<uLong>(document.size()));
  std::string compressed(size, '\0');
  compress(reinterpret_cast<Bytef*>(compressed.data()), &size, reinterpret_cast<const Bytef*>(document.data()),
           static_cast<uLong>(document.size()));
  compressed.resize(size);
  return absl::StrReplaceAll(absl::Base64Escape(compressed), {{"+", "*"}, {"/", "-"}, {"=", "_"}});
}

// Found with tests/fuzz/usersig_fuzzer (UBSan): a float out of int64's range was converted anyway (undefined
// behaviour); other floats were truncated.
TEST(UserSigTest, DecodeRejectsNumbersThatAreNotIntegers) {
  const std::string valid =
      R"({"TLS.ver":"2.0","TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.expire":15552000,)"
      R"("TLS.time":1700000000,"TLS.sig":"LvA7d/Iw7gSsnskvVzBDPOCCDbuNCw4GHwTC0bip+B4="})";
  ASSERT_TRUE(DecodeUserSig(UserSigOfDocument(valid)).ok());
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{{"1700000000", "1e300"},
                                                                                 {"1700000000", "1.5"},
                                                                                 {"15552000", "-1e19"},
                                                                                 {"1400000000", "true"},
                                                                                 {"1400000000", "\"1400000000\""}}) {
    const std::string document = absl::StrReplaceAll(valid, {{from, to}});
    const auto decoded = DecodeUserSig(UserSigOfDocument(document));
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << document;
  }
}

}  // namespace
}  // namespace portrait_bridge

#include "bridge/core/usersig.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace portrait_bridge

#include "bridge/core/profile_tags.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace portrait_bridge {
namespace {

// Tencent's standard fields and their types (reference section 4).
const std::vector<std::pair<std::string, ValueType>>& StandardTags() {
  static const auto* tags = new std::vector<std::pair<std::string, ValueType>>{
      {"Tag_Profile_IM_Nick", ValueType::kString},
      {"Tag_Profile_IM_Gender", ValueType::kString},
      {"Tag_Profile_IM_BirthDay", ValueType::kUint},
      {"Tag_Profile_IM_Location", ValueType::kString},
      {"Tag_Profile_IM_SelfSignature", ValueType::kString},
      {"Tag_Profile_IM_AllowType", ValueType::kString},
      {"Tag_Profile_IM_Language", ValueType::kUint},
      {"Tag_Profile_IM_Image", ValueType::kString},
      {"Tag_Profile_IM_MsgSettings", ValueType::kUint},
      {"Tag_Profile_IM_AdminForbidType", ValueType::kString},
      {"Tag_Profile_IM_Level", ValueType::kUint},
      {"Tag_Profile_IM_Role", ValueType::kUint},
  };
  return *tags;
}

TEST(ValidateTagTest, EveryStandardTagIsValidAndTypedPerReference) {
  ASSERT_EQ(StandardTags().size(), 12u);
  const TagTypes types;
  for (const auto& [tag, type] : StandardTags()) {
    EXPECT_TRUE(ValidateTag(tag).ok()) << tag << ": " << ValidateTag(tag);
    EXPECT_EQ(types.TypeOf(tag), type) << tag;
  }
}

TEST(ValidateTagTest, StandardTagIsTypedByTableEvenIfListedAsBytes) {
  const TagTypes types({"Tag_Profile_IM_Nick", "Tag_Profile_IM_Level"});
  EXPECT_EQ(types.TypeOf("Tag_Profile_IM_Nick"), ValueType::kString);
  EXPECT_EQ(types.TypeOf("Tag_Profile_IM_Level"), ValueType::kUint);
}

TEST(ValidateTagTest, WellFormedCustomTagsAreValid) {
  for (const char* tag : {"Tag_Profile_Custom_Test", "Tag_Profile_Custom_a_1", "Tag_Profile_Custom_X",
                          "Tag_Profile_Custom_0123456789abcdef"}) {
    EXPECT_TRUE(ValidateTag(tag).ok()) << tag << ": " << ValidateTag(tag);
  }
}

TEST(ValidateTagTest, CustomKeywordOf16CharactersIsValidAnd17IsRejected) {
  const std::string sixteen = "Tag_Profile_Custom_" + std::string(16, 'k');
  const std::string seventeen = "Tag_Profile_Custom_" + std::string(17, 'k');
  EXPECT_TRUE(ValidateTag(sixteen).ok()) << ValidateTag(sixteen);
  const absl::Status status = ValidateTag(seventeen);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidateTagTest, EmptyCustomKeywordIsRejected) {
  EXPECT_EQ(ValidateTag("Tag_Profile_Custom_").code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidateTagTest, CustomKeywordWithForbiddenCharacterIsRejected) {
  for (const char* tag : {"Tag_Profile_Custom_bad-char", "Tag_Profile_Custom_a b", "Tag_Profile_Custom_a.b",
                          "Tag_Profile_Custom_caf\xC3\xA9"}) {
    EXPECT_EQ(ValidateTag(tag).code(), absl::StatusCode::kInvalidArgument) << tag;
  }
}

TEST(ValidateTagTest, UnknownStandardTagIsRejectedWithItsName) {
  const absl::Status status = ValidateTag("Tag_Profile_IM_Unknown");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("Tag_Profile_IM_Unknown"), absl::string_view::npos) << status;
}

TEST(ValidateTagTest, StandardTagsAreCaseSensitive) {
  EXPECT_EQ(ValidateTag("Tag_Profile_IM_nick").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateTag("tag_profile_im_Nick").code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidateTagTest, EmptyTagIsRejected) {
  EXPECT_EQ(ValidateTag("").code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidateTagTest, WrongPrefixIsRejected) {
  for (const char* tag : {"Nick", "Tag_Profile_Nick", "Tag_SNS_IM_Remark", "Tag_Profile_IM_", " Tag_Profile_IM_Nick",
                          "Tag_Profile_IM_Nick "}) {
    EXPECT_EQ(ValidateTag(tag).code(), absl::StatusCode::kInvalidArgument) << "\"" << tag << "\"";
  }
}

TEST(TagTypesTest, CustomTagsAreStringsUnlessConfiguredAsBytes) {
  const TagTypes types({"Tag_Profile_Custom_Blob"});
  EXPECT_EQ(types.TypeOf("Tag_Profile_Custom_Blob"), ValueType::kBytes);
  EXPECT_EQ(types.TypeOf("Tag_Profile_Custom_Text"), ValueType::kString);
  // The match is exact, not by prefix or case-insensitively.
  EXPECT_EQ(types.TypeOf("Tag_Profile_Custom_Blob2"), ValueType::kString);
  EXPECT_EQ(types.TypeOf("Tag_Profile_Custom_blob"), ValueType::kString);
  EXPECT_EQ(TagTypes().TypeOf("Tag_Profile_Custom_Blob"), ValueType::kString);
}

TEST(ValidateAccountTest, EmptyAccountIsRejected) {
  EXPECT_EQ(ValidateAccount("").code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidateAccountTest, ThirtyTwoBytesIsValidAndThirtyThreeIsRejected) {
  EXPECT_TRUE(ValidateAccount(std::string(32, 'a')).ok());
  EXPECT_EQ(ValidateAccount(std::string(33, 'a')).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidateAccountTest, LengthIsCountedInBytesNotCharacters) {
  // "中" is 3 bytes: 10 of them are 30 bytes (ok), 11 are 33 bytes (too long) though only 11 characters.
  std::string ten;
  for (int i = 0; i < 10; ++i) ten += "\xE4\xB8\xAD";
  EXPECT_TRUE(ValidateAccount(ten).ok()) << ValidateAccount(ten);
  EXPECT_EQ(ValidateAccount(ten + "\xE4\xB8\xAD").code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidateAccountTest, ValidMultibyteUtf8IsAccepted) {
  for (const char* account : {"\xE7\x94\xA8\xE6\x88\xB7\xE4\xB8\x80",  // 用户一
                              "user_\xC3\xA9",                          // two-byte é
                              "\xF0\x9F\x98\x80",                       // four-byte emoji U+1F600
                              "plain-ascii@example.com"}) {
    EXPECT_TRUE(ValidateAccount(account).ok()) << account << ": " << ValidateAccount(account);
  }
}

TEST(ValidateAccountTest, InvalidUtf8IsRejected) {
  const std::vector<std::string> invalid = {
      std::string("a\x80" "b"),         // lone continuation byte
      std::string("ab\xE4\xB8"),        // truncated three-byte sequence at the end
      std::string("\xE4\xB8" "abc"),    // truncated sequence followed by ASCII
      std::string("\xC0\xAF"),          // overlong encoding of '/'
      std::string("\xE0\x80\xAF"),      // overlong three-byte '/'
      std::string("\xED\xA0\x80"),      // UTF-16 surrogate U+D800
      std::string("\xF4\x90\x80\x80"),  // past U+10FFFF
      std::string("\xFF"),              // never valid in UTF-8
  };
  for (const std::string& account : invalid) {
    EXPECT_EQ(ValidateAccount(account).code(), absl::StatusCode::kInvalidArgument)
        << testing::PrintToString(account);
  }
}

}  // namespace
}  // namespace portrait_bridge

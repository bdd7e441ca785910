#include "bridge/sandbox/profile_store.h"

#include <gtest/gtest.h>

namespace portrait_bridge::sandbox {
namespace {

TEST(ProfileStoreTest, PoolAccountsAndNamedAccountsExist) {
  const ProfileStore store(100, {"Tag_Profile_Custom_Test"});
  EXPECT_TRUE(store.Exists("user0"));
  EXPECT_TRUE(store.Exists("user99"));
  EXPECT_FALSE(store.Exists("user100"));
  EXPECT_FALSE(store.Exists("user01"));  // Not the canonical spelling of user1.
  EXPECT_FALSE(store.Exists("user"));
  EXPECT_FALSE(store.Exists("user-1"));
  EXPECT_FALSE(store.Exists("User1"));
  EXPECT_TRUE(store.Exists("alice"));
  EXPECT_TRUE(store.Exists("bob"));
  EXPECT_TRUE(store.Exists("carol"));
  EXPECT_FALSE(store.Exists("dave"));
}

TEST(ProfileStoreTest, KnownTags) {
  const ProfileStore store(10, {"Tag_Profile_Custom_Test"});
  for (const std::string& tag : StandardProfileTags()) EXPECT_TRUE(store.KnownTag(tag)) << tag;
  EXPECT_EQ(StandardProfileTags().size(), 12u);
  EXPECT_TRUE(store.KnownTag("Tag_Profile_Custom_Test"));
  EXPECT_FALSE(store.KnownTag("Tag_Profile_Custom_Blob"));  // Not configured here.
  EXPECT_FALSE(store.KnownTag("Tag_Profile_IM_nick"));
}

TEST(ProfileStoreTest, ValuesAreDeterministicAndTyped) {
  const ProfileStore store(1000, {"Tag_Profile_Custom_Test", "Tag_Profile_Custom_Blob"});
  EXPECT_EQ(*store.Value("user42", "Tag_Profile_IM_Nick"), "User 42");
  EXPECT_EQ(*store.Value("user42", "Tag_Profile_IM_BirthDay"), 19900101 + 42 % 28);
  for (const std::string& tag : {std::string("Tag_Profile_IM_BirthDay"), std::string("Tag_Profile_IM_Language"),
                                 std::string("Tag_Profile_IM_MsgSettings"), std::string("Tag_Profile_IM_Level"),
                                 std::string("Tag_Profile_IM_Role")}) {
    EXPECT_TRUE(store.Value("user42", tag)->is_number_integer()) << tag;
  }
  const std::string gender = store.Value("user43", "Tag_Profile_IM_Gender")->get<std::string>();
  EXPECT_TRUE(gender == "Gender_Type_Unknown" || gender == "Gender_Type_Female" || gender == "Gender_Type_Male");
  EXPECT_EQ(store.Value("user42", "Tag_Profile_IM_Nick"), store.Value("user42", "Tag_Profile_IM_Nick"));
  EXPECT_EQ(*store.Value("alice", "Tag_Profile_IM_Nick"), "Alice");
  EXPECT_FALSE(store.Value("bob", "Tag_Profile_IM_Image").has_value());
  EXPECT_EQ(*store.Value("bob", "Tag_Profile_IM_SelfSignature"), "");
}

}  // namespace
}  // namespace portrait_bridge::sandbox

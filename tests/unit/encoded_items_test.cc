#include "bridge/core/encoded_items.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace portrait_bridge {
namespace {

using portraitbridge::profile::v1::ProfileItem;

struct Case {
  std::string tag;
  ProfileItem::ValueCase value_case;
  uint32_t uint_value;
  std::string text;
};

ProfileItem MessageOf(const Case& c) {
  ProfileItem item;
  item.set_tag(c.tag);
  if (c.value_case == ProfileItem::kUintValue) item.set_uint_value(c.uint_value);
  if (c.value_case == ProfileItem::kStringValue) item.set_string_value(c.text);
  if (c.value_case == ProfileItem::kBytesValue) item.set_bytes_value(c.text);
  return item;
}

// The hand-written encoder must write protobuf's own bytes: callers decode the responses with generated code, and
// the encoded items are compared and cached byte for byte.
TEST(EncodedItemsTest, FieldByFieldEncodingIsProtobufsOwnBytes) {
  const std::string long_text(300, 'x');  // Lengths over 127 take a two-byte varint, here and in the item's own.
  const Case cases[] = {
      {"Tag_Profile_IM_Nick", ProfileItem::kStringValue, 0, "Alice"},
      {"Tag_Profile_IM_Nick", ProfileItem::kStringValue, 0, ""},  // A set oneof member is written even when empty.
      {"Tag_Profile_IM_Nick", ProfileItem::kStringValue, 0, "Carol \xE5\x8D\xA1\xE7\xBD\x97\xE5\xB0\x94"},
      {"Tag_Profile_IM_Nick", ProfileItem::kStringValue, 0, long_text},
      {"Tag_Profile_IM_Level", ProfileItem::kUintValue, 0, ""},
      {"Tag_Profile_IM_Level", ProfileItem::kUintValue, 127, ""},
      {"Tag_Profile_IM_Level", ProfileItem::kUintValue, 128, ""},
      {"Tag_Profile_IM_Level", ProfileItem::kUintValue, std::numeric_limits<uint32_t>::max(), ""},
      {"Tag_Profile_Custom_Blob", ProfileItem::kBytesValue, 0, std::string("\0\xFF\x80", 3)},
      {"Tag_Profile_IM_Image", ProfileItem::VALUE_NOT_SET, 0, ""},
      {"", ProfileItem::kStringValue, 0, "no tag"},  // proto3 leaves an empty tag out.
      {"", ProfileItem::VALUE_NOT_SET, 0, ""},
      {long_text, ProfileItem::kUintValue, 5, ""},
  };
  for (const Case& c : cases) {
    std::string expected = "prefix";
    AppendEncodedItem(MessageOf(c), expected);
    std::string encoded = "prefix";
    AppendEncodedItem(c.tag, c.value_case, c.uint_value, c.text, encoded);
    EXPECT_EQ(encoded, expected) << MessageOf(c).ShortDebugString();
  }
}

TEST(EncodedItemsTest, DecodesWhatWasAppendedInOrder) {
  std::string encoded;
  AppendEncodedItem("Tag_Profile_IM_Nick", ProfileItem::kStringValue, 0, "Bob", encoded);
  AppendEncodedItem("Tag_Profile_IM_Level", ProfileItem::kUintValue, 7, "", encoded);
  AppendEncodedItem("Tag_Profile_IM_Image", ProfileItem::VALUE_NOT_SET, 0, "", encoded);
  const std::vector<ProfileItem> items = DecodeItems(encoded);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].tag(), "Tag_Profile_IM_Nick");
  EXPECT_EQ(items[0].string_value(), "Bob");
  EXPECT_EQ(items[1].uint_value(), 7u);
  EXPECT_EQ(items[2].tag(), "Tag_Profile_IM_Image");
  EXPECT_EQ(items[2].value_case(), ProfileItem::VALUE_NOT_SET);
  EXPECT_TRUE(DecodeItems("\x12\x05short").empty());  // Truncated: nothing rather than half an item.
}

}  // namespace
}  // namespace portrait_bridge

#include "bridge/core/encoded_items.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

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

// The cache stores each item's bytes as the upstream answer holds them, picked by tag.
TEST(EncodedItemsTest, SplitGivesEachItemsTagAndBytesWithoutDecoding) {
  const std::string long_tag(200, 't');  // A two-byte length, in the item and in its field header.
  const Case cases[] = {
      {"Tag_Profile_IM_Nick", ProfileItem::kStringValue, 0, "Alice"},
      {"", ProfileItem::kStringValue, 0, "no tag"},
      {long_tag, ProfileItem::kUintValue, 5, ""},
      {"Tag_Profile_Custom_Blob", ProfileItem::kBytesValue, 0, std::string("\0\xFF", 2)},
      {"Tag_Profile_IM_Image", ProfileItem::VALUE_NOT_SET, 0, ""},
  };
  std::string encoded;
  std::vector<std::string> fields;
  for (const Case& c : cases) {
    const size_t before = encoded.size();
    AppendEncodedItem(MessageOf(c), encoded);
    fields.push_back(encoded.substr(before));
  }
  const std::vector<EncodedItemView> views = SplitEncodedItems(encoded);
  ASSERT_EQ(views.size(), std::size(cases));
  for (size_t i = 0; i < views.size(); ++i) {
    EXPECT_EQ(views[i].tag, cases[i].tag) << i;
    EXPECT_EQ(views[i].field, fields[i]) << i;
  }
  // Fields may come in any order: a value before the tag (uint_value 7, then tag "ab").
  const std::string value_first(
      "\x12\x06\x10\x07\x0a\x02"
      "ab",
      8);
  const std::vector<EncodedItemView> reordered = SplitEncodedItems(value_first);
  ASSERT_EQ(reordered.size(), 1u);
  EXPECT_EQ(reordered[0].tag, "ab");
  EXPECT_EQ(reordered[0].field, value_first);
  // Of two tags the last counts, as protobuf reads them.
  EXPECT_EQ(SplitEncodedItems(std::string("\x12\x08\x0a\x02"
                                          "ab\x0a\x02"
                                          "cd",
                                          10))[0]
                .tag,
            "cd");
  // A truncated item ends the run; the whole items before it are kept.
  EXPECT_EQ(SplitEncodedItems(fields[0] + "\x12\x09short").size(), 1u);
  EXPECT_TRUE(SplitEncodedItems("").empty());
}

}  // namespace
}  // namespace portrait_bridge

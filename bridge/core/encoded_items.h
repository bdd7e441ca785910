#ifndef PORTRAIT_BRIDGE_CORE_ENCODED_ITEMS_H_
#define PORTRAIT_BRIDGE_CORE_ENCODED_ITEMS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "portraitbridge/profile/v1/profile.pb.h"

namespace portrait_bridge {

// Profile items in wire form: each item one length-delimited field `items` (2) of AccountResult, so a run of them
// appended to an encoded AccountResult adds those items to it. The bridge keeps items this way from the upstream
// answer to the caller's response (and in the cache): building ProfileItem messages for every field, serializing
// and destroying them cost more than parsing the answer.

/// Appends `item` in wire form (protobuf's own serializer).
void AppendEncodedItem(const portraitbridge::profile::v1::ProfileItem& item, std::string& out);

/// Appends the item {tag, value} in wire form: the bytes AppendEncodedItem writes for the same ProfileItem.
/// `value_case` says which of `uint_value` and `text` (string_value or bytes_value) is the value; VALUE_NOT_SET
/// appends an item with its tag only.
void AppendEncodedItem(absl::string_view tag, portraitbridge::profile::v1::ProfileItem::ValueCase value_case,
                       uint32_t uint_value, absl::string_view text, std::string& out);

/// One item of a run written by AppendEncodedItem, as views of the run: its tag, and its whole field (header
/// included), the bytes AppendEncodedItem wrote for it.
struct EncodedItemView {
  absl::string_view tag;
  absl::string_view field;
};

/// The items of a run written by AppendEncodedItem, in order, without decoding their values; reading stops at the
/// first bytes that are not an item field.
std::vector<EncodedItemView> SplitEncodedItems(absl::string_view encoded);

/// The items of a run of fields written by AppendEncodedItem; items that do not decode are left out.
std::vector<portraitbridge::profile::v1::ProfileItem> DecodeItems(absl::string_view encoded);

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_ENCODED_ITEMS_H_

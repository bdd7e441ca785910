#include "bridge/core/encoded_items.h"

#include "bridge/core/wire_writer.h"

namespace portrait_bridge {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedOutputStream;
using portraitbridge::profile::v1::AccountResult;
using portraitbridge::profile::v1::ProfileItem;

// Makes room at the end of `out` for an item of `size` bytes, writes its field header, and returns where the item's
// own fields go.
uint8_t* AppendItemHeader(size_t size, std::string& out) {
  const size_t start = out.size();
  out.resize(start + LengthDelimitedSize(size));
  return WriteLengthDelimitedHeader(AccountResult::kItemsFieldNumber, size, reinterpret_cast<uint8_t*>(&out[start]));
}

}  // namespace

void AppendEncodedItem(const ProfileItem& item, std::string& out) {
  const size_t size = item.ByteSizeLong();
  item.SerializeWithCachedSizesToArray(AppendItemHeader(size, out));
}

void AppendEncodedItem(absl::string_view tag, ProfileItem::ValueCase value_case, uint32_t uint_value,
                       absl::string_view text, std::string& out) {
  // Fields in number order, as protobuf writes them; proto3 leaves out an empty tag, never a set oneof member.
  size_t size = tag.empty() ? 0 : LengthDelimitedSize(tag.size());
  switch (value_case) {
    case ProfileItem::kUintValue:
      size += 1 + CodedOutputStream::VarintSize32(uint_value);
      break;
    case ProfileItem::kStringValue:
    case ProfileItem::kBytesValue:
      size += LengthDelimitedSize(text.size());
      break;
    case ProfileItem::VALUE_NOT_SET:
      break;
  }
  // Sized once and written through a pointer: appending byte by byte cost more than the rest of the parse.
  uint8_t* p = AppendItemHeader(size, out);
  if (!tag.empty()) p = WriteLengthDelimited(ProfileItem::kTagFieldNumber, tag, p);
  switch (value_case) {
    case ProfileItem::kUintValue:
      p = WriteTag(ProfileItem::kUintValueFieldNumber, WireFormatLite::WIRETYPE_VARINT, p);
      CodedOutputStream::WriteVarint32ToArray(uint_value, p);
      break;
    case ProfileItem::kStringValue:
      WriteLengthDelimited(ProfileItem::kStringValueFieldNumber, text, p);
      break;
    case ProfileItem::kBytesValue:
      WriteLengthDelimited(ProfileItem::kBytesValueFieldNumber, text, p);
      break;
    case ProfileItem::VALUE_NOT_SET:
      break;
  }
}

std::vector<ProfileItem> DecodeItems(absl::string_view encoded) {
  // The fields are those of an AccountResult holding only items.
  AccountResult holder;
  if (!holder.ParseFromArray(encoded.data(), static_cast<int>(encoded.size()))) return {};
  return {holder.items().begin(), holder.items().end()};
}

}  // namespace portrait_bridge

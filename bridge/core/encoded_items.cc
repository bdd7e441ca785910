#include "bridge/core/encoded_items.h"

#include "bridge/core/wire_writer.h"
#include "google/protobuf/io/coded_stream.h"

namespace portrait_bridge {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;
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

std::vector<EncodedItemView> SplitEncodedItems(absl::string_view encoded) {
  const uint32_t kItemField =
      WireFormatLite::MakeTag(AccountResult::kItemsFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  const uint32_t kTagField =
      WireFormatLite::MakeTag(ProfileItem::kTagFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  auto bytes = [](absl::string_view view) { return reinterpret_cast<const uint8_t*>(view.data()); };
  std::vector<EncodedItemView> items;
  CodedInputStream in(bytes(encoded), static_cast<int>(encoded.size()));
  while (!in.ExpectAtEnd()) {
    const size_t start = static_cast<size_t>(in.CurrentPosition());
    uint32_t size = 0;
    if (in.ReadTag() != kItemField || !in.ReadVarint32(&size)) break;
    const size_t body = static_cast<size_t>(in.CurrentPosition());
    if (size > encoded.size() - body || !in.Skip(static_cast<int>(size))) break;
    EncodedItemView& item = items.emplace_back();
    item.field = encoded.substr(start, body + size - start);
    // The tag, if the item has one (proto3 leaves an empty tag out; of two, the last counts, as protobuf reads
    // them). The value is skipped.
    const absl::string_view fields = encoded.substr(body, size);
    CodedInputStream item_in(bytes(fields), static_cast<int>(fields.size()));
    for (uint32_t field = item_in.ReadTag(); field != 0; field = item_in.ReadTag()) {
      if (field != kTagField) {
        if (!WireFormatLite::SkipField(&item_in, field)) break;
        continue;
      }
      uint32_t tag_size = 0;
      if (!item_in.ReadVarint32(&tag_size) || tag_size > fields.size() - item_in.CurrentPosition()) break;
      item.tag = fields.substr(item_in.CurrentPosition(), tag_size);
      item_in.Skip(static_cast<int>(tag_size));
    }
  }
  return items;
}

std::vector<ProfileItem> DecodeItems(absl::string_view encoded) {
  // The fields are those of an AccountResult holding only items.
  AccountResult holder;
  if (!holder.ParseFromArray(encoded.data(), static_cast<int>(encoded.size()))) return {};
  return {holder.items().begin(), holder.items().end()};
}

}  // namespace portrait_bridge

#include "bridge/core/encoded_items.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <cstring>

namespace portrait_bridge {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedOutputStream;
using portraitbridge::profile::v1::AccountResult;
using portraitbridge::profile::v1::ProfileItem;

size_t VarintSize(uint64_t value) { return CodedOutputStream::VarintSize64(value); }

// Every field number here takes one byte of tag.
size_t LengthDelimitedSize(size_t size) { return 1 + VarintSize(size) + size; }

uint8_t* WriteTag(int field, WireFormatLite::WireType type, uint8_t* p) {
  return CodedOutputStream::WriteTagToArray(WireFormatLite::MakeTag(field, type), p);
}

uint8_t* WriteLengthDelimited(int field, absl::string_view bytes, uint8_t* p) {
  p = WriteTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED, p);
  p = CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(bytes.size()), p);
  std::memcpy(p, bytes.data(), bytes.size());
  return p + bytes.size();
}

}  // namespace

void AppendEncodedItem(const ProfileItem& item, std::string& out) {
  const size_t size = item.ByteSizeLong();
  const size_t start = out.size();
  out.resize(start + LengthDelimitedSize(size));
  uint8_t* p = reinterpret_cast<uint8_t*>(&out[start]);
  p = WriteTag(AccountResult::kItemsFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED, p);
  p = CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(size), p);
  item.SerializeWithCachedSizesToArray(p);
}

void AppendEncodedItem(absl::string_view tag, ProfileItem::ValueCase value_case, uint32_t uint_value,
                       absl::string_view text, std::string& out) {
  // Fields in number order, as protobuf writes them; proto3 leaves out an empty tag, never a set oneof member.
  size_t size = tag.empty() ? 0 : LengthDelimitedSize(tag.size());
  switch (value_case) {
    case ProfileItem::kUintValue:
      size += 1 + VarintSize(uint_value);
      break;
    case ProfileItem::kStringValue:
    case ProfileItem::kBytesValue:
      size += LengthDelimitedSize(text.size());
      break;
    case ProfileItem::VALUE_NOT_SET:
      break;
  }
  // Sized once and written through a pointer: appending byte by byte cost more than the rest of the parse.
  const size_t start = out.size();
  out.resize(start + LengthDelimitedSize(size));
  uint8_t* p = reinterpret_cast<uint8_t*>(&out[start]);
  p = WriteTag(AccountResult::kItemsFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED, p);
  p = CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(size), p);
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

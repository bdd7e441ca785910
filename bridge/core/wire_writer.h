#ifndef PORTRAIT_BRIDGE_CORE_WIRE_WRITER_H_
#define PORTRAIT_BRIDGE_CORE_WIRE_WRITER_H_

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"

namespace portrait_bridge {

// Protobuf fields written straight into a buffer sized beforehand, as the generated serializer writes them: for the
// bridge's own encoders (encoded_items.cc, ResponseEncoder). Every field number they write is below 16, so every
// tag takes one byte.

/// The bytes of a length-delimited field whose content is `size` bytes: tag, length, content.
inline size_t LengthDelimitedSize(size_t size) {
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(size) + size;
}

inline uint8_t* WriteTag(int field, google::protobuf::internal::WireFormatLite::WireType type, uint8_t* p) {
  using google::protobuf::internal::WireFormatLite;
  return google::protobuf::io::CodedOutputStream::WriteTagToArray(WireFormatLite::MakeTag(field, type), p);
}

/// The tag and length of a length-delimited field; its `size` bytes of content go after.
inline uint8_t* WriteLengthDelimitedHeader(int field, size_t size, uint8_t* p) {
  p = WriteTag(field, google::protobuf::internal::WireFormatLite::WIRETYPE_LENGTH_DELIMITED, p);
  return google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(size, p);
}

inline uint8_t* WriteLengthDelimited(int field, absl::string_view bytes, uint8_t* p) {
  p = WriteLengthDelimitedHeader(field, bytes.size(), p);
  std::memcpy(p, bytes.data(), bytes.size());
  return p + bytes.size();
}

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_WIRE_WRITER_H_

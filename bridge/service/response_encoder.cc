#include "bridge/service/response_encoder.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <cstring>
#include <utility>

#include "bridge/core/wire_writer.h"

namespace portrait_bridge {
namespace {

namespace v1 = portraitbridge::profile::v1;
using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedOutputStream;

// result_code = RESULT_CODE_OK: a tag and a one-byte varint.
constexpr size_t kResultCodeOkSize = 2;
static_assert(v1::RESULT_CODE_OK < 128, "RESULT_CODE_OK must encode in one byte");

}  // namespace

ResponseEncoder::ResponseEncoder(uint64_t request_index, const std::string& request_id) {
  if (request_index != 0) {
    AppendTag(v1::GetProfilesResponse::kRequestIndexFieldNumber, WireFormatLite::WIRETYPE_VARINT);
    AppendVarint(request_index);
  }
  if (!request_id.empty()) AppendBytes(v1::GetProfilesResponse::kRequestIdFieldNumber, request_id);
}

void ResponseEncoder::AddSuccess(const AccountOutcome& outcome, int copies) {
  size_t items_size = outcome.encoded_items.size();
  for (const v1::ProfileItem& item : outcome.items) items_size += LengthDelimitedSize(item.ByteSizeLong());
  const size_t size = (outcome.account.empty() ? 0 : LengthDelimitedSize(outcome.account.size())) + items_size +
                      kResultCodeOkSize + LengthDelimitedSize(0);  // The status, set and empty: code 0 is not written.
  // Sized once and written through a pointer: a dozen small appends per result cost more than the bytes.
  const size_t begin = out_.size();
  out_.resize(begin + LengthDelimitedSize(size));
  uint8_t* p = reinterpret_cast<uint8_t*>(&out_[begin]);
  p = WriteLengthDelimitedHeader(v1::GetProfilesResponse::kResultsFieldNumber, size, p);
  if (!outcome.account.empty()) p = WriteLengthDelimited(v1::AccountResult::kAccountFieldNumber, outcome.account, p);
  for (const v1::ProfileItem& item : outcome.items) {
    // ByteSizeLong above cached the size that SerializeWithCachedSizesToArray uses.
    p = WriteLengthDelimitedHeader(v1::AccountResult::kItemsFieldNumber, item.GetCachedSize(), p);
    p = item.SerializeWithCachedSizesToArray(p);
  }
  std::memcpy(p, outcome.encoded_items.data(), outcome.encoded_items.size());
  p += outcome.encoded_items.size();
  p = WriteTag(v1::AccountResult::kResultCodeFieldNumber, WireFormatLite::WIRETYPE_VARINT, p);
  *p++ = static_cast<uint8_t>(v1::RESULT_CODE_OK);
  WriteLengthDelimitedHeader(v1::AccountResult::kStatusFieldNumber, 0, p);
  Repeat(begin, copies);
}

void ResponseEncoder::AddResult(const v1::AccountResult& result, int copies) {
  const size_t begin = out_.size();
  AppendTag(v1::GetProfilesResponse::kResultsFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  AppendVarint(result.ByteSizeLong());
  result.AppendToString(&out_);
  Repeat(begin, copies);
}

void ResponseEncoder::AddEncodedResults(absl::string_view results, int copies) {
  const size_t begin = out_.size();
  out_.append(results.data(), results.size());
  Repeat(begin, copies);
}

void ResponseEncoder::SetStatus(const google::rpc::Status& status) {
  AppendTag(v1::GetProfilesResponse::kStatusFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  AppendVarint(status.ByteSizeLong());
  status.AppendToString(&out_);
}

void ResponseEncoder::SetComplete() {
  AppendTag(v1::GetProfilesResponse::kRequestCompleteFieldNumber, WireFormatLite::WIRETYPE_VARINT);
  AppendVarint(1);
}

grpc::ByteBuffer ResponseEncoder::Finish() && {
  grpc::ByteBuffer buffer = ToByteBuffer(std::move(out_));
  out_.clear();
  return buffer;
}

grpc::ByteBuffer ToByteBuffer(std::string value) {
  auto* bytes = new std::string(std::move(value));
  grpc::Slice slice(
      bytes->data(), bytes->size(), [](void* user) { delete static_cast<std::string*>(user); }, bytes);
  return grpc::ByteBuffer(&slice, 1);
}

void ResponseEncoder::AppendTag(int field, int wire_type) {
  AppendVarint(WireFormatLite::MakeTag(field, static_cast<WireFormatLite::WireType>(wire_type)));
}

void ResponseEncoder::AppendVarint(uint64_t value) {
  uint8_t bytes[10];  // The longest varint.
  const uint8_t* end = CodedOutputStream::WriteVarint64ToArray(value, bytes);
  out_.append(reinterpret_cast<const char*>(bytes), end - bytes);
}

void ResponseEncoder::AppendBytes(int field, const std::string& value) {
  AppendTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  AppendVarint(value.size());
  out_.append(value);
}

// The result written from `begin` on, once more for each further copy.
void ResponseEncoder::Repeat(size_t begin, int copies) {
  if (copies <= 1) return;
  const size_t length = out_.size() - begin;
  out_.reserve(out_.size() + length * (copies - 1));  // No reallocation while appending from out_ itself.
  for (int i = 1; i < copies; ++i) out_.append(out_, begin, length);
}

}  // namespace portrait_bridge

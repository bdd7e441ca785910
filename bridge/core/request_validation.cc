#include "bridge/core/request_validation.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "bridge/core/profile_tags.h"

namespace portrait_bridge {
namespace {

using google::protobuf::internal::WireFormatLite;

constexpr size_t kMaxReportedViolations = 20;  // Enough to act on, without echoing a huge request back.

// Field numbers of GetProfilesRequest.
constexpr int kRequestIdField = 1;
constexpr int kAccountsField = 2;
constexpr int kTagsField = 3;

}  // namespace

bool DecodeRequest(absl::string_view wire, tencentcloud::chat::profile::v1::GetProfilesRequest& request) {
  request.Clear();
  google::protobuf::io::CodedInputStream input(reinterpret_cast<const uint8_t*>(wire.data()),
                                               static_cast<int>(wire.size()));
  while (const uint32_t tag = input.ReadTag()) {
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const bool is_string = WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    if (!is_string || (field != kRequestIdField && field != kAccountsField && field != kTagsField)) {
      if (!WireFormatLite::SkipField(&input, tag)) return false;  // Unknown fields are skipped, as protobuf does.
      continue;
    }
    uint32_t length = 0;
    std::string value;
    if (!input.ReadVarint32(&length) || !input.ReadString(&value, static_cast<int>(length))) return false;
    if (field == kRequestIdField) request.set_request_id(std::move(value));
    if (field == kAccountsField) request.add_accounts(std::move(value));
    if (field == kTagsField) request.add_tags(std::move(value));
  }
  return input.ConsumedEntireMessage();
}

std::vector<FieldViolation> DecodeAndValidateRequest(absl::string_view wire, uint64_t index,
                                                     tencentcloud::chat::profile::v1::GetProfilesRequest& request) {
  if (!DecodeRequest(wire, request)) {
    return {{absl::StrCat("requests[", index, "]"), "the message is not a valid GetProfilesRequest encoding"}};
  }
  return ValidateRequest(request, index);
}

std::vector<FieldViolation> ValidateRequest(const tencentcloud::chat::profile::v1::GetProfilesRequest& request,
                                            uint64_t index) {
  const std::string prefix = absl::StrCat("requests[", index, "]");
  std::vector<FieldViolation> violations;
  if (!IsValidUtf8(request.request_id())) violations.push_back({prefix + ".request_id", "not valid UTF-8"});
  if (request.accounts_size() == 0) violations.push_back({prefix + ".accounts", "at least one account is required"});
  for (int i = 0; i < request.accounts_size(); ++i) {
    if (absl::Status status = ValidateAccount(request.accounts(i)); !status.ok()) {
      violations.push_back({absl::StrCat(prefix, ".accounts[", i, "]"), std::string(status.message())});
    }
  }
  if (request.tags_size() == 0) violations.push_back({prefix + ".tags", "at least one tag is required"});
  for (int i = 0; i < request.tags_size(); ++i) {
    if (absl::Status status = ValidateTag(request.tags(i)); !status.ok()) {
      violations.push_back({absl::StrCat(prefix, ".tags[", i, "]"), std::string(status.message())});
    }
  }
  if (violations.size() > kMaxReportedViolations) violations.resize(kMaxReportedViolations);
  return violations;
}

}  // namespace portrait_bridge

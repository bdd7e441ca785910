#include "bridge/core/request_validation.h"

#include <google/protobuf/empty.pb.h>
#include <google/protobuf/unknown_field_set.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/core/profile_tags.h"

namespace portrait_bridge {
namespace {

using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

constexpr size_t kMaxReportedViolations = 20;  // Enough to act on, without echoing a huge request back.

// Reads every length-delimited field of `wire` (strings taken as bytes) and hands it to `take` with its number;
// false when `wire` is not a message encoding.
template <typename Take>
bool DecodeStrings(absl::string_view wire, Take take) {
  google::protobuf::Empty message;
  if (!message.ParseFromArray(wire.data(), static_cast<int>(wire.size()))) return false;
  UnknownFieldSet* fields = message.GetReflection()->MutableUnknownFields(&message);
  for (int i = 0; i < fields->field_count(); ++i) {
    UnknownField* field = fields->mutable_field(i);
    if (field->type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    take(field->number(), std::move(*field->mutable_length_delimited()));
  }
  return true;
}

// Checks accounts and tags, naming fields `prefix` + "accounts[i]" and so on.
void ValidateLookup(const std::string& prefix, const google::protobuf::RepeatedPtrField<std::string>& accounts,
                    const google::protobuf::RepeatedPtrField<std::string>& tags,
                    std::vector<FieldViolation>& violations) {
  if (accounts.empty()) violations.push_back({prefix + "accounts", "at least one account is required"});
  for (int i = 0; i < accounts.size(); ++i) {
    if (absl::Status status = ValidateAccount(accounts[i]); !status.ok()) {
      violations.push_back({absl::StrCat(prefix, "accounts[", i, "]"), std::string(status.message())});
    }
  }
  if (tags.empty()) violations.push_back({prefix + "tags", "at least one tag is required"});
  for (int i = 0; i < tags.size(); ++i) {
    if (absl::Status status = ValidateTag(tags[i]); !status.ok()) {
      violations.push_back({absl::StrCat(prefix, "tags[", i, "]"), std::string(status.message())});
    }
  }
  if (violations.size() > kMaxReportedViolations) violations.resize(kMaxReportedViolations);
}

}  // namespace

// Protobuf's own parser reads the bytes into a message without fields, so every field lands in its unknown fields,
// whose strings are not checked for UTF-8: exactly the encodings GetProfilesRequest's parser accepts are accepted
// (the same limits on tags, lengths and groups), plus strings that are not UTF-8. (CodedInputStream would also
// take tags and lengths of more than 5 bytes, which that parser refuses.) Fields 1 to 3 with another wire type are
// unknown fields for protobuf too: skipped.
bool DecodeRequest(absl::string_view wire, portraitbridge::profile::v1::GetProfilesRequest& request) {
  using Request = portraitbridge::profile::v1::GetProfilesRequest;
  request.Clear();
  return DecodeStrings(wire, [&](int number, std::string value) {
    if (number == Request::kRequestIdFieldNumber) request.set_request_id(std::move(value));
    if (number == Request::kAccountsFieldNumber) request.add_accounts(std::move(value));
    if (number == Request::kTagsFieldNumber) request.add_tags(std::move(value));
  });
}

bool DecodeBatchGetRequest(absl::string_view wire, portraitbridge::profile::v1::BatchGetProfilesRequest& request) {
  using Request = portraitbridge::profile::v1::BatchGetProfilesRequest;
  request.Clear();
  return DecodeStrings(wire, [&](int number, std::string value) {
    if (number == Request::kAccountsFieldNumber) request.add_accounts(std::move(value));
    if (number == Request::kTagsFieldNumber) request.add_tags(std::move(value));
  });
}

std::vector<FieldViolation> DecodeAndValidateRequest(absl::string_view wire, uint64_t index,
                                                     portraitbridge::profile::v1::GetProfilesRequest& request) {
  if (!DecodeRequest(wire, request)) {
    return {{absl::StrCat("requests[", index, "]"), "the message is not a valid GetProfilesRequest encoding"}};
  }
  return ValidateRequest(request, index);
}

std::vector<FieldViolation> ValidateRequest(const portraitbridge::profile::v1::GetProfilesRequest& request,
                                            uint64_t index) {
  const std::string prefix = absl::StrCat("requests[", index, "]");
  std::vector<FieldViolation> violations;
  if (!IsValidUtf8(request.request_id())) violations.push_back({prefix + ".request_id", "not valid UTF-8"});
  ValidateLookup(prefix + ".", request.accounts(), request.tags(), violations);
  return violations;
}

std::vector<FieldViolation> ValidateBatchGetRequest(
    const portraitbridge::profile::v1::BatchGetProfilesRequest& request) {
  std::vector<FieldViolation> violations;
  ValidateLookup("", request.accounts(), request.tags(), violations);
  return violations;
}

}  // namespace portrait_bridge

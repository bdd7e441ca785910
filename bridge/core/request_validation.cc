#include "bridge/core/request_validation.h"

#include <google/protobuf/arena.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/core/profile_tags.h"
#include "core/request_wire.pb.h"

namespace portrait_bridge {
namespace {

constexpr size_t kMaxReportedViolations = 20;  // Enough to act on, without echoing a huge request back.

// Checks accounts and tags, naming fields "accounts[i]" and so on (the caller puts any prefix in front).
void ValidateLookup(const google::protobuf::RepeatedPtrField<std::string>& accounts,
                    const google::protobuf::RepeatedPtrField<std::string>& tags,
                    std::vector<FieldViolation>& violations) {
  if (accounts.empty()) violations.push_back({"accounts", "at least one account is required"});
  for (int i = 0; i < accounts.size(); ++i) {
    if (absl::Status status = ValidateAccount(accounts[i]); !status.ok()) {
      violations.push_back({absl::StrCat("accounts[", i, "]"), std::string(status.message())});
    }
  }
  if (tags.empty()) violations.push_back({"tags", "at least one tag is required"});
  for (int i = 0; i < tags.size(); ++i) {
    if (absl::Status status = ValidateTag(tags[i]); !status.ok()) {
      violations.push_back({absl::StrCat("tags[", i, "]"), std::string(status.message())});
    }
  }
  if (violations.size() > kMaxReportedViolations) violations.resize(kMaxReportedViolations);
}

// Parses `wire` as the request's wire message (the request with bytes fields: protobuf's own generated parser, so
// exactly the encodings it accepts for the request are accepted, with the same limits on tags, lengths and groups
// and fields of another wire type skipped as unknown, plus strings that are not UTF-8), then hands it to `take`,
// which moves its fields into `request`. The wire message is made on the request's arena, so that swapping its
// fields in moves the parsed strings without a copy.
template <typename Wire, typename Request, typename Take>
bool DecodeAs(absl::string_view wire, Request& request, Take take) {
  auto* parsed = google::protobuf::Arena::CreateMessage<Wire>(request.GetArena());
  std::unique_ptr<Wire> owned(request.GetArena() == nullptr ? parsed : nullptr);
  request.Clear();
  if (!parsed->ParseFromArray(wire.data(), static_cast<int>(wire.size()))) return false;
  take(*parsed);
  return true;
}

}  // namespace

bool DecodeRequest(absl::string_view wire, portraitbridge::profile::v1::GetProfilesRequest& request) {
  return DecodeAs<wire::GetProfilesRequestWire>(wire, request, [&](wire::GetProfilesRequestWire& parsed) {
    request.mutable_request_id()->swap(*parsed.mutable_request_id());
    request.mutable_accounts()->Swap(parsed.mutable_accounts());
    request.mutable_tags()->Swap(parsed.mutable_tags());
  });
}

bool DecodeBatchGetRequest(absl::string_view wire, portraitbridge::profile::v1::BatchGetProfilesRequest& request) {
  return DecodeAs<wire::BatchGetProfilesRequestWire>(wire, request, [&](wire::BatchGetProfilesRequestWire& parsed) {
    request.mutable_accounts()->Swap(parsed.mutable_accounts());
    request.mutable_tags()->Swap(parsed.mutable_tags());
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
  std::vector<FieldViolation> violations;
  if (!IsValidUtf8(request.request_id())) violations.push_back({"request_id", "not valid UTF-8"});
  ValidateLookup(request.accounts(), request.tags(), violations);
  // Named within the stream's requests; built only for a request that has violations (most have none).
  if (!violations.empty()) {
    const std::string prefix = absl::StrCat("requests[", index, "].");
    for (FieldViolation& violation : violations) violation.field.insert(0, prefix);
  }
  return violations;
}

std::vector<FieldViolation> ValidateBatchGetRequest(
    const portraitbridge::profile::v1::BatchGetProfilesRequest& request) {
  std::vector<FieldViolation> violations;
  ValidateLookup(request.accounts(), request.tags(), violations);
  return violations;
}

}  // namespace portrait_bridge

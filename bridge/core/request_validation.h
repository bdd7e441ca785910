#ifndef PORTRAIT_BRIDGE_CORE_REQUEST_VALIDATION_H_
#define PORTRAIT_BRIDGE_CORE_REQUEST_VALIDATION_H_

#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"
#include "bridge/core/failure.h"
#include "portraitbridge/profile/v1/profile.pb.h"

namespace portrait_bridge {

/// Decodes the `index`-th GetProfilesRequest of a stream from its wire bytes into `request`, and checks it.
/// Protobuf's own parser rejects a proto3 string that is not UTF-8 as an unreadable message, which a streaming
/// server cannot tell from the end of the stream; decoding here turns it into a violation naming the field.
/// Returns every violation (empty when the request is valid), with paths like "requests[3].accounts[5]".
std::vector<FieldViolation> DecodeAndValidateRequest(absl::string_view wire, uint64_t index,
                                                     portraitbridge::profile::v1::GetProfilesRequest& request);

/// The two halves of DecodeAndValidateRequest, for a caller that treats them differently (a message that cannot be
/// decoded ends a stream; an invalid request is answered in-band). DecodeRequest: false when `wire` is not a
/// GetProfilesRequest encoding (strings are taken as bytes; ValidateRequest checks their UTF-8).
bool DecodeRequest(absl::string_view wire, portraitbridge::profile::v1::GetProfilesRequest& request);
std::vector<FieldViolation> ValidateRequest(const portraitbridge::profile::v1::GetProfilesRequest& request,
                                            uint64_t index);

/// The same for the request of a BatchGetProfiles call: paths like "accounts[3]" and "tags[0]". DecodeBatchGetRequest
/// returns false when `wire` is not a BatchGetProfilesRequest encoding.
bool DecodeBatchGetRequest(absl::string_view wire, portraitbridge::profile::v1::BatchGetProfilesRequest& request);
std::vector<FieldViolation> ValidateBatchGetRequest(
    const portraitbridge::profile::v1::BatchGetProfilesRequest& request);

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_REQUEST_VALIDATION_H_

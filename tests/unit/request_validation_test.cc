#include "bridge/core/request_validation.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace portrait_bridge {
namespace {

using namespace std::string_literals;  // Wire bytes with NULs in them.
using portraitbridge::profile::v1::GetProfilesRequest;

constexpr char kInvalidEncoding[] = "the message is not a valid GetProfilesRequest encoding";

// A valid tags field: field 3, length 19, "Tag_Profile_IM_Nick".
const std::string kTagField = "\x1a\x13Tag_Profile_IM_Nick"s;

TEST(DecodeAndValidateRequestTest, DecodesAValidRequest) {
  const std::string wire = "\x0a\x02r1\x12\005alice"s + kTagField;
  GetProfilesRequest request;
  EXPECT_TRUE(DecodeAndValidateRequest(wire, 0, request).empty());
  EXPECT_EQ(request.request_id(), "r1");
  ASSERT_EQ(request.accounts_size(), 1);
  EXPECT_EQ(request.accounts(0), "alice");
  ASSERT_EQ(request.tags_size(), 1);
  EXPECT_EQ(request.tags(0), "Tag_Profile_IM_Nick");
}

TEST(DecodeAndValidateRequestTest, AnAccountThatIsNotUtf8IsAViolationNotAnUnreadableMessage) {
  const std::string wire = "\x12\x02\xff\xfe"s + kTagField;
  ASSERT_FALSE(GetProfilesRequest().ParseFromString(wire));  // Protobuf refuses the whole message.
  GetProfilesRequest request;
  const std::vector<FieldViolation> violations = DecodeAndValidateRequest(wire, 4, request);
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "requests[4].accounts[0]");
  EXPECT_EQ(violations[0].description, "account is not valid UTF-8");
}

// Found by tests/fuzz/request_validation_fuzzer: the decoding read tags and lengths with CodedInputStream, which
// takes varints of up to 10 bytes where GetProfilesRequest's parser takes 5, and accepted such messages.
TEST(DecodeAndValidateRequestTest, RefusesWhatProtobufRefusesOtherThanUtf8) {
  const std::vector<std::string> wires = {
      "\x92\x80\x80\x80\x80\x00\005alice"s + kTagField,  // the accounts tag in 6 bytes
      "\x12\x85\x80\x80\x80\x80\000alice"s + kTagField,  // the account's length in 6 bytes
      kTagField + "\x12\006alice"s,                      // a length past the end
      kTagField + "\x00"s,                               // tag 0
  };
  for (const std::string& wire : wires) {
    ASSERT_FALSE(GetProfilesRequest().ParseFromString(wire));
    GetProfilesRequest request;
    const std::vector<FieldViolation> violations = DecodeAndValidateRequest(wire, 2, request);
    ASSERT_EQ(violations.size(), 1u);
    EXPECT_EQ(violations[0].field, "requests[2]");
    EXPECT_EQ(violations[0].description, kInvalidEncoding);
  }
}

TEST(DecodeAndValidateRequestTest, AcceptsWhatProtobufAcceptsAndSkipsUnknownFields) {
  // The accounts tag in 5 bytes (the most protobuf takes), a varint field 9, and field 1 as a varint (an unknown
  // field for protobuf too, not the request_id).
  const std::string wire = "\x92\x80\x80\x80\x00\005alice\x48\x01\x08\x07"s + kTagField;
  GetProfilesRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  GetProfilesRequest request;
  EXPECT_TRUE(DecodeAndValidateRequest(wire, 0, request).empty());
  EXPECT_EQ(request.request_id(), parsed.request_id());
  ASSERT_EQ(request.accounts_size(), 1);
  EXPECT_EQ(request.accounts(0), "alice");
  EXPECT_EQ(request.tags_size(), 1);
}

}  // namespace
}  // namespace portrait_bridge

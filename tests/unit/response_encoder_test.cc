#include "bridge/service/response_encoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bridge/core/profile_cache.h"
#include "google/rpc/status.pb.h"
#include "tests/unit/fetcher_fakes.h"

namespace portrait_bridge {
namespace {

namespace v1 = portraitbridge::profile::v1;

// The generated serializer's bytes for the response the encoder is asked to write.
std::string Generated(const v1::GetProfilesResponse& response) {
  std::string bytes;
  EXPECT_TRUE(response.SerializeToString(&bytes));
  return bytes;
}

v1::AccountResult SuccessResult(const std::string& account, const std::vector<v1::ProfileItem>& items) {
  v1::AccountResult result;
  result.set_account(account);
  for (const v1::ProfileItem& item : items) *result.add_items() = item;
  result.set_result_code(v1::RESULT_CODE_OK);
  result.mutable_status()->set_code(0);
  return result;
}

TEST(ResponseEncoderTest, WritesTheGeneratedSerializersBytesForSuccesses) {
  const std::vector<v1::ProfileItem> alice = {StringItem("Tag_Profile_IM_Nick", "Alice"),
                                              UintItem("Tag_Profile_IM_Level", 300)};
  const std::vector<v1::ProfileItem> bob = {StringItem("Tag_Profile_IM_Nick", std::string(200, 'b'))};

  ResponseEncoder encoder(7, "req-1");
  encoder.AddSuccess(Success("alice", alice), 1);
  AccountOutcome encoded;  // As the cache answers: items in wire form.
  encoded.account = "bob";
  for (const v1::ProfileItem& item : bob) AppendEncodedItem(item, encoded.encoded_items);
  encoder.AddSuccess(encoded, 3);               // Asked three times in the request.
  encoder.AddSuccess(Success("carol", {}), 1);  // Every field unset.
  encoder.SetComplete();

  v1::GetProfilesResponse expected;
  expected.set_request_index(7);
  expected.set_request_id("req-1");
  *expected.add_results() = SuccessResult("alice", alice);
  for (int i = 0; i < 3; ++i) *expected.add_results() = SuccessResult("bob", bob);
  *expected.add_results() = SuccessResult("carol", {});
  expected.set_request_complete(true);
  EXPECT_EQ(encoder.bytes(), Generated(expected));
}

TEST(ResponseEncoderTest, WritesAnyResultAsGivenAndLeavesDefaultsOut) {
  v1::AccountResult failed;
  failed.set_account("ghost");
  failed.set_tencent_code(40003);
  failed.set_result_code(v1::RESULT_CODE_PROFILE_ACCOUNT_NOT_FOUND);
  failed.set_result_info("account not found");
  failed.mutable_status()->set_code(5);
  failed.mutable_status()->set_message("the account does not exist");

  ResponseEncoder encoder(0, "");  // Request 0 without an id: neither field is written.
  encoder.AddResult(failed, 2);

  v1::GetProfilesResponse expected;
  *expected.add_results() = failed;
  *expected.add_results() = failed;
  EXPECT_EQ(encoder.bytes(), Generated(expected));

  v1::GetProfilesResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(encoder.bytes()));
  EXPECT_EQ(parsed.results_size(), 2);
  EXPECT_FALSE(parsed.request_complete());
}

// Results encoded once and copied into a response (how a stream builds bounded responses), and an in-band refusal.
TEST(ResponseEncoderTest, EncodedResultsAndAStatusGiveTheGeneratedSerializersBytes) {
  const v1::AccountResult alice = SuccessResult("alice", {StringItem("Tag_Profile_IM_Nick", "Alice")});
  ResponseEncoder results(0, "");
  results.AddSuccess(Success("alice", {StringItem("Tag_Profile_IM_Nick", "Alice")}), 1);

  ResponseEncoder encoder(3, "req-3");
  encoder.AddEncodedResults(results.bytes(), 3);
  encoder.SetComplete();
  v1::GetProfilesResponse expected;
  expected.set_request_index(3);
  expected.set_request_id("req-3");
  for (int i = 0; i < 3; ++i) *expected.add_results() = alice;
  expected.set_request_complete(true);
  EXPECT_EQ(encoder.bytes(), Generated(expected));
  EXPECT_EQ(encoder.size(), encoder.bytes().size());

  google::rpc::Status refusal;
  refusal.set_code(3);
  refusal.set_message("request 4 is invalid: requests[4].tags: at least one tag is required");
  ResponseEncoder refused(4, "");
  refused.SetComplete();
  refused.SetStatus(refusal);
  v1::GetProfilesResponse expected_refusal;
  expected_refusal.set_request_index(4);
  expected_refusal.set_request_complete(true);
  *expected_refusal.mutable_status() = refusal;
  EXPECT_EQ(refused.bytes(), Generated(expected_refusal));
}

TEST(ResponseEncoderTest, FinishHandsTheBytesToGrpc) {
  ResponseEncoder encoder(1, "x");
  encoder.AddSuccess(Success("alice", {StringItem("Tag_Profile_IM_Nick", "Alice")}), 1);
  const std::string bytes = encoder.bytes();
  grpc::ByteBuffer buffer = std::move(encoder).Finish();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(buffer.Dump(&slices).ok());
  std::string flat;
  for (const grpc::Slice& slice : slices) flat.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  EXPECT_EQ(flat, bytes);
}

}  // namespace
}  // namespace portrait_bridge

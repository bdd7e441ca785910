// libFuzzer target: DecodeAndValidateRequest, the bridge's own decoding of a GetProfilesRequest, checked against
// protobuf's generated parsers. The input is the message's wire bytes.
//
// The documented difference (request_validation.h): protobuf refuses a message whose proto3 string is not UTF-8;
// the decoding takes it and reports the field as a violation. Checked on every input:
// - The decoding succeeds exactly when protobuf parses the bytes as GetProfilesRequestBytes (request_bytes.proto:
//   the same message with bytes fields, so no UTF-8 check), and reads the same request_id, accounts and tags.
// - GetProfilesRequest::ParseFromString succeeds exactly when that parse succeeds and every string is UTF-8 (by
//   protobuf's check), and then reads the same fields too. Every string: a request_id sent more than once is the
//   last one (for both), but protobuf refuses the message when an earlier one is not UTF-8, while the decoding
//   never looks at the earlier ones (and so reports no violation for them).
// - The project's IsValidUtf8 and protobuf's UTF-8 check agree on every decoded string.
// - The violations name exactly the fields profile.proto's rules reject (request_id not UTF-8, no accounts, an
//   account empty, longer than 32 bytes or not UTF-8, no tags, a tag ValidateTag refuses), the first 20 of them
//   when there are more.
// - Re-encoding the decoded request with protobuf and decoding that again gives the same fields.
#include <google/protobuf/stubs/common.h>
#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bridge/core/profile_tags.h"
#include "bridge/core/request_validation.h"
#include "request_bytes.pb.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using portrait_bridge::FieldViolation;
using portrait_bridge::fuzz::GetProfilesRequestBytes;
using portraitbridge::profile::v1::GetProfilesRequest;

constexpr uint64_t kIndex = 3;
constexpr char kPrefix[] = "requests[3]";
constexpr size_t kMaxReportedViolations = 20;
constexpr size_t kMaxAccountBytes = 32;

bool DecodingFailed(const std::vector<FieldViolation>& violations) {
  return violations.size() == 1 && violations[0].field == kPrefix &&
         violations[0].description == "the message is not a valid GetProfilesRequest encoding";
}

bool ProtobufUtf8(const std::string& text) { return google::protobuf::internal::IsStructurallyValidUTF8(text); }

std::string Fields(const GetProfilesRequest& request) {
  std::vector<std::string> accounts, tags;
  for (const std::string& account : request.accounts()) accounts.push_back(absl::CHexEscape(account));
  for (const std::string& tag : request.tags()) tags.push_back(absl::CHexEscape(tag));
  return absl::StrCat("request_id=\"", absl::CHexEscape(request.request_id()), "\" accounts=[\"",
                      absl::StrJoin(accounts, "\", \""), "\"] tags=[\"", absl::StrJoin(tags, "\", \""), "\"]");
}

bool SameFields(const GetProfilesRequest& a, const GetProfilesRequest& b) {
  return a.request_id() == b.request_id() &&
         std::vector<std::string>(a.accounts().begin(), a.accounts().end()) ==
             std::vector<std::string>(b.accounts().begin(), b.accounts().end()) &&
         std::vector<std::string>(a.tags().begin(), a.tags().end()) ==
             std::vector<std::string>(b.tags().begin(), b.tags().end());
}

GetProfilesRequest FromBytes(const GetProfilesRequestBytes& bytes) {
  GetProfilesRequest request;
  if (!bytes.request_id().empty()) request.set_request_id(*bytes.request_id().rbegin());
  for (const std::string& account : bytes.accounts()) request.add_accounts(account);
  for (const std::string& tag : bytes.tags()) request.add_tags(tag);
  return request;
}

// The paths of the fields profile.proto's rules reject, in the order they are checked.
std::vector<std::string> BadFields(const GetProfilesRequest& request) {
  std::vector<std::string> bad;
  const std::string prefix = kPrefix;
  if (!ProtobufUtf8(request.request_id())) bad.push_back(prefix + ".request_id");
  if (request.accounts().empty()) bad.push_back(prefix + ".accounts");
  for (int i = 0; i < request.accounts_size(); ++i) {
    const std::string& account = request.accounts(i);
    if (account.empty() || account.size() > kMaxAccountBytes || !ProtobufUtf8(account)) {
      bad.push_back(absl::StrCat(prefix, ".accounts[", i, "]"));
    }
  }
  if (request.tags().empty()) bad.push_back(prefix + ".tags");
  for (int i = 0; i < request.tags_size(); ++i) {
    if (!portrait_bridge::ValidateTag(request.tags(i)).ok()) bad.push_back(absl::StrCat(prefix, ".tags[", i, "]"));
  }
  return bad;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(nullptr);  // Protobuf logs every string that is not UTF-8; that is expected here.
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string wire(reinterpret_cast<const char*>(data), size);
  const auto shown = [&wire] { return absl::StrCat("wire: \"", absl::CHexEscape(wire), "\""); };

  GetProfilesRequest decoded;
  decoded.set_request_id("left over from an earlier request");  // The decoding must clear it.
  const std::vector<FieldViolation> violations = portrait_bridge::DecodeAndValidateRequest(wire, kIndex, decoded);
  const bool decoded_ok = !DecodingFailed(violations);

  GetProfilesRequest parsed;
  const bool parsed_ok = parsed.ParseFromString(wire);
  GetProfilesRequestBytes bytes;
  const bool bytes_ok = bytes.ParseFromString(wire);

  FUZZ_CHECK(decoded_ok == bytes_ok,
             absl::StrCat("decoding ok: ", decoded_ok, "; protobuf (bytes fields) ok: ", bytes_ok, "\n", shown()));
  FUZZ_CHECK(!parsed_ok || decoded_ok, absl::StrCat("protobuf parsed it but the decoding failed\n", shown()));
  if (!decoded_ok) return 0;

  FUZZ_CHECK(
      SameFields(decoded, FromBytes(bytes)),
      absl::StrCat("decoded: ", Fields(decoded), "\nprotobuf (bytes): ", Fields(FromBytes(bytes)), "\n", shown()));
  if (parsed_ok) {
    FUZZ_CHECK(SameFields(decoded, parsed),
               absl::StrCat("decoded: ", Fields(decoded), "\nprotobuf: ", Fields(parsed), "\n", shown()));
  }

  std::vector<const std::string*> strings;
  for (const std::string& id : bytes.request_id()) strings.push_back(&id);
  for (const std::string& account : decoded.accounts()) strings.push_back(&account);
  for (const std::string& tag : decoded.tags()) strings.push_back(&tag);
  bool all_utf8 = true;
  for (const std::string* text : strings) {
    FUZZ_CHECK(portrait_bridge::IsValidUtf8(*text) == ProtobufUtf8(*text),
               absl::StrCat("IsValidUtf8(\"", absl::CHexEscape(*text), "\") is ", portrait_bridge::IsValidUtf8(*text),
                            ", protobuf says ", ProtobufUtf8(*text)));
    all_utf8 = all_utf8 && ProtobufUtf8(*text);
  }
  FUZZ_CHECK(parsed_ok == all_utf8, absl::StrCat("protobuf parse ok: ", parsed_ok, ", every string UTF-8: ", all_utf8,
                                                 "\n", Fields(decoded), "\n", shown()));

  const std::vector<std::string> bad = BadFields(decoded);
  std::vector<std::string> reported;
  for (const FieldViolation& violation : violations) reported.push_back(violation.field);
  const auto violations_text = [&] {
    return absl::StrCat("reported: ", absl::StrJoin(reported, " "), "\nexpected: ", absl::StrJoin(bad, " "), "\n",
                        Fields(decoded));
  };
  if (bad.size() <= kMaxReportedViolations) {
    FUZZ_CHECK(std::multiset<std::string>(reported.begin(), reported.end()) ==
                   std::multiset<std::string>(bad.begin(), bad.end()),
               violations_text());
  } else {
    const std::set<std::string> bad_set(bad.begin(), bad.end());
    FUZZ_CHECK(reported.size() == kMaxReportedViolations, violations_text());
    for (const std::string& field : reported) FUZZ_CHECK(bad_set.count(field) == 1, violations_text());
  }

  // Re-encoded by protobuf (which writes any bytes), the decoding reads the same fields back.
  GetProfilesRequest again;
  const std::vector<FieldViolation> again_violations =
      portrait_bridge::DecodeAndValidateRequest(decoded.SerializeAsString(), kIndex, again);
  FUZZ_CHECK(!DecodingFailed(again_violations) && SameFields(decoded, again),
             absl::StrCat("re-encoded: ", Fields(again), "\nfirst: ", Fields(decoded)));
  return 0;
}

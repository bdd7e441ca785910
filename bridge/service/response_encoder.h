#ifndef PORTRAIT_BRIDGE_SERVICE_RESPONSE_ENCODER_H_
#define PORTRAIT_BRIDGE_SERVICE_RESPONSE_ENCODER_H_

#include <grpcpp/support/byte_buffer.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "bridge/service/profile_fetcher.h"
#include "google/rpc/status.pb.h"
#include "portraitbridge/profile/v1/profile.pb.h"

namespace portrait_bridge {

/// No response is larger (unless one account's result alone is): callers at gRPC's default 4 MB receive limit get
/// every result, and a response held for a slow reader costs at most this much.
inline constexpr size_t kMaxResponseBytes = 1 << 20;

/// `bytes` as a ByteBuffer for gRPC, without a copy.
grpc::ByteBuffer ToByteBuffer(std::string bytes);

/// Writes one GetProfilesResponse straight from the fetcher's outcomes, field by field in field-number order: the
/// bytes the generated serializer writes for the same message. Building AccountResult and ProfileItem messages for
/// every profile, moving the items into them, serializing and destroying them all was most of the bridge's own
/// work per profile. A failed account (rare, and with more fields) still goes through a generated AccountResult.
class ResponseEncoder {
 public:
  ResponseEncoder(uint64_t request_index, const std::string& request_id);

  /// A successful account's result, `copies` times: its account, `items` then `encoded_items`, and an OK status
  /// (set, with code 0).
  void AddSuccess(const AccountOutcome& outcome, int copies);

  /// Any result, `copies` times.
  void AddResult(const portraitbridge::profile::v1::AccountResult& result, int copies);

  /// Results already encoded by another encoder (its bytes(), or a run of whole results from them), `copies` times.
  void AddEncodedResults(absl::string_view results, int copies);

  /// Makes room for `bytes` more bytes, so that the results appended next do not move the response again.
  void Reserve(size_t bytes) { out_.reserve(out_.size() + bytes); }

  /// Sets request_complete. Call it after the results.
  void SetComplete();

  /// Sets the response's own status (a request refused as a whole). Call it last: it is the last field.
  void SetStatus(const google::rpc::Status& status);

  /// The encoded response. An encoder built for request 0 with no request_id holds only the results.
  const std::string& bytes() const { return out_; }
  size_t size() const { return out_.size(); }

  /// The response as a ByteBuffer for gRPC, without a copy. Leaves the encoder empty.
  grpc::ByteBuffer Finish() &&;

  /// The encoded bytes, without a copy. Leaves the encoder empty.
  std::string TakeBytes() && { return std::move(out_); }

 private:
  void AppendTag(int field, int wire_type);
  void AppendVarint(uint64_t value);
  void AppendBytes(int field, const std::string& value);
  void Repeat(size_t begin, int copies);

  std::string out_;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_RESPONSE_ENCODER_H_

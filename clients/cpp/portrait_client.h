// A small C++ client for Portrait Bridge (portraitbridge.profile.v1.ProfileService) over the generated stubs: what
// they do not do themselves. Typed results, a per-call deadline, TLS options, google.rpc.Status details decoded into
// a readable error, and a bulk stream that writes and reads at once.
#ifndef PORTRAIT_BRIDGE_CLIENTS_CPP_PORTRAIT_CLIENT_H_
#define PORTRAIT_BRIDGE_CLIENTS_CPP_PORTRAIT_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "google/rpc/status.pb.h"
#include "portraitbridge/profile/v1/profile.grpc.pb.h"

namespace portrait_bridge::client {

/// How to reach the bridge. Plaintext unless `use_tls` is set.
struct ClientOptions {
  /// "host:port", or any gRPC target ("dns:///bridge.example:443").
  std::string target;
  /// Applied to every call: a BatchGet call, or a GetProfiles stream from its start to its last response.
  std::chrono::milliseconds deadline{std::chrono::seconds(30)};
  bool use_tls = false;
  /// PEM root certificates to trust; empty: gRPC's default roots.
  std::string tls_root_certs_file;
  /// PEM client certificate chain and key, for mutual TLS; both or neither.
  std::string tls_client_cert_file;
  std::string tls_client_key_file;
  /// Checks the server certificate against this name instead of the target's host (tests, IP targets).
  std::string tls_server_name_override;
};

/// The google.rpc.ErrorInfo detail of a status.
struct ErrorInfo {
  std::string reason;
  std::string domain;
  std::map<std::string, std::string> metadata;
};

/// One google.rpc.BadRequest field violation.
struct FieldViolation {
  std::string field;
  std::string description;
};

/// A gRPC status with its google.rpc.Status details decoded. code OK means success. Used for a failed call
/// (grpc-status-details-bin), for a request refused in-band on the stream (GetProfilesResponse.status) and for one
/// account's AccountResult.status.
struct Error {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  std::optional<ErrorInfo> error_info;
  std::vector<FieldViolation> field_violations;          // from google.rpc.BadRequest
  std::optional<std::chrono::milliseconds> retry_delay;  // from google.rpc.RetryInfo
  std::vector<std::string> other_detail_types;           // details this client does not decode, by type URL

  bool ok() const { return code == grpc::StatusCode::OK; }
  /// The Tencent code from ErrorInfo metadata "tencent_code", or 0.
  int64_t tencent_code() const;
  /// Whether the bridge marked the failure retryable (ErrorInfo metadata "retryable" == "true").
  bool retryable() const;
  /// One line a person can read, e.g.
  /// `FAILED_PRECONDITION: Tencent code 70009: ... [reason=TENCENT_70009 tencent_code=70009 ...]`.
  std::string ToString() const;
};

/// Decodes a google.rpc.Status (an AccountResult.status, or a parsed grpc-status-details-bin).
Error DecodeStatus(const google::rpc::Status& status);
/// Decodes a finished call's status, including the details the server put in grpc-status-details-bin.
Error DecodeStatus(const grpc::Status& status);
/// The canonical name of a gRPC code: "INVALID_ARGUMENT".
std::string StatusCodeName(grpc::StatusCode code);

/// Raw bytes of a custom field the bridge is configured to send as bytes.
struct Bytes {
  std::string data;
  bool operator==(const Bytes& other) const { return data == other.data; }
};
/// A profile value, typed as the bridge sends it; monostate when Tencent sent the tag without a value.
using Value = std::variant<std::monostate, uint32_t, std::string, Bytes>;

/// One profile field.
struct Field {
  std::string tag;
  Value value;
};

/// The outcome for one account.
struct AccountProfile {
  std::string account;
  std::vector<Field> fields;  // empty on failure
  portraitbridge::profile::v1::ResultCode result_code = portraitbridge::profile::v1::RESULT_CODE_UNSPECIFIED;
  int32_t tencent_code = 0;  // 0 on success
  std::string result_info;
  Error error;  // ok() on success

  bool ok() const { return error.ok(); }
  /// The field with this tag, or nullptr.
  const Field* Find(const std::string& tag) const;
};

/// One lookup: the same tags for every account.
struct Lookup {
  std::string request_id;
  std::vector<std::string> accounts;
  std::vector<std::string> tags;
};

/// One GetProfilesResponse, typed: some or all results of the request at `request_index` (a request's results may
/// be split over several batches; the last has `request_complete`).
struct Batch {
  uint32_t request_index = 0;
  std::string request_id;
  std::vector<AccountProfile> results;
  bool request_complete = false;
  /// The request's refusal, answered in-band: INVALID_ARGUMENT with a field violation for each bad field
  /// ("requests[1].tags"). Such a batch has no results and `request_complete`; the stream goes on with the requests
  /// after it. ok() on every other batch.
  Error error;

  /// False when the request was refused as a whole (see `error`).
  bool ok() const { return error.ok(); }
};

/// What a BatchGet call returned.
struct LookupResult {
  /// One per account asked, in the order asked; empty when the call failed.
  std::vector<AccountProfile> profiles;
  /// ok() when the call succeeded (accounts may still have failed one by one: see each profile). Otherwise how the
  /// call failed, e.g. INVALID_ARGUMENT with a field violation for each bad field ("tags", "accounts[2]").
  Error error;
  /// Results that arrived, keyed by account (the last one wins for an account asked twice).
  std::map<std::string, AccountProfile> ByAccount() const;
};

/// Turns one wire response into the typed form.
Batch FromProto(const portraitbridge::profile::v1::GetProfilesResponse& response);
/// A printable form of a value: the number, the string, or "base64:..." for bytes; "" for no value.
std::string ValueToString(const Value& value);

/// Creates channel credentials and arguments from `options`; fails (returns nullptr) when a TLS file is unreadable,
/// with the reason in `*error`.
std::shared_ptr<grpc::Channel> CreateChannel(const ClientOptions& options, std::string* error);

/// A client for ProfileService. Thread-safe: any number of threads may call it concurrently; each call is its own
/// RPC.
class ProfileClient {
 public:
  /// Uses `channel`, e.g. from CreateChannel(); `options.target` and the TLS fields are not used here.
  ProfileClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options);
  /// Dials `options.target`; returns nullptr with `*error` set when the TLS files cannot be read.
  static std::unique_ptr<ProfileClient> Create(const ClientOptions& options, std::string* error);

  /// Sends every lookup on one bidi GetProfiles stream (from a writer thread, so large inputs never deadlock on
  /// flow control), calls `on_batch` for each response on the calling thread, in arrival order, and returns how the
  /// stream ended. Per-account failures arrive in AccountProfile::error; a refused (invalid) request arrives as a
  /// Batch whose `error` is set, and the stream goes on; the returned Error concerns the stream as a whole.
  Error GetProfiles(const std::vector<Lookup>& lookups, const std::function<void(Batch&&)>& on_batch);

  /// Looks up `accounts` (at most the bridge's max_accounts_per_batch_get, 1,000 by default) with one unary
  /// BatchGetProfiles call: the call for lookups. For more accounts, or to pipeline, use GetProfiles.
  LookupResult BatchGet(const std::vector<std::string>& accounts, const std::vector<std::string>& tags);

 private:
  std::unique_ptr<portraitbridge::profile::v1::ProfileService::Stub> stub_;
  ClientOptions options_;
};

}  // namespace portrait_bridge::client

#endif  // PORTRAIT_BRIDGE_CLIENTS_CPP_PORTRAIT_CLIENT_H_

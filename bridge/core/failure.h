#ifndef PORTRAIT_BRIDGE_CORE_FAILURE_H_
#define PORTRAIT_BRIDGE_CORE_FAILURE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "bridge/core/error_table.h"
#include "google/rpc/status.pb.h"

namespace portrait_bridge {

/// A failure the bridge reports to a caller: the rule from the error table plus the facts of this occurrence.
/// Messages never contain the secret key, a UserSig or an upstream URL (which carries the UserSig).
struct Failure {
  ErrorRule rule;
  std::string message;       ///< For a person: what happened and what to do.
  int64_t tencent_code = 0;  ///< 0 when the failure did not come from a Tencent code.
  std::string tencent_info;
  int http_status = 0;  ///< 0 unless an HTTP status caused it.
  absl::Duration retry_delay = absl::ZeroDuration();
};

/// A failure from a Tencent code (a per-user ResultCode or a call's ErrorCode).
Failure TencentFailure(int64_t code, std::string info);

/// The upstream call budget cannot start a call before its caller's deadline. `estimated_wait`, when known,
/// becomes the RetryInfo delay (else one second) and part of the message.
Failure BudgetExhaustedFailure(absl::Duration estimated_wait = absl::ZeroDuration());

/// One of the bridge's server-wide bounds (shared by all callers) is reached; `message` says which and what to do.
/// Retryable after a second.
Failure BridgeOverQuotaFailure(std::string message);

/// Tencent's answer (or an inner fetcher's) left out an account that was asked for.
Failure OmittedAccountFailure();

/// The google.rpc.Status for a failure: the mapped code, the message, an ErrorInfo (domain, reason, and metadata
/// "tencent_code", "tencent_info", "http_status", "retryable") and a RetryInfo when a delay is known.
google::rpc::Status ToRpcStatus(const Failure& failure);

/// One invalid field of a request.
struct FieldViolation {
  std::string field;
  std::string description;
};

/// INVALID_ARGUMENT with a BadRequest detail naming every violated field.
google::rpc::Status InvalidArgumentStatus(const std::string& message, const std::vector<FieldViolation>& violations);

/// The ErrorInfo domain of every error this bridge sends.
inline constexpr char kErrorDomain[] = "portraitbridge.dev";

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_FAILURE_H_

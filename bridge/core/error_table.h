#ifndef PORTRAIT_BRIDGE_CORE_ERROR_TABLE_H_
#define PORTRAIT_BRIDGE_CORE_ERROR_TABLE_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace portrait_bridge {

/// What a failure means to a caller, and how far it reaches.
/// - A per-account failure (a user's ResultCode) always stays on that account.
/// - A failure of one upstream call (its ErrorCode, an HTTP or transport failure) is reported on the accounts of
///   that call, unless `ends_stream` says the bridge itself is misconfigured: then no call can succeed and the
///   whole stream ends with this status.
struct ErrorRule {
  absl::StatusCode grpc_code;
  bool retryable;             ///< Whether trying the same call again later can succeed.
  bool ends_stream;           ///< A bridge misconfiguration (key, region, admin, plan): fatal to the stream.
  absl::string_view reason;   ///< ErrorInfo.reason, UPPER_SNAKE_CASE.
  absl::string_view meaning;  ///< One line a person can act on.
};

/// One row of the Tencent code table.
struct TencentCodeRow {
  int64_t code;
  ErrorRule rule;
};

/// Every Tencent code this bridge knows (the reference's portrait_get, public REST and UserSig codes), in
/// ascending order. The README prints the same table; tests check every row.
absl::Span<const TencentCodeRow> TencentCodeTable();

/// The rule for a Tencent code; codes not in the table map to UNKNOWN, not retryable, not fatal to the stream.
ErrorRule RuleForTencentCode(int64_t code);

/// The rule for a non-200 HTTP status from upstream or a proxy.
ErrorRule RuleForHttpStatus(int http_status);

/// The rule for a 200 answer whose body is not a portrait_get JSON document (HTML, truncated, wrong shape).
ErrorRule RuleForMalformedBody();

/// Transport failures, as the curl adapter classifies them (no curl types in the core).
enum class TransportFailure {
  kTimeout,           ///< The per-attempt timeout passed before the answer was complete.
  kConnect,           ///< DNS, TCP connect or proxy failure.
  kConnectionLost,    ///< The connection closed or reset before a complete answer.
  kTlsVerification,   ///< The peer's certificate could not be verified (wrong CA bundle, wrong host).
  kBadConfiguration,  ///< The URL or a TLS setting cannot be used at all.
  kOther,
};

/// The rule for a transport failure.
ErrorRule RuleForTransportFailure(TransportFailure failure);

/// Every reason of a rule that says the bridge is misconfigured (ends_stream): the Tencent codes' and the
/// transport's. The bounded label set of portrait_bridge_misconfigured{reason}.
std::vector<absl::string_view> MisconfigurationReasons();

/// Whether a Tencent code means the admin UserSig must be renewed (70001 expired, 70052 invalidated).
bool IsUserSigRenewalCode(int64_t code);

/// Whether a Tencent code means upstream throttled the caller (60007, 60011, 60018, 60019): the bridge must slow
/// down, not only retry.
bool IsThrottlingTencentCode(int64_t code);

/// How long a caller should wait before retrying after this Tencent code (RetryInfo); zero when unknown.
absl::Duration RetryDelayForTencentCode(int64_t code);

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_ERROR_TABLE_H_

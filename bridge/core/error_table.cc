#include "bridge/core/error_table.h"

#include <algorithm>
#include <iterator>

namespace portrait_bridge {
namespace {

using Code = absl::StatusCode;

// Status codes follow their retry meaning: UNAVAILABLE and RESOURCE_EXHAUSTED, retrying the call can help;
// FAILED_PRECONDITION, the bridge's configuration (key, admin, region, plan) must be fixed first; INVALID_ARGUMENT
// and NOT_FOUND, the caller asked for something that cannot be served; INTERNAL, a bug on one side.
constexpr TencentCodeRow kTencentCodes[] = {
    // portrait_get's own codes.
    {40001, {Code::kInvalidArgument, false, false, "TENCENT_40001", "a request parameter is wrong"}},
    {40002, {Code::kInvalidArgument, false, false, "TENCENT_40002", "To_Account is missing"}},
    {40003, {Code::kNotFound, false, false, "TENCENT_40003", "the account does not exist (not imported)"}},
    {40004, {Code::kFailedPrecondition, false, true, "TENCENT_40004", "the configured identifier is not an app admin"}},
    {40006, {Code::kUnavailable, true, false, "TENCENT_40006", "Tencent internal error; retry later"}},
    {40007, {Code::kPermissionDenied, false, false, "TENCENT_40007", "no permission to read a requested field"}},
    {40009,
     {Code::kInvalidArgument, false, false, "TENCENT_40009",
      "a requested tag does not exist in this app (configure the custom field first)"}},
    // Public REST codes.
    {60002, {Code::kInternal, false, false, "TENCENT_60002", "Tencent could not parse the HTTP request"}},
    {60003, {Code::kInternal, false, false, "TENCENT_60003", "Tencent could not parse the request JSON"}},
    {60004, {Code::kFailedPrecondition, false, true, "TENCENT_60004", "the identifier or UserSig is wrong"}},
    {60005, {Code::kFailedPrecondition, false, true, "TENCENT_60005", "the identifier or UserSig is wrong"}},
    {60006, {Code::kFailedPrecondition, false, true, "TENCENT_60006", "the SDKAppID is invalid"}},
    {60007, {Code::kResourceExhausted, true, false, "TENCENT_60007", "call frequency over the limit"}},
    {60008, {Code::kUnavailable, true, false, "TENCENT_60008", "Tencent service timeout; retry"}},
    {60009, {Code::kInternal, false, false, "TENCENT_60009", "wrong service or command in the URL"}},
    {60010, {Code::kFailedPrecondition, false, true, "TENCENT_60010", "the configured identifier is not an app admin"}},
    {60011, {Code::kResourceExhausted, true, false, "TENCENT_60011", "SDKAppID-level call frequency over the limit"}},
    {60012, {Code::kFailedPrecondition, false, true, "TENCENT_60012", "sdkappid is missing"}},
    {60013, {Code::kUnavailable, true, false, "TENCENT_60013", "Tencent internal response error; retry"}},
    {60014, {Code::kUnavailable, true, false, "TENCENT_60014", "Tencent account swap timeout; retry"}},
    {60015, {Code::kInvalidArgument, false, false, "TENCENT_60015", "an account must be a string"}},
    {60016, {Code::kFailedPrecondition, false, true, "TENCENT_60016", "the SDKAppID is disabled"}},
    {60017, {Code::kPermissionDenied, false, true, "TENCENT_60017", "the request is disabled for this app"}},
    {60018, {Code::kResourceExhausted, true, false, "TENCENT_60018", "too many requests"}},
    {60019, {Code::kResourceExhausted, true, false, "TENCENT_60019", "too many requests"}},
    {60020, {Code::kFailedPrecondition, false, true, "TENCENT_60020", "the app's plan expired or is not active"}},
    {60021,
     {Code::kPermissionDenied, false, true, "TENCENT_60021", "the bridge's IP address is not allowed by the app"}},
    // UserSig and account codes.
    {70001,
     {Code::kFailedPrecondition, true, true, "TENCENT_70001",
      "UserSig expired even after renewal: check the bridge's clock (NTP)"}},
    {70002, {Code::kFailedPrecondition, false, true, "TENCENT_70002", "UserSig is empty"}},
    {70003, {Code::kFailedPrecondition, false, true, "TENCENT_70003", "UserSig is invalid"}},
    {70005, {Code::kFailedPrecondition, false, true, "TENCENT_70005", "UserSig is invalid"}},
    {70009,
     {Code::kFailedPrecondition, false, true, "TENCENT_70009",
      "UserSig verification failed: wrong secret key or SDKAppID"}},
    {70013, {Code::kFailedPrecondition, false, true, "TENCENT_70013", "identifier does not match the UserSig"}},
    {70014, {Code::kFailedPrecondition, false, true, "TENCENT_70014", "SDKAppID does not match the UserSig"}},
    {70016,
     {Code::kFailedPrecondition, false, true, "TENCENT_70016",
      "SDKAppID unknown in this region: configure the app's region"}},
    {70020,
     {Code::kFailedPrecondition, false, true, "TENCENT_70020",
      "SDKAppID unknown in this region: configure the app's region"}},
    {70050,
     {Code::kUnavailable, true, true, "TENCENT_70050", "too many failed UserSig verifications; retry after 60 s"}},
    {70051, {Code::kPermissionDenied, false, false, "TENCENT_70051", "the account is blocklisted"}},
    {70052, {Code::kFailedPrecondition, true, true, "TENCENT_70052", "UserSig invalidated even after renewal"}},
    {70107, {Code::kNotFound, false, false, "TENCENT_70107", "the account does not exist"}},
    {70169, {Code::kUnavailable, true, false, "TENCENT_70169", "Tencent internal timeout; retry"}},
    {70202, {Code::kUnavailable, true, false, "TENCENT_70202", "Tencent internal timeout; retry"}},
    {70398, {Code::kFailedPrecondition, false, true, "TENCENT_70398", "account count over the free plan"}},
    {70402, {Code::kInvalidArgument, false, false, "TENCENT_70402", "invalid parameter"}},
    {70403, {Code::kFailedPrecondition, false, true, "TENCENT_70403", "the configured identifier is not an app admin"}},
    {70500, {Code::kUnavailable, true, false, "TENCENT_70500", "Tencent internal error; retry"}},
};

}  // namespace

absl::Span<const TencentCodeRow> TencentCodeTable() { return kTencentCodes; }

ErrorRule RuleForTencentCode(int64_t code) {
  if (code == 0) return {Code::kOk, false, false, "", "success"};
  const auto* row = std::lower_bound(std::begin(kTencentCodes), std::end(kTencentCodes), code,
                                     [](const TencentCodeRow& r, int64_t c) { return r.code < c; });
  if (row != std::end(kTencentCodes) && row->code == code) return row->rule;
  return {Code::kUnknown, false, false, "TENCENT_UNKNOWN_CODE", "a Tencent code this bridge does not know"};
}

ErrorRule RuleForHttpStatus(int http_status) {
  if (http_status == 429) {
    return {Code::kResourceExhausted, true, false, "UPSTREAM_HTTP_429", "upstream throttled the call (HTTP 429)"};
  }
  if (http_status == 408 || (http_status >= 500 && http_status <= 599)) {
    return {Code::kUnavailable, true, false, "UPSTREAM_HTTP_5XX", "upstream or a proxy failed (HTTP 408/5xx); retry"};
  }
  return {Code::kInternal, false, false, "UPSTREAM_HTTP_STATUS", "upstream answered with an unexpected HTTP status"};
}

ErrorRule RuleForMalformedBody() {
  return {Code::kUnavailable, true, false, "UPSTREAM_MALFORMED_BODY",
          "upstream answered with a body that is not a portrait_get JSON document"};
}

ErrorRule RuleForTransportFailure(TransportFailure failure) {
  switch (failure) {
    case TransportFailure::kTimeout:
      return {Code::kUnavailable, true, false, "UPSTREAM_TIMEOUT", "upstream did not answer in time"};
    case TransportFailure::kConnect:
      return {Code::kUnavailable, true, false, "UPSTREAM_CONNECT_FAILED", "could not connect to upstream"};
    case TransportFailure::kConnectionLost:
      return {Code::kUnavailable, true, false, "UPSTREAM_CONNECTION_LOST",
              "the upstream connection closed before a complete answer"};
    case TransportFailure::kTlsVerification:
      return {Code::kFailedPrecondition, false, true, "UPSTREAM_TLS_VERIFICATION_FAILED",
              "upstream's TLS certificate could not be verified: check ca_bundle and the region/base_url"};
    case TransportFailure::kBadConfiguration:
      return {Code::kFailedPrecondition, false, true, "UPSTREAM_BAD_CONFIGURATION",
              "the upstream URL or TLS settings cannot be used"};
    case TransportFailure::kOther:
      break;
  }
  return {Code::kUnavailable, true, false, "UPSTREAM_TRANSPORT_FAILED", "the upstream call failed"};
}

std::vector<absl::string_view> MisconfigurationReasons() {
  std::vector<absl::string_view> reasons;
  auto add = [&reasons](const ErrorRule& rule) {
    if (rule.ends_stream && std::find(reasons.begin(), reasons.end(), rule.reason) == reasons.end()) {
      reasons.push_back(rule.reason);
    }
  };
  for (const TencentCodeRow& row : kTencentCodes) add(row.rule);
  for (TransportFailure failure :
       {TransportFailure::kTimeout, TransportFailure::kConnect, TransportFailure::kConnectionLost,
        TransportFailure::kTlsVerification, TransportFailure::kBadConfiguration, TransportFailure::kOther}) {
    add(RuleForTransportFailure(failure));
  }
  return reasons;
}

bool IsUserSigRenewalCode(int64_t code) { return code == 70001 || code == 70052; }

bool IsThrottlingTencentCode(int64_t code) {
  // Which code Tencent's 200 calls/s limit answers is not documented for certain: treat all four alike.
  return code == 60007 || code == 60011 || code == 60018 || code == 60019;
}

absl::Duration RetryDelayForTencentCode(int64_t code) {
  if (code == 70050) return absl::Seconds(60);
  const ErrorRule rule = RuleForTencentCode(code);
  if (rule.grpc_code == Code::kResourceExhausted) return absl::Seconds(1);  // The limit is per second.
  return absl::ZeroDuration();
}

}  // namespace portrait_bridge

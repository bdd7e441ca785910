#include "bridge/core/failure.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"

namespace portrait_bridge {

Failure TencentFailure(int64_t code, std::string info) {
  Failure failure;
  failure.rule = RuleForTencentCode(code);
  failure.tencent_code = code;
  failure.message = absl::StrCat("Tencent code ", code, ": ", failure.rule.meaning);
  if (!info.empty()) absl::StrAppend(&failure.message, " (", info, ")");
  failure.tencent_info = std::move(info);
  failure.retry_delay = RetryDelayForTencentCode(code);
  return failure;
}

Failure BudgetExhaustedFailure(absl::Duration estimated_wait) {
  Failure failure;
  failure.rule = {absl::StatusCode::kResourceExhausted, true, false, "UPSTREAM_BUDGET_EXHAUSTED",
                  "the upstream call budget is exhausted"};
  failure.message = "the upstream call budget (upstream_calls_per_second) cannot serve this call before its deadline";
  if (estimated_wait > absl::ZeroDuration()) {
    absl::StrAppend(&failure.message, " (estimated wait ", absl::FormatDuration(estimated_wait), ")");
    // RetryInfo carries whole milliseconds.
    failure.retry_delay = std::max(absl::Ceil(estimated_wait, absl::Milliseconds(1)), absl::Milliseconds(1));
  } else {
    failure.retry_delay = absl::Seconds(1);
  }
  absl::StrAppend(&failure.message, "; retry later");
  return failure;
}

Failure BridgeOverQuotaFailure(std::string message) {
  Failure failure;
  failure.rule = {absl::StatusCode::kResourceExhausted, true, false, "BRIDGE_OVER_QUOTA",
                  "a bound the bridge keeps for all its callers together is reached"};
  failure.message = std::move(message);
  failure.retry_delay = absl::Seconds(1);
  return failure;
}

Failure OmittedAccountFailure() {
  Failure failure;
  failure.rule = {absl::StatusCode::kUnavailable, true, false, "UPSTREAM_OMITTED_ACCOUNT",
                  "upstream's answer did not include this account"};
  failure.message = "upstream's answer did not include this account; retry";
  return failure;
}

google::rpc::Status ToRpcStatus(const Failure& failure) {
  google::rpc::Status status;
  status.set_code(static_cast<int>(failure.rule.grpc_code));
  status.set_message(failure.message);
  if (failure.rule.grpc_code == absl::StatusCode::kOk) return status;

  google::rpc::ErrorInfo info;
  info.set_reason(std::string(failure.rule.reason));
  info.set_domain(kErrorDomain);
  auto& metadata = *info.mutable_metadata();
  if (failure.tencent_code != 0) {
    metadata["tencent_code"] = absl::StrCat(failure.tencent_code);
    metadata["tencent_info"] = failure.tencent_info;
  }
  if (failure.http_status != 0) metadata["http_status"] = absl::StrCat(failure.http_status);
  metadata["retryable"] = failure.rule.retryable ? "true" : "false";
  status.add_details()->PackFrom(info);

  if (failure.retry_delay > absl::ZeroDuration()) {
    google::rpc::RetryInfo retry;
    const int64_t millis = absl::ToInt64Milliseconds(failure.retry_delay);
    retry.mutable_retry_delay()->set_seconds(millis / 1000);
    retry.mutable_retry_delay()->set_nanos(static_cast<int32_t>(millis % 1000) * 1000000);
    status.add_details()->PackFrom(retry);
  }
  return status;
}

google::rpc::Status InvalidArgumentStatus(const std::string& message, const std::vector<FieldViolation>& violations) {
  google::rpc::Status status;
  status.set_code(static_cast<int>(absl::StatusCode::kInvalidArgument));
  status.set_message(message);
  google::rpc::BadRequest bad_request;
  for (const FieldViolation& violation : violations) {
    auto* entry = bad_request.add_field_violations();
    entry->set_field(violation.field);
    entry->set_description(violation.description);
  }
  status.add_details()->PackFrom(bad_request);
  return status;
}

}  // namespace portrait_bridge

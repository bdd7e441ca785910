#include "bridge/sandbox/faults.h"

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace portrait_bridge::sandbox {
namespace {

constexpr int64_t kMaxThrottleMs = 86400000;  // A day: longer is a typo, not a test.

absl::StatusOr<int64_t> IntField(const nlohmann::json& value, absl::string_view name) {
  if (!value.is_number_integer()) return absl::InvalidArgumentError(absl::StrCat(name, " must be an integer"));
  return value.get<int64_t>();
}

absl::Status CheckCount(int64_t count, absl::string_view name) {
  if (count < -1) return absl::InvalidArgumentError(absl::StrCat(name, " must be -1 (always), 0 or a count"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Faults> ParseFaults(const nlohmann::json& json) {
  if (!json.is_object()) return absl::InvalidArgumentError("faults must be a JSON object");
  Faults faults;
  // Counters share one shape; the table keeps parsing and the error text in one place.
  const std::map<absl::string_view, int64_t*> counters = {
      {"error_count", &faults.error_count},
      {"http_502_count", &faults.http_502_count},
      {"non_json_count", &faults.non_json_count},
      {"truncated_count", &faults.truncated_count},
      {"drop_connection_count", &faults.drop_connection_count},
      {"usersig_expired_count", &faults.usersig_expired_count},
  };
  for (const auto& [key, value] : json.items()) {
    if (auto it = counters.find(key); it != counters.end()) {
      absl::StatusOr<int64_t> count = IntField(value, key);
      if (!count.ok()) return count.status();
      if (absl::Status s = CheckCount(*count, key); !s.ok()) return s;
      *it->second = *count;
    } else if (key == "latency_ms") {
      absl::StatusOr<int64_t> ms = IntField(value, key);
      if (!ms.ok()) return ms.status();
      if (*ms < 0 || *ms > 600000) return absl::InvalidArgumentError("latency_ms must be in 0..600000");
      faults.latency_ms = *ms;
    } else if (key == "throttle_for_ms") {
      absl::StatusOr<int64_t> ms = IntField(value, key);
      if (!ms.ok()) return ms.status();
      if (*ms < 0 || *ms > kMaxThrottleMs) {
        return absl::InvalidArgumentError(absl::StrCat("throttle_for_ms must be in 0..", kMaxThrottleMs));
      }
      faults.throttle_for_ms = *ms;
    } else if (key == "error_code") {
      absl::StatusOr<int64_t> code = IntField(value, key);
      if (!code.ok()) return code.status();
      if (*code < 0) return absl::InvalidArgumentError("error_code must not be negative");
      faults.error_code = *code;
    } else if (key == "expire_all_sigs") {
      if (!value.is_boolean()) return absl::InvalidArgumentError("expire_all_sigs must be a boolean");
      faults.expire_all_sigs = value.get<bool>();
    } else if (key == "fail_accounts") {
      if (!value.is_object()) {
        return absl::InvalidArgumentError("fail_accounts must be an object of account -> ResultCode");
      }
      for (const auto& [account, code] : value.items()) {
        if (!code.is_number_integer() || code.get<int64_t>() <= 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("fail_accounts[\"", account, "\"] must be a positive integer ResultCode"));
        }
        faults.fail_accounts[account] = code.get<int64_t>();
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown fault \"", key, "\""));
    }
  }
  return faults;
}

nlohmann::json FaultsToJson(const Faults& faults) {
  nlohmann::json fail_accounts = nlohmann::json::object();
  for (const auto& [account, code] : faults.fail_accounts) fail_accounts[account] = code;
  return {
      {"throttle_for_ms", faults.throttle_for_ms},
      {"latency_ms", faults.latency_ms},
      {"fail_accounts", fail_accounts},
      {"error_code", faults.error_code},
      {"error_count", faults.error_count},
      {"http_502_count", faults.http_502_count},
      {"non_json_count", faults.non_json_count},
      {"truncated_count", faults.truncated_count},
      {"drop_connection_count", faults.drop_connection_count},
      {"usersig_expired_count", faults.usersig_expired_count},
      {"expire_all_sigs", faults.expire_all_sigs},
  };
}

absl::StatusOr<std::map<std::string, int64_t>> ParseFailAccountsFlag(const std::string& text) {
  std::map<std::string, int64_t> out;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(item, absl::MaxSplits('=', 1));
    int64_t code = 0;
    if (parts.first.empty() || !absl::SimpleAtoi(parts.second, &code) || code <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--fail_accounts wants account=code[,account=code...], got \"", item, "\""));
    }
    out[std::string(parts.first)] = code;
  }
  return out;
}

}  // namespace portrait_bridge::sandbox

#ifndef PORTRAIT_BRIDGE_SANDBOX_FAULTS_H_
#define PORTRAIT_BRIDGE_SANDBOX_FAULTS_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"

namespace portrait_bridge::sandbox {

/// The faults the sandbox injects into portrait_get answers. Set at start from flags and replaced at runtime
/// through `POST /sandbox/faults` (same names as the JSON keys below). A default-constructed value injects nothing.
///
/// Counters (`*_count`) mean: 0 = off, N > 0 = the next N portrait_get calls, -1 = every call. Each call
/// consumes at most one fault, tried in this order: throttle_for_ms, drop_connection, http_502, non_json,
/// truncated, error_code, usersig_expired / expire_all_sigs. So `{"http_502_count":1,"error_code":60007,
/// "error_count":1}` answers 502, then 60007, then normally.
struct Faults {
  /// Every call arriving in [set, set + throttle_for_ms) gets the rate limiter's own 60007 answer, where `set` is
  /// the time the faults were set (Sandbox's constructor or SetFaults). 0 = off. Read back: the time left.
  int64_t throttle_for_ms = 0;
  int64_t latency_ms = 0;                        ///< Delay before every portrait_get answer (faults included).
  std::map<std::string, int64_t> fail_accounts;  ///< Account -> per-user ResultCode, listed in Fail_Account.
  int64_t error_code = 0;                        ///< Request-level ErrorCode (ActionStatus FAIL); 0 = off.
  int64_t error_count = 0;      ///< How many calls get `error_code`; 0 or -1 = every call (while error_code != 0).
  int64_t http_502_count = 0;   ///< HTTP 502 with an HTML body, as from a proxy.
  int64_t non_json_count = 0;   ///< HTTP 200 with an HTML body.
  int64_t truncated_count = 0;  ///< HTTP 200, JSON cut in the middle, Content-Length of the cut body.
  int64_t drop_connection_count = 0;  ///< The TCP connection closes with no response at all.
  int64_t usersig_expired_count = 0;  ///< ErrorCode 70001 as if the UserSig had expired.
  bool expire_all_sigs = false;       ///< 70001 on every call (usersig_expired_count = -1 in effect).
};

/// Parses a JSON object of fault settings. Keys that are absent keep their defaults (replace-all semantics:
/// `{}` is "no faults"). Unknown keys, wrong types and impossible values are errors, so a typo in a test
/// cannot silently inject nothing.
absl::StatusOr<Faults> ParseFaults(const nlohmann::json& json);

/// Every field, with the counters as they are now (what `GET /sandbox/faults` returns).
nlohmann::json FaultsToJson(const Faults& faults);

/// Parses "user7=40006,user8=40003" (the --fail_accounts flag form).
absl::StatusOr<std::map<std::string, int64_t>> ParseFailAccountsFlag(const std::string& text);

}  // namespace portrait_bridge::sandbox

#endif  // PORTRAIT_BRIDGE_SANDBOX_FAULTS_H_

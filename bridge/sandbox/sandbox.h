#ifndef PORTRAIT_BRIDGE_SANDBOX_SANDBOX_H_
#define PORTRAIT_BRIDGE_SANDBOX_SANDBOX_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/sandbox/arrivals.h"
#include "bridge/sandbox/faults.h"
#include "bridge/sandbox/profile_store.h"
#include "bridge/sandbox/rate_limiter.h"

namespace portrait_bridge::sandbox {

/// What the sandbox emulates: one SDKAppID in one region. Immutable once the Sandbox is built.
struct SandboxConfig {
  uint64_t sdkappid = 1400000000;
  std::vector<std::string> admins = {"administrator"};  ///< Identifiers allowed to call (upstream allows 10).
  std::string secret_key;                               ///< Verifies UserSigs. Never logged.
  int64_t pool_size = 100000;                           ///< user0 .. user<pool_size - 1> exist.
  std::vector<std::string> custom_tags = {"Tag_Profile_Custom_Test", "Tag_Profile_Custom_Blob"};
  int calls_per_second = 200;          ///< Admitted calls per rate window over all calls; 0 = unlimited.
  int64_t rate_window_ms = 1000;       ///< The rate window: at most calls_per_second in any (t - window, t].
  int64_t invalidate_sigs_before = 0;  ///< Unix seconds; sigs issued earlier get 70052. 0 = off.
  int max_accounts_per_call = 100;
};

/// A portrait_get request as the HTTP layer received it. Query names are case-sensitive; with repeated names
/// the first value counts.
struct PortraitGetRequest {
  std::string method = "POST";
  std::multimap<std::string, std::string> query;
  std::string body;
};

/// How to answer. `drop_connection` means: send nothing and close the connection.
struct Reply {
  int http_status = 200;
  std::string content_type = "application/json";
  std::string body;
  bool drop_connection = false;
  absl::Duration delay;  ///< Wait this long before answering (latency fault); the HTTP layer sleeps.
  std::string summary;   ///< One log line; never holds the UserSig or the key.
};

/// The emulated portrait_get endpoint plus its fault switches and counters. Transport-free: a unit test calls
/// HandlePortraitGet() with a request and a time, the binary wires it to cpp-httplib.
///
/// Time is always the caller's: the arrival time of a request, and the time faults are set (from which
/// throttle_for_ms runs), so tests need no sleeps. Times are taken at microsecond resolution, the resolution
/// `GET /sandbox/arrivals` reports, so the rate limiter and that report judge the same instants.
///
/// Thread-safe: every method may be called concurrently (the HTTP server runs handlers on a thread pool).
/// Faults, counters, the recorded arrivals and the rate-limit window sit behind one mutex; UserSig checks run
/// outside it.
class Sandbox {
 public:
  /// No faults.
  explicit Sandbox(SandboxConfig config);
  /// Starts with `faults`, set at `now`.
  Sandbox(SandboxConfig config, Faults faults, absl::Time now);
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  /// Answers one `/v4/profile/portrait_get` request and records its arrival time.
  Reply HandlePortraitGet(const PortraitGetRequest& request, absl::Time arrival);

  /// Answers any other `/v4/...` path: ErrorCode 60009 (wrong service or command), like upstream.
  Reply HandleUnknownCommand(const std::string& path) const;

  /// Replaces every fault setting (`POST /sandbox/faults`); `now` starts throttle_for_ms.
  void SetFaults(Faults faults, absl::Time now);
  /// The fault settings with their remaining counts and the throttle time left at `now`, rounded up to the
  /// millisecond (`GET /sandbox/faults`).
  Faults GetFaults(absl::Time now) const;

  /// The counters (`GET /sandbox/stats`); see README.md for the schema.
  nlohmann::json Stats() const;
  /// Zeroes every counter and forgets the recorded arrivals (`POST /sandbox/stats/reset`). Faults and the
  /// rate-limit window are kept.
  void ResetStats();

  /// The recorded arrivals (`GET /sandbox/arrivals`): ArrivalsReport() over the last
  /// ArrivalLog::kDefaultCapacity arrivals.
  nlohmann::json Arrivals(const ArrivalsQuery& query) const;

  /// In-flight accounting, called by the HTTP layer around a portrait_get answer including its delay.
  void CallStarted();
  void CallFinished();

  /// A UserSig for `identifier` signed with the sandbox key (`GET /sandbox/usersig`): saves a manual test
  /// from writing a signer. Only for the sandbox; the real service has no such thing.
  std::string IssueUserSig(const std::string& identifier, int64_t expire_seconds, absl::Time now) const;

  const SandboxConfig& config() const { return config_; }

 private:
  // Which fault a call consumed, if any.
  enum class Injected { kNone, kThrottle, kDrop, kHttp502, kNonJson, kTruncated, kErrorCode, kUserSigExpired };

  struct Counters {
    int64_t calls = 0;
    int64_t ok = 0;
    int64_t rejected = 0;
    int64_t throttled = 0;
    int64_t faulted = 0;
    int64_t accounts = 0;
    int64_t failed_accounts = 0;
    int64_t max_accounts_per_call = 0;
    int64_t in_flight = 0;
    int64_t max_in_flight = 0;
    std::map<int64_t, int64_t> error_codes;
    std::map<int64_t, int64_t> result_codes;
    std::map<std::string, int64_t> faults;
    std::set<size_t> usersigs;  // Hashes of the distinct valid sigs seen: proves a client renewed its sig.
  };

  // Request-level check result: 0 = accepted.
  struct Check {
    int64_t code = 0;
    std::string info;
  };

  Injected TakeInjectedFault(absl::Time now, int64_t* error_code) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Check CheckQuery(const PortraitGetRequest& request, absl::Time now);
  Reply Fail(int64_t code, const std::string& info, absl::Duration delay);
  Reply Answer(const nlohmann::json& to_account, const std::vector<std::string>& tags, absl::Duration delay);

  const SandboxConfig config_;
  const ProfileStore store_;

  mutable absl::Mutex mu_;
  Faults faults_ ABSL_GUARDED_BY(mu_);
  absl::Time throttle_from_ ABSL_GUARDED_BY(mu_);  // throttle_for_ms in force for arrivals in [from, until).
  absl::Time throttle_until_ ABSL_GUARDED_BY(mu_);
  ArrivalLog arrivals_ ABSL_GUARDED_BY(mu_);
  Counters stats_ ABSL_GUARDED_BY(mu_);
  SlidingWindowLimiter limiter_ ABSL_GUARDED_BY(mu_);
  uint64_t next_request_id_ ABSL_GUARDED_BY(mu_) = 1;
};

/// The ErrorInfo text the sandbox sends with a request-level ErrorCode.
std::string ErrorInfoForCode(int64_t code);

}  // namespace portrait_bridge::sandbox

#endif  // PORTRAIT_BRIDGE_SANDBOX_SANDBOX_H_

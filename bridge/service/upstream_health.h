#ifndef PORTRAIT_BRIDGE_SERVICE_UPSTREAM_HEALTH_H_
#define PORTRAIT_BRIDGE_SERVICE_UPSTREAM_HEALTH_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/core/clock.h"
#include "bridge/core/failure.h"
#include "bridge/service/log_limiter.h"
#include "bridge/service/timer_queue.h"

namespace portrait_bridge {

struct UpstreamHealthOptions {
  /// Repeats of a failure kind within this interval are counted into one summary line (LogLimiter).
  absl::Duration log_interval = absl::Seconds(10);
  /// While misconfigured, one probe call this often: readiness keeps callers away, so without it nothing would
  /// find out that the configuration works again.
  absl::Duration probe_interval = absl::Seconds(30);
};

/// What upstream's answers say about the bridge, for the logs and readiness.
///
/// Every failed attempt (transport error, HTTP error, malformed body, a call-level Tencent ErrorCode) is logged
/// with its reason and Tencent code or HTTP status, never the URL, rate-limited per kind by a LogLimiter: at
/// warning, or at error with what to fix when the error table says the bridge itself is misconfigured
/// (ErrorRule::ends_stream: wrong secret key, region, admin, a disabled app...). Per-account result codes are
/// answers, not failures, and never reach here.
///
/// A misconfiguration also marks the bridge misconfigured: `on_change(reason)` runs (readiness NOT_SERVING, the
/// gauge), and from then on a probe call runs every probe_interval. The next attempt that upstream answers with
/// ErrorCode 0 (a caller's or a probe's) clears it: `on_change("")`. Other failures (502s, throttling) say
/// nothing about the configuration and leave the state as it is.
///
/// Thread-safe; `on_change` runs under the tracker's lock, so calls come in order and it must not call back.
/// `timers` must run on `clock` and outlive the tracker.
class UpstreamHealth {
 public:
  using OnChange = std::function<void(absl::string_view reason)>;

  UpstreamHealth(TimerQueue& timers, const Clock& clock, UpstreamHealthOptions options, OnChange on_change);
  ~UpstreamHealth();

  UpstreamHealth(const UpstreamHealth&) = delete;
  UpstreamHealth& operator=(const UpstreamHealth&) = delete;

  /// The probe: one upstream call whose attempts report here like any other. SetProbe(nullptr) stops probing and
  /// waits for a probe being made: call it before whatever the probe uses goes away.
  void SetProbe(absl::AnyInvocable<void()> probe);

  /// Upstream answered an attempt with ErrorCode 0.
  void OnAttemptAnswered();
  /// An attempt failed as a whole.
  void OnAttemptFailed(const Failure& failure);

  /// The error-table reason the bridge is misconfigured for ("TENCENT_70009"); empty when it is not.
  std::string misconfiguration() const;

 private:
  struct State;

  TimerQueue& timers_;
  LogLimiter failures_;
  // Shared with the probe timer, which holds it weakly.
  std::shared_ptr<State> state_;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_UPSTREAM_HEALTH_H_

#ifndef PORTRAIT_BRIDGE_SERVICE_LOG_LIMITER_H_
#define PORTRAIT_BRIDGE_SERVICE_LOG_LIMITER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "bridge/core/clock.h"
#include "bridge/core/log.h"
#include "bridge/service/timer_queue.h"

namespace portrait_bridge {

/// Keeps a storm of like events to a few log lines. The first event of a kind is logged at once and opens an
/// interval for that kind; further events of the kind within the interval are only counted; when the interval
/// ends (on the timer queue, whether or not the storm goes on), one summary line says how many were left out:
/// `{"msg":<summary_message>, <the kind's summary fields>, "count":4873, "interval_s":10}`. The next event after
/// that is logged at once again. So a steady storm writes two lines per kind per interval.
///
/// Thread-safe. `timers` must run on `clock` and outlive the limiter; a summary due after the limiter is gone is
/// dropped.
class LogLimiter {
 public:
  LogLimiter(TimerQueue& timers, const Clock& clock, absl::Duration interval, std::string summary_message);
  ~LogLimiter();

  LogLimiter(const LogLimiter&) = delete;
  LogLimiter& operator=(const LogLimiter&) = delete;

  /// An event of `kind`: writes `message` with `fields` at `level` unless a line of this kind was written within
  /// the interval; then only counts it. `summary_fields` name the kind in its summary line (taken from the event
  /// that opened the interval).
  void Log(absl::string_view kind, LogLevel level, absl::string_view message, absl::Span<const LogField> fields,
           absl::Span<const LogField> summary_fields);

  absl::Duration interval() const { return interval_; }

 private:
  struct State;

  TimerQueue& timers_;
  const Clock& clock_;
  const absl::Duration interval_;
  // Shared with the summary timers, which hold it weakly: a timer firing as the limiter goes finds nothing.
  std::shared_ptr<State> state_;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_LOG_LIMITER_H_

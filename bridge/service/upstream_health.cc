#include "bridge/service/upstream_health.h"

#include <atomic>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/core/log.h"

namespace portrait_bridge {

struct UpstreamHealth::State : std::enable_shared_from_this<UpstreamHealth::State> {
  State(TimerQueue& timers, const Clock& clock, absl::Duration probe_interval, OnChange on_change)
      : timers(timers), clock(clock), probe_interval(probe_interval), on_change(std::move(on_change)) {}

  // Marks the bridge misconfigured for `reason`; starts probing.
  void Enter(absl::string_view new_reason) {
    absl::MutexLock lock(&mutex);
    if (reason == new_reason) return;
    reason = std::string(new_reason);
    misconfigured.store(true, std::memory_order_relaxed);
    if (on_change) on_change(reason);
    if (probe_timer == 0) ScheduleProbeLocked();
  }

  // Clears the misconfiguration, if any.
  void Clear() {
    if (!misconfigured.load(std::memory_order_relaxed)) return;  // The usual case, for every answered attempt.
    std::string cleared;
    {
      absl::MutexLock lock(&mutex);
      if (reason.empty()) return;
      cleared = std::exchange(reason, "");
      misconfigured.store(false, std::memory_order_relaxed);
      if (probe_timer != 0 && timers.Cancel(probe_timer)) probe_timer = 0;
      if (on_change) on_change("");
    }
    Log(LogLevel::kInfo, "upstream accepts the bridge's configuration again: ready", {{"cleared_reason", cleared}});
  }

  void ScheduleProbeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    probe_timer = timers.RunAt(clock.Now() + probe_interval, [weak = weak_from_this()] {
      if (std::shared_ptr<State> state = weak.lock()) state->Probe();
    });
  }

  void Probe() {
    {
      absl::MutexLock lock(&mutex);
      probe_timer = 0;
      if (reason.empty()) return;
      ScheduleProbeLocked();
    }
    // Under its own lock, so that SetProbe(nullptr) waits for a probe being made. The client answers on another
    // thread, never inside the call, so nothing comes back here while it is held.
    absl::MutexLock lock(&probe_mutex);
    if (probe) probe();
  }

  TimerQueue& timers;
  const Clock& clock;
  const absl::Duration probe_interval;
  const OnChange on_change;
  absl::Mutex probe_mutex;  // Never held with `mutex`.
  absl::AnyInvocable<void()> probe ABSL_GUARDED_BY(probe_mutex);
  std::atomic<bool> misconfigured{false};
  mutable absl::Mutex mutex;
  std::string reason ABSL_GUARDED_BY(mutex);
  uint64_t probe_timer ABSL_GUARDED_BY(mutex) = 0;
};

UpstreamHealth::UpstreamHealth(TimerQueue& timers, const Clock& clock, UpstreamHealthOptions options,
                               OnChange on_change)
    : timers_(timers),
      failures_(timers, clock, options.log_interval, "upstream failures left out of the log"),
      state_(std::make_shared<State>(timers, clock, options.probe_interval, std::move(on_change))) {}

UpstreamHealth::~UpstreamHealth() {
  absl::MutexLock lock(&state_->mutex);
  if (state_->probe_timer != 0) timers_.Cancel(state_->probe_timer);
}

void UpstreamHealth::SetProbe(absl::AnyInvocable<void()> probe) {
  absl::MutexLock lock(&state_->probe_mutex);
  state_->probe = std::move(probe);
}

void UpstreamHealth::OnAttemptAnswered() { state_->Clear(); }

void UpstreamHealth::OnAttemptFailed(const Failure& failure) {
  // The kind: one per Tencent code, HTTP status or transport reason, so that each shows in the log at least once
  // per interval.
  std::string kind(failure.rule.reason);
  std::vector<LogField> what = {{"reason", failure.rule.reason}};
  if (failure.tencent_code != 0) {
    absl::StrAppend(&kind, ":", failure.tencent_code);
    what.emplace_back("code", failure.tencent_code);
  } else if (failure.http_status != 0) {
    absl::StrAppend(&kind, ":", failure.http_status);
    what.emplace_back("http_status", failure.http_status);
  }
  std::vector<LogField> fields = what;
  // The message names what happened (and Tencent's ErrorInfo), never the URL: it is what callers get too.
  fields.emplace_back("error", failure.message);
  if (failure.rule.ends_stream) {
    fields.emplace_back("fix", failure.rule.meaning);
    state_->Enter(failure.rule.reason);
    failures_.Log(kind, LogLevel::kError, "upstream says the bridge is misconfigured: not ready until it answers again",
                  fields, what);
    return;
  }
  fields.emplace_back("retryable", failure.rule.retryable);
  failures_.Log(kind, LogLevel::kWarning, "upstream call failed", fields, what);
}

std::string UpstreamHealth::misconfiguration() const {
  absl::MutexLock lock(&state_->mutex);
  return state_->reason;
}

}  // namespace portrait_bridge

#include "bridge/service/log_limiter.h"

#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace portrait_bridge {
namespace {

// One kind's current interval.
struct Interval {
  absl::Time ends;
  LogLevel level;
  std::vector<std::pair<std::string, LogValue>> summary_fields;  // Owned copies of the caller's fields.
  int64_t left_out = 0;
  uint64_t timer_id = 0;  // The summary's timer, once an event has been left out.
};

}  // namespace

struct LogLimiter::State {
  explicit State(std::string message) : summary_message(std::move(message)) {}

  // Writes the summary of `kind` if its interval has ended, and forgets the interval.
  void Summarize(const std::string& kind, absl::Time now, absl::Duration length) {
    Interval ended;
    {
      absl::MutexLock lock(&mutex);
      auto it = intervals.find(kind);
      if (it == intervals.end() || it->second.ends > now) return;
      ended = std::move(it->second);
      intervals.erase(it);
    }
    if (ended.left_out == 0) return;
    std::vector<LogField> fields;
    for (const auto& [key, value] : ended.summary_fields) fields.emplace_back(key, value);
    fields.emplace_back("count", ended.left_out);
    // Whole seconds print as an integer ("interval_s":10).
    const double seconds = absl::ToDoubleSeconds(length);
    if (length == absl::Seconds(absl::ToInt64Seconds(length))) {
      fields.emplace_back("interval_s", absl::ToInt64Seconds(length));
    } else {
      fields.emplace_back("interval_s", seconds);
    }
    portrait_bridge::Log(ended.level, summary_message, fields);
  }

  const std::string summary_message;
  absl::Mutex mutex;
  absl::flat_hash_map<std::string, Interval> intervals ABSL_GUARDED_BY(mutex);
};

LogLimiter::LogLimiter(TimerQueue& timers, const Clock& clock, absl::Duration interval, std::string summary_message)
    : timers_(timers),
      clock_(clock),
      interval_(interval),
      state_(std::make_shared<State>(std::move(summary_message))) {}

LogLimiter::~LogLimiter() {
  absl::MutexLock lock(&state_->mutex);
  for (auto& [kind, interval] : state_->intervals) {
    if (interval.timer_id != 0) timers_.Cancel(interval.timer_id);
  }
}

void LogLimiter::Log(absl::string_view kind, LogLevel level, absl::string_view message,
                     absl::Span<const LogField> fields, absl::Span<const LogField> summary_fields) {
  const absl::Time now = clock_.Now();
  {
    absl::MutexLock lock(&state_->mutex);
    auto [it, opened] = state_->intervals.try_emplace(kind);
    Interval& interval = it->second;
    if (!opened && interval.ends <= now && interval.left_out == 0) opened = true;  // Ended quietly: a fresh one.
    if (!opened) {
      ++interval.left_out;
      if (interval.timer_id == 0) {
        interval.timer_id = timers_.RunAt(interval.ends, [weak = std::weak_ptr<State>(state_), kind = std::string(kind),
                                                          length = interval_, &clock = clock_] {
          if (std::shared_ptr<State> state = weak.lock()) state->Summarize(kind, clock.Now(), length);
        });
      }
      return;
    }
    interval = Interval{now + interval_, level, {}, 0, 0};
    for (const auto& [key, value] : summary_fields) interval.summary_fields.emplace_back(std::string(key), value);
  }
  portrait_bridge::Log(level, message, fields);
}

}  // namespace portrait_bridge

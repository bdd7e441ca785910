#include "bridge/core/rate_limiter.h"

#include <algorithm>

namespace portrait_bridge {

RateLimiter::RateLimiter(double calls_per_second, int64_t burst, const Clock& clock)
    // Paced over kPacingWindow, a little longer than kWindow, so that the window check at sending rarely has to hold
    // a call back: see kPacingWindow.
    : calls_per_second_(calls_per_second),
      interval_(kPacingWindow / calls_per_second),
      burst_window_(interval_ * burst),
      min_factor_(std::min(1.0, std::max(kMinFactor, 1 / calls_per_second))),
      reserve_(std::max<int64_t>(0, burst / 2)),
      window_calls_(static_cast<size_t>(std::max(1.0, calls_per_second))),
      clock_(clock),
      recent_sends_(window_calls_),
      planned_starts_(window_calls_) {}

double RateLimiter::FactorAt(absl::Time now) const {
  if (throttled_factor_ >= 1) return 1;
  const absl::Duration recovering = now - (throttled_at_ + kThrottleHold);
  if (recovering <= absl::ZeroDuration()) return throttled_factor_;
  return std::min(1.0, throttled_factor_ + kRecoveryPerSecond * absl::ToDoubleSeconds(recovering));
}

absl::Duration RateLimiter::BurstTolerance(absl::Duration interval) const {
  return std::max(absl::ZeroDuration(), burst_window_ - interval);
}

std::pair<absl::Time, absl::Time> RateLimiter::NextStart(absl::Time now) const {
  // At a reduced rate each call takes a longer interval from the bucket while the burst window stays the same
  // length of time, so the burst shrinks with the rate too. A call may start once the bucket holds one interval,
  // and at least one call can always start from a bucket that has been idle long enough.
  const absl::Duration interval = interval_ / FactorAt(now);
  const absl::Duration tolerance = BurstTolerance(interval);
  const absl::Time base = std::max(next_free_, now);
  // Planned over kPacingWindow, like the tokens: a send up to 2 ms later than planned still finds room at the socket.
  const absl::Time start = std::max({now, base - tolerance, planned_starts_.Oldest() + kPacingWindow});
  // A start the window pushed back leaves the bucket empty behind it: no burst right after a full window.
  return {start, std::max(base, start) + interval};
}

std::optional<absl::Duration> RateLimiter::Reserve(absl::Duration max_wait) {
  absl::MutexLock lock(&mutex_);
  const absl::Time now = clock_.Now();
  const auto [start, next_free] = NextStart(now);
  const absl::Duration wait = start - now;
  if (wait > max_wait) return std::nullopt;
  next_free_ = next_free;
  planned_starts_.Record(start);
  return wait;
}

absl::Duration RateLimiter::WindowWait(absl::Time now) const {
  return std::max(absl::ZeroDuration(), recent_sends_.Oldest() + kWindow - now);
}

absl::Duration RateLimiter::ClaimSendSlot() {
  absl::MutexLock lock(&mutex_);
  const absl::Time now = clock_.Now();
  const absl::Duration wait = WindowWait(now);
  if (wait > absl::ZeroDuration()) return wait;
  // Sends are recorded in the order they happen, so the ring's oldest entry is the earliest of the last calls.
  recent_sends_.Record(now);
  return absl::ZeroDuration();
}

absl::Duration RateLimiter::EstimatedWait() const {
  absl::MutexLock lock(&mutex_);
  const absl::Time now = clock_.Now();
  return std::max(NextStart(now).first - now, WindowWait(now));
}

absl::Duration RateLimiter::SpareWait() const {
  absl::MutexLock lock(&mutex_);
  const absl::Time now = clock_.Now();
  // The bucket holds k tokens once now >= next_free_ - burst_window_ + k * interval; a call that leaves reserve_
  // behind needs reserve_ + 1 of them.
  const absl::Duration interval = interval_ / FactorAt(now);
  const absl::Time spare_at = next_free_ - burst_window_ + interval * static_cast<double>(reserve_ + 1);
  return std::max({absl::ZeroDuration(), spare_at - now, NextStart(now).first - now, WindowWait(now)});
}

void RateLimiter::OnThrottled() {
  absl::MutexLock lock(&mutex_);
  const absl::Time now = clock_.Now();
  if (now < throttled_at_ + kThrottleHold) return;
  throttled_factor_ = std::max(min_factor_, FactorAt(now) / 2);
  throttled_at_ = now;
  // Empty the bucket: calls already granted keep their slots, new ones start one (longer) interval apart.
  next_free_ = std::max(next_free_, now + burst_window_);
}

void RateLimiter::HoldUntil(absl::Time when) {
  absl::MutexLock lock(&mutex_);
  // NextStart starts a call at next_free_ minus the burst tolerance at the earliest.
  next_free_ = std::max(next_free_, when + BurstTolerance(interval_ / FactorAt(clock_.Now())));
}

double RateLimiter::EffectiveCallsPerSecond() const {
  absl::MutexLock lock(&mutex_);
  return FactorAt(clock_.Now()) * calls_per_second_;
}

}  // namespace portrait_bridge

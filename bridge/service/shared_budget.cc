#include "bridge/service/shared_budget.h"

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/core/log.h"

namespace portrait_bridge {
namespace {

// Reserves the earliest send time for one call, app-wide. Times are microseconds of Redis's own clock.
// KEYS: 1 the sorted set of planned sends (score = planned time), 2 the state hash (tat: the pacing's theoretical
// arrival time; throttled_at and factor: the last app-wide halving).
// ARGV: 1 calls per window, 2 window, 3 burst, 4 longest acceptable wait, 5 a unique member, 6 throttle hold,
// 7 recovery (fraction of the rate per second), 8 key lifetime in ms.
// Returns {granted 0|1, wait until the planned time, throttle factor * 1e6, latest planned send of all bridges
// - now}; nothing is reserved unless granted.
// The window rule keeps, by induction, at most `limit` planned sends in any window: a new send comes at least a
// window after the limit-th latest planned send, so any window holding it holds at most limit - 1 others.
constexpr char kReserveScript[] = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate, window, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[2], 'tat', 'throttled_at', 'factor')
local factor = 1
if state[2] and state[3] then
  factor = tonumber(state[3])
  local recovering = now - tonumber(state[2]) - tonumber(ARGV[6])
  if recovering > 0 then factor = math.min(1, factor + tonumber(ARGV[7]) * recovering / 1000000) end
end
local limit = math.max(1, math.floor(rate * factor))
local interval = window / (rate * factor)
local base = math.max(tonumber(state[1]) or 0, now)
local start = math.max(now, base - math.max(0, interval * burst - interval))
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local kth = redis.call('ZRANGE', KEYS[1], -limit, -limit, 'WITHSCORES')
  start = math.max(start, tonumber(kth[2]) + window)
end
local wait = math.floor(start - now)
local scaled = math.floor(factor * 1000000)
local granted = 0
if wait <= tonumber(ARGV[4]) then
  granted = 1
  redis.call('ZADD', KEYS[1], start, ARGV[5])
  redis.call('HSET', KEYS[2], 'tat', math.max(base, start) + interval)
  redis.call('PEXPIRE', KEYS[1], ARGV[8])
  redis.call('PEXPIRE', KEYS[2], ARGV[8])
end
local latest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local latest_wait = 0
if latest[2] then latest_wait = math.floor(tonumber(latest[2]) - now) end
return {granted, wait, scaled, latest_wait}
)lua";

// Halves the app-wide rate, unless it was halved within the hold (the echo of calls already in flight), and
// empties the pacing bucket. KEYS: 1 the state hash. ARGV: 1 hold, 2 recovery, 3 lowest factor, 4 window,
// 5 calls per window, 6 burst, 7 key lifetime in ms. Returns 1 if it halved.
constexpr char kThrottleScript[] = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tat', 'throttled_at', 'factor')
local factor = 1
if state[2] and state[3] then
  if now < tonumber(state[2]) + tonumber(ARGV[1]) then return 0 end
  factor = tonumber(state[3])
  local recovering = now - tonumber(state[2]) - tonumber(ARGV[1])
  if recovering > 0 then factor = math.min(1, factor + tonumber(ARGV[2]) * recovering / 1000000) end
end
factor = math.max(tonumber(ARGV[3]), factor / 2)
local burst_window = tonumber(ARGV[4]) / tonumber(ARGV[5]) * tonumber(ARGV[6])
redis.call('HSET', KEYS[1], 'throttled_at', now, 'factor', factor, 'tat',
           math.max(tonumber(state[1]) or 0, now + burst_window))
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return 1
)lua";

// Budget keys outlive a minute of silence at most.
constexpr char kKeyLifetimeMs[] = "60000";
// A wait longer than this is not worth reserving for (and keeps the script's numbers small).
constexpr absl::Duration kLongestWait = absl::Hours(1);

std::string Micros(absl::Duration duration) { return absl::StrCat(absl::ToInt64Microseconds(duration)); }

std::string RandomMemberPrefix() {
  std::random_device device;
  return absl::StrCat(absl::Hex(static_cast<uint64_t>(device()) << 32 | device(), absl::kZeroPad16), ":");
}

bool IsIntegerArray(const RedisReply& reply, size_t size) {
  if (reply.type != RedisReply::Type::kArray || reply.elements.size() != size) return false;
  return std::all_of(reply.elements.begin(), reply.elements.end(),
                     [](const RedisReply& element) { return element.type == RedisReply::Type::kInteger; });
}

// "Ask again after `ask_after`", or, when the slot's wait is past what the caller can wait, no slot (with that wait
// as the estimate).
BudgetAnswer AskAgainLater(absl::Duration ask_after, absl::Duration slot_wait, absl::Duration max_wait) {
  BudgetAnswer answer;
  if (slot_wait <= max_wait) {
    answer.ask_again_after = ask_after;
  } else {
    answer.estimated_wait = slot_wait;
  }
  return answer;
}

// How often a call asks again while the bridge waits for its first Redis connection.
constexpr absl::Duration kFirstConnectionPoll = absl::Milliseconds(5);

double MinFactor(double calls_per_second) {
  return std::min(1.0, std::max(RateLimiter::kMinFactor, 1 / calls_per_second));
}

}  // namespace

std::string SharedBudget::SendsKey(uint64_t sdkappid) {
  return absl::StrCat("portrait-bridge:{", sdkappid, "}:budget:sends");
}

std::string SharedBudget::StateKey(uint64_t sdkappid) {
  return absl::StrCat("portrait-bridge:{", sdkappid, "}:budget:state");
}

SharedBudget::SharedBudget(RedisOptions redis, const Clock& clock, SharedBudgetOptions options,
                           BudgetObserver* observer)
    : clock_(clock),
      options_(options),
      observer_(observer),
      fallback_(options.fallback_calls_per_second, RateLimiter::DefaultBurst(options.fallback_calls_per_second), clock),
      sends_key_(SendsKey(options.sdkappid)),
      state_key_(StateKey(options.sdkappid)),
      member_prefix_(RandomMemberPrefix()),
      created_at_(clock.Now()),
      redis_(std::make_unique<RedisClient>(std::move(redis))) {}

SharedBudget::~SharedBudget() { redis_.reset(); }

void SharedBudget::Acquire(absl::Duration max_wait, Done done) {
  const absl::Time asked_at = clock_.Now();
  if (!redis_->connected()) {
    bool first_connection_pending;
    {
      absl::MutexLock lock(&mutex_);
      first_connection_pending = mode_ == -1 && asked_at < created_at_ + kFirstConnectionGrace;
    }
    if (first_connection_pending) {
      std::move(done)(AskAgainLater(kFirstConnectionPoll, kFirstConnectionPoll, max_wait));
    } else {
      UseFallback(max_wait, std::move(done), absl::UnavailableError("not connected to Redis"));
    }
    return;
  }
  absl::Duration rejoin_wait;
  {
    absl::MutexLock lock(&mutex_);
    if (mode_ == 0 && rejoining_since_ == absl::InfinitePast()) rejoining_since_ = asked_at;
    rejoin_wait = RejoinWait(asked_at);
    if (rejoin_wait == absl::ZeroDuration() && mode_ == 1) rejoining_since_ = absl::InfinitePast();
  }
  // The wait is this bridge's alone: it asks Redis once it is over, instead of reserving a slot that far ahead,
  // which would move the app-wide pacing and hold back every bridge's calls behind it.
  if (rejoin_wait > absl::ZeroDuration()) {
    std::move(done)(AskAgainLater(rejoin_wait, rejoin_wait, max_wait));
    return;
  }
  std::vector<std::string> args = {"EVAL",
                                   kReserveScript,
                                   "2",
                                   sends_key_,
                                   state_key_,
                                   absl::StrCat(options_.calls_per_second),
                                   Micros(kPlanWindow),
                                   absl::StrCat(options_.burst),
                                   Micros(std::min(max_wait, kLongestWait)),
                                   absl::StrCat(member_prefix_, next_member_.fetch_add(1)),
                                   Micros(RateLimiter::kThrottleHold),
                                   absl::StrCat(RateLimiter::kRecoveryPerSecond),
                                   kKeyLifetimeMs};
  redis_->Command(std::move(args),
                  [this, asked_at, max_wait, done = std::move(done)](absl::StatusOr<RedisReply> reply) mutable {
                    OnReserveReply(reply, asked_at, max_wait, std::move(done));
                  });
}

void SharedBudget::OnReserveReply(const absl::StatusOr<RedisReply>& reply, absl::Time asked_at, absl::Duration max_wait,
                                  Done done) {
  const absl::Time now = clock_.Now();
  if (!reply.ok() || !IsIntegerArray(*reply, 4)) {
    const absl::Status why =
        !reply.ok() ? reply.status()
                    : absl::InternalError(absl::StrCat(
                          "unexpected answer to the budget script",
                          reply->type == RedisReply::Type::kError ? absl::StrCat(": ", reply->str) : std::string()));
    UseFallback(std::max(absl::ZeroDuration(), max_wait - (now - asked_at)), std::move(done), why);
    return;
  }
  SetShared(true, absl::OkStatus());
  const bool granted = reply->elements[0].integer == 1;
  const absl::Duration wait = absl::Microseconds(reply->elements[1].integer);
  {
    absl::MutexLock lock(&mutex_);
    factor_ = static_cast<double>(reply->elements[2].integer) / 1e6;
    // Mapped to the local clock from the reply's arrival, the latest moment Redis's now can stand for: a fallback
    // holding until then plus a window is never early.
    latest_planned_anywhere_ = std::max(latest_planned_anywhere_, now + absl::Microseconds(reply->elements[3].integer));
  }
  BudgetAnswer answer;
  if (granted) {
    // Redis planned the send `wait` after its own now, which lies between asked_at and now here: sending at
    // now + wait is never early, and its lateness is measured from asked_at + wait.
    answer.grant = BudgetGrant{now + wait, asked_at + wait, /*shared=*/true};
  } else {
    answer.estimated_wait = wait;
  }
  std::move(done)(std::move(answer));
}

void SharedBudget::UseFallback(absl::Duration max_wait, Done done, const absl::Status& why) {
  if (observer_ != nullptr) observer_->OnBudgetFallback();
  SetShared(false, why);
  // Promise no slot further ahead than kFallbackHorizon: the shared budget, once back, must know when the fallback's
  // promises end (see Acquire). Calls further back in the queue ask again later.
  const absl::Duration wait = fallback_.EstimatedWait();
  if (wait > kFallbackHorizon) {
    std::move(done)(AskAgainLater(wait - kFallbackHorizon, wait, max_wait));
    return;
  }
  fallback_.Acquire(std::min(max_wait, kFallbackHorizon), std::move(done));
}

void SharedBudget::SetShared(bool shared, const absl::Status& why) {
  const int mode = shared ? 1 : 0;
  {
    absl::MutexLock lock(&mutex_);
    if (!shared) rejoining_since_ = absl::InfinitePast();  // A rejoin that failed starts over when Redis is back.
    if (mode_ == mode) return;
    if (mode_ == 1) {
      // No shared slot goes on the wire once a bridge's Redis connection is down (ClaimAtSocket), and every bridge
      // of a Redis that went away loses its connection with it: the fallback's first send comes a window after now.
      // (What this bridge last heard of the others' plans is no bound: a busy bridge keeps planning, seconds ahead,
      // after a quiet one's last answer.)
      fallback_.HoldUntil(clock_.Now() + kPlanWindow);
    }
    mode_ = mode;
  }
  if (observer_ != nullptr) observer_->OnBudgetShared(shared);
  if (shared) {
    Log(LogLevel::kInfo, "upstream budget shared through Redis", {{"calls_per_second", options_.calls_per_second}});
  } else {
    Log(LogLevel::kWarning, "Redis unreachable: upstream budget on the local fallback until it answers again",
        {{"fallback_calls_per_second", options_.fallback_calls_per_second}, {"error", std::string(why.message())}});
  }
}

std::optional<absl::Duration> SharedBudget::ClaimAtSocket(const BudgetGrant& grant) {
  if (!grant.shared) return fallback_.ClaimAtSocket(grant);
  // Redis is gone (or this bridge was cut off from it): a fallback may start a window after it noticed, so slots
  // planned before are not used; the call asks again, and the fallback answers.
  if (!redis_->connected()) return absl::ZeroDuration();
  if (!Expired(grant)) return std::nullopt;
  // Too late for its place in the shared window: sending now could crowd the sends planned after it. The slot
  // stays counted (it cannot be handed back safely); ask for a new one at once.
  return absl::ZeroDuration();
}

absl::Duration SharedBudget::RejoinWait(absl::Time now) const {
  // The fallback promised sends up to kFallbackHorizon ahead of the moment Redis came back, and the other bridges'
  // fallbacks did the same within a reconnect interval of it: shared sends of this bridge start a window later.
  if (rejoining_since_ == absl::InfinitePast()) return absl::ZeroDuration();
  return std::max(absl::ZeroDuration(), rejoining_since_ + kFallbackHorizon + kPlanWindow - now);
}

absl::Duration SharedBudget::EstimatedWait() const {
  {
    absl::MutexLock lock(&mutex_);
    const absl::Duration rejoin_wait = RejoinWait(clock_.Now());
    if (rejoin_wait > absl::ZeroDuration()) return rejoin_wait;
    // Calls are planned first come, first served across bridges: a call asking now goes after the latest one any
    // bridge planned. (This bridge's own queue alone would let a lightly loaded bridge send small calls that wait
    // behind a busy one's, spending the app's slots on few accounts.)
    if (mode_ == 1) return std::max(absl::ZeroDuration(), latest_planned_anywhere_ - clock_.Now());
  }
  return fallback_.EstimatedWait();
}

absl::Duration SharedBudget::SpareWait() const {
  {
    absl::MutexLock lock(&mutex_);
    const absl::Duration rejoin_wait = RejoinWait(clock_.Now());
    if (rejoin_wait > absl::ZeroDuration()) return rejoin_wait;
    if (mode_ == 1) {
      const absl::Duration interval = kPlanWindow / (options_.calls_per_second * factor_);
      return std::max(absl::ZeroDuration(), latest_planned_anywhere_ + interval - clock_.Now());
    }
  }
  return fallback_.SpareWait();
}

bool SharedBudget::Expired(const BudgetGrant& grant) const {
  return grant.shared && clock_.Now() - grant.slot_at > kMaxLateness;
}

void SharedBudget::OnThrottled() {
  fallback_.OnThrottled();
  if (!redis_->connected()) return;
  std::vector<std::string> args = {"EVAL",
                                   kThrottleScript,
                                   "1",
                                   state_key_,
                                   Micros(RateLimiter::kThrottleHold),
                                   absl::StrCat(RateLimiter::kRecoveryPerSecond),
                                   absl::StrCat(MinFactor(options_.calls_per_second)),
                                   Micros(kPlanWindow),
                                   absl::StrCat(options_.calls_per_second),
                                   absl::StrCat(options_.burst),
                                   kKeyLifetimeMs};
  // Best effort: when it fails, this bridge's fallback has slowed down, and Redis is probably down for all.
  redis_->Command(std::move(args), [](absl::StatusOr<RedisReply> /*reply*/) {});
}

double SharedBudget::EffectiveCallsPerSecond() const {
  {
    absl::MutexLock lock(&mutex_);
    if (mode_ == 1) return factor_ * options_.calls_per_second;
  }
  return fallback_.EffectiveCallsPerSecond();
}

}  // namespace portrait_bridge

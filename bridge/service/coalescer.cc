#include "bridge/service/coalescer.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace portrait_bridge {
namespace {

constexpr size_t kUpstreamMaxAccounts = 100;  // portrait_get's limit per call.

Failure OverloadedFailure(int64_t limit) {
  Failure failure;
  failure.rule = {absl::StatusCode::kResourceExhausted, true, false, "BRIDGE_OVERLOADED",
                  "the bridge's queue of accounts waiting for an upstream call is full"};
  failure.message = absl::StrCat("the bridge's queue of accounts waiting for an upstream call is full (", limit,
                                 " accounts, max_pending_accounts); retry later");
  failure.retry_delay = absl::Seconds(1);
  return failure;
}

Failure CallCancelledFailure() {
  Failure failure;
  failure.rule = {absl::StatusCode::kUnavailable, true, false, "UPSTREAM_CALL_CANCELLED",
                  "the upstream call carrying this account was cancelled"};
  failure.message =
      "the upstream call carrying this account was cancelled before it answered (the bridge may be shutting "
      "down); retry";
  return failure;
}

AccountOutcome FailedOutcome(std::string account, const Failure& failure) {
  AccountOutcome outcome;
  outcome.account = std::move(account);
  outcome.failure = failure;
  return outcome;
}

}  // namespace

// All state lives here, shared with timer and inner-call callbacks (which hold it weakly), so a callback that
// fires after the Coalescer is gone finds nothing to do instead of a dangling pointer.
//
// Each tag list's accounts, pending or in flight, are in one hash map (KeyState::index) that says where each one is:
// an entry of the pending batch or of a call, found by the id the two share (a batch becomes a call under its own
// id) and the entry's position. An account is hashed about twice in its life (when asked, when its call ends), and
// a waiter's outcomes have slots of their own, filled by position.
//
// Lock order: mutex_, then the TimerQueue's own lock (RunAt and Cancel are called under mutex_; the queue never
// runs a callback under its lock). Nothing else is called under mutex_.
class Coalescer::Core : public std::enable_shared_from_this<Core> {
 public:
  Core(ProfileFetcher& upstream, TimerQueue& timers, const Clock& clock, CoalescerOptions options)
      : upstream_(upstream),
        timers_(timers),
        clock_(clock),
        options_(std::move(options)),
        max_per_call_(std::clamp<size_t>(options_.max_accounts_per_call, 1, kUpstreamMaxAccounts)),
        sparse_gap_nanos_(options_.sparse_asks_per_second > 0
                              ? static_cast<int64_t>(1e9 / options_.sparse_asks_per_second)
                              : std::numeric_limits<int64_t>::max()) {}

  std::shared_ptr<Ticket> Fetch(std::vector<std::string> accounts, std::vector<std::string> tags, absl::Time deadline,
                                Done done);
  void Cancel(uint64_t waiter_id);
  void Shutdown();
  int64_t PendingAccounts() const {
    absl::MutexLock lock(&mutex_);
    return pending_accounts_;
  }

 private:
  class WaiterTicket;
  struct KeyState;

  // One outer Fetch.
  struct Waiter {
    uint64_t id = 0;
    KeyState* key = nullptr;
    absl::Time deadline;
    Done done;
    // One slot per account asked (an account listed twice has one), in the order asked; each entry waited on
    // knows its slot. An outcome's account is set when its slot is made, the rest when it comes.
    std::vector<AccountOutcome> outcomes;
    std::vector<bool> answered;  // Per slot.
    size_t awaiting = 0;         // Slots not answered yet.
  };

  // A waiter of an entry, and the slot of its outcome.
  struct WaiterSlot {
    Waiter* waiter;
    size_t slot;
  };

  // One account of a pending batch or of a call: who waits for it. An entry may have no waiters left (they
  // cancelled, or the budget failed them): it stays, as a hole, so that the positions of the others do not move.
  // Nearly always one or two waiters: a short list, which needs no allocation, rather than a hash set. A waiter is
  // in it at most once (AddWaiter skips an account a waiter lists twice).
  struct Entry {
    std::string account;
    absl::InlinedVector<WaiterSlot, 1> waiters;

    // Whether `waiter` was there.
    bool Remove(const Waiter* waiter) {
      auto it =
          std::find_if(waiters.begin(), waiters.end(), [waiter](const WaiterSlot& w) { return w.waiter == waiter; });
      if (it == waiters.end()) return false;
      waiters.erase(it);
      return true;
    }
  };

  // Where an account of a tag list is: the entry at `position` of the pending batch or call with id `id`.
  struct Location {
    uint64_t id = 0;
    size_t position = 0;
    bool operator==(const Location& other) const { return id == other.id && position == other.position; }
  };

  // Everything for one tag list.
  struct KeyState {
    std::vector<std::string> tags;
    absl::flat_hash_map<std::string, Location> index;  // Every account pending or in a call not abandoned.
    uint64_t batch_id = 0;      // The pending batch; 0 when there is none. Its call will have the same id.
    uint64_t timer_id = 0;      // Its flush timer; 0 when none is scheduled.
    absl::Time hold_limit;      // The pending batch waits for a spare slot until then at most.
    std::vector<Entry> batch;   // The pending batch's accounts, in arrival order (holes included).
    size_t batch_accounts = 0;  // Its entries with waiters.
    size_t calls = 0;           // Entries of calls_ pointing here, abandoned ones included.
  };

  // One inner Fetch: sealed from a batch, then sent; it stays here until its done runs.
  struct Call {
    KeyState* key = nullptr;
    std::vector<Entry> entries;      // The batch's, positions unchanged.
    std::vector<size_t> sent;        // Positions of the entries sent, in the order of the inner Fetch's accounts.
    size_t live = 0;                 // Entries with at least one waiter.
    bool dispatched = false;         // Handed to Send (under the same lock hold that sealed it).
    bool abandoned = false;          // No waiter left: its accounts left the index and it is being cancelled.
    std::shared_ptr<Ticket> ticket;  // Set once the inner Fetch returns, unless abandoned by then.
  };

  struct Dispatch {
    uint64_t call_id;
    std::vector<std::string> accounts;
    std::vector<std::string> tags;
    absl::Time deadline;
  };

  // Work decided under the lock and done after it is released.
  struct Actions {
    std::vector<Dispatch> dispatches;
    std::vector<std::shared_ptr<Ticket>> cancels;
    std::vector<std::pair<Done, FetchResult>> finishes;
  };

  static absl::Duration ReadWait(const std::function<absl::Duration()>& wait) {
    return wait ? std::max(wait(), absl::ZeroDuration()) : absl::ZeroDuration();
  }
  // What the budget says, read before taking mutex_ (the budget has locks of its own).
  struct BudgetView {
    absl::Duration wait;   // Before a call sent now could start.
    absl::Duration spare;  // Before a call that is not full should go; zero when not read.
  };
  // Each read takes the budget's lock: an ask with a batch wait (the default) never looks at the spare slot, so
  // Fetch reads it only without one.
  BudgetView ReadBudget(bool with_spare = true) const {
    return {ReadWait(options_.budget_wait), with_spare ? ReadWait(options_.spare_wait) : absl::ZeroDuration()};
  }
  void OnTimer(uint64_t batch_id);
  void ArmTimer(KeyState& key, absl::Time when) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Whether the key's pending batch, past its wait, stays open for a spare slot.
  bool ShouldHoldForSpare(const KeyState& key, absl::Time now, absl::Duration spare_wait) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void HoldForSpare(KeyState& key, absl::Time now, absl::Duration spare_wait) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // The earliest deadline among the waiters of the key's pending batch.
  absl::Time EarliestDeadline(const KeyState& key) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // How soon a batch held for a spare slot is looked at again, at the least.
  static constexpr absl::Duration kMinRecheck = absl::Milliseconds(1);

  // Counts an ask at `now` and says whether asks come slower than options_.sparse_asks_per_second: whether the
  // mean gap between asks, weighted towards the last few, is longer than its inverse. Lock-free: asks from
  // several threads at once may each miss the other's update, which only blurs the mean.
  bool AsksAreSparse(absl::Time now);

  void OnCallDone(uint64_t call_id, FetchResult result);
  void Send(Dispatch dispatch);
  void Run(Actions actions);

  KeyState& KeyFor(std::vector<std::string> tags) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void MaybeEraseKey(KeyState& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // The entry `location` names: in the key's pending batch, or in a call (then also that call).
  Entry& EntryAt(KeyState& key, const Location& location, Call** call) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Removes the index's entry for `account` if it still points at `location` (a hole's account may have been
  // asked again since, and be at another entry).
  static void Unindex(KeyState& key, const std::string& account, const Location& location);
  // `wait`: how long a batch this ask starts waits for company (options_.wait, or zero while asks are sparse).
  uint64_t AddWaiter(KeyState& key, std::vector<std::string> accounts, absl::Time deadline, Done done, absl::Time now,
                     absl::Duration wait, const BudgetView& budget, Actions& actions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void StartBatch(KeyState& key, absl::Time now, absl::Duration wait) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void EndBatch(KeyState& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  uint64_t Seal(KeyState& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void Prepare(uint64_t call_id, absl::Time now, absl::Duration budget_wait, Actions& actions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void Detach(Waiter& waiter, Actions& actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void Abandon(uint64_t call_id, Call& call, Actions& actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void Deliver(Entry& entry, AccountOutcome outcome, Actions& actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Finishes `waiter` with its outcomes, one per slot (each answered, or failed by the caller).
  void CompleteWithOutcomes(Waiter& waiter, Actions& actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void Complete(Waiter& waiter, FetchResult result, Actions& actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  bool NothingSending() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return sending_ == 0; }

  ProfileFetcher& upstream_;
  TimerQueue& timers_;
  const Clock& clock_;
  const CoalescerOptions options_;
  const size_t max_per_call_;
  // AsksAreSparse's state, in nanoseconds: the last ask's time, and the weighted mean gap (starting as idle).
  static constexpr int64_t kMaxAskGapNanos = 1000000000;  // A longer gap counts as this, so a burst after idling
                                                          // is seen within a few asks.
  const int64_t sparse_gap_nanos_;
  std::atomic<int64_t> last_ask_nanos_{0};
  std::atomic<int64_t> mean_ask_gap_nanos_{kMaxAskGapNanos};

  mutable absl::Mutex mutex_;
  bool shut_down_ ABSL_GUARDED_BY(mutex_) = false;
  int sending_ ABSL_GUARDED_BY(mutex_) = 0;  // Dispatches decided whose inner Fetch has not returned yet.
  uint64_t next_id_ ABSL_GUARDED_BY(mutex_) = 1;
  int64_t pending_accounts_ ABSL_GUARDED_BY(mutex_) = 0;
  absl::flat_hash_map<std::vector<std::string>, std::unique_ptr<KeyState>> keys_ ABSL_GUARDED_BY(mutex_);
  absl::flat_hash_map<uint64_t, KeyState*> batches_ ABSL_GUARDED_BY(mutex_);  // Pending batch id -> its key.
  absl::node_hash_map<uint64_t, Call> calls_ ABSL_GUARDED_BY(mutex_);         // Node map: references stay valid.
  absl::flat_hash_map<uint64_t, std::unique_ptr<Waiter>> waiters_ ABSL_GUARDED_BY(mutex_);
};

class Coalescer::Core::WaiterTicket final : public ProfileFetcher::Ticket {
 public:
  WaiterTicket(std::weak_ptr<Core> core, uint64_t waiter_id) : core_(std::move(core)), waiter_id_(waiter_id) {}
  void Cancel() override {
    if (std::shared_ptr<Core> core = core_.lock()) core->Cancel(waiter_id_);
  }

 private:
  const std::weak_ptr<Core> core_;
  const uint64_t waiter_id_;  // 0: the Fetch finished at once; nothing to cancel.
};

std::shared_ptr<ProfileFetcher::Ticket> Coalescer::Core::Fetch(std::vector<std::string> accounts,
                                                               std::vector<std::string> tags, absl::Time deadline,
                                                               Done done) {
  const absl::Time now = clock_.Now();
  const absl::Duration wait = AsksAreSparse(now) ? absl::ZeroDuration() : options_.wait;
  const BudgetView budget = ReadBudget(/*with_spare=*/wait <= absl::ZeroDuration());
  Actions actions;
  uint64_t waiter_id = 0;
  {
    absl::MutexLock lock(&mutex_);
    if (shut_down_ || accounts.empty()) {
      FetchResult result;
      result.cancelled = shut_down_;
      actions.finishes.emplace_back(std::move(done), std::move(result));
    } else {
      KeyState& key = KeyFor(std::move(tags));
      // Accounts that would join the pending batch; counted only when all of them might not fit.
      int64_t fresh = static_cast<int64_t>(accounts.size());
      if (pending_accounts_ + fresh > options_.max_pending_accounts) {
        fresh = 0;
        for (const std::string& account : accounts) {
          if (!key.index.contains(account)) ++fresh;
        }
      }
      if (pending_accounts_ + fresh > options_.max_pending_accounts) {
        const Failure failure = OverloadedFailure(options_.max_pending_accounts);
        FetchResult result;
        for (std::string& account : accounts) result.outcomes.push_back(FailedOutcome(std::move(account), failure));
        actions.finishes.emplace_back(std::move(done), std::move(result));
        MaybeEraseKey(key);
      } else {
        waiter_id = AddWaiter(key, std::move(accounts), deadline, std::move(done), now, wait, budget, actions);
      }
    }
  }
  Run(std::move(actions));
  return std::make_shared<WaiterTicket>(weak_from_this(), waiter_id);
}

bool Coalescer::Core::AsksAreSparse(absl::Time now) {
  if (options_.sparse_asks_per_second <= 0) return false;
  const int64_t at = absl::ToUnixNanos(now);
  const int64_t gap =
      std::clamp<int64_t>(at - last_ask_nanos_.exchange(at, std::memory_order_relaxed), 0, kMaxAskGapNanos);
  const int64_t mean = mean_ask_gap_nanos_.load(std::memory_order_relaxed);
  const int64_t updated = mean + (gap - mean) / 4;
  mean_ask_gap_nanos_.store(updated, std::memory_order_relaxed);
  return updated > sparse_gap_nanos_;
}

Coalescer::Core::Entry& Coalescer::Core::EntryAt(KeyState& key, const Location& location, Call** call) {
  if (location.id == key.batch_id) {
    *call = nullptr;
    return key.batch[location.position];
  }
  *call = &calls_.at(location.id);
  return (*call)->entries[location.position];
}

void Coalescer::Core::Unindex(KeyState& key, const std::string& account, const Location& location) {
  auto it = key.index.find(account);
  if (it != key.index.end() && it->second == location) key.index.erase(it);
}

uint64_t Coalescer::Core::AddWaiter(KeyState& key, std::vector<std::string> accounts, absl::Time deadline, Done done,
                                    absl::Time now, absl::Duration wait, const BudgetView& budget, Actions& actions) {
  auto owned = std::make_unique<Waiter>();
  Waiter* waiter = owned.get();
  waiter->id = next_id_++;
  waiter->key = &key;
  waiter->deadline = deadline;
  waiter->done = std::move(done);
  waiters_.emplace(waiter->id, std::move(owned));
  const uint64_t waiter_id = waiter->id;

  std::vector<uint64_t> sealed;
  uint64_t started_batch = 0;  // The batch this ask started, if any; its timer is armed once the ask is in.
  waiter->outcomes.reserve(accounts.size());
  waiter->answered.reserve(accounts.size());
  for (size_t i = 0; i < accounts.size(); ++i) {
    std::string& account = accounts[i];
    auto [it, fresh] = key.index.try_emplace(account);
    Entry* entry = nullptr;
    if (fresh) {
      if (key.batch_id == 0) {
        StartBatch(key, now, wait);
        started_batch = key.batch_id;
        key.batch.reserve(std::min(max_per_call_, accounts.size() - i));  // Grown once, not by doubling.
      }
      it->second = {key.batch_id, key.batch.size()};
      entry = &key.batch.emplace_back();
      entry->account = account;
      ++key.batch_accounts;
      ++pending_accounts_;
    } else {
      Call* call = nullptr;
      entry = &EntryAt(key, it->second, &call);
      if (!entry->waiters.empty() && entry->waiters.back().waiter == waiter) continue;  // Listed twice: one outcome.
      if (call != nullptr && entry->waiters.empty()) ++call->live;
    }
    entry->waiters.push_back({waiter, waiter->outcomes.size()});
    waiter->outcomes.emplace_back().account = std::move(account);
    waiter->answered.push_back(false);
    ++waiter->awaiting;
    if (fresh && key.batch_accounts >= max_per_call_) sealed.push_back(Seal(key));
  }
  // A batch that this ask filled and sealed never needed its timer: arming and cancelling it would cost two timer
  // queue round trips (and wake-ups of its thread) per full call.
  if (started_batch != 0 && key.batch_id == started_batch && wait > absl::ZeroDuration()) {
    ArmTimer(key, now + wait);
  }
  if (key.batch_id != 0 && wait <= absl::ZeroDuration() && key.timer_id == 0) {
    if (ShouldHoldForSpare(key, now, budget.spare)) {
      HoldForSpare(key, now, budget.spare);  // Even without a wait, a batch that is not full waits for a spare slot.
    } else {
      sealed.push_back(Seal(key));
    }
  }
  // Only now that the waiter is in every entry it needs: the budget check may finish it.
  for (uint64_t call_id : sealed) Prepare(call_id, now, budget.wait, actions);
  MaybeEraseKey(key);
  return waiter_id;
}

Coalescer::Core::KeyState& Coalescer::Core::KeyFor(std::vector<std::string> tags) {
  auto [it, inserted] = keys_.try_emplace(tags);
  if (inserted) {
    it->second = std::make_unique<KeyState>();
    it->second->tags = std::move(tags);
  }
  return *it->second;
}

void Coalescer::Core::MaybeEraseKey(KeyState& key) {
  if (key.batch_id != 0 || key.calls != 0 || !key.index.empty()) return;
  const std::vector<std::string> tags = key.tags;  // `key` dies in the erase.
  keys_.erase(tags);
}

void Coalescer::Core::StartBatch(KeyState& key, absl::Time now, absl::Duration wait) {
  key.batch_id = next_id_++;
  key.hold_limit = now + std::max(wait, absl::ZeroDuration()) + options_.max_spare_hold;
  batches_[key.batch_id] = &key;  // Its timer (when `wait` is positive) is armed by AddWaiter.
}

void Coalescer::Core::ArmTimer(KeyState& key, absl::Time when) {
  key.timer_id = timers_.RunAt(when, [weak = weak_from_this(), batch_id = key.batch_id] {
    if (std::shared_ptr<Core> core = weak.lock()) core->OnTimer(batch_id);
  });
}

bool Coalescer::Core::ShouldHoldForSpare(const KeyState& key, absl::Time now, absl::Duration spare_wait) const {
  // Held, the batch goes at the spare slot or at its hold limit, whichever comes first: not if a waiter's deadline
  // comes before that.
  return spare_wait > absl::ZeroDuration() && key.batch_accounts < max_per_call_ && now < key.hold_limit &&
         EarliestDeadline(key) > std::min(now + spare_wait, key.hold_limit);
}

void Coalescer::Core::HoldForSpare(KeyState& key, absl::Time now, absl::Duration spare_wait) {
  // A call sent now would spend a slot the budget keeps for the calls behind it (and, at a high arrival rate, run
  // it dry: then every ask waits for the window to refill). Keep the batch open until a slot is spare, filling
  // meanwhile (a full batch still goes out at once).
  ArmTimer(key, std::min(key.hold_limit, now + std::max(spare_wait, kMinRecheck)));
}

void Coalescer::Core::EndBatch(KeyState& key) {
  if (key.timer_id != 0) timers_.Cancel(key.timer_id);  // False when it is firing now: OnTimer finds no batch.
  batches_.erase(key.batch_id);
  key.batch_id = 0;
  key.timer_id = 0;
  key.batch.clear();
  key.batch_accounts = 0;
}

uint64_t Coalescer::Core::Seal(KeyState& key) {
  const uint64_t call_id = key.batch_id;  // The index's locations of the batch now name the call.
  Call& call = calls_[call_id];
  call.key = &key;
  call.entries = std::move(key.batch);
  call.live = key.batch_accounts;
  pending_accounts_ -= static_cast<int64_t>(key.batch_accounts);
  ++key.calls;
  EndBatch(key);
  return call_id;
}

void Coalescer::Core::Prepare(uint64_t call_id, absl::Time now, absl::Duration budget_wait, Actions& actions) {
  Call& call = calls_.at(call_id);
  KeyState& key = *call.key;

  // Waiters that the call could not serve before their deadline fail now rather than time out later. (Without a
  // budget wait, a deadline already past is left to the inner fetcher, which reports it as a deadline failure.)
  const absl::Time earliest_start = now + budget_wait;
  absl::flat_hash_set<Waiter*> late;
  if (budget_wait > absl::ZeroDuration()) {
    for (const Entry& entry : call.entries) {
      for (const WaiterSlot& w : entry.waiters) {
        if (w.waiter->deadline < earliest_start) late.insert(w.waiter);
      }
    }
  }
  if (!late.empty()) {
    const Failure failure = BudgetExhaustedFailure(budget_wait);
    for (Waiter* waiter : late) {
      if (options_.observer != nullptr) options_.observer->OnBudgetExhausted();
      Detach(*waiter, actions);
      for (size_t slot = 0; slot < waiter->outcomes.size(); ++slot) {
        if (!waiter->answered[slot]) waiter->outcomes[slot].failure = failure;
      }
      CompleteWithOutcomes(*waiter, actions);
    }
  }

  std::vector<std::string> accounts;
  accounts.reserve(call.live);
  absl::Time deadline = absl::InfinitePast();
  for (size_t position = 0; position < call.entries.size(); ++position) {
    const Entry& entry = call.entries[position];
    if (entry.waiters.empty()) {  // Nobody wants it any more.
      Unindex(key, entry.account, {call_id, position});
      continue;
    }
    for (const WaiterSlot& w : entry.waiters) deadline = std::max(deadline, w.waiter->deadline);
    accounts.push_back(entry.account);
    call.sent.push_back(position);
  }
  if (accounts.empty()) {
    --key.calls;
    calls_.erase(call_id);
    return;
  }
  call.live = accounts.size();
  call.dispatched = true;
  ++sending_;
  actions.dispatches.push_back({call_id, std::move(accounts), key.tags, deadline});
}

void Coalescer::Core::Detach(Waiter& waiter, Actions& actions) {
  KeyState& key = *waiter.key;
  for (size_t slot = 0; slot < waiter.outcomes.size(); ++slot) {
    if (waiter.answered[slot]) continue;
    const std::string& account = waiter.outcomes[slot].account;
    auto it = key.index.find(account);
    if (it == key.index.end()) continue;
    const Location location = it->second;
    Call* call = nullptr;
    Entry& entry = EntryAt(key, location, &call);
    if (!entry.Remove(&waiter) || !entry.waiters.empty()) continue;
    if (call == nullptr) {  // A hole in the pending batch.
      key.index.erase(it);
      --key.batch_accounts;
      --pending_accounts_;
    } else if (--call->live == 0 && call->dispatched) {
      Abandon(location.id, *call, actions);
    }
  }
  if (key.batch_id != 0 && key.batch_accounts == 0) EndBatch(key);
}

void Coalescer::Core::Abandon(uint64_t call_id, Call& call, Actions& actions) {
  call.abandoned = true;
  // New asks for these accounts must start a new call, not join one being cancelled.
  for (size_t position = 0; position < call.entries.size(); ++position) {
    Unindex(*call.key, call.entries[position].account, {call_id, position});
  }
  if (call.ticket != nullptr) actions.cancels.push_back(std::move(call.ticket));
  // Otherwise the inner Fetch has not returned yet: Send cancels what it returns.
}

void Coalescer::Core::Deliver(Entry& entry, AccountOutcome outcome, Actions& actions) {
  size_t left = entry.waiters.size();
  for (const WaiterSlot& w : entry.waiters) {
    Waiter& waiter = *w.waiter;
    if (--left == 0) {
      waiter.outcomes[w.slot] = std::move(outcome);
    } else {
      waiter.outcomes[w.slot] = outcome;
    }
    waiter.answered[w.slot] = true;
    if (--waiter.awaiting == 0) CompleteWithOutcomes(waiter, actions);
  }
  entry.waiters.clear();
}

void Coalescer::Core::CompleteWithOutcomes(Waiter& waiter, Actions& actions) {
  FetchResult result;
  result.outcomes = std::move(waiter.outcomes);
  Complete(waiter, std::move(result), actions);
}

void Coalescer::Core::Complete(Waiter& waiter, FetchResult result, Actions& actions) {
  actions.finishes.emplace_back(std::move(waiter.done), std::move(result));
  waiters_.erase(waiter.id);  // Destroys `waiter`.
}

void Coalescer::Core::OnTimer(uint64_t batch_id) {
  const absl::Time now = clock_.Now();
  const BudgetView budget = ReadBudget();
  Actions actions;
  {
    absl::MutexLock lock(&mutex_);
    if (shut_down_) return;
    auto it = batches_.find(batch_id);
    if (it == batches_.end()) return;  // Filled, emptied by cancellations, or shut down meanwhile.
    KeyState& key = *it->second;
    key.timer_id = 0;  // Running now; nothing to cancel.
    if (ShouldHoldForSpare(key, now, budget.spare)) {
      HoldForSpare(key, now, budget.spare);
      return;
    }
    Prepare(Seal(key), now, budget.wait, actions);
    MaybeEraseKey(key);
  }
  Run(std::move(actions));
}

absl::Time Coalescer::Core::EarliestDeadline(const KeyState& key) const {
  absl::Time earliest = absl::InfiniteFuture();
  for (const Entry& entry : key.batch) {
    for (const WaiterSlot& w : entry.waiters) earliest = std::min(earliest, w.waiter->deadline);
  }
  return earliest;
}

void Coalescer::Core::OnCallDone(uint64_t call_id, FetchResult result) {
  Actions actions;
  {
    absl::MutexLock lock(&mutex_);
    auto it = calls_.find(call_id);
    if (it == calls_.end()) return;  // Shut down meanwhile.
    Call call = std::move(it->second);
    calls_.erase(it);
    KeyState& key = *call.key;
    --key.calls;
    if (!call.abandoned) {
      for (size_t position : call.sent) Unindex(key, call.entries[position].account, {call_id, position});
    }
    if (!result.cancelled) {
      PairAnswersWithAsked(
          call.sent.size(), [&](size_t i) -> absl::string_view { return call.entries[call.sent[i]].account; },
          result.outcomes.size(), [&](size_t k) -> absl::string_view { return result.outcomes[k].account; },
          [&](size_t i, size_t k) {
            Entry& entry = call.entries[call.sent[i]];
            if (!entry.waiters.empty()) Deliver(entry, std::move(result.outcomes[k]), actions);
          });
    }
    // Accounts still waiting: the call was cancelled under them, or (a broken inner fetcher) left them out.
    const Failure failure = result.cancelled ? CallCancelledFailure() : OmittedAccountFailure();
    for (Entry& entry : call.entries) {
      if (!entry.waiters.empty()) Deliver(entry, FailedOutcome(entry.account, failure), actions);
    }
    MaybeEraseKey(key);
  }
  Run(std::move(actions));
}

void Coalescer::Core::Send(Dispatch dispatch) {
  const uint64_t call_id = dispatch.call_id;
  if (options_.observer != nullptr) options_.observer->OnCallSent(static_cast<int64_t>(dispatch.accounts.size()));
  std::shared_ptr<Ticket> ticket =
      upstream_.Fetch(std::move(dispatch.accounts), std::move(dispatch.tags), dispatch.deadline,
                      [weak = weak_from_this(), call_id](FetchResult result) {
                        if (std::shared_ptr<Core> core = weak.lock()) core->OnCallDone(call_id, std::move(result));
                      });
  bool cancel = false;
  {
    absl::MutexLock lock(&mutex_);
    --sending_;
    auto it = calls_.find(call_id);
    if (it != calls_.end()) {  // Else it finished inline, or the coalescer is shutting down.
      if (it->second.abandoned) {
        cancel = true;
      } else {
        it->second.ticket = ticket;
      }
    }
  }
  if (cancel && ticket != nullptr) ticket->Cancel();
}

void Coalescer::Core::Run(Actions actions) {
  for (Dispatch& dispatch : actions.dispatches) Send(std::move(dispatch));
  for (std::shared_ptr<Ticket>& ticket : actions.cancels) ticket->Cancel();
  for (auto& [done, result] : actions.finishes) std::move(done)(std::move(result));
}

void Coalescer::Core::Cancel(uint64_t waiter_id) {
  Actions actions;
  {
    absl::MutexLock lock(&mutex_);
    auto it = waiters_.find(waiter_id);
    if (it == waiters_.end()) return;  // Already answered (or waiter_id is 0).
    Waiter& waiter = *it->second;
    KeyState& key = *waiter.key;
    Detach(waiter, actions);
    FetchResult result;
    result.cancelled = true;
    Complete(waiter, std::move(result), actions);
    MaybeEraseKey(key);
  }
  Run(std::move(actions));
}

void Coalescer::Core::Shutdown() {
  Actions actions;
  {
    absl::MutexLock lock(&mutex_);
    shut_down_ = true;
    // A Send in progress uses upstream_, which may die right after the Coalescer.
    mutex_.Await(absl::Condition(this, &Core::NothingSending));
    for (auto& [tags, key] : keys_) {
      if (key->timer_id != 0) timers_.Cancel(key->timer_id);
    }
    for (auto& [id, call] : calls_) {
      if (call.ticket != nullptr) actions.cancels.push_back(std::move(call.ticket));
    }
    for (auto& [id, waiter] : waiters_) {
      FetchResult result;
      result.cancelled = true;
      actions.finishes.emplace_back(std::move(waiter->done), std::move(result));
    }
    waiters_.clear();
    calls_.clear();
    batches_.clear();
    keys_.clear();
    pending_accounts_ = 0;
  }
  Run(std::move(actions));
}

Coalescer::Coalescer(ProfileFetcher& upstream, TimerQueue& timers, const Clock& clock, CoalescerOptions options)
    : core_(std::make_shared<Core>(upstream, timers, clock, std::move(options))) {}

Coalescer::~Coalescer() { core_->Shutdown(); }

std::shared_ptr<ProfileFetcher::Ticket> Coalescer::Fetch(std::vector<std::string> accounts,
                                                         std::vector<std::string> tags, absl::Time deadline,
                                                         Done done) {
  return core_->Fetch(std::move(accounts), std::move(tags), deadline, std::move(done));
}

int64_t Coalescer::PendingAccounts() const { return core_->PendingAccounts(); }

}  // namespace portrait_bridge

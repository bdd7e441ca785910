#include "bridge/service/upstream_client.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace portrait_bridge {

class UpstreamClient::CallImpl final : public UpstreamClient::Call, public std::enable_shared_from_this<CallImpl> {
 public:
  CallImpl(UpstreamClient& client, std::vector<std::string> accounts, std::vector<std::string> tags,
           absl::Time deadline, Done done)
      : client_(client), body_(BuildPortraitGetBody(accounts, tags)), deadline_(deadline), done_(std::move(done)) {}

  // Asks the budget for a slot, then sends at the granted time.
  void Start() {
    const absl::Duration until_deadline = deadline_ - client_.clock_.Now();
    if (until_deadline <= absl::ZeroDuration()) {
      Finish(UnlessRetrying(DeadlineOutcome()));
      return;
    }
    const absl::Duration max_wait = std::min(until_deadline, client_.options_.max_budget_wait);
    client_.budget_.Acquire(
        max_wait, [self = shared_from_this()](BudgetAnswer answer) { self->OnBudgetAnswer(std::move(answer)); });
  }

  void OnBudgetAnswer(BudgetAnswer answer) {
    {
      // Cancel() has finished the call already (a shared budget may answer late); the client may be gone.
      absl::MutexLock lock(&mutex_);
      if (finished_) return;
    }
    if (answer.ask_again_after.has_value()) {
      RunAfter(*answer.ask_again_after, &CallImpl::Start);  // Start checks the deadline.
      return;
    }
    if (!answer.grant.has_value()) {
      if (client_.observer_ != nullptr) client_.observer_->OnBudgetExhausted();
      Finish(UnlessRetrying(OutcomeOf(BudgetExhaustedFailure(answer.estimated_wait))));
      return;
    }
    grant_ = *answer.grant;
    const absl::Duration wait = grant_.send_at - client_.clock_.Now();
    if (wait <= absl::ZeroDuration()) {
      Send();
      return;
    }
    if (client_.observer_ != nullptr) client_.observer_->OnBudgetWait(wait);
    RunAfter(wait, &CallImpl::Send);
  }

  // Runs `step` on the timer queue after `wait`, unless cancelled.
  void RunAfter(absl::Duration wait, void (CallImpl::*step)()) {
    bool cancelled = false;
    {
      absl::MutexLock lock(&mutex_);
      cancelled = cancelled_;
      if (!cancelled) {
        timer_id_ = client_.timers_.RunAt(client_.clock_.Now() + wait, [self = shared_from_this(), step] {
          bool cancelled_meanwhile = false;
          {
            absl::MutexLock lock(&self->mutex_);
            self->timer_id_ = 0;
            cancelled_meanwhile = self->cancelled_;
          }
          if (cancelled_meanwhile) {
            self->Finish(CancelledOutcome());
            return;
          }
          ((*self).*step)();
        });
      }
    }
    // Either Cancel() has already finished the call, or it came while an answer was being read (a renewal or a
    // retry is starting) and left finishing to us; Finish runs `done` only once either way.
    if (cancelled) Finish(CancelledOutcome());
  }

  void Cancel() override {
    bool finish_now = false;
    {
      absl::MutexLock lock(&mutex_);
      if (finished_ || cancelled_) return;
      cancelled_ = true;
      if (http_id_ != 0) {
        client_.transport_.Cancel(http_id_);  // Its callback finishes the call.
      } else if (timer_id_ == 0 || client_.timers_.Cancel(timer_id_)) {
        finish_now = true;  // Not yet sent, and Send will not run.
      }
      // Otherwise the timer is firing right now: Send sees cancelled_ and finishes.
    }
    if (finish_now) Finish(CancelledOutcome());
  }

 private:
  static CallOutcome OutcomeOf(Failure failure) {
    CallOutcome outcome;
    outcome.failure = std::move(failure);
    return outcome;
  }

  static CallOutcome DeadlineOutcome() {
    Failure failure;
    failure.rule = {absl::StatusCode::kDeadlineExceeded, false, false, "DEADLINE_EXCEEDED",
                    "the caller's deadline passed"};
    failure.message = "the caller's deadline passed before the upstream call could be sent";
    return OutcomeOf(std::move(failure));
  }

  static CallOutcome CancelledOutcome() {
    CallOutcome outcome;
    outcome.cancelled = true;
    return outcome;
  }

  // A retry that cannot be sent (no budget, or the deadline passed while waiting) delivers the upstream failure
  // it was retrying, which says more than the reason the retry could not go out.
  CallOutcome UnlessRetrying(CallOutcome outcome) {
    if (!last_failure_.has_value()) return outcome;
    Failure failure = std::move(*last_failure_);
    last_failure_.reset();
    AppendAttempts(failure, retries_);
    return OutcomeOf(std::move(failure));
  }

  static void AppendAttempts(Failure& failure, int attempts) {
    absl::StrAppend(&failure.message, " (gave up after ", attempts, attempts == 1 ? " attempt)" : " attempts)");
  }

  static bool IsThrottling(const Failure& failure) {
    return IsThrottlingTencentCode(failure.tencent_code) || failure.http_status == 429;
  }

  // An attempt failed as a whole: retries it after a backoff when the policy allows, or delivers the failure.
  // `reason` (one of kRetryReasons) says why, should it be retried; throttling overrides it.
  void RetryOrFail(Failure failure, const char* reason) {
    const UpstreamOptions& options = client_.options_;
    if (client_.health_ != nullptr) client_.health_->OnAttemptFailed(failure);
    if (IsThrottling(failure)) {
      reason = "throttled";
      client_.budget_.OnThrottled();
      if (client_.observer_ != nullptr) client_.observer_->OnThrottled();
    }
    const int attempts = retries_ + 1;
    if (!failure.rule.retryable || failure.rule.ends_stream || attempts >= options.retry_max_attempts) {
      Deliver(std::move(failure), attempts);
      return;
    }
    const absl::Duration backoff =
        client_.NextJitter(BackoffBound(retries_ + 1, options.retry_initial_backoff, options.retry_max_backoff));
    const absl::Time retry_at = client_.clock_.Now() + backoff;
    // A retry that could not even start before the deadline only delays the answer. The budget is asked last,
    // so that a retry which does not happen spends no token.
    if (retry_at >= deadline_ || !client_.retry_budget_.TrySpend()) {
      Deliver(std::move(failure), attempts);
      return;
    }
    ++retries_;
    last_failure_ = std::move(failure);
    if (client_.observer_ != nullptr) client_.observer_->OnRetry(reason, backoff);
    RunAfter(backoff, &CallImpl::Start);  // Through the budget again: a retry is a call like any other.
  }

  void Deliver(Failure failure, int attempts) {
    if (attempts > 1) AppendAttempts(failure, attempts);
    last_failure_.reset();
    Finish(OutcomeOf(std::move(failure)));
  }

  void Send() {
    const absl::Time now = client_.clock_.Now();
    if (deadline_ - now <= absl::ZeroDuration()) {
      Finish(UnlessRetrying(DeadlineOutcome()));
      return;
    }
    // The attempt may outlive the caller's deadline by a moment, so that the caller's own deadline (which cancels
    // the transfer) decides, rather than a race between it and an attempt timeout set to the same instant.
    const absl::Duration timeout = std::min(client_.options_.attempt_timeout, deadline_ - now + kPastDeadline);
    const std::string usersig = client_.usersig_.Current();
    HttpRequest request;
    request.url = BuildPortraitGetUrl(client_.options_.base_url, client_.options_.sdkappid, client_.options_.identifier,
                                      usersig, client_.NextRandom());
    request.body = body_;
    request.timeout = timeout;
    // The slot is spent when the request is written to the connection, on the transport thread.
    request.before_send = [&budget = client_.budget_, grant = grant_] { return budget.ClaimAtSocket(grant); };
    bool cancelled = false;
    {
      absl::MutexLock lock(&mutex_);
      cancelled = cancelled_;
      timer_id_ = 0;
      if (!cancelled) {
        if (client_.observer_ != nullptr) client_.observer_->OnAttemptStarted();
        // The transport never runs the callback inside Send, so holding the lock here is safe.
        http_id_ = client_.transport_.Send(std::move(request),
                                           [self = shared_from_this(), usersig, started = now](HttpResult result) {
                                             self->OnHttpResult(std::move(result), usersig, started);
                                           });
      }
    }
    if (cancelled) Finish(CancelledOutcome());
  }

  void OnHttpResult(HttpResult result, const std::string& usersig, absl::Time started) {
    {
      absl::MutexLock lock(&mutex_);
      http_id_ = 0;
    }
    last_failure_.reset();  // The retry was sent and answered: its own outcome counts from here on.
    if (result.refused_before_send.has_value()) {
      // Nothing was sent: the budget's window was full, or its claim had gone stale, when the request was about to
      // be written. Not an attempt. A grant still good keeps the call's place (and its token): it tries the socket
      // again after the wait. An expired one asks the budget again.
      if (client_.observer_ != nullptr) client_.observer_->OnRefusedBeforeSend();
      const absl::Duration wait = *result.refused_before_send;
      if (client_.clock_.Now() + wait >= deadline_) {
        Finish(UnlessRetrying(DeadlineOutcome()));
      } else {
        RunAfter(wait, client_.budget_.Expired(grant_) ? &CallImpl::Start : &CallImpl::Send);
      }
      return;
    }
    const absl::Duration latency = client_.clock_.Now() - started;
    auto observe = [&](const std::string& code) {
      if (client_.observer_ != nullptr) client_.observer_->OnAttempt(code, latency);
    };
    if (result.cancelled) {
      observe("cancelled");
      Finish(CancelledOutcome());
      return;
    }
    if (result.failure.has_value()) {
      observe("transport_error");
      Failure failure;
      failure.rule = RuleForTransportFailure(*result.failure);
      failure.message = absl::StrCat(failure.rule.meaning, ": ", result.failure_detail);
      RetryOrFail(std::move(failure), "transport_error");
      return;
    }
    if (result.status != 200) {
      observe(absl::StrCat("http_", result.status));
      Failure failure;
      failure.rule = RuleForHttpStatus(result.status);
      failure.http_status = result.status;
      failure.message = absl::StrCat("upstream answered HTTP ", result.status, ": ", failure.rule.meaning);
      if (failure.rule.retryable) failure.retry_delay = absl::Seconds(1);
      RetryOrFail(std::move(failure), "http_error");
      return;
    }
    absl::StatusOr<PortraitGetAnswer> answer = ParsePortraitGetBody(result.body, client_.options_.tag_types);
    if (!answer.ok()) {
      observe("malformed_body");
      Failure failure;
      failure.rule = RuleForMalformedBody();
      failure.message = absl::StrCat(failure.rule.meaning, ": ", answer.status().message());
      RetryOrFail(std::move(failure), "malformed_body");
      return;
    }
    observe(absl::StrCat(answer->error_code));
    if (answer->error_code != 0) {
      if (IsUserSigRenewalCode(answer->error_code) && !renewed_) {
        renewed_ = true;
        client_.usersig_.RenewAfterRejection(usersig);
        if (client_.observer_ != nullptr) client_.observer_->OnUserSigRenewal();
        Start();
        return;
      }
      RetryOrFail(TencentFailure(answer->error_code, answer->error_info), "tencent_error");
      return;
    }
    if (client_.health_ != nullptr) client_.health_->OnAttemptAnswered();
    CallOutcome outcome;
    outcome.users = std::move(answer->users);
    Finish(std::move(outcome));
  }

  void Finish(CallOutcome outcome) {
    Done done;
    {
      absl::MutexLock lock(&mutex_);
      if (finished_) return;
      finished_ = true;
      done = std::move(done_);
    }
    std::move(done)(std::move(outcome));
  }

  static constexpr absl::Duration kPastDeadline = absl::Milliseconds(250);

  UpstreamClient& client_;
  const std::string body_;
  const absl::Time deadline_;
  // Touched only by the one thread that runs the call's current step (steps hand over through the transport's
  // and the timer queue's locks).
  bool renewed_ = false;
  BudgetGrant grant_;                    // The slot of the attempt being sent.
  int retries_ = 0;                      // Retries scheduled so far (the UserSig renewal is not one).
  std::optional<Failure> last_failure_;  // The failure being retried, until the retry is answered.

  absl::Mutex mutex_;
  Done done_ ABSL_GUARDED_BY(mutex_);
  bool finished_ ABSL_GUARDED_BY(mutex_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mutex_) = false;
  uint64_t timer_id_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t http_id_ ABSL_GUARDED_BY(mutex_) = 0;
};

UpstreamClient::UpstreamClient(HttpTransport& transport, AdminUserSig& usersig, Budget& budget, TimerQueue& timers,
                               const Clock& clock, UpstreamOptions options, UpstreamObserver* observer,
                               UpstreamHealth* health)
    : transport_(transport),
      usersig_(usersig),
      budget_(budget),
      timers_(timers),
      clock_(clock),
      options_(std::move(options)),
      observer_(observer),
      health_(health),
      retry_budget_(options_.retry_budget_ratio),
      random_(std::random_device{}()) {}

uint32_t UpstreamClient::NextRandom() {
  absl::MutexLock lock(&random_mutex_);
  return static_cast<uint32_t>(random_());
}

absl::Duration UpstreamClient::NextJitter(absl::Duration bound) {
  absl::MutexLock lock(&random_mutex_);
  return FullJitter(bound, random_);
}

std::shared_ptr<UpstreamClient::Call> UpstreamClient::Fetch(std::vector<std::string> accounts,
                                                            std::vector<std::string> tags, absl::Time deadline,
                                                            Done done) {
  auto call = std::make_shared<CallImpl>(*this, std::move(accounts), std::move(tags), deadline, std::move(done));
  retry_budget_.OnFirstAttempt();
  call->Start();
  return call;
}

}  // namespace portrait_bridge

#include "bridge/service/upstream_client.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace portrait_bridge {

class UpstreamClient::CallImpl final : public UpstreamClient::Call,
                                       public std::enable_shared_from_this<CallImpl> {
 public:
  CallImpl(UpstreamClient& client, std::vector<std::string> accounts, std::vector<std::string> tags,
           absl::Time deadline, Done done)
      : client_(client),
        body_(BuildPortraitGetBody(accounts, tags)),
        deadline_(deadline),
        done_(std::move(done)) {}

  // Waits for budget, then sends.
  void Start() {
    const absl::Duration until_deadline = deadline_ - client_.clock_.Now();
    if (until_deadline <= absl::ZeroDuration()) {
      Finish(DeadlineOutcome());
      return;
    }
    const absl::Duration max_wait = std::min(until_deadline, client_.options_.max_budget_wait);
    const std::optional<absl::Duration> wait = client_.limiter_.Reserve(max_wait);
    if (!wait.has_value()) {
      Failure failure;
      failure.rule = {absl::StatusCode::kResourceExhausted, true, false, "UPSTREAM_BUDGET_EXHAUSTED",
                      "the upstream call budget is exhausted"};
      failure.message =
          "the upstream call budget (upstream_calls_per_second) cannot serve this call before its deadline; "
          "retry later";
      failure.retry_delay = absl::Seconds(1);
      Finish(OutcomeOf(std::move(failure)));
      return;
    }
    if (*wait <= absl::ZeroDuration()) {
      Send();
      return;
    }
    if (client_.observer_ != nullptr) client_.observer_->OnBudgetWait(*wait);
    absl::MutexLock lock(&mutex_);
    if (cancelled_) return;  // Cancel() has already finished the call.
    timer_id_ = client_.timers_.RunAt(client_.clock_.Now() + *wait, [self = shared_from_this()] { self->Send(); });
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

  void Send() {
    const absl::Time now = client_.clock_.Now();
    const absl::Duration timeout = std::min(client_.options_.attempt_timeout, deadline_ - now);
    if (timeout <= absl::ZeroDuration()) {
      Finish(DeadlineOutcome());
      return;
    }
    const std::string usersig = client_.usersig_.Current();
    HttpRequest request;
    request.url = BuildPortraitGetUrl(client_.options_.base_url, client_.options_.sdkappid,
                                      client_.options_.identifier, usersig, client_.NextRandom());
    request.body = body_;
    request.timeout = timeout;
    bool cancelled = false;
    {
      absl::MutexLock lock(&mutex_);
      cancelled = cancelled_;
      timer_id_ = 0;
      if (!cancelled) {
        if (client_.observer_ != nullptr) client_.observer_->OnAttemptStarted();
        // The transport never runs the callback inside Send, so holding the lock here is safe.
        http_id_ = client_.transport_.Send(
            std::move(request), [self = shared_from_this(), usersig, started = now](HttpResult result) {
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
      Finish(OutcomeOf(std::move(failure)));
      return;
    }
    if (result.status != 200) {
      observe(absl::StrCat("http_", result.status));
      Failure failure;
      failure.rule = RuleForHttpStatus(result.status);
      failure.http_status = result.status;
      failure.message = absl::StrCat("upstream answered HTTP ", result.status, ": ", failure.rule.meaning);
      if (failure.rule.retryable) failure.retry_delay = absl::Seconds(1);
      Finish(OutcomeOf(std::move(failure)));
      return;
    }
    absl::StatusOr<PortraitGetAnswer> answer = ParsePortraitGetBody(result.body, client_.options_.tag_types);
    if (!answer.ok()) {
      observe("malformed_body");
      Failure failure;
      failure.rule = RuleForMalformedBody();
      failure.message = absl::StrCat(failure.rule.meaning, ": ", answer.status().message());
      Finish(OutcomeOf(std::move(failure)));
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
      Finish(OutcomeOf(TencentFailure(answer->error_code, answer->error_info)));
      return;
    }
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

  UpstreamClient& client_;
  const std::string body_;
  const absl::Time deadline_;
  bool renewed_ = false;  // Touched only by the one thread that runs the call's current step.

  absl::Mutex mutex_;
  Done done_ ABSL_GUARDED_BY(mutex_);
  bool finished_ ABSL_GUARDED_BY(mutex_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mutex_) = false;
  uint64_t timer_id_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t http_id_ ABSL_GUARDED_BY(mutex_) = 0;
};

UpstreamClient::UpstreamClient(HttpTransport& transport, AdminUserSig& usersig, RateLimiter& limiter,
                               TimerQueue& timers, const Clock& clock, UpstreamOptions options,
                               UpstreamObserver* observer)
    : transport_(transport),
      usersig_(usersig),
      limiter_(limiter),
      timers_(timers),
      clock_(clock),
      options_(std::move(options)),
      observer_(observer),
      random_(std::random_device{}()) {}

uint32_t UpstreamClient::NextRandom() {
  absl::MutexLock lock(&random_mutex_);
  return static_cast<uint32_t>(random_());
}

std::shared_ptr<UpstreamClient::Call> UpstreamClient::Fetch(std::vector<std::string> accounts,
                                                            std::vector<std::string> tags, absl::Time deadline,
                                                            Done done) {
  auto call = std::make_shared<CallImpl>(*this, std::move(accounts), std::move(tags), deadline, std::move(done));
  call->Start();
  return call;
}

}  // namespace portrait_bridge

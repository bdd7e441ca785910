#include "bridge/service/upstream_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "bridge/core/budget.h"
#include "bridge/core/rate_limiter.h"
#include "bridge/core/usersig.h"
#include "tests/unit/fake_clock.h"
#include "tests/unit/log_capture.h"

namespace portrait_bridge {
namespace {

using portraitbridge::profile::v1::ProfileItem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kBaseUrl[] = "https://adminapisgp.im.qcloud.com";
constexpr char kKey[] = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
constexpr char kAdmin[] = "administrator";
constexpr uint64_t kSdkAppId = 1400000000;

constexpr char kOkBody[] = R"({"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","UserProfileItem":[
    {"To_Account":"id1","ResultCode":0,"ProfileItem":[{"Tag":"Tag_Profile_IM_Nick","Value":"Nick1"},
                                                      {"Tag":"Tag_Profile_IM_Level","Value":3}]},
    {"To_Account":"id2","ResultCode":40006,"ResultInfo":"Err_Profile_PortraitGet_Read_Custom_Data_Fail"}],
  "Fail_Account":["id2"]})";
// The pacing of a local budget of 10 calls per second: a tenth of the limiter's pacing window.
const absl::Duration kInterval = RateLimiter::kPacingWindow / 10;
constexpr char kExpiredBody[] = R"({"ActionStatus":"FAIL","ErrorCode":70001,"ErrorInfo":"usersig expired"})";

// A transport that records requests and lets the test complete them, on the test's own thread. Like the real one
// it asks request.before_send at the moment of "writing"; a refused request is not recorded and is answered as
// refused from a thread of the fake's own (never inside Send).
class FakeTransport final : public HttpTransport {
 public:
  explicit FakeTransport(const Clock& clock) : clock_(clock) {}
  ~FakeTransport() override {
    for (std::thread& thread : refusals_) thread.join();
  }

  uint64_t Send(HttpRequest request, Callback done) override {
    absl::MutexLock lock(&mutex_);
    const uint64_t id = next_id_++;
    if (request.before_send) {
      if (std::optional<absl::Duration> refused = request.before_send(); refused.has_value()) {
        ++refusals_count_;
        refusals_.emplace_back([done = std::move(done), refused]() mutable {
          HttpResult result;
          result.refused_before_send = refused;
          std::move(done)(std::move(result));
        });
        return id;
      }
    }
    requests_.push_back(request);
    sent_at_.push_back(clock_.Now());
    pending_.push_back({id, std::move(done)});
    return id;
  }

  void Cancel(uint64_t id) override {
    absl::MutexLock lock(&mutex_);
    cancelled_.push_back(id);
  }

  /// Completes the oldest pending request with `result`; false if none is pending.
  bool CompleteNext(HttpResult result) {
    Callback done;
    {
      absl::MutexLock lock(&mutex_);
      if (pending_.empty()) return false;
      done = std::move(pending_.front().done);
      pending_.pop_front();
    }
    std::move(done)(std::move(result));
    return true;
  }

  bool CompleteNext(int status, std::string body) {
    HttpResult result;
    result.status = status;
    result.body = std::move(body);
    return CompleteNext(std::move(result));
  }

  std::vector<HttpRequest> requests() const {
    absl::MutexLock lock(&mutex_);
    return requests_;
  }
  std::vector<uint64_t> cancelled() const {
    absl::MutexLock lock(&mutex_);
    return cancelled_;
  }
  /// When each request was sent (by the clock), in request order.
  std::vector<absl::Time> sent_at() const {
    absl::MutexLock lock(&mutex_);
    return sent_at_;
  }
  size_t pending() const {
    absl::MutexLock lock(&mutex_);
    return pending_.size();
  }
  /// Waits until every refusal so far has been delivered (its callback has returned).
  void DeliverRefusals() {
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&mutex_);
      threads.swap(refusals_);
    }
    for (std::thread& thread : threads) thread.join();
  }

  int refusals() const {
    absl::MutexLock lock(&mutex_);
    return refusals_count_;
  }
  uint64_t last_id() const {
    absl::MutexLock lock(&mutex_);
    return next_id_ - 1;
  }

 private:
  struct Pending {
    uint64_t id;
    Callback done;
  };
  const Clock& clock_;
  mutable absl::Mutex mutex_;
  uint64_t next_id_ ABSL_GUARDED_BY(mutex_) = 1;
  std::vector<HttpRequest> requests_ ABSL_GUARDED_BY(mutex_);
  std::vector<absl::Time> sent_at_ ABSL_GUARDED_BY(mutex_);
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mutex_);
  std::vector<uint64_t> cancelled_ ABSL_GUARDED_BY(mutex_);
  int refusals_count_ ABSL_GUARDED_BY(mutex_) = 0;
  std::vector<std::thread> refusals_;  // Joined at destruction; only Send (under mutex_) adds to it.
};

// The real local budget, counting the slots asked for (Acquire). RefuseNextClaims makes the socket check refuse the
// next sends with a wait, as a full window would; with `expired` the refused grants count as expired, as a shared
// budget's stale slot does.
class CountingBudget final : public Budget {
 public:
  CountingBudget(double calls_per_second, int64_t burst, const Clock& clock) : local_(calls_per_second, burst, clock) {}

  void Acquire(absl::Duration max_wait, Done done) override {
    ++acquires_;
    local_.Acquire(max_wait, std::move(done));
  }
  std::optional<absl::Duration> ClaimAtSocket(const BudgetGrant& grant) override {
    {
      absl::MutexLock lock(&mutex_);
      if (refusals_left_ > 0) {
        --refusals_left_;
        return refusal_wait_;
      }
    }
    return local_.ClaimAtSocket(grant);
  }
  absl::Duration EstimatedWait() const override { return local_.EstimatedWait(); }
  absl::Duration SpareWait() const override { return local_.SpareWait(); }
  bool Expired(const BudgetGrant& /*grant*/) const override {
    absl::MutexLock lock(&mutex_);
    return expired_;
  }
  void OnThrottled() override { local_.OnThrottled(); }
  double EffectiveCallsPerSecond() const override { return local_.EffectiveCallsPerSecond(); }

  void RefuseNextClaims(int count, absl::Duration wait, bool expired) {
    absl::MutexLock lock(&mutex_);
    refusals_left_ = count;
    refusal_wait_ = wait;
    expired_ = expired;
  }
  int acquires() const { return acquires_; }

 private:
  LocalBudget local_;
  std::atomic<int> acquires_{0};
  mutable absl::Mutex mutex_;
  int refusals_left_ ABSL_GUARDED_BY(mutex_) = 0;
  absl::Duration refusal_wait_ ABSL_GUARDED_BY(mutex_);
  bool expired_ ABSL_GUARDED_BY(mutex_) = false;
};

// Records every run of a Done callback.
class DoneRecorder {
 public:
  UpstreamClient::Done Callback() {
    return [this](CallOutcome outcome) {
      absl::MutexLock lock(&mutex_);
      ++runs_;
      outcome_ = std::move(outcome);
    };
  }
  int runs() const {
    absl::MutexLock lock(&mutex_);
    return runs_;
  }
  CallOutcome outcome() const {
    absl::MutexLock lock(&mutex_);
    return outcome_;
  }

 private:
  mutable absl::Mutex mutex_;
  int runs_ ABSL_GUARDED_BY(mutex_) = 0;
  CallOutcome outcome_ ABSL_GUARDED_BY(mutex_);
};

class RecordingObserver final : public UpstreamObserver {
 public:
  void OnAttemptStarted() override { started_++; }
  void OnAttempt(const std::string& code, absl::Duration) override {
    absl::MutexLock lock(&mutex_);
    attempts_.push_back(code);
  }
  void OnBudgetWait(absl::Duration) override { budget_waits_++; }
  void OnUserSigRenewal() override { renewals_++; }
  void OnRetry(const char* reason, absl::Duration backoff) override {
    absl::MutexLock lock(&mutex_);
    reasons_.push_back(reason);
    backoffs_.push_back(backoff);
    retries_++;
  }
  void OnThrottled() override { throttled_++; }
  std::vector<std::string> reasons() const {
    absl::MutexLock lock(&mutex_);
    return reasons_;
  }
  std::vector<std::string> attempts() const {
    absl::MutexLock lock(&mutex_);
    return attempts_;
  }
  std::vector<absl::Duration> backoffs() const {
    absl::MutexLock lock(&mutex_);
    return backoffs_;
  }
  std::atomic<int> started_{0};
  std::atomic<int> budget_waits_{0};
  std::atomic<int> renewals_{0};
  std::atomic<int> retries_{0};
  std::atomic<int> throttled_{0};

 private:
  mutable absl::Mutex mutex_;
  std::vector<std::string> attempts_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::string> reasons_ ABSL_GUARDED_BY(mutex_);
  std::vector<absl::Duration> backoffs_ ABSL_GUARDED_BY(mutex_);
};

struct ParsedUrl {
  std::string path;  // Everything before '?'.
  std::map<std::string, std::string> query;
};

ParsedUrl ParseUrl(const std::string& url) {
  ParsedUrl parsed;
  const std::vector<std::string> parts = absl::StrSplit(url, absl::MaxSplits('?', 1));
  parsed.path = parts[0];
  if (parts.size() > 1) {
    for (absl::string_view pair : absl::StrSplit(parts[1], '&')) {
      const std::vector<std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
      parsed.query[kv[0]] = kv.size() > 1 ? kv[1] : "";
    }
  }
  return parsed;
}

// The UpstreamClient wired to fakes, with the real signer, local budget and timer queue, all on a fake clock: budget
// waits and retry backoffs run only when the test advances the clock, on the test's thread, so "not sent before T"
// is exact and everything a move makes happen has happened when Advance returns. Retries are off here (one
// attempt per call), so these tests see each failure as mapped; UpstreamClientRetryTest below turns them on.
class UpstreamClientTest : public ::testing::Test {
 protected:
  explicit UpstreamClientTest(double calls_per_second = 100000, int64_t burst = 100000,
                              UpstreamOptions options = Options())
      : usersig_(kKey, kAdmin, kSdkAppId, absl::Hours(24), clock_),
        budget_(calls_per_second, burst, clock_),
        client_(transport_, usersig_, budget_, timers_, clock_, std::move(options), &observer_) {}

  static UpstreamOptions Options() {
    UpstreamOptions options;
    options.base_url = kBaseUrl;
    options.sdkappid = kSdkAppId;
    options.identifier = kAdmin;
    options.attempt_timeout = absl::Seconds(5);
    options.max_budget_wait = absl::Seconds(10);
    options.retry_max_attempts = 1;
    return options;
  }

  std::shared_ptr<UpstreamClient::Call> Fetch(DoneRecorder& done, absl::Duration deadline = absl::Seconds(30)) {
    return client_.Fetch({"id1", "id2"}, {"Tag_Profile_IM_Nick", "Tag_Profile_IM_Level"}, clock_.Now() + deadline,
                         done.Callback());
  }

  // Runs one call whose single attempt ends with `result` and returns its failure.
  Failure FailureFor(HttpResult result) {
    DoneRecorder done;
    Fetch(done);
    EXPECT_TRUE(transport_.CompleteNext(std::move(result)));
    EXPECT_EQ(done.runs(), 1);
    EXPECT_EQ(transport_.requests().size(), 1u) << "this failure must not be retried by the client";
    const CallOutcome outcome = done.outcome();
    EXPECT_FALSE(outcome.cancelled);
    EXPECT_TRUE(outcome.failure.has_value());
    return outcome.failure.value_or(Failure{});
  }

  // A failure message is shown to callers: it must carry no UserSig and no upstream URL.
  void ExpectNoSecrets(const Failure& failure) {
    for (const HttpRequest& request : transport_.requests()) {
      EXPECT_THAT(failure.message, Not(HasSubstr(ParseUrl(request.url).query["usersig"])));
      EXPECT_THAT(failure.message, Not(HasSubstr(request.url)));
    }
    EXPECT_THAT(failure.message, Not(HasSubstr(usersig_.Current())));
    EXPECT_THAT(failure.message, Not(HasSubstr("usersig=")));
    EXPECT_THAT(failure.message, Not(HasSubstr(kBaseUrl)));
    EXPECT_THAT(failure.message, Not(HasSubstr(kKey)));
  }

  FakeClock clock_;
  FakeTransport transport_{clock_};
  AdminUserSig usersig_;
  CountingBudget budget_;
  RecordingObserver observer_;
  TimerQueue timers_{clock_};
  UpstreamClient client_;
};

TEST_F(UpstreamClientTest, SuccessSendsASignedRequestAndDeliversTheUsers) {
  DoneRecorder done;
  Fetch(done);
  ASSERT_EQ(transport_.requests().size(), 1u);
  EXPECT_EQ(done.runs(), 0) << "done must wait for the answer";

  const HttpRequest request = transport_.requests()[0];
  ParsedUrl url = ParseUrl(request.url);
  EXPECT_EQ(url.path, std::string(kBaseUrl) + "/v4/profile/portrait_get");
  EXPECT_EQ(url.query.size(), 5u) << request.url;
  EXPECT_EQ(url.query["sdkappid"], "1400000000");
  EXPECT_EQ(url.query["identifier"], kAdmin);
  EXPECT_EQ(url.query["contenttype"], "json");
  uint32_t random = 0;
  EXPECT_TRUE(absl::SimpleAtoi(url.query["random"], &random)) << url.query["random"];
  EXPECT_EQ(url.query["usersig"], usersig_.Current());
  const absl::StatusOr<DecodedUserSig> decoded = DecodeUserSig(url.query["usersig"]);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->fields.identifier, kAdmin);
  EXPECT_EQ(decoded->fields.sdkappid, kSdkAppId);
  EXPECT_TRUE(UserSigSignatureMatches(kKey, *decoded));

  const nlohmann::json body = nlohmann::json::parse(request.body);
  EXPECT_EQ(body.at("To_Account"), nlohmann::json({"id1", "id2"}));
  EXPECT_EQ(body.at("TagList"), nlohmann::json({"Tag_Profile_IM_Nick", "Tag_Profile_IM_Level"}));
  EXPECT_GT(request.timeout, absl::ZeroDuration());
  EXPECT_LE(request.timeout, absl::Seconds(5));

  ASSERT_TRUE(transport_.CompleteNext(200, kOkBody));
  ASSERT_EQ(done.runs(), 1);
  const CallOutcome outcome = done.outcome();
  EXPECT_FALSE(outcome.cancelled);
  EXPECT_FALSE(outcome.failure.has_value());
  ASSERT_EQ(outcome.users.size(), 2u);
  EXPECT_EQ(outcome.users[0].account, "id1");
  ASSERT_EQ(outcome.users[0].items().size(), 2u);
  EXPECT_EQ(outcome.users[0].items()[0].string_value(), "Nick1");
  EXPECT_EQ(outcome.users[0].items()[1].value_case(), ProfileItem::kUintValue);
  EXPECT_EQ(outcome.users[0].items()[1].uint_value(), 3u);
  EXPECT_EQ(outcome.users[1].account, "id2");
  EXPECT_EQ(outcome.users[1].result_code, 40006);
  EXPECT_EQ(observer_.attempts(), std::vector<std::string>{"0"});
  EXPECT_EQ(observer_.started_.load(), 1);
  EXPECT_EQ(usersig_.signatures(), 1);
}

// The attempt ends a quarter second after the caller's deadline at the latest: the caller's deadline decides (and
// cancels the transfer), not an attempt timeout racing it at the same instant.
TEST_F(UpstreamClientTest, AttemptTimeoutIsCappedJustPastTheDeadline) {
  DoneRecorder done;
  Fetch(done, absl::Seconds(1));
  ASSERT_EQ(transport_.requests().size(), 1u);
  EXPECT_GT(transport_.requests()[0].timeout, absl::Seconds(1));
  EXPECT_LE(transport_.requests()[0].timeout, absl::Milliseconds(1250));
}

TEST_F(UpstreamClientTest, RandomDiffersBetweenCallsAndUserSigIsReused) {
  std::set<std::string> randoms;
  std::set<std::string> usersigs;
  std::vector<std::unique_ptr<DoneRecorder>> dones;
  for (int i = 0; i < 5; ++i) {
    dones.push_back(std::make_unique<DoneRecorder>());
    Fetch(*dones.back());
  }
  for (const HttpRequest& request : transport_.requests()) {
    ParsedUrl url = ParseUrl(request.url);
    randoms.insert(url.query["random"]);
    usersigs.insert(url.query["usersig"]);
  }
  EXPECT_EQ(randoms.size(), 5u);
  EXPECT_EQ(usersigs.size(), 1u);
  EXPECT_EQ(usersig_.signatures(), 1);
  while (transport_.CompleteNext(200, kOkBody)) {
  }
  for (const auto& done : dones) EXPECT_EQ(done->runs(), 1);
}

TEST_F(UpstreamClientTest, ExpiredUserSigIsRenewedAndTheCallRetriedOnce) {
  DoneRecorder done;
  Fetch(done);
  ASSERT_TRUE(transport_.CompleteNext(200, kExpiredBody));
  EXPECT_EQ(done.runs(), 0) << "a 70001 must be retried, not reported";
  ASSERT_EQ(transport_.requests().size(), 2u);
  const std::string first_sig = ParseUrl(transport_.requests()[0].url).query["usersig"];
  const std::string second_sig = ParseUrl(transport_.requests()[1].url).query["usersig"];
  EXPECT_NE(first_sig, second_sig);
  EXPECT_EQ(second_sig, usersig_.Current());
  EXPECT_EQ(usersig_.signatures(), 2);
  EXPECT_EQ(transport_.requests()[1].body, transport_.requests()[0].body);
  EXPECT_NE(ParseUrl(transport_.requests()[1].url).query["random"],
            ParseUrl(transport_.requests()[0].url).query["random"]);

  ASSERT_TRUE(transport_.CompleteNext(200, kOkBody));
  ASSERT_EQ(done.runs(), 1);
  const CallOutcome outcome = done.outcome();
  EXPECT_FALSE(outcome.failure.has_value());
  EXPECT_EQ(outcome.users.size(), 2u);
  EXPECT_EQ(observer_.attempts(), (std::vector<std::string>{"70001", "0"}));
  EXPECT_EQ(observer_.started_.load(), 2);
  EXPECT_EQ(observer_.renewals_.load(), 1);
}

TEST_F(UpstreamClientTest, InvalidatedUserSigIsRenewedToo) {
  DoneRecorder done;
  Fetch(done);
  ASSERT_TRUE(transport_.CompleteNext(200, R"({"ActionStatus":"FAIL","ErrorCode":70052,"ErrorInfo":"x"})"));
  ASSERT_EQ(transport_.requests().size(), 2u);
  ASSERT_TRUE(transport_.CompleteNext(200, kOkBody));
  ASSERT_EQ(done.runs(), 1);
  EXPECT_FALSE(done.outcome().failure.has_value());
}

TEST_F(UpstreamClientTest, ExpiredTwiceFailsTheStreamWithoutASecondRetry) {
  DoneRecorder done;
  Fetch(done);
  ASSERT_TRUE(transport_.CompleteNext(200, kExpiredBody));
  ASSERT_TRUE(transport_.CompleteNext(200, kExpiredBody));
  EXPECT_EQ(transport_.requests().size(), 2u);
  EXPECT_EQ(transport_.pending(), 0u);
  ASSERT_EQ(done.runs(), 1);
  const CallOutcome outcome = done.outcome();
  ASSERT_TRUE(outcome.failure.has_value());
  EXPECT_EQ(outcome.failure->tencent_code, 70001);
  EXPECT_EQ(outcome.failure->tencent_info, "usersig expired");
  EXPECT_TRUE(outcome.failure->rule.ends_stream);
  EXPECT_EQ(outcome.failure->rule.grpc_code, absl::StatusCode::kFailedPrecondition);
  ExpectNoSecrets(*outcome.failure);
}

TEST_F(UpstreamClientTest, OtherTencentErrorIsReportedWithoutRetry) {
  HttpResult result;
  result.status = 200;
  result.body = R"({"ActionStatus":"FAIL","ErrorCode":70009,"ErrorInfo":"verify failed"})";
  const Failure failure = FailureFor(std::move(result));
  EXPECT_EQ(failure.tencent_code, 70009);
  EXPECT_EQ(usersig_.signatures(), 1) << "only 70001/70052 renew the UserSig";
  ExpectNoSecrets(failure);
}

TEST_F(UpstreamClientTest, Http502IsUnavailableWithTheStatus) {
  HttpResult result;
  result.status = 502;
  result.body = "<html><body><h1>502 Bad Gateway</h1></body></html>";
  const Failure failure = FailureFor(std::move(result));
  EXPECT_EQ(failure.rule.grpc_code, absl::StatusCode::kUnavailable);
  EXPECT_EQ(failure.http_status, 502);
  EXPECT_EQ(failure.tencent_code, 0);
  ExpectNoSecrets(failure);
}

TEST_F(UpstreamClientTest, TransportTimeoutIsUnavailableUpstreamTimeout) {
  HttpResult result;
  result.failure = TransportFailure::kTimeout;
  result.failure_detail = "Operation timed out after 5000 milliseconds with 0 bytes received";
  const Failure failure = FailureFor(std::move(result));
  EXPECT_EQ(failure.rule.grpc_code, absl::StatusCode::kUnavailable);
  EXPECT_EQ(failure.rule.reason, "UPSTREAM_TIMEOUT");
  EXPECT_TRUE(failure.rule.retryable);
  ExpectNoSecrets(failure);
}

TEST_F(UpstreamClientTest, NonJsonBodyIsMalformedBody) {
  HttpResult result;
  result.status = 200;
  result.body = "<html>maintenance</html>";
  const Failure failure = FailureFor(std::move(result));
  EXPECT_EQ(failure.rule.reason, "UPSTREAM_MALFORMED_BODY");
  EXPECT_EQ(failure.rule.grpc_code, absl::StatusCode::kUnavailable);
  ExpectNoSecrets(failure);
}

TEST_F(UpstreamClientTest, CancelAbortsTheRequestAndFinishesOnceAsCancelled) {
  DoneRecorder done;
  std::shared_ptr<UpstreamClient::Call> call = Fetch(done);
  const uint64_t http_id = transport_.last_id();
  call->Cancel();
  EXPECT_EQ(transport_.cancelled(), std::vector<uint64_t>{http_id});

  HttpResult cancelled;
  cancelled.cancelled = true;
  ASSERT_TRUE(transport_.CompleteNext(std::move(cancelled)));  // The transport's answer to Cancel.
  ASSERT_EQ(done.runs(), 1);
  EXPECT_TRUE(done.outcome().cancelled);
  EXPECT_FALSE(done.outcome().failure.has_value());

  call->Cancel();
  EXPECT_EQ(done.runs(), 1);
  EXPECT_EQ(transport_.cancelled().size(), 1u);
}

TEST_F(UpstreamClientTest, CancelAfterDoneDoesNothing) {
  DoneRecorder done;
  std::shared_ptr<UpstreamClient::Call> call = Fetch(done);
  ASSERT_TRUE(transport_.CompleteNext(200, kOkBody));
  call->Cancel();
  EXPECT_EQ(done.runs(), 1);
  EXPECT_FALSE(done.outcome().cancelled);
  EXPECT_TRUE(transport_.cancelled().empty());
}

TEST_F(UpstreamClientTest, CancelRacingWithTheAnswerFinishesExactlyOnce) {
  for (int i = 0; i < 200; ++i) {
    DoneRecorder done;
    std::shared_ptr<UpstreamClient::Call> call = Fetch(done);
    std::thread answer([this] { transport_.CompleteNext(200, kOkBody); });
    call->Cancel();
    answer.join();
    ASSERT_EQ(done.runs(), 1) << "iteration " << i;
  }
}

TEST_F(UpstreamClientTest, ARequestRefusedAtTheSocketKeepsItsGrantAndTriesAgainAfterTheWait) {
  constexpr absl::Duration kWait = absl::Milliseconds(50);
  budget_.RefuseNextClaims(1, kWait, /*expired=*/false);
  DoneRecorder done;
  const absl::Time start = clock_.Now();
  Fetch(done);
  transport_.DeliverRefusals();
  EXPECT_EQ(transport_.refusals(), 1);
  EXPECT_TRUE(transport_.requests().empty());
  clock_.Advance(kWait - absl::Milliseconds(1));
  EXPECT_TRUE(transport_.requests().empty()) << "1 ms before the window frees up";
  clock_.Advance(absl::Milliseconds(1));
  ASSERT_EQ(transport_.requests().size(), 1u);
  EXPECT_EQ(transport_.sent_at()[0] - start, kWait);
  EXPECT_EQ(budget_.acquires(), 1) << "the refused call keeps its place: it must not spend a second slot";
  ASSERT_TRUE(transport_.CompleteNext(200, kOkBody));
  EXPECT_EQ(done.runs(), 1);
  EXPECT_FALSE(done.outcome().failure.has_value());
}

TEST_F(UpstreamClientTest, AnExpiredGrantRefusedAtTheSocketAsksTheBudgetAgain) {
  budget_.RefuseNextClaims(1, absl::ZeroDuration(), /*expired=*/true);
  DoneRecorder done;
  Fetch(done);
  transport_.DeliverRefusals();
  clock_.Advance(absl::ZeroDuration());  // The new ask is due at once.
  ASSERT_EQ(transport_.requests().size(), 1u);
  EXPECT_EQ(budget_.acquires(), 2);
  ASSERT_TRUE(transport_.CompleteNext(200, kOkBody));
  EXPECT_EQ(done.runs(), 1);
}

// A local budget of one call per second with a burst of one.
class UpstreamClientBudgetTest : public UpstreamClientTest {
 protected:
  UpstreamClientBudgetTest() : UpstreamClientTest(1, 1) {}
};

TEST_F(UpstreamClientBudgetTest, NoBudgetBeforeTheDeadlineFailsAtOnceWithResourceExhausted) {
  DoneRecorder first;
  Fetch(first);
  ASSERT_EQ(transport_.requests().size(), 1u);

  DoneRecorder second;
  Fetch(second, absl::Milliseconds(100));
  ASSERT_EQ(second.runs(), 1) << "the failure must be delivered inline, without waiting";
  const CallOutcome outcome = second.outcome();
  ASSERT_TRUE(outcome.failure.has_value());
  EXPECT_EQ(outcome.failure->rule.grpc_code, absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(outcome.failure->rule.retryable);
  EXPECT_GT(outcome.failure->retry_delay, absl::ZeroDuration());
  EXPECT_EQ(transport_.requests().size(), 1u) << "no request may be sent for the refused call";
  ExpectNoSecrets(*outcome.failure);

  ASSERT_TRUE(transport_.CompleteNext(200, kOkBody));
  EXPECT_EQ(first.runs(), 1);
}

// A local budget of ten calls per second with a burst of one: the second call waits one interval (a tenth of the
// limiter's pacing window, 102.2 ms) on the timer queue.
class UpstreamClientBudgetWaitTest : public UpstreamClientTest {
 protected:
  UpstreamClientBudgetWaitTest() : UpstreamClientTest(10, 1) {}
};

TEST_F(UpstreamClientBudgetWaitTest, CallWaitsForBudgetOffTheCallersThreadThenSends) {
  DoneRecorder first;
  Fetch(first);
  DoneRecorder second;
  const absl::Time start = clock_.Now();
  Fetch(second);
  EXPECT_EQ(transport_.requests().size(), 1u) << "the second call must wait for budget";
  EXPECT_EQ(second.runs(), 0);
  EXPECT_EQ(observer_.budget_waits_.load(), 1);

  clock_.Advance(kInterval - absl::Milliseconds(1));
  EXPECT_EQ(transport_.requests().size(), 1u) << "1 ms before the budget allows it";
  clock_.Advance(absl::Milliseconds(1));
  ASSERT_EQ(transport_.requests().size(), 2u);
  EXPECT_EQ(transport_.sent_at()[1] - start, kInterval);
  while (transport_.pending() > 0) transport_.CompleteNext(200, kOkBody);
  EXPECT_EQ(first.runs(), 1);
  EXPECT_EQ(second.runs(), 1);
  EXPECT_FALSE(second.outcome().failure.has_value());
}

TEST_F(UpstreamClientBudgetWaitTest, CancelWhileWaitingForBudgetFinishesAtOnceAndSendsNothing) {
  DoneRecorder first;
  Fetch(first);
  DoneRecorder second;
  std::shared_ptr<UpstreamClient::Call> call = Fetch(second);
  call->Cancel();
  ASSERT_EQ(second.runs(), 1);
  EXPECT_TRUE(second.outcome().cancelled);

  // Well past the moment the budget would have allowed the send: still nothing sent.
  clock_.Advance(3 * kInterval);
  EXPECT_EQ(transport_.requests().size(), 1u);
  EXPECT_EQ(second.runs(), 1);
  EXPECT_TRUE(transport_.cancelled().empty());
  ASSERT_TRUE(transport_.CompleteNext(200, kOkBody));
}

// ---------------------------------------------------------------------------------------------------------------
// Retries.

HttpResult HttpStatus(int status, std::string body = "<html><body><h1>error</h1></body></html>") {
  HttpResult result;
  result.status = status;
  result.body = std::move(body);
  return result;
}

HttpResult TencentError(int64_t code) {
  return HttpStatus(200, absl::StrCat(R"({"ActionStatus":"FAIL","ErrorCode":)", code, R"(,"ErrorInfo":"x"})"));
}

HttpResult Transport(TransportFailure failure) {
  HttpResult result;
  result.failure = failure;
  result.failure_detail = "detail";
  return result;
}

HttpResult Ok() { return HttpStatus(200, kOkBody); }

// Retries on (three attempts, backoffs of at most 10, 20, 40 ms), an unlimited rate.
class UpstreamClientRetryTest : public UpstreamClientTest {
 protected:
  static UpstreamOptions RetryOptions(int attempts = 3, absl::Duration initial = absl::Milliseconds(10),
                                      absl::Duration max = absl::Milliseconds(40), double ratio = 0.2) {
    UpstreamOptions options = Options();
    options.retry_max_attempts = attempts;
    options.retry_initial_backoff = initial;
    options.retry_max_backoff = max;
    options.retry_budget_ratio = ratio;
    return options;
  }

  explicit UpstreamClientRetryTest(UpstreamOptions options = RetryOptions(), double calls_per_second = 100000,
                                   int64_t burst = 100000)
      : UpstreamClientTest(calls_per_second, burst, std::move(options)) {}

  // Moves the clock by the backoff drawn last, which sends that retry when the budget has room.
  void WaitOutTheLastBackoff() {
    ASSERT_FALSE(observer_.backoffs().empty()) << "no retry was scheduled";
    clock_.Advance(observer_.backoffs().back());
  }

  // Answers attempt number `n` (counting every request of the test), the oldest pending one. When `n` is a retry
  // not sent yet, first waits out its backoff on the clock.
  void Answer(size_t n, HttpResult result) {
    if (transport_.requests().size() + 1 == n && !observer_.backoffs().empty()) WaitOutTheLastBackoff();
    ASSERT_EQ(transport_.requests().size(), n) << "attempt " << n << " was not sent";
    ASSERT_TRUE(transport_.CompleteNext(std::move(result)));
  }

  // Longer than any backoff of RetryOptions(): a retry that was going to be sent has been sent by then.
  void WaitOutTheBackoffs() { clock_.Advance(absl::Milliseconds(150)); }
};

TEST_F(UpstreamClientRetryTest, TransientFailureThenSuccessTakesTwoAttemptsAndFinishesOnce) {
  DoneRecorder done;
  Fetch(done);
  Answer(1, HttpStatus(502));
  EXPECT_EQ(done.runs(), 0) << "a 502 must be retried, not reported";
  Answer(2, Ok());
  ASSERT_EQ(done.runs(), 1);
  const CallOutcome outcome = done.outcome();
  EXPECT_FALSE(outcome.failure.has_value());
  EXPECT_EQ(outcome.users.size(), 2u);

  WaitOutTheBackoffs();
  EXPECT_EQ(done.runs(), 1);
  const std::vector<HttpRequest> requests = transport_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].body, requests[0].body);
  EXPECT_NE(ParseUrl(requests[1].url).query["random"], ParseUrl(requests[0].url).query["random"]);
  EXPECT_EQ(observer_.attempts(), (std::vector<std::string>{"http_502", "0"}));
  EXPECT_EQ(observer_.retries_.load(), 1);
  EXPECT_EQ(observer_.reasons(), (std::vector<std::string>{"http_error"}));
  EXPECT_EQ(observer_.throttled_.load(), 0);
}

TEST_F(UpstreamClientRetryTest, EveryTransientFailureIsRetried) {
  const std::vector<std::pair<std::string, HttpResult>> transient = {
      {"502", HttpStatus(502)},
      {"503", HttpStatus(503)},
      {"408", HttpStatus(408)},
      {"429", HttpStatus(429)},
      {"malformed body", HttpStatus(200, "<html>maintenance</html>")},
      {"truncated body", HttpStatus(200, R"({"ActionStatus":"OK","ErrorCode":0,"UserProf)")},
      {"timeout", Transport(TransportFailure::kTimeout)},
      {"connect", Transport(TransportFailure::kConnect)},
      {"connection lost", Transport(TransportFailure::kConnectionLost)},
      {"other transport", Transport(TransportFailure::kOther)},
      {"40006", TencentError(40006)},
      {"60008", TencentError(60008)},
      {"60013", TencentError(60013)},
      {"70169", TencentError(70169)},
      {"70500", TencentError(70500)},
  };
  size_t sent = 0;
  for (const auto& [name, result] : transient) {
    SCOPED_TRACE(name);
    DoneRecorder done;
    Fetch(done);
    Answer(++sent, result);
    EXPECT_EQ(done.runs(), 0);
    Answer(++sent, Ok());
    ASSERT_EQ(done.runs(), 1);
    EXPECT_FALSE(done.outcome().failure.has_value());
    EXPECT_EQ(done.runs(), 1);
  }
}

TEST_F(UpstreamClientRetryTest, AlwaysFailingMakesExactlyMaxAttemptsThenDeliversTheLastFailure) {
  DoneRecorder done;
  Fetch(done);
  Answer(1, HttpStatus(502));
  Answer(2, Transport(TransportFailure::kConnectionLost));
  Answer(3, Transport(TransportFailure::kTimeout));
  ASSERT_EQ(done.runs(), 1) << "the third failure is the last: delivered at once";
  const CallOutcome outcome = done.outcome();
  ASSERT_TRUE(outcome.failure.has_value());
  EXPECT_EQ(outcome.failure->rule.reason, "UPSTREAM_TIMEOUT");
  EXPECT_EQ(outcome.failure->rule.grpc_code, absl::StatusCode::kUnavailable);
  EXPECT_THAT(outcome.failure->message, HasSubstr("after 3 attempts"));
  ExpectNoSecrets(*outcome.failure);

  WaitOutTheBackoffs();
  EXPECT_EQ(transport_.requests().size(), 3u);
  EXPECT_EQ(done.runs(), 1);
  EXPECT_EQ(observer_.retries_.load(), 2);
}

TEST_F(UpstreamClientRetryTest, NonRetryableFailuresTakeOneAttempt) {
  const std::vector<std::pair<std::string, HttpResult>> final_failures = {
      {"40001", TencentError(40001)},
      {"40009", TencentError(40009)},
      {"60003", TencentError(60003)},
      {"70009 (ends the stream)", TencentError(70009)},
      {"70050 (retryable, but ends the stream)", TencentError(70050)},
      {"60020 (ends the stream)", TencentError(60020)},
      {"an unknown code", TencentError(99999)},
      {"HTTP 404", HttpStatus(404)},
      {"TLS verification", Transport(TransportFailure::kTlsVerification)},
      {"bad configuration", Transport(TransportFailure::kBadConfiguration)},
  };
  size_t sent = 0;
  for (const auto& [name, result] : final_failures) {
    SCOPED_TRACE(name);
    DoneRecorder done;
    Fetch(done);
    Answer(++sent, result);
    ASSERT_EQ(done.runs(), 1) << "delivered at once, without a backoff";
    EXPECT_TRUE(done.outcome().failure.has_value());
    EXPECT_THAT(done.outcome().failure->message, Not(HasSubstr("attempts")));
  }
  WaitOutTheBackoffs();
  EXPECT_EQ(transport_.requests().size(), sent);
  EXPECT_EQ(observer_.retries_.load(), 0);
}

TEST_F(UpstreamClientRetryTest, PerAccountFailuresInAnOkAnswerAreNotRetriedHere) {
  DoneRecorder done;
  Fetch(done);
  Answer(1, Ok());  // id2 carries ResultCode 40006: the call itself succeeded.
  ASSERT_EQ(done.runs(), 1);
  EXPECT_FALSE(done.outcome().failure.has_value());
  WaitOutTheBackoffs();
  EXPECT_EQ(transport_.requests().size(), 1u);
}

TEST_F(UpstreamClientRetryTest, RenewalAndRetriesCompose) {
  DoneRecorder done;
  Fetch(done);
  Answer(1, HttpStatus(200, kExpiredBody));  // Renewed and resent at once: not a retry.
  Answer(2, HttpStatus(503));                // A retry.
  Answer(3, Ok());
  ASSERT_EQ(done.runs(), 1);
  EXPECT_FALSE(done.outcome().failure.has_value());
  EXPECT_EQ(observer_.renewals_.load(), 1);
  EXPECT_EQ(observer_.retries_.load(), 1);
  EXPECT_EQ(transport_.requests().size(), 3u);
  EXPECT_EQ(ParseUrl(transport_.requests()[2].url).query["usersig"], usersig_.Current());
}

TEST_F(UpstreamClientRetryTest, CancelDuringTheBackoffFinishesAtOnceAndSendsNothingMore) {
  // A long backoff: the cancel lands inside it.
  UpstreamClient client(transport_, usersig_, budget_, timers_, clock_, RetryOptions(3, absl::Hours(1), absl::Hours(1)),
                        &observer_);
  DoneRecorder done;
  std::shared_ptr<UpstreamClient::Call> call =
      client.Fetch({"id1"}, {"Tag_Profile_IM_Nick"}, clock_.Now() + absl::Hours(2), done.Callback());
  Answer(1, HttpStatus(502));
  ASSERT_EQ(done.runs(), 0);
  EXPECT_EQ(observer_.retries_.load(), 1);
  call->Cancel();
  ASSERT_EQ(done.runs(), 1);
  EXPECT_TRUE(done.outcome().cancelled);
  call->Cancel();
  EXPECT_EQ(done.runs(), 1);
  clock_.Advance(absl::Hours(2));  // Past any backoff this call could have drawn.
  EXPECT_EQ(transport_.requests().size(), 1u);
  EXPECT_TRUE(transport_.cancelled().empty()) << "nothing was in flight";
}

TEST_F(UpstreamClientRetryTest, DeadlineShorterThanTheBackoffDeliversTheFailureAtOnce) {
  // Backoffs drawn from [0, 1 h] against a 2 s deadline: a draw that fits has a chance of about 1 in 2000... so
  // the bound is made absurd instead: 1000 h makes it about one in two million.
  UpstreamClient client(transport_, usersig_, budget_, timers_, clock_,
                        RetryOptions(3, absl::Hours(1000), absl::Hours(1000)), &observer_);
  DoneRecorder done;
  client.Fetch({"id1"}, {"Tag_Profile_IM_Nick"}, clock_.Now() + absl::Seconds(2), done.Callback());
  Answer(1, HttpStatus(502));
  ASSERT_EQ(done.runs(), 1) << "no sleeping past the deadline: the failure comes at once";
  ASSERT_TRUE(done.outcome().failure.has_value());
  EXPECT_EQ(done.outcome().failure->http_status, 502);
  EXPECT_EQ(observer_.retries_.load(), 0);
  EXPECT_EQ(transport_.requests().size(), 1u);
}

TEST_F(UpstreamClientRetryTest, ARetryBudgetRatioOfZeroNeverRetries) {
  UpstreamClient client(transport_, usersig_, budget_, timers_, clock_,
                        RetryOptions(3, absl::Milliseconds(10), absl::Milliseconds(40), 0), &observer_);
  for (int i = 0; i < 20; ++i) {
    DoneRecorder done;
    client.Fetch({"id1"}, {"Tag_Profile_IM_Nick"}, clock_.Now() + absl::Seconds(30), done.Callback());
    Answer(i + 1, HttpStatus(502));
    ASSERT_EQ(done.runs(), 1);
    EXPECT_EQ(done.outcome().failure->http_status, 502);
  }
  WaitOutTheBackoffs();
  EXPECT_EQ(transport_.requests().size(), 20u);
  EXPECT_EQ(observer_.retries_.load(), 0);
}

// The budget is one bucket for all calls: with a ratio of 0.05 it holds 10 tokens, so when 12 calls fail at once
// 10 are retried and 2 get their failure at once.
TEST_F(UpstreamClientRetryTest, TheRetryBudgetIsSharedByAllCallsAndBoundsTheRetries) {
  UpstreamClient client(transport_, usersig_, budget_, timers_, clock_,
                        RetryOptions(3, absl::Milliseconds(10), absl::Milliseconds(40), 0.05), &observer_);
  constexpr int kCalls = 12;
  std::vector<std::unique_ptr<DoneRecorder>> dones;
  for (int i = 0; i < kCalls; ++i) {
    dones.push_back(std::make_unique<DoneRecorder>());
    client.Fetch({absl::StrCat("id", i)}, {"Tag_Profile_IM_Nick"}, clock_.Now() + absl::Seconds(30),
                 dones.back()->Callback());
  }
  for (int i = 0; i < kCalls; ++i) ASSERT_TRUE(transport_.CompleteNext(HttpStatus(502)));
  auto finished = [&] {
    int n = 0;
    for (const auto& done : dones) n += done->runs();
    return n;
  };
  EXPECT_EQ(finished(), 2) << "no token left for the last two";
  EXPECT_EQ(observer_.retries_.load(), 10);
  clock_.Advance(absl::Milliseconds(40));  // The longest backoff of these options.
  ASSERT_EQ(transport_.requests().size(), static_cast<size_t>(kCalls + 10));
  while (transport_.CompleteNext(Ok())) {
  }
  int ok = 0;
  for (const auto& done : dones) {
    EXPECT_EQ(done->runs(), 1);
    if (!done->outcome().failure.has_value()) ++ok;
  }
  EXPECT_EQ(ok, 10);
  WaitOutTheBackoffs();
  EXPECT_EQ(transport_.requests().size(), static_cast<size_t>(kCalls + 10));
}

// Four attempts with backoffs of at most 10, 20 and 30 ms (40 capped at 30), over 15 calls that fail three times
// each: every drawn backoff is within [0, its bound], each retry is sent exactly when its backoff ends (not a
// microsecond before), and the draws are spread over the range (full jitter).
TEST_F(UpstreamClientRetryTest, BackoffDelaysStayWithinTheirBounds) {
  UpstreamClient client(transport_, usersig_, budget_, timers_, clock_,
                        RetryOptions(4, absl::Milliseconds(10), absl::Milliseconds(30), 1.0), &observer_);
  const absl::Duration bounds[] = {absl::Milliseconds(10), absl::Milliseconds(20), absl::Milliseconds(30)};
  std::vector<double> fractions;
  size_t sent = 0;
  for (int call = 0; call < 15; ++call) {
    DoneRecorder done;
    client.Fetch({"id1"}, {"Tag_Profile_IM_Nick"}, clock_.Now() + absl::Seconds(30), done.Callback());
    for (int retry = 0; retry < 3; ++retry) {
      SCOPED_TRACE(absl::StrCat("call ", call, ", retry ", retry + 1));
      ASSERT_EQ(transport_.requests().size(), ++sent);
      const absl::Time failed_at = clock_.Now();
      ASSERT_TRUE(transport_.CompleteNext(HttpStatus(502)));
      ASSERT_EQ(observer_.backoffs().size(), static_cast<size_t>(call * 3 + retry + 1));
      const absl::Duration backoff = observer_.backoffs().back();
      EXPECT_GE(backoff, absl::ZeroDuration());
      EXPECT_LE(backoff, bounds[retry]);
      constexpr absl::Duration kTick = absl::Microseconds(1);
      if (backoff >= kTick) {
        clock_.Advance(backoff - kTick);
        EXPECT_EQ(transport_.requests().size(), sent) << "the retry must wait out its backoff";
      }
      clock_.Advance(failed_at + backoff - clock_.Now());
      ASSERT_EQ(transport_.requests().size(), sent + 1) << "the backoff is over";
      EXPECT_EQ(transport_.sent_at()[sent] - failed_at, backoff);
      fractions.push_back(absl::FDivDuration(backoff, bounds[retry]));
    }
    Answer(++sent, Ok());
    ASSERT_EQ(done.runs(), 1);
    EXPECT_FALSE(done.outcome().failure.has_value());
  }
  // 45 uniform draws all in one half of their range: one chance in 2^44.
  EXPECT_LT(*std::min_element(fractions.begin(), fractions.end()), 0.5) << "backoffs must be jittered";
  EXPECT_GT(*std::max_element(fractions.begin(), fractions.end()), 0.5) << "backoffs must be jittered";
}

// A local budget of 10 calls per second with a burst of one: the first attempt takes the token, so the retry (after a
// backoff of at most 40 ms) must wait for the next one, one interval (102.2 ms) after the first attempt.
class UpstreamClientRetryBudgetWaitTest : public UpstreamClientRetryTest {
 protected:
  UpstreamClientRetryBudgetWaitTest() : UpstreamClientRetryTest(RetryOptions(), 10, 1) {}
};

TEST_F(UpstreamClientRetryBudgetWaitTest, ARetryGoesThroughTheRateLimiterAgain) {
  DoneRecorder done;
  const absl::Time start = clock_.Now();
  Fetch(done);
  Answer(1, HttpStatus(502));
  WaitOutTheLastBackoff();
  EXPECT_EQ(transport_.requests().size(), 1u) << "backoff over, but no budget yet";
  EXPECT_EQ(observer_.budget_waits_.load(), 1);
  clock_.Advance(start + kInterval - absl::Milliseconds(1) - clock_.Now());
  EXPECT_EQ(transport_.requests().size(), 1u) << "1 ms before the budget allows it";
  clock_.Advance(absl::Milliseconds(1));
  ASSERT_EQ(transport_.requests().size(), 2u);
  EXPECT_EQ(transport_.sent_at()[1] - start, kInterval);
  Answer(2, Ok());
  ASSERT_EQ(done.runs(), 1);
  EXPECT_FALSE(done.outcome().failure.has_value());
}

// A local budget of one call per second: a retry cannot get budget before a 300 ms deadline, and the caller gets the
// upstream failure it was retrying, not the limiter's RESOURCE_EXHAUSTED.
class UpstreamClientRetryNoBudgetTest : public UpstreamClientRetryTest {
 protected:
  UpstreamClientRetryNoBudgetTest() : UpstreamClientRetryTest(RetryOptions(), 1, 1) {}
};

TEST_F(UpstreamClientRetryNoBudgetTest, ARetryThatCannotBeSentDeliversTheUpstreamFailure) {
  DoneRecorder done;
  Fetch(done, absl::Milliseconds(300));
  Answer(1, HttpStatus(503));
  EXPECT_EQ(done.runs(), 0) << "the retry is tried after its backoff";
  WaitOutTheLastBackoff();
  ASSERT_EQ(done.runs(), 1);
  ASSERT_TRUE(done.outcome().failure.has_value());
  EXPECT_EQ(done.outcome().failure->http_status, 503);
  EXPECT_EQ(done.outcome().failure->rule.reason, "UPSTREAM_HTTP_5XX");
  EXPECT_THAT(done.outcome().failure->message, HasSubstr("gave up after 1 attempt)"));
  EXPECT_EQ(transport_.requests().size(), 1u);
  EXPECT_EQ(done.runs(), 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Throttling answers slow the rate limiter down.

TEST_F(UpstreamClientTest, ThrottlingAnswersHalveTheLimitersRate) {
  const std::vector<std::pair<std::string, HttpResult>> throttling = {
      {"60007", TencentError(60007)}, {"60011", TencentError(60011)}, {"60018", TencentError(60018)},
      {"60019", TencentError(60019)}, {"HTTP 429", HttpStatus(429)},
  };
  int throttled = 0;
  for (const auto& [name, result] : throttling) {
    SCOPED_TRACE(name);
    // A fresh budget of 10 calls per second, burst 10, idle: a call asking now would start at once.
    LocalBudget budget(10, 10, clock_);
    UpstreamClient client(transport_, usersig_, budget, timers_, clock_, Options(), &observer_);
    DoneRecorder done;
    client.Fetch({"id1"}, {"Tag_Profile_IM_Nick"}, clock_.Now() + absl::Seconds(30), done.Callback());
    ASSERT_TRUE(transport_.CompleteNext(result));
    ASSERT_EQ(done.runs(), 1);
    ASSERT_TRUE(done.outcome().failure.has_value());
    EXPECT_EQ(done.outcome().failure->rule.grpc_code, absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(observer_.throttled_.load(), ++throttled);
    EXPECT_DOUBLE_EQ(budget.EffectiveCallsPerSecond(), 5);
    // Nine of the ten tokens were left; after the throttle the next call waits a 200 ms interval of 5 calls/s.
    EXPECT_GT(budget.EstimatedWait(), absl::Milliseconds(150));
  }
}

TEST_F(UpstreamClientTest, OtherFailuresDoNotSlowTheLimiter) {
  LocalBudget budget(10, 10, clock_);
  UpstreamClient client(transport_, usersig_, budget, timers_, clock_, Options(), &observer_);
  for (HttpResult result : {HttpStatus(502), TencentError(60008), TencentError(40006), Ok()}) {
    DoneRecorder done;
    client.Fetch({"id1"}, {"Tag_Profile_IM_Nick"}, clock_.Now() + absl::Seconds(30), done.Callback());
    ASSERT_TRUE(transport_.CompleteNext(std::move(result)));
  }
  EXPECT_EQ(observer_.throttled_.load(), 0);
  EXPECT_DOUBLE_EQ(budget.EffectiveCallsPerSecond(), 10);
  EXPECT_EQ(budget.EstimatedWait(), absl::ZeroDuration());
}

TEST_F(UpstreamClientRetryTest, AThrottledCallIsRetriedAfterSlowingDown) {
  DoneRecorder done;
  Fetch(done);
  Answer(1, TencentError(60007));
  EXPECT_EQ(observer_.throttled_.load(), 1);
  EXPECT_EQ(observer_.retries_.load(), 1);
  EXPECT_EQ(observer_.reasons(), (std::vector<std::string>{"throttled"}));  // Not the generic tencent_error.
  // The backoff, then the slowed-down budget's pacing (about 20 us at 50,000 calls/s).
  clock_.Advance(observer_.backoffs().back() + absl::Milliseconds(1));
  Answer(2, Ok());
  ASSERT_EQ(done.runs(), 1);
  EXPECT_FALSE(done.outcome().failure.has_value());
}

// Each attempt's outcome reaches UpstreamHealth: a failed one is logged (never with the UserSig) and a
// misconfiguration marked; an answered one clears it. A first 70001, renewed and retried, is no failure.
TEST(UpstreamClientHealthTest, AttemptsReportToTheHealthTracker) {
  LogCapture log;
  FakeClock clock;
  FakeTransport transport(clock);
  AdminUserSig usersig(kKey, kAdmin, kSdkAppId, absl::Hours(24), clock);
  CountingBudget budget(100000, 100000, clock);
  TimerQueue timers(clock);
  std::vector<std::string> changes;
  UpstreamHealth health(timers, clock, UpstreamHealthOptions{},
                        [&changes](absl::string_view reason) { changes.emplace_back(reason); });
  UpstreamOptions options;
  options.base_url = kBaseUrl;
  options.sdkappid = kSdkAppId;
  options.identifier = kAdmin;
  options.retry_max_attempts = 1;
  UpstreamClient client(transport, usersig, budget, timers, clock, std::move(options), nullptr, &health);
  auto fetch = [&](DoneRecorder& done) {
    client.Fetch({"id1"}, {"Tag_Profile_IM_Nick"}, clock.Now() + absl::Seconds(30), done.Callback());
  };

  DoneRecorder wrong_key;
  fetch(wrong_key);
  ASSERT_TRUE(transport.CompleteNext(200, R"({"ActionStatus":"FAIL","ErrorCode":70009,"ErrorInfo":"verify failed"})"));
  EXPECT_EQ(changes, std::vector<std::string>{"TENCENT_70009"});
  ASSERT_EQ(log.records().size(), 1u);
  EXPECT_EQ(log.records()[0]["level"], "error");
  EXPECT_EQ(log.records()[0]["code"], 70009);

  DoneRecorder renewed;
  fetch(renewed);
  ASSERT_TRUE(transport.CompleteNext(200, kExpiredBody));
  ASSERT_TRUE(transport.CompleteNext(200, kOkBody));
  EXPECT_EQ(changes, (std::vector<std::string>{"TENCENT_70009", ""}));
  for (const nlohmann::json& record : log.records()) {
    EXPECT_NE(record.value("code", 0), 70001) << "a renewal is not a failure: " << record;
    for (const HttpRequest& request : transport.requests()) {
      EXPECT_THAT(record.dump(), Not(HasSubstr(ParseUrl(request.url).query["usersig"])));
    }
  }
}

}  // namespace
}  // namespace portrait_bridge

#include "bridge/service/upstream_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "bridge/core/usersig.h"

namespace portrait_bridge {
namespace {

using tencentcloud::chat::profile::v1::ProfileItem;
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
constexpr char kExpiredBody[] = R"({"ActionStatus":"FAIL","ErrorCode":70001,"ErrorInfo":"usersig expired"})";

// A transport that records requests and lets the test complete them, on the test's own thread.
class FakeTransport final : public HttpTransport {
 public:
  uint64_t Send(HttpRequest request, Callback done) override {
    absl::MutexLock lock(&mutex_);
    const uint64_t id = next_id_++;
    requests_.push_back(request);
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

  /// Waits (in real time) until `count` requests have been sent.
  bool WaitForRequests(size_t count, absl::Duration timeout) {
    absl::MutexLock lock(&mutex_);
    auto enough = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return requests_.size() >= count; };
    return mutex_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

  std::vector<HttpRequest> requests() const {
    absl::MutexLock lock(&mutex_);
    return requests_;
  }
  std::vector<uint64_t> cancelled() const {
    absl::MutexLock lock(&mutex_);
    return cancelled_;
  }
  size_t pending() const {
    absl::MutexLock lock(&mutex_);
    return pending_.size();
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
  mutable absl::Mutex mutex_;
  uint64_t next_id_ ABSL_GUARDED_BY(mutex_) = 1;
  std::vector<HttpRequest> requests_ ABSL_GUARDED_BY(mutex_);
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mutex_);
  std::vector<uint64_t> cancelled_ ABSL_GUARDED_BY(mutex_);
};

// Records every run of a Done callback.
class DoneRecorder {
 public:
  UpstreamClient::Done Callback() {
    return [this](CallOutcome outcome) {
      absl::MutexLock lock(&mutex_);
      ++runs_;
      outcome_ = std::move(outcome);
      if (!notified_.HasBeenNotified()) notified_.Notify();
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
  bool Wait(absl::Duration timeout) { return notified_.WaitForNotificationWithTimeout(timeout); }

 private:
  mutable absl::Mutex mutex_;
  int runs_ ABSL_GUARDED_BY(mutex_) = 0;
  CallOutcome outcome_ ABSL_GUARDED_BY(mutex_);
  absl::Notification notified_;
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
  std::vector<std::string> attempts() const {
    absl::MutexLock lock(&mutex_);
    return attempts_;
  }
  std::atomic<int> started_{0};
  std::atomic<int> budget_waits_{0};
  std::atomic<int> renewals_{0};

 private:
  mutable absl::Mutex mutex_;
  std::vector<std::string> attempts_ ABSL_GUARDED_BY(mutex_);
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

// The UpstreamClient wired to fakes, with the real signer, limiter and timer queue on the system clock.
class UpstreamClientTest : public ::testing::Test {
 protected:
  explicit UpstreamClientTest(double calls_per_second = 100000, int64_t burst = 100000)
      : usersig_(kKey, kAdmin, kSdkAppId, absl::Hours(24), clock_),
        limiter_(calls_per_second, burst, clock_),
        client_(transport_, usersig_, limiter_, timers_, clock_, Options(), &observer_) {}

  static UpstreamOptions Options() {
    UpstreamOptions options;
    options.base_url = kBaseUrl;
    options.sdkappid = kSdkAppId;
    options.identifier = kAdmin;
    options.attempt_timeout = absl::Seconds(5);
    options.max_budget_wait = absl::Seconds(10);
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

  SystemClock clock_;
  FakeTransport transport_;
  AdminUserSig usersig_;
  RateLimiter limiter_;
  RecordingObserver observer_;
  TimerQueue timers_;
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
  ASSERT_EQ(outcome.users[0].items.size(), 2u);
  EXPECT_EQ(outcome.users[0].items[0].string_value(), "Nick1");
  EXPECT_EQ(outcome.users[0].items[1].value_case(), ProfileItem::kUintValue);
  EXPECT_EQ(outcome.users[0].items[1].uint_value(), 3u);
  EXPECT_EQ(outcome.users[1].account, "id2");
  EXPECT_EQ(outcome.users[1].result_code, 40006);
  EXPECT_EQ(observer_.attempts(), std::vector<std::string>{"0"});
  EXPECT_EQ(observer_.started_.load(), 1);
  EXPECT_EQ(usersig_.signatures(), 1);
}

TEST_F(UpstreamClientTest, AttemptTimeoutIsCappedByTheDeadline) {
  DoneRecorder done;
  Fetch(done, absl::Seconds(1));
  ASSERT_EQ(transport_.requests().size(), 1u);
  EXPECT_GT(transport_.requests()[0].timeout, absl::Milliseconds(500));
  EXPECT_LE(transport_.requests()[0].timeout, absl::Seconds(1));
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

// A limiter of one call per second with a burst of one.
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

// A limiter of ten calls per second with a burst of one: the second call waits about 100 ms on the timer queue.
class UpstreamClientBudgetWaitTest : public UpstreamClientTest {
 protected:
  UpstreamClientBudgetWaitTest() : UpstreamClientTest(10, 1) {}
};

TEST_F(UpstreamClientBudgetWaitTest, CallWaitsForBudgetOffTheCallersThreadThenSends) {
  DoneRecorder first;
  Fetch(first);
  DoneRecorder second;
  const absl::Time start = absl::Now();
  Fetch(second);
  EXPECT_EQ(transport_.requests().size(), 1u) << "the second call must wait for budget";
  EXPECT_EQ(second.runs(), 0);
  EXPECT_EQ(observer_.budget_waits_.load(), 1);

  ASSERT_TRUE(transport_.WaitForRequests(2, absl::Seconds(5)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
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
  EXPECT_FALSE(transport_.WaitForRequests(2, absl::Milliseconds(300)));
  EXPECT_EQ(second.runs(), 1);
  EXPECT_TRUE(transport_.cancelled().empty());
  ASSERT_TRUE(transport_.CompleteNext(200, kOkBody));
}

}  // namespace
}  // namespace portrait_bridge

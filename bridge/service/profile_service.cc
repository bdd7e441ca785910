#include "bridge/service/profile_service.h"

#include <array>
#include <iterator>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bridge/core/log.h"
#include "bridge/core/portrait_api.h"
#include "bridge/core/profile_tags.h"
#include "bridge/core/request_validation.h"
#include "bridge/service/response_encoder.h"

namespace portrait_bridge {
namespace {

namespace v1 = tencentcloud::chat::profile::v1;

void SetFailure(const Failure& failure, v1::AccountResult& result) {
  result.set_tencent_code(failure.tencent_code);
  result.set_result_code(failure.tencent_code != 0 ? static_cast<v1::ResultCode>(failure.tencent_code)
                                                   : v1::RESULT_CODE_NO_UPSTREAM_ANSWER);
  result.set_result_info(failure.tencent_info);
  *result.mutable_status() = ToRpcStatus(failure);
}

// gRPC status codes are 0 (OK) to 16 (UNAUTHENTICATED).
constexpr int kStatusCodes = 17;
// An optional kept on the heap: one pointer in the reactor instead of the whole value, for state that most
// streams never set (std::optional<grpc::Status> is 80 bytes, all of it held for the stream's whole life).
template <typename T>
class HeapOptional {
 public:
  bool has_value() const { return value_ != nullptr; }
  T& operator*() const { return *value_; }
  T* operator->() const { return value_.get(); }
  HeapOptional& operator=(T value) {
    value_ = std::make_unique<T>(std::move(value));
    return *this;
  }

 private:
  std::unique_ptr<T> value_;
};

class GetProfilesReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  GetProfilesReactor(grpc::CallbackServerContext* context, ProfileFetcher& fetcher, const StreamLimits& limits,
                     StreamObserver* observer)
      : fetcher_(fetcher), limits_(limits), observer_(observer), started_(absl::Now()) {
    const gpr_timespec deadline = gpr_convert_clock_type(context->raw_deadline(), GPR_CLOCK_REALTIME);
    deadline_ = gpr_time_cmp(deadline, gpr_inf_future(GPR_CLOCK_REALTIME)) == 0
                    ? absl::InfiniteFuture()
                    : absl::FromUnixNanos(static_cast<int64_t>(deadline.tv_sec) * 1000000000 + deadline.tv_nsec);
    if (observer_ != nullptr) observer_->OnStreamStarted();
    Step();
  }

  void OnReadDone(bool ok) override {
    Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
      reading_ = false;
      if (!ok) {
        reads_done_ = true;
      } else {
        AcceptRequestLocked();
      }
    });
  }

  void OnWriteDone(bool ok) override {
    Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
      writing_ = false;
      responses_.pop_front();
      if (!ok) EndStreamLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the caller went away"));
    });
  }

  void OnCancel() override {
    Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
      EndStreamLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the stream was cancelled or its deadline passed"));
    });
  }

  // Finish is called only when no upstream call is outstanding and no thread is acting for the reactor, so
  // nothing can reach it after this.
  void OnDone() override { delete this; }

 private:
  struct RequestState {
    std::string request_id;
    std::vector<std::string> tags;
    absl::flat_hash_map<std::string, int> occurrences;  // Each entry of the request gets its own result.
    int64_t unanswered_entries = 0;
  };
  struct Chunk {
    uint64_t request_index = 0;
    std::vector<std::string> accounts;
  };

  // Takes request_ into the work queue, or ends the stream when it is invalid.
  void AcceptRequestLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    const uint64_t index = next_request_index_++;
    if (end_status_.has_value()) return;
    v1::GetProfilesRequest request;
    std::vector<FieldViolation> violations = DecodeAndValidateRequest(FlattenRequest(), index, request);
    accounts_on_stream_ += request.accounts_size();
    if (violations.empty() && accounts_on_stream_ > limits_.max_accounts_per_stream) {
      violations.push_back(
          {absl::StrCat("requests[", index, "].accounts"),
           absl::StrCat("this stream has asked for ", accounts_on_stream_, " accounts; one stream may ask for at most ",
                        limits_.max_accounts_per_stream, " (max_accounts_per_stream): open another stream")});
    }
    if (!violations.empty()) {
      // Requests accepted before this one are still answered; then the stream ends with the violations.
      invalid_status_ = ToGrpcStatus(InvalidArgumentStatus(
          absl::StrCat("request ", index, " on this stream is invalid: ", violations.front().field, ": ",
                       violations.front().description),
          violations));
      stop_reading_ = true;
      return;
    }
    RequestState& state = requests_[index];
    state.request_id = request.request_id();
    state.tags.assign(request.tags().begin(), request.tags().end());
    state.unanswered_entries = request.accounts_size();
    std::vector<std::string> unique;
    for (const std::string& account : request.accounts()) {
      if (state.occurrences[account]++ == 0) unique.push_back(account);
    }
    for (auto& accounts : SplitIntoCalls(std::move(unique), static_cast<size_t>(limits_.max_accounts_per_call))) {
      pending_chunks_.push_back({index, std::move(accounts)});
    }
  }

  std::string FlattenRequest() {
    std::vector<grpc::Slice> slices;
    std::string wire;
    if (!request_.Dump(&slices).ok()) return wire;
    for (const grpc::Slice& slice : slices) wire.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    return wire;
  }

  // Ends the stream early: no more reads or upstream calls; what is in flight is cancelled.
  void EndStreamLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (!end_status_.has_value()) end_status_ = std::move(status);
    stop_reading_ = true;
    pending_chunks_.clear();
    if (end_status_->error_code() == grpc::StatusCode::CANCELLED) {
      // Nobody will read them; keep only the one a write in flight still points to.
      responses_.erase(std::next(responses_.begin(), writing_ ? 1 : 0), responses_.end());
    }
    for (auto& [id, call] : calls_) {
      if (call != nullptr) to_cancel_.push_back(call);
    }
  }

  // Applies `event` to the state and decides what to do next, in one hold of the lock; then does it outside the
  // lock (gRPC and upstream calls may call back). The reactor is alive on entry: the caller is a gRPC reaction,
  // or holds an outstanding upstream call or the `acting_` count, either of which keeps Finish from being called.
  // While this thread acts on its decisions it holds `acting_` itself, and gives it back through another round.
  void Step(absl::FunctionRef<void()> event = [] {}) {
    bool release_acting = false;
    while (true) {
      std::vector<std::pair<uint64_t, Chunk>> launch;
      std::vector<std::shared_ptr<ProfileFetcher::Ticket>> cancel;
      bool start_read = false;
      const grpc::ByteBuffer* write = nullptr;
      std::optional<grpc::Status> finish;
      bool acts = false;
      {
        absl::MutexLock lock(&mutex_);
        if (release_acting) {
          --acting_;
        } else {
          event();
        }
        if (finished_) return;
        cancel.swap(to_cancel_);
        while (!end_status_.has_value() && !pending_chunks_.empty() &&
               responses_.size() < limits_.max_queued_responses &&
               (inflight_accounts_ == 0 ||
                inflight_accounts_ + static_cast<int64_t>(pending_chunks_.front().accounts.size()) <=
                    limits_.max_inflight_accounts)) {
          const uint64_t id = next_call_id_++;
          inflight_accounts_ += static_cast<int64_t>(pending_chunks_.front().accounts.size());
          ++outstanding_calls_;
          calls_[id] = nullptr;  // Filled in once Fetch returns.
          launch.emplace_back(id, std::move(pending_chunks_.front()));
          pending_chunks_.pop_front();
        }
        // Read the next request only when the work already read is under way (backpressure).
        if (!reading_ && !reads_done_ && !stop_reading_ && pending_chunks_.empty() &&
            inflight_accounts_ < limits_.max_inflight_accounts && responses_.size() < limits_.max_queued_responses) {
          reading_ = true;
          start_read = true;
        }
        if (!writing_ && !responses_.empty()) {
          writing_ = true;
          write = &responses_.front();
        }
        const bool work_left = !pending_chunks_.empty() || outstanding_calls_ > 0 || !launch.empty();
        const bool input_done = reads_done_ || stop_reading_;
        // Reads, launches and cancellations decided here happen after the lock is released; Finish must wait for
        // them (a StartRead after Finish, or a Launch touching a deleted reactor, would be wrong).
        acts = start_read || !launch.empty() || !cancel.empty();
        if (acts) ++acting_;
        if (!writing_ && responses_.empty() && !work_left && acting_ == 0 && (end_status_.has_value() || input_done)) {
          finished_ = true;
          finish = end_status_.has_value() ? *end_status_
                                           : (invalid_status_.has_value() ? *invalid_status_ : grpc::Status::OK);
        }
      }
      for (auto& call : cancel) call->Cancel();
      for (auto& [id, chunk] : launch) Launch(id, std::move(chunk));
      if (start_read) StartRead(&request_);
      if (write != nullptr) StartWrite(write);
      if (finish.has_value()) {
        ReportFinish(*finish);
        Finish(*finish);
      }
      if (!acts) return;
      release_acting = true;  // Another round: give `acting_` back, and finish if that was all that was left.
    }
  }

  void ReportFinish(const grpc::Status& status) {
    absl::MutexLock lock(&mutex_);
    const absl::Duration duration = absl::Now() - started_;
    if (observer_ != nullptr) {
      observer_->OnStreamFinished(status.error_code(), accounts_answered_, accounts_failed_, duration);
    }
    // Stream errors are worth a line at info; the message never holds a key, a UserSig or a URL.
    Log(status.ok() ? LogLevel::kDebug : LogLevel::kInfo, "GetProfiles stream finished",
        {{"grpc_code", StatusCodeName(status.error_code())},
         {"message", status.error_message()},
         {"requests", absl::StrCat(next_request_index_)},
         {"accounts", absl::StrCat(accounts_answered_)},
         {"failed_accounts", absl::StrCat(accounts_failed_)},
         {"duration_ms", absl::StrCat(absl::ToInt64Milliseconds(duration))}});
  }

  void Launch(uint64_t id, Chunk chunk) {
    std::vector<std::string> tags;
    {
      absl::MutexLock lock(&mutex_);
      tags = requests_.at(chunk.request_index).tags;
    }
    // The answer carries the accounts; what the completion needs besides is the request and the count.
    const uint64_t request_index = chunk.request_index;
    const int64_t account_count = static_cast<int64_t>(chunk.accounts.size());
    std::shared_ptr<ProfileFetcher::Ticket> call =
        fetcher_.Fetch(std::move(chunk.accounts), std::move(tags), deadline_,
                       [this, id, request_index, account_count](FetchResult result) {
                         OnCallDone(id, request_index, account_count, std::move(result));
                       });
    bool cancel_now = false;
    {
      absl::MutexLock lock(&mutex_);
      if (auto it = calls_.find(id); it != calls_.end()) {
        it->second = call;
        cancel_now = end_status_.has_value();
      }
    }
    if (cancel_now) call->Cancel();
  }

  void OnCallDone(uint64_t id, uint64_t request_index, int64_t account_count, FetchResult result) {
    Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
      calls_.erase(id);
      --outstanding_calls_;
      inflight_accounts_ -= account_count;
      if (!result.cancelled && !end_status_.has_value()) {
        const Failure* fatal = nullptr;
        for (const AccountOutcome& outcome : result.outcomes) {
          if (outcome.failure.has_value() && outcome.failure->rule.ends_stream) fatal = &*outcome.failure;
        }
        if (fatal != nullptr) {
          EndStreamLocked(ToGrpcStatus(ToRpcStatus(*fatal)));
        } else {
          AnswerChunkLocked(request_index, std::move(result.outcomes));
        }
      }
    });
  }

  // Queues one response with a result for every entry of the request that the outcomes answer.
  void AnswerChunkLocked(uint64_t request_index, std::vector<AccountOutcome> outcomes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    RequestState& state = requests_.at(request_index);
    ResponseEncoder response(request_index, state.request_id);
    // Accounts answered per gRPC code, reported to the observer once per response rather than per account.
    std::array<int64_t, kStatusCodes> answered{};
    for (AccountOutcome& outcome : outcomes) {
      const auto occurrences = state.occurrences.find(outcome.account);
      if (occurrences == state.occurrences.end() || occurrences->second == 0) continue;  // Not asked, or answered.
      const int copies = std::exchange(occurrences->second, 0);
      int code = 0;
      if (outcome.failure.has_value()) {
        v1::AccountResult result;
        result.set_account(outcome.account);
        SetFailure(*outcome.failure, result);
        code = result.status().code();
        response.AddResult(result, copies);
      } else {
        response.AddSuccess(outcome, copies);
      }
      accounts_answered_ += copies;
      if (code != 0) accounts_failed_ += copies;
      answered[code >= 0 && code < kStatusCodes ? code : static_cast<int>(grpc::StatusCode::UNKNOWN)] += copies;
      state.unanswered_entries -= copies;
    }
    if (observer_ != nullptr) {
      for (int code = 0; code < kStatusCodes; ++code) {
        if (answered[code] > 0) observer_->OnAccountsAnswered(static_cast<grpc::StatusCode>(code), answered[code]);
      }
    }
    if (state.unanswered_entries == 0) {
      response.SetComplete();
      requests_.erase(request_index);
    }
    responses_.push_back(std::move(response).Finish());
  }

  ProfileFetcher& fetcher_;
  const StreamLimits& limits_;
  StreamObserver* const observer_;
  const absl::Time started_;
  absl::Time deadline_;
  grpc::ByteBuffer request_;  // Filled by the pending read; touched only in OnReadDone.

  absl::Mutex mutex_;
  bool reading_ ABSL_GUARDED_BY(mutex_) = false;
  int acting_ ABSL_GUARDED_BY(mutex_) = 0;  // Threads doing what Step decided (reads, launches, cancels).
  bool reads_done_ ABSL_GUARDED_BY(mutex_) = false;
  bool stop_reading_ ABSL_GUARDED_BY(mutex_) = false;
  bool writing_ ABSL_GUARDED_BY(mutex_) = false;
  bool finished_ ABSL_GUARDED_BY(mutex_) = false;
  HeapOptional<grpc::Status> end_status_ ABSL_GUARDED_BY(mutex_);      // Ends the stream early.
  HeapOptional<grpc::Status> invalid_status_ ABSL_GUARDED_BY(mutex_);  // Ends it once accepted work is done.
  uint64_t next_request_index_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t accounts_on_stream_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t accounts_answered_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t accounts_failed_ ABSL_GUARDED_BY(mutex_) = 0;
  std::map<uint64_t, RequestState> requests_ ABSL_GUARDED_BY(mutex_);
  // Lists, not deques: an empty std::list allocates nothing, where libstdc++'s std::deque allocates a 512-byte
  // block and its map on construction, about 1.2 KiB per stream for the two queues even while the stream is idle.
  std::list<Chunk> pending_chunks_ ABSL_GUARDED_BY(mutex_);
  int64_t inflight_accounts_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t outstanding_calls_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t next_call_id_ ABSL_GUARDED_BY(mutex_) = 1;
  std::map<uint64_t, std::shared_ptr<ProfileFetcher::Ticket>> calls_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::shared_ptr<ProfileFetcher::Ticket>> to_cancel_ ABSL_GUARDED_BY(mutex_);
  std::list<grpc::ByteBuffer> responses_ ABSL_GUARDED_BY(mutex_);  // Serialized; the front is being written.
};

}  // namespace

const char* StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

grpc::Status ToGrpcStatus(const google::rpc::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message(), status.SerializeAsString());
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ProfileService::GetProfiles(
    grpc::CallbackServerContext* context) {
  return new GetProfilesReactor(context, fetcher_, limits_, observer_);
}

}  // namespace portrait_bridge

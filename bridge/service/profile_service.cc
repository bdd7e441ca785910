#include "bridge/service/profile_service.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <limits>
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

namespace v1 = portraitbridge::profile::v1;

void SetFailure(const Failure& failure, v1::AccountResult& result) {
  const int64_t code = failure.tencent_code;
  const bool fits = code >= std::numeric_limits<int32_t>::min() && code <= std::numeric_limits<int32_t>::max();
  result.set_tencent_code(fits ? static_cast<int32_t>(code) : 0);
  if (code == 0) {
    result.set_result_code(v1::RESULT_CODE_NO_UPSTREAM_ANSWER);
  } else if (fits && code > v1::RESULT_CODE_NO_UPSTREAM_ANSWER) {
    result.set_result_code(static_cast<v1::ResultCode>(code));  // Named or not: proto3 enums are open.
  } else {
    // Not a Tencent code number (a broken answer), and it would read as one of the schema's own codes.
    result.set_result_code(v1::RESULT_CODE_UNSPECIFIED);
  }
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
                     ServerQuotas& quotas, StreamObserver* observer)
      : fetcher_(fetcher), limits_(limits), quotas_(quotas), observer_(observer), started_(absl::Now()) {
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
      DropResponseLocked(responses_.begin());
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
  void OnDone() override {
    // Responses dropped by Finish without being written (none, normally).
    quotas_.unread_bytes.Give(unread_bytes_);
    quotas_.accepted_accounts.Give(accepted_accounts_);
    if (observer_ != nullptr) observer_->OnUnreadBytes(-unread_bytes_);
    delete this;
  }

 private:
  struct RequestState {
    std::string request_id;
    std::vector<std::string> tags;
    absl::flat_hash_map<std::string, int> occurrences;  // Each entry of the request gets its own result.
    int64_t unanswered_entries = 0;                     // Entries whose result is not in a queued response yet.
    int64_t cost = 0;  // Its distinct accounts, taken from quotas_.accepted_accounts until it is answered.
  };
  // The results of one upstream call, each encoded once, waiting to go into responses. Copies of a result (an
  // account listed more than once) are written only as responses are built, and responses are built only while
  // the reader keeps up, so that a request with many copies costs no more memory than one without.
  struct EncodedResults {
    uint64_t request_index = 0;
    std::string bytes;  // The encoded `results` fields, one after another.
    struct Result {
      size_t end = 0;  // Where the result ends in `bytes` (it begins where the previous one ends).
      int copies = 0;  // Entries of the request it still answers.
    };
    std::vector<Result> results;
    size_t next = 0;        // The first result not yet fully in a response,
    size_t next_begin = 0;  // and where it begins.
  };
  struct QueuedResponse {
    grpc::ByteBuffer buffer;
    int64_t bytes = 0;
  };
  struct Chunk {
    uint64_t request_index = 0;
    std::vector<std::string> accounts;
  };

  // Takes request_ into the work queue; answers an invalid request in-band; ends the stream when the message
  // cannot be decoded or the stream goes over its own limits.
  void AcceptRequestLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    const uint64_t index = next_request_index_++;
    if (end_status_.has_value()) return;
    v1::GetProfilesRequest request;
    std::vector<FieldViolation> stream_violations;
    if (!DecodeRequest(FlattenRequest(), request)) {
      stream_violations.push_back(
          {absl::StrCat("requests[", index, "]"), "the message is not a valid GetProfilesRequest encoding"});
    } else if (accounts_on_stream_ += request.accounts_size(); accounts_on_stream_ > limits_.max_accounts_per_stream) {
      stream_violations.push_back(
          {absl::StrCat("requests[", index, "].accounts"),
           absl::StrCat("this stream has asked for ", accounts_on_stream_, " accounts; one stream may ask for at most ",
                        limits_.max_accounts_per_stream, " (max_accounts_per_stream): open another stream")});
    }
    if (!stream_violations.empty()) {
      // Requests accepted before this one are still answered; then the stream ends with the violation.
      invalid_status_ = ToGrpcStatus(InvalidArgumentStatus(
          absl::StrCat("request ", index, " on this stream ends it: ", stream_violations.front().field, ": ",
                       stream_violations.front().description),
          stream_violations));
      stop_reading_ = true;
      return;
    }
    // Only this request is refused from here on; the stream goes on with the next one.
    if (std::vector<FieldViolation> violations = ValidateRequest(request, index); !violations.empty()) {
      ++invalid_requests_;
      if (observer_ != nullptr) observer_->OnInvalidRequest();
      RefuseRequestLocked(
          index, request.request_id(),
          InvalidArgumentStatus(absl::StrCat("request ", index, " is invalid: ", violations.front().field, ": ",
                                             violations.front().description),
                                violations));
      return;
    }
    RequestState& state = requests_[index];
    std::vector<std::string> unique;
    for (const std::string& account : request.accounts()) {
      if (state.occurrences[account]++ == 0) unique.push_back(account);
    }
    const int64_t cost = static_cast<int64_t>(unique.size());
    if (!quotas_.accepted_accounts.TryTake(cost)) {
      requests_.erase(index);
      RefuseRequestLocked(
          index, request.request_id(),
          ToRpcStatus(BridgeOverQuotaFailure(absl::StrCat(
              "request ", index, " asks for ", cost, " accounts, but the bridge already holds ",
              quotas_.accepted_accounts.used(), " accounts of requests not yet answered, its limit for all callers (",
              quotas_.accepted_accounts.limit(), ", max_accepted_accounts); retry it later, or in smaller requests"))));
      return;
    }
    accepted_accounts_ += cost;
    state.cost = cost;
    state.request_id = request.request_id();
    state.tags.assign(request.tags().begin(), request.tags().end());
    state.unanswered_entries = request.accounts_size();
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
    unsent_.clear();  // Results not yet in a response: the stream's status speaks for them.
    const grpc::StatusCode code = end_status_->error_code();
    if (code == grpc::StatusCode::CANCELLED || code == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      // Nobody will read them, or they are what must be given back; keep only the one a write in flight still
      // points to.
      auto first_dropped = std::next(responses_.begin(), writing_ ? 1 : 0);
      while (first_dropped != responses_.end()) first_dropped = DropResponseLocked(first_dropped);
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
        FillResponsesLocked();
        while (!end_status_.has_value() && !pending_chunks_.empty() && unsent_.empty() &&
               unread_bytes_ < limits_.max_unread_bytes &&
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
        if (!reading_ && !reads_done_ && !stop_reading_ && pending_chunks_.empty() && unsent_.empty() &&
            inflight_accounts_ < limits_.max_inflight_accounts && unread_bytes_ < limits_.max_unread_bytes) {
          reading_ = true;
          start_read = true;
        }
        if (!writing_ && !responses_.empty()) {
          writing_ = true;
          write = &responses_.front().buffer;
        }
        const bool work_left =
            !pending_chunks_.empty() || !unsent_.empty() || outstanding_calls_ > 0 || !launch.empty();
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
         {"invalid_requests", absl::StrCat(invalid_requests_)},
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

  // Encodes a result for every entry of the request that the outcomes answer, for FillResponsesLocked.
  void AnswerChunkLocked(uint64_t request_index, std::vector<AccountOutcome> outcomes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    RequestState& state = requests_.at(request_index);
    EncodedResults encoded;
    encoded.request_index = request_index;
    encoded.results.reserve(outcomes.size());
    ResponseEncoder results(0, std::string());  // No header: only the results.
    // Accounts answered per gRPC code, reported to the observer once per call rather than per account.
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
        results.AddResult(result, 1);
      } else {
        results.AddSuccess(outcome, 1);
      }
      encoded.results.push_back({results.size(), copies});
      accounts_answered_ += copies;
      if (code != 0) accounts_failed_ += copies;
      answered[code >= 0 && code < kStatusCodes ? code : static_cast<int>(grpc::StatusCode::UNKNOWN)] += copies;
    }
    if (observer_ != nullptr) {
      for (int code = 0; code < kStatusCodes; ++code) {
        if (answered[code] > 0) observer_->OnAccountsAnswered(static_cast<grpc::StatusCode>(code), answered[code]);
      }
    }
    if (encoded.results.empty()) return;
    encoded.bytes = std::move(results).TakeBytes();
    unsent_.push_back(std::move(encoded));
  }

  // Builds responses from the encoded results while the reader keeps up: none over kMaxResponseBytes, and the
  // stream's unread bytes within its bound (one response may go over). A response that the server-wide bound
  // cannot hold ends the stream with RESOURCE_EXHAUSTED.
  void FillResponsesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    // The room for results: request_complete (two bytes) may still follow.
    constexpr size_t kResultsRoom = kMaxResponseBytes - 2;
    while (!end_status_.has_value() && !unsent_.empty() && unread_bytes_ < limits_.max_unread_bytes) {
      EncodedResults& from = unsent_.front();
      RequestState& state = requests_.at(from.request_index);
      ResponseEncoder response(from.request_index, state.request_id);
      const size_t header = response.size();
      while (from.next < from.results.size()) {
        // A run of results with one copy each that fits goes in one append; a result with copies goes as often as
        // it fits; a response holds at least one result, whatever its size.
        size_t run_end = from.next;
        while (run_end < from.results.size() && from.results[run_end].copies == 1 &&
               response.size() + (from.results[run_end].end - from.next_begin) <= kResultsRoom) {
          ++run_end;
        }
        if (run_end > from.next) {
          const size_t end = from.results[run_end - 1].end;
          response.AddEncodedResults(absl::string_view(from.bytes).substr(from.next_begin, end - from.next_begin), 1);
          state.unanswered_entries -= static_cast<int64_t>(run_end - from.next);
          for (size_t i = from.next; i < run_end; ++i) from.results[i].copies = 0;
          from.next = run_end;
          from.next_begin = end;
          continue;
        }
        EncodedResults::Result& result = from.results[from.next];
        const size_t size = result.end - from.next_begin;
        const size_t room = kResultsRoom > response.size() ? kResultsRoom - response.size() : 0;
        const int fits = static_cast<int>(std::min<size_t>(result.copies, room / size));
        const int copies = fits > 0 ? fits : (response.size() == header ? 1 : 0);
        if (copies == 0) break;  // The response is full.
        response.AddEncodedResults(absl::string_view(from.bytes).substr(from.next_begin, size), copies);
        state.unanswered_entries -= copies;
        result.copies -= copies;
        if (result.copies > 0) break;  // The rest of its copies go into the next response.
        ++from.next;
        from.next_begin = result.end;
      }
      const uint64_t request_index = from.request_index;
      if (from.next == from.results.size()) unsent_.pop_front();
      if (state.unanswered_entries == 0) {
        response.SetComplete();
        accepted_accounts_ -= state.cost;
        quotas_.accepted_accounts.Give(state.cost);
        requests_.erase(request_index);
      }
      if (!QueueResponseLocked(std::move(response))) return;
    }
  }

  // Answers request `index` with one response that carries `status` and no results.
  void RefuseRequestLocked(uint64_t index, const std::string& request_id, const google::rpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    ResponseEncoder response(index, IsValidUtf8(request_id) ? request_id : std::string());  // Not UTF-8: not echoed.
    response.SetComplete();
    response.SetStatus(status);
    QueueResponseLocked(std::move(response));
  }

  // Queues a response for writing, within the server-wide bound on unread responses; past it, ends the stream.
  bool QueueResponseLocked(ResponseEncoder response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    const int64_t bytes = static_cast<int64_t>(response.size());
    if (!quotas_.unread_bytes.TryTake(bytes)) {
      EndStreamLocked(ToGrpcStatus(ToRpcStatus(BridgeOverQuotaFailure(absl::StrCat(
          "the bridge already holds ", quotas_.unread_bytes.used() >> 10,
          " KiB of responses that callers have not read, its limit for all callers (unread_responses_mib); this "
          "stream has ",
          unread_bytes_ >> 10, " KiB unread: read responses as they arrive, or retry later")))));
      return false;
    }
    unread_bytes_ += bytes;
    if (observer_ != nullptr) observer_->OnUnreadBytes(bytes);
    responses_.push_back({std::move(response).Finish(), bytes});
    return true;
  }

  // Forgets a queued response (written, or never to be) and gives back its bytes.
  std::list<QueuedResponse>::iterator DropResponseLocked(std::list<QueuedResponse>::iterator response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    unread_bytes_ -= response->bytes;
    quotas_.unread_bytes.Give(response->bytes);
    if (observer_ != nullptr) observer_->OnUnreadBytes(-response->bytes);
    return responses_.erase(response);
  }

  ProfileFetcher& fetcher_;
  const StreamLimits& limits_;
  ServerQuotas& quotas_;
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
  int64_t invalid_requests_ ABSL_GUARDED_BY(mutex_) = 0;
  std::map<uint64_t, RequestState> requests_ ABSL_GUARDED_BY(mutex_);
  // Lists, not deques: an empty std::list allocates nothing, where libstdc++'s std::deque allocates a 512-byte
  // block and its map on construction, about 1.2 KiB per stream for the two queues even while the stream is idle.
  std::list<Chunk> pending_chunks_ ABSL_GUARDED_BY(mutex_);
  int64_t inflight_accounts_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t outstanding_calls_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t next_call_id_ ABSL_GUARDED_BY(mutex_) = 1;
  std::map<uint64_t, std::shared_ptr<ProfileFetcher::Ticket>> calls_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::shared_ptr<ProfileFetcher::Ticket>> to_cancel_ ABSL_GUARDED_BY(mutex_);
  std::list<EncodedResults> unsent_ ABSL_GUARDED_BY(mutex_);
  std::list<QueuedResponse> responses_ ABSL_GUARDED_BY(mutex_);  // Serialized; the front is being written.
  int64_t unread_bytes_ ABSL_GUARDED_BY(mutex_) = 0;             // Of responses_, taken from quotas_.unread_bytes.
  int64_t accepted_accounts_ ABSL_GUARDED_BY(mutex_) = 0;        // Of requests_, taken from quotas_.accepted_accounts.
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

bool SharedQuota::TryTake(int64_t units) {
  int64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (used + units > limit_) return false;
  } while (!used_.compare_exchange_weak(used, used + units, std::memory_order_relaxed));
  return true;
}

void SharedQuota::Give(int64_t units) { used_.fetch_sub(units, std::memory_order_relaxed); }

grpc::Status ToGrpcStatus(const google::rpc::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message(), status.SerializeAsString());
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ProfileService::GetProfiles(
    grpc::CallbackServerContext* context) {
  return new GetProfilesReactor(context, fetcher_, limits_, quotas_, observer_);
}

}  // namespace portrait_bridge

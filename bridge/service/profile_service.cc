#include "bridge/service/profile_service.h"

#include <algorithm>
#include <iterator>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bridge/core/call_ids.h"
#include "bridge/core/log.h"
#include "bridge/service/profile_requests.h"
#include "bridge/service/response_encoder.h"

namespace portrait_bridge {
namespace {

// The call's deadline, which bounds its upstream calls.
absl::Time DeadlineOf(grpc::CallbackServerContext* context) {
  const gpr_timespec deadline = gpr_convert_clock_type(context->raw_deadline(), GPR_CLOCK_REALTIME);
  return gpr_time_cmp(deadline, gpr_inf_future(GPR_CLOCK_REALTIME)) == 0
             ? absl::InfiniteFuture()
             : absl::FromUnixNanos(static_cast<int64_t>(deadline.tv_sec) * 1000000000 + deadline.tv_nsec);
}

// The first value of a metadata key, if the caller sent it.
std::optional<absl::string_view> MetadataValue(const grpc::CallbackServerContext* context, const char* key) {
  const auto& metadata = context->client_metadata();
  const auto it = metadata.find(key);
  if (it == metadata.end()) return std::nullopt;
  return absl::string_view(it->second.data(), it->second.size());
}

// The request and trace ids the caller sent, validated, for every line logged about the call.
CallIds CallIdsOf(const grpc::CallbackServerContext* context) {
  return ParseCallIds(MetadataValue(context, "x-request-id"), MetadataValue(context, "traceparent"));
}

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string wire;
  if (!buffer.Dump(&slices).ok()) return wire;
  for (const grpc::Slice& slice : slices) wire.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  return wire;
}

// What both reactors share: the lock, the request logic, and the upstream calls made for it. A reactor takes the
// calls to make under the lock (TakeCallsLocked), makes them after releasing it (Launch), and hears of each answer
// through OnCallDone, which applies it under the lock (ApplyAnswerLocked).
class UpstreamCallsReactor {
 public:
  UpstreamCallsReactor(const UpstreamCallsReactor&) = delete;
  UpstreamCallsReactor& operator=(const UpstreamCallsReactor&) = delete;

 protected:
  UpstreamCallsReactor(grpc::CallbackServerContext* context, ProfileFetcher& fetcher, const StreamLimits& limits,
                       ServerQuotas& quotas, StreamObserver* observer, const GrpcServerMetrics::MethodSeries* series)
      : fetcher_(fetcher),
        limits_(limits),
        deadline_(DeadlineOf(context)),
        call_ids_(CallIdsOf(context)),
        requests_(limits, quotas, observer) {
    if (series != nullptr) report_.emplace(*series);
  }
  virtual ~UpstreamCallsReactor() = default;

  // An upstream call was answered (or cancelled); called on the fetcher's thread, with no lock held.
  virtual void OnCallDone(uint64_t id, uint64_t request_index, int64_t account_count, FetchResult result) = 0;

  // Takes the calls the requests have ready while they fit within max_inflight_accounts (a single call may go
  // over it), for Launch once the lock is released.
  void TakeCallsLocked(std::vector<std::pair<uint64_t, ProfileRequests::Call>>& launch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    while (!requests_.ended() && requests_.has_pending_call() &&
           (inflight_accounts_ == 0 ||
            inflight_accounts_ + static_cast<int64_t>(requests_.next_call_size()) <= limits_.max_inflight_accounts)) {
      const uint64_t id = next_call_id_++;
      ProfileRequests::Call call = requests_.TakeNextCall();
      inflight_accounts_ += static_cast<int64_t>(call.accounts.size());
      calls_[id] = nullptr;  // Filled in once Fetch returns.
      launch.emplace_back(id, std::move(call));
    }
  }

  // Makes call `id`; outside the lock, since the fetcher may answer at once.
  void Launch(uint64_t id, ProfileRequests::Call call) {
    std::vector<std::string> tags;
    {
      absl::MutexLock lock(&mutex_);
      tags = requests_.TagsOf(call.request_index);
    }
    // The answer carries the accounts; what the completion needs besides is the request and the count.
    const uint64_t request_index = call.request_index;
    const int64_t account_count = static_cast<int64_t>(call.accounts.size());
    std::shared_ptr<ProfileFetcher::Ticket> ticket =
        fetcher_.Fetch(std::move(call.accounts), std::move(tags), deadline_,
                       [this, id, request_index, account_count](FetchResult result) {
                         OnCallDone(id, request_index, account_count, std::move(result));
                       });
    bool cancel_now = false;
    {
      absl::MutexLock lock(&mutex_);
      if (auto it = calls_.find(id); it != calls_.end()) {
        it->second = ticket;
        cancel_now = requests_.ended();
      }
    }
    if (cancel_now) ticket->Cancel();
  }

  // Forgets answered call `id` and hands its answer to the requests; returns the status to end the call with when
  // the answer says the bridge is misconfigured.
  std::optional<grpc::Status> ApplyAnswerLocked(uint64_t id, uint64_t request_index, int64_t account_count,
                                                FetchResult result) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    calls_.erase(id);
    inflight_accounts_ -= account_count;
    if (result.cancelled) return std::nullopt;
    return requests_.OnAnswer(request_index, std::move(result.outcomes));
  }

  // Asks for every call in flight to be cancelled, by whoever takes `to_cancel_` next, outside the lock.
  void CancelCallsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    for (auto& [id, call] : calls_) {
      if (call != nullptr) to_cancel_.push_back(call);
    }
  }

  // Writes the call's last log line, with the caller's request and trace ids.
  void LogFinished(const grpc::Status& status, absl::string_view message, std::vector<LogField> fields) {
    // Failed calls are worth a line at info; the status message never holds a key, a UserSig or a URL.
    const LogLevel level = status.ok() ? LogLevel::kDebug : LogLevel::kInfo;
    if (!LogEnabled(level)) return;
    fields.insert(fields.begin(), {{"grpc_code", StatusCodeName(status.error_code())}});
    if (!status.ok()) fields.emplace_back("error", status.error_message());
    AppendCallIdFields(call_ids_, fields);
    Log(level, message, fields);
  }

  ProfileFetcher& fetcher_;
  const StreamLimits& limits_;
  const absl::Time deadline_;
  const CallIds call_ids_;
  // The call's part in its method's grpc_server_* series (none without them): the service reports its calls
  // itself, rather than through an interceptor (GrpcServerMetrics::ReportedByHandler).
  std::optional<GrpcServerMetrics::CallReport> report_;

  absl::Mutex mutex_;
  ProfileRequests requests_ ABSL_GUARDED_BY(mutex_);
  int64_t inflight_accounts_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t next_call_id_ ABSL_GUARDED_BY(mutex_) = 1;
  std::map<uint64_t, std::shared_ptr<ProfileFetcher::Ticket>> calls_ ABSL_GUARDED_BY(mutex_);  // In flight.
  std::vector<std::shared_ptr<ProfileFetcher::Ticket>> to_cancel_ ABSL_GUARDED_BY(mutex_);
};

// The gRPC lifecycle of one GetProfiles stream: reads, writes, upstream calls, cancellation and backpressure. What
// the requests mean and which responses answer them is ProfileRequests' part.
class GetProfilesReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                                 private UpstreamCallsReactor {
 public:
  GetProfilesReactor(grpc::CallbackServerContext* context, ProfileFetcher& fetcher, const StreamLimits& limits,
                     ServerQuotas& quotas, StreamObserver* observer, const GrpcServerMetrics::MethodSeries* series)
      : UpstreamCallsReactor(context, fetcher, limits, quotas, observer, series),
        quotas_(quotas),
        observer_(observer),
        started_(absl::Now()) {
    if (observer_ != nullptr) observer_->OnStreamStarted();
    Step();
  }

  void OnReadDone(bool ok) override {
    if (ok && report_.has_value()) report_->Received();
    Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
      reading_ = false;
      if (!ok) {
        reads_done_ = true;
      } else if (std::optional<ResponseEncoder> refusal = requests_.AcceptStreamRequest(Flatten(request_))) {
        QueueResponseLocked(std::move(*refusal));
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
    if (observer_ != nullptr) observer_->OnUnreadBytes(-unread_bytes_);
    delete this;  // ProfileRequests gives back the accepted accounts of requests not answered.
  }

 private:
  struct QueuedResponse {
    grpc::ByteBuffer buffer;
    int64_t bytes = 0;
    // When the request this response completes was accepted (InfinitePast: it completes none), for the lookup
    // latency observed as it is handed to gRPC.
    absl::Time completes_lookup_from = absl::InfinitePast();
  };

  // Ends the stream early: no more reads or upstream calls; what is in flight is cancelled.
  void EndStreamLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    requests_.End(std::move(status));
    const grpc::StatusCode code = requests_.status().error_code();
    if (code == grpc::StatusCode::CANCELLED || code == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      // Nobody will read them, or they are what must be given back; keep only the one a write in flight still
      // points to.
      auto first_dropped = std::next(responses_.begin(), writing_ ? 1 : 0);
      while (first_dropped != responses_.end()) first_dropped = DropResponseLocked(first_dropped);
    }
    CancelCallsLocked();
  }

  // Applies `event` to the state and decides what to do next, in one hold of the lock; then does it outside the
  // lock (gRPC and upstream calls may call back). The reactor is alive on entry: the caller is a gRPC reaction,
  // or holds an outstanding upstream call or the `acting_` count, either of which keeps Finish from being called.
  // While this thread acts on its decisions it holds `acting_` itself, and gives it back through another round.
  void Step(absl::FunctionRef<void()> event = [] {}) {
    bool release_acting = false;
    while (true) {
      std::vector<std::pair<uint64_t, ProfileRequests::Call>> launch;
      std::vector<std::shared_ptr<ProfileFetcher::Ticket>> cancel;
      bool start_read = false;
      const grpc::ByteBuffer* write = nullptr;
      absl::Time lookup_from = absl::InfinitePast();
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
        // No more upstream calls while answers wait to be built into responses, or the reader lags.
        if (!requests_.has_unbuilt_results() && unread_bytes_ < limits_.max_unread_bytes) TakeCallsLocked(launch);
        // Read the next request only when the work already read is under way (backpressure).
        if (!reading_ && !reads_done_ && !requests_.stop_reading() && !requests_.work_left() &&
            inflight_accounts_ < limits_.max_inflight_accounts && unread_bytes_ < limits_.max_unread_bytes) {
          reading_ = true;
          start_read = true;
        }
        if (!writing_ && !responses_.empty()) {
          writing_ = true;
          write = &responses_.front().buffer;
          lookup_from = std::exchange(responses_.front().completes_lookup_from, absl::InfinitePast());
        }
        const bool work_left = requests_.work_left() || !calls_.empty();
        const bool input_done = reads_done_ || requests_.stop_reading();
        // Reads, launches and cancellations decided here happen after the lock is released; Finish must wait for
        // them (a StartRead after Finish, or a Launch touching a deleted reactor, would be wrong).
        acts = start_read || !launch.empty() || !cancel.empty();
        if (acts) ++acting_;
        if (!writing_ && responses_.empty() && !work_left && acting_ == 0 && (requests_.ended() || input_done)) {
          finished_ = true;
          finish = requests_.status();
        }
      }
      for (auto& call : cancel) call->Cancel();
      for (auto& [id, call] : launch) Launch(id, std::move(call));
      if (start_read) StartRead(&request_);
      if (write != nullptr) {
        if (observer_ != nullptr && lookup_from != absl::InfinitePast()) {
          observer_->OnLookupAnswered("GetProfiles", absl::Now() - lookup_from);
        }
        if (report_.has_value()) report_->Sent();
        StartWrite(write);
      }
      if (finish.has_value()) {
        ReportFinish(*finish);
        if (report_.has_value()) report_->Handled(finish->error_code());
        Finish(*finish);
      }
      if (!acts) return;
      release_acting = true;  // Another round: give `acting_` back, and finish if that was all that was left.
    }
  }

  void ReportFinish(const grpc::Status& status) {
    absl::MutexLock lock(&mutex_);
    const absl::Duration duration = absl::Now() - started_;
    if (observer_ != nullptr) observer_->OnStreamFinished();
    LogFinished(status, "GetProfiles stream finished",
                {{"requests", requests_.requests()},
                 {"invalid_requests", requests_.invalid_requests()},
                 {"accounts", requests_.accounts_answered()},
                 {"failed_accounts", requests_.accounts_failed()},
                 {"duration_ms", absl::ToInt64Milliseconds(duration)}});
  }

  void OnCallDone(uint64_t id, uint64_t request_index, int64_t account_count, FetchResult result) override {
    Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
      if (std::optional<grpc::Status> fatal = ApplyAnswerLocked(id, request_index, account_count, std::move(result))) {
        EndStreamLocked(std::move(*fatal));
      }
    });
  }

  // Builds responses while the reader keeps up: the stream's unread bytes within its bound (one response may go
  // over).
  void FillResponsesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    while (unread_bytes_ < limits_.max_unread_bytes) {
      absl::Time completes_lookup_from = absl::InfinitePast();
      std::optional<ResponseEncoder> response = requests_.NextResponse(&completes_lookup_from);
      if (!response.has_value() || !QueueResponseLocked(std::move(*response), completes_lookup_from)) return;
    }
  }

  // Queues a response for writing, within the server-wide bound on unread responses; past it, ends the stream
  // with RESOURCE_EXHAUSTED.
  bool QueueResponseLocked(ResponseEncoder response, absl::Time completes_lookup_from = absl::InfinitePast())
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
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
    responses_.push_back({std::move(response).Finish(), bytes, completes_lookup_from});
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

  ServerQuotas& quotas_;
  StreamObserver* const observer_;
  const absl::Time started_;
  grpc::ByteBuffer request_;  // Filled by the pending read; touched only in OnReadDone.

  bool reading_ ABSL_GUARDED_BY(mutex_) = false;
  int acting_ ABSL_GUARDED_BY(mutex_) = 0;  // Threads doing what Step decided (reads, launches, cancels).
  bool reads_done_ ABSL_GUARDED_BY(mutex_) = false;
  bool writing_ ABSL_GUARDED_BY(mutex_) = false;
  bool finished_ ABSL_GUARDED_BY(mutex_) = false;
  std::list<QueuedResponse> responses_ ABSL_GUARDED_BY(mutex_);  // Serialized; the front is being written.
  int64_t unread_bytes_ ABSL_GUARDED_BY(mutex_) = 0;             // Of responses_, taken from quotas_.unread_bytes.
};

// The gRPC lifecycle of one BatchGetProfiles call: its upstream calls (at most max_inflight_accounts at once),
// cancellation, and the one response. ProfileRequests accepts the request and assembles the response.
class BatchGetReactor final : public grpc::ServerUnaryReactor, private UpstreamCallsReactor {
 public:
  BatchGetReactor(grpc::CallbackServerContext* context, const grpc::ByteBuffer& request, grpc::ByteBuffer* response,
                  ProfileFetcher& fetcher, const StreamLimits& limits, ServerQuotas& quotas, StreamObserver* observer,
                  const GrpcServerMetrics::MethodSeries* series)
      : UpstreamCallsReactor(context, fetcher, limits, quotas, observer, series),
        quotas_(quotas),
        observer_(observer),
        response_(response),
        started_(absl::Now()) {
    if (report_.has_value()) report_->Received();  // The request, which came with the call.
    const std::string wire = Flatten(request);
    Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
      if (grpc::Status accepted = requests_.AcceptBatchGet(wire); !accepted.ok()) requests_.End(std::move(accepted));
    });
  }

  void OnCancel() override {
    Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
      EndLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled or its deadline passed"));
    });
  }

  // Finish is called only when no upstream call is outstanding and no thread is acting for the reactor.
  void OnDone() override {
    quotas_.unread_bytes.Give(response_bytes_);
    if (observer_ != nullptr) observer_->OnUnreadBytes(-response_bytes_);
    delete this;
  }

 private:
  void EndLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    requests_.End(std::move(status));
    CancelCallsLocked();
  }

  // As GetProfilesReactor::Step: decides under the lock, acts outside it, holding `acting_` while it does.
  void Step(absl::FunctionRef<void()> event) {
    bool release_acting = false;
    while (true) {
      std::vector<std::pair<uint64_t, ProfileRequests::Call>> launch;
      std::vector<std::shared_ptr<ProfileFetcher::Ticket>> cancel;
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
        TakeCallsLocked(launch);
        if (!requests_.ended() && response_bytes_ == 0 && calls_.empty() && launch.empty() &&
            requests_.batch_answered()) {
          BuildResponseLocked();
        }
        acts = !launch.empty() || !cancel.empty();
        if (acts) ++acting_;
        if (calls_.empty() && launch.empty() && acting_ == 0 && (requests_.ended() || response_bytes_ > 0)) {
          finished_ = true;
          finish = requests_.status();
        }
      }
      for (auto& call : cancel) call->Cancel();
      for (auto& [id, call] : launch) Launch(id, std::move(call));
      if (finish.has_value()) {
        ReportFinish(*finish);
        if (report_.has_value()) {
          if (finish->ok()) report_->Sent();  // gRPC sends the response only with an OK status.
          report_->Handled(finish->error_code());
        }
        Finish(*finish);
      }
      if (!acts) return;
      release_acting = true;
    }
  }

  // The response, within the server-wide bound on responses not yet taken by their callers.
  void BuildResponseLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    std::string bytes = requests_.TakeBatchResponse();
    // Even an empty response counts, so that response_bytes_ > 0 says it is built.
    const int64_t size = std::max<int64_t>(static_cast<int64_t>(bytes.size()), 1);
    if (!quotas_.unread_bytes.TryTake(size)) {
      EndLocked(ToGrpcStatus(ToRpcStatus(BridgeOverQuotaFailure(absl::StrCat(
          "the bridge already holds ", quotas_.unread_bytes.used() >> 10,
          " KiB of responses that callers have not read, its limit for all callers (unread_responses_mib); this "
          "response needs ",
          size >> 10, " KiB: retry later, or ask for fewer accounts")))));
      return;
    }
    response_bytes_ = size;
    if (observer_ != nullptr) observer_->OnUnreadBytes(size);
    *response_ = ToByteBuffer(std::move(bytes));
  }

  void ReportFinish(const grpc::Status& status) {
    absl::MutexLock lock(&mutex_);
    const absl::Duration duration = absl::Now() - started_;
    // Answered with its results (not refused, nor ended early): a lookup.
    if (observer_ != nullptr && status.ok()) observer_->OnLookupAnswered("BatchGetProfiles", duration);
    LogFinished(status, "BatchGetProfiles finished",
                {{"accounts", requests_.accounts_answered()},
                 {"failed_accounts", requests_.accounts_failed()},
                 {"duration_ms", absl::ToInt64Milliseconds(duration)}});
  }

  void OnCallDone(uint64_t id, uint64_t request_index, int64_t account_count, FetchResult result) override {
    Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
      if (std::optional<grpc::Status> fatal = ApplyAnswerLocked(id, request_index, account_count, std::move(result))) {
        EndLocked(std::move(*fatal));
      }
    });
  }

  ServerQuotas& quotas_;
  StreamObserver* const observer_;
  grpc::ByteBuffer* const response_;
  const absl::Time started_;

  int acting_ ABSL_GUARDED_BY(mutex_) = 0;
  bool finished_ ABSL_GUARDED_BY(mutex_) = false;
  int64_t response_bytes_ ABSL_GUARDED_BY(mutex_) = 0;  // Taken from quotas_.unread_bytes.
};

}  // namespace

std::string StatusCodeName(grpc::StatusCode code) {
  // gRPC's codes are Abseil's, with the same numbers and names.
  std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? "UNKNOWN" : name;
}

ProfileService::ProfileService(ProfileFetcher& fetcher, StreamLimits limits, ServerLimits server_limits,
                               StreamObserver* observer, GrpcServerMetrics* grpc_metrics)
    : fetcher_(fetcher), limits_(limits), quotas_(server_limits), observer_(observer) {
  if (grpc_metrics != nullptr) {
    const std::string service =
        absl::StrCat("/", portraitbridge::profile::v1::ProfileService::service_full_name(), "/");
    get_profiles_series_ = &grpc_metrics->ReportedByHandler(absl::StrCat(service, "GetProfiles"));
    batch_get_series_ = &grpc_metrics->ReportedByHandler(absl::StrCat(service, "BatchGetProfiles"));
  }
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ProfileService::GetProfiles(
    grpc::CallbackServerContext* context) {
  return new GetProfilesReactor(context, fetcher_, limits_, quotas_, observer_, get_profiles_series_);
}

grpc::ServerUnaryReactor* ProfileService::BatchGetProfiles(grpc::CallbackServerContext* context,
                                                           const grpc::ByteBuffer* request,
                                                           grpc::ByteBuffer* response) {
  return new BatchGetReactor(context, *request, response, fetcher_, limits_, quotas_, observer_, batch_get_series_);
}

}  // namespace portrait_bridge

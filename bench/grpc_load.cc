#include "bench/grpc_load.h"

#include <cstdio>
#include <deque>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "google/rpc/error_details.pb.h"

namespace portrait_bridge::bench {

std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(const std::string& target, int count) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments arguments;
    arguments.SetInt("grpc.use_local_subchannel_pool", 1);
    arguments.SetInt("portrait_bench.channel", i);  // Distinct arguments: never one shared connection.
    channels.push_back(grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), arguments));
  }
  return channels;
}

std::string CodeName(int code) {
  // gRPC's codes and names are Abseil's (absl::StatusCode): one table for both.
  const std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? "CODE_" + std::to_string(code) : name;
}

namespace {

// "RESOURCE_EXHAUSTED TENCENT_60007": the account's status code and its ErrorInfo reason.
std::string FailureLabel(const v1::AccountResult& result) {
  std::string label = CodeName(result.status().code());
  for (const auto& detail : result.status().details()) {
    google::rpc::ErrorInfo info;
    if (detail.UnpackTo(&info)) return label + " " + info.reason();
  }
  if (result.tencent_code() != 0) label += " tencent " + std::to_string(result.tencent_code());
  return label;
}

// What a stream decodes each response into: a message on an arena that is emptied before each read. Decoding then
// takes memory from the arena's blocks and nothing is freed piece by piece; a message reused across reads (the
// default) frees and allocates every account's status and string values on every read, about a fifth of the
// load generator's CPU in scenario 2 (1.15 -> 0.90 us per profile). A client that cares about CPU decodes the same
// way (protobuf arenas); this keeps the load generator's share of the two shared cores small.
class ResponseSlot {
 public:
  v1::GetProfilesResponse& message() { return *message_; }
  // An empty message for the next read; the previous one is gone.
  v1::GetProfilesResponse* Fresh() {
    arena_.Reset();
    message_ = google::protobuf::Arena::CreateMessage<v1::GetProfilesResponse>(&arena_);
    return message_;
  }

 private:
  google::protobuf::Arena arena_;
  v1::GetProfilesResponse* message_ = google::protobuf::Arena::CreateMessage<v1::GetProfilesResponse>(&arena_);
};

// Counts a response's accounts (OK or failed, with each failure's label) into `shard` of `recorder`.
void RecordResults(Recorder& recorder, int shard,
                   const google::protobuf::RepeatedPtrField<v1::AccountResult>& results) {
  int64_t ok_accounts = 0, failed_accounts = 0;
  for (const v1::AccountResult& result : results) {
    if (result.status().code() == 0) {
      ++ok_accounts;
    } else {
      ++failed_accounts;
      recorder.AddError(shard, FailureLabel(result));
    }
  }
  recorder.AddAccounts(shard, ok_accounts, failed_accounts);
}

}  // namespace

// One caller: owns its current stream, opens the next one when it ends.
class GrpcLoad::Caller {
 public:
  Caller(GrpcLoad& load, int id, v1::ProfileService::Stub& stub) : load_(load), id_(id), stub_(stub), rng_(id) {}
  void StartStream();
  void StreamEnded(Stream* stream);
  void Cancel();

  GrpcLoad& load() { return load_; }
  int id() const { return id_; }
  v1::ProfileService::Stub& stub() { return stub_; }
  std::mt19937_64& rng() { return rng_; }

 private:
  GrpcLoad& load_;
  const int id_;
  v1::ProfileService::Stub& stub_;
  std::mt19937_64 rng_;  // Used by one stream at a time, under that stream's mutex.
  std::mutex mutex_;
  Stream* current_ = nullptr;
  // Ended streams are kept until the load is destroyed: TryCancel can then never race with a delete (and no
  // lock is held around gRPC calls, whose reactions may run inline).
  std::vector<std::unique_ptr<Stream>> ended_;
};

class GrpcLoad::Stream final : public grpc::ClientBidiReactor<v1::GetProfilesRequest, v1::GetProfilesResponse> {
 public:
  explicit Stream(Caller& caller) : caller_(caller), opened_(Clock::now()) {
    context_.set_deadline(std::chrono::system_clock::now() + caller.load().options_.deadline);
  }

  void Begin() {
    caller_.stub().async()->GetProfiles(&context_, this);
    StartRead(&response_.message());
    Ask();
    StartCall();
  }

  grpc::ClientContext& context() { return context_; }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // The stream is ending; OnDone follows.
    Recorder& recorder = caller_.load().recorder_;
    RecordResults(recorder, caller_.id(), response_.message().results());
    if (response_.message().request_complete()) {
      Clock::time_point started;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        started = ask_started_;
      }
      recorder.AddAsk(caller_.id(), started);
      ++asks_;
      const GrpcLoadOptions& options = caller_.load().options_;
      if (caller_.load().stopping_.load() || asks_ >= options.asks_per_stream ||
          Clock::now() - opened_ >= options.stream_max_age) {
        HalfClose();
      } else {
        Ask();
      }
    }
    StartRead(response_.Fresh());
  }

  void OnWriteDone(bool ok) override {
    bool write = false, half_close = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      write_in_flight_ = false;
      if (!ok) return;  // The stream failed; OnDone reports it.
      if (write_pending_) {
        write_pending_ = false;
        write_in_flight_ = true;
        FillRequestLocked();
        write = true;
      } else if (half_close_pending_) {
        half_close_pending_ = false;
        half_close = true;
      }
    }
    if (write) StartWrite(&request_);
    if (half_close) StartWritesDone();
  }

  void OnDone(const grpc::Status& status) override {
    if (!status.ok()) {
      caller_.load().recorder_.AddError(
          caller_.id(), "stream ended " + CodeName(status.error_code()) + ": " + status.error_message().substr(0, 60));
    }
    caller_.StreamEnded(this);
  }

 private:
  // One write in flight at a time: an ask (or the half-close) that comes while the previous write has not
  // completed waits for OnWriteDone.
  void Ask() {
    bool write = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ask_started_ = Clock::now();
      if (write_in_flight_) {
        write_pending_ = true;
      } else {
        write_in_flight_ = true;
        FillRequestLocked();
        write = true;
      }
    }
    if (write) StartWrite(&request_);
  }

  void HalfClose() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (write_in_flight_) {
        half_close_pending_ = true;
        return;
      }
    }
    StartWritesDone();
  }

  void FillRequestLocked() {
    request_.Clear();
    request_.set_request_id(std::to_string(asks_));
    caller_.load().options_.shape.Pick(caller_.rng(),
                                       [&](std::string account) { request_.add_accounts(std::move(account)); });
    for (const std::string& tag : caller_.load().options_.shape.tags) request_.add_tags(tag);
  }

  Caller& caller_;
  const Clock::time_point opened_;
  grpc::ClientContext context_;
  ResponseSlot response_;  // Touched by OnReadDone only (one read in flight).
  int asks_ = 0;           // Likewise.

  std::mutex mutex_;
  v1::GetProfilesRequest request_;
  Clock::time_point ask_started_;
  bool write_in_flight_ = false;
  bool write_pending_ = false;
  bool half_close_pending_ = false;
};

void GrpcLoad::Caller::StartStream() {
  auto* stream = new Stream(*this);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    current_ = stream;
  }
  stream->Begin();
}

void GrpcLoad::Caller::StreamEnded(Stream* stream) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    current_ = nullptr;
    ended_.emplace_back(stream);
  }
  if (load_.stopping_.load()) {
    load_.CallerFinished();
  } else {
    StartStream();
  }
}

void GrpcLoad::Caller::Cancel() {
  Stream* stream = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stream = current_;
  }
  if (stream != nullptr) stream->context().TryCancel();
}

GrpcLoad::GrpcLoad(GrpcLoadOptions options, Recorder& recorder) : options_(std::move(options)), recorder_(recorder) {
  channels_ = MakeChannels(options_.target, std::max(1, options_.channels));
  for (auto& channel : channels_) stubs_.push_back(v1::ProfileService::NewStub(channel));
  for (int i = 0; i < options_.callers; ++i) {
    callers_.push_back(std::make_unique<Caller>(*this, i, *stubs_[static_cast<size_t>(i) % stubs_.size()]));
  }
}

GrpcLoad::~GrpcLoad() { Stop(std::chrono::milliseconds(0)); }

void GrpcLoad::Start() {
  started_ = true;
  for (auto& caller : callers_) caller->StartStream();
}

void GrpcLoad::CallerFinished() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++finished_;
  finished_cv_.notify_all();
}

void GrpcLoad::Stop(std::chrono::milliseconds drain) {
  stopping_.store(true);
  if (!started_) return;
  const int total = static_cast<int>(callers_.size());
  std::unique_lock<std::mutex> lock(mutex_);
  if (!finished_cv_.wait_for(lock, drain, [&] { return finished_ == total; })) {
    lock.unlock();
    for (auto& caller : callers_) caller->Cancel();
    lock.lock();
    finished_cv_.wait(lock, [&] { return finished_ == total; });
  }
}

// One long-lived stream of the open loop. Lookups are offered by the arrivals thread and written one at a time
// (one write in flight; the rest wait in `queued_`); answers are matched to them by request_index, which the
// bridge counts in the order it reads the stream's requests, i.e. the order they were written. The hold taken
// before StartCall lets the arrivals thread start writes; it is released with the half-close.
class GrpcOpenLoad::Stream final : public grpc::ClientBidiReactor<v1::GetProfilesRequest, v1::GetProfilesResponse> {
 public:
  Stream(GrpcOpenLoad& load, int slot, v1::ProfileService::Stub& stub) : load_(load), slot_(slot) {
    stub.async()->GetProfiles(&context_, this);
  }

  void Begin() {
    StartRead(&response_.message());
    AddHold();
    StartCall();
  }

  grpc::ClientContext& context() { return context_; }

  /// Takes the lookup unless the stream is closing or has taken its share; false when it did not. Arrivals thread.
  bool Offer(Lookup& lookup) {
    bool write = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (closing_ || taken_ >= load_.options_.lookups_per_stream) return false;
      ++taken_;
      ++outstanding_;
      if (write_in_flight_) {
        queued_.push_back(std::move(lookup));
      } else {
        write_in_flight_ = true;
        FillLocked(std::move(lookup));
        write = true;
      }
    }
    if (write) StartWrite(&request_);
    return true;
  }

  bool full() {
    std::lock_guard<std::mutex> lock(mutex_);
    return taken_ >= load_.options_.lookups_per_stream;
  }

  /// No more lookups: half-closes once those queued are written.
  void Retire() {
    bool close = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (closing_) return;
      closing_ = true;
      close = CloseIfIdleLocked();
    }
    if (close) Close();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // The bridge ended the stream: writes would fail too.
      {
        std::lock_guard<std::mutex> lock(mutex_);
        broken_ = true;
      }
      Retire();
      return;
    }
    Recorder& recorder = load_.recorder_;
    RecordResults(recorder, slot_, response_.message().results());
    if (response_.message().request_complete()) {
      std::optional<Clock::time_point> intended;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        const uint64_t index = response_.message().request_index();
        if (index < intended_.size()) {
          intended = intended_[index];
          --outstanding_;
        }
      }
      if (intended.has_value()) {
        load_.outstanding_.fetch_sub(1);
        recorder.AddLookup(slot_, *intended);
      } else {
        recorder.AddError(slot_, "answer to a request never sent (request_index out of range)");
      }
    }
    StartRead(response_.Fresh());
  }

  void OnWriteDone(bool ok) override {
    bool write = false, close = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      write_in_flight_ = false;
      if (!ok) broken_ = closing_ = true;  // Queued lookups are given up in OnDone.
      if (!broken_ && !queued_.empty()) {
        write_in_flight_ = true;
        FillLocked(std::move(queued_.front()));
        queued_.pop_front();
        write = true;
      } else {
        close = CloseIfIdleLocked();
      }
    }
    if (write) StartWrite(&request_);
    if (close) Close();
  }

  void OnDone(const grpc::Status& status) override {
    int64_t given_up = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      given_up = std::exchange(outstanding_, 0);
    }
    Recorder& recorder = load_.recorder_;
    if (given_up > 0) {
      load_.outstanding_.fetch_sub(given_up);
      recorder.AddError(slot_, "lookups unanswered when their stream ended " + CodeName(status.error_code()), given_up);
    }
    if (!status.ok()) {
      recorder.AddError(slot_,
                        "stream ended " + CodeName(status.error_code()) + ": " + status.error_message().substr(0, 60));
    }
    load_.StreamDone();
  }

 private:
  void FillLocked(Lookup lookup) {
    request_.Clear();
    for (std::string& account : lookup.accounts) request_.add_accounts(std::move(account));
    for (const std::string& tag : load_.options_.shape.tags) request_.add_tags(tag);
    intended_.push_back(lookup.intended);
  }

  // The half-close is due when the stream is closing and no write is in flight; at most once.
  bool CloseIfIdleLocked() {
    if (!closing_ || write_in_flight_ || closed_) return false;
    closed_ = true;
    return true;
  }

  void Close() {
    bool broken;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      broken = broken_;
    }
    if (!broken) StartWritesDone();
    RemoveHold();  // OnDone can now come, once the answers are in.
  }

  GrpcOpenLoad& load_;
  const int slot_;
  grpc::ClientContext context_;
  ResponseSlot response_;  // Touched by OnReadDone only (one read in flight).

  std::mutex mutex_;
  v1::GetProfilesRequest request_;           // The write in flight.
  std::deque<Lookup> queued_;                // Waiting for the write in flight to complete.
  std::vector<Clock::time_point> intended_;  // By request_index: every lookup written, in order.
  int64_t taken_ = 0;
  int64_t outstanding_ = 0;  // Taken and not yet answered.
  bool write_in_flight_ = false;
  bool closing_ = false;  // Takes no more lookups.
  bool closed_ = false;   // Half-closed (or given up), hold released.
  bool broken_ = false;   // A write or the read side failed.
};

GrpcOpenLoad::GrpcOpenLoad(GrpcOpenLoadOptions options, Recorder& recorder)
    : options_(std::move(options)),
      recorder_(recorder),
      arrivals_(options_.rate_per_s, options_.seed, [this](Clock::time_point intended) { Arrive(intended); }),
      rng_(options_.seed ^ 0x9e3779b97f4a7c15ULL) {
  channels_ = MakeChannels(options_.target, std::max(1, options_.channels));
  for (auto& channel : channels_) stubs_.push_back(v1::ProfileService::NewStub(channel));
  slots_.assign(static_cast<size_t>(std::max(1, options_.streams)), nullptr);
}

GrpcOpenLoad::~GrpcOpenLoad() { Stop(std::chrono::milliseconds(0)); }

void GrpcOpenLoad::Start() {
  started_ = true;
  if (!options_.unary) {
    for (size_t slot = 0; slot < slots_.size(); ++slot) slots_[slot] = OpenStream(slot);
  }
  arrivals_.Start();
}

// One lookup as a BatchGetProfiles call of its own; deleted when it ends.
struct GrpcOpenLoad::UnaryCall {
  int slot = 0;
  Clock::time_point intended;
  grpc::ClientContext context;
  v1::BatchGetProfilesRequest request;
  v1::BatchGetProfilesResponse response;
};

void GrpcOpenLoad::StartUnary(size_t slot, Lookup lookup) {
  auto* call = new UnaryCall;
  call->slot = static_cast<int>(slot);
  call->intended = lookup.intended;
  for (std::string& account : lookup.accounts) call->request.add_accounts(std::move(account));
  for (const std::string& tag : options_.shape.tags) call->request.add_tags(tag);
  call->context.set_deadline(std::chrono::system_clock::now() + options_.call_deadline);
  stubs_[slot % stubs_.size()]->async()->BatchGetProfiles(
      &call->context, &call->request, &call->response,
      [this, call](const grpc::Status& status) { FinishUnary(call, status); });
  recorder_.AddSent(lookup.intended, Clock::now());
}

void GrpcOpenLoad::FinishUnary(UnaryCall* call, const grpc::Status& status) {
  if (status.ok()) {
    RecordResults(recorder_, call->slot, call->response.results());
    recorder_.AddLookup(call->slot, call->intended);
  } else {
    recorder_.AddError(call->slot,
                       "call ended " + CodeName(status.error_code()) + ": " + status.error_message().substr(0, 60));
  }
  delete call;
  outstanding_.fetch_sub(1);
  std::lock_guard<std::mutex> lock(mutex_);  // Stop reads outstanding_ under it: no wake-up is lost.
  done_cv_.notify_all();
}

GrpcOpenLoad::Stream* GrpcOpenLoad::OpenStream(size_t slot) {
  auto owned = std::make_unique<Stream>(*this, static_cast<int>(slot), *stubs_[slot % stubs_.size()]);
  Stream* stream = owned.get();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    streams_.push_back(std::move(owned));
  }
  stream->Begin();
  return stream;
}

void GrpcOpenLoad::Arrive(Clock::time_point intended) {
  const size_t slot = next_slot_++ % slots_.size();
  if (outstanding_.load() >= options_.max_outstanding) {
    recorder_.AddOffered(intended, /*dropped=*/true);
    return;
  }
  recorder_.AddOffered(intended, /*dropped=*/false);
  Lookup lookup{intended, {}};
  options_.shape.Pick(rng_, [&](std::string account) { lookup.accounts.push_back(std::move(account)); });
  outstanding_.fetch_add(1);
  if (options_.unary) {
    StartUnary(slot, std::move(lookup));
    return;
  }
  // The slot's stream, or a fresh one when it has taken its share or failed (a second failure in a row is a
  // bridge that is not there: the lookup is given up rather than retried).
  for (int attempt = 0; attempt < 2; ++attempt) {
    Stream*& stream = slots_[slot];
    if (stream->Offer(lookup)) {
      // Handed to the stream: written now, or queued behind the write in flight (flow control, the bridge's
      // backpressure): the generator's lag ends here, and what follows is the target's.
      recorder_.AddSent(intended, Clock::now());
      if (stream->full()) stream->Retire();
      return;
    }
    stream->Retire();
    stream = OpenStream(slot);
  }
  outstanding_.fetch_sub(1);
  recorder_.AddError(static_cast<int>(slot), "lookups unanswered: no stream would take them");
}

void GrpcOpenLoad::StreamDone() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++done_;
  done_cv_.notify_all();
}

void GrpcOpenLoad::Stop(std::chrono::milliseconds drain) {
  arrivals_.Stop();
  if (!started_) return;
  started_ = false;
  if (options_.unary) {  // No more arrivals; each call ends by its deadline at the latest.
    std::unique_lock<std::mutex> lock(mutex_);
    done_cv_.wait(lock, [&] { return outstanding_.load() == 0; });
    return;
  }
  for (Stream* stream : slots_) stream->Retire();
  std::unique_lock<std::mutex> lock(mutex_);
  if (!done_cv_.wait_for(lock, drain, [&] { return done_ == streams_.size(); })) {
    std::vector<Stream*> streams;
    for (auto& stream : streams_) streams.push_back(stream.get());
    lock.unlock();
    for (Stream* stream : streams) stream->context().TryCancel();  // A no-op on streams already done.
    lock.lock();
    done_cv_.wait(lock, [&] { return done_ == streams_.size(); });
  }
}

class IdleStreams::Stream final : public grpc::ClientBidiReactor<v1::GetProfilesRequest, v1::GetProfilesResponse> {
 public:
  Stream(IdleStreams& owner, v1::ProfileService::Stub& stub) : owner_(owner) {
    stub.async()->GetProfiles(&context_, this);
  }
  void Begin() {
    StartRead(&response_);
    StartCall();
  }
  grpc::ClientContext& context() { return context_; }
  void OnReadDone(bool) override {}
  void OnDone(const grpc::Status& status) override { owner_.Ended(this, status); }

 private:
  IdleStreams& owner_;
  grpc::ClientContext context_;
  v1::GetProfilesResponse response_;
};

IdleStreams::IdleStreams(const std::string& target, int streams_per_channel)
    : target_(target), streams_per_channel_(std::max(1, streams_per_channel)) {}

IdleStreams::~IdleStreams() { CancelAll(); }

void IdleStreams::Open(int count) {
  const int channels = (count + streams_per_channel_ - 1) / streams_per_channel_;
  channels_ = MakeChannels(target_, channels);
  for (auto& channel : channels_) stubs_.push_back(v1::ProfileService::NewStub(channel));
  for (int i = 0; i < count; ++i) {
    auto stream = std::make_unique<Stream>(*this, *stubs_[static_cast<size_t>(i / streams_per_channel_)]);
    Stream* raw = stream.get();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      streams_.push_back(std::move(stream));
    }
    raw->Begin();
  }
}

int IdleStreams::ended() {
  std::lock_guard<std::mutex> lock(mutex_);
  return ended_;
}

void IdleStreams::Ended(Stream*, const grpc::Status& status) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED && first_error_.empty()) {
    first_error_ = CodeName(status.error_code()) + ": " + status.error_message();
  }
  ++ended_;
  cv_.notify_all();
}

std::string IdleStreams::first_error() {
  std::lock_guard<std::mutex> lock(mutex_);
  return first_error_;
}

void IdleStreams::CancelAll() {
  std::vector<Stream*> streams;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& stream : streams_) streams.push_back(stream.get());
  }
  for (Stream* stream : streams) stream->context().TryCancel();
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return ended_ == static_cast<int>(streams_.size()); });
}

}  // namespace portrait_bridge::bench

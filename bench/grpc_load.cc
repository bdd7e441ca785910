#include "bench/grpc_load.h"

#include <cstdio>
#include <utility>

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
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  if (code >= 0 && code < static_cast<int>(std::size(kNames))) return kNames[code];
  return "CODE_" + std::to_string(code);
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
    StartRead(&response_);
    Ask();
    StartCall();
  }

  grpc::ClientContext& context() { return context_; }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // The stream is ending; OnDone follows.
    Recorder& recorder = caller_.load().recorder_;
    int64_t ok_accounts = 0, failed_accounts = 0;
    for (const v1::AccountResult& result : response_.results()) {
      if (result.status().code() == 0) {
        ++ok_accounts;
      } else {
        ++failed_accounts;
        recorder.AddError(caller_.id(), FailureLabel(result));
      }
    }
    recorder.AddAccounts(caller_.id(), ok_accounts, failed_accounts);
    if (response_.request_complete()) {
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
    StartRead(&response_);
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
      caller_.load().recorder_.AddError(caller_.id(), "stream ended " + CodeName(status.error_code()) + ": " +
                                                          status.error_message().substr(0, 60));
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
    caller_.load().options_.shape.Pick(caller_.rng(), [&](std::string account) {
      request_.add_accounts(std::move(account));
    });
    for (const std::string& tag : caller_.load().options_.shape.tags) request_.add_tags(tag);
  }

  Caller& caller_;
  const Clock::time_point opened_;
  grpc::ClientContext context_;
  v1::GetProfilesResponse response_;  // Touched by OnReadDone only (one read in flight).
  int asks_ = 0;                      // Likewise.

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

GrpcLoad::GrpcLoad(GrpcLoadOptions options, Recorder& recorder)
    : options_(std::move(options)), recorder_(recorder) {
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

class IdleStreams::Stream final
    : public grpc::ClientBidiReactor<v1::GetProfilesRequest, v1::GetProfilesResponse> {
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

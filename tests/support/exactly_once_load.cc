#include "tests/support/exactly_once_load.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <condition_variable>
#include <limits>
#include <random>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "google/rpc/error_details.pb.h"
#include "portraitbridge/profile/v1/profile.grpc.pb.h"

namespace portrait_bridge::testing {

namespace v1 = portraitbridge::profile::v1;

namespace {

// An entry of the ledger is an account as a number: N >= 0 is "userN" (known to the sandbox), -(K + 1) is
// "nobodyK" (unknown). kForeign stands for a result naming an account this load never asks for.
constexpr int32_t kForeign = std::numeric_limits<int32_t>::min();
constexpr int32_t kHotAccounts = 10;      // user0 .. user9, asked by every worker.
constexpr int32_t kSandboxPool = 100000;  // The sandbox's user0 .. user99999.
constexpr char kNickTag[] = "Tag_Profile_IM_Nick";

std::string AccountName(int32_t entry) {
  return entry >= 0 ? "user" + std::to_string(entry) : "nobody" + std::to_string(-(static_cast<int64_t>(entry) + 1));
}

int32_t EntryOf(const std::string& account) {
  auto number = [&account](size_t prefix) -> int64_t {
    if (account.size() <= prefix || account.size() > prefix + 9) return -1;
    if (account[prefix] == '0' && account.size() > prefix + 1) return -1;  // Canonical decimal only.
    int64_t n = 0;
    for (size_t i = prefix; i < account.size(); ++i) {
      if (account[i] < '0' || account[i] > '9') return -1;
      n = n * 10 + (account[i] - '0');
    }
    return n;
  };
  if (account.rfind("user", 0) == 0) {
    if (const int64_t n = number(4); n >= 0) return static_cast<int32_t>(n);
  } else if (account.rfind("nobody", 0) == 0) {
    if (const int64_t n = number(6); n >= 0) return static_cast<int32_t>(-(n + 1));
  }
  return kForeign;
}

std::string CodeName(int code) {
  // gRPC's codes and names are Abseil's (absl::StatusCode): one table for both.
  const std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? "CODE_" + std::to_string(code) : name;
}

// "UNAVAILABLE UPSTREAM_CONNECT_FAILED": the result's code and its ErrorInfo reason.
std::string ResultLabel(const v1::AccountResult& result) {
  std::string label = CodeName(result.status().code());
  for (const auto& detail : result.status().details()) {
    google::rpc::ErrorInfo info;
    if (detail.UnpackTo(&info)) return label + " " + info.reason();
  }
  return label;
}

// Whether an OK result carries its own account's profile: "User N" as the Nick of userN.
bool ProfileIsTheAccounts(const v1::AccountResult& result, int32_t entry) {
  if (entry < 0) return false;  // An unknown account has no profile.
  for (const v1::ProfileItem& item : result.items()) {
    if (item.tag() == kNickTag) return item.string_value() == "User " + std::to_string(entry);
  }
  return false;
}

}  // namespace

bool ExactlyOnceReport::Clean() const {
  return duplicates == 0 && missing == 0 && wrong == 0 && bad_completions == 0 &&
         stream_statuses.size() == (stream_statuses.count("OK") != 0 ? 1u : 0u);
}

std::string ExactlyOnceReport::Summary() const {
  std::ostringstream out;
  out << "entries asked " << expected << ", answered " << answered << ", duplicates " << duplicates << ", missing "
      << missing << ", wrong " << wrong << ", bad completions " << bad_completions << " (" << requests
      << " requests on " << streams << " streams)\n";
  out << "streams by status:";
  for (const auto& [status, count] : stream_statuses) out << "\n  " << count << " " << status;
  out << "\nresults by status:";
  for (const auto& [label, count] : results) out << "\n  " << count << " " << label;
  return out.str();
}

// One GetProfiles stream of a worker: a writer thread asks, the worker's thread reads, and at the end the stream's
// ledger is reconciled into a report of its own.
class ExactlyOnceLoad::Stream {
 public:
  Stream(ExactlyOnceLoad& load, v1::ProfileService::Stub& stub, std::mt19937_64& random)
      : load_(load), options_(load.options_), stub_(stub), random_(random) {}

  ExactlyOnceReport Run() {
    context_.set_deadline(std::chrono::system_clock::now() + options_.stream_deadline);
    stream_ = stub_.GetProfiles(&context_);
    std::thread writer([this] { WriteRequests(); });
    v1::GetProfilesResponse response;
    while (stream_->Read(&response)) Record(response);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ended_ = true;
    }
    answered_cv_.notify_all();
    writer.join();
    const grpc::Status status = stream_->Finish();
    std::lock_guard<std::mutex> lock(mutex_);
    report_.streams = 1;
    report_.stream_statuses[status.ok() ? "OK" : CodeName(status.error_code()) + ": " + status.error_message()] = 1;
    Reconcile();
    return report_;
  }

 private:
  struct Request {
    std::vector<int32_t> asked;
    std::vector<int32_t> answered;
    int completes = 0;
    bool results_after_complete = false;
  };

  // The next request's entries, or none when the run's total has been asked for.
  std::vector<int32_t> NextEntries() {
    const int size = options_.distinct_per_request + options_.duplicates_per_request + options_.hot_per_request +
                     options_.unknown_per_request;
    int64_t take = size;
    if (options_.total_entries >= 0) {
      int64_t remaining = load_.remaining_.load();
      do {
        if (remaining <= 0) return {};
        take = std::min<int64_t>(remaining, size);
      } while (!load_.remaining_.compare_exchange_weak(remaining, remaining - take));
    }
    std::vector<int32_t> entries;
    for (int i = 0; i < options_.distinct_per_request; ++i) {
      entries.push_back(static_cast<int32_t>(kHotAccounts + load_.next_distinct_++ % (kSandboxPool - kHotAccounts)));
    }
    for (int i = 0; i < options_.duplicates_per_request && !entries.empty(); ++i) {
      entries.push_back(entries[std::uniform_int_distribution<size_t>(0, entries.size() - 1)(random_)]);
    }
    for (int i = 0; i < options_.hot_per_request; ++i) {
      entries.push_back(std::uniform_int_distribution<int32_t>(0, kHotAccounts - 1)(random_));
    }
    for (int i = 0; i < options_.unknown_per_request; ++i) {
      entries.push_back(static_cast<int32_t>(-(load_.next_unknown_++ % 1000000000) - 1));
    }
    std::shuffle(entries.begin(), entries.end(), random_);
    entries.resize(static_cast<size_t>(take));
    return entries;
  }

  void WriteRequests() {
    int64_t on_stream = 0;
    while (!load_.stopping_.load() && on_stream < options_.entries_per_stream) {
      std::vector<int32_t> entries = NextEntries();
      if (entries.empty()) break;
      const int64_t n = static_cast<int64_t>(entries.size());
      v1::GetProfilesRequest request;
      for (int32_t entry : entries) request.add_accounts(AccountName(entry));
      for (const std::string& tag : options_.tags) request.add_tags(tag);
      {
        std::unique_lock<std::mutex> lock(mutex_);
        // Wait for answers, not for a time: the 50 ms bound only lets Stop() be seen.
        while (!ended_ && !load_.stopping_.load() && outstanding_ > 0 &&
               outstanding_ + n > options_.max_outstanding_per_stream) {
          answered_cv_.wait_for(lock, std::chrono::milliseconds(50));
        }
        if (ended_ || load_.stopping_.load()) {
          if (options_.total_entries >= 0) load_.remaining_ += n;  // Not asked after all.
          break;
        }
        request.set_request_id("r" + std::to_string(requests_.size()));
        requests_.push_back(Request{std::move(entries), {}, 0, false});
        outstanding_ += n;
      }
      // A failed write means the stream has ended: the request's entries then count as missing, and the stream's
      // status says why.
      load_.sent_ += n;
      on_stream += n;
      if (!stream_->Write(request)) break;
    }
    stream_->WritesDone();
  }

  void Record(const v1::GetProfilesResponse& response) {
    int64_t ok = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      Request* request = nullptr;
      if (response.request_index() < requests_.size()) {
        request = &requests_[response.request_index()];
      } else {
        report_.duplicates += response.results_size();  // Answers to a request never made.
      }
      if (request != nullptr && request->completes > 0 && response.results_size() > 0) {
        request->results_after_complete = true;
      }
      for (const v1::AccountResult& result : response.results()) {
        const int32_t entry = EntryOf(result.account());
        if (request != nullptr) request->answered.push_back(entry);
        report_.results[ResultLabel(result)]++;
        report_.result_codes[CodeName(result.status().code())]++;
        const int code = result.status().code();
        if (code == 0) {
          ++ok;
          if (!ProfileIsTheAccounts(result, entry)) ++report_.wrong;
        } else if (code == grpc::StatusCode::NOT_FOUND && entry >= 0) {
          ++report_.wrong;  // user0 .. user99999 all exist.
        }
      }
      if (request != nullptr && response.request_complete()) request->completes++;
      outstanding_ -= response.results_size();
      report_.answered += response.results_size();
    }
    answered_cv_.notify_all();
    load_.answered_ += response.results_size();
    load_.answered_ok_ += ok;
  }

  // Compares, request by request, the multiset of entries asked with the multiset answered.
  void Reconcile() {
    report_.requests = static_cast<int64_t>(requests_.size());
    for (Request& request : requests_) {
      report_.expected += static_cast<int64_t>(request.asked.size());
      if (request.completes != 1 || request.results_after_complete) ++report_.bad_completions;
      std::sort(request.asked.begin(), request.asked.end());
      std::sort(request.answered.begin(), request.answered.end());
      auto asked = request.asked.begin();
      auto answered = request.answered.begin();
      while (asked != request.asked.end() || answered != request.answered.end()) {
        if (answered == request.answered.end() || (asked != request.asked.end() && *asked < *answered)) {
          ++report_.missing;
          ++asked;
        } else if (asked == request.asked.end() || *answered < *asked) {
          ++report_.duplicates;
          ++answered;
        } else {
          ++asked;
          ++answered;
        }
      }
    }
  }

  ExactlyOnceLoad& load_;
  const ExactlyOnceOptions& options_;
  v1::ProfileService::Stub& stub_;
  std::mt19937_64& random_;  // Only the writer thread draws from it.
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::GetProfilesRequest, v1::GetProfilesResponse>> stream_;

  std::mutex mutex_;
  std::condition_variable answered_cv_;
  std::vector<Request> requests_;  // By request_index.
  int64_t outstanding_ = 0;
  bool ended_ = false;
  ExactlyOnceReport report_;
};

ExactlyOnceLoad::ExactlyOnceLoad(ExactlyOnceOptions options)
    : options_(std::move(options)), remaining_(options_.total_entries) {}

ExactlyOnceLoad::~ExactlyOnceLoad() { Stop(); }

void ExactlyOnceLoad::Start() {
  running_workers_ = options_.streams;
  for (int worker = 0; worker < options_.streams; ++worker) workers_.emplace_back([this, worker] { Work(worker); });
}

void ExactlyOnceLoad::Stop() {
  stopping_ = true;
  Wait();
}

void ExactlyOnceLoad::Wait() {
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

void ExactlyOnceLoad::Work(int worker) {
  grpc::ChannelArguments arguments;
  arguments.SetInt("grpc.use_local_subchannel_pool", 1);
  arguments.SetInt("portrait_test.exactly_once_worker", worker);  // Distinct arguments: a connection of its own.
  auto channel = grpc::CreateCustomChannel(options_.target, grpc::InsecureChannelCredentials(), arguments);
  auto stub = v1::ProfileService::NewStub(channel);
  std::mt19937_64 random(options_.seed * 1000003 + static_cast<uint64_t>(worker));
  while (!stopping_.load() && (options_.total_entries < 0 || remaining_.load() > 0)) {
    Stream stream(*this, *stub, random);
    const ExactlyOnceReport report = stream.Run();
    Merge(report);
    if (report.stream_statuses.count("OK") == 0) break;  // The report says why; do not spin on a dead bridge.
  }
  --running_workers_;
}

void ExactlyOnceLoad::Merge(const ExactlyOnceReport& stream_report) {
  std::lock_guard<std::mutex> lock(mutex_);
  report_.streams += stream_report.streams;
  report_.requests += stream_report.requests;
  report_.expected += stream_report.expected;
  report_.answered += stream_report.answered;
  report_.duplicates += stream_report.duplicates;
  report_.missing += stream_report.missing;
  report_.wrong += stream_report.wrong;
  report_.bad_completions += stream_report.bad_completions;
  for (const auto& [status, count] : stream_report.stream_statuses) report_.stream_statuses[status] += count;
  for (const auto& [label, count] : stream_report.results) report_.results[label] += count;
  for (const auto& [code, count] : stream_report.result_codes) report_.result_codes[code] += count;
}

ExactlyOnceReport ExactlyOnceLoad::Report() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return report_;
}

}  // namespace portrait_bridge::testing

// Callers that try to make the bridge hold more than it should: duplicate amplification, streams that never read,
// slow readers. The bridge and the sandbox are real processes; memory is the bridge process's own RSS.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/integration/stack.h"
#include "tests/support/sanitizers.h"

namespace portrait_bridge::testing {
namespace {

namespace v1 = portraitbridge::profile::v1;

// Every standard tag: the largest answer per account the sandbox gives, about 270 bytes.
const std::vector<std::string> kAllTags = {"Tag_Profile_IM_Nick",          "Tag_Profile_IM_Gender",
                                           "Tag_Profile_IM_BirthDay",      "Tag_Profile_IM_Location",
                                           "Tag_Profile_IM_SelfSignature", "Tag_Profile_IM_AllowType",
                                           "Tag_Profile_IM_Language",      "Tag_Profile_IM_Image",
                                           "Tag_Profile_IM_MsgSettings",   "Tag_Profile_IM_AdminForbidType",
                                           "Tag_Profile_IM_Level",         "Tag_Profile_IM_Role"};

constexpr size_t kMaxResponseBytes = 1 << 20;  // The bridge's bound on one response.

// A field of /proc/<pid>/status in KiB ("VmRSS", "VmHWM"); -1 if unreadable.
int64_t ProcessStatusKib(pid_t pid, const std::string& field) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    int64_t kib = -1;
    std::string digits;
    for (char c : line) {
      if (c >= '0' && c <= '9') digits += c;
    }
    return absl::SimpleAtoi(digits, &kib) ? kib : -1;
  }
  return -1;
}

v1::GetProfilesRequest Copies(const std::string& account, int copies) {
  return MakeRequest(std::vector<std::string>(copies, account), kAllTags);
}

TEST(HostileCallerTest, TwentyThousandCopiesOfOneAccountReachAClientAtTheDefaultReceiveLimit) {
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url());
  // The channel keeps gRPC's default 4 MB receive limit; all the copies together are more than that.
  const StreamOutcome outcome = RunStream(*bridge.NewChannel(), {Copies("alice", 20000)}, 60000);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  ASSERT_EQ(outcome.results_by_request.at(0).size(), 20000u);
  size_t total_bytes = 0;
  int completes = 0;
  for (const v1::GetProfilesResponse& response : outcome.responses) {
    EXPECT_LE(response.ByteSizeLong(), kMaxResponseBytes);
    total_bytes += response.ByteSizeLong();
    completes += response.request_complete() ? 1 : 0;
  }
  EXPECT_GT(total_bytes, 4u << 20) << "the copies together must exceed the client's receive limit";
  EXPECT_EQ(completes, 1);
  EXPECT_TRUE(outcome.responses.back().request_complete());
  for (const v1::AccountResult& result : outcome.results_by_request.at(0)) {
    ASSERT_EQ(result.account(), "alice");
    ASSERT_EQ(result.status().code(), 0);
    ASSERT_EQ(result.items_size(), outcome.results_by_request.at(0).front().items_size());
  }
  const nlohmann::json stats = sandbox.Stats();
  EXPECT_EQ(stats["calls"], 1) << "the account is fetched once, whatever the copies";
  EXPECT_EQ(stats["accounts"], 1);
}

// A stream held open on its own channel, as a hostile or slow caller holds it.
class HeldStream {
 public:
  HeldStream(const Bridge& bridge, const v1::GetProfilesRequest& request)
      : channel_(bridge.NewChannel()), stub_(v1::ProfileService::NewStub(channel_)) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    stream_ = stub_->GetProfiles(&context_);
    stream_->Write(request);
    stream_->WritesDone();
  }
  ~HeldStream() { Close(); }

  // Reads one response; false once the stream is over.
  bool ReadOne(v1::GetProfilesResponse& response) { return stream_->Read(&response); }

  // Cancels the stream; a Read blocked on another thread returns false.
  void Cancel() { context_.TryCancel(); }

  // Reads up to `read_first` responses, cancels the stream if it is still open, and returns how it ended. A
  // stream the bridge has ended still delivers the response it was writing first: HTTP/2 sends the status after
  // the data. Not while another thread reads.
  grpc::Status Close(int read_first = 0) {
    if (stream_ != nullptr) {
      v1::GetProfilesResponse response;
      bool open = true;
      for (int i = 0; open && i < read_first; ++i) open = stream_->Read(&response);
      if (open) context_.TryCancel();
      while (stream_->Read(&response)) {
      }
      status_ = stream_->Finish();
      stream_.reset();
    }
    return status_;
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ProfileService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::GetProfilesRequest, v1::GetProfilesResponse>> stream_;
  grpc::Status status_;
};

// Eight streams that ask for 100,000 copies of an account each and never read, and forty that read one response
// a second: the bridge's RSS stays within its configured bounds, and another caller is still served at once.
TEST(HostileCallerTest, NeverReadAmplificationAndSlowReadersKeepTheBridgeWithinItsMemoryBound) {
  constexpr int kUnreadMib = 64;
  constexpr int kGrpcQuotaMib = 64;
  Sandbox sandbox;
  TempDir dir;
  Bridge bridge(
      sandbox.base_url(),
      {absl::StrCat("--unread_responses_mib=", kUnreadMib), absl::StrCat("--grpc_memory_quota_mib=", kGrpcQuotaMib),
       "--metrics_address=127.0.0.1:0", "--metrics_port_file=" + dir.Path("metrics.port")});
  const int metrics_port = bridge.process().WaitForPortFile(dir.Path("metrics.port"));
  const pid_t pid = bridge.process().pid();
  ASSERT_TRUE(RunStream(*bridge.NewChannel(), {Copies("alice", 10)}).status.ok());  // Warm: connections, UserSig.
  const int64_t idle_rss_kib = ProcessStatusKib(pid, "VmRSS");

  std::vector<std::unique_ptr<HeldStream>> never_read;
  for (int i = 0; i < 8; ++i)
    never_read.push_back(std::make_unique<HeldStream>(bridge, Copies("user" + std::to_string(i), 100000)));
  std::atomic<bool> stop{false};
  std::atomic<int64_t> slow_results{0};
  std::vector<std::unique_ptr<HeldStream>> slow(40);
  std::vector<std::thread> readers;
  // However the test ends, the readers stop before the streams they read go away.
  auto stop_readers = [&] {
    stop = true;
    for (auto& stream : slow) {
      if (stream != nullptr) stream->Cancel();
    }
    for (std::thread& reader : readers) {
      if (reader.joinable()) reader.join();
    }
  };
  std::unique_ptr<void, std::function<void(void*)>> readers_stopped(&stop, [&](void*) { stop_readers(); });
  for (int i = 0; i < 40; ++i) {
    slow[i] = std::make_unique<HeldStream>(bridge, Copies("user" + std::to_string(100 + i), 20000));
    readers.emplace_back([&, stream = slow[i].get()] {
      v1::GetProfilesResponse response;
      while (!stop.load() && stream->ReadOne(response)) {
        slow_results += response.results_size();
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    });
  }
  // Every hostile stream's account has been fetched (48, and the warm-up's), and the bridge holds what it will hold.
  ASSERT_TRUE(WaitUntil([&] { return sandbox.Stats()["accounts"].get<int>() >= 49; }, std::chrono::seconds(30)));
  ASSERT_TRUE(WaitUntil(
      [&] {
        return MetricSample(ScrapeMetrics(metrics_port), "portrait_bridge_unread_response_bytes") >= 8.0 * (1 << 20);
      },
      std::chrono::seconds(30)))
      << "the hostile streams should make the bridge hold responses for them";
  int64_t peak_rss_kib = 0;
  for (int i = 0; i < 10; ++i) {
    peak_rss_kib = std::max(peak_rss_kib, ProcessStatusKib(pid, "VmRSS"));
    // Meanwhile another caller is served.
    const StreamOutcome other = RunStream(*bridge.NewChannel(), {MakeRequest({"bob", "carol"}, kAllTags)}, 10000);
    ASSERT_TRUE(other.status.ok()) << other.status.error_message();
    ASSERT_EQ(other.results_by_request.at(0).size(), 2u);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  const double unread_bytes = MetricSample(ScrapeMetrics(metrics_port), "portrait_bridge_unread_response_bytes");
  std::cout << "bridge RSS: idle " << idle_rss_kib / 1024 << " MiB, peak " << peak_rss_kib / 1024
            << " MiB under 8 never-read and 40 slow streams; unread responses " << unread_bytes / (1 << 20)
            << " MiB; slow readers got " << slow_results.load() << " results\n";
  EXPECT_LE(unread_bytes, kUnreadMib << 20);
  // The bound: what the bridge holds at rest, plus the unread responses and gRPC's quota it is configured with.
  // Not in a sanitizer build, whose RSS holds the sanitizer's own memory (tests/support/sanitizers.h).
  if (kMeasuresResourcesAndThroughput) {
    EXPECT_LT(peak_rss_kib, idle_rss_kib + ((kUnreadMib + kGrpcQuotaMib) << 10));
  }
  EXPECT_GT(slow_results.load(), 0);

  stop = true;
  for (std::thread& reader : readers) reader.join();
  int resource_exhausted = 0;
  for (auto& stream : slow) {
    const grpc::Status status = stream->Close(/*read_first=*/3);
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++resource_exhausted;
  }
  for (auto& stream : never_read) {
    const grpc::Status status = stream->Close(/*read_first=*/3);
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++resource_exhausted;
      EXPECT_NE(status.error_message().find("unread_responses_mib"), std::string::npos) << status.error_message();
    }
  }
  std::cout << resource_exhausted << " of the 48 hostile streams were ended with RESOURCE_EXHAUSTED\n";
  // Everything held for them is given back. If not, the other gauges say where it is stuck: a stream not finished
  // (streams_in_flight), waiting on the upstream (upstream_calls_in_flight), or bytes not given back.
  const bool given_back =
      WaitUntil([&] { return MetricSample(ScrapeMetrics(metrics_port), "portrait_bridge_unread_response_bytes") == 0; },
                std::chrono::seconds(30));
  if (!given_back) {
    const std::string metrics = ScrapeMetrics(metrics_port);
    ADD_FAILURE() << "unread responses not given back 30 s after every hostile stream was closed: unread bytes "
                  << MetricSample(metrics, "portrait_bridge_unread_response_bytes") << ", streams in flight "
                  << MetricSample(metrics, "portrait_bridge_streams_in_flight") << ", upstream calls in flight "
                  << MetricSample(metrics, "portrait_bridge_upstream_calls_in_flight");
  }
  EXPECT_TRUE(bridge.process().Running());
}

// With a small server-wide bound on unread responses, streams that never read are ended RESOURCE_EXHAUSTED with a
// message that names the setting, their memory is given back, and a caller that reads is served throughout.
TEST(HostileCallerTest, StreamsPastTheServerWideUnreadBoundEndResourceExhausted) {
  Sandbox sandbox;
  TempDir dir;
  Bridge bridge(sandbox.base_url(), {"--unread_responses_mib=4", "--metrics_address=127.0.0.1:0",
                                     "--metrics_port_file=" + dir.Path("metrics.port")});
  const int metrics_port = bridge.process().WaitForPortFile(dir.Path("metrics.port"));
  std::vector<std::unique_ptr<HeldStream>> never_read;
  for (int i = 0; i < 16; ++i) {
    never_read.push_back(std::make_unique<HeldStream>(bridge, Copies("user" + std::to_string(i), 100000)));
  }
  // Each of them gets its account answered; at 4 MiB for all, some cannot keep what they leave unread.
  ASSERT_TRUE(WaitUntil([&] { return sandbox.Stats()["accounts"].get<int>() >= 16; }, std::chrono::seconds(30)));
  const StreamOutcome reader = RunStream(*bridge.NewChannel(), {MakeRequest({"bob"}, kAllTags)}, 10000);
  ASSERT_TRUE(reader.status.ok()) << reader.status.error_message();
  EXPECT_LE(MetricSample(ScrapeMetrics(metrics_port), "portrait_bridge_unread_response_bytes"), 4 << 20);
  int resource_exhausted = 0;
  for (auto& stream : never_read) {
    const grpc::Status status = stream->Close(/*read_first=*/3);
    if (status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) continue;
    ++resource_exhausted;
    EXPECT_NE(status.error_message().find("unread_responses_mib"), std::string::npos) << status.error_message();
  }
  EXPECT_GT(resource_exhausted, 0) << "16 never-read streams fit in 4 MiB of unread responses";
  EXPECT_TRUE(
      WaitUntil([&] { return MetricSample(ScrapeMetrics(metrics_port), "portrait_bridge_unread_response_bytes") == 0; },
                std::chrono::seconds(10)));
}

// Past the server-wide bound on accepted accounts, a request is refused in-band with RESOURCE_EXHAUSTED before any
// of its accounts is fetched; the stream goes on, and a request that fits is answered.
TEST(HostileCallerTest, ARequestPastTheAcceptedAccountsBoundIsRefusedInBand) {
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url(), {"--max_accepted_accounts=1000"});
  const StreamOutcome outcome =
      RunStream(*bridge.NewChannel(), {MakeRequest(Users(0, 5000), kAllTags), MakeRequest(Users(0, 300), kAllTags)});
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_EQ(outcome.results_by_request.count(0), 0u);
  ASSERT_EQ(outcome.results_by_request.count(1), 1u);
  EXPECT_EQ(outcome.results_by_request.at(1).size(), 300u);
  bool refused = false;
  for (const v1::GetProfilesResponse& response : outcome.responses) {
    if (response.request_index() != 0) continue;
    refused = true;
    EXPECT_TRUE(response.request_complete());
    EXPECT_EQ(response.status().code(), static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
    EXPECT_NE(response.status().message().find("max_accepted_accounts"), std::string::npos);
    EXPECT_EQ(ErrorInfoOf(response.status()).reason(), "BRIDGE_OVER_QUOTA");
  }
  EXPECT_TRUE(refused);
  EXPECT_EQ(sandbox.Stats()["accounts"], 300) << "nothing of the refused request was fetched";
}

}  // namespace
}  // namespace portrait_bridge::testing

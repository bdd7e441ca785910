#include "tests/integration/stack.h"

#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

namespace portrait_bridge::testing {

Sandbox::Sandbox(const std::vector<std::string>& extra_flags) : extra_flags_(extra_flags) {
  port_ = Launch(0);
  if (port_ == 0) throw std::runtime_error("the sandbox did not start; its output:\n" + process_->Output());
}

int Sandbox::Launch(int port) {
  const std::string port_file = dir_.Path("sandbox.port");
  std::remove(port_file.c_str());
  std::vector<std::string> args = {"--listen=127.0.0.1:" + std::to_string(port), "--sdkappid=" + std::string(kSdkAppId),
                                   "--admin_identifier=" + std::string(kAdmin)};
  args.insert(args.end(), extra_flags_.begin(), extra_flags_.end());
  args.push_back("--port_file=" + port_file);
  process_ =
      std::make_unique<Subprocess>(BinaryFromEnv("SANDBOX_BINARY"), args,
                                   std::map<std::string, std::string>{{"PORTRAIT_SANDBOX_SECRET_KEY", kSecretKey}});
  return process_->PortFromFile(port_file);  // 0 when, e.g., the port could not be bound.
}

void Sandbox::Stop(int signal) {
  ASSERT_NE(process_->SignalAndWait(signal, 10000), -1) << "the sandbox did not exit on signal " << signal;
}

void Sandbox::Restart() {
  ASSERT_FALSE(process_->Running()) << "Restart without Stop";
  // The port was just released: a moment may pass before it can be bound again (or another process may hold it
  // briefly), so a start that fails to bind is tried again, for up to 10 s.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string output;
  do {
    if (Launch(port_) == port_) return;
    output = process_->Output();
    process_->SignalAndWait(SIGKILL, 5000);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < until);
  FAIL() << "the sandbox could not listen on port " << port_ << " again; its output:\n" << output;
}

void Sandbox::SetFaults(const nlohmann::json& faults) {
  httplib::Client client("127.0.0.1", port_);
  auto response = client.Post("/sandbox/faults", faults.dump(), "application/json");
  ASSERT_TRUE(response) << "sandbox control endpoint unreachable";
  ASSERT_EQ(response->status, 200) << response->body;
}

nlohmann::json Sandbox::Faults() {
  httplib::Client client("127.0.0.1", port_);
  auto response = client.Get("/sandbox/faults");
  if (!response || response->status != 200) {
    ADD_FAILURE() << "sandbox faults unavailable";
    return nlohmann::json::object();
  }
  return nlohmann::json::parse(response->body);
}

nlohmann::json Sandbox::Stats() {
  httplib::Client client("127.0.0.1", port_);
  auto response = client.Get("/sandbox/stats");
  if (!response || response->status != 200) {
    ADD_FAILURE() << "sandbox stats unavailable";
    return nlohmann::json::object();
  }
  return nlohmann::json::parse(response->body);
}

Bridge::Bridge(const std::string& upstream_base_url, const std::vector<std::string>& extra_flags,
               const std::string& secret_key) {
  const std::string port_file = dir_.Path("bridge.port");
  std::vector<std::string> args = {"--listen_address=127.0.0.1:0", "--port_file=" + port_file,
                                   "--metrics_address=", "--sdkappid=" + std::string(kSdkAppId),
                                   "--admin_identifier=" + std::string(kAdmin), "--base_url=" + upstream_base_url,
                                   "--shutdown_grace_seconds=5",
                                   // Tests that stop a bridge do not wait for load balancers; the lifecycle tests
                                   // that check the drain set their own.
                                   "--shutdown_drain_delay_ms=0"};
  args.insert(args.end(), extra_flags.begin(), extra_flags.end());
  process_ =
      std::make_unique<Subprocess>(BinaryFromEnv("BRIDGE_BINARY"), args,
                                   std::map<std::string, std::string>{{"PORTRAIT_BRIDGE_SECRET_KEY", secret_key}});
  port_ = process_->WaitForPortFile(port_file);
}

std::shared_ptr<grpc::Channel> Bridge::NewChannel() const {
  grpc::ChannelArguments arguments;
  arguments.SetInt("grpc.use_local_subchannel_pool", 1);  // A fresh connection per channel.
  auto channel =
      grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials(), arguments);
  // Connected before it is handed out, waiting through gRPC's backoff if need be: Debian's gRPC 1.51 may fail a
  // first connect that is still in progress with a clobbered errno ("No such file or directory"; grpc/grpc#35064,
  // fixed upstream since), and a call without wait_for_ready then fails at once, before the bridge saw anything.
  // A bridge that is not listening leaves the channel unconnected after 10 s: the first call on it says so.
  channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return channel;
}

StreamOutcome RunStream(grpc::Channel& channel, const std::vector<v1::GetProfilesRequest>& requests, int deadline_ms) {
  auto stub = v1::ProfileService::NewStub(std::shared_ptr<grpc::Channel>(&channel, [](grpc::Channel*) {}));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
  auto stream = stub->GetProfiles(&context);
  for (const auto& request : requests) {
    if (!stream->Write(request)) break;
  }
  stream->WritesDone();
  StreamOutcome outcome;
  v1::GetProfilesResponse response;
  while (stream->Read(&response)) {
    for (const auto& result : response.results()) {
      outcome.results_by_request[response.request_index()].push_back(result);
    }
    outcome.responses.push_back(response);
  }
  outcome.status = stream->Finish();
  if (!outcome.status.error_details().empty()) outcome.details.ParseFromString(outcome.status.error_details());
  return outcome;
}

v1::GetProfilesRequest MakeRequest(const std::vector<std::string>& accounts, const std::vector<std::string>& tags,
                                   const std::string& request_id) {
  v1::GetProfilesRequest request;
  request.set_request_id(request_id);
  for (const auto& account : accounts) request.add_accounts(account);
  for (const auto& tag : tags) request.add_tags(tag);
  return request;
}

std::vector<std::string> Users(int first, int count) {
  std::vector<std::string> users;
  for (int i = first; i < first + count; ++i) users.push_back("user" + std::to_string(i));
  return users;
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

std::string ScrapeMetrics(int port) {
  httplib::Client client("127.0.0.1", port);
  auto response = client.Get("/metrics");
  if (!response || response->status != 200) {
    ADD_FAILURE() << "metrics endpoint unavailable";
    return "";
  }
  return response->body;
}

double MetricSample(const std::string& metrics, const std::string& series) {
  size_t at = 0;
  while ((at = metrics.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || metrics[at - 1] == '\n') return std::stod(metrics.substr(at + series.size() + 1));
    ++at;
  }
  ADD_FAILURE() << "no series " << series << " in:\n" << metrics;
  return -1;
}

RawStreamOutcome RunRawStream(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                              const std::vector<std::string>& messages) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call = stub.PrepareCall(&context, method, &queue);
  // Runs one operation to completion; whether it succeeded.
  int next_tag = 0;
  auto complete = [&](auto&& start) {
    void* const expected = reinterpret_cast<void*>(static_cast<intptr_t>(++next_tag));
    start(expected);
    void* tag = nullptr;
    bool ok = false;
    EXPECT_TRUE(queue.Next(&tag, &ok));
    EXPECT_EQ(tag, expected);
    return ok;
  };
  RawStreamOutcome outcome;
  if (complete([&](void* tag) { call->StartCall(tag); })) {
    for (const std::string& message : messages) {
      grpc::Slice slice(message);
      const grpc::ByteBuffer buffer(&slice, 1);
      if (!complete([&](void* tag) { call->Write(buffer, tag); })) break;
      ++outcome.messages_written;
    }
    complete([&](void* tag) { call->WritesDone(tag); });
    grpc::ByteBuffer buffer;
    while (complete([&](void* tag) { call->Read(&buffer, tag); })) {
      std::vector<grpc::Slice> slices;
      EXPECT_TRUE(buffer.Dump(&slices).ok());
      std::string& bytes = outcome.responses.emplace_back();
      for (const grpc::Slice& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  complete([&](void* tag) { call->Finish(&outcome.status, tag); });
  queue.Shutdown();
  return outcome;
}

double MetricSum(const std::string& metrics, const std::string& name) {
  double sum = 0;
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    const char next = line[name.size()];
    if (next != '{' && next != ' ') continue;  // Another metric that starts with the same name.
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

google::rpc::ErrorInfo ErrorInfoOf(const google::rpc::Status& status) {
  for (const auto& detail : status.details()) {
    google::rpc::ErrorInfo info;
    if (detail.UnpackTo(&info)) return info;
  }
  ADD_FAILURE() << "no ErrorInfo in " << status.ShortDebugString();
  return {};
}

google::rpc::BadRequest BadRequestOf(const google::rpc::Status& status) {
  for (const auto& detail : status.details()) {
    google::rpc::BadRequest bad_request;
    if (detail.UnpackTo(&bad_request)) return bad_request;
  }
  ADD_FAILURE() << "no BadRequest in " << status.ShortDebugString();
  return {};
}

}  // namespace portrait_bridge::testing

// Starts the real portrait-sandbox binary on a free loopback port and talks HTTP to it.

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bridge/core/usersig.h"
#include "tests/support/subprocess.h"

namespace portrait_bridge::sandbox {
namespace {

using nlohmann::json;
using portrait_bridge::testing::BinaryFromEnv;
using portrait_bridge::testing::Subprocess;
using portrait_bridge::testing::WriteFile;

constexpr char kKey[] = "process-test-secret-key";
constexpr char kBody[] =
    R"({"To_Account":["alice","user3"],"TagList":["Tag_Profile_IM_Nick","Tag_Profile_IM_BirthDay"]})";

std::string PortraitGetPath() {
  const std::string sig = SignUserSig(kKey, {"administrator", 1400000000, absl::ToUnixSeconds(absl::Now()), 3600});
  return absl::StrCat("/v4/profile/portrait_get?sdkappid=1400000000&identifier=administrator&usersig=", sig,
                      "&random=", std::rand() & 0x7fffffff, "&contenttype=json");
}

// One sandbox process per test, on port 0.
class SandboxProcessTest : public ::testing::Test {
 protected:
  // Each test gets its own directory: ctest runs tests in parallel, and a key file being rewritten by another
  // test while the sandbox reads it would be a flaky failure.
  void SetUp() override {
    std::string dir_template = ::testing::TempDir() + "sandbox-process-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template.data()), nullptr);
    dir_ = dir_template + "/";
  }

  void TearDown() override {
    process_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Start(std::vector<std::string> extra_args = {}) {
    const std::string binary = BinaryFromEnv("SANDBOX_BINARY");
    const std::string key_file = dir_ + "secret_key";
    WriteFile(key_file, std::string(kKey) + "\n");
    const std::string port_file = dir_ + "port";
    std::vector<std::string> args = {"--listen=127.0.0.1:0",          "--port_file=" + port_file,
                                     "--sdkappid=1400000000",         "--admin_identifier=administrator",
                                     "--secret_key_file=" + key_file, "--access_log"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    process_ = std::make_unique<Subprocess>(binary, args);
    port_ = process_->WaitForPortFile(port_file);
  }

  std::unique_ptr<httplib::Client> Client() const {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client->set_read_timeout(5, 0);
    client->set_tcp_nodelay(true);
    return client;
  }

  json Stats() const {
    const auto res = Client()->Get("/sandbox/stats");
    EXPECT_TRUE(res) << httplib::to_string(res.error());
    return res ? json::parse(res->body) : json();
  }

  void SetFaults(const json& faults) const {
    const auto res = Client()->Post("/sandbox/faults", faults.dump(), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
  }

  std::string dir_;
  std::unique_ptr<Subprocess> process_;
  int port_ = 0;
};

TEST_F(SandboxProcessTest, ServesSignedCallsFaultsAndStatsThenExitsCleanly) {
  Start();
  EXPECT_NE(process_->Output().find(absl::StrCat("listening on 127.0.0.1:", port_)), std::string::npos);

  auto client = Client();
  {
    const auto res = client->Post(PortraitGetPath(), kBody, "application/json");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    const json body = json::parse(res->body);
    EXPECT_EQ(body["ActionStatus"], "OK") << res->body;
    EXPECT_EQ(body["UserProfileItem"][0]["ProfileItem"][0]["Value"], "Alice");
    EXPECT_TRUE(body["UserProfileItem"][1]["ProfileItem"][1]["Value"].is_number());
  }

  SetFaults({{"http_502_count", 1}});
  {
    const auto res = client->Post(PortraitGetPath(), kBody, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 502);
    EXPECT_EQ(res->get_header_value("Content-Type"), "text/html");
    EXPECT_NE(res->body.find("502 Bad Gateway"), std::string::npos);
  }

  SetFaults({{"drop_connection_count", 1}});
  {
    const auto res = client->Post(PortraitGetPath(), kBody, "application/json");
    EXPECT_FALSE(res) << "status " << (res ? res->status : 0);  // Connection closed before any response.
  }
  {
    // Normal service again, on a fresh connection.
    const auto res = Client()->Post(PortraitGetPath(), kBody, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(json::parse(res->body)["ErrorCode"], 0);
  }

  const json stats = Stats();
  EXPECT_EQ(stats["calls"], 4);
  EXPECT_EQ(stats["ok"], 2);
  EXPECT_EQ(stats["accounts"], 4);
  EXPECT_EQ(stats["faulted"], 2);
  EXPECT_EQ(stats["faults"]["http_502"], 1);
  EXPECT_EQ(stats["faults"]["drop_connection"], 1);
  EXPECT_EQ(stats["throttled"], 0);

  ASSERT_TRUE(client->Post("/sandbox/stats/reset", "", "application/json"));
  EXPECT_EQ(Stats()["calls"], 0);

  const int status = process_->SignalAndWait(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status)) << process_->Output();
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // Secrets never reach the log.
  EXPECT_EQ(process_->Output().find(kKey), std::string::npos);
  EXPECT_EQ(process_->Output().find("usersig="), std::string::npos);
}

TEST_F(SandboxProcessTest, KeepAliveServesManyCallsOnOneConnection) {
  Start({"--calls_per_second=0"});
  auto client = Client();
  client->set_keep_alive(true);
  for (int i = 0; i < 20; ++i) {
    const auto res = client->Post(PortraitGetPath(), kBody, "application/json");
    ASSERT_TRUE(res) << i << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
  }
  EXPECT_EQ(Stats()["ok"], 20);

  // The client still holds its idle connection: shutdown must not wait out the keep-alive timeout (10 s).
  const auto start = std::chrono::steady_clock::now();
  const int status = process_->SignalAndWait(SIGTERM, 4000);
  ASSERT_NE(status, -1) << "no exit within 4 s of SIGTERM";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST_F(SandboxProcessTest, LatencyDelaysAnswersAndShutdownLetsThemFinish) {
  Start({"--latency_ms=800"});
  std::optional<int> status_seen;
  std::string body_seen;
  const auto start = std::chrono::steady_clock::now();
  std::thread call([&] {
    const auto res = Client()->Post(PortraitGetPath(), kBody, "application/json");
    if (res) {
      status_seen = res->status;
      body_seen = res->body;
    }
  });
  // SIGTERM once the sandbox holds the call. Not after a fixed sleep: the port file is written before httplib has
  // started its worker pool and accepts, and a slow start (a loaded machine, the TSan build's thread creation)
  // would leave the call unaccepted in the listen backlog, where stopping the server drops it.
  const auto in_flight_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Stats()["in_flight"] != 1 && std::chrono::steady_clock::now() < in_flight_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const int status = process_->SignalAndWait(SIGTERM, 5000);
  call.join();
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(800));
  ASSERT_TRUE(status_seen.has_value()) << "the in-flight call got no answer";
  EXPECT_EQ(*status_seen, 200);
  EXPECT_EQ(json::parse(body_seen)["ActionStatus"], "OK");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// throttle_for_ms set over HTTP answers 60007 as the limiter does, and GET /sandbox/arrivals counts every request.
TEST_F(SandboxProcessTest, ThrottleForFaultAndArrivals) {
  Start({"--calls_per_second=0"});
  auto client = Client();
  const int64_t before_us = absl::ToUnixMicros(absl::Now());
  for (int i = 0; i < 2; ++i) {
    const auto res = client->Post(PortraitGetPath(), kBody, "application/json");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(json::parse(res->body)["ErrorCode"], 0) << res->body;
  }

  {
    const auto res = client->Post("/sandbox/faults", R"({"throttle_for_ms":60000})", "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(json::parse(res->body)["throttle_for_ms"], 60000);  // Read at the instant it was set.
  }
  for (int i = 0; i < 3; ++i) {
    const auto res = client->Post(PortraitGetPath(), kBody, "application/json");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    const json body = json::parse(res->body);
    EXPECT_EQ(body["ActionStatus"], "FAIL");
    EXPECT_EQ(body["ErrorCode"], 60007);
    EXPECT_EQ(body["ErrorInfo"], "call frequency over the limit");
  }
  {
    const auto res = client->Get("/sandbox/faults");
    ASSERT_TRUE(res);
    const int64_t left = json::parse(res->body)["throttle_for_ms"];
    EXPECT_GT(left, 0);
    EXPECT_LE(left, 60000);
  }
  SetFaults(json::object());
  {
    const auto res = client->Post(PortraitGetPath(), kBody, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(json::parse(res->body)["ErrorCode"], 0) << res->body;
  }
  const int64_t after_us = absl::ToUnixMicros(absl::Now());

  const json stats = Stats();
  EXPECT_EQ(stats["calls"], 6);
  EXPECT_EQ(stats["throttled"], 3);
  EXPECT_EQ(stats["faults"]["throttle_for"], 3);
  EXPECT_EQ(stats["error_codes"]["60007"], 3);

  {
    const auto res = client->Get("/sandbox/arrivals");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    const json arrivals = json::parse(res->body);
    EXPECT_EQ(arrivals["count"], 6);
    // The sandbox's clock is the wall clock read at its start plus steady time: allow a little drift.
    EXPECT_GE(arrivals["first_unix_us"].get<int64_t>(), before_us - 100000);
    EXPECT_LE(arrivals["last_unix_us"].get<int64_t>(), after_us + 100000);
    EXPECT_LE(arrivals["first_unix_us"].get<int64_t>(), arrivals["last_unix_us"].get<int64_t>());
    ASSERT_TRUE(arrivals["max_in_window"].contains("1000"));
    ASSERT_TRUE(arrivals["max_in_window"].contains("1050"));
    EXPECT_GE(arrivals["max_in_window"]["1000"].get<int64_t>(), 1);
    EXPECT_LE(arrivals["max_in_window"]["1000"].get<int64_t>(), 6);
    EXPECT_FALSE(arrivals.contains("times_us"));
  }
  {
    const auto res = client->Get("/sandbox/arrivals?windows_ms=60000,1&include_times=1");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    const json arrivals = json::parse(res->body);
    EXPECT_EQ(arrivals["max_in_window"]["60000"], 6);  // All within a minute.
    EXPECT_GE(arrivals["max_in_window"]["1"].get<int64_t>(), 1);
    const std::vector<int64_t> times = arrivals["times_us"];
    ASSERT_EQ(times.size(), 6u);
    EXPECT_TRUE(std::is_sorted(times.begin(), times.end()));
    EXPECT_EQ(times.front(), arrivals["first_unix_us"]);
    EXPECT_EQ(times.back(), arrivals["last_unix_us"]);
    // The largest gap between the six arrivals, as the sandbox reports it.
    int64_t largest_gap = 0;
    for (size_t i = 1; i < times.size(); ++i) largest_gap = std::max(largest_gap, times[i] - times[i - 1]);
    ASSERT_TRUE(arrivals["gap_us"].is_object()) << arrivals.dump();
    EXPECT_EQ(arrivals["gap_us"]["max"], largest_gap);
    EXPECT_LE(arrivals["gap_us"]["p50"].get<int64_t>(), largest_gap);
  }
  {
    const auto res = client->Get("/sandbox/arrivals?windows_ms=0");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
    EXPECT_NE(res->body.find("windows_ms"), std::string::npos);
  }
  ASSERT_TRUE(client->Post("/sandbox/stats/reset", "", "application/json"));
  {
    const auto res = client->Get("/sandbox/arrivals");
    ASSERT_TRUE(res);
    EXPECT_EQ(json::parse(res->body)["count"], 0);
  }
}

TEST_F(SandboxProcessTest, ThrottleForFlagThrottlesFromTheStart) {
  Start({"--throttle_for_ms=60000"});
  const auto res = Client()->Post(PortraitGetPath(), kBody, "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(json::parse(res->body)["ErrorCode"], 60007) << res->body;
  EXPECT_EQ(Stats()["throttled"], 1);
}

TEST_F(SandboxProcessTest, BadControlRequestsAre400) {
  Start();
  const auto res = Client()->Post("/sandbox/faults", R"({"http502_count":1})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(res->body.find("http502_count"), std::string::npos);
}

TEST(SandboxProcessFlagsTest, BadFlagExitsTwoAndHelpExitsZero) {
  const std::string binary = BinaryFromEnv("SANDBOX_BINARY");
  {
    Subprocess process(binary, {"--no_such_flag=1"});
    const int status = process.SignalAndWait(0);  // Signal 0 only checks; this waits for the exit.
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 2);
    EXPECT_NE(process.Output().find("no_such_flag"), std::string::npos);
  }
  {
    Subprocess process(binary, {"--help"});
    const int status = process.SignalAndWait(0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    EXPECT_NE(process.Output().find("--drop_connection_count"), std::string::npos);
  }
}

TEST_F(SandboxProcessTest, ServesHttpsWithACertificate) {
  // The certificate is made with the openssl tool at test time; no fixture key material lives in the repo.
  const std::string cert = dir_ + "tls_cert.pem";
  const std::string key = dir_ + "tls_key.pem";
  const std::string command =
      absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout '", key, "' -out '",
                   cert, "' >/dev/null 2>&1");
  if (std::system(command.c_str()) != 0) GTEST_SKIP() << "openssl not available to make a test certificate";
  Start({"--tls_cert_file=" + cert, "--tls_key_file=" + key});
  httplib::SSLClient client("127.0.0.1", port_);
  client.enable_server_certificate_verification(false);
  const auto res = client.Post(PortraitGetPath(), kBody, "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(json::parse(res->body)["ActionStatus"], "OK");
}

}  // namespace
}  // namespace portrait_bridge::sandbox

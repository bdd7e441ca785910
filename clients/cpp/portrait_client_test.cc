// Starts the real sandbox upstream and the real bridge on port 0, then drives them through the C++ client library
// and the portrait-cli binary.
#include "clients/cpp/portrait_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "tests/support/subprocess.h"

namespace portrait_bridge::client {
namespace {

namespace v1 = ::portraitbridge::profile::v1;
using ::portrait_bridge::testing::BinaryFromEnv;
using ::portrait_bridge::testing::Subprocess;
using ::portrait_bridge::testing::TempDir;
using ::portrait_bridge::testing::WriteFile;
using ::testing::ElementsAre;
using ::testing::Pair;

constexpr char kNick[] = "Tag_Profile_IM_Nick";
constexpr char kBirthDay[] = "Tag_Profile_IM_BirthDay";
constexpr char kTlsName[] = "portrait-bridge.test";

// One sandbox, a bridge with the right key and one with a wrong key, shared by every test of the suite.
class ClientsCppTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    WriteFile(dir_->Path("key"), "portrait-clients-test-key\n");
    WriteFile(dir_->Path("wrong_key"), "not-the-sandbox-key\n");
    sandbox_ =
        new Subprocess(BinaryFromEnv("SANDBOX_BINARY"),
                       {"--listen=127.0.0.1:0", "--port_file=" + dir_->Path("sandbox.port"), "--sdkappid=1400000000",
                        "--admin_identifier=administrator", "--secret_key_file=" + dir_->Path("key")});
    const int sandbox_port = sandbox_->WaitForPortFile(dir_->Path("sandbox.port"));
    bridge_ = StartBridge("bridge", dir_->Path("key"), sandbox_port, &bridge_port_);
    bad_key_bridge_ = StartBridge("bad_key_bridge", dir_->Path("wrong_key"), sandbox_port, &bad_key_bridge_port_);
    // A self-signed certificate for a TLS bridge, valid for kTlsName only.
    const std::string openssl = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=" + std::string(kTlsName) +
                                " -addext subjectAltName=DNS:" + kTlsName + " -keyout '" + dir_->Path("tls.key") +
                                "' -out '" + dir_->Path("tls.crt") + "' 2>/dev/null";
    ASSERT_EQ(std::system(openssl.c_str()), 0) << openssl;
    tls_bridge_ = StartBridge("tls_bridge", dir_->Path("key"), sandbox_port, &tls_bridge_port_,
                              {"--tls_cert_file=" + dir_->Path("tls.crt"), "--tls_key_file=" + dir_->Path("tls.key")});
  }

  static void TearDownTestSuite() {
    delete tls_bridge_;
    delete bad_key_bridge_;
    delete bridge_;
    delete sandbox_;
    delete dir_;
  }

  static Subprocess* StartBridge(const std::string& name, const std::string& key_file, int sandbox_port, int* port,
                                 const std::vector<std::string>& extra_flags = {}) {
    std::vector<std::string> flags = {"--listen_address=127.0.0.1:0",
                                      "--port_file=" + dir_->Path(name + ".port"),
                                      "--metrics_address=",
                                      "--sdkappid=1400000000",
                                      "--admin_identifier=administrator",
                                      "--secret_key_file=" + key_file,
                                      "--base_url=http://127.0.0.1:" + std::to_string(sandbox_port),
                                      "--log_level=warning"};
    flags.insert(flags.end(), extra_flags.begin(), extra_flags.end());
    auto* bridge = new Subprocess(BinaryFromEnv("BRIDGE_BINARY"), flags);
    *port = bridge->WaitForPortFile(dir_->Path(name + ".port"));
    return bridge;
  }

  static std::unique_ptr<ProfileClient> Client(int port) {
    ClientOptions options;
    options.target = "127.0.0.1:" + std::to_string(port);
    options.deadline = std::chrono::seconds(20);
    std::string error;
    auto client = ProfileClient::Create(options, &error);
    EXPECT_NE(client, nullptr) << error;
    return client;
  }

  // Runs the CLI through a shell; returns its stdout and sets *exit_code.
  static std::string RunCli(const std::string& arguments, int* exit_code, const std::string& stdin_text = "") {
    const std::string input = dir_->Path("cli_stdin");
    WriteFile(input, stdin_text);
    const std::string command = "'" + BinaryFromEnv("CLI_BINARY") +
                                "' get --target=127.0.0.1:" + std::to_string(bridge_port_) + " " + arguments + " < '" +
                                input + "'";
    FILE* pipe = popen(command.c_str(), "r");
    std::string output;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
    const int status = pclose(pipe);
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return output;
  }

  static TempDir* dir_;
  static Subprocess* sandbox_;
  static Subprocess* bridge_;
  static Subprocess* bad_key_bridge_;
  static Subprocess* tls_bridge_;
  static int bridge_port_;
  static int bad_key_bridge_port_;
  static int tls_bridge_port_;
};

TempDir* ClientsCppTest::dir_ = nullptr;
Subprocess* ClientsCppTest::sandbox_ = nullptr;
Subprocess* ClientsCppTest::bridge_ = nullptr;
Subprocess* ClientsCppTest::bad_key_bridge_ = nullptr;
int ClientsCppTest::bridge_port_ = 0;
int ClientsCppTest::bad_key_bridge_port_ = 0;
Subprocess* ClientsCppTest::tls_bridge_ = nullptr;
int ClientsCppTest::tls_bridge_port_ = 0;

TEST_F(ClientsCppTest, BidiStreamWithTypedValuesAndPartialFailure) {
  auto client = Client(bridge_port_);
  std::vector<Batch> batches;
  const Error stream_error = client->GetProfiles(
      {Lookup{"first", {"alice", "nobody"}, {kNick, kBirthDay}}, Lookup{"second", {"bob"}, {kNick}}},
      [&](Batch&& batch) { batches.push_back(std::move(batch)); });
  ASSERT_TRUE(stream_error.ok()) << stream_error.ToString();

  std::map<std::string, AccountProfile> by_account;
  std::map<uint32_t, int> completed;
  for (const Batch& batch : batches) {
    EXPECT_EQ(batch.request_id, batch.request_index == 0 ? "first" : "second");
    if (batch.request_complete) ++completed[batch.request_index];
    for (const AccountProfile& profile : batch.results) by_account[profile.account] = profile;
  }
  EXPECT_THAT(completed, ElementsAre(Pair(0, 1), Pair(1, 1)));
  ASSERT_EQ(by_account.size(), 3u);

  const AccountProfile& alice = by_account["alice"];
  ASSERT_TRUE(alice.ok()) << alice.error.ToString();
  ASSERT_NE(alice.Find(kNick), nullptr);
  ASSERT_NE(alice.Find(kBirthDay), nullptr);
  EXPECT_TRUE(std::holds_alternative<std::string>(alice.Find(kNick)->value));
  EXPECT_FALSE(std::get<std::string>(alice.Find(kNick)->value).empty());
  ASSERT_TRUE(std::holds_alternative<uint32_t>(alice.Find(kBirthDay)->value));  // an integer, typed as one
  EXPECT_GT(std::get<uint32_t>(alice.Find(kBirthDay)->value), 0u);

  const AccountProfile& bob = by_account["bob"];
  ASSERT_TRUE(bob.ok());
  ASSERT_EQ(bob.fields.size(), 1u);
  EXPECT_EQ(bob.fields[0].tag, kNick);

  // Partial failure: the unknown account fails alone, with its Tencent code decoded from ErrorInfo.
  const AccountProfile& nobody = by_account["nobody"];
  EXPECT_FALSE(nobody.ok());
  EXPECT_EQ(nobody.result_code, v1::RESULT_CODE_PROFILE_ACCOUNT_NOT_FOUND);
  EXPECT_EQ(nobody.tencent_code, 40003);
  EXPECT_TRUE(nobody.fields.empty());
  EXPECT_EQ(nobody.error.code, grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(nobody.error.error_info.has_value());
  EXPECT_EQ(nobody.error.error_info->reason, "TENCENT_40003");
  EXPECT_EQ(nobody.error.tencent_code(), 40003);
  EXPECT_FALSE(nobody.error.retryable());
  EXPECT_THAT(nobody.error.ToString(), ::testing::HasSubstr("reason=TENCENT_40003"));
}

TEST_F(ClientsCppTest, BatchGetAnswersInRequestOrderWithDuplicatesAndPartialFailure) {
  auto client = Client(bridge_port_);
  const LookupResult result = client->BatchGet({"bob", "nobody", "alice", "bob"}, {kNick, kBirthDay});
  ASSERT_TRUE(result.error.ok()) << result.error.ToString();
  ASSERT_EQ(result.profiles.size(), 4u);
  const std::vector<std::string> expected = {"bob", "nobody", "alice", "bob"};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(result.profiles[i].account, expected[i]) << i;
  const AccountProfile& alice = result.profiles[2];
  ASSERT_TRUE(alice.ok()) << alice.error.ToString();
  EXPECT_EQ(alice.result_code, v1::RESULT_CODE_OK);
  ASSERT_NE(alice.Find(kBirthDay), nullptr);
  EXPECT_TRUE(std::holds_alternative<uint32_t>(alice.Find(kBirthDay)->value));
  EXPECT_TRUE(result.profiles[0].ok());
  EXPECT_TRUE(result.profiles[3].ok());
  // The unknown account fails alone, with its Tencent code decoded from ErrorInfo.
  const AccountProfile& nobody = result.profiles[1];
  EXPECT_FALSE(nobody.ok());
  EXPECT_EQ(nobody.result_code, v1::RESULT_CODE_PROFILE_ACCOUNT_NOT_FOUND);
  EXPECT_EQ(nobody.tencent_code, 40003);
  EXPECT_EQ(nobody.error.code, grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(nobody.error.error_info.has_value());
  EXPECT_EQ(nobody.error.error_info->reason, "TENCENT_40003");
  EXPECT_EQ(nobody.error.error_info->domain, "portraitbridge.dev");
}

TEST_F(ClientsCppTest, InvalidBatchGetFailsWithBadRequest) {
  auto client = Client(bridge_port_);
  const LookupResult result = client->BatchGet({"alice"}, {});
  EXPECT_EQ(result.error.code, grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_FALSE(result.error.field_violations.empty()) << result.error.ToString();
  EXPECT_EQ(result.error.field_violations[0].field, "tags");
  EXPECT_THAT(result.error.ToString(), ::testing::HasSubstr("field tags"));
  EXPECT_TRUE(result.profiles.empty());

  const LookupResult too_long = client->BatchGet({"alice", std::string(33, 'a')}, {kNick});
  EXPECT_EQ(too_long.error.code, grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_FALSE(too_long.error.field_violations.empty());
  EXPECT_EQ(too_long.error.field_violations[0].field, "accounts[1]");
}

TEST_F(ClientsCppTest, InvalidRequestIsRefusedInBandAndTheStreamGoesOn) {
  auto client = Client(bridge_port_);
  std::vector<Batch> batches;
  const Error stream_error = client->GetProfiles(
      {Lookup{"first", {"alice"}, {kNick}}, Lookup{"bad", {"bob"}, {}}, Lookup{"third", {"bob"}, {kNick}}},
      [&](Batch&& batch) { batches.push_back(std::move(batch)); });
  ASSERT_TRUE(stream_error.ok()) << stream_error.ToString();

  std::map<uint32_t, std::vector<const Batch*>> by_request;
  for (const Batch& batch : batches) by_request[batch.request_index].push_back(&batch);
  ASSERT_EQ(by_request.size(), 3u);

  // The invalid request: one batch, no results, complete, with the refusal decoded like a stream error.
  ASSERT_EQ(by_request[1].size(), 1u);
  const Batch& refused = *by_request[1][0];
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(refused.request_id, "bad");
  EXPECT_TRUE(refused.request_complete);
  EXPECT_TRUE(refused.results.empty());
  EXPECT_EQ(refused.error.code, grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_EQ(refused.error.field_violations.size(), 1u) << refused.error.ToString();
  EXPECT_EQ(refused.error.field_violations[0].field, "requests[1].tags");
  EXPECT_THAT(refused.error.ToString(), ::testing::HasSubstr("INVALID_ARGUMENT: "));

  // The requests around it are answered.
  for (const auto& [index, account] : std::map<uint32_t, std::string>{{0, "alice"}, {2, "bob"}}) {
    std::vector<AccountProfile> results;
    bool complete = false;
    for (const Batch* batch : by_request[index]) {
      EXPECT_TRUE(batch->ok()) << batch->error.ToString();
      complete = complete || batch->request_complete;
      results.insert(results.end(), batch->results.begin(), batch->results.end());
    }
    EXPECT_TRUE(complete) << "request " << index;
    ASSERT_EQ(results.size(), 1u) << "request " << index;
    EXPECT_EQ(results[0].account, account);
    EXPECT_TRUE(results[0].ok()) << results[0].error.ToString();
  }
}

TEST_F(ClientsCppTest, StreamOverItsLimitEndsWithBadRequest) {
  // More accounts than max_accounts_per_stream (100,000 by default) still end the stream, in the trailer.
  auto client = Client(bridge_port_);
  std::vector<std::string> accounts(100001, "alice");
  size_t results = 0;
  const Error error =
      client->GetProfiles({Lookup{"", accounts, {kNick}}}, [&](Batch&& batch) { results += batch.results.size(); });
  EXPECT_EQ(error.code, grpc::StatusCode::INVALID_ARGUMENT) << error.ToString();
  ASSERT_FALSE(error.field_violations.empty());
  EXPECT_EQ(error.field_violations[0].field, "requests[0].accounts");
  EXPECT_EQ(results, 0u);
}

TEST_F(ClientsCppTest, WrongSecretKeyIsAMappedCallError) {
  auto client = Client(bad_key_bridge_port_);
  const LookupResult result = client->BatchGet({"alice"}, {kNick});
  EXPECT_EQ(result.error.code, grpc::StatusCode::FAILED_PRECONDITION) << result.error.ToString();
  ASSERT_TRUE(result.error.error_info.has_value());
  EXPECT_EQ(result.error.error_info->reason, "TENCENT_70009");
  EXPECT_EQ(result.error.error_info->metadata.at("tencent_code"), "70009");
  EXPECT_EQ(result.error.tencent_code(), 70009);
}

TEST_F(ClientsCppTest, DeadlineIsApplied) {
  ClientOptions options;
  options.target = "127.0.0.1:" + std::to_string(bridge_port_);
  // Already past when the call starts. A deadline of 0 is a race: gRPC rounds a deadline up to the next
  // millisecond, and a cached answer can come back within it.
  options.deadline = -std::chrono::seconds(1);
  std::string error;
  auto client = ProfileClient::Create(options, &error);
  const LookupResult result = client->BatchGet({"alice"}, {kNick});
  EXPECT_EQ(result.error.code, grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST_F(ClientsCppTest, TlsFilesMustBeReadable) {
  ClientOptions options;
  options.target = "127.0.0.1:1";
  options.use_tls = true;
  options.tls_root_certs_file = dir_->Path("missing.pem");
  std::string error;
  EXPECT_EQ(ProfileClient::Create(options, &error), nullptr);
  EXPECT_THAT(error, ::testing::HasSubstr("missing.pem"));
}

TEST_F(ClientsCppTest, TlsWithCustomRootsAndServerName) {
  ClientOptions options;
  options.target = "127.0.0.1:" + std::to_string(tls_bridge_port_);
  options.use_tls = true;
  options.tls_root_certs_file = dir_->Path("tls.crt");
  options.tls_server_name_override = kTlsName;
  options.deadline = std::chrono::seconds(20);
  std::string error;
  auto client = ProfileClient::Create(options, &error);
  ASSERT_NE(client, nullptr) << error;
  const LookupResult result = client->BatchGet({"alice"}, {kNick});
  ASSERT_TRUE(result.error.ok()) << result.error.ToString();
  ASSERT_EQ(result.profiles.size(), 1u);
  EXPECT_TRUE(result.profiles[0].ok());

  // The same bridge refuses a plaintext client, and a TLS client that does not trust the certificate.
  options.use_tls = false;
  options.deadline = std::chrono::seconds(3);
  EXPECT_EQ(ProfileClient::Create(options, &error)->BatchGet({"alice"}, {kNick}).error.code,
            grpc::StatusCode::UNAVAILABLE);
  options.use_tls = true;
  options.tls_root_certs_file = dir_->Path("tls.key");  // not a certificate: nothing is trusted
  const auto untrusted = ProfileClient::Create(options, &error)->BatchGet({"alice"}, {kNick});
  EXPECT_NE(untrusted.error.code, grpc::StatusCode::OK);
}

TEST_F(ClientsCppTest, CliOverTls) {
  int exit_code = -1;
  const std::string command = "'" + BinaryFromEnv("CLI_BINARY") +
                              "' get --target=127.0.0.1:" + std::to_string(tls_bridge_port_) + " --tls_ca_file='" +
                              dir_->Path("tls.crt") + "' --tls_server_name=" + kTlsName +
                              " --tags=Tag_Profile_IM_Nick --output=json bob";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  EXPECT_EQ(exit_code, 0) << output;
  EXPECT_EQ(nlohmann::json::parse(output)["fields"][kNick], "Bob");
}

TEST_F(ClientsCppTest, CliJsonFromStdinWithPartialFailure) {
  int exit_code = -1;
  const std::string output = RunCli(
      "--tags=Tag_Profile_IM_Nick,Tag_Profile_IM_BirthDay --accounts_file=- "
      "--output=json --batch_size=2",
      &exit_code, "alice\n# a comment\n\nnobody\nuser42\n");
  EXPECT_EQ(exit_code, 2) << output;  // some accounts failed
  std::map<std::string, nlohmann::json> by_account;
  for (const auto& line : absl::StrSplit(output, '\n', absl::SkipEmpty())) {
    const auto json = nlohmann::json::parse(line);
    by_account[json["account"]] = json;
  }
  ASSERT_EQ(by_account.size(), 3u) << output;
  EXPECT_TRUE(by_account["alice"]["ok"].get<bool>());
  EXPECT_TRUE(by_account["alice"]["fields"][kBirthDay].is_number_unsigned());
  EXPECT_TRUE(by_account["user42"]["fields"][kNick].is_string());
  EXPECT_FALSE(by_account["nobody"]["ok"].get<bool>());
  EXPECT_EQ(by_account["nobody"]["tencent_code"], 40003);
  EXPECT_EQ(by_account["nobody"]["error"]["error_info"]["reason"], "TENCENT_40003");
}

TEST_F(ClientsCppTest, CliTableFromFile) {
  const std::string accounts = dir_->Path("accounts.txt");
  std::string content;
  for (int i = 0; i < 250; ++i) content += "user" + std::to_string(i) + "\n";
  WriteFile(accounts, content);
  int exit_code = -1;
  const std::string output =
      RunCli("--tags=Tag_Profile_IM_Nick --accounts_file='" + accounts + "' --batch_size=100", &exit_code);
  EXPECT_EQ(exit_code, 0) << output;
  const std::vector<std::string> lines = absl::StrSplit(output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 251u);
  EXPECT_THAT(lines[0], ::testing::MatchesRegex("ACCOUNT +STATUS +Tag_Profile_IM_Nick"));
}

TEST_F(ClientsCppTest, CliReportsRefusedRequestWithDetails) {
  int exit_code = -1;
  RunCli("--tags= alice 2>'" + dir_->Path("cli_stderr") + "'", &exit_code);
  EXPECT_EQ(exit_code, 1);
  std::ifstream in(dir_->Path("cli_stderr"));
  const std::string stderr_text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(stderr_text, ::testing::HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(stderr_text, ::testing::HasSubstr("field tags"));
}

TEST_F(ClientsCppTest, CliLookupIsOneCallInInputOrder) {
  int exit_code = -1;
  const std::string output = RunCli("--tags=Tag_Profile_IM_Nick carol alice bob", &exit_code);
  EXPECT_EQ(exit_code, 0) << output;
  const std::vector<std::string> lines = absl::StrSplit(output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << output;
  EXPECT_THAT(lines[1], ::testing::StartsWith("carol "));
  EXPECT_THAT(lines[2], ::testing::StartsWith("alice "));
  EXPECT_THAT(lines[3], ::testing::StartsWith("bob "));
}

TEST_F(ClientsCppTest, CliBulkLookupWritesJsonLinesAndItsProgress) {
  std::string input;
  for (int i = 0; i < 300; ++i) input += "user" + std::to_string(i) + "\n";
  input += "nobody\n";
  int exit_code = -1;
  const std::string output =
      RunCli("--tags=Tag_Profile_IM_Nick --accounts_file=- --output=jsonl --batch_size=50 --progress=always 2>'" +
                 dir_->Path("progress") + "'",
             &exit_code, input);
  EXPECT_EQ(exit_code, 2) << output;  // "nobody" failed
  const std::vector<std::string> lines = absl::StrSplit(output, '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 301u);
  for (const std::string& line : lines) EXPECT_TRUE(nlohmann::json::parse(line).contains("account")) << line;
  std::ifstream in(dir_->Path("progress"));
  const std::string progress((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The last update, written when the stream ends: every account answered, one failure.
  EXPECT_THAT(progress, ::testing::HasSubstr("\ranswered 301 of 301 (100%), ")) << progress;
  EXPECT_THAT(progress, ::testing::EndsWith("/s, 1 failed\n")) << progress;
}

TEST_F(ClientsCppTest, CliAnswersTheRequestsAroundARefusedOne) {
  // One account per request: the 33-byte account makes request 1 invalid; requests 0 and 2 are still answered.
  int exit_code = -1;
  const std::string output = RunCli("--tags=Tag_Profile_IM_Nick --output=json --batch_size=1 alice " +
                                        std::string(33, 'x') + " bob 2>'" + dir_->Path("cli_stderr") + "'",
                                    &exit_code);
  EXPECT_EQ(exit_code, 1) << output;
  std::map<std::string, nlohmann::json> by_account;
  for (const auto& line : absl::StrSplit(output, '\n', absl::SkipEmpty())) {
    const auto json = nlohmann::json::parse(line);
    by_account[json["account"]] = json;
  }
  ASSERT_EQ(by_account.size(), 2u) << output;
  EXPECT_TRUE(by_account["alice"]["ok"].get<bool>());
  EXPECT_TRUE(by_account["bob"]["ok"].get<bool>());

  std::ifstream in(dir_->Path("cli_stderr"));
  const std::string stderr_text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto refusal = nlohmann::json::parse(stderr_text);
  EXPECT_EQ(refusal["request_index"], 1);
  EXPECT_EQ(refusal["request_error"]["code"], "INVALID_ARGUMENT");
  EXPECT_EQ(refusal["request_error"]["field_violations"][0]["field"], "requests[1].accounts[0]");
}

}  // namespace
}  // namespace portrait_bridge::client

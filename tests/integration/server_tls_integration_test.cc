// TLS and mutual TLS on the bridge's gRPC port, for deployments without a mesh.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/integration/stack.h"

namespace portrait_bridge::testing {
namespace {

const std::vector<std::string> kTags = {"Tag_Profile_IM_Nick"};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A throwaway self-signed certificate and key, made at test time with the openssl tool.
void MakeCertificate(const TempDir& dir, const std::string& name, const std::string& subject_alt_name) {
  const std::string command =
      absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=", name,
                   " -addext subjectAltName=", subject_alt_name, " -keyout '", dir.Path(name + ".key"), "' -out '",
                   dir.Path(name + ".crt"), "' >/dev/null 2>&1");
  ASSERT_EQ(std::system(command.c_str()), 0) << "openssl (installed by .ci/install-deps) failed";
}

grpc::Status Call(int port, const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  grpc::ChannelArguments arguments;
  arguments.SetSslTargetNameOverride("bridge.test");
  arguments.SetInt("grpc.use_local_subchannel_pool", 1);
  auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), credentials, arguments);
  return RunStream(*channel, {MakeRequest({"alice"}, kTags)}, /*deadline_ms=*/5000).status;
}

// TLS files laid out as kubelet mounts a Secret: the names are symlinks into `..data`, itself a symlink to a
// timestamped directory; an update writes a new directory and renames a new `..data` link over the old one, so a
// reader sees either every old file or every new one.
class SecretMount {
 public:
  explicit SecretMount(const std::string& path) : path_(path) { EXPECT_EQ(mkdir(path_.c_str(), 0755), 0); }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

  /// Publishes `files` (name -> content) as the mount's new generation.
  void Update(const std::map<std::string, std::string>& files) {
    const std::string generation = absl::StrCat("..generation_", ++generations_);
    ASSERT_EQ(mkdir(File(generation).c_str(), 0755), 0);
    for (const auto& [name, content] : files) WriteFile(File(generation + "/" + name), content);
    ASSERT_EQ(symlink(generation.c_str(), File("..data_tmp").c_str()), 0);
    ASSERT_EQ(std::rename(File("..data_tmp").c_str(), File("..data").c_str()), 0) << "the atomic swap";
    for (const auto& [name, content] : files) {
      if (access(File(name).c_str(), F_OK) != 0) ASSERT_EQ(symlink(("..data/" + name).c_str(), File(name).c_str()), 0);
    }
  }

 private:
  const std::string path_;
  int generations_ = 0;
};

std::shared_ptr<grpc::ChannelCredentials> TrustingOnly(const std::string& server_certificate,
                                                       const std::string& client_key = "",
                                                       const std::string& client_certificate = "") {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = server_certificate;
  options.pem_private_key = client_key;
  options.pem_cert_chain = client_certificate;
  return grpc::SslCredentials(options);
}

// The reload interval of the reload tests, and how long they wait for a reload: three intervals and a margin for a
// loaded machine.
constexpr int kReloadIntervalSeconds = 1;
constexpr std::chrono::seconds kReloadWait(3 * kReloadIntervalSeconds + 5);

TEST(ServerTlsTest, ARenewedCertificateServesNewConnectionsWhileOpenStreamsGoOn) {
  TempDir dir;
  MakeCertificate(dir, "a", "DNS:bridge.test");
  MakeCertificate(dir, "b", "DNS:bridge.test");
  const std::string cert_a = ReadFile(dir.Path("a.crt"));
  const std::string cert_b = ReadFile(dir.Path("b.crt"));
  SecretMount mount(dir.Path("tls"));
  mount.Update({{"tls.crt", cert_a}, {"tls.key", ReadFile(dir.Path("a.key"))}});
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url(),
                {"--tls_cert_file=" + mount.File("tls.crt"), "--tls_key_file=" + mount.File("tls.key"),
                 absl::StrCat("--tls_reload_interval_seconds=", kReloadIntervalSeconds)});
  ASSERT_TRUE(Call(bridge.port(), TrustingOnly(cert_a)).ok()) << "the bridge does not present certificate A";
  EXPECT_FALSE(Call(bridge.port(), TrustingOnly(cert_b)).ok()) << "B is served before it was installed";

  // A stream opened before the renewal, answered once.
  grpc::ChannelArguments arguments;
  arguments.SetSslTargetNameOverride("bridge.test");
  arguments.SetInt("grpc.use_local_subchannel_pool", 1);
  auto open_channel =
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", bridge.port()), TrustingOnly(cert_a), arguments);
  auto stub = v1::ProfileService::NewStub(open_channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = stub->GetProfiles(&context);
  auto answered = [&](const std::string& account) {
    if (!stream->Write(MakeRequest({account}, kTags))) return false;
    v1::GetProfilesResponse response;
    while (stream->Read(&response)) {
      if (response.request_complete()) return response.results_size() == 1 && response.results(0).account() == account;
    }
    return false;
  };
  ASSERT_TRUE(answered("alice"));

  mount.Update({{"tls.crt", cert_b}, {"tls.key", ReadFile(dir.Path("b.key"))}});
  EXPECT_TRUE(WaitUntil([&] { return Call(bridge.port(), TrustingOnly(cert_b)).ok(); }, kReloadWait))
      << "new connections are not served with certificate B " << kReloadWait.count() << " s after the swap";
  EXPECT_FALSE(Call(bridge.port(), TrustingOnly(cert_a)).ok()) << "new connections still get certificate A";

  EXPECT_TRUE(answered("bob")) << "the stream opened before the renewal stopped working";
  stream->WritesDone();
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST(ServerTlsTest, ARenewedClientCaAdmitsClientsItSigned) {
  TempDir dir;
  MakeCertificate(dir, "bridge.test", "DNS:bridge.test");
  MakeCertificate(dir, "old-client", "DNS:client");
  MakeCertificate(dir, "new-client", "DNS:client");
  const std::string server_cert = ReadFile(dir.Path("bridge.test.crt"));
  SecretMount mount(dir.Path("tls"));
  auto generation = [&](const std::string& client_ca) {
    return std::map<std::string, std::string>{{"tls.crt", server_cert},
                                              {"tls.key", ReadFile(dir.Path("bridge.test.key"))},
                                              {"ca.crt", ReadFile(dir.Path(client_ca + ".crt"))}};
  };
  mount.Update(generation("old-client"));
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url(),
                {"--tls_cert_file=" + mount.File("tls.crt"), "--tls_key_file=" + mount.File("tls.key"),
                 "--tls_client_ca_file=" + mount.File("ca.crt"),
                 absl::StrCat("--tls_reload_interval_seconds=", kReloadIntervalSeconds)});
  auto as_client = [&](const std::string& client) {
    return TrustingOnly(server_cert, ReadFile(dir.Path(client + ".key")), ReadFile(dir.Path(client + ".crt")));
  };
  const grpc::Status old_client = Call(bridge.port(), as_client("old-client"));
  ASSERT_TRUE(old_client.ok()) << old_client.error_message();
  EXPECT_FALSE(Call(bridge.port(), as_client("new-client")).ok()) << "the new CA's client got in before the swap";

  mount.Update(generation("new-client"));
  EXPECT_TRUE(WaitUntil([&] { return Call(bridge.port(), as_client("new-client")).ok(); }, kReloadWait))
      << "a client signed by the new CA is refused " << kReloadWait.count() << " s after the swap";
  EXPECT_FALSE(Call(bridge.port(), as_client("old-client")).ok()) << "the replaced CA's client still gets in";
  EXPECT_FALSE(Call(bridge.port(), TrustingOnly(server_cert)).ok()) << "a client without a certificate got in";
}

// The bridge refuses to start on TLS files it cannot serve (gRPC's provider would only log them): exit status 2
// and a message naming the setting.
TEST(ServerTlsTest, UnusableFilesStopTheStart) {
  TempDir dir;
  MakeCertificate(dir, "a", "DNS:bridge.test");
  MakeCertificate(dir, "b", "DNS:bridge.test");
  WriteFile(dir.Path("garbage.pem"), "not a PEM file\n");
  Sandbox sandbox;
  struct Case {
    std::vector<std::string> flags;
    std::string setting;  // named in the message, with the path
    std::string path;
    std::string why;
  };
  const std::vector<Case> cases = {
      {{"--tls_cert_file=" + dir.Path("garbage.pem"), "--tls_key_file=" + dir.Path("a.key")},
       "tls_cert_file",
       dir.Path("garbage.pem"),
       "holds no PEM certificate"},
      {{"--tls_cert_file=" + dir.Path("a.crt"), "--tls_key_file=" + dir.Path("garbage.pem")},
       "tls_key_file",
       dir.Path("garbage.pem"),
       "holds no unencrypted PEM private key"},
      {{"--tls_cert_file=" + dir.Path("a.crt"), "--tls_key_file=" + dir.Path("b.key")},
       "tls_key_file",
       dir.Path("b.key"),
       "does not match the certificate in " + dir.Path("a.crt")},
      {{"--tls_cert_file=" + dir.Path("a.crt"), "--tls_key_file=" + dir.Path("a.key"),
        "--tls_client_ca_file=" + dir.Path("garbage.pem")},
       "tls_client_ca_file",
       dir.Path("garbage.pem"),
       "holds no PEM certificate"},
      {{"--tls_cert_file=" + dir.Path("missing.crt"), "--tls_key_file=" + dir.Path("a.key")},
       "tls_cert_file",
       dir.Path("missing.crt"),
       "cannot be read"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrJoin(c.flags, " "));
    std::vector<std::string> args = {"--listen_address=127.0.0.1:0",
                                     "--metrics_address=", "--sdkappid=" + std::string(kSdkAppId),
                                     "--base_url=" + sandbox.base_url()};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    Subprocess bridge(BinaryFromEnv("BRIDGE_BINARY"), args, {{"PORTRAIT_BRIDGE_SECRET_KEY", kSecretKey}});
    const int status = bridge.SignalAndWait(/*signal=*/0, /*timeout_ms=*/10000);  // 0: only wait for the exit
    ASSERT_NE(status, -1) << "the bridge started: " << bridge.Output();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << "status " << status << ": " << bridge.Output();
    for (const std::string& part : {c.setting, c.path, c.why}) {
      EXPECT_NE(bridge.Output().find(part), std::string::npos) << "no \"" << part << "\" in: " << bridge.Output();
    }
  }
}

TEST(ServerTlsTest, MutualTlsAcceptsOnlyClientsWithATrustedCertificate) {
  TempDir dir;
  MakeCertificate(dir, "bridge.test", "DNS:bridge.test");
  MakeCertificate(dir, "client", "DNS:client");
  MakeCertificate(dir, "stranger", "DNS:stranger");
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url(),
                {"--tls_cert_file=" + dir.Path("bridge.test.crt"), "--tls_key_file=" + dir.Path("bridge.test.key"),
                 "--tls_client_ca_file=" + dir.Path("client.crt")});
  auto credentials = [&](const std::string& client) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadFile(dir.Path("bridge.test.crt"));
    if (!client.empty()) {
      options.pem_private_key = ReadFile(dir.Path(client + ".key"));
      options.pem_cert_chain = ReadFile(dir.Path(client + ".crt"));
    }
    return grpc::SslCredentials(options);
  };
  const grpc::Status trusted = Call(bridge.port(), credentials("client"));
  EXPECT_TRUE(trusted.ok()) << trusted.error_message();
  EXPECT_FALSE(Call(bridge.port(), credentials("")).ok()) << "a client without a certificate got in";
  EXPECT_FALSE(Call(bridge.port(), credentials("stranger")).ok()) << "a client with an untrusted certificate got in";
  EXPECT_FALSE(Call(bridge.port(), grpc::InsecureChannelCredentials()).ok()) << "plaintext got in";
}

TEST(ServerTlsTest, TlsWithoutClientCertificates) {
  TempDir dir;
  MakeCertificate(dir, "bridge.test", "DNS:bridge.test");
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url(),
                {"--tls_cert_file=" + dir.Path("bridge.test.crt"), "--tls_key_file=" + dir.Path("bridge.test.key")});
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadFile(dir.Path("bridge.test.crt"));
  const grpc::Status status = Call(bridge.port(), grpc::SslCredentials(options));
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(Call(bridge.port(), grpc::InsecureChannelCredentials()).ok());
}

}  // namespace
}  // namespace portrait_bridge::testing

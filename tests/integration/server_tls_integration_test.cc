// TLS and mutual TLS on the bridge's gRPC port, for deployments without a mesh.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
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

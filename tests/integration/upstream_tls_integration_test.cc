// Upstream TLS: verification is always on; a CA bundle can be configured.

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/integration/stack.h"

namespace portrait_bridge::testing {
namespace {

const std::vector<std::string> kTags = {"Tag_Profile_IM_Nick"};

class UpstreamTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A throwaway self-signed certificate for 127.0.0.1, made at test time.
    const std::string command = absl::StrCat(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
        "-keyout '",
        dir_.Path("key.pem"), "' -out '", dir_.Path("cert.pem"), "' >/dev/null 2>&1");
    ASSERT_EQ(std::system(command.c_str()), 0) << "openssl (installed by .ci/install-deps) failed";
    sandbox_ = std::make_unique<Sandbox>(
        std::vector<std::string>{"--tls_cert_file=" + dir_.Path("cert.pem"), "--tls_key_file=" + dir_.Path("key.pem")});
  }
  std::string HttpsUrl() const { return absl::StrCat("https://127.0.0.1:", sandbox_->port()); }

  TempDir dir_;
  std::unique_ptr<Sandbox> sandbox_;
};

TEST_F(UpstreamTlsTest, UntrustedCertificateEndsTheStreamWithFailedPrecondition) {
  Bridge bridge(HttpsUrl());
  const StreamOutcome outcome = RunStream(*bridge.NewChannel(), {MakeRequest({"alice"}, kTags)});
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorInfoOf(outcome.details).reason(), "UPSTREAM_TLS_VERIFICATION_FAILED");
  EXPECT_NE(outcome.status.error_message().find("ca_bundle"), std::string::npos) << outcome.status.error_message();
}

TEST_F(UpstreamTlsTest, ConfiguredCaBundleIsTrusted) {
  Bridge bridge(HttpsUrl(), {"--ca_bundle=" + dir_.Path("cert.pem")});
  const StreamOutcome outcome = RunStream(*bridge.NewChannel(), {MakeRequest({"alice"}, kTags)});
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_EQ(outcome.results_by_request.at(0).at(0).status().code(), 0);
}

}  // namespace
}  // namespace portrait_bridge::testing

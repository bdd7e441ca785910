// Upstream TLS: verification is always on; a CA bundle can be configured.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/sandbox/profile_store.h"
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

// Tencent is reached over HTTPS. A 100-account answer with every tag spans several TLS records (16 KiB each), and
// later calls reuse the kept connection: the transport's loop must hand libcurl every record as its socket becomes
// readable, for every call.
TEST_F(UpstreamTlsTest, FullCallsWithAnswersOfSeveralTlsRecordsAreAnsweredWhole) {
  Bridge bridge(HttpsUrl(), {"--ca_bundle=" + dir_.Path("cert.pem")});
  const std::vector<std::string>& tags = sandbox::StandardProfileTags();
  constexpr int kRounds = 2;
  constexpr int kRequestsPerRound = 3;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<v1::GetProfilesRequest> requests;
    for (int i = 0; i < kRequestsPerRound; ++i) {
      requests.push_back(MakeRequest(Users((round * kRequestsPerRound + i) * 100, 100), tags));
    }
    const StreamOutcome outcome = RunStream(*bridge.NewChannel(), requests);
    ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
    for (int i = 0; i < kRequestsPerRound; ++i) {
      const std::vector<v1::AccountResult>& results = outcome.results_by_request.at(i);
      ASSERT_EQ(results.size(), 100u) << "request " << i << " of round " << round;
      size_t answer_bytes = 0;
      for (const v1::AccountResult& result : results) {
        EXPECT_EQ(result.status().code(), 0) << result.account() << ": " << result.status().message();
        // The sandbox leaves odd-numbered accounts' SelfSignature unset, and upstream omits an unset tag.
        const bool odd = (std::stoi(result.account().substr(4)) % 2) == 1;
        ASSERT_EQ(result.items_size(), static_cast<int>(tags.size()) - (odd ? 1 : 0)) << result.account();
        EXPECT_EQ(result.items(0).string_value(), "User " + result.account().substr(4));
        answer_bytes += result.ByteSizeLong();
      }
      // The upstream's JSON is larger still than this protobuf encoding of the same profiles.
      EXPECT_GT(answer_bytes, 2 * 16384u) << "answers this small would fit in one TLS record";
    }
  }
}

}  // namespace
}  // namespace portrait_bridge::testing

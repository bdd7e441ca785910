#include "bridge/sandbox/sandbox_flags.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/subprocess.h"

namespace portrait_bridge::sandbox {
namespace {

EnvLookup Env(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const char* name) -> const char* {
    auto it = values.find(name);
    return it == values.end() ? nullptr : it->second.c_str();
  };
}

const EnvLookup kKeyInEnv = Env({{"PORTRAIT_SANDBOX_SECRET_KEY", "env-key"}});

// A key file in `dir`, a directory of the test's own: ctest runs this file's tests at once, each in a process of
// its own, and a path they shared would let one test read the key another just wrote.
std::string KeyFile(const ::portrait_bridge::testing::TempDir& dir, const std::string& content) {
  const std::string path = dir.Path("key");
  ::portrait_bridge::testing::WriteFile(path, content);
  return path;
}

TEST(SandboxFlagsTest, Defaults) {
  const auto options = ParseSandboxFlags({}, kKeyInEnv);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->listen_host, "127.0.0.1");
  EXPECT_EQ(options->listen_port, 0);
  EXPECT_EQ(options->config.sdkappid, 1400000000u);
  EXPECT_EQ(options->config.admins, std::vector<std::string>{"administrator"});
  EXPECT_EQ(options->config.secret_key, "env-key");
  EXPECT_EQ(options->config.pool_size, 100000);
  EXPECT_EQ(options->config.calls_per_second, 200);
  EXPECT_EQ(options->config.rate_window_ms, 1000);
  EXPECT_EQ(options->config.max_accounts_per_call, 100);
  EXPECT_EQ(options->config.invalidate_sigs_before, 0);
  EXPECT_EQ(options->keep_alive_timeout_s, 10);
  EXPECT_EQ(options->faults.throttle_for_ms, 0);
  EXPECT_EQ(options->config.custom_tags,
            (std::vector<std::string>{"Tag_Profile_Custom_Test", "Tag_Profile_Custom_Blob"}));
  EXPECT_EQ(options->threads, 128);
}

TEST(SandboxFlagsTest, EveryFlagParses) {
  const ::portrait_bridge::testing::TempDir dir;
  const std::string key_file = KeyFile(dir, "file-key\r\n");
  const auto options = ParseSandboxFlags({"--listen=0.0.0.0:8080",
                                          "--port_file",
                                          "/tmp/p",
                                          "--sdkappid=1400000001",
                                          "--admin_identifier=root",
                                          "--extra_admins=ops,oncall",
                                          "--secret_key_file=" + key_file,
                                          "--pool_size=10",
                                          "--custom_tags=Tag_Profile_Custom_A_1",
                                          "--calls_per_second=0",
                                          "--rate_window_ms=1050",
                                          "--max_accounts_per_call=50",
                                          "--invalidate_sigs_before=1700000000",
                                          "--threads=4",
                                          "--keep_alive_timeout_s=3",
                                          "--access_log",
                                          "--latency_ms=20",
                                          "--fail_accounts=user7=40006",
                                          "--error_code=70500",
                                          "--error_count=2",
                                          "--http_502_count=-1",
                                          "--non_json_count=1",
                                          "--truncated_count=1",
                                          "--drop_connection_count=1",
                                          "--usersig_expired_count=1",
                                          "--expire_all_sigs=false",
                                          "--throttle_for_ms=5000"},
                                         kKeyInEnv);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->listen_host, "0.0.0.0");
  EXPECT_EQ(options->listen_port, 8080);
  EXPECT_EQ(options->port_file, "/tmp/p");
  EXPECT_EQ(options->config.secret_key, "file-key");  // The file wins over the environment; CR/LF trimmed.
  EXPECT_EQ(options->config.admins, (std::vector<std::string>{"root", "ops", "oncall"}));
  EXPECT_EQ(options->config.pool_size, 10);
  EXPECT_EQ(options->config.calls_per_second, 0);
  EXPECT_EQ(options->config.rate_window_ms, 1050);
  EXPECT_EQ(options->config.max_accounts_per_call, 50);
  EXPECT_EQ(options->config.invalidate_sigs_before, 1700000000);
  EXPECT_EQ(options->threads, 4);
  EXPECT_EQ(options->keep_alive_timeout_s, 3);
  EXPECT_EQ(options->faults.throttle_for_ms, 5000);
  EXPECT_TRUE(options->access_log);
  EXPECT_EQ(options->faults.latency_ms, 20);
  EXPECT_EQ(options->faults.fail_accounts.at("user7"), 40006);
  EXPECT_EQ(options->faults.http_502_count, -1);
  EXPECT_EQ(options->faults.error_count, 2);
  EXPECT_FALSE(options->faults.expire_all_sigs);
}

TEST(SandboxFlagsTest, Errors) {
  EXPECT_FALSE(ParseSandboxFlags({}, Env({})).ok());  // No key anywhere.
  EXPECT_FALSE(ParseSandboxFlags({"--secret_key_file=/nonexistent/key"}, kKeyInEnv).ok());
  const ::portrait_bridge::testing::TempDir dir;
  EXPECT_FALSE(ParseSandboxFlags({"--secret_key_file=" + KeyFile(dir, "\n")}, kKeyInEnv).ok());
  EXPECT_FALSE(ParseSandboxFlags({"--bogus=1"}, kKeyInEnv).ok());
  EXPECT_FALSE(ParseSandboxFlags({"positional"}, kKeyInEnv).ok());
  EXPECT_FALSE(ParseSandboxFlags({"--listen=127.0.0.1"}, kKeyInEnv).ok());
  EXPECT_FALSE(ParseSandboxFlags({"--listen=127.0.0.1:70000"}, kKeyInEnv).ok());
  EXPECT_FALSE(ParseSandboxFlags({"--pool_size=many"}, kKeyInEnv).ok());
  EXPECT_FALSE(ParseSandboxFlags({"--port_file"}, kKeyInEnv).ok());
  EXPECT_FALSE(ParseSandboxFlags({"--tls_cert_file=/tmp/c.pem"}, kKeyInEnv).ok());
  EXPECT_FALSE(ParseSandboxFlags({"--custom_tags=Tag_Profile_IM_Nick"}, kKeyInEnv).ok());
  EXPECT_FALSE(ParseSandboxFlags({"--custom_tags=Tag_Profile_Custom_ThisKeywordIsTooLong"}, kKeyInEnv).ok());
  EXPECT_FALSE(ParseSandboxFlags({"--extra_admins=a,b,c,d,e,f,g,h,i,j"}, kKeyInEnv).ok());
  EXPECT_FALSE(ParseSandboxFlags({"--http_502_count=-2"}, kKeyInEnv).ok());
  EXPECT_FALSE(ParseSandboxFlags({"--fail_accounts=user7"}, kKeyInEnv).ok());
  EXPECT_FALSE(ParseSandboxFlags({"--access_log=maybe"}, kKeyInEnv).ok());
  EXPECT_FALSE(ParseSandboxFlags({"--rate_window_ms=0"}, kKeyInEnv).ok());
  EXPECT_FALSE(ParseSandboxFlags({"--rate_window_ms=3600001"}, kKeyInEnv).ok());
  EXPECT_FALSE(ParseSandboxFlags({"--throttle_for_ms=-1"}, kKeyInEnv).ok());
  EXPECT_FALSE(ParseSandboxFlags({"--throttle_for_ms=86400001"}, kKeyInEnv).ok());
}

TEST(SandboxFlagsTest, HelpNeedsNoKeyAndListsEveryFlag) {
  const auto options = ParseSandboxFlags({"--help"}, Env({}));
  ASSERT_TRUE(options.ok());
  EXPECT_TRUE(options->help);
  const std::string usage = SandboxUsage();
  for (const char* flag :
       {"--listen", "--port_file", "--sdkappid", "--admin_identifier", "--secret_key_file", "--tls_cert_file",
        "--tls_key_file", "--calls_per_second", "--threads", "--latency_ms", "--fail_accounts",
        "--drop_connection_count", "--expire_all_sigs", "--rate_window_ms", "--throttle_for_ms", "/sandbox/arrivals"}) {
    EXPECT_NE(usage.find(flag), std::string::npos) << flag;
  }
}

// Integer defaults are written once, as the fields' initial values; --help prints those.
TEST(SandboxFlagsTest, HelpShowsTheFieldDefaults) {
  const std::string usage = SandboxUsage();
  const auto line_of = [&usage](const std::string& flag) {
    const size_t start = usage.find("  --" + flag + "=");
    return start == std::string::npos ? std::string() : usage.substr(start, usage.find('\n', start) - start);
  };
  const SandboxOptions defaults;
  for (const auto& [flag, value] :
       std::vector<std::pair<std::string, int64_t>>{{"pool_size", defaults.config.pool_size},
                                                    {"calls_per_second", defaults.config.calls_per_second},
                                                    {"rate_window_ms", defaults.config.rate_window_ms},
                                                    {"max_accounts_per_call", defaults.config.max_accounts_per_call},
                                                    {"invalidate_sigs_before", defaults.config.invalidate_sigs_before},
                                                    {"threads", defaults.threads},
                                                    {"keep_alive_timeout_s", defaults.keep_alive_timeout_s}}) {
    EXPECT_NE(line_of(flag).find("(default " + std::to_string(value) + ")"), std::string::npos)
        << flag << ": " << line_of(flag);
  }
  EXPECT_NE(line_of("rate_window_ms").find("(default 1000)"), std::string::npos);
}

// The shared parser names the flag, the value given and the bounds.
TEST(SandboxFlagsTest, ErrorsNameTheFlagAndItsBounds) {
  const auto pool = ParseSandboxFlags({"--pool_size=many"}, kKeyInEnv);
  ASSERT_FALSE(pool.ok());
  EXPECT_EQ(pool.status().message(), "pool_size=\"many\" (from flag --pool_size) is not an integer");
  const auto window = ParseSandboxFlags({"--rate_window_ms", "0"}, kKeyInEnv);
  ASSERT_FALSE(window.ok());
  EXPECT_NE(window.status().message().find("must be between 1 and 3600000"), absl::string_view::npos);
  EXPECT_NE(SandboxUsage().find("  --rate_window_ms=N  (default 1000)  [1..3600000]"), std::string::npos);
}

}  // namespace
}  // namespace portrait_bridge::sandbox

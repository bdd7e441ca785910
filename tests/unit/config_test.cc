#include "bridge/config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace portrait_bridge {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "s3cr3t-key-0123456789abcdef";

using EnvMap = std::map<std::string, std::string>;

// A fake environment: getenv reads this map only, never the process environment.
class FakeEnv {
 public:
  explicit FakeEnv(std::map<std::string, std::string> values = {}) : values_(std::move(values)) {}
  std::function<const char*(const char*)> Getenv() const {
    return [this](const char* name) -> const char* {
      const auto it = values_.find(name);
      return it == values_.end() ? nullptr : it->second.c_str();
    };
  }
  std::map<std::string, std::string>& values() { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

// The minimum a valid configuration needs: the SDKAppID and the secret key.
FakeEnv MinimalEnv() {
  return FakeEnv({{"PORTRAIT_BRIDGE_SDKAPPID", "1400000000"}, {"PORTRAIT_BRIDGE_SECRET_KEY", kSecret}});
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "config_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    for (const std::string& path : files_) std::remove(path.c_str());
    rmdir(dir_.c_str());
  }

  std::string WriteFile(const std::string& name, const std::string& contents) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << contents;
    files_.push_back(path);
    return path;
  }

  std::string dir_;
  std::vector<std::string> files_;
};

// Expects INVALID_ARGUMENT whose message names `key`.
void ExpectInvalid(const absl::StatusOr<Config>& config, const std::string& key) {
  ASSERT_FALSE(config.ok()) << "expected an error naming " << key;
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << config.status();
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(key));
}

TEST_F(ConfigTest, DefaultsWhenOnlyRequiredSettingsAreGiven) {
  const FakeEnv env = MinimalEnv();
  const absl::StatusOr<Config> config = LoadConfig({}, env.Getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->upstream.sdkappid, 1400000000u);
  EXPECT_EQ(config->secret_key, kSecret);
  EXPECT_EQ(config->listen_address, "0.0.0.0:50051");
  EXPECT_EQ(config->metrics_address, "0.0.0.0:9464");
  EXPECT_EQ(config->upstream.identifier, "administrator");
  EXPECT_EQ(config->region, "singapore");
  EXPECT_EQ(config->upstream.base_url, "https://adminapisgp.im.qcloud.com");
  EXPECT_EQ(config->usersig_validity, absl::Hours(24));
  EXPECT_EQ(config->upstream.attempt_timeout, absl::Seconds(5));
  EXPECT_EQ(config->stream_limits.max_accounts_per_call, 100);
  EXPECT_EQ(config->stream_limits.max_accounts_per_stream, 100000);
  EXPECT_EQ(config->stream_limits.max_accounts_per_batch_get, 1000);
  EXPECT_EQ(config->stream_limits.max_inflight_accounts, 1000);
  EXPECT_TRUE(config->bytes_tags.empty());
  EXPECT_EQ(config->budget.calls_per_second, 200);
  EXPECT_EQ(config->budget.burst, 2);  // Defaults to a hundredth of the calls per second, at least 2.
  EXPECT_EQ(config->shutdown_grace, absl::Seconds(10));
  EXPECT_EQ(config->log_level, LogLevel::kInfo);
  EXPECT_TRUE(config->log_json);
  EXPECT_TRUE(config->tls_cert_file.empty());
}

TEST_F(ConfigTest, MissingSdkAppIdIsAnErrorSayingHowToSetIt) {
  const FakeEnv env(EnvMap{{"PORTRAIT_BRIDGE_SECRET_KEY", kSecret}});
  const absl::StatusOr<Config> config = LoadConfig({}, env.Getenv());
  ExpectInvalid(config, "sdkappid");
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("required"));
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("PORTRAIT_BRIDGE_SDKAPPID"));
}

TEST_F(ConfigTest, MissingSecretKeyIsAnError) {
  const FakeEnv env(EnvMap{{"PORTRAIT_BRIDGE_SDKAPPID", "1400000000"}});
  const absl::StatusOr<Config> config = LoadConfig({}, env.Getenv());
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("secret key"));
}

TEST_F(ConfigTest, PrecedenceIsFlagThenEnvironmentThenFileThenDefault) {
  const std::string file = WriteFile("config.json", R"({"attempt_timeout_ms": 3000})");
  const std::string config_flag = "--config=" + file;

  FakeEnv env = MinimalEnv();
  // Default only.
  absl::StatusOr<Config> config = LoadConfig({}, env.Getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->upstream.attempt_timeout, absl::Milliseconds(5000));
  // File over default.
  config = LoadConfig({config_flag}, env.Getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->upstream.attempt_timeout, absl::Milliseconds(3000));
  // Environment over file.
  env.values()["PORTRAIT_BRIDGE_ATTEMPT_TIMEOUT_MS"] = "2000";
  config = LoadConfig({config_flag}, env.Getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->upstream.attempt_timeout, absl::Milliseconds(2000));
  // Flag over environment, in both flag spellings.
  config = LoadConfig({config_flag, "--attempt_timeout_ms=1000"}, env.Getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->upstream.attempt_timeout, absl::Milliseconds(1000));
  config = LoadConfig({"--attempt_timeout_ms", "1500", config_flag}, env.Getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->upstream.attempt_timeout, absl::Milliseconds(1500));
}

TEST_F(ConfigTest, ConfigFileCanComeFromTheEnvironment) {
  const std::string file = WriteFile("env-config.json", R"({"admin_identifier": "ops_admin"})");
  FakeEnv env = MinimalEnv();
  env.values()["PORTRAIT_BRIDGE_CONFIG"] = file;
  const absl::StatusOr<Config> config = LoadConfig({}, env.Getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->upstream.identifier, "ops_admin");
}

TEST_F(ConfigTest, UnknownFlagIsRejectedByName) {
  const FakeEnv env = MinimalEnv();
  ExpectInvalid(LoadConfig({"--no_such_option=1"}, env.Getenv()), "no_such_option");
}

TEST_F(ConfigTest, UnknownFileKeyIsRejectedByName) {
  const std::string file = WriteFile("typo.json", R"({"sdkapid": 1400000000})");
  const FakeEnv env = MinimalEnv();
  ExpectInvalid(LoadConfig({"--config=" + file}, env.Getenv()), "sdkapid");
}

TEST_F(ConfigTest, UnreadableOrMalformedConfigFileIsAnError) {
  const FakeEnv env = MinimalEnv();
  EXPECT_EQ(LoadConfig({"--config=" + dir_ + "/missing.json"}, env.Getenv()).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::string file = WriteFile("broken.json", R"({"sdkappid": )");
  EXPECT_EQ(LoadConfig({"--config=" + file}, env.Getenv()).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ConfigTest, ImpossibleValuesAreRejectedNamingTheKey) {
  const FakeEnv env = MinimalEnv();
  ExpectInvalid(LoadConfig({"--sdkappid=0"}, env.Getenv()), "sdkappid");
  ExpectInvalid(LoadConfig({"--sdkappid=abc"}, env.Getenv()), "sdkappid");
  ExpectInvalid(LoadConfig({"--sdkappid=4294967296"}, env.Getenv()), "sdkappid");
  ExpectInvalid(LoadConfig({"--max_accounts_per_call=101"}, env.Getenv()), "max_accounts_per_call");
  ExpectInvalid(LoadConfig({"--max_accounts_per_call=0"}, env.Getenv()), "max_accounts_per_call");
  ExpectInvalid(LoadConfig({"--max_accounts_per_batch_get=0"}, env.Getenv()), "max_accounts_per_batch_get");
  ExpectInvalid(LoadConfig({"--max_accounts_per_batch_get=100001"}, env.Getenv()), "max_accounts_per_batch_get");
  ExpectInvalid(LoadConfig({"--region=atlantis"}, env.Getenv()), "region");
  ExpectInvalid(LoadConfig({"--log_level=loud"}, env.Getenv()), "log_level");
  ExpectInvalid(LoadConfig({"--listen_address=nohost"}, env.Getenv()), "listen_address");
  ExpectInvalid(LoadConfig({"--listen_address=host:99999"}, env.Getenv()), "listen_address");
  ExpectInvalid(LoadConfig({"--upstream_calls_per_second=0"}, env.Getenv()), "upstream_calls_per_second");
  ExpectInvalid(LoadConfig({"--base_url=ftp://example.com"}, env.Getenv()), "base_url");
  ExpectInvalid(LoadConfig({"--admin_identifier=bad admin"}, env.Getenv()), "admin_identifier");
}

TEST_F(ConfigTest, BadValueFromEnvironmentNamesItsSource) {
  FakeEnv env = MinimalEnv();
  env.values()["PORTRAIT_BRIDGE_LOG_LEVEL"] = "loud";
  const absl::StatusOr<Config> config = LoadConfig({}, env.Getenv());
  ExpectInvalid(config, "log_level");
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("PORTRAIT_BRIDGE_LOG_LEVEL"));
}

TEST_F(ConfigTest, SecretKeyFromEnvironment) {
  const FakeEnv env = MinimalEnv();
  const absl::StatusOr<Config> config = LoadConfig({}, env.Getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->secret_key, kSecret);
}

TEST_F(ConfigTest, SecretKeyFromFileHasTrailingNewlineTrimmed) {
  const std::string key_file = WriteFile("secret", std::string("file-secret-key") + "\n");
  const FakeEnv env(EnvMap{{"PORTRAIT_BRIDGE_SDKAPPID", "1400000000"}});
  const absl::StatusOr<Config> config = LoadConfig({"--secret_key_file=" + key_file}, env.Getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->secret_key, "file-secret-key");
}

TEST_F(ConfigTest, SecretKeyFileFlagWinsOverEnvironmentKey) {
  const std::string key_file = WriteFile("secret2", "from-file\n");
  const FakeEnv env = MinimalEnv();
  const absl::StatusOr<Config> config = LoadConfig({"--secret_key_file=" + key_file}, env.Getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->secret_key, "from-file");
}

TEST_F(ConfigTest, EmptySecretKeyFileIsAnError) {
  const std::string key_file = WriteFile("empty-secret", "\n");
  const FakeEnv env(EnvMap{{"PORTRAIT_BRIDGE_SDKAPPID", "1400000000"}});
  EXPECT_EQ(LoadConfig({"--secret_key_file=" + key_file}, env.Getenv()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ConfigTest, SecretKeyFlagIsRefusedWithoutEchoingIt) {
  const FakeEnv env = MinimalEnv();
  const absl::StatusOr<Config> config = LoadConfig({"--secret_key=flag-secret-value"}, env.Getenv());
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), Not(HasSubstr("flag-secret-value")));
}

TEST_F(ConfigTest, DescribeNeverContainsTheSecretKey) {
  const FakeEnv env = MinimalEnv();
  const absl::StatusOr<Config> config = LoadConfig({}, env.Getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  const std::string description = config->Describe();
  EXPECT_THAT(description, Not(HasSubstr(kSecret)));
  EXPECT_THAT(description, HasSubstr("secret_key=set"));
  EXPECT_THAT(description, HasSubstr("sdkappid=1400000000"));
}

TEST_F(ConfigTest, SharedBudgetAndCacheSettings) {
  const std::string password_file = WriteFile("redis-password", "redis-s3cret\n");
  const FakeEnv env = MinimalEnv();
  const absl::StatusOr<Config> local = LoadConfig({}, env.Getenv());
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_TRUE(local->budget_redis_url.empty());
  EXPECT_EQ(local->budget.fallback_calls_per_second, 20);  // A tenth of upstream_calls_per_second.
  EXPECT_EQ(local->budget_redis.timeout, absl::Milliseconds(10));

  const absl::StatusOr<Config> shared =
      LoadConfig({"--budget_redis_url=redis://redis.example:6380/2", "--budget_redis_password_file=" + password_file,
                  "--budget_fallback_calls_per_second=66", "--redis_timeout_ms=25", "--cache_ttl_ms=60000",
                  "--cache_redis_url=unix:///run/redis.sock"},
                 env.Getenv());
  ASSERT_TRUE(shared.ok()) << shared.status();
  EXPECT_EQ(shared->budget_redis_url, "redis://redis.example:6380/2");
  EXPECT_EQ(shared->budget_redis.password, "redis-s3cret");
  EXPECT_EQ(shared->budget.fallback_calls_per_second, 66);
  EXPECT_EQ(shared->budget_redis.timeout, absl::Milliseconds(25));
  EXPECT_EQ(shared->cache_redis_url, "unix:///run/redis.sock");
  EXPECT_THAT(shared->Describe(), Not(HasSubstr("redis-s3cret")));

  ExpectInvalid(LoadConfig({"--budget_redis_url=http://redis:6379"}, env.Getenv()), "budget_redis_url");
  const absl::StatusOr<Config> with_password = LoadConfig({"--budget_redis_url=redis://:pw@redis:6379"}, env.Getenv());
  ExpectInvalid(with_password, "budget_redis_url");
  EXPECT_THAT(std::string(with_password.status().message()), HasSubstr("password file"));
  ExpectInvalid(LoadConfig({"--budget_redis_url=redis://redis:0"}, env.Getenv()), "budget_redis_url");
  ExpectInvalid(LoadConfig({"--cache_redis_url=unix://relative.sock", "--cache_ttl_ms=1000"}, env.Getenv()),
                "cache_redis_url");
  ExpectInvalid(LoadConfig({"--cache_redis_url=redis://redis:6379"}, env.Getenv()), "cache_redis_url");  // No TTL.
  ExpectInvalid(LoadConfig({"--budget_fallback_calls_per_second=201"}, env.Getenv()),
                "budget_fallback_calls_per_second");
  ExpectInvalid(LoadConfig({"--redis_timeout_ms=0"}, env.Getenv()), "redis_timeout_ms");
  ExpectInvalid(LoadConfig({"--budget_redis_password_file=/nonexistent/password"}, env.Getenv()),
                "budget_redis_password_file");
}

TEST_F(ConfigTest, RegionResolvesToItsBaseUrlAndBaseUrlOverridesIt) {
  const FakeEnv env = MinimalEnv();
  absl::StatusOr<Config> config = LoadConfig({"--region=frankfurt"}, env.Getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->upstream.base_url, "https://adminapiger.im.qcloud.com");

  config = LoadConfig({"--region=frankfurt", "--base_url=http://127.0.0.1:8080"}, env.Getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->upstream.base_url, "http://127.0.0.1:8080");
}

TEST_F(ConfigTest, BytesTagsFromFlagAndFileArray) {
  const FakeEnv env = MinimalEnv();
  absl::StatusOr<Config> config =
      LoadConfig({"--bytes_tags=Tag_Profile_Custom_Blob, Tag_Profile_Custom_Raw"}, env.Getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->bytes_tags, (std::set<std::string>{"Tag_Profile_Custom_Blob", "Tag_Profile_Custom_Raw"}));

  const std::string file =
      WriteFile("tags.json", R"({"bytes_tags": ["Tag_Profile_Custom_A", "Tag_Profile_Custom_B"]})");
  config = LoadConfig({"--config=" + file}, env.Getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->bytes_tags, (std::set<std::string>{"Tag_Profile_Custom_A", "Tag_Profile_Custom_B"}));
}

TEST_F(ConfigTest, BytesTagsRejectStandardAndMalformedTags) {
  const FakeEnv env = MinimalEnv();
  ExpectInvalid(LoadConfig({"--bytes_tags=Tag_Profile_IM_Nick"}, env.Getenv()), "bytes_tags");
  ExpectInvalid(LoadConfig({"--bytes_tags=Tag_Profile_Custom_bad-char"}, env.Getenv()), "bytes_tags");
}

// Each kind of option, from each source, lands in the field of its component's own struct.
TEST_F(ConfigTest, EachKindLandsInItsComponentsStruct) {
  FakeEnv env = MinimalEnv();
  env.values()["PORTRAIT_BRIDGE_USERSIG_VALIDITY_SECONDS"] = "600";
  const std::string file = WriteFile("kinds.json", R"({"unread_responses_mib": 3, "log_format": "text"})");
  const absl::StatusOr<Config> config = LoadConfig(
      {"--config=" + file, "--max_accounts_per_call=40", "--coalesce_wait_ms=7", "--retry_budget_ratio=0.5",
       "--cache_ttl_ms=60000", "--cache_negative_ttl_ms=250", "--bytes_tags=Tag_Profile_Custom_Blob",
       "--log_level=debug", "--redis_timeout_ms=30", "--ca_bundle=" + file, "--admin_identifier=ops@example"},
      env.Getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->usersig_validity, absl::Minutes(10));               // Seconds, from the environment.
  EXPECT_EQ(config->server_limits.max_unread_bytes, int64_t{3} << 20);  // MiB, from the file.
  EXPECT_FALSE(config->log_json);                                       // An enum, from the file.
  EXPECT_EQ(config->log_level, LogLevel::kDebug);                       // An enum, from a flag.
  EXPECT_EQ(config->stream_limits.max_accounts_per_call, 40);           // An integer...
  EXPECT_EQ(config->coalescer.max_accounts_per_call, 40u);              // ...which the coalescer shares.
  EXPECT_EQ(config->coalescer.wait, absl::Milliseconds(7));             // Milliseconds.
  EXPECT_EQ(config->upstream.retry_budget_ratio, 0.5);                  // A number.
  EXPECT_EQ(config->cache.ttl, absl::Minutes(1));
  EXPECT_EQ(config->shared_cache.ttl, absl::Minutes(1));  // The shared cache keeps the same TTLs...
  EXPECT_EQ(config->shared_cache.negative_ttl, absl::Milliseconds(250));
  EXPECT_EQ(config->shared_cache.sdkappid, 1400000000u);            // ...and names keys by the SDKAppID,
  EXPECT_EQ(config->budget.sdkappid, 1400000000u);                  // as the shared budget does.
  EXPECT_EQ(config->budget_redis.timeout, absl::Milliseconds(30));  // One timeout for both Redis clients.
  EXPECT_EQ(config->cache_redis.timeout, absl::Milliseconds(30));
  EXPECT_EQ(config->upstream.tag_types.TypeOf("Tag_Profile_Custom_Blob"), ValueType::kBytes);  // A list.
  EXPECT_EQ(config->upstream.tag_types.TypeOf("Tag_Profile_Custom_Text"), ValueType::kString);
  EXPECT_EQ(config->transport.ca_bundle, file);  // A string.
  EXPECT_EQ(config->upstream.identifier, "ops@example");
}

TEST_F(ConfigTest, BoundsAreCheckedAtBothEndsWithTheirLimitsInTheMessage) {
  const FakeEnv env = MinimalEnv();
  for (const OptionSpec& spec : ConfigTable().specs()) {
    if (spec.kind != OptionKind::kInteger || spec.name == "sdkappid") continue;
    const auto low = static_cast<int64_t>(*spec.min);
    const auto high = static_cast<int64_t>(*spec.max);
    for (const int64_t value : {low, high}) {
      std::vector<std::string> args = {absl::StrCat("--", spec.name, "=", value)};
      if (spec.name == "retry_max_backoff_ms") args.push_back("--retry_initial_backoff_ms=1");
      if (spec.name == "retry_initial_backoff_ms") args.push_back("--retry_max_backoff_ms=600000");
      EXPECT_TRUE(LoadConfig(args, env.Getenv()).ok()) << args[0] << ": " << LoadConfig(args, env.Getenv()).status();
    }
    for (const int64_t value : {low - 1, high + 1}) {
      const absl::StatusOr<Config> config = LoadConfig({absl::StrCat("--", spec.name, "=", value)}, env.Getenv());
      ExpectInvalid(config, spec.name);
      EXPECT_THAT(std::string(config.status().message()), HasSubstr(absl::StrCat("between ", low, " and ", high)));
      EXPECT_THAT(std::string(config.status().message()), HasSubstr("(from flag --" + spec.name + ")"));
    }
  }
}

TEST_F(ConfigTest, CrossFieldRules) {
  const FakeEnv env = MinimalEnv();
  ExpectInvalid(LoadConfig({"--retry_initial_backoff_ms=500", "--retry_max_backoff_ms=400"}, env.Getenv()),
                "retry_max_backoff_ms");
  const std::string pem = WriteFile("cert.pem", "not really a certificate");
  ExpectInvalid(LoadConfig({"--tls_cert_file=" + pem}, env.Getenv()), "tls_key_file");
  ExpectInvalid(LoadConfig({"--tls_client_ca_file=" + pem}, env.Getenv()), "tls_client_ca_file");
  ExpectInvalid(LoadConfig({"--tls_cert_file=" + dir_ + "/missing.pem", "--tls_key_file=" + pem}, env.Getenv()),
                "tls_cert_file");
  // Computed defaults follow the option they are computed from.
  const absl::StatusOr<Config> config = LoadConfig({"--upstream_calls_per_second=3000"}, env.Getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->budget.burst, 30);
  EXPECT_EQ(config->budget.fallback_calls_per_second, 300);
}

TEST_F(ConfigTest, BadValueFromTheFileNamesTheFile) {
  const std::string file = WriteFile("bad.json", R"({"retry_max_attempts": 11})");
  const FakeEnv env = MinimalEnv();
  const absl::StatusOr<Config> config = LoadConfig({"--config=" + file}, env.Getenv());
  ExpectInvalid(config, "retry_max_attempts");
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("config file " + file));
}

TEST_F(ConfigTest, HelpListsEveryOptionWithItsEnvironmentVariableDefaultAndBounds) {
  const std::string help = ConfigHelp();
  for (const OptionSpec& spec : ConfigTable().specs()) {
    const size_t start = help.find("  --" + spec.name + "=");
    ASSERT_NE(start, std::string::npos) << spec.name;
    const std::string line = help.substr(start, help.find('\n', start) - start);
    EXPECT_THAT(line, HasSubstr("$PORTRAIT_BRIDGE_" + absl::AsciiStrToUpper(spec.name)));
    if (!spec.default_value.empty()) EXPECT_THAT(line, HasSubstr("(default " + spec.default_value + ")"));
    if (!BoundsText(spec).empty()) EXPECT_THAT(line, HasSubstr("[" + BoundsText(spec) + "]"));
  }
  EXPECT_THAT(help, HasSubstr("[1..600000 ms]"));
  EXPECT_THAT(help, HasSubstr("[debug, info, warning, error]"));
  EXPECT_THAT(help, HasSubstr("[> 0, <= 1000000]"));
}

TEST_F(ConfigTest, DescribeShowsEveryOptionAndOnlyWhetherSecretsAreSet) {
  const std::string password_file = WriteFile("pw", "redis-s3cret\n");
  const FakeEnv env = MinimalEnv();
  const absl::StatusOr<Config> config = LoadConfig(
      {"--budget_redis_url=redis://redis:6379", "--budget_redis_password_file=" + password_file}, env.Getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  const std::string description = config->Describe();
  for (const OptionSpec& spec : ConfigTable().specs()) {
    EXPECT_THAT(" " + description, HasSubstr(" " + spec.name + "=")) << spec.name;
  }
  EXPECT_THAT(description, HasSubstr("budget_redis_password_file=set"));
  EXPECT_THAT(description, HasSubstr("cache_redis_password_file=unset"));
  EXPECT_THAT(description, HasSubstr("attempt_timeout_ms=5000"));
  EXPECT_THAT(description, HasSubstr("base_url=https://adminapisgp.im.qcloud.com"));
  EXPECT_THAT(description, HasSubstr("upstream_burst=2"));
  EXPECT_THAT(description, Not(HasSubstr("redis-s3cret")));
  EXPECT_THAT(description, Not(HasSubstr(kSecret)));
}

}  // namespace
}  // namespace portrait_bridge

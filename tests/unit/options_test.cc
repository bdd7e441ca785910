// The shared options parser (bridge/core/options.h) on a small table of every kind.

#include "bridge/core/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"

namespace portrait_bridge {
namespace {

using ::testing::HasSubstr;

enum class Mode { kFast, kSlow };

struct Settings {
  std::string name = "initial";
  int64_t count = 7;
  int64_t optional_count = -1;
  absl::Duration wait = absl::Seconds(2);
  int64_t bytes = 0;
  double ratio = 0.5;
  bool verbose = false;
  Mode mode = Mode::kFast;
  std::vector<std::string> tags;
  std::vector<std::string> extras;
};

using B = OptionBuilder<Settings>;

std::vector<Option<Settings>> Options() {
  return {
      B::String("name", "default-name", "a name", Field(&Settings::name)),
      B::Integer("count", "3", 1, 10, "a count", Field(&Settings::count)),
      B::Integer("optional_count", "", 0, 5, "computed when unset", Field(&Settings::optional_count)),
      B::Duration("wait_ms", "100", 0, 1000, OptionUnit::kMilliseconds, "a wait", Field(&Settings::wait)),
      B::Mebibytes("size_mib", "1", 1, 4, "a size", Field(&Settings::bytes)),
      B::Number("ratio", "0.25", 0, 1, /*min_exclusive=*/true, "a ratio", Field(&Settings::ratio)),
      B::Bool("verbose", "false", "talk more", Field(&Settings::verbose)),
      B::Enum<Mode>("mode", "fast", {{"fast", Mode::kFast}, {"slow", Mode::kSlow}}, "a mode", Field(&Settings::mode)),
      B::Strings("tags", "a,b", "some tags", Field(&Settings::tags)),
      B::Repeated("extra", "repeatable", Field(&Settings::extras)),
  };
}

OptionSources WithEnvAndFile() {
  OptionSources sources;
  sources.env_prefix = "TEST_";
  sources.config_file = true;
  sources.error_prefix = "test: ";
  return sources;
}

EnvLookup Env(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const char* name) -> const char* {
    auto it = values.find(name);
    return it == values.end() ? nullptr : it->second.c_str();
  };
}

std::string WriteTemp(const std::string& name, const std::string& contents) {
  // A directory of this run's own: two runs of the suite on one machine must not read each other's files.
  static const ::portrait_bridge::testing::TempDir dir;
  const std::string path = dir.Path(name);
  ::portrait_bridge::testing::WriteFile(path, contents);
  return path;
}

TEST(OptionsTest, DefaultsOfTheTableAreApplied) {
  const OptionTable<Settings> table(WithEnvAndFile(), Options());
  Settings settings;
  ASSERT_TRUE(table.Parse({}, Env({}), settings).ok());
  EXPECT_EQ(settings.name, "default-name");
  EXPECT_EQ(settings.count, 3);
  EXPECT_EQ(settings.optional_count, -1);  // No default, nothing given: left as it was.
  EXPECT_EQ(settings.wait, absl::Milliseconds(100));
  EXPECT_EQ(settings.bytes, 1 << 20);
  EXPECT_EQ(settings.ratio, 0.25);
  EXPECT_FALSE(settings.verbose);
  EXPECT_EQ(settings.mode, Mode::kFast);
  EXPECT_EQ(settings.tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(settings.extras.empty());
}

TEST(OptionsTest, PrecedenceIsFlagThenEnvironmentThenFileThenDefault) {
  const OptionTable<Settings> table(WithEnvAndFile(), Options());
  const std::string file = WriteTemp("precedence.json", R"({"count": 4, "mode": "slow", "tags": ["x", "y"]})");
  Settings settings;
  absl::StatusOr<ParsedOptions> parsed =
      table.Parse({"--config", file, "--count=6"}, Env({{"TEST_COUNT", "5"}, {"TEST_RATIO", "1"}}), settings);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(settings.count, 6);
  EXPECT_EQ(parsed->Find("count")->source, "flag --count");
  EXPECT_EQ(settings.ratio, 1);
  EXPECT_EQ(parsed->Find("ratio")->source, "environment TEST_RATIO");
  EXPECT_EQ(settings.mode, Mode::kSlow);
  EXPECT_EQ(parsed->Find("mode")->source, "config file " + file);
  EXPECT_EQ(settings.tags, (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(parsed->IsSet("count"));
  EXPECT_FALSE(parsed->IsSet("name"));
  // The config file may be named by the environment too.
  settings = Settings();
  ASSERT_TRUE(table.Parse({}, Env({{"TEST_CONFIG", file}}), settings).ok());
  EXPECT_EQ(settings.count, 4);
}

TEST(OptionsTest, BoolsMayBeBareFlags) {
  const OptionTable<Settings> table(WithEnvAndFile(), Options());
  Settings settings;
  ASSERT_TRUE(table.Parse({"--verbose", "--count", "2"}, Env({}), settings).ok());
  EXPECT_TRUE(settings.verbose);
  EXPECT_EQ(settings.count, 2);
  ASSERT_TRUE(table.Parse({"--verbose=false"}, Env({}), settings).ok());
  EXPECT_FALSE(settings.verbose);
  EXPECT_THAT(std::string(table.Parse({"--verbose=maybe"}, Env({}), settings).status().message()),
              HasSubstr("must be true or false"));
}

TEST(OptionsTest, RepeatableFlagsApplyEachValueAsGiven) {
  const OptionTable<Settings> table(WithEnvAndFile(), Options());
  Settings settings;
  ASSERT_TRUE(table.Parse({"--extra=--k=v", "--extra", "--a=b,c"}, Env({}), settings).ok());
  EXPECT_EQ(settings.extras, (std::vector<std::string>{"--k=v", "--a=b,c"}));
}

TEST(OptionsTest, ErrorsNameTheOptionItsValueAndItsSource) {
  const OptionTable<Settings> table(WithEnvAndFile(), Options());
  Settings settings;
  EXPECT_EQ(table.Parse({"--count=11"}, Env({}), settings).status().message(),
            "test: count=\"11\" (from flag --count) must be between 1 and 10");
  EXPECT_EQ(table.Parse({}, Env({{"TEST_WAIT_MS", "soon"}}), settings).status().message(),
            "test: wait_ms=\"soon\" (from environment TEST_WAIT_MS) is not an integer");
  EXPECT_EQ(table.Parse({"--ratio=0"}, Env({}), settings).status().message(),
            "test: ratio=\"0\" (from flag --ratio) must be a number above 0 and at most 1");
  EXPECT_EQ(table.Parse({"--mode=medium"}, Env({}), settings).status().message(),
            "test: mode=\"medium\" (from flag --mode) must be fast or slow");
  EXPECT_EQ(table.Parse({"--size_mib=5"}, Env({}), settings).status().message(),
            "test: size_mib=\"5\" (from flag --size_mib) must be between 1 and 4");
  EXPECT_EQ(table.Parse({"--nope=1"}, Env({}), settings).status().message(), "test: unknown flag --nope (see --help)");
  EXPECT_THAT(std::string(table.Parse({"positional"}, Env({}), settings).status().message()),
              HasSubstr("unexpected argument \"positional\""));
  EXPECT_EQ(table.Parse({"--count"}, Env({}), settings).status().message(), "test: flag --count needs a value");
  const std::string file = WriteTemp("unknown.json", R"({"cuont": 4})");
  EXPECT_EQ(table.Parse({"--config=" + file}, Env({}), settings).status().message(),
            "test: unknown key \"cuont\" in config file " + file);
}

TEST(OptionsTest, AnEmptyValueUnsetsAnOptionWithoutDefaultOnly) {
  const OptionTable<Settings> table(WithEnvAndFile(), Options());
  Settings settings;
  EXPECT_TRUE(table.Parse({"--optional_count="}, Env({}), settings).ok());
  EXPECT_EQ(settings.optional_count, -1);
  EXPECT_FALSE(table.Parse({"--count="}, Env({}), settings).ok());
  ASSERT_TRUE(table.Parse({"--name="}, Env({}), settings).ok());  // A string may be empty.
  EXPECT_EQ(settings.name, "");
}

TEST(OptionsTest, HelpAnywhereStopsParsing) {
  const OptionTable<Settings> table(WithEnvAndFile(), Options());
  Settings settings;
  const absl::StatusOr<ParsedOptions> parsed = table.Parse({"--count=99", "-h"}, Env({}), settings);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->help());
  EXPECT_EQ(settings.count, 7);
}

TEST(OptionsTest, WithoutAPrefixThereIsNoEnvironmentOrFile) {
  OptionSources sources;
  sources.defaults_from_target = true;
  const OptionTable<Settings> table(sources, Options());
  Settings settings;
  ASSERT_TRUE(table.Parse({}, Env({{"COUNT", "5"}, {"_COUNT", "5"}}), settings).ok());
  EXPECT_EQ(settings.count, 7);  // The struct's own default: the table's text defaults are not applied.
  EXPECT_FALSE(table.Parse({"--config=x.json"}, Env({}), settings).ok());
  for (const OptionSpec& spec : table.specs()) EXPECT_TRUE(spec.env.empty()) << spec.name;
}

TEST(OptionsTest, HelpShowsDefaultsBoundsAndEnvironment) {
  const OptionTable<Settings> table(WithEnvAndFile(), Options());
  const std::string help = table.Help();
  EXPECT_THAT(help, HasSubstr("  --count=N  (default 3)  [1..10]  $TEST_COUNT\n      a count\n"));
  EXPECT_THAT(help, HasSubstr("  --wait_ms=MS  (default 100)  [0..1000 ms]  $TEST_WAIT_MS\n"));
  EXPECT_THAT(help, HasSubstr("  --size_mib=MIB  (default 1)  [1..4 MiB]"));
  EXPECT_THAT(help, HasSubstr("  --ratio=X  (default 0.25)  [> 0, <= 1]"));
  EXPECT_THAT(help, HasSubstr("  --verbose  (default false)  $TEST_VERBOSE\n"));
  EXPECT_THAT(help, HasSubstr("  --mode=WORD  (default fast)  [fast, slow]"));
  EXPECT_THAT(help, HasSubstr("  --extra=TEXT  (repeatable)"));

  OptionSources from_target;
  from_target.defaults_from_target = true;
  std::vector<Option<Settings>> options = Options();
  for (Option<Settings>& option : options) option.spec.default_value.clear();
  const std::string target_help = OptionTable<Settings>(from_target, options).Help();
  EXPECT_THAT(target_help, HasSubstr("  --count=N  (default 7)  [1..10]\n"));
  EXPECT_THAT(target_help, HasSubstr("  --wait_ms=MS  (default 2000)"));
}

TEST(OptionsTest, DescribeReadsBackTheSettings) {
  const OptionTable<Settings> table(WithEnvAndFile(), Options());
  Settings settings;
  ASSERT_TRUE(table.Parse({"--wait_ms=250", "--mode=slow"}, Env({}), settings).ok());
  EXPECT_EQ(table.Describe(settings),
            "name=default-name count=3 optional_count=-1 wait_ms=250 size_mib=1 ratio=0.25 verbose=false mode=slow "
            "tags=a,b");
}

}  // namespace
}  // namespace portrait_bridge

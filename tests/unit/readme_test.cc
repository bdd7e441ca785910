// The README's error, configuration and metrics tables must say what the code does.

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "bridge/config/config.h"
#include "bridge/core/error_table.h"

namespace portrait_bridge {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Readme() { return ReadFile(README_PATH); }

TEST(ReadmeTest, ErrorTableMatchesTheCode) {
  const std::string readme = Readme();
  ASSERT_FALSE(readme.empty()) << "cannot read " << README_PATH;
  for (const TencentCodeRow& row : TencentCodeTable()) {
    const std::string line = absl::StrCat(
        "| ", row.code, " | ", absl::StatusCodeToString(row.rule.grpc_code), " | ", row.rule.retryable ? "yes" : "no",
        " | ", row.rule.ends_stream ? "stream" : "accounts", " | ", row.rule.meaning, " |\n");
    EXPECT_NE(readme.find(line), std::string::npos) << "README lacks the row:\n" << line;
  }
}

// Every option's row, as the option table has it: name, environment variable, default, bounds and help.
TEST(ReadmeTest, ConfigurationTableIsTheOptionTable) {
  const std::string readme = Readme();
  for (const OptionSpec& option : ConfigTable().specs()) {
    const std::string bounds = BoundsText(option);
    const std::string row = absl::StrCat("| `", option.name, "` | `", option.env, "` | ",
                                         option.default_value.empty() ? "—" : "`" + option.default_value + "`", " | ",
                                         bounds.empty() ? "—" : bounds, " | ", option.help, " |\n");
    EXPECT_NE(readme.find(row), std::string::npos) << "README lacks or misstates the option row:\n" << row;
  }
}

// Every series the bridge registers (prometheus::BuildX().Name("...") in its metrics sources) is a row of the
// README's Metrics tables, and every row is one of them.
TEST(ReadmeTest, MetricsTablesListExactlyTheSeriesTheBridgeExports) {
  std::set<std::string> in_code;
  const std::regex name(R"re(\.Name\("(\w+)"\))re");
  for (const char* path : {METRICS_CC_PATH, GRPC_SERVER_METRICS_CC_PATH}) {
    const std::string source = ReadFile(path);
    ASSERT_FALSE(source.empty()) << "cannot read " << path;
    for (std::sregex_iterator it(source.begin(), source.end(), name), end; it != end; ++it) in_code.insert((*it)[1]);
  }
  const std::string readme = Readme();
  const size_t begin = readme.find("\n### Metrics\n");
  ASSERT_NE(begin, std::string::npos) << "README has no Metrics section";
  const size_t end = std::min(readme.find("\n## ", begin + 1), readme.find("\n### ", begin + 1));
  const std::string section = readme.substr(begin, end - begin);
  std::set<std::string> in_readme;
  const std::regex row(R"re(\n\| `(\w+)` \|)re");
  for (std::sregex_iterator it(section.begin(), section.end(), row), end; it != end; ++it) in_readme.insert((*it)[1]);
  EXPECT_EQ(in_readme, in_code) << "README's Metrics tables and the series the code registers differ";
  EXPECT_GE(in_code.size(), 30u);  // The sources were read.
}

}  // namespace
}  // namespace portrait_bridge

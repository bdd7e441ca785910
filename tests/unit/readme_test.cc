// The README's error and configuration tables must say what the code does.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "bridge/config/config.h"
#include "bridge/core/error_table.h"

namespace portrait_bridge {
namespace {

std::string Readme() {
  std::ifstream in(README_PATH);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

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

}  // namespace
}  // namespace portrait_bridge

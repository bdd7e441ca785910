// The chart's values.schema.json must bound each value that becomes a bridge option as the bridge's option table
// does, so `helm install` refuses what the bridge would refuse at start (and nothing the bridge accepts).
//
// Checked rather than generated: the schema stays one hand-written file (with its descriptions, null types and the
// chart's own values), and this test names the mismatch; a generator would need its own template of the schema.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "bridge/config/config.h"

namespace portrait_bridge {
namespace {

// A chart value that becomes a bridge option in templates/_helpers.tpl ("portrait-bridge.configJson").
struct ChartValue {
  const char* path;    ///< In values.yaml, dot-separated.
  const char* option;  ///< The bridge option it becomes.
  /// What the option's line in configJson mentions: the value's own name unless it goes through a helper.
  const char* via = nullptr;
  /// The chart's minimum where it is stricter than the bridge on purpose, and why.
  std::optional<double> chart_minimum = std::nullopt;
};

const std::vector<ChartValue>& ChartValues() {
  static const auto* values = new std::vector<ChartValue>{
      {"config.sdkappid", "sdkappid"},
      {"config.usersigValiditySeconds", "usersig_validity_seconds"},
      {"config.maxAccountsPerCall", "max_accounts_per_call"},
      {"config.maxAccountsPerStream", "max_accounts_per_stream"},
      {"config.maxAccountsPerBatchGet", "max_accounts_per_batch_get"},
      {"config.maxInflightAccountsPerStream", "max_inflight_accounts_per_stream"},
      {"config.coalesceWaitMs", "coalesce_wait_ms"},
      {"config.maxPendingAccounts", "max_pending_accounts"},
      {"config.logLevel", "log_level"},
      {"config.logFormat", "log_format"},
      {"upstream.region", "region"},
      // Tencent's backend gives up at 3 s: a production timeout at or below it only turns slow answers into
      // retries. The bridge allows less for tests against the sandbox.
      {"upstream.attemptTimeoutMs", "attempt_timeout_ms", nullptr, 3001},
      // The whole figure with a Redis budget, else split over the replicas (never more than the whole).
      {"upstream.totalCallsPerSecond", "upstream_calls_per_second", "portrait-bridge.upstreamCallsPerSecond"},
      {"upstream.burstPerReplica", "upstream_burst"},
      {"upstream.retry.maxAttempts", "retry_max_attempts"},
      {"upstream.retry.initialBackoffMs", "retry_initial_backoff_ms"},
      {"upstream.retry.maxBackoffMs", "retry_max_backoff_ms"},
      {"upstream.retry.budgetRatio", "retry_budget_ratio"},
      {"cache.ttlMs", "cache_ttl_ms"},
      {"cache.maxEntries", "cache_max_entries"},
      {"cache.negativeTtlMs", "cache_negative_ttl_ms"},
      {"redis.timeoutMs", "redis_timeout_ms"},
      {"shutdown.graceSeconds", "shutdown_grace_seconds"},
      {"shutdown.drainDelayMs", "shutdown_drain_delay_ms"},
      {"connections.keepaliveMinPingIntervalMs", "keepalive_min_ping_interval_ms"},
      {"connections.maxConnectionAgeMs", "max_connection_age_ms"},
      {"connections.maxConnectionAgeGraceMs", "max_connection_age_grace_ms"},
      {"connections.maxStreamsPerConnection", "max_streams_per_connection"},
      {"memory.unreadResponsesMib", "unread_responses_mib"},
      {"memory.grpcQuotaMib", "grpc_memory_quota_mib"},
      {"memory.maxAcceptedAccounts", "max_accepted_accounts"},
      {"tls.reloadIntervalSeconds", "tls_reload_interval_seconds"},
  };
  return *values;
}

// Bounded options the chart renders from no value of their own.
const std::set<std::string> kComputedByTheChart = {
    "budget_fallback_calls_per_second",  // totalCallsPerSecond / replicas, bounded through totalCallsPerSecond.
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

const OptionSpec* FindSpec(const std::string& name) {
  for (const OptionSpec& spec : ConfigTable().specs()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

// The configJson template: the option names it renders, each with its line.
std::map<std::string, std::string> ConfigJsonLines() {
  const std::string helpers = ReadFile(std::string(CHART_DIR) + "/templates/_helpers.tpl");
  const size_t start = helpers.find("define \"portrait-bridge.configJson\"");
  const size_t end = helpers.find("{{- define", start + 1);
  std::map<std::string, std::string> lines;
  const std::regex option_name("\"([a-z0-9_]+)\"");
  for (absl::string_view line : absl::StrSplit(helpers.substr(start, end - start), '\n')) {
    const std::string text(line);
    for (std::sregex_iterator it(text.begin(), text.end(), option_name), last; it != last; ++it) {
      if (FindSpec((*it)[1]) != nullptr) lines[(*it)[1]] += text + "\n";
    }
  }
  return lines;
}

bool IsIntegerType(const nlohmann::json& node) {
  const nlohmann::json& type = node["type"];
  if (type.is_string()) return type == "integer";
  return std::find(type.begin(), type.end(), "integer") != type.end();
}

TEST(ChartSchemaTest, EveryBoundedOptionTheChartRendersIsMapped) {
  const std::map<std::string, std::string> lines = ConfigJsonLines();
  ASSERT_FALSE(lines.empty()) << "cannot find portrait-bridge.configJson in " << CHART_DIR;
  std::set<std::string> mapped;
  for (const ChartValue& value : ChartValues()) {
    mapped.insert(value.option);
    ASSERT_EQ(lines.count(value.option), 1u) << value.option << " is not rendered by configJson";
    const std::string leaf =
        value.via != nullptr ? value.via : std::string(value.path).substr(std::string(value.path).rfind('.') + 1);
    EXPECT_THAT(lines.at(value.option), ::testing::HasSubstr(leaf)) << value.path << " -> " << value.option;
  }
  for (const auto& [option, line] : lines) {
    const OptionSpec* spec = FindSpec(option);
    if (BoundsText(*spec).empty() || kComputedByTheChart.count(option) > 0) continue;
    EXPECT_EQ(mapped.count(option), 1u) << option << " is bounded and rendered by the chart, but no chart value "
                                        << "is mapped to it here:\n"
                                        << line;
  }
}

TEST(ChartSchemaTest, SchemaBoundsEqualTheOptionTable) {
  const nlohmann::json schema = nlohmann::json::parse(ReadFile(std::string(CHART_DIR) + "/values.schema.json"));
  for (const ChartValue& value : ChartValues()) {
    SCOPED_TRACE(std::string(value.path) + " -> " + value.option);
    nlohmann::json node = schema;
    for (absl::string_view part : absl::StrSplit(value.path, '.')) node = node["properties"][std::string(part)];
    ASSERT_TRUE(node.is_object()) << "not in values.schema.json";
    const OptionSpec& spec = *FindSpec(value.option);
    if (spec.kind == OptionKind::kEnum) {
      ASSERT_TRUE(node.contains("enum"));
      std::vector<std::string> allowed = node["enum"].get<std::vector<std::string>>();
      std::vector<std::string> expected = spec.allowed;
      std::sort(allowed.begin(), allowed.end());
      std::sort(expected.begin(), expected.end());
      EXPECT_EQ(allowed, expected);
      continue;
    }
    ASSERT_TRUE(spec.min.has_value() && spec.max.has_value()) << BoundsText(spec);
    double minimum = *spec.min;
    if (spec.min_exclusive) {
      if (IsIntegerType(node)) {
        minimum = std::floor(*spec.min) + 1;  // Above min, as an integer.
      } else {
        EXPECT_EQ(node.value("exclusiveMinimum", std::nan("")), *spec.min);
        minimum = std::nan("");
      }
    }
    if (value.chart_minimum.has_value()) {
      EXPECT_GT(*value.chart_minimum, minimum) << "no longer stricter than the bridge: drop the exception";
      minimum = *value.chart_minimum;
    }
    if (!std::isnan(minimum)) EXPECT_EQ(node.value("minimum", std::nan("")), minimum);
    EXPECT_EQ(node.value("maximum", std::nan("")), *spec.max);
  }
}

}  // namespace
}  // namespace portrait_bridge

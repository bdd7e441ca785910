#include "bridge/core/log.h"

#include <atomic>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace portrait_bridge {
namespace {

std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> json_format{true};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}

}  // namespace

void ConfigureLog(LogLevel level, bool json) {
  min_level = static_cast<int>(level);
  json_format = json;
}

void Log(LogLevel level, absl::string_view message,
         std::initializer_list<std::pair<absl::string_view, std::string>> fields) {
  if (static_cast<int>(level) < min_level) return;
  const std::string time = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::string line;
  if (json_format) {
    nlohmann::json object = {{"time", time}, {"level", LevelName(level)}, {"msg", std::string(message)}};
    for (const auto& [key, value] : fields) object[std::string(key)] = value;
    // Replace invalid UTF-8 rather than throw: log lines may quote caller input.
    line = object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = absl::StrCat(time, " ", LevelName(level), " ", message);
    for (const auto& [key, value] : fields) absl::StrAppend(&line, " ", key, "=", value);
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);  // One write per line keeps lines whole across threads.
}

}  // namespace portrait_bridge

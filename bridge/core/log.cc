#include "bridge/core/log.h"

#include <atomic>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace portrait_bridge {
namespace {

std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> json_format{true};

absl::Mutex sink_mutex;
std::function<void(absl::string_view)>* sink ABSL_GUARDED_BY(sink_mutex) = nullptr;

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// The key a field is written under: the record's own keys (and "message", which pipelines take for the message
// too) are kept for the record.
std::string FieldKey(absl::string_view key) {
  if (key == "time" || key == "level" || key == "msg" || key == "message") return absl::StrCat("field_", key);
  return std::string(key);
}

nlohmann::ordered_json ToJson(const LogValue& value) {
  return std::visit([](const auto& v) { return nlohmann::ordered_json(v); }, value.value());
}

std::string ToText(const LogValue& value) {
  struct Printer {
    std::string operator()(const std::string& text) const { return text; }
    std::string operator()(int64_t number) const { return absl::StrCat(number); }
    std::string operator()(double number) const { return absl::StrCat(number); }
    std::string operator()(bool flag) const { return flag ? "true" : "false"; }
  };
  return std::visit(Printer{}, value.value());
}

}  // namespace

void ConfigureLog(LogLevel level, bool json) {
  min_level = static_cast<int>(level);
  json_format = json;
}

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= min_level; }

std::string FormatLogLine(absl::Time time, LogLevel level, absl::string_view message, absl::Span<const LogField> fields,
                          bool json) {
  const std::string when = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
  if (!json) {
    std::string line = absl::StrCat(when, " ", LevelName(level), " ", message);
    for (const auto& [key, value] : fields) absl::StrAppend(&line, " ", FieldKey(key), "=", ToText(value));
    return line;
  }
  // Ordered: time, level and msg lead every line, then the fields as the caller listed them.
  nlohmann::ordered_json object = {{"time", when}, {"level", LevelName(level)}, {"msg", std::string(message)}};
  for (const auto& [key, value] : fields) object[FieldKey(key)] = ToJson(value);
  // Replace invalid UTF-8 rather than throw: log lines may quote caller input.
  return object.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void Log(LogLevel level, absl::string_view message, absl::Span<const LogField> fields) {
  if (!LogEnabled(level)) return;
  std::string line = FormatLogLine(absl::Now(), level, message, fields, json_format);
  line += '\n';
  absl::MutexLock lock(&sink_mutex);
  if (sink != nullptr) {
    (*sink)(line);
    return;
  }
  std::fwrite(line.data(), 1, line.size(), stderr);  // One write per line keeps lines whole across threads.
}

void SetLogSinkForTesting(std::function<void(absl::string_view line)> new_sink) {
  absl::MutexLock lock(&sink_mutex);
  delete sink;
  sink = new_sink ? new std::function<void(absl::string_view)>(std::move(new_sink)) : nullptr;
}

}  // namespace portrait_bridge

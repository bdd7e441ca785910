#ifndef PORTRAIT_BRIDGE_CORE_LOG_H_
#define PORTRAIT_BRIDGE_CORE_LOG_H_

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace portrait_bridge {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

/// One value of a log field, keeping its type: a JSON line writes a string as a string, an integer or a double as
/// a number and a bool as true/false (so `"duration_ms":502`, never `"502"`). Built implicitly from each.
class LogValue {
 public:
  LogValue(const char* text) : value_(std::string(text)) {}        // NOLINT(google-explicit-constructor)
  LogValue(absl::string_view text) : value_(std::string(text)) {}  // NOLINT(google-explicit-constructor)
  LogValue(std::string text) : value_(std::move(text)) {}          // NOLINT(google-explicit-constructor)
  LogValue(bool flag) : value_(flag) {}                            // NOLINT(google-explicit-constructor)
  LogValue(double number) : value_(number) {}                      // NOLINT(google-explicit-constructor)
  /// Any integer type; unsigned values above INT64_MAX (none is logged) would wrap.
  template <typename Integer, std::enable_if_t<std::is_integral_v<Integer> && !std::is_same_v<Integer, bool>, int> = 0>
  LogValue(Integer number) : value_(static_cast<int64_t>(number)) {}  // NOLINT(google-explicit-constructor)

  const std::variant<std::string, int64_t, double, bool>& value() const { return value_; }

 private:
  std::variant<std::string, int64_t, double, bool> value_;
};

/// A log field: key and typed value.
using LogField = std::pair<absl::string_view, LogValue>;

/// Sets the minimum level and the format (JSON lines or text) of Log. Call once at start.
void ConfigureLog(LogLevel level, bool json);

/// Whether Log writes lines of `level` (to skip building fields nobody will read).
bool LogEnabled(LogLevel level);

/// Writes one line to stderr: time, level, message and extra key/value fields. Thread-safe. Callers never pass
/// the secret key, a UserSig or an upstream URL.
///
/// The record's own keys are `time`, `level` and `msg`; a field with one of those keys, or `message` (which log
/// pipelines also read as the message), is written as `field_<key>`, so a record never has two message keys.
/// Invalid UTF-8 in a string is replaced (U+FFFD), so a JSON line stays valid whatever a caller sent.
void Log(LogLevel level, absl::string_view message, absl::Span<const LogField> fields = {});

/// The line Log would write (without its newline), for tests and for Log itself.
std::string FormatLogLine(absl::Time time, LogLevel level, absl::string_view message, absl::Span<const LogField> fields,
                          bool json);

/// Sends every line (with its newline) to `sink` instead of stderr; an empty function restores stderr. For tests
/// that read what a component logs. Lines reach the sink one at a time.
void SetLogSinkForTesting(std::function<void(absl::string_view line)> sink);

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_LOG_H_

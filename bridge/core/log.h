#ifndef PORTRAIT_BRIDGE_CORE_LOG_H_
#define PORTRAIT_BRIDGE_CORE_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace portrait_bridge {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

/// Sets the minimum level and the format (JSON lines or text) of Log. Call once at start.
void ConfigureLog(LogLevel level, bool json);

/// Writes one line to stderr: time, level, message and extra key/value fields. Thread-safe. Callers never pass
/// the secret key, a UserSig or an upstream URL.
void Log(LogLevel level, absl::string_view message,
         std::initializer_list<std::pair<absl::string_view, std::string>> fields = {});

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_LOG_H_

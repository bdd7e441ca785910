#ifndef PORTRAIT_BRIDGE_TESTS_UNIT_LOG_CAPTURE_H_
#define PORTRAIT_BRIDGE_TESTS_UNIT_LOG_CAPTURE_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "bridge/core/log.h"

namespace portrait_bridge {

/// Captures every line Log writes while it lives, as parsed JSON records (JSON format, level debug).
class LogCapture {
 public:
  LogCapture() {
    ConfigureLog(LogLevel::kDebug, true);
    SetLogSinkForTesting([this](absl::string_view line) {
      absl::MutexLock lock(&mutex_);
      records_.push_back(nlohmann::json::parse(std::string(line)));
    });
  }
  ~LogCapture() {
    SetLogSinkForTesting(nullptr);
    ConfigureLog(LogLevel::kInfo, true);
  }

  std::vector<nlohmann::json> records() const {
    absl::MutexLock lock(&mutex_);
    return records_;
  }
  /// The records whose msg is `msg`.
  std::vector<nlohmann::json> WithMsg(const std::string& msg) const {
    std::vector<nlohmann::json> found;
    for (const nlohmann::json& record : records()) {
      if (record["msg"] == msg) found.push_back(record);
    }
    return found;
  }
  void Clear() {
    absl::MutexLock lock(&mutex_);
    records_.clear();
  }

 private:
  mutable absl::Mutex mutex_;
  std::vector<nlohmann::json> records_;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_TESTS_UNIT_LOG_CAPTURE_H_

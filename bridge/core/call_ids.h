#ifndef PORTRAIT_BRIDGE_CORE_CALL_IDS_H_
#define PORTRAIT_BRIDGE_CORE_CALL_IDS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "bridge/core/log.h"

namespace portrait_bridge {

/// The ids a caller sends to follow one call through the logs: its `x-request-id`, and the trace and parent span
/// ids of its W3C `traceparent`. Each is empty unless the caller sent a valid one: caller metadata is untrusted,
/// and a hostile value must neither bloat nor break a log line.
struct CallIds {
  std::string request_id;  ///< x-request-id: 1 to kMaxRequestIdLength printable ASCII characters.
  std::string trace_id;    ///< 32 lower-case hex digits, not all zero.
  std::string span_id;     ///< 16 lower-case hex digits, not all zero.
};

/// The longest x-request-id kept (UUIDs and the usual proxy ids are 36 or fewer characters).
inline constexpr size_t kMaxRequestIdLength = 128;

/// Validates what the caller sent (absent: nullopt). A traceparent must be version 00, exactly
/// `00-<32 hex>-<16 hex>-<2 hex>` in lower case, as W3C Trace Context level 1 specifies; anything else is dropped.
CallIds ParseCallIds(std::optional<absl::string_view> request_id, std::optional<absl::string_view> traceparent);

/// Appends `request_id`, `trace_id` and `span_id` to a log line's fields, those that are set.
void AppendCallIdFields(const CallIds& ids, std::vector<LogField>& fields);

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_CALL_IDS_H_

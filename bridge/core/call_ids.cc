#include "bridge/core/call_ids.h"

#include <algorithm>

namespace portrait_bridge {
namespace {

bool IsPrintableAscii(char c) { return c >= 0x20 && c <= 0x7e; }

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// `size` lower-case hex digits, not all zero (W3C: an all-zero trace or parent id is invalid).
bool IsNonZeroHex(absl::string_view text, size_t size) {
  return text.size() == size && std::all_of(text.begin(), text.end(), IsLowerHex) &&
         text.find_first_not_of('0') != absl::string_view::npos;
}

}  // namespace

CallIds ParseCallIds(std::optional<absl::string_view> request_id, std::optional<absl::string_view> traceparent) {
  CallIds ids;
  if (request_id.has_value() && !request_id->empty() && request_id->size() <= kMaxRequestIdLength &&
      std::all_of(request_id->begin(), request_id->end(), IsPrintableAscii)) {
    ids.request_id = std::string(*request_id);
  }
  // "00-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55 characters.
  if (traceparent.has_value() && traceparent->size() == 55) {
    const absl::string_view text = *traceparent;
    const absl::string_view trace_id = text.substr(3, 32);
    const absl::string_view span_id = text.substr(36, 16);
    const absl::string_view flags = text.substr(53, 2);
    if (text.substr(0, 3) == "00-" && text[35] == '-' && text[52] == '-' && IsNonZeroHex(trace_id, 32) &&
        IsNonZeroHex(span_id, 16) && std::all_of(flags.begin(), flags.end(), IsLowerHex)) {
      ids.trace_id = std::string(trace_id);
      ids.span_id = std::string(span_id);
    }
  }
  return ids;
}

void AppendCallIdFields(const CallIds& ids, std::vector<LogField>& fields) {
  if (!ids.request_id.empty()) fields.emplace_back("request_id", absl::string_view(ids.request_id));
  if (!ids.trace_id.empty()) {
    fields.emplace_back("trace_id", absl::string_view(ids.trace_id));
    fields.emplace_back("span_id", absl::string_view(ids.span_id));
  }
}

}  // namespace portrait_bridge

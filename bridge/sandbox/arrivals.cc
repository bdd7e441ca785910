#include "bridge/sandbox/arrivals.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace portrait_bridge::sandbox {
namespace {

constexpr int64_t kMaxWindowMs = 3600000;
constexpr size_t kMaxWindows = 32;

}  // namespace

int64_t MaxInWindow(const std::vector<int64_t>& sorted_us, int64_t window_us) {
  if (window_us <= 0) return 0;
  int64_t best = 0;
  size_t oldest = 0;  // First time inside the window that ends at sorted_us[newest].
  for (size_t newest = 0; newest < sorted_us.size(); ++newest) {
    while (sorted_us[oldest] <= sorted_us[newest] - window_us) ++oldest;
    best = std::max(best, static_cast<int64_t>(newest - oldest + 1));
  }
  return best;
}

std::optional<ArrivalGaps> GapsBetween(const std::vector<int64_t>& sorted_us) {
  if (sorted_us.size() < 2) return std::nullopt;
  std::vector<int64_t> gaps(sorted_us.size() - 1);
  for (size_t i = 1; i < sorted_us.size(); ++i) gaps[i - 1] = sorted_us[i] - sorted_us[i - 1];
  std::sort(gaps.begin(), gaps.end());
  // Nearest rank: the smallest gap with at least `percent` of the gaps at or below it.
  auto at = [&gaps](int64_t percent) {
    const size_t rank = (gaps.size() * static_cast<size_t>(percent) + 99) / 100;
    return gaps[rank - 1];
  };
  return ArrivalGaps{at(50), at(90), at(99), gaps.back()};
}

ArrivalLog::ArrivalLog(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

void ArrivalLog::Record(absl::Time arrival) {
  const int64_t us = absl::ToUnixMicros(arrival);
  if (times_us_.size() < capacity_) {
    times_us_.push_back(us);
    return;
  }
  times_us_[next_] = us;
  next_ = (next_ + 1) % capacity_;
  ++dropped_;
}

void ArrivalLog::Clear() {
  times_us_.clear();
  times_us_.shrink_to_fit();  // A reset between benchmark runs gives the memory back.
  next_ = 0;
  dropped_ = 0;
}

std::vector<int64_t> ArrivalLog::SortedMicros() const {
  std::vector<int64_t> sorted = times_us_;
  std::sort(sorted.begin(), sorted.end());
  return sorted;
}

absl::StatusOr<ArrivalsQuery> ParseArrivalsQuery(const std::multimap<std::string, std::string>& params) {
  ArrivalsQuery query;
  if (auto it = params.find("windows_ms"); it != params.end()) {
    query.windows_ms.clear();
    for (absl::string_view item : absl::StrSplit(it->second, ',', absl::SkipEmpty())) {
      int64_t ms = 0;
      if (!absl::SimpleAtoi(item, &ms) || ms < 1 || ms > kMaxWindowMs) {
        return absl::InvalidArgumentError(
            absl::StrCat("windows_ms: want milliseconds in 1..", kMaxWindowMs, ", got \"", item, "\""));
      }
      query.windows_ms.push_back(ms);
    }
    if (query.windows_ms.empty() || query.windows_ms.size() > kMaxWindows) {
      return absl::InvalidArgumentError(
          absl::StrCat("windows_ms: want 1 to ", kMaxWindows, " windows, e.g. 1000,1050"));
    }
  }
  if (auto it = params.find("include_times"); it != params.end()) {
    if (!absl::SimpleAtob(it->second, &query.include_times)) {
      return absl::InvalidArgumentError("include_times: want 1, 0, true or false");
    }
  }
  return query;
}

nlohmann::json ArrivalsReport(const std::vector<int64_t>& sorted_us, size_t capacity, int64_t dropped,
                              const ArrivalsQuery& query) {
  nlohmann::json max_in_window = nlohmann::json::object();
  for (int64_t ms : query.windows_ms) max_in_window[std::to_string(ms)] = MaxInWindow(sorted_us, ms * 1000);
  nlohmann::json gaps;  // null without two arrivals.
  if (const std::optional<ArrivalGaps> found = GapsBetween(sorted_us); found.has_value()) {
    gaps = {{"p50", found->p50_us}, {"p90", found->p90_us}, {"p99", found->p99_us}, {"max", found->max_us}};
  }
  nlohmann::json report = {
      {"count", sorted_us.size()},
      {"first_unix_us", sorted_us.empty() ? nlohmann::json() : nlohmann::json(sorted_us.front())},
      {"last_unix_us", sorted_us.empty() ? nlohmann::json() : nlohmann::json(sorted_us.back())},
      {"max_in_window", std::move(max_in_window)},
      {"gap_us", std::move(gaps)},
      {"capacity", capacity},
      {"dropped", dropped},
  };
  if (query.include_times) report["times_us"] = sorted_us;
  return report;
}

MonotonicWallClock::MonotonicWallClock() : wall_start_(absl::Now()), steady_start_(std::chrono::steady_clock::now()) {}

absl::Time MonotonicWallClock::Now() const {
  return wall_start_ + absl::FromChrono(std::chrono::steady_clock::now() - steady_start_);
}

}  // namespace portrait_bridge::sandbox

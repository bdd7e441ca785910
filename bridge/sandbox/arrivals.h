#ifndef PORTRAIT_BRIDGE_SANDBOX_ARRIVALS_H_
#define PORTRAIT_BRIDGE_SANDBOX_ARRIVALS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace portrait_bridge::sandbox {

/// The largest number of `sorted_us` (ascending microsecond times) inside any window (s, s + window_us], the
/// same half-open window as SlidingWindowLimiter's. 0 for no times. A two-pointer sweep: O(n).
int64_t MaxInWindow(const std::vector<int64_t>& sorted_us, int64_t window_us);

/// How evenly arrivals were spaced: nearest-rank percentiles of the gaps between consecutive ones, in microseconds.
struct ArrivalGaps {
  int64_t p50_us = 0;
  int64_t p90_us = 0;
  int64_t p99_us = 0;
  int64_t max_us = 0;
};

/// The gaps of `sorted_us` (ascending times); nullopt with fewer than two times. A client that paces its calls at a
/// budget's rate shows a p99 close to its p50; a stall or a bunched burst shows in p99 and max.
std::optional<ArrivalGaps> GapsBetween(const std::vector<int64_t>& sorted_us);

/// The arrival times of the last `capacity` portrait_get requests, in microseconds since the Unix epoch, so a
/// benchmark can check afterwards how a client spaced its calls as the upstream saw them. A ring: once full, each
/// new arrival overwrites the oldest (counted in dropped()). The default bound, 1,000,000 arrivals, holds 8 MB and
/// 83 minutes at 200 calls/s.
///
/// Not thread-safe: the owner serialises calls.
class ArrivalLog {
 public:
  static constexpr size_t kDefaultCapacity = 1000000;

  /// A `capacity` of 0 is taken as 1.
  explicit ArrivalLog(size_t capacity = kDefaultCapacity);

  /// Keeps `arrival`, truncated to the microsecond. Arrivals may come out of order.
  void Record(absl::Time arrival);
  /// Forgets every arrival and the dropped count.
  void Clear();

  /// The kept arrivals, ascending.
  std::vector<int64_t> SortedMicros() const;
  size_t size() const { return times_us_.size(); }
  /// Arrivals overwritten because the log was full, since the last Clear().
  int64_t dropped() const { return dropped_; }
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  std::vector<int64_t> times_us_;  // Grows to capacity_ (memory is taken as used), then wraps at next_.
  size_t next_ = 0;                // Slot of the oldest arrival once full.
  int64_t dropped_ = 0;
};

/// What `GET /sandbox/arrivals` was asked for.
struct ArrivalsQuery {
  std::vector<int64_t> windows_ms = {1000, 1050};  ///< The windows of max_in_window.
  bool include_times = false;                      ///< Also list every kept arrival (times_us).
};

/// Parses `windows_ms=1000,1050,500` (1..3600000 each, at most 32) and `include_times=1|0|true|false`; either may
/// be absent. Other parameters are ignored; a bad value is an error that names it.
absl::StatusOr<ArrivalsQuery> ParseArrivalsQuery(const std::multimap<std::string, std::string>& params);

/// The `GET /sandbox/arrivals` body for `sorted_us` (ascending): count, first_unix_us and last_unix_us (null when
/// empty), max_in_window keyed by window milliseconds as decimal strings, gap_us (GapsBetween: p50, p90, p99 and max;
/// null with fewer than two arrivals), capacity, dropped, and times_us when asked.
nlohmann::json ArrivalsReport(const std::vector<int64_t>& sorted_us, size_t capacity, int64_t dropped,
                              const ArrivalsQuery& query);

/// Unix time that moves like a steady clock: the wall clock read once at construction plus the steady clock's
/// elapsed time since. Arrival times keep their order and spacing even when the system clock is stepped (which
/// would otherwise open or close a rate-limit window at once), yet still read as wall-clock time.
///
/// Thread-safe (immutable after construction).
class MonotonicWallClock {
 public:
  MonotonicWallClock();
  absl::Time Now() const;

 private:
  const absl::Time wall_start_;
  const std::chrono::steady_clock::time_point steady_start_;
};

}  // namespace portrait_bridge::sandbox

#endif  // PORTRAIT_BRIDGE_SANDBOX_ARRIVALS_H_

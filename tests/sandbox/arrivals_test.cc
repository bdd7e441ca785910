#include "bridge/sandbox/arrivals.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>
#include <vector>

#include "absl/time/clock.h"

namespace portrait_bridge::sandbox {
namespace {

using nlohmann::json;

constexpr int64_t kStartUs = int64_t{1700000000} * 1000000;

// Brute force over every window (s, s + w] that ends at a time: a window can slide right until its end meets its
// newest member without losing one, so these cover every window.
int64_t BruteMaxInWindow(const std::vector<int64_t>& times, int64_t window_us) {
  int64_t best = 0;
  for (int64_t end : times) {
    best = std::max<int64_t>(
        best, std::count_if(times.begin(), times.end(), [&](int64_t t) { return t > end - window_us && t <= end; }));
  }
  return best;
}

TEST(MaxInWindowTest, SmallCasesAndTheBoundary) {
  EXPECT_EQ(MaxInWindow({}, 1000000), 0);
  EXPECT_EQ(MaxInWindow({kStartUs}, 1000000), 1);
  EXPECT_EQ(MaxInWindow({kStartUs, kStartUs}, 1), 2);                  // Same instant.
  EXPECT_EQ(MaxInWindow({kStartUs, kStartUs + 1000000}, 1000000), 1);  // Exactly one window apart.
  EXPECT_EQ(MaxInWindow({kStartUs, kStartUs + 999999}, 1000000), 2);
  EXPECT_EQ(MaxInWindow({kStartUs, kStartUs + 999999, kStartUs + 1000000}, 1000000), 2);
  EXPECT_EQ(MaxInWindow({kStartUs, kStartUs + 999999, kStartUs + 1000000}, 1000001), 3);
}

TEST(MaxInWindowTest, MatchesTheBruteForceOnRandomTimes) {
  std::mt19937 rng(42);
  for (int round = 0; round < 2000; ++round) {
    const int64_t window_us = std::uniform_int_distribution<int64_t>(1, 2000000)(rng);
    std::uniform_int_distribution<int64_t> short_gap(0, window_us / 3);
    std::uniform_int_distribution<int64_t> long_gap(0, 2 * window_us);
    std::vector<int64_t> times;
    int64_t t = kStartUs;
    const int count = std::uniform_int_distribution<int>(0, 40)(rng);
    for (int i = 0; i < count; ++i) {
      // Duplicates and gaps of exactly one window and one microsecond less, so the boundary decides often.
      const int kind = static_cast<int>(rng() % 6);
      t += kind == 0   ? 0
           : kind == 1 ? window_us
           : kind == 2 ? window_us - 1
           : kind == 3 ? long_gap(rng)
                       : short_gap(rng);
      times.push_back(t);
    }
    ASSERT_EQ(MaxInWindow(times, window_us), BruteMaxInWindow(times, window_us))
        << "round " << round << ", window " << window_us;
  }
}

TEST(GapsBetweenTest, NearestRankPercentilesOfTheGaps) {
  EXPECT_FALSE(GapsBetween({}).has_value());
  EXPECT_FALSE(GapsBetween({kStartUs}).has_value());

  const std::optional<ArrivalGaps> one = GapsBetween({kStartUs, kStartUs + 7});
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->p50_us, 7);
  EXPECT_EQ(one->p99_us, 7);
  EXPECT_EQ(one->max_us, 7);

  // 100 gaps: 97 of 5 ms, then 7, 9 and 23 ms. Nearest rank: p90 is the 90th smallest, p99 the 99th.
  std::vector<int64_t> times = {kStartUs};
  for (int i = 0; i < 97; ++i) times.push_back(times.back() + 5000);
  for (int64_t gap : {23000, 7000, 9000}) times.push_back(times.back() + gap);
  const std::optional<ArrivalGaps> paced = GapsBetween(times);
  ASSERT_TRUE(paced.has_value());
  EXPECT_EQ(paced->p50_us, 5000);
  EXPECT_EQ(paced->p90_us, 5000);
  EXPECT_EQ(paced->p99_us, 9000);
  EXPECT_EQ(paced->max_us, 23000);

  // Same instant twice: a gap of zero counts.
  EXPECT_EQ(GapsBetween({kStartUs, kStartUs, kStartUs + 10})->p50_us, 0);
}

TEST(ArrivalLogTest, KeepsMicrosecondsSortedAndTheLastCapacity) {
  ArrivalLog log(3);
  log.Record(absl::FromUnixMicros(kStartUs + 5) + absl::Nanoseconds(999));  // Truncated to the microsecond.
  log.Record(absl::FromUnixMicros(kStartUs + 1));                           // Out of order.
  log.Record(absl::FromUnixMicros(kStartUs + 3));
  EXPECT_EQ(log.SortedMicros(), (std::vector<int64_t>{kStartUs + 1, kStartUs + 3, kStartUs + 5}));
  EXPECT_EQ(log.dropped(), 0);

  log.Record(absl::FromUnixMicros(kStartUs + 7));  // Overwrites the oldest recorded (kStartUs + 5).
  log.Record(absl::FromUnixMicros(kStartUs + 8));  // Then kStartUs + 1.
  EXPECT_EQ(log.size(), 3u);
  EXPECT_EQ(log.dropped(), 2);
  EXPECT_EQ(log.SortedMicros(), (std::vector<int64_t>{kStartUs + 3, kStartUs + 7, kStartUs + 8}));

  log.Clear();
  EXPECT_EQ(log.size(), 0u);
  EXPECT_EQ(log.dropped(), 0);
  log.Record(absl::FromUnixMicros(kStartUs));
  EXPECT_EQ(log.SortedMicros(), std::vector<int64_t>{kStartUs});
  EXPECT_EQ(ArrivalLog().capacity(), 1000000u);
}

TEST(ArrivalsQueryTest, DefaultsAndParameters) {
  const auto defaults = ParseArrivalsQuery({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->windows_ms, (std::vector<int64_t>{1000, 1050}));
  EXPECT_FALSE(defaults->include_times);

  const auto chosen = ParseArrivalsQuery({{"windows_ms", "1000,1050,500"}, {"include_times", "1"}, {"x", "y"}});
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_EQ(chosen->windows_ms, (std::vector<int64_t>{1000, 1050, 500}));
  EXPECT_TRUE(chosen->include_times);
  EXPECT_FALSE(ParseArrivalsQuery({{"include_times", "0"}})->include_times);

  for (const char* bad : {"", ",", "0", "-5", "abc", "1000,x", "3600001"}) {
    EXPECT_FALSE(ParseArrivalsQuery({{"windows_ms", bad}}).ok()) << bad;
  }
  EXPECT_FALSE(ParseArrivalsQuery({{"include_times", "maybe"}}).ok());
}

TEST(ArrivalsReportTest, CountsEndsWindowsAndOptionalTimes) {
  const std::vector<int64_t> times = {kStartUs, kStartUs + 400000, kStartUs + 1000000, kStartUs + 1040000};
  ArrivalsQuery query;
  const json report = ArrivalsReport(times, 1000000, 0, query);
  EXPECT_EQ(report["count"], 4);
  EXPECT_EQ(report["first_unix_us"], kStartUs);
  EXPECT_EQ(report["last_unix_us"], kStartUs + 1040000);
  // 1000 ms: (40 ms, 1040 ms] holds three; 1050 ms: all four.
  EXPECT_EQ(report["max_in_window"], json({{"1000", 3}, {"1050", 4}}));
  // Gaps 40, 400 and 600 ms.
  EXPECT_EQ(report["gap_us"], json({{"p50", 400000}, {"p90", 600000}, {"p99", 600000}, {"max", 600000}}));
  EXPECT_EQ(report["capacity"], 1000000);
  EXPECT_EQ(report["dropped"], 0);
  EXPECT_FALSE(report.contains("times_us"));

  query.windows_ms = {500};
  query.include_times = true;
  const json with_times = ArrivalsReport(times, 10, 7, query);
  EXPECT_EQ(with_times["max_in_window"], json({{"500", 2}}));
  EXPECT_EQ(with_times["times_us"], json(times));
  EXPECT_EQ(with_times["dropped"], 7);

  const json empty = ArrivalsReport({}, 10, 0, ArrivalsQuery{});
  EXPECT_EQ(empty["count"], 0);
  EXPECT_TRUE(empty["first_unix_us"].is_null());
  EXPECT_TRUE(empty["last_unix_us"].is_null());
  EXPECT_EQ(empty["max_in_window"], json({{"1000", 0}, {"1050", 0}}));
  EXPECT_TRUE(empty["gap_us"].is_null());
}

TEST(MonotonicWallClockTest, NeverGoesBackAndReadsAsWallTime) {
  const MonotonicWallClock clock;
  absl::Time previous = clock.Now();
  for (int i = 0; i < 100000; ++i) {
    const absl::Time now = clock.Now();
    ASSERT_GE(now, previous);
    previous = now;
  }
  EXPECT_LT(absl::AbsDuration(clock.Now() - absl::Now()), absl::Seconds(1));
}

}  // namespace
}  // namespace portrait_bridge::sandbox

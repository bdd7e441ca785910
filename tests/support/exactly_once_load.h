// Concurrent GetProfiles streams against a running bridge, with a ledger of every account entry asked and every
// AccountResult received: what proves the API's "exactly once" (each entry of each accepted request is answered by
// one AccountResult, an account listed twice in a request twice) while the upstream fails in every way it can.
// Shared by the fault integration test (tests/integration/faults_integration_test.cc) and the soak command
// (bench/soak.cc). It uses no GoogleTest: it counts, and the caller judges.
#ifndef PORTRAIT_BRIDGE_TESTS_SUPPORT_EXACTLY_ONCE_LOAD_H_
#define PORTRAIT_BRIDGE_TESTS_SUPPORT_EXACTLY_ONCE_LOAD_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace portrait_bridge::testing {

struct ExactlyOnceOptions {
  std::string target;  ///< The bridge, host:port.
  /// Workers, each with a connection of its own and one stream open at a time: the concurrent streams.
  int streams = 4;
  /// Account entries to ask for in all; -1: until Stop().
  int64_t total_entries = -1;
  // A request's entries, shuffled: accounts the sandbox knows, distinct within the run until the pool wraps
  // (user10 .. user99999); entries repeating one of those (the same account twice or more in one request);
  // accounts every worker asks for (user0 .. user9, so the bridge coalesces them across streams); accounts the
  // sandbox does not know (answered NOT_FOUND through Tencent's Fail_Account).
  int distinct_per_request = 20;
  int duplicates_per_request = 5;
  int hot_per_request = 2;
  int unknown_per_request = 1;
  /// Entries asked and not yet answered on one stream; the worker waits for answers beyond it.
  int max_outstanding_per_stream = 500;
  /// A worker half-closes its stream and opens a new one after this many entries (the bridge caps a stream at
  /// max_accounts_per_stream, 100,000 by default).
  int64_t entries_per_stream = 20000;
  std::chrono::milliseconds stream_deadline{120000};
  /// The first tag must be Tag_Profile_IM_Nick: an OK result's Nick ("User N" for userN) proves the answer is
  /// that account's.
  std::vector<std::string> tags = {"Tag_Profile_IM_Nick", "Tag_Profile_IM_Level"};
  uint64_t seed = 1;
};

/// What the ledger found, over every stream that has ended.
struct ExactlyOnceReport {
  int64_t streams = 0;
  int64_t requests = 0;
  int64_t expected = 0;    ///< Account entries asked for.
  int64_t answered = 0;    ///< AccountResults received.
  int64_t duplicates = 0;  ///< Results beyond one per entry (an account answered twice, or one never asked there).
  int64_t missing = 0;     ///< Entries never answered.
  int64_t wrong = 0;       ///< OK results whose profile is not the account's, or OK for an unknown account.
  /// Requests without exactly one request_complete response, or with results after it.
  int64_t bad_completions = 0;
  std::map<std::string, int64_t> stream_statuses;  ///< "OK", "UNAVAILABLE: <message>" -> streams.
  std::map<std::string, int64_t> results;          ///< "OK", "NOT_FOUND TENCENT_40003", ... -> results.
  /// Results by their gRPC code alone ("OK", "NOT_FOUND", "UNAVAILABLE", ...).
  std::map<std::string, int64_t> result_codes;

  /// Every stream ended OK, and no duplicate, missing, wrong answer or bad completion.
  bool Clean() const;
  /// Several lines: the counts, then streams and results by status.
  std::string Summary() const;
};

class ExactlyOnceLoad {
 public:
  explicit ExactlyOnceLoad(ExactlyOnceOptions options);
  /// Stops and waits for every stream.
  ~ExactlyOnceLoad();
  ExactlyOnceLoad(const ExactlyOnceLoad&) = delete;
  ExactlyOnceLoad& operator=(const ExactlyOnceLoad&) = delete;

  void Start();
  /// No new request; each stream half-closes, reads every answer still due and ends. Returns when all have.
  void Stop();
  /// Waits until every worker has ended (with total_entries set: once all were asked and answered).
  void Wait();

  /// Entries sent, results received (all, and OK ones) so far: progress a caller can wait on.
  int64_t sent() const { return sent_.load(); }
  int64_t answered() const { return answered_.load(); }
  int64_t answered_ok() const { return answered_ok_.load(); }
  int64_t answered_failed() const { return answered_.load() - answered_ok_.load(); }
  /// Whether some worker is still asking or reading. A worker ends when its share is done, on Stop(), or when one of
  /// its streams ends with a status other than OK (the report then says which).
  bool running() const { return running_workers_.load() > 0; }

  /// The ledger over the streams that have ended (all of them after Stop or Wait).
  ExactlyOnceReport Report() const;

 private:
  class Stream;
  void Work(int worker);
  void Merge(const ExactlyOnceReport& stream_report);

  const ExactlyOnceOptions options_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> remaining_;  // Entries still to ask for, with total_entries set.
  std::atomic<int64_t> next_distinct_{0};
  std::atomic<int64_t> next_unknown_{0};
  std::atomic<int64_t> sent_{0};
  std::atomic<int64_t> answered_{0};
  std::atomic<int64_t> answered_ok_{0};
  std::atomic<int> running_workers_{0};
  mutable std::mutex mutex_;
  ExactlyOnceReport report_;  // Guarded by mutex_.
};

}  // namespace portrait_bridge::testing

#endif  // PORTRAIT_BRIDGE_TESTS_SUPPORT_EXACTLY_ONCE_LOAD_H_

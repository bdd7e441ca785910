// portrait-handoff: what one thread waking another costs on this machine, the floor under every hand-off on the
// bridge's path (gRPC thread -> curl thread -> completion thread). Two threads pass a turn back and forth through a
// condition variable, pausing between rounds so that the woken thread is asleep each time; once with both threads
// on one CPU, once on two (where the woken CPU may be idle, and on a virtual machine halted). Prints the one-way
// hand-off (half the round trip) at p50, p90 and p99.
//
//   build/bench/portrait-handoff [--rounds=N] [--pause_us=N]   (--help lists them)
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bridge/core/options.h"

namespace portrait_bridge::bench {
namespace {

struct Options {
  int rounds = 3000;
  int pause_us = 1000;
};

using B = OptionBuilder<Options>;

// The flags (the shared option parser, bridge/core/options.h); the defaults are Options' initial values.
const OptionTable<Options>& HandoffTable() {
  static const auto* table = new OptionTable<Options>(
      OptionSources{/*env_prefix=*/"", /*config_file=*/false, /*defaults_from_target=*/true, /*error_prefix=*/""},
      {
          B::Integer("rounds", "", 1, 10000000, "round trips measured per placement", Field(&Options::rounds)),
          B::Integer("pause_us", "", 0, 1000000, "time asleep before each round trip, microseconds",
                     Field(&Options::pause_us)),
      });
  return *table;
}

std::optional<Options> ParseOptions(int argc, char** argv) {
  Options options;
  if (!HandoffTable().ParseCommandLine(argc, argv, "portrait-handoff",
                                       "what waking a thread costs, on one CPU and across two", options)) {
    return std::nullopt;
  }
  return options;
}

bool PinTo(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

// The CPUs this process may run on, in order.
std::vector<int> AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

// Round trips in microseconds, sorted: the caller on `caller_cpu`, the answering thread on `answer_cpu`. `pinned`
// says whether both threads could be held on their CPUs (if not, the figures are of wherever they ran).
std::vector<double> RoundTrips(int caller_cpu, int answer_cpu, int rounds, int pause_us, bool& pinned) {
  bool answer_pinned = false;
  std::mutex mutex;
  std::condition_variable turn_changed;
  enum class Turn { kCaller, kAnswer, kStop } turn = Turn::kCaller;
  std::thread answer([&] {
    answer_pinned = PinTo(answer_cpu);
    std::unique_lock<std::mutex> lock(mutex);
    while (true) {
      turn_changed.wait(lock, [&] { return turn != Turn::kCaller; });
      if (turn == Turn::kStop) return;
      turn = Turn::kCaller;
      turn_changed.notify_all();
    }
  });
  const bool caller_pinned = PinTo(caller_cpu);
  std::vector<double> micros;
  micros.reserve(static_cast<size_t>(rounds));
  for (int i = 0; i < rounds; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lock(mutex);
    turn = Turn::kAnswer;
    turn_changed.notify_all();
    turn_changed.wait(lock, [&] { return turn == Turn::kCaller; });
    micros.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    turn = Turn::kStop;
  }
  turn_changed.notify_all();
  answer.join();  // After this, answer_pinned may be read.
  pinned = caller_pinned && answer_pinned;
  std::sort(micros.begin(), micros.end());
  return micros;
}

void Print(const char* label, const std::vector<double>& sorted, bool pinned) {
  if (!pinned) std::printf("(could not hold the threads on their CPUs: the next line is of wherever they ran)\n");
  auto at = [&](double q) { return sorted[static_cast<size_t>(q * static_cast<double>(sorted.size() - 1))] / 2; };
  std::printf("%-30s one-way hand-off p50 %6.1f us  p90 %6.1f us  p99 %6.1f us\n", label, at(0.50), at(0.90), at(0.99));
}

// Measures and prints both placements; the process's exit code.
int Run(const Options& options) {
  const std::vector<int> cpus = AllowedCpus();
  if (cpus.empty()) {
    std::fprintf(stderr, "portrait-handoff: cannot read this process's CPUs\n");
    return 1;
  }
  std::printf("%d rounds, %d us asleep before each\n", options.rounds, options.pause_us);
  bool pinned = false;
  const std::vector<double> same = RoundTrips(cpus[0], cpus[0], options.rounds, options.pause_us, pinned);
  Print("same CPU:", same, pinned);
  if (cpus.size() > 1) {
    const std::vector<double> two = RoundTrips(cpus[0], cpus[1], options.rounds, options.pause_us, pinned);
    Print("two CPUs:", two, pinned);
  } else {
    std::printf("two CPUs: not measured (this process may use one CPU only)\n");
  }
  return 0;
}

}  // namespace
}  // namespace portrait_bridge::bench

int main(int argc, char** argv) {
  const std::optional<portrait_bridge::bench::Options> options = portrait_bridge::bench::ParseOptions(argc, argv);
  if (!options.has_value()) return 2;
  return portrait_bridge::bench::Run(*options);
}

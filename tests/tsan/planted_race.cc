// TSan build only: proof that the absl wrappers (absl_mutex_tsan.cc) make correct locking quiet without blinding
// TSan. `planted_race <mode>`; tests/tsan/CMakeLists.txt runs every mode and checks TSan's verdict:
//
//   guarded          every access to shared state holds the mutex or follows a Notification, through each wrapped
//                    member the project uses (Lock/Unlock via MutexLock, ReaderLock, Await, AwaitWithTimeout,
//                    LockWhen, CondVar::Wait, Notification, BlockingCounter, ReleasableMutexLock), and an
//                    absl::Status shared by two threads whose last copy goes on either: no report.
//                    Without the wrappers (PORTRAIT_TSAN_WRAP_ABSL=OFF) TSan reports races here.
//   unguarded_write  one writer skips the mutex the other writers hold: TSan must report a data race.
//   unguarded_read   a reader skips the mutex the writer holds: TSan must report a data race.
//   early_read       the consumer reads before waiting for the Notification that publishes the value: a data race.
//   shared_status    one absl::Status object (not copies) assigned on one thread while another reads it: a data race.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace {

constexpr int kRounds = 200;

struct Shared {
  absl::Mutex mutex;
  absl::CondVar changed;
  long counter = 0;    // Guarded by mutex.
  bool ready = false;  // Guarded by mutex.
};

// Plain (non-atomic) state, so that TSan judges every access; noinline keeps each access in its own named frame.
__attribute__((noinline)) void IncrementUnderLock(Shared& shared) {
  absl::MutexLock lock(&shared.mutex);
  ++shared.counter;
}

__attribute__((noinline)) void PlantedUnguardedIncrement(Shared& shared) { ++shared.counter; }

__attribute__((noinline)) long PlantedUnguardedRead(const Shared& shared) { return shared.counter; }

int Guarded() {
  Shared shared;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&shared] {
      for (int i = 0; i < kRounds; ++i) IncrementUnderLock(shared);
    });
  }
  threads.emplace_back([&shared] {  // Readers under a reader lock.
    for (int i = 0; i < kRounds; ++i) {
      absl::ReaderMutexLock lock(&shared.mutex);
      if (shared.counter < 0) std::abort();
    }
  });
  // Await: wakes once both writers are done, then writes.
  threads.emplace_back([&shared] {
    absl::MutexLock lock(&shared.mutex);
    shared.mutex.Await(absl::Condition(
        +[](long* counter) { return *counter >= 2 * kRounds; }, &shared.counter));
    shared.counter += 1;
  });
  for (std::thread& thread : threads) thread.join();

  // CondVar: a producer sets `ready` under the lock and signals; the consumer waits for it and writes after.
  std::thread consumer([&shared] {
    absl::MutexLock lock(&shared.mutex);
    while (!shared.ready) shared.changed.Wait(&shared.mutex);
    shared.counter += 1;
  });
  std::thread producer([&shared] {
    absl::MutexLock lock(&shared.mutex);
    shared.counter += 1;
    shared.ready = true;
    shared.changed.Signal();
  });
  producer.join();
  consumer.join();

  // LockWhen and AwaitWithTimeout, with a ReleasableMutexLock released early on the other side.
  bool flag = false;  // Guarded by shared.mutex.
  std::thread waiter([&] {
    shared.mutex.LockWhen(absl::Condition(&flag));
    shared.counter += 1;
    shared.mutex.Unlock();
    absl::MutexLock lock(&shared.mutex);
    shared.mutex.AwaitWithTimeout(absl::Condition(
                                      +[](long* counter) { return *counter > 0; }, &shared.counter),
                                  absl::Seconds(5));
    shared.counter += 1;
  });
  std::thread setter([&] {
    absl::ReleasableMutexLock lock(&shared.mutex);
    shared.counter += 1;
    flag = true;
    lock.Release();
  });
  setter.join();
  waiter.join();

  // Notification and BlockingCounter publish plain data.
  long published = 0;
  absl::Notification done;
  std::thread publisher([&] {
    published = 42;
    done.Notify();
  });
  done.WaitForNotification();
  published += 1;
  publisher.join();
  long from_poller = 0;
  absl::Notification polled;
  std::thread poller_publisher([&] {
    from_poller = 7;
    polled.Notify();
  });
  while (!polled.HasBeenNotified()) std::this_thread::yield();
  from_poller += 1;  // HasBeenNotified() is an acquire load: this is ordered after the publisher's write.
  poller_publisher.join();
  std::vector<long> slots(4, 0);
  absl::BlockingCounter remaining(static_cast<int>(slots.size()));
  std::vector<std::thread> workers;
  for (size_t i = 0; i < slots.size(); ++i) {
    workers.emplace_back([&, i] {
      slots[i] = static_cast<long>(i) + 1;
      remaining.DecrementCount();
    });
  }
  remaining.Wait();
  long sum = 0;
  for (long slot : slots) sum += slot;
  for (std::thread& worker : workers) worker.join();

  // absl::Status: a copy read and dropped on another thread while this one drops its own; whichever drops the last
  // reference deletes the message, in the library.
  size_t message_sizes = 0;
  for (int i = 0; i < 20; ++i) {
    absl::Status status = absl::UnavailableError(std::string(64, 'x'));
    size_t seen = 0;
    std::thread reader([copy = status, &seen] { seen = copy.message().size(); });
    status = absl::OkStatus();
    reader.join();
    message_sizes += seen;
  }

  const long expected = 2 * kRounds + 1 + 2 + 3;
  std::printf("guarded: counter %ld (expected %ld), published %ld, polled %ld, sum %ld, messages %zu\n", shared.counter,
              expected, published, from_poller, sum, message_sizes);
  return shared.counter == expected && published == 43 && from_poller == 8 && sum == 10 && message_sizes == 20 * 64 ? 0
                                                                                                                    : 1;
}

int UnguardedWrite() {
  Shared shared;
  std::thread locked([&shared] {
    for (int i = 0; i < kRounds; ++i) IncrementUnderLock(shared);
  });
  std::thread planted([&shared] {
    for (int i = 0; i < kRounds; ++i) PlantedUnguardedIncrement(shared);
  });
  locked.join();
  planted.join();
  std::printf("unguarded_write: counter %ld\n", shared.counter);
  return 0;
}

int UnguardedRead() {
  Shared shared;
  long seen = 0;
  std::thread locked([&shared] {
    for (int i = 0; i < kRounds; ++i) IncrementUnderLock(shared);
  });
  std::thread planted([&] {
    for (int i = 0; i < kRounds; ++i) seen += PlantedUnguardedRead(shared);
  });
  locked.join();
  planted.join();
  std::printf("unguarded_read: seen %ld\n", seen);
  return 0;
}

__attribute__((noinline)) void PlantedStatusAssign(absl::Status& status) {
  status = absl::InternalError(std::string(64, 'y'));
}

int SharedStatus() {
  absl::Status status = absl::UnavailableError(std::string(64, 'x'));
  size_t seen = 0;
  std::thread reader([&] {
    for (int i = 0; i < kRounds; ++i) seen += status.message().size();
  });
  for (int i = 0; i < kRounds; ++i) PlantedStatusAssign(status);
  reader.join();
  std::printf("shared_status: %zu\n", seen);
  return 0;
}

int EarlyRead() {
  long published = 0;
  absl::Notification done;
  std::thread publisher([&] {
    published = 42;
    done.Notify();
  });
  const long early = published;  // Planted: read before WaitForNotification().
  done.WaitForNotification();
  publisher.join();
  std::printf("early_read: %ld then %ld\n", early, published);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (std::strcmp(mode, "guarded") == 0) return Guarded();
  if (std::strcmp(mode, "unguarded_write") == 0) return UnguardedWrite();
  if (std::strcmp(mode, "unguarded_read") == 0) return UnguardedRead();
  if (std::strcmp(mode, "early_read") == 0) return EarlyRead();
  if (std::strcmp(mode, "shared_status") == 0) return SharedStatus();
  std::fprintf(stderr, "usage: planted_race guarded|unguarded_write|unguarded_read|early_read|shared_status\n");
  return 2;
}

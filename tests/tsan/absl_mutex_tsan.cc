// ThreadSanitizer build only (PORTRAIT_TSAN=ON, the `tsan` preset): makes Debian's absl::Mutex, the absl
// primitives built on it, and absl::Status's reference count visible to TSan.
//
// Debian's libabsl_synchronization.so is not built with -fsanitize=thread, so TSan sees neither the lock and unlock
// inside absl::Mutex nor the atomics absl uses to hand a lock from one thread to another: every access guarded by an
// absl::Mutex looks unsynchronized, and TSan reports thousands of false races. Every TSan executable is linked with
// -Wl,--wrap=<symbol> for each out-of-line member defined below (tests/tsan/tsan.cmake reads the list from this
// file), so the project's calls land in __wrap_<symbol>, which tells TSan what the call does (its mutex annotation
// API, or acquire/release for the primitives that are not mutexes) and calls the real member as __real_<symbol>.
// Calls from inside Debian's shared libraries (gRPC's own locks, absl's) are not wrapped: those libraries are not
// instrumented either, so TSan sees none of their memory accesses anyway.
//
// While the real member runs, TSan ignores memory accesses (__tsan_mutex_pre_* begins ignoring and
// __tsan_mutex_post_* ends it): absl evaluates absl::Condition callbacks, which are the project's instrumented code,
// inside Lock/Unlock/Await, sometimes on the unlocking thread on behalf of a waiter. Those reads are not checked.
//
// The symbols are mangled in Debian's inline namespace absl::debian3 (ABSL_OPTION_INLINE_NAMESPACE_NAME): the
// static_assert below fails the build if the installed Abseil uses another, and a wrapper without a matching symbol
// would fail the link (undefined __real_...), so the list cannot silently drift from the library.
//
// The wrappers take `this` as their first parameter, which is how the Itanium C++ ABI passes it to a member.
// Await*, LockWhen* and CondVar::Wait* assume the mutex is held (or taken) in writer mode: the project never waits
// under a reader lock.

#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/base/options.h"
#include "absl/status/status.h"
#include "absl/synchronization/barrier.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

#if !defined(__SANITIZE_THREAD__) && defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define __SANITIZE_THREAD__ 1
#endif
#endif
#ifndef __SANITIZE_THREAD__
#error "absl_mutex_tsan.cc belongs to the ThreadSanitizer build only (-fsanitize=thread)"
#endif

#define PORTRAIT_TSAN_STRINGIFY_INNER(x) #x
#define PORTRAIT_TSAN_STRINGIFY(x) PORTRAIT_TSAN_STRINGIFY_INNER(x)
static_assert(std::string_view(PORTRAIT_TSAN_STRINGIFY(ABSL_OPTION_INLINE_NAMESPACE_NAME)) == "debian3",
              "the mangled names below spell absl::debian3; update them (nm -D libabsl_synchronization.so)");

// tests/tsan/suppressions.txt, compiled in (tsan.cmake generates the header) so that every TSan binary applies it
// however it is started: by CTest, by hand, or as a subprocess of a test. TSAN_OPTIONS=suppressions=... adds more.
#include "tsan_suppressions.inc"

extern "C" const char* __tsan_default_suppressions() { return kPortraitTsanSuppressions; }

// PORTRAIT_TSAN_WRAP_ABSL=OFF (tsan.cmake) builds without the wrappers, to measure what they remove.
#ifndef PORTRAIT_TSAN_NO_WRAP

namespace {

using absl::Barrier;
using absl::BlockingCounter;
using absl::Condition;
using absl::CondVar;
using absl::Duration;
using absl::Mutex;
using absl::Notification;
using absl::ReleasableMutexLock;
using absl::Time;

// absl::Notification keeps its flag as `Mutex mutex_; std::atomic<bool> notified_yet_;`, and the inline
// HasBeenNotified() reads it with an acquire load that TSan does see. Notify() stores it inside the library, so the
// wrapper releases on the flag's address: that is the release the inline acquire load pairs with.
struct NotificationLayout {
  Mutex mutex;
  std::atomic<bool> notified_yet;
};
static_assert(sizeof(NotificationLayout) == sizeof(Notification), "absl::Notification's layout changed");

void* NotifiedFlag(const Notification* notification) {
  return const_cast<char*>(reinterpret_cast<const char*>(notification)) + offsetof(NotificationLayout, notified_yet);
}

// absl::ReleasableMutexLock is `Mutex* mu_;`; Release() unlocks it inside the library.
static_assert(sizeof(ReleasableMutexLock) == sizeof(Mutex*), "absl::ReleasableMutexLock's layout changed");
Mutex* LockedBy(const ReleasableMutexLock* lock) { return *reinterpret_cast<Mutex* const*>(lock); }

void PreLock(Mutex* mu, unsigned flags) { __tsan_mutex_pre_lock(mu, flags); }
void PostLock(Mutex* mu, unsigned flags) { __tsan_mutex_post_lock(mu, flags, 0); }
void PreUnlock(Mutex* mu, unsigned flags) { __tsan_mutex_pre_unlock(mu, flags); }
void PostUnlock(Mutex* mu, unsigned flags) { __tsan_mutex_post_unlock(mu, flags); }

// For members that release the (writer-held) mutex, wait, and hold it again on return: TSan sees an unlock before
// the call and a lock after it, whether or not the real member actually had to wait.
void PreRelease(Mutex* mu) { PreUnlock(mu, 0); }
void PostReacquire(Mutex* mu) {
  PostUnlock(mu, 0);
  PreLock(mu, 0);
  PostLock(mu, 0);
}

}  // namespace

extern "C" {

// ---- absl::Mutex -----------------------------------------------------------------------------------------------

void __real__ZN4absl7debian35Mutex4LockEv(Mutex* mu);
void __wrap__ZN4absl7debian35Mutex4LockEv(Mutex* mu) {
  PreLock(mu, 0);
  __real__ZN4absl7debian35Mutex4LockEv(mu);
  PostLock(mu, 0);
}

bool __real__ZN4absl7debian35Mutex7TryLockEv(Mutex* mu);
bool __wrap__ZN4absl7debian35Mutex7TryLockEv(Mutex* mu) {
  PreLock(mu, __tsan_mutex_try_lock);
  const bool locked = __real__ZN4absl7debian35Mutex7TryLockEv(mu);
  PostLock(mu, locked ? __tsan_mutex_try_lock : __tsan_mutex_try_lock_failed);
  return locked;
}

void __real__ZN4absl7debian35Mutex6UnlockEv(Mutex* mu);
void __wrap__ZN4absl7debian35Mutex6UnlockEv(Mutex* mu) {
  PreUnlock(mu, 0);
  __real__ZN4absl7debian35Mutex6UnlockEv(mu);
  PostUnlock(mu, 0);
}

void __real__ZN4absl7debian35Mutex10ReaderLockEv(Mutex* mu);
void __wrap__ZN4absl7debian35Mutex10ReaderLockEv(Mutex* mu) {
  PreLock(mu, __tsan_mutex_read_lock);
  __real__ZN4absl7debian35Mutex10ReaderLockEv(mu);
  PostLock(mu, __tsan_mutex_read_lock);
}

bool __real__ZN4absl7debian35Mutex13ReaderTryLockEv(Mutex* mu);
bool __wrap__ZN4absl7debian35Mutex13ReaderTryLockEv(Mutex* mu) {
  PreLock(mu, __tsan_mutex_try_read_lock);
  const bool locked = __real__ZN4absl7debian35Mutex13ReaderTryLockEv(mu);
  PostLock(mu, locked ? __tsan_mutex_try_read_lock : __tsan_mutex_try_read_lock_failed);
  return locked;
}

void __real__ZN4absl7debian35Mutex12ReaderUnlockEv(Mutex* mu);
void __wrap__ZN4absl7debian35Mutex12ReaderUnlockEv(Mutex* mu) {
  PreUnlock(mu, __tsan_mutex_read_lock);
  __real__ZN4absl7debian35Mutex12ReaderUnlockEv(mu);
  PostUnlock(mu, __tsan_mutex_read_lock);
}

void __real__ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE(Mutex* mu, const Condition& cond);
void __wrap__ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE(Mutex* mu, const Condition& cond) {
  PreLock(mu, 0);
  __real__ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE(mu, cond);
  PostLock(mu, 0);
}

// LockWhenWith{Timeout,Deadline} hold the mutex on return whatever they return.
bool __real__ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE(Mutex* mu,
                                                                                        const Condition& cond,
                                                                                        Duration timeout);
bool __wrap__ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE(Mutex* mu,
                                                                                        const Condition& cond,
                                                                                        Duration timeout) {
  PreLock(mu, 0);
  const bool met =
      __real__ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE(mu, cond, timeout);
  PostLock(mu, 0);
  return met;
}

bool __real__ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE(Mutex* mu, const Condition& cond,
                                                                                     Time deadline);
bool __wrap__ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE(Mutex* mu, const Condition& cond,
                                                                                     Time deadline) {
  PreLock(mu, 0);
  const bool met = __real__ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE(mu, cond, deadline);
  PostLock(mu, 0);
  return met;
}

void __real__ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE(Mutex* mu, const Condition& cond);
void __wrap__ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE(Mutex* mu, const Condition& cond) {
  PreLock(mu, __tsan_mutex_read_lock);
  __real__ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE(mu, cond);
  PostLock(mu, __tsan_mutex_read_lock);
}

bool __real__ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE(Mutex* mu,
                                                                                              const Condition& cond,
                                                                                              Duration timeout);
bool __wrap__ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE(Mutex* mu,
                                                                                              const Condition& cond,
                                                                                              Duration timeout) {
  PreLock(mu, __tsan_mutex_read_lock);
  const bool met =
      __real__ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE(mu, cond, timeout);
  PostLock(mu, __tsan_mutex_read_lock);
  return met;
}

bool __real__ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE(Mutex* mu,
                                                                                           const Condition& cond,
                                                                                           Time deadline);
bool __wrap__ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE(Mutex* mu,
                                                                                           const Condition& cond,
                                                                                           Time deadline) {
  PreLock(mu, __tsan_mutex_read_lock);
  const bool met =
      __real__ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE(mu, cond, deadline);
  PostLock(mu, __tsan_mutex_read_lock);
  return met;
}

void __real__ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE(Mutex* mu, const Condition& cond);
void __wrap__ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE(Mutex* mu, const Condition& cond) {
  PreRelease(mu);
  __real__ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE(mu, cond);
  PostReacquire(mu);
}

bool __real__ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE(Mutex* mu, const Condition& cond,
                                                                                     Duration timeout);
bool __wrap__ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE(Mutex* mu, const Condition& cond,
                                                                                     Duration timeout) {
  PreRelease(mu);
  const bool met = __real__ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE(mu, cond, timeout);
  PostReacquire(mu);
  return met;
}

bool __real__ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE(Mutex* mu, const Condition& cond,
                                                                                  Time deadline);
bool __wrap__ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE(Mutex* mu, const Condition& cond,
                                                                                  Time deadline) {
  PreRelease(mu);
  const bool met = __real__ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE(mu, cond, deadline);
  PostReacquire(mu);
  return met;
}

// A destroyed mutex's TSan state goes with it (a held one is reported), so that a new mutex at the same address
// (the stack, a reused arena) starts clean.
void __real__ZN4absl7debian35MutexD1Ev(Mutex* mu);
void __wrap__ZN4absl7debian35MutexD1Ev(Mutex* mu) {
  __tsan_mutex_destroy(mu, 0);
  __real__ZN4absl7debian35MutexD1Ev(mu);
}

void __real__ZN4absl7debian35MutexD2Ev(Mutex* mu);
void __wrap__ZN4absl7debian35MutexD2Ev(Mutex* mu) {
  __tsan_mutex_destroy(mu, 0);
  __real__ZN4absl7debian35MutexD2Ev(mu);
}

// ---- absl::ReleasableMutexLock ---------------------------------------------------------------------------------

void __real__ZN4absl7debian319ReleasableMutexLock7ReleaseEv(ReleasableMutexLock* lock);
void __wrap__ZN4absl7debian319ReleasableMutexLock7ReleaseEv(ReleasableMutexLock* lock) {
  Mutex* mu = LockedBy(lock);
  PreUnlock(mu, 0);
  __real__ZN4absl7debian319ReleasableMutexLock7ReleaseEv(lock);
  PostUnlock(mu, 0);
}

// ---- absl::CondVar ---------------------------------------------------------------------------------------------
// Wait* release the mutex and hold it again on return. Signal/SignalAll need nothing: as with pthread condition
// variables, the ordering a waiter relies on comes from the mutex.

void __real__ZN4absl7debian37CondVar4WaitEPNS0_5MutexE(CondVar* cv, Mutex* mu);
void __wrap__ZN4absl7debian37CondVar4WaitEPNS0_5MutexE(CondVar* cv, Mutex* mu) {
  PreRelease(mu);
  __real__ZN4absl7debian37CondVar4WaitEPNS0_5MutexE(cv, mu);
  PostReacquire(mu);
}

bool __real__ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE(CondVar* cv, Mutex* mu,
                                                                                 Duration timeout);
bool __wrap__ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE(CondVar* cv, Mutex* mu,
                                                                                 Duration timeout) {
  PreRelease(mu);
  const bool timed_out = __real__ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE(cv, mu, timeout);
  PostReacquire(mu);
  return timed_out;
}

bool __real__ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE(CondVar* cv, Mutex* mu, Time deadline);
bool __wrap__ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE(CondVar* cv, Mutex* mu, Time deadline) {
  PreRelease(mu);
  const bool timed_out = __real__ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE(cv, mu, deadline);
  PostReacquire(mu);
  return timed_out;
}

// ---- absl::Notification, absl::BlockingCounter, absl::Barrier ------------------------------------------------
// Not mutexes to the caller: a release by the notifying (decrementing, arriving) thread and an acquire by the one
// that saw it, which is the ordering each of them documents.

void __real__ZN4absl7debian312Notification6NotifyEv(Notification* notification);
void __wrap__ZN4absl7debian312Notification6NotifyEv(Notification* notification) {
  __tsan_release(NotifiedFlag(notification));
  __real__ZN4absl7debian312Notification6NotifyEv(notification);
}

void __real__ZNK4absl7debian312Notification19WaitForNotificationEv(const Notification* notification);
void __wrap__ZNK4absl7debian312Notification19WaitForNotificationEv(const Notification* notification) {
  __real__ZNK4absl7debian312Notification19WaitForNotificationEv(notification);
  __tsan_acquire(NotifiedFlag(notification));
}

bool __real__ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE(
    const Notification* notification, Duration timeout);
bool __wrap__ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE(
    const Notification* notification, Duration timeout) {
  const bool notified =
      __real__ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE(notification, timeout);
  if (notified) __tsan_acquire(NotifiedFlag(notification));
  return notified;
}

bool __real__ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE(
    const Notification* notification, Time deadline);
bool __wrap__ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE(
    const Notification* notification, Time deadline) {
  const bool notified =
      __real__ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE(notification, deadline);
  if (notified) __tsan_acquire(NotifiedFlag(notification));
  return notified;
}

void __real__ZN4absl7debian315BlockingCounter14DecrementCountEv(BlockingCounter* counter);
void __wrap__ZN4absl7debian315BlockingCounter14DecrementCountEv(BlockingCounter* counter) {
  __tsan_release(counter);
  __real__ZN4absl7debian315BlockingCounter14DecrementCountEv(counter);
}

void __real__ZN4absl7debian315BlockingCounter4WaitEv(BlockingCounter* counter);
void __wrap__ZN4absl7debian315BlockingCounter4WaitEv(BlockingCounter* counter) {
  __real__ZN4absl7debian315BlockingCounter4WaitEv(counter);
  __tsan_acquire(counter);
}

bool __real__ZN4absl7debian37Barrier5BlockEv(Barrier* barrier);
bool __wrap__ZN4absl7debian37Barrier5BlockEv(Barrier* barrier) {
  __tsan_release(barrier);
  const bool last = __real__ZN4absl7debian37Barrier5BlockEv(barrier);
  __tsan_acquire(barrier);
  return last;
}

// ---- absl::Status ---------------------------------------------------------------------------------------------
// A Status with a message or payloads points to a shared, reference-counted representation. Copies take a reference
// inline (an atomic TSan sees), but the last reference is dropped in the library: UnrefNonInlined decrements with
// acq_rel and deletes the representation, all out of TSan's sight, so a thread that read the message and let its
// copy go looks racy against the thread whose release deleted it. The wrapper performs the acquire and release that
// the decrement does, on the representation's address (tagged pointer minus 1), before the real call.

void __real__ZN4absl7debian36Status15UnrefNonInlinedEm(uintptr_t rep);
void __wrap__ZN4absl7debian36Status15UnrefNonInlinedEm(uintptr_t rep) {
  void* representation = reinterpret_cast<void*>(rep - 1);
  __tsan_acquire(representation);
  __tsan_release(representation);
  __real__ZN4absl7debian36Status15UnrefNonInlinedEm(rep);
}

}  // extern "C"

#endif  // PORTRAIT_TSAN_NO_WRAP

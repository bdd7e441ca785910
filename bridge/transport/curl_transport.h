#ifndef PORTRAIT_BRIDGE_TRANSPORT_CURL_TRANSPORT_H_
#define PORTRAIT_BRIDGE_TRANSPORT_CURL_TRANSPORT_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/transport/http_transport.h"

namespace portrait_bridge {

/// Settings of the curl transport.
struct CurlTransportOptions {
  std::string ca_bundle;              ///< Empty: the system store. Verification is always on.
  int64_t max_connections = 64;       ///< Open connections kept for reuse (HTTP/1.1 keep-alive).
  int64_t max_body_bytes = 16 << 20;  ///< A larger answer is treated as a broken connection.
  /// Hears how long each request waited between Send and its hand-over to libcurl: zero when Send hands it over
  /// itself; otherwise the loop's own lag (waking up, getting a CPU, finishing what it was doing). Runs on the thread
  /// that hands it over, with the transport's lock held: must not block. May be empty.
  std::function<void(absl::Duration lag)> on_start_lag;
};

/// An HttpTransport on one libcurl multi handle, driven by its own thread through libcurl's socket interface
/// (curl_multi_socket_action, with the thread's own epoll set). Send writes the request itself, on the caller's
/// thread, when libcurl is free (no thread hand-off between deciding to send and the socket); when the loop thread is
/// busy with libcurl, Send enqueues the request and wakes it through an eventfd. The loop thread waits for the
/// answers: only the transfers whose sockets are ready run, and libcurl need not poll every running transfer's socket
/// on each pass as curl_multi_perform does. Connections are kept alive and reused. Callbacks run on a completion
/// thread of the transport's own, in the order the transfers finished, so that the work they do (parsing, delivery)
/// never delays the next request's write: the loop thread only moves bytes. HttpRequest::before_send runs on the
/// thread that writes the request, at the moment it is written (CURLOPT_PREREQFUNCTION), with the transport's lock
/// held; libcurl's own resend on a dead reused connection is refused and reported as a lost connection.
class CurlTransport final : public HttpTransport {
 public:
  explicit CurlTransport(CurlTransportOptions options);
  /// Cancels what is still in flight (each callback runs with cancelled = true) and joins the thread.
  ~CurlTransport() override;

  uint64_t Send(HttpRequest request, Callback done) override;
  void Cancel(uint64_t id) override;

 private:
  struct Transfer;
  static int BeforeSend(void* user, char* primary_ip, char* local_ip, int primary_port, int local_port);
  // libcurl's socket interface: which sockets to watch for what, and when to call it back without an event.
  static int OnSocket(void* easy, int socket, int what, void* user, void* socket_data);
  static int OnTimer(void* multi, long timeout_ms, void* user);
  void Wake();
  // Hands libcurl a socket's readiness (or the timeout, for CURL_SOCKET_TIMEOUT), then finishes what it completed.
  void Act(int socket, int events) ABSL_EXCLUSIVE_LOCKS_REQUIRED(multi_mutex_);
  void Run();
  void StartPending() ABSL_EXCLUSIVE_LOCKS_REQUIRED(multi_mutex_);
  // Hands a transfer to libcurl (which starts it at its next timeout action).
  void StartTransfer(std::unique_ptr<Transfer> owned, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(multi_mutex_);
  void FinishTransfer(Transfer* transfer, HttpResult result) ABSL_EXCLUSIVE_LOCKS_REQUIRED(multi_mutex_);
  // Runs the completion thread: callbacks queued by FinishTransfer, until stopping and drained.
  void RunCompletions();

  const CurlTransportOptions options_;
  int epoll_fd_ = -1;  // The sockets libcurl asks to watch, and wake_fd_. Owned.
  int wake_fd_ = -1;   // An eventfd that Send, Cancel and the destructor write to wake the loop. Owned.
  std::atomic<uint64_t> next_id_{1};

  absl::Mutex mutex_;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::deque<std::unique_ptr<Transfer>> pending_ ABSL_GUARDED_BY(mutex_);
  std::vector<uint64_t> cancelled_ ABSL_GUARDED_BY(mutex_);

  // Finished transfers' callbacks with their results, for the completion thread.
  absl::Mutex completions_mutex_;
  std::deque<std::pair<Callback, HttpResult>> completions_ ABSL_GUARDED_BY(completions_mutex_);
  bool completions_closed_ ABSL_GUARDED_BY(completions_mutex_) = false;

  // Held whenever libcurl runs: by the loop thread but while it sleeps, and by Send when it starts a transfer itself.
  absl::Mutex multi_mutex_;
  void* multi_ ABSL_GUARDED_BY(multi_mutex_);  // CURLM*, owned.
  std::map<uint64_t, std::unique_ptr<Transfer>> active_ ABSL_GUARDED_BY(multi_mutex_);
  // When libcurl wants to be called with CURL_SOCKET_TIMEOUT (its timer callback); none when it has no timer.
  std::optional<absl::Time> timer_due_ ABSL_GUARDED_BY(multi_mutex_);
  // When the loop's epoll_wait times out while it sleeps; none while it is awake (it reads timer_due_ before it sleeps
  // again). A Send that sets libcurl's timer earlier than this wakes it.
  std::optional<absl::Time> loop_asleep_until_ ABSL_GUARDED_BY(multi_mutex_);
  bool loop_done_ ABSL_GUARDED_BY(multi_mutex_) = false;  // The loop has finished its last transfers.
  // Easy handles of finished transfers (reset), reused rather than created and freed for every call: a handle
  // holds kilobytes of state and buffers. At most max_connections are kept.
  std::vector<void*> idle_handles_ ABSL_GUARDED_BY(multi_mutex_);
  void* headers_;  // curl_slist*, owned: the same for every request.

  std::thread thread_;
  std::thread completion_thread_;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_TRANSPORT_CURL_TRANSPORT_H_

#ifndef PORTRAIT_BRIDGE_TRANSPORT_CURL_TRANSPORT_H_
#define PORTRAIT_BRIDGE_TRANSPORT_CURL_TRANSPORT_H_

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
  /// Hears, on the loop thread, how long each request waited between Send and the loop handing it to libcurl: the
  /// loop's own lag (waking up, getting a CPU, finishing what it was doing). Must not block. May be empty.
  std::function<void(absl::Duration lag)> on_start_lag;
};

/// An HttpTransport on one libcurl multi handle, driven by its own thread through libcurl's socket interface
/// (curl_multi_socket_action, with the thread's own epoll set): gRPC threads only enqueue work and wake it through an
/// eventfd. Only the transfers whose sockets are ready run, and libcurl need not poll every running transfer's
/// socket on each pass as curl_multi_perform does. Connections are kept alive and reused. Callbacks run on a completion
/// thread of the transport's own, in the order the transfers finished, so that the work they do (parsing, delivery)
/// never delays the next request's write: the loop thread only moves bytes. HttpRequest::before_send runs on that
/// thread at the moment each request is written (CURLOPT_PREREQFUNCTION); libcurl's own resend on a dead reused
/// connection is refused and reported as a lost connection.
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
  void Act(int socket, int events);
  void Run();
  void StartPending();
  void FinishTransfer(Transfer* transfer, HttpResult result);
  // Runs the completion thread: callbacks queued by FinishTransfer, until stopping and drained.
  void RunCompletions();

  const CurlTransportOptions options_;
  void* multi_;        // CURLM*, owned; used by the loop thread only.
  int epoll_fd_ = -1;  // The sockets libcurl asks to watch, and wake_fd_. Owned.
  int wake_fd_ = -1;   // An eventfd that Send, Cancel and the destructor write to wake the loop. Owned.

  absl::Mutex mutex_;
  uint64_t next_id_ ABSL_GUARDED_BY(mutex_) = 1;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::deque<std::unique_ptr<Transfer>> pending_ ABSL_GUARDED_BY(mutex_);
  std::vector<uint64_t> cancelled_ ABSL_GUARDED_BY(mutex_);

  // Finished transfers' callbacks with their results, for the completion thread.
  absl::Mutex completions_mutex_;
  std::deque<std::pair<Callback, HttpResult>> completions_ ABSL_GUARDED_BY(completions_mutex_);
  bool completions_closed_ ABSL_GUARDED_BY(completions_mutex_) = false;

  // Owned by the loop thread only.
  std::map<uint64_t, std::unique_ptr<Transfer>> active_;
  // When libcurl wants to be called with CURL_SOCKET_TIMEOUT (its timer callback); none when it has no timer.
  std::optional<absl::Time> timer_due_;
  // Easy handles of finished transfers (reset), reused rather than created and freed for every call: a handle
  // holds kilobytes of state and buffers. At most max_connections are kept.
  std::vector<void*> idle_handles_;
  void* headers_;  // curl_slist*, owned: the same for every request.

  std::thread thread_;
  std::thread completion_thread_;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_TRANSPORT_CURL_TRANSPORT_H_

#include "bridge/transport/curl_transport.h"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bridge/core/log.h"
#include "bridge/core/thread_name.h"

namespace portrait_bridge {

// libcurl's receive buffer. Its default, 16 KiB, reads a 100-account answer of about 32 KiB in two recvfrom calls with
// a poll between them; 64 KiB takes it in one.
constexpr long kReceiveBufferBytes = 64 * 1024;

struct CurlTransport::Transfer {
  uint64_t id = 0;
  HttpRequest request;
  Callback done;
  CURL* easy = nullptr;
  std::string body;
  bool body_too_large = false;
  int sends = 0;  // How often libcurl was about to write the request (PREREQFUNCTION calls).
  bool resend_refused = false;
  std::optional<absl::Duration> refused_before_send;
  int64_t max_body_bytes = 0;
  char error[CURL_ERROR_SIZE] = {};
  absl::Time queued_at;  // When Send took it.
};

namespace {

// Where a URL's request target (its path and query) starts: after "scheme://authority". npos when it has none.
size_t RequestTargetStart(std::string_view url) {
  const size_t authority = url.find("://");
  return authority == std::string_view::npos ? std::string_view::npos : url.find('/', authority + 3);
}

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  body->append(data, size * count);
  return size * count;
}

}  // namespace

// libcurl calls this right before it writes the request to a connection: the moment the upstream budget is
// spent. A second call for one transfer is libcurl resending on its own after a reused connection died; that send
// is refused, so the failure reaches the upstream client as a lost connection (a counted attempt that takes a slot
// of its own when it is retried).
int CurlTransport::BeforeSend(void* user, char* /*primary_ip*/, char* /*local_ip*/, int /*primary_port*/,
                              int /*local_port*/) {
  auto* transfer = static_cast<CurlTransport::Transfer*>(user);
  if (++transfer->sends > 1) {
    transfer->resend_refused = true;
    return CURL_PREREQFUNC_ABORT;
  }
  if (transfer->request.before_send) {
    transfer->refused_before_send = transfer->request.before_send();
    if (transfer->refused_before_send.has_value()) return CURL_PREREQFUNC_ABORT;
  }
  return CURL_PREREQFUNC_OK;
}

namespace {

TransportFailure Classify(CURLcode code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return TransportFailure::kTimeout;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
      return TransportFailure::kConnect;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WRITE_ERROR:
      return TransportFailure::kConnectionLost;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return TransportFailure::kTlsVerification;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return TransportFailure::kBadConfiguration;
    default:
      return TransportFailure::kOther;
  }
}

}  // namespace

CurlTransport::CurlTransport(CurlTransportOptions options) : options_(std::move(options)) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  multi_ = curl_multi_init();
  // No "Expect: 100-continue" round trip for bodies over 1 KiB.
  headers_ = curl_slist_append(curl_slist_append(nullptr, "Content-Type: application/json"), "Expect:");
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(options_.max_connections));
  curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(options_.max_connections));
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    // Only when the process is out of file descriptors at start: no transfer can run without them.
    Log(LogLevel::kError, "HTTP transport cannot create its epoll set or eventfd", {{"error", std::strerror(errno)}});
    std::abort();
  }
  epoll_event wake{};
  wake.events = EPOLLIN;
  wake.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &OnSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &OnTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  completion_thread_ = std::thread([this] {
    NameThisThread("curl-results");
    RunCompletions();
  });
  thread_ = std::thread([this] {
    NameThisThread("curl-loop");
    Run();
  });
}

CurlTransport::~CurlTransport() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  Wake();
  thread_.join();  // Every transfer has been finished (and queued) by now.
  {
    absl::MutexLock lock(&completions_mutex_);
    completions_closed_ = true;
  }
  completion_thread_.join();
  for (void* easy : idle_handles_) curl_easy_cleanup(static_cast<CURL*>(easy));
  curl_multi_cleanup(multi_);
  curl_slist_free_all(static_cast<curl_slist*>(headers_));
  close(wake_fd_);
  close(epoll_fd_);
}

void CurlTransport::Wake() {
  const uint64_t one = 1;
  // Fails only when the counter is at its maximum, which still wakes the loop.
  [[maybe_unused]] const ssize_t written = write(wake_fd_, &one, sizeof(one));
}

// What a socket is registered for in the epoll set, kept by libcurl with the socket (curl_multi_assign): the
// epoll events, and a bit that says it is registered at all (libcurl starts every socket with null).
constexpr uintptr_t kRegistered = uintptr_t{1} << 20;

int CurlTransport::OnSocket(void* /*easy*/, int socket, int what, void* user, void* socket_data) {
  auto* self = static_cast<CurlTransport*>(user);
  const auto registered = reinterpret_cast<uintptr_t>(socket_data);
  if (what == CURL_POLL_REMOVE) {
    // libcurl forgets the socket's data itself. The socket may be closed already, which removed it from the set.
    if (registered != 0) epoll_ctl(self->epoll_fd_, EPOLL_CTL_DEL, socket, nullptr);
    return 0;
  }
  const uint32_t events = ((what & CURL_POLL_IN) != 0 ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) != 0 ? EPOLLOUT : 0u);
  if (registered == (events | kRegistered)) return 0;
  epoll_event event{};
  event.events = events;
  event.data.fd = socket;
  epoll_ctl(self->epoll_fd_, registered != 0 ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, socket, &event);
  curl_multi_assign(self->multi_, socket, reinterpret_cast<void*>(events | kRegistered));
  return 0;
}

int CurlTransport::OnTimer(void* /*multi*/, long timeout_ms, void* user) {
  auto* self = static_cast<CurlTransport*>(user);
  if (timeout_ms < 0) {
    self->timer_due_.reset();
  } else {
    self->timer_due_ = absl::Now() + absl::Milliseconds(timeout_ms);
  }
  return 0;
}

uint64_t CurlTransport::Send(HttpRequest request, Callback done) {
  auto transfer = std::make_unique<Transfer>();
  transfer->request = std::move(request);
  transfer->done = std::move(done);
  transfer->max_body_bytes = options_.max_body_bytes;
  if (options_.on_start_lag) transfer->queued_at = absl::Now();
  uint64_t id = 0;
  {
    absl::MutexLock lock(&mutex_);
    id = next_id_++;
    transfer->id = id;
    pending_.push_back(std::move(transfer));
  }
  Wake();
  return id;
}

void CurlTransport::Cancel(uint64_t id) {
  {
    absl::MutexLock lock(&mutex_);
    cancelled_.push_back(id);
  }
  Wake();
}

void CurlTransport::FinishTransfer(Transfer* transfer, HttpResult result) {
  if (transfer->easy != nullptr) {
    curl_multi_remove_handle(multi_, transfer->easy);
    if (static_cast<int64_t>(idle_handles_.size()) < options_.max_connections) {
      curl_easy_reset(transfer->easy);  // Back to default options; connections live in the multi handle anyway.
      idle_handles_.push_back(transfer->easy);
    } else {
      curl_easy_cleanup(transfer->easy);
    }
  }
  {
    absl::MutexLock lock(&completions_mutex_);
    completions_.emplace_back(std::move(transfer->done), std::move(result));
  }
  active_.erase(transfer->id);
}

void CurlTransport::RunCompletions() {
  while (true) {
    std::deque<std::pair<Callback, HttpResult>> batch;
    {
      absl::MutexLock lock(&completions_mutex_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(completions_mutex_) {
        return !completions_.empty() || completions_closed_;
      };
      completions_mutex_.Await(absl::Condition(&ready));
      if (completions_.empty()) return;  // Closed and drained.
      batch.swap(completions_);
    }
    for (auto& [done, result] : batch) std::move(done)(std::move(result));
  }
}

void CurlTransport::StartPending() {
  std::deque<std::unique_ptr<Transfer>> pending;
  std::vector<uint64_t> cancelled;
  {
    absl::MutexLock lock(&mutex_);
    pending.swap(pending_);
    cancelled.swap(cancelled_);
  }
  const absl::Time now = options_.on_start_lag && !pending.empty() ? absl::Now() : absl::InfinitePast();
  for (std::unique_ptr<Transfer>& owned : pending) {
    Transfer* transfer = owned.get();
    if (options_.on_start_lag) options_.on_start_lag(now - transfer->queued_at);
    active_[transfer->id] = std::move(owned);
    CURL* easy = nullptr;
    if (idle_handles_.empty()) {
      easy = curl_easy_init();
    } else {
      easy = static_cast<CURL*>(idle_handles_.back());
      idle_handles_.pop_back();
    }
    transfer->easy = easy;
    // libcurl 7.88 writes a URL set whole into the request one character at a time, several times over: with the
    // UserSig in the query, tens of thousands of instructions per call (callgrind). So it gets the origin as its URL
    // and the path and query as the request target, copied into the request as they are. A forward proxy would need the
    // whole URL in the request line: any proxy (from http_proxy or https_proxy) is asked for a tunnel instead.
    const size_t target = RequestTargetStart(transfer->request.url);
    if (target == std::string_view::npos) {
      curl_easy_setopt(easy, CURLOPT_URL, transfer->request.url.c_str());
      curl_easy_setopt(easy, CURLOPT_REQUEST_TARGET, nullptr);
    } else {
      curl_easy_setopt(easy, CURLOPT_URL, transfer->request.url.substr(0, target).c_str());  // libcurl copies it.
      curl_easy_setopt(easy, CURLOPT_REQUEST_TARGET, transfer->request.url.c_str() + target);
    }
    curl_easy_setopt(easy, CURLOPT_HTTPPROXYTUNNEL, 1L);
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, transfer->request.body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(transfer->request.body.size()));
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(headers_));
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(transfer->request.timeout))));
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, kReceiveBufferBytes);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_bundle.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_bundle.c_str());
    curl_easy_setopt(
        easy, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t count, void* user) -> size_t {
          auto* t = static_cast<Transfer*>(user);
          if (static_cast<int64_t>(t->body.size() + size * count) > t->max_body_bytes) {
            t->body_too_large = true;
            return 0;  // Makes curl fail the transfer with CURLE_WRITE_ERROR.
          }
          if (t->body.empty()) {
            // The whole answer at once rather than grown by doubling, when its length is announced.
            curl_off_t length = -1;
            if (curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) == CURLE_OK && length > 0) {
              t->body.reserve(static_cast<size_t>(std::min<curl_off_t>(length, t->max_body_bytes)));
            }
          }
          return AppendBody(data, size, count, &t->body);
        });
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, transfer);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, transfer);
    curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, &BeforeSend);
    curl_easy_setopt(easy, CURLOPT_PREREQDATA, transfer);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer->error);
    curl_multi_add_handle(multi_, easy);
  }
  for (uint64_t id : cancelled) {
    if (auto it = active_.find(id); it != active_.end()) {
      HttpResult result;
      result.cancelled = true;
      FinishTransfer(it->second.get(), std::move(result));
    }
  }
}

void CurlTransport::Act(int socket, int events) {
  int running = 0;
  curl_multi_socket_action(multi_, socket, events, &running);
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
    if (message->msg != CURLMSG_DONE) continue;
    Transfer* transfer = nullptr;
    curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&transfer));
    HttpResult result;
    const CURLcode code = message->data.result;
    if (transfer->refused_before_send.has_value()) {
      result.refused_before_send = transfer->refused_before_send;
    } else if (transfer->resend_refused) {
      result.failure = TransportFailure::kConnectionLost;
      result.failure_detail =
          "the connection closed before an answer came (the request is not resent outside "
          "the budget; it is retried as a new attempt)";
    } else if (code == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &status);
      result.status = static_cast<int>(status);
      result.body = std::move(transfer->body);
    } else {
      result.failure = Classify(code);
      // The error buffer names hosts and ports, never the URL's query (which holds the UserSig).
      result.failure_detail = transfer->body_too_large
                                  ? absl::StrCat("answer larger than ", transfer->max_body_bytes, " bytes")
                                  : (transfer->error[0] != '\0' ? transfer->error : curl_easy_strerror(code));
    }
    FinishTransfer(transfer, std::move(result));
  }
}

void CurlTransport::Run() {
  constexpr int kMaxEvents = 64;
  epoll_event events[kMaxEvents];
  while (true) {
    StartPending();  // New transfers set libcurl's timer to now, so they start below.
    {
      absl::MutexLock lock(&mutex_);
      if (stopping_) break;
    }
    // Sleep until a socket or the wake-up is ready or libcurl's timer is due (at most a second: a missed wake-up
    // costs no more than that).
    int wait_ms = 1000;
    if (timer_due_.has_value()) {
      wait_ms = static_cast<int>(std::clamp<int64_t>(
          absl::ToInt64Milliseconds(absl::Ceil(*timer_due_ - absl::Now(), absl::Milliseconds(1))), 0, wait_ms));
    }
    // Due now (a transfer just added): straight to libcurl; ready sockets wait for the next round.
    const int ready = wait_ms == 0 ? 0 : epoll_wait(epoll_fd_, events, kMaxEvents, wait_ms);
    for (int i = 0; i < ready; ++i) {
      if (events[i].data.fd == wake_fd_) {
        uint64_t count = 0;
        [[maybe_unused]] const ssize_t read_bytes = read(wake_fd_, &count, sizeof(count));
        continue;
      }
      const uint32_t what = events[i].events;
      Act(events[i].data.fd, ((what & (EPOLLIN | EPOLLHUP)) != 0 ? CURL_CSELECT_IN : 0) |
                                 ((what & EPOLLOUT) != 0 ? CURL_CSELECT_OUT : 0) |
                                 ((what & EPOLLERR) != 0 ? CURL_CSELECT_ERR : 0));
    }
    if (timer_due_.has_value() && absl::Now() >= *timer_due_) {
      timer_due_.reset();  // libcurl sets it again if it still needs one.
      Act(CURL_SOCKET_TIMEOUT, 0);
    }
  }
  // Shutting down: whatever is still queued or running is cancelled, so every callback runs exactly once.
  StartPending();
  while (!active_.empty()) {
    HttpResult result;
    result.cancelled = true;
    FinishTransfer(active_.begin()->second.get(), std::move(result));
  }
}

}  // namespace portrait_bridge

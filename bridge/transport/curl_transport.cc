#include "bridge/transport/curl_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"

namespace portrait_bridge {

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
  completion_thread_ = std::thread([this] { RunCompletions(); });
  thread_ = std::thread([this] { Run(); });
}

CurlTransport::~CurlTransport() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  curl_multi_wakeup(multi_);
  thread_.join();  // Every transfer has been finished (and queued) by now.
  {
    absl::MutexLock lock(&completions_mutex_);
    completions_closed_ = true;
  }
  completion_thread_.join();
  for (void* easy : idle_handles_) curl_easy_cleanup(static_cast<CURL*>(easy));
  curl_multi_cleanup(multi_);
  curl_slist_free_all(static_cast<curl_slist*>(headers_));
}

uint64_t CurlTransport::Send(HttpRequest request, Callback done) {
  auto transfer = std::make_unique<Transfer>();
  transfer->request = std::move(request);
  transfer->done = std::move(done);
  transfer->max_body_bytes = options_.max_body_bytes;
  uint64_t id = 0;
  {
    absl::MutexLock lock(&mutex_);
    id = next_id_++;
    transfer->id = id;
    pending_.push_back(std::move(transfer));
  }
  curl_multi_wakeup(multi_);
  return id;
}

void CurlTransport::Cancel(uint64_t id) {
  {
    absl::MutexLock lock(&mutex_);
    cancelled_.push_back(id);
  }
  curl_multi_wakeup(multi_);
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
  for (std::unique_ptr<Transfer>& owned : pending) {
    Transfer* transfer = owned.get();
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

void CurlTransport::Run() {
  while (true) {
    StartPending();
    int running = 0;
    curl_multi_perform(multi_, &running);
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
    {
      absl::MutexLock lock(&mutex_);
      if (stopping_) break;
    }
    curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
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

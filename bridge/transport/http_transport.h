#ifndef PORTRAIT_BRIDGE_TRANSPORT_HTTP_TRANSPORT_H_
#define PORTRAIT_BRIDGE_TRANSPORT_HTTP_TRANSPORT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "bridge/core/error_table.h"

namespace portrait_bridge {

/// One HTTP POST with a JSON body.
struct HttpRequest {
  std::string url;  ///< Holds the UserSig: implementations never log it or put it in an error.
  std::string body;
  absl::Duration timeout;  ///< For the whole attempt: connect, send, wait and receive.
  /// Called on the transport thread when the request is about to be written to a connection (once it is made, or
  /// its reuse confirmed), with nothing sent yet. nullopt: send it. A duration: do not send; the request ends with
  /// HttpResult::refused_before_send holding it. Empty: always send. This is where the upstream budget is spent.
  /// A request is sent at most once: when a reused connection turns out dead before any answer, the transport
  /// reports a lost connection rather than resending on its own, outside the budget and the retry count.
  std::function<std::optional<absl::Duration>()> before_send;
};

/// The outcome of an HttpRequest: a response (any status), a transport failure, or a cancellation.
struct HttpResult {
  bool cancelled = false;
  /// before_send refused the request: nothing was sent. Holds the wait it asked for.
  std::optional<absl::Duration> refused_before_send;
  std::optional<TransportFailure> failure;
  std::string failure_detail;  ///< What the transport said, without the URL.
  int status = 0;
  std::string body;
};

/// Sends HTTP requests without blocking the caller. Thread-safe.
class HttpTransport {
 public:
  using Callback = absl::AnyInvocable<void(HttpResult) &&>;
  virtual ~HttpTransport() = default;

  /// Starts `request`; `done` runs exactly once, on a transport thread (never inside Send), with the result.
  /// Returns an id for Cancel.
  virtual uint64_t Send(HttpRequest request, Callback done) = 0;

  /// Aborts the request: `done` then runs with cancelled = true, unless it has already run or is running.
  virtual void Cancel(uint64_t id) = 0;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_TRANSPORT_HTTP_TRANSPORT_H_

#ifndef PORTRAIT_BRIDGE_TRANSPORT_REDIS_CLIENT_H_
#define PORTRAIT_BRIDGE_TRANSPORT_REDIS_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bridge/core/redis_url.h"

namespace portrait_bridge {

/// Where and how to reach Redis.
struct RedisOptions {
  /// Where Redis listens (see ParseRedisUrl).
  RedisAddress address;
  /// Sent with AUTH after every (re)connect when not empty. Never logged or put in an error.
  std::string password;
  /// A command whose reply has not come within this time fails with DEADLINE_EXCEEDED, and the connection is
  /// dropped and made again (a Redis that is slow for one command is likely slow for the next).
  absl::Duration timeout = absl::Milliseconds(10);
  /// How long after a failed or lost connection the next attempt is made.
  absl::Duration reconnect_interval = absl::Milliseconds(500);
  /// Commands sent and not yet answered, at most; beyond it Command fails at once with UNAVAILABLE.
  int64_t max_outstanding = 10000;
};

/// One Redis reply, copied out of hiredis.
struct RedisReply {
  enum class Type { kNil, kInteger, kString, kStatus, kError, kArray };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;  ///< For kString (binary-safe), kStatus and kError.
  std::vector<RedisReply> elements;
};

/// A Redis connection driven by hiredis's asynchronous API on an event loop thread of its own (poll() over the
/// connection's socket and a wake-up eventfd): no other thread ever waits for Redis. Commands from any thread
/// are queued and pipelined on the one connection. It connects at construction and reconnects by itself.
///
/// Connecting: a non-blocking connect bounded by max(options.timeout, 1 s), then AUTH (when a password is set) and
/// SELECT (when the database is not 0, TCP only), or a PING when neither is sent, each bounded by options.timeout.
/// Only when these have answered does connected() turn true; any failure drops the connection and the next attempt
/// comes options.reconnect_interval later. Each change of state (connected, lost, cannot connect) is logged once,
/// retries are not. A host name is resolved with a blocking getaddrinfo on the loop thread.
///
/// Thread-safe. Every `done` runs exactly once, on the loop thread, never inside Command, and must not block. A
/// `done` may call Command (e.g. to send the next command); it must not destroy the client.
class RedisClient {
 public:
  using Done = absl::AnyInvocable<void(absl::StatusOr<RedisReply>) &&>;

  explicit RedisClient(RedisOptions options);
  /// Fails what is still queued or unanswered with CANCELLED (also what a `done` sends meanwhile) and joins the
  /// loop thread.
  ~RedisClient();

  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  /// Sends one command, given as its arguments (binary-safe, e.g. {"SET", key, value, "PX", "1000"}). `done`
  /// gets the reply (a Redis error reply is an OK status holding a kError reply), UNAVAILABLE when there is no
  /// connection (no command waits for a connection to be made), it was lost before the reply, or max_outstanding
  /// commands are unanswered, DEADLINE_EXCEEDED after options.timeout (counted from this call), CANCELLED when the
  /// client is destroyed first, or INVALID_ARGUMENT for no arguments or a command that does not answer once
  /// ((P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, MONITOR). Error messages name the address, never the password.
  void Command(std::vector<std::string> args, Done done);

  /// Whether the connection is up (and authenticated) right now.
  bool connected() const;

  /// Connection attempts so far: those that completed their handshake, and those that could not connect or had
  /// their handshake refused or unanswered. Tests wait on these instead of sleeping through reconnect intervals.
  struct Attempts {
    int64_t connected = 0;
    int64_t failed = 0;
  };
  Attempts attempts() const;

 private:
  class Loop;
  std::unique_ptr<Loop> loop_;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_TRANSPORT_REDIS_CLIENT_H_

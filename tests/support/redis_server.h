#ifndef PORTRAIT_BRIDGE_TESTS_SUPPORT_REDIS_SERVER_H_
#define PORTRAIT_BRIDGE_TESTS_SUPPORT_REDIS_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"

namespace portrait_bridge::testing {

/// A real redis-server for tests and the benchmark: on a free loopback port (redis-server's `--port 0` would disable
/// TCP) or on a unix socket only, without persistence (`--save '' --appendonly no`), in a temporary directory.
///
/// Not thread-safe: drive it from one thread. The destructor resumes a paused server and stops it by PID.
class RedisServer {
 public:
  struct Options {
    /// Non-empty: required with `--requirepass`.
    std::string password;
    /// Listen on `unix_socket()` in the temporary directory instead of TCP.
    bool unix_socket = false;
    /// The redis-server to run; empty: $REDIS_SERVER_BINARY, else `redis-server` from PATH.
    std::string binary;
  };

  /// Starts the server and waits until it answers PING; throws (failing the test) when it does not.
  explicit RedisServer(Options options);
  explicit RedisServer(const std::string& password = "") : RedisServer(Options{password, false, ""}) {}
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  /// The TCP port (0 on a unix socket).
  int port() const { return port_; }
  /// The socket's path, when started with Options::unix_socket (empty otherwise).
  const std::string& unix_socket() const { return unix_socket_; }
  /// `redis://127.0.0.1:<port>` of a TCP server, as the bridge's *_redis_url flags take it.
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  /// The server's PID, or -1 while stopped.
  int pid() const;

  /// Stops the server (SIGTERM, then SIGKILL) and waits for its exit. Its data is lost.
  void Stop();
  /// Kills the server (SIGKILL), as a crash would: clients get no goodbye. Its data is lost.
  void Kill();
  /// Starts it again on the same port (after Stop or Kill) and waits until it answers PING.
  void Restart();
  /// Freezes the server (SIGSTOP): connections stay open and commands go unanswered, as with a hung Redis.
  void Pause();
  /// Thaws a paused server (SIGCONT).
  void Resume();

  /// One reply of the server, parsed from RESP.
  struct Reply {
    enum class Type { kNil, kInteger, kString, kStatus, kError, kArray };
    Type type = Type::kNil;
    int64_t integer = 0;
    std::string str;
    std::vector<Reply> elements;
  };
  /// Sends one command (binary-safe arguments) on a fresh connection, authenticating first if needed, and
  /// returns the reply; throws when the server cannot be reached within a second.
  Reply Command(const std::vector<std::string>& args) const;

 private:
  void Start();
  bool AnswersPing() const;

  const Options options_;
  const std::string binary_;
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Subprocess> process_;
  int port_ = 0;
  std::string unix_socket_;
  bool paused_ = false;
};

}  // namespace portrait_bridge::testing

#endif  // PORTRAIT_BRIDGE_TESTS_SUPPORT_REDIS_SERVER_H_

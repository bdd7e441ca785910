#include "tests/support/redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <utility>

#include "tests/support/loopback.h"

namespace portrait_bridge::testing {
namespace {

std::string RedisServerBinary() {
  if (const char* binary = std::getenv("REDIS_SERVER_BINARY"); binary != nullptr && *binary != '\0') return binary;
  const char* path = std::getenv("PATH");
  std::string directories = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= directories.size()) {
    size_t end = directories.find(':', start);
    if (end == std::string::npos) end = directories.size();
    const std::string candidate = directories.substr(start, end - start) + "/redis-server";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  throw std::runtime_error("redis-server not found (install redis-server or set REDIS_SERVER_BINARY)");
}

// A blocking connection with one-second timeouts, to loopback `port` or, when it is not empty, to `unix_socket`;
// closed on destruction.
class Connection {
 public:
  Connection(int port, const std::string& unix_socket)
      : fd_(socket(unix_socket.empty() ? AF_INET : AF_UNIX, SOCK_STREAM, 0)) {
    if (fd_ < 0) throw std::runtime_error("socket failed");
    timeval timeout{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    int connected = -1;
    if (unix_socket.empty()) {
      const sockaddr_in address = LoopbackAddress(port);
      connected = connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
    } else {
      sockaddr_un address{};
      address.sun_family = AF_UNIX;
      unix_socket.copy(address.sun_path, sizeof(address.sun_path) - 1);
      connected = connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
    }
    if (connected != 0) {
      close(fd_);
      throw std::runtime_error("cannot connect to redis-server at " +
                               (unix_socket.empty() ? "port " + std::to_string(port) : unix_socket));
    }
  }
  ~Connection() { close(fd_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  RedisServer::Reply Command(const std::vector<std::string>& args) {
    std::string request = "*" + std::to_string(args.size()) + "\r\n";
    for (const std::string& arg : args) request += "$" + std::to_string(arg.size()) + "\r\n" + arg + "\r\n";
    for (size_t sent = 0; sent < request.size();) {
      const ssize_t n = send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send to redis-server failed");
      sent += static_cast<size_t>(n);
    }
    return ReadReply();
  }

 private:
  RedisServer::Reply ReadReply() {
    using Type = RedisServer::Reply::Type;
    const std::string line = ReadLine();
    if (line.empty()) throw std::runtime_error("empty line from redis-server");
    RedisServer::Reply reply;
    const std::string rest = line.substr(1);
    switch (line[0]) {
      case '+':
        reply.type = Type::kStatus;
        reply.str = rest;
        return reply;
      case '-':
        reply.type = Type::kError;
        reply.str = rest;
        return reply;
      case ':':
        reply.type = Type::kInteger;
        reply.integer = std::stoll(rest);
        return reply;
      case '$': {
        const long long size = std::stoll(rest);
        if (size < 0) return reply;  // Nil.
        reply.type = Type::kString;
        reply.str = ReadExactly(static_cast<size_t>(size) + 2).substr(0, static_cast<size_t>(size));
        return reply;
      }
      case '*': {
        const long long count = std::stoll(rest);
        if (count < 0) return reply;
        reply.type = Type::kArray;
        for (long long i = 0; i < count; ++i) reply.elements.push_back(ReadReply());
        return reply;
      }
    }
    throw std::runtime_error("unexpected reply from redis-server: " + line);
  }

  std::string ReadLine() {
    std::string line;
    while (line.size() < 2 || line.compare(line.size() - 2, 2, "\r\n") != 0) line += ReadExactly(1);
    return line.substr(0, line.size() - 2);
  }

  std::string ReadExactly(size_t size) {
    std::string data(size, '\0');
    for (size_t read = 0; read < size;) {
      const ssize_t n = recv(fd_, data.data() + read, size - read, 0);
      if (n <= 0) throw std::runtime_error("no reply from redis-server");
      read += static_cast<size_t>(n);
    }
    return data;
  }

  const int fd_;
};

}  // namespace

RedisServer::RedisServer(Options options)
    : options_(std::move(options)), binary_(options_.binary.empty() ? RedisServerBinary() : options_.binary) {
  if (options_.unix_socket) {
    Start();
    return;
  }
  for (int attempt = 0;; ++attempt) {
    port_ = FreeLoopbackPort();  // Another process may take it before redis-server binds: Start retries.
    try {
      Start();
      return;
    } catch (const std::runtime_error&) {
      if (attempt == 4) throw;  // Five ports taken in between is not a race any more.
    }
  }
}

RedisServer::~RedisServer() {
  if (process_ != nullptr) Stop();
}

int RedisServer::pid() const { return process_ != nullptr ? process_->pid() : -1; }

void RedisServer::Start() {
  dir_ = std::make_unique<TempDir>();
  std::vector<std::string> args = {"--save", "", "--appendonly", "no", "--dir", dir_->Path("")};
  if (options_.unix_socket) {
    unix_socket_ = dir_->Path("redis.sock");
    args.insert(args.end(), {"--port", "0", "--unixsocket", unix_socket_, "--unixsocketperm", "700"});
  } else {
    args.insert(args.end(), {"--port", std::to_string(port_), "--bind", "127.0.0.1"});
  }
  if (!options_.password.empty()) args.insert(args.end(), {"--requirepass", options_.password});
  process_ = std::make_unique<Subprocess>(binary_, args);
  paused_ = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (AnswersPing()) return;
    if (!process_->Running()) break;  // Most likely the port was taken meanwhile.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const std::string output = process_->Output();
  Stop();
  throw std::runtime_error("redis-server did not answer PING at " +
                           (unix_socket_.empty() ? "port " + std::to_string(port_) : unix_socket_) + ":\n" + output);
}

bool RedisServer::AnswersPing() const {
  try {
    const Reply pong = Command({"PING"});
    if (pong.type != Reply::Type::kStatus || pong.str != "PONG") return false;
    // Ours, not another server that took the port after FreeLoopbackPort.
    const Reply info = Command({"INFO", "server"});
    return info.str.find("process_id:" + std::to_string(process_->pid()) + "\r\n") != std::string::npos;
  } catch (const std::runtime_error&) {
    return false;
  }
}

void RedisServer::Stop() {
  if (process_ == nullptr) return;
  Resume();  // A stopped process would not act on SIGTERM.
  if (process_->SignalAndWait(SIGTERM, 5000) == -1) process_->SignalAndWait(SIGKILL, 5000);
  process_.reset();
  dir_.reset();
}

void RedisServer::Kill() {
  if (process_ == nullptr) return;
  process_->SignalAndWait(SIGKILL, 5000);  // Paused or not.
  process_.reset();
  paused_ = false;
}

void RedisServer::Restart() {
  Stop();
  Start();
}

void RedisServer::Pause() {
  if (process_ == nullptr || paused_) return;
  kill(process_->pid(), SIGSTOP);
  paused_ = true;
}

void RedisServer::Resume() {
  if (process_ == nullptr || !paused_) return;
  kill(process_->pid(), SIGCONT);
  paused_ = false;
}

RedisServer::Reply RedisServer::Command(const std::vector<std::string>& args) const {
  Connection connection(port_, unix_socket_);
  if (!options_.password.empty()) {
    const Reply auth = connection.Command({"AUTH", options_.password});
    if (auth.type == Reply::Type::kError) throw std::runtime_error("AUTH refused: " + auth.str);
  }
  return connection.Command(args);
}

}  // namespace portrait_bridge::testing

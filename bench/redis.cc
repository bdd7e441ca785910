#include "bench/redis.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/support/loopback.h"

namespace portrait_bridge::bench {
namespace {

std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  const std::string directories = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  for (size_t start = 0; start <= directories.size();) {
    size_t end = directories.find(':', start);
    if (end == std::string::npos) end = directories.size();
    const std::string candidate = directories.substr(start, end - start) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  throw std::runtime_error(name + " not found on PATH (install redis-server, or pass --redis_binary)");
}

// A loopback socket with one-second timeouts, closed on destruction.
class Socket {
 public:
  Socket() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    if (fd_ < 0) throw std::runtime_error("socket failed");
    timeval timeout{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  }
  ~Socket() { close(fd_); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  const int fd_;
};

bool AnswersPing(int port) {
  Socket s;
  const sockaddr_in address = testing::LoopbackAddress(port);
  if (connect(s.fd(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) return false;
  constexpr char kPing[] = "PING\r\n";
  if (send(s.fd(), kPing, sizeof(kPing) - 1, MSG_NOSIGNAL) != sizeof(kPing) - 1) return false;
  char reply[16] = {};
  const ssize_t n = recv(s.fd(), reply, sizeof(reply) - 1, 0);
  return n > 0 && std::string(reply, static_cast<size_t>(n)) == "+PONG\r\n";
}

}  // namespace

RedisProcess::RedisProcess(const std::string& binary) {
  const std::string path = binary.empty() ? FindOnPath("redis-server") : binary;
  for (int attempt = 0;; ++attempt) {
    port_ = testing::FreeLoopbackPort();  // Another process may take it before redis-server binds: retried.
    process_ = std::make_unique<testing::Subprocess>(
        path, std::vector<std::string>{"--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no", "--dir", dir_.Path("")});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline && process_->Running()) {
      // Running after PONG: ours answered, not another server that took the port meanwhile.
      if (AnswersPing(port_) && process_->Running()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const std::string output = process_->Output();
    process_.reset();  // Stops it by PID if it still runs.
    if (attempt == 4) {
      throw std::runtime_error("redis-server did not answer PING on port " + std::to_string(port_) + ":\n" + output);
    }
  }
}

}  // namespace portrait_bridge::bench

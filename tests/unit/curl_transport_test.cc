// The curl transport against a local HTTP server (and a tunnelling proxy) on free ports: what goes on the wire.

#include "bridge/transport/curl_transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/support/loopback.h"
#include "tests/unit/thread_names.h"

namespace portrait_bridge {
namespace {

using ::portrait_bridge::testing::LoopbackAddress;

// Records the request target and body of every POST it answers.
class RecordingServer {
 public:
  RecordingServer() {
    server_.Post(".*", [this](const httplib::Request& request, httplib::Response& response) {
      {
        absl::MutexLock lock(&mutex_);
        received_.push_back({request.target, request.body});
      }
      response.set_content("{}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");  // Listening from here: connections wait to be accepted.
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~RecordingServer() {
    server_.stop();
    thread_.join();
  }

  std::string Url(const std::string& rest) const { return "http://127.0.0.1:" + std::to_string(port_) + rest; }
  // Each request's target and body, in arrival order.
  std::vector<std::pair<std::string, std::string>> received() const {
    absl::MutexLock lock(&mutex_);
    return received_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable absl::Mutex mutex_;
  std::vector<std::pair<std::string, std::string>> received_ ABSL_GUARDED_BY(mutex_);
};

// An HTTP proxy that only tunnels: it takes one connection, records its request head, answers a CONNECT with 200 and
// relays bytes both ways until either side closes; anything else gets 400.
class TunnellingProxy {
 public:
  TunnellingProxy() {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address = LoopbackAddress(0);  // The kernel picks the port.
    socklen_t length = sizeof(address);
    if (bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(listener_, 4) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "the proxy cannot listen";
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TunnellingProxy() {
    shutdown(listener_, SHUT_RDWR);
    thread_.join();
    close(listener_);
  }

  int port() const { return port_; }
  // The request head of the connection it took (empty before one came).
  std::string head() const {
    absl::MutexLock lock(&mutex_);
    return head_;
  }

 private:
  void Serve() {
    const int client = accept(listener_, nullptr, nullptr);
    if (client < 0) return;
    std::string head;
    char buffer[4096];
    while (head.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = read(client, buffer, sizeof(buffer));
      if (n <= 0) break;
      head.append(buffer, static_cast<size_t>(n));
    }
    {
      absl::MutexLock lock(&mutex_);
      head_ = head;
    }
    int target_port = 0;
    if (std::sscanf(head.c_str(), "CONNECT 127.0.0.1:%d ", &target_port) != 1) {
      const char refusal[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!write(client, refusal, sizeof(refusal) - 1);
      close(client);
      return;
    }
    const int upstream = socket(AF_INET, SOCK_STREAM, 0);
    const sockaddr_in address = LoopbackAddress(target_port);
    if (connect(upstream, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0) {
      const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";
      (void)!write(client, established, sizeof(established) - 1);
      pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
      bool open = true;
      while (open && poll(fds, 2, 5000) > 0) {
        for (int i = 0; i < 2 && open; ++i) {
          if (fds[i].revents == 0) continue;
          const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
          open = n > 0 && write(fds[1 - i].fd, buffer, static_cast<size_t>(n)) == n;
        }
      }
    }
    close(upstream);
    close(client);
  }

  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
  mutable absl::Mutex mutex_;
  std::string head_ ABSL_GUARDED_BY(mutex_);
};

// Sets an environment variable for the life of the object.
class ScopedEnvironment {
 public:
  ScopedEnvironment(const char* name, const std::string& value) : name_(name) { setenv(name, value.c_str(), 1); }
  ~ScopedEnvironment() { unsetenv(name_); }

 private:
  const char* name_;
};

HttpResult SendAndWait(CurlTransport& transport, const std::string& url, const std::string& body) {
  HttpRequest request;
  request.url = url;
  request.body = body;
  request.timeout = absl::Seconds(10);
  std::promise<HttpResult> answered;
  transport.Send(std::move(request), [&](HttpResult result) { answered.set_value(std::move(result)); });
  return answered.get_future().get();
}

// The transport hands libcurl the URL's origin and its path and query as the request target (cheaper than the
// whole URL); the request line must still carry the path and query exactly as given, UserSig characters included.
TEST(CurlTransportTest, TheRequestLineCarriesThePathAndQueryAsGiven) {
  RecordingServer server;
  CurlTransport transport({});
  const std::string target =
      "/prefix/v4/profile/portrait_get?sdkappid=1400000000&identifier=administrator"
      "&usersig=eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS80oy0zLBwilAuciW-ZQ-_*&random=42&contenttype=json";
  const HttpResult first = SendAndWait(transport, server.Url(target), "{\"a\":1}");
  ASSERT_FALSE(first.failure.has_value()) << first.failure_detail;
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, "{}");
  // A second request on the reused handle and connection gets its own target, not the first one's.
  const HttpResult second = SendAndWait(transport, server.Url("/v4/other?random=7"), "{\"b\":2}");
  ASSERT_FALSE(second.failure.has_value()) << second.failure_detail;
  // A URL without a path asks for "/".
  const HttpResult root = SendAndWait(transport, server.Url(""), "{}");
  ASSERT_FALSE(root.failure.has_value()) << root.failure_detail;

  EXPECT_EQ(server.received(), (std::vector<std::pair<std::string, std::string>>{
                                   {target, "{\"a\":1}"}, {"/v4/other?random=7", "{\"b\":2}"}, {"/", "{}"}}));
}

// `top -H` and `perf` tell the loop thread (bytes on sockets) from the one that runs the callbacks (parsing and
// delivery): the callback runs on the thread named curl-results, and a thread named curl-loop exists.
TEST(CurlTransportTest, ItsTwoThreadsAreNamedAndCallbacksRunOnTheResultsThread) {
  RecordingServer server;
  CurlTransport transport({});
  HttpRequest request;
  request.url = server.Url("/v4/profile/portrait_get");
  request.body = "{}";
  request.timeout = absl::Seconds(10);
  std::promise<std::string> callback_thread;
  transport.Send(std::move(request), [&](HttpResult) { callback_thread.set_value(testing::ThisThreadName()); });
  EXPECT_EQ(callback_thread.get_future().get(), "curl-results");
  const std::vector<std::string> names = testing::ProcessThreadNames();
  EXPECT_EQ(std::count(names.begin(), names.end(), "curl-loop"), 1) << "a test in this process made another transport";
}

// Each request handed over is reported once, when the loop takes it up, with how long it waited for the loop.
TEST(CurlTransportTest, ReportsEachRequestsWaitForTheLoopOnce) {
  RecordingServer server;
  absl::Mutex mutex;
  std::vector<absl::Duration> lags;
  CurlTransportOptions options;
  options.on_start_lag = [&](absl::Duration lag) {
    absl::MutexLock lock(&mutex);
    lags.push_back(lag);
  };
  CurlTransport transport(options);
  const absl::Time before = absl::Now();
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(SendAndWait(transport, server.Url("/x"), "{}").failure.has_value());
  const absl::Duration elapsed = absl::Now() - before;
  absl::MutexLock lock(&mutex);
  ASSERT_EQ(lags.size(), 3u);
  for (absl::Duration lag : lags) {
    EXPECT_GE(lag, absl::ZeroDuration());
    EXPECT_LE(lag, elapsed);
  }
}

// Tencent's endpoint is a host name: the transport's loop (libcurl's socket interface) must see the name resolved
// and the connection made, which run on libcurl's timers and sockets rather than on a request's own socket.
TEST(CurlTransportTest, AUrlNamingItsHostIsResolvedAndAnswered) {
  RecordingServer server;
  CurlTransport transport({});
  const std::string url = server.Url("/v4/profile/portrait_get?random=3");
  const HttpResult result = SendAndWait(transport, "http://localhost" + url.substr(url.find(':', 7)), "{}");
  ASSERT_FALSE(result.failure.has_value()) << result.failure_detail;
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(server.received(),
            (std::vector<std::pair<std::string, std::string>>{{"/v4/profile/portrait_get?random=3", "{}"}}));
}

// The README's promise: an outbound proxy from the environment is asked for a tunnel, even for an http:// URL (a
// forwarding proxy would need the whole URL in the request line, which the transport no longer gives libcurl).
TEST(CurlTransportTest, AProxyFromTheEnvironmentIsAskedForATunnel) {
  RecordingServer server;
  TunnellingProxy proxy;
  const ScopedEnvironment http_proxy("http_proxy", "http://127.0.0.1:" + std::to_string(proxy.port()));
  CurlTransport transport({});
  const std::string url = server.Url("/v4/profile/portrait_get?usersig=abc*-_&random=1");
  const HttpResult result = SendAndWait(transport, url, "{}");
  ASSERT_FALSE(result.failure.has_value()) << result.failure_detail;
  EXPECT_EQ(result.status, 200);
  const std::string authority = url.substr(std::string("http://").size(), url.find('/', 7) - 7);
  EXPECT_EQ(proxy.head().rfind("CONNECT " + authority + " HTTP/1.1\r\n", 0), 0u) << proxy.head();
  EXPECT_EQ(
      server.received(),
      (std::vector<std::pair<std::string, std::string>>{{"/v4/profile/portrait_get?usersig=abc*-_&random=1", "{}"}}));
}

}  // namespace
}  // namespace portrait_bridge

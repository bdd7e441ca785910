// The curl transport against a local HTTP server on a free port: what goes on the wire.

#include "bridge/transport/curl_transport.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <future>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace portrait_bridge {
namespace {

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

}  // namespace
}  // namespace portrait_bridge

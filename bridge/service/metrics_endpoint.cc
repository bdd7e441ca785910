#include "bridge/service/metrics_endpoint.h"

#include <httplib.h>
#include <prometheus/text_serializer.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace portrait_bridge {
namespace {

constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";
// Scrapes are rare and small: one thread answers them, as Exposer's one did, one request per connection so that a
// scraper keeping its connection alive never holds the thread while another waits (Prometheus pairs scrape too).
constexpr size_t kThreads = 1;

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(const std::string& address,
                                                                        std::shared_ptr<prometheus::Registry> registry,
                                                                        std::function<void()> before_scrape) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("not host:port: ", address));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);

  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  server->set_keep_alive_max_count(1);
  server->Get("/metrics", [registry = std::move(registry), before_scrape = std::move(before_scrape)](
                              const httplib::Request& /*request*/, httplib::Response& response) {
    if (before_scrape) before_scrape();
    response.set_content(prometheus::TextSerializer().Serialize(registry->Collect()), kContentType);
  });
  if (port == 0) {
    port = server->bind_to_any_port(host);
  } else if (!server->bind_to_port(host, port)) {
    port = -1;
  }
  if (port <= 0) return absl::UnavailableError(absl::StrCat("cannot listen on ", address, ": ", std::strerror(errno)));
  return std::unique_ptr<MetricsEndpoint>(new MetricsEndpoint(std::move(server), port));
}

MetricsEndpoint::MetricsEndpoint(std::unique_ptr<httplib::Server> server, int port)
    : server_(std::move(server)), port_(port), thread_([this] {
        server_->listen_after_bind();
        listen_returned_ = true;
      }) {}

MetricsEndpoint::~MetricsEndpoint() {
  // stop() acts only on a running server: wait until the thread has started listening (or failed to).
  while (!server_->is_running() && !listen_returned_) std::this_thread::yield();
  server_->stop();
  thread_.join();
}

}  // namespace portrait_bridge

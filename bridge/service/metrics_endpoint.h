#ifndef PORTRAIT_BRIDGE_SERVICE_METRICS_ENDPOINT_H_
#define PORTRAIT_BRIDGE_SERVICE_METRICS_ENDPOINT_H_

#include <prometheus/registry.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace portrait_bridge {

/// GET /metrics: `registry` in the Prometheus text format (0.0.4), served by cpp-httplib on a thread of its own.
/// The bridge's own endpoint rather than prometheus-cpp's Exposer, which adds unprefixed exposer_* series of its
/// own (one a summary in microseconds that prints NaN before the first scrape).
class MetricsEndpoint {
 public:
  /// Binds `address` ("host:port" or "[ipv6]:port"; port 0 picks a free one) and starts serving. `before_scrape`
  /// (may be empty) runs before each serialization, on an endpoint thread, to refresh sampled series.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(const std::string& address,
                                                                std::shared_ptr<prometheus::Registry> registry,
                                                                std::function<void()> before_scrape = {});
  /// Stops serving and joins the thread.
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  /// The port it listens on.
  int port() const { return port_; }

 private:
  MetricsEndpoint(std::unique_ptr<httplib::Server> server, int port);

  std::unique_ptr<httplib::Server> server_;
  const int port_;
  std::atomic<bool> listen_returned_{false};
  std::thread thread_;  // Last: it starts at construction and uses the members above.
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_METRICS_ENDPOINT_H_

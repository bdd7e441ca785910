// A redis-server for the scenario whose bridges share one upstream budget (bench/README.md, scenario 5).
#ifndef PORTRAIT_BRIDGE_BENCH_REDIS_H_
#define PORTRAIT_BRIDGE_BENCH_REDIS_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "tests/support/subprocess.h"

namespace portrait_bridge::bench {

/// redis-server on a free loopback port (its `--port 0` would disable TCP), without persistence, in a temporary
/// directory. The constructor returns once the server answers PING and throws when it does not; the destructor
/// stops it by PID (SIGTERM, then SIGKILL), so a scenario that throws stops it too.
class RedisProcess {
 public:
  /// `binary`: a path, or empty for `redis-server` from PATH.
  explicit RedisProcess(const std::string& binary);
  int port() const { return port_; }
  /// As the bridge's --budget_redis_url takes it.
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return process_->pid(); }

 private:
  testing::TempDir dir_;
  std::unique_ptr<testing::Subprocess> process_;
  int port_ = 0;
};

}  // namespace portrait_bridge::bench

#endif  // PORTRAIT_BRIDGE_BENCH_REDIS_H_

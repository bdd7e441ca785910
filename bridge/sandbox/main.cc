// portrait-sandbox: serves the Sandbox over HTTP(S) with cpp-httplib. Only wiring lives here; the behaviour is
// in sandbox.cc, which the unit tests drive without sockets.

#include <arpa/inet.h>
#include <dirent.h>
#include <httplib.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bridge/sandbox/arrivals.h"
#include "bridge/sandbox/sandbox.h"
#include "bridge/sandbox/sandbox_flags.h"

namespace portrait_bridge::sandbox {
namespace {

constexpr size_t kMaxRequestBytes = 1 << 20;  // 100 accounts of 32 bytes and a tag list fit many times over.

void Log(const std::string& line) {
  const std::string stamped = absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ ", absl::Now(), absl::UTCTimeZone()),
                                           "portrait-sandbox: ", line, "\n");
  std::fwrite(stamped.data(), 1, stamped.size(), stderr);
}

// Readers poll the port file, so they must never see it half-written: write a sibling, then rename.
bool WritePortFile(const std::string& path, int port) {
  const std::string temp = absl::StrCat(path, ".tmp.", getpid());
  {
    std::ofstream out(temp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) return false;
  }
  return std::rename(temp.c_str(), path.c_str()) == 0;
}

int PortOf(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  return -1;
}

// httplib 0.11 does not expose accepted sockets, so find them in /proc/self/fd by port: connected TCP sockets
// whose local port is `local_port` and, if `peer_port` >= 0, whose peer port is `peer_port`. Each is shut down
// with `how`; returns how many. shutdown(), never close(): httplib still owns and later closes these fds.
int ShutdownConnections(int local_port, int peer_port, int how,
                        const std::function<bool(int)>& skip_peer_port = nullptr) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  int count = 0;
  while (dirent* entry = readdir(dir)) {
    int fd = 0;
    if (!absl::SimpleAtoi(entry->d_name, &fd) || fd == dirfd(dir)) continue;
    sockaddr_storage local{};
    sockaddr_storage peer{};
    socklen_t local_len = sizeof(local);
    socklen_t peer_len = sizeof(peer);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) continue;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) continue;  // Not connected.
    if (PortOf(local) != local_port || (peer_port >= 0 && PortOf(peer) != peer_port)) continue;
    if (skip_peer_port && skip_peer_port(PortOf(peer))) continue;
    if (shutdown(fd, how) == 0) ++count;
  }
  closedir(dir);
  return count;
}

// The drop fault: the client reads end-of-stream before any byte, as when a proxy drops the connection
// (curl: "Empty reply from server").
bool DropConnection(const httplib::Request& req) {
  return ShutdownConnections(req.local_port, req.remote_port, SHUT_RDWR) > 0;
}

// Peer ports of connections with a portrait_get call in progress, which shutdown lets finish.
class BusyConnections {
 public:
  void Add(int peer_port) {
    absl::MutexLock lock(&mu_);
    ports_.insert(peer_port);
  }
  void Remove(int peer_port) {
    absl::MutexLock lock(&mu_);
    if (auto it = ports_.find(peer_port); it != ports_.end()) ports_.erase(it);
  }
  bool Contains(int peer_port) const {
    absl::MutexLock lock(&mu_);
    return ports_.count(peer_port) > 0;
  }

 private:
  mutable absl::Mutex mu_;
  std::multiset<int> ports_ ABSL_GUARDED_BY(mu_);
};

void SendJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void ServePortraitGet(Sandbox& sandbox, const MonotonicWallClock& clock, BusyConnections& busy, bool access_log,
                      const httplib::Request& req, httplib::Response& res) {
  // The arrival, first: httplib has read the request, nothing of ours has run yet.
  const absl::Time arrival = clock.Now();
  PortraitGetRequest request;
  request.method = req.method;
  request.query.insert(req.params.begin(), req.params.end());
  request.body = req.body;

  busy.Add(req.remote_port);
  sandbox.CallStarted();
  const Reply reply = sandbox.HandlePortraitGet(request, arrival);
  if (reply.delay > absl::ZeroDuration()) absl::SleepFor(reply.delay);
  sandbox.CallFinished();
  // busy.Remove() runs in the server's logger, which httplib calls once the answer is written: the write
  // itself needs the connection left alone.
  if (access_log) Log(absl::StrCat(req.method, " ", req.path, " -> ", reply.summary));

  if (reply.drop_connection) {
    if (!DropConnection(req)) Log("drop_connection fault: connection socket not found; answering 502");
    res.status = 502;  // Only reaches the client if the drop failed.
    return;
  }
  res.status = reply.http_status;
  res.set_content(reply.body, reply.content_type);
}

constexpr char kPortraitGet[] = "/v4/profile/portrait_get";

void RegisterRoutes(httplib::Server& server, Sandbox& sandbox, const MonotonicWallClock& clock, BusyConnections& busy,
                    bool access_log) {
  const auto portrait_get = [&sandbox, &clock, &busy, access_log](const httplib::Request& req, httplib::Response& res) {
    ServePortraitGet(sandbox, clock, busy, access_log, req, res);
  };
  server.set_logger([&busy](const httplib::Request& req, const httplib::Response&) {
    if (req.path == kPortraitGet) busy.Remove(req.remote_port);
  });
  // Other methods reach the same handler, which answers 60002 as upstream answers a non-POST with HTTP 200.
  server.Post(kPortraitGet, portrait_get);
  server.Get(kPortraitGet, portrait_get);
  server.Put(kPortraitGet, portrait_get);
  server.Delete(kPortraitGet, portrait_get);
  server.Patch(kPortraitGet, portrait_get);

  const auto unknown_command = [&sandbox](const httplib::Request& req, httplib::Response& res) {
    const Reply reply = sandbox.HandleUnknownCommand(req.path);
    res.set_content(reply.body, reply.content_type);
  };
  server.Post(R"(/v4/.*)", unknown_command);
  server.Get(R"(/v4/.*)", unknown_command);

  server.Get("/sandbox/health",
             [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  server.Get("/sandbox/stats",
             [&sandbox](const httplib::Request&, httplib::Response& res) { SendJson(res, 200, sandbox.Stats()); });
  server.Post("/sandbox/stats/reset", [&sandbox](const httplib::Request&, httplib::Response& res) {
    sandbox.ResetStats();
    SendJson(res, 200, sandbox.Stats());
  });
  server.Get("/sandbox/arrivals", [&sandbox](const httplib::Request& req, httplib::Response& res) {
    const std::multimap<std::string, std::string> params(req.params.begin(), req.params.end());
    absl::StatusOr<ArrivalsQuery> query = ParseArrivalsQuery(params);
    if (!query.ok()) return SendJson(res, 400, {{"error", std::string(query.status().message())}});
    SendJson(res, 200, sandbox.Arrivals(*query));
  });
  server.Get("/sandbox/faults", [&sandbox, &clock](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, FaultsToJson(sandbox.GetFaults(clock.Now())));
  });
  server.Post("/sandbox/faults", [&sandbox, &clock](const httplib::Request& req, httplib::Response& res) {
    const nlohmann::json body =
        req.body.empty() ? nlohmann::json::object() : nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return SendJson(res, 400, {{"error", "body is not JSON"}});
    absl::StatusOr<Faults> faults = ParseFaults(body);
    if (!faults.ok()) return SendJson(res, 400, {{"error", std::string(faults.status().message())}});
    const absl::Time now = clock.Now();
    sandbox.SetFaults(*std::move(faults), now);
    const nlohmann::json in_force = FaultsToJson(sandbox.GetFaults(now));
    Log(absl::StrCat("faults set: ", in_force.dump()));
    SendJson(res, 200, in_force);
  });
  server.Get("/sandbox/usersig", [&sandbox](const httplib::Request& req, httplib::Response& res) {
    const std::string identifier =
        req.has_param("identifier") ? req.get_param_value("identifier") : sandbox.config().admins.front();
    int64_t expire = 86400;
    if (req.has_param("expire") && (!absl::SimpleAtoi(req.get_param_value("expire"), &expire) || expire < 0)) {
      return SendJson(res, 400, {{"error", "expire must be a non-negative number of seconds"}});
    }
    SendJson(res, 200,
             {{"identifier", identifier},
              {"sdkappid", sandbox.config().sdkappid},
              {"expire", expire},
              {"usersig", sandbox.IssueUserSig(identifier, expire, absl::Now())}});
  });
}

int Run(const SandboxOptions& options) {
  // SIGTERM/SIGINT are taken by a sigwait thread (httplib's stop() is not async-signal-safe); block them
  // before any thread starts so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // A client that hangs up must not kill the process.

  const bool tls = !options.tls_cert_file.empty();
  std::unique_ptr<httplib::Server> server;
  if (tls) {
    server = std::make_unique<httplib::SSLServer>(options.tls_cert_file.c_str(), options.tls_key_file.c_str());
  } else {
    server = std::make_unique<httplib::Server>();
  }
  if (!server->is_valid()) {
    Log("cannot load --tls_cert_file / --tls_key_file (PEM certificate and matching key expected)");
    return 1;
  }

  // One clock for arrivals and fault times, so a throttle_for_ms window and the arrivals it covers agree.
  const MonotonicWallClock clock;
  Sandbox sandbox(options.config, options.faults, clock.Now());
  const int threads = options.threads;
  server->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  server->set_keep_alive_max_count(static_cast<size_t>(options.keep_alive_max_count));
  server->set_keep_alive_timeout(options.keep_alive_timeout_s);
  server->set_payload_max_length(kMaxRequestBytes);
  // httplib writes headers and body separately; with Nagle on, a keep-alive client waits ~40 ms per answer
  // for a delayed ACK.
  server->set_tcp_nodelay(true);
  BusyConnections busy;
  RegisterRoutes(*server, sandbox, clock, busy, options.access_log);

  int port = options.listen_port;
  if (port == 0) {
    port = server->bind_to_any_port(options.listen_host);
    if (port < 0) port = 0;
  } else if (!server->bind_to_port(options.listen_host, port)) {
    port = 0;
  }
  if (port == 0) {
    Log(absl::StrCat("cannot listen on ", options.listen_host, ":", options.listen_port, ": ", std::strerror(errno)));
    return 1;
  }
  if (!options.port_file.empty() && !WritePortFile(options.port_file, port)) {
    Log(absl::StrCat("cannot write --port_file ", options.port_file));
    return 1;
  }
  Log(absl::StrCat("listening on ", options.listen_host, ":", port, tls ? " (HTTPS)" : "", ", sdkappid ",
                   options.config.sdkappid, ", ", options.config.admins.size(), " admin(s), pool_size ",
                   options.config.pool_size, ", calls_per_second ", options.config.calls_per_second, " per ",
                   options.config.rate_window_ms, " ms"));

  std::atomic<bool> listen_returned{false};
  std::atomic<bool> stopped_by_signal{false};
  std::thread signal_thread([&] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    if (listen_returned) return;  // Woken by main below, not by a real signal.
    stopped_by_signal = true;
    Log(absl::StrCat("signal ", signal_number, ", stopping"));
    // stop() is a no-op until listen_after_bind() is running, so a very early signal waits for it.
    for (int i = 0; i < 500 && !server->is_running(); ++i) absl::SleepFor(absl::Milliseconds(10));
    server->stop();
    // An idle keep-alive connection holds its worker until keep_alive_timeout_s, and the pool joins every
    // worker before listen_after_bind() returns: end idle connections now. Busy ones answer, then httplib
    // sees the stopped server and closes them.
    const int idle = ShutdownConnections(port, /*peer_port=*/-1, SHUT_RDWR,
                                         [&busy](int peer_port) { return busy.Contains(peer_port); });
    if (idle > 0) Log(absl::StrCat("closed ", idle, " idle connection(s)"));
  });
  server->listen_after_bind();
  listen_returned = true;
  if (!stopped_by_signal) pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  Log(stopped_by_signal ? "stopped" : "listening failed");
  return stopped_by_signal ? 0 : 1;
}

}  // namespace
}  // namespace portrait_bridge::sandbox

int main(int argc, char** argv) {
  using portrait_bridge::sandbox::ParseSandboxFlags;
  const std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<portrait_bridge::sandbox::SandboxOptions> options =
      ParseSandboxFlags(args, [](const char* name) { return std::getenv(name); });
  if (!options.ok()) {
    std::fprintf(stderr, "portrait-sandbox: %s\nRun portrait-sandbox --help for the flags.\n",
                 std::string(options.status().message()).c_str());
    return 2;
  }
  if (options->help) {
    std::fputs(portrait_bridge::sandbox::SandboxUsage().c_str(), stdout);
    return 0;
  }
  return portrait_bridge::sandbox::Run(*options);
}

#include "bridge/transport/redis_client.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bridge/core/log.h"
#include "bridge/core/thread_name.h"

namespace portrait_bridge {
namespace {

// Deadlines are compared on the monotonic clock: a wall-clock step must not time commands out or stall them.
using Clock = std::chrono::steady_clock;

// A connect is rare and no command waits for one (commands fail at once while disconnected), so its bound only has
// to catch a black-holed address: far above a LAN round trip even when options.timeout is a few milliseconds.
constexpr absl::Duration kMinConnectTimeout = absl::Seconds(1);

// The Loop whose thread this is, if any: a command queued from a done on the loop thread needs no wake-up.
thread_local const void* running_loop = nullptr;

// Keeps `now + duration` from overflowing for an infinite or huge option value.
Clock::duration ToClock(absl::Duration d) {
  return absl::ToChronoNanoseconds(std::clamp(d, absl::ZeroDuration(), absl::Hours(24 * 365)));
}

std::string AddressText(const RedisAddress& address) {
  if (!address.unix_socket.empty()) return address.unix_socket;
  if (address.host.find(':') != std::string::npos) return absl::StrCat("[", address.host, "]:", address.port);
  return absl::StrCat(address.host, ":", address.port);
}

// Commands whose replies are not one reply per command (subscriptions push messages for ever) would break the
// one-`done`-per-command contract and hiredis's reply matching.
bool IsStreamingCommand(const std::string& name) {
  const std::string lower = absl::AsciiStrToLower(name);
  return lower == "subscribe" || lower == "psubscribe" || lower == "ssubscribe" || lower == "unsubscribe" ||
         lower == "punsubscribe" || lower == "sunsubscribe" || lower == "monitor";
}

// hiredis's reader refuses nesting deeper than 7 levels, so the recursion is bounded.
RedisReply CopyReply(const redisReply& in) {
  RedisReply out;
  switch (in.type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(in.str, in.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(in.str, in.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(in.str, in.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = in.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(in.elements);
      for (size_t i = 0; i < in.elements; ++i) out.elements.push_back(CopyReply(*in.element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
      break;
  }
  return out;
}

}  // namespace

// All hiredis state lives on the loop thread. Other threads touch only what `mu_` guards: the command queue, the
// outstanding count, and the flags Command decides by. hiredis callbacks (replies, connect, event hooks, cleanup)
// run inside redisAsync* calls made by the loop thread, so they are on the loop thread too.
class RedisClient::Loop {
 public:
  explicit Loop(RedisOptions options);
  ~Loop();

  // Fails everything with CANCELLED and joins the loop thread. The Loop stays valid meanwhile, so a done that
  // runs during Stop may still call Command (and gets CANCELLED).
  void Stop();

  void Command(std::vector<std::string> args, Done done);
  bool connected() const {
    absl::MutexLock lock(&mu_);
    return connected_;
  }
  Attempts attempts() const {
    absl::MutexLock lock(&mu_);
    return attempts_;
  }

 private:
  // What Command decided for a command; everything but kSend fails on the loop thread without being sent.
  enum class Verdict { kSend, kInvalid, kNotConnected, kOverloaded, kCancelled };

  struct Queued {
    std::vector<std::string> args;
    Done done;
    Verdict verdict = Verdict::kSend;
    Clock::time_point deadline;
  };

  // One command handed to hiredis. hiredis owns it from redisAsyncCommandArgv on and gives it back exactly once,
  // to OnReply: with the reply, or with NULL when the context is freed before the reply came.
  struct Request {
    Done done;  // Empty once answered (e.g. timed out before hiredis gave it back).
    Clock::time_point deadline;
    bool counted = true;  // A caller's command (counts toward max_outstanding), not a handshake step.
  };

  // The connection's life: no context (waiting for reconnect_at_), TCP connect in progress, AUTH/SELECT/PING in
  // flight, ready for commands.
  enum class Phase { kIdle, kConnecting, kHandshake, kReady };
  // The last connection state logged, so that each transition is logged once and retries are not.
  enum class Logged { kNothing, kConnected, kLost, kCannotConnect };

  void Run();
  void Wake();
  void DrainWakeups();
  void Process(std::deque<Queued>& batch);
  void Issue(std::unique_ptr<Request> request, const std::vector<std::string>& args);
  void Finish(Request& request, absl::StatusOr<RedisReply> result);
  void Connect();
  void StartHandshake();
  void OnHandshakeReply(const char* step, absl::StatusOr<RedisReply> result);
  void BecomeReady();
  void HandleSocket(int revents);
  void AfterHiredis();
  void CheckDeadlines();
  bool SocketReadable() const;
  void Drop(std::string reason);
  void ContextGone();
  void Shutdown();
  int PollTimeoutMs() const;
  absl::Status FailureFor(Verdict verdict) const;
  absl::Status LostStatus() const;
  std::string Redact(std::string text) const;

  static void OnReply(redisAsyncContext* ac, void* reply, void* privdata);
  static void OnConnect(const redisAsyncContext* ac, int status);
  static void AddRead(void* self) { static_cast<Loop*>(self)->want_read_ = true; }
  static void DelRead(void* self) { static_cast<Loop*>(self)->want_read_ = false; }
  static void AddWrite(void* self) { static_cast<Loop*>(self)->want_write_ = true; }
  static void DelWrite(void* self) { static_cast<Loop*>(self)->want_write_ = false; }
  static void Cleanup(void* self) { static_cast<Loop*>(self)->ContextGone(); }

  const RedisOptions options_;
  const std::string address_;  // For messages and logs: host:port or the socket path, never the password.
  const Clock::duration timeout_;
  const Clock::duration reconnect_interval_;
  const Clock::duration connect_timeout_;
  int wake_fd_ = -1;  // eventfd: Command and the destructor write, the loop polls and reads.

  mutable absl::Mutex mu_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  int64_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;  // Accepted kSend commands whose done has not run.
  bool connected_ ABSL_GUARDED_BY(mu_) = false;   // phase_ == kReady, for other threads.
  Attempts attempts_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  // Loop thread only.
  redisAsyncContext* ac_ = nullptr;
  Phase phase_ = Phase::kIdle;
  bool want_read_ = false;
  bool want_write_ = false;
  bool shutting_down_ = false;
  int handshake_left_ = 0;
  std::string pending_drop_;  // Set inside a hiredis callback; Drop runs once hiredis has returned.
  std::string drop_reason_;   // Why the context is being freed, for the commands it fails and the log.
  std::string last_error_;    // Why the last connection failed or ended, for "not connected" errors.
  Clock::time_point reconnect_at_;
  Clock::time_point connect_deadline_;
  Logged logged_ = Logged::kNothing;
  std::deque<Request*> in_flight_;  // Owned by hiredis; in send order, which is also reply order.
  std::vector<const char*> argv_;   // Scratch for redisAsyncCommandArgv.
  std::vector<size_t> argv_len_;

  std::thread thread_;  // Last: starts after everything above is initialized.
};

RedisClient::Loop::Loop(RedisOptions options)
    : options_(std::move(options)),
      address_(AddressText(options_.address)),
      timeout_(ToClock(options_.timeout)),
      reconnect_interval_(ToClock(options_.reconnect_interval)),
      connect_timeout_(ToClock(std::max(options_.timeout, kMinConnectTimeout))) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    // Only when the process is out of file descriptors at start: nothing sensible can run without the wake-up.
    Log(LogLevel::kError, "Redis client cannot create its eventfd", {{"error", std::strerror(errno)}});
    std::abort();
  }
  thread_ = std::thread([this] {
    NameThisThread("redis-client");
    Run();
  });
}

RedisClient::Loop::~Loop() {
  Stop();
  close(wake_fd_);
}

void RedisClient::Loop::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
}

void RedisClient::Loop::Command(std::vector<std::string> args, Done done) {
  Queued queued{std::move(args), std::move(done)};
  const bool invalid = queued.args.empty() || IsStreamingCommand(queued.args[0]);
  bool wake = false;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      queued.verdict = Verdict::kCancelled;
    } else if (invalid) {
      queued.verdict = Verdict::kInvalid;
    } else if (!connected_) {
      queued.verdict = Verdict::kNotConnected;
    } else if (outstanding_ >= options_.max_outstanding) {
      queued.verdict = Verdict::kOverloaded;
    } else {
      ++outstanding_;
      queued.deadline = Clock::now() + timeout_;
    }
    // The loop drains the whole queue per wake-up, so only the first command into an empty queue needs one; and
    // on the loop thread itself (a done sending the next command) the loop drains the queue before it polls.
    wake = queue_.empty() && running_loop != this;
    queue_.push_back(std::move(queued));
  }
  if (wake) Wake();
}

void RedisClient::Loop::Wake() {
  const uint64_t one = 1;
  // EAGAIN means the counter is already non-zero, which wakes the loop just as well.
  while (write(wake_fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
}

void RedisClient::Loop::DrainWakeups() {
  uint64_t count;
  while (read(wake_fd_, &count, sizeof(count)) < 0 && errno == EINTR) {
  }
}

void RedisClient::Loop::Run() {
  // hiredis write()s without MSG_NOSIGNAL: a write to a connection Redis closed must give EPIPE, not kill the
  // process. SIGPIPE from write() goes to the writing thread, so blocking it here is enough.
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);
  running_loop = this;

  Connect();
  std::deque<Queued> batch;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
      batch.swap(queue_);
    }
    Process(batch);
    bool queued_meanwhile = false;  // By a done that Process ran: no wake-up was written for it.
    {
      absl::MutexLock lock(&mu_);
      queued_meanwhile = !queue_.empty();
    }

    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {-1, 0, 0}};
    nfds_t count = 1;
    if (ac_ != nullptr) {
      fds[1].fd = ac_->c.fd;
      fds[1].events = static_cast<short>((want_read_ ? POLLIN : 0) | (want_write_ ? POLLOUT : 0));
      count = 2;
    }
    if (poll(fds, count, queued_meanwhile ? 0 : PollTimeoutMs()) < 0 && errno != EINTR) {
      Log(LogLevel::kError, "Redis client poll failed", {{"redis", address_}, {"error", std::strerror(errno)}});
    }
    if (fds[0].revents != 0) DrainWakeups();
    if (count == 2 && fds[1].revents != 0 && ac_ != nullptr) HandleSocket(fds[1].revents);

    CheckDeadlines();
    const Clock::time_point now = Clock::now();
    if (phase_ == Phase::kConnecting && now >= connect_deadline_) {
      Drop(absl::StrCat("no connection within ", absl::FormatDuration(absl::FromChrono(connect_timeout_))));
    }
    if (phase_ == Phase::kIdle && now >= reconnect_at_) Connect();
  }
  Shutdown();
}

void RedisClient::Loop::Process(std::deque<Queued>& batch) {
  bool issued = false;
  for (Queued& queued : batch) {
    if (queued.verdict != Verdict::kSend) {
      std::move(queued.done)(FailureFor(queued.verdict));
      continue;
    }
    auto request = std::make_unique<Request>();
    request->done = std::move(queued.done);
    request->deadline = queued.deadline;
    if (phase_ != Phase::kReady) {
      // Accepted while connected, but the connection went away before the loop got to it.
      Finish(*request, absl::UnavailableError(absl::StrCat("connection to Redis at ", address_,
                                                           " lost before the command was sent (", last_error_, ")")));
      continue;
    }
    Issue(std::move(request), queued.args);
    issued = true;
  }
  batch.clear();
  // Write now instead of after another poll: the socket is almost always writable, and this saves a round of the
  // loop on every command.
  if (issued && ac_ != nullptr && want_write_) {
    redisAsyncHandleWrite(ac_);
    AfterHiredis();
  }
}

void RedisClient::Loop::Issue(std::unique_ptr<Request> request, const std::vector<std::string>& args) {
  argv_.clear();
  argv_len_.clear();
  for (const std::string& arg : args) {
    argv_.push_back(arg.data());
    argv_len_.push_back(arg.size());
  }
  Request* raw = request.get();
  if (redisAsyncCommandArgv(ac_, &Loop::OnReply, raw, static_cast<int>(argv_.size()), argv_.data(), argv_len_.data()) !=
      REDIS_OK) {
    // The context is already being torn down (an error was seen inside this round of callbacks).
    Finish(*request, LostStatus());
    return;
  }
  request.release();  // hiredis hands it back to OnReply.
  in_flight_.push_back(raw);
}

void RedisClient::Loop::Finish(Request& request, absl::StatusOr<RedisReply> result) {
  if (!request.done) return;
  Done done = std::move(request.done);
  request.done = nullptr;
  if (request.counted) {
    absl::MutexLock lock(&mu_);
    --outstanding_;
  }
  std::move(done)(std::move(result));
}

void RedisClient::Loop::OnReply(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* self = static_cast<Loop*>(ac->data);
  std::unique_ptr<Request> request(static_cast<Request*>(privdata));
  // hiredis answers in send order, replies and the NULLs of a freed context alike.
  if (!self->in_flight_.empty() && self->in_flight_.front() == request.get()) {
    self->in_flight_.pop_front();
  } else if (auto it = std::find(self->in_flight_.begin(), self->in_flight_.end(), request.get());
             it != self->in_flight_.end()) {
    self->in_flight_.erase(it);
  }
  if (!request->done) return;  // Already failed with DEADLINE_EXCEEDED; this is the late reply or the NULL.
  if (reply == nullptr) {
    self->Finish(*request, self->LostStatus());
  } else {
    self->Finish(*request, CopyReply(*static_cast<redisReply*>(reply)));
  }
}

void RedisClient::Loop::Connect() {
  phase_ = Phase::kConnecting;
  connect_deadline_ = Clock::now() + connect_timeout_;
  // Note: hiredis resolves a host name with a blocking getaddrinfo; a numeric address or a name in /etc/hosts
  // does not wait.
  redisAsyncContext* ac = options_.address.unix_socket.empty()
                              ? redisAsyncConnect(options_.address.host.c_str(), options_.address.port)
                              : redisAsyncConnectUnix(options_.address.unix_socket.c_str());
  if (ac == nullptr) {
    drop_reason_ = "out of memory";
    phase_ = Phase::kIdle;
    ContextGone();
    return;
  }
  ac_ = ac;
  ac->data = this;
  ac->ev.data = this;
  ac->ev.addRead = &Loop::AddRead;
  ac->ev.delRead = &Loop::DelRead;
  ac->ev.addWrite = &Loop::AddWrite;
  ac->ev.delWrite = &Loop::DelWrite;
  ac->ev.cleanup = &Loop::Cleanup;
  if (ac->err != 0) {
    // Failed at once (refused on loopback, no such socket file): ContextGone logs ac->errstr and schedules a retry.
    redisAsyncFree(ac);
    return;
  }
  // Asks for the first write event, which is how hiredis notices the non-blocking connect finished.
  redisAsyncSetConnectCallback(ac, &Loop::OnConnect);
}

void RedisClient::Loop::OnConnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<Loop*>(ac->data);
  // On failure hiredis frees the context right after this returns; ContextGone reports it.
  if (status != REDIS_OK) return;
  if (self->options_.address.unix_socket.empty()) {
    // Commands are small and latency-bound: never let Nagle hold one back (hiredis sets it too; this does not
    // depend on which version does).
    const int on = 1;
    setsockopt(ac->c.fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  }
  self->StartHandshake();
}

void RedisClient::Loop::StartHandshake() {
  phase_ = Phase::kHandshake;
  handshake_left_ = 0;
  auto step = [this](const char* name, std::vector<std::string> args) {
    auto request = std::make_unique<Request>();
    request->counted = false;
    request->deadline = Clock::now() + timeout_;
    request->done = [this, name](absl::StatusOr<RedisReply> result) { OnHandshakeReply(name, std::move(result)); };
    ++handshake_left_;
    Issue(std::move(request), args);
  };
  if (!options_.password.empty()) step("AUTH", {"AUTH", options_.password});
  if (options_.address.database != 0 && options_.address.unix_socket.empty()) {
    step("SELECT", {"SELECT", absl::StrCat(options_.address.database)});
  }
  // Without AUTH or SELECT, a PING proves the server answers before commands are accepted: a stopped Redis still
  // completes TCP connects from its listen backlog.
  if (handshake_left_ == 0) step("PING", {"PING"});
}

void RedisClient::Loop::OnHandshakeReply(const char* step, absl::StatusOr<RedisReply> result) {
  if (phase_ != Phase::kHandshake || !pending_drop_.empty()) return;
  if (!result.ok()) {
    pending_drop_ = absl::StrCat(step, ": ", result.status().message());
  } else if (result->type == RedisReply::Type::kError) {
    // E.g. WRONGPASS or NOAUTH. Redis does not echo the password, and Redact guards the log anyway.
    pending_drop_ = absl::StrCat(step, " failed: ", result->str);
  } else if (--handshake_left_ == 0) {
    BecomeReady();
  }
}

void RedisClient::Loop::BecomeReady() {
  phase_ = Phase::kReady;
  last_error_.clear();
  {
    absl::MutexLock lock(&mu_);
    connected_ = true;
    ++attempts_.connected;
  }
  if (logged_ != Logged::kConnected) {
    logged_ = Logged::kConnected;
    Log(LogLevel::kInfo, "Redis connected", {{"redis", address_}});
  }
}

void RedisClient::Loop::HandleSocket(int revents) {
  // POLLERR/POLLHUP go to whichever handler hiredis waits on, so it sees the error through read() or connect.
  const bool error = (revents & (POLLERR | POLLHUP)) != 0;
  if ((want_read_ && ((revents & POLLIN) != 0 || error)) || (error && !want_read_ && !want_write_)) {
    redisAsyncHandleRead(ac_);
    AfterHiredis();
  }
  if (ac_ != nullptr && want_write_ && ((revents & POLLOUT) != 0 || error)) {
    redisAsyncHandleWrite(ac_);
    AfterHiredis();
  }
}

void RedisClient::Loop::AfterHiredis() {
  if (ac_ != nullptr && !pending_drop_.empty()) Drop(std::move(pending_drop_));
}

bool RedisClient::Loop::SocketReadable() const {
  pollfd fd{ac_->c.fd, POLLIN, 0};
  return poll(&fd, 1, 0) > 0 && (fd.revents & POLLIN) != 0;
}

void RedisClient::Loop::CheckDeadlines() {
  auto expired = [this] { return !in_flight_.empty() && in_flight_.front()->deadline <= Clock::now(); };
  // hiredis reads 16 KiB per call, so replies may wait in the socket: read them before blaming Redis.
  while (ac_ != nullptr && expired() && SocketReadable()) {
    redisAsyncHandleRead(ac_);
    AfterHiredis();
  }
  if (ac_ == nullptr || !expired()) return;
  const Clock::time_point now = Clock::now();
  const std::string waited = absl::FormatDuration(absl::FromChrono(timeout_));
  // Deadlines grow in send order: commands take theirs when Command accepts them, and are sent in that order.
  for (Request* request : in_flight_) {
    if (request->deadline > now) break;
    Finish(*request,
           absl::DeadlineExceededError(absl::StrCat("Redis at ", address_, " did not reply within ", waited)));
  }
  // A Redis that is slow for one command is likely slow for the next; a fresh connection also sheds the late
  // replies. Freeing the context gives the rest their NULL replies (UNAVAILABLE); the timed-out ones stay answered.
  Drop(absl::StrCat("a command got no reply within ", waited));
}

void RedisClient::Loop::Drop(std::string reason) {
  drop_reason_ = std::move(reason);
  redisAsyncFree(ac_);  // Runs OnReply(NULL) for every unanswered command, then Cleanup -> ContextGone.
}

void RedisClient::Loop::ContextGone() {
  std::string reason = std::move(drop_reason_);
  if (reason.empty() && ac_ != nullptr && ac_->errstr != nullptr && ac_->errstr[0] != '\0') reason = ac_->errstr;
  if (reason.empty()) reason = "connection closed";
  reason = Redact(std::move(reason));
  drop_reason_.clear();
  pending_drop_.clear();
  ac_ = nullptr;
  want_read_ = want_write_ = false;
  const bool was_ready = phase_ == Phase::kReady;
  phase_ = Phase::kIdle;
  reconnect_at_ = Clock::now() + reconnect_interval_;
  last_error_ = reason;
  {
    absl::MutexLock lock(&mu_);
    if (was_ready) {
      connected_ = false;
    } else if (!shutting_down_) {
      ++attempts_.failed;
    }
  }
  if (shutting_down_) return;
  if (was_ready) {
    logged_ = Logged::kLost;
    Log(LogLevel::kWarning, "Redis connection lost", {{"redis", address_}, {"error", reason}});
  } else if (logged_ != Logged::kCannotConnect) {
    logged_ = Logged::kCannotConnect;
    Log(LogLevel::kWarning, "Redis cannot connect; retrying",
        {{"redis", address_},
         {"error", reason},
         {"retry_every_ms", absl::ToInt64Milliseconds(absl::FromChrono(reconnect_interval_))}});
  }
}

void RedisClient::Loop::Shutdown() {
  shutting_down_ = true;
  if (ac_ != nullptr) Drop("the client is shutting down");
  {
    absl::MutexLock lock(&mu_);
    connected_ = false;
  }
  // A done may queue another command (it gets CANCELLED at once by Command): drain until nothing is left.
  while (true) {
    std::deque<Queued> batch;
    {
      absl::MutexLock lock(&mu_);
      if (queue_.empty()) break;
      batch.swap(queue_);
    }
    for (Queued& queued : batch) {
      if (queued.verdict == Verdict::kSend) {
        Request request;
        request.done = std::move(queued.done);
        Finish(request, LostStatus());
      } else {
        std::move(queued.done)(
            FailureFor(queued.verdict == Verdict::kInvalid ? Verdict::kInvalid : Verdict::kCancelled));
      }
    }
  }
}

int RedisClient::Loop::PollTimeoutMs() const {
  Clock::time_point wake_at = Clock::time_point::max();
  if (!in_flight_.empty()) wake_at = in_flight_.front()->deadline;
  if (phase_ == Phase::kConnecting) wake_at = std::min(wake_at, connect_deadline_);
  if (phase_ == Phase::kIdle) wake_at = std::min(wake_at, reconnect_at_);
  if (wake_at == Clock::time_point::max()) return -1;
  const Clock::duration left = wake_at - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  // Round up: waking a little late is fine, spinning on a sub-millisecond remainder is not.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}

absl::Status RedisClient::Loop::FailureFor(Verdict verdict) const {
  switch (verdict) {
    case Verdict::kInvalid:
      return absl::InvalidArgumentError(
          "a Redis command needs a name, and subscription commands and MONITOR are not supported");
    case Verdict::kNotConnected:
      if (last_error_.empty()) return absl::UnavailableError(absl::StrCat("Redis at ", address_, " is not connected"));
      return absl::UnavailableError(absl::StrCat("Redis at ", address_, " is not connected (", last_error_, ")"));
    case Verdict::kOverloaded:
      return absl::UnavailableError(absl::StrCat("Redis at ", address_, " has ", options_.max_outstanding,
                                                 " commands outstanding (max_outstanding)"));
    case Verdict::kCancelled:
      return LostStatus();
    case Verdict::kSend:
      break;
  }
  return absl::InternalError("not a failure");
}

absl::Status RedisClient::Loop::LostStatus() const {
  if (shutting_down_) return absl::CancelledError(absl::StrCat("the Redis client for ", address_, " shut down"));
  std::string reason = drop_reason_;
  if (reason.empty() && ac_ != nullptr && ac_->errstr != nullptr) reason = ac_->errstr;
  return absl::UnavailableError(
      absl::StrCat("connection to Redis at ", address_, " lost before the reply (", Redact(std::move(reason)), ")"));
}

std::string RedisClient::Loop::Redact(std::string text) const {
  if (options_.password.empty()) return text;
  return absl::StrReplaceAll(text, {{options_.password, "<password>"}});
}

RedisClient::RedisClient(RedisOptions options) : loop_(std::make_unique<Loop>(std::move(options))) {}

RedisClient::~RedisClient() { loop_->Stop(); }

void RedisClient::Command(std::vector<std::string> args, Done done) {
  loop_->Command(std::move(args), std::move(done));
}

bool RedisClient::connected() const { return loop_->connected(); }

RedisClient::Attempts RedisClient::attempts() const { return loop_->attempts(); }

}  // namespace portrait_bridge

// RedisClient against a real redis-server that each test starts (and stops) itself, on a free loopback port or a
// unix socket (tests/support/redis_server.h).

#include "bridge/transport/redis_client.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bridge/core/redis_url.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/loopback.h"
#include "tests/support/redis_server.h"

namespace portrait_bridge {
namespace {

using ::portrait_bridge::testing::FreeLoopbackPort;
using ::portrait_bridge::testing::RedisServer;
using ::testing::HasSubstr;
using ::testing::Not;

// Bounds for waits on conditions that normally hold within milliseconds; generous for a loaded 2-core machine.
constexpr absl::Duration kBound = absl::Seconds(20);

bool WaitFor(const std::function<bool()>& condition, absl::Duration bound = kBound) {
  const absl::Time deadline = absl::Now() + bound;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// Where the client finds `server`.
RedisAddress AddressOf(const RedisServer& server) {
  RedisAddress address;
  if (server.unix_socket().empty()) {
    address.host = "127.0.0.1";
    address.port = server.port();
  } else {
    address.unix_socket = server.unix_socket();
  }
  return address;
}

// Runs one command and waits for its done (bounded).
absl::StatusOr<RedisReply> Call(RedisClient& client, std::vector<std::string> args) {
  struct Result {
    absl::Notification done;
    absl::StatusOr<RedisReply> reply;
  };
  auto result = std::make_shared<Result>();
  client.Command(std::move(args), [result](absl::StatusOr<RedisReply> reply) {
    result->reply = std::move(reply);
    result->done.Notify();
  });
  if (!result->done.WaitForNotificationWithTimeout(kBound)) return absl::InternalError("done never ran");
  return result->reply;
}

RedisOptions Options(RedisAddress address) {
  RedisOptions options;
  options.address = std::move(address);
  options.timeout = absl::Seconds(5);  // Generous: only the tests about timeouts want them to fire.
  options.reconnect_interval = absl::Milliseconds(50);
  return options;
}

// A client whose connection (and handshake) is up.
std::unique_ptr<RedisClient> Connected(RedisOptions options) {
  auto client = std::make_unique<RedisClient>(std::move(options));
  EXPECT_TRUE(WaitFor([&] { return client->connected(); })) << "the client never connected";
  return client;
}

// The server's constructor throws, failing the test, when redis-server is missing: .ci/install-deps installs it,
// so a missing server is a broken setup, not a capability to skip.
class RedisClientTest : public ::testing::Test {};

TEST_F(RedisClientTest, SetGetRoundTripIsBinarySafe) {
  auto server = std::make_unique<RedisServer>();
  auto client = Connected(Options(AddressOf(*server)));
  static constexpr char kKey[] = "k\0ey\r\n";
  static constexpr char kValue[] = "\0\x01\xff\r\n$3\r\nnot a reply\0";
  const std::string key(kKey, sizeof(kKey) - 1);
  const std::string value(kValue, sizeof(kValue) - 1);

  absl::StatusOr<RedisReply> set = Call(*client, {"SET", key, value});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->type, RedisReply::Type::kStatus);
  EXPECT_EQ(set->str, "OK");

  absl::StatusOr<RedisReply> get = Call(*client, {"GET", key});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(get->type, RedisReply::Type::kString);
  EXPECT_EQ(get->str, value);
  EXPECT_EQ(get->str.size(), 21u);

  absl::StatusOr<RedisReply> missing = Call(*client, {"GET", "no such key"});
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->type, RedisReply::Type::kNil);

  absl::StatusOr<RedisReply> incr = Call(*client, {"INCRBY", "counter", "-42"});
  ASSERT_TRUE(incr.ok()) << incr.status();
  EXPECT_EQ(incr->type, RedisReply::Type::kInteger);
  EXPECT_EQ(incr->integer, -42);
}

TEST_F(RedisClientTest, ArrayRepliesAreCopiedRecursively) {
  auto server = std::make_unique<RedisServer>();
  auto client = Connected(Options(AddressOf(*server)));
  // Lua false becomes a nil reply.
  absl::StatusOr<RedisReply> reply =
      Call(*client, {"EVAL", "return {1, ARGV[1], {KEYS[1], {-3}}, false, 'x'}", "1", "key", "arg"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(reply->type, RedisReply::Type::kArray);
  ASSERT_EQ(reply->elements.size(), 5u);
  EXPECT_EQ(reply->elements[0].type, RedisReply::Type::kInteger);
  EXPECT_EQ(reply->elements[0].integer, 1);
  EXPECT_EQ(reply->elements[1].type, RedisReply::Type::kString);
  EXPECT_EQ(reply->elements[1].str, "arg");
  const RedisReply& nested = reply->elements[2];
  ASSERT_EQ(nested.type, RedisReply::Type::kArray);
  ASSERT_EQ(nested.elements.size(), 2u);
  EXPECT_EQ(nested.elements[0].str, "key");
  ASSERT_EQ(nested.elements[1].type, RedisReply::Type::kArray);
  ASSERT_EQ(nested.elements[1].elements.size(), 1u);
  EXPECT_EQ(nested.elements[1].elements[0].integer, -3);
  EXPECT_EQ(reply->elements[3].type, RedisReply::Type::kNil);
  EXPECT_EQ(reply->elements[4].str, "x");

  // Binary arguments through Lua and back.
  const std::string binary("a\0b\0c", 5);
  absl::StatusOr<RedisReply> echoed = Call(*client, {"EVAL", "return {ARGV[1], #ARGV[1]}", "0", binary});
  ASSERT_TRUE(echoed.ok()) << echoed.status();
  ASSERT_EQ(echoed->elements.size(), 2u);
  EXPECT_EQ(echoed->elements[0].str, binary);
  EXPECT_EQ(echoed->elements[1].integer, 5);
}

TEST_F(RedisClientTest, AnErrorReplyIsAnOkStatusHoldingKError) {
  auto server = std::make_unique<RedisServer>();
  auto client = Connected(Options(AddressOf(*server)));
  absl::StatusOr<RedisReply> unknown = Call(*client, {"NOSUCHCOMMAND", "x"});
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_EQ(unknown->type, RedisReply::Type::kError);
  EXPECT_THAT(unknown->str, HasSubstr("ERR"));

  ASSERT_TRUE(Call(*client, {"SET", "text", "not a number"}).ok());
  absl::StatusOr<RedisReply> incr = Call(*client, {"INCR", "text"});
  ASSERT_TRUE(incr.ok()) << incr.status();
  EXPECT_EQ(incr->type, RedisReply::Type::kError);
  // The connection stays usable after error replies.
  EXPECT_TRUE(client->connected());
  EXPECT_TRUE(Call(*client, {"PING"}).ok());
}

TEST_F(RedisClientTest, EmptyAndSubscriptionCommandsAreRefused) {
  auto server = std::make_unique<RedisServer>();
  auto client = Connected(Options(AddressOf(*server)));
  EXPECT_EQ(Call(*client, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Call(*client, {"subscribe", "channel"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Call(*client, {"MONITOR"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Call(*client, {"PING"}).ok());
}

TEST_F(RedisClientTest, SelectsTheDatabaseOfTheUrl) {
  auto server = std::make_unique<RedisServer>();
  absl::StatusOr<RedisAddress> db3 = ParseRedisUrl(absl::StrCat("redis://127.0.0.1:", server->port(), "/3"));
  ASSERT_TRUE(db3.ok()) << db3.status();
  auto in_db3 = Connected(Options(*db3));
  auto in_db0 = Connected(Options(AddressOf(*server)));
  ASSERT_TRUE(Call(*in_db3, {"SET", "where", "three"}).ok());
  absl::StatusOr<RedisReply> from_db0 = Call(*in_db0, {"GET", "where"});
  ASSERT_TRUE(from_db0.ok()) << from_db0.status();
  EXPECT_EQ(from_db0->type, RedisReply::Type::kNil);
  absl::StatusOr<RedisReply> from_db3 = Call(*in_db3, {"GET", "where"});
  ASSERT_TRUE(from_db3.ok()) << from_db3.status();
  EXPECT_EQ(from_db3->str, "three");
}

TEST_F(RedisClientTest, PipelinedBurstFromFourThreadsIsAnsweredExactlyOnce) {
  auto server = std::make_unique<RedisServer>();
  RedisOptions options = Options(AddressOf(*server));
  options.timeout = absl::Seconds(30);  // A loaded machine must not turn this into a timeout test.
  auto client = Connected(options);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2500;
  std::vector<std::atomic<int>> runs(kThreads * kPerThread);
  std::vector<std::atomic<bool>> right(kThreads * kPerThread);
  std::atomic<int> answered{0};
  std::atomic<bool> inside_loop_thread_only{true};
  const std::thread::id test_thread = std::this_thread::get_id();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int n = t * kPerThread + i;
        // Each thread counts in a key of its own and reads back a value of its own, so a reply given to the
        // wrong command shows up.
        std::vector<std::string> args = i % 2 == 0 ? std::vector<std::string>{"INCR", absl::StrCat("count:", t)}
                                                   : std::vector<std::string>{"ECHO", absl::StrCat("value:", n)};
        client->Command(std::move(args), [&, n, i](absl::StatusOr<RedisReply> reply) {
          if (std::this_thread::get_id() == test_thread) inside_loop_thread_only = false;
          bool ok = reply.ok();
          if (ok && i % 2 == 1)
            ok = reply->type == RedisReply::Type::kString && reply->str == absl::StrCat("value:", n);
          if (ok && i % 2 == 0) ok = reply->type == RedisReply::Type::kInteger && reply->integer == i / 2 + 1;
          right[n] = ok;
          runs[n].fetch_add(1);
          answered.fetch_add(1);
        });
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE(WaitFor([&] { return answered.load() >= kThreads * kPerThread; }))
      << answered.load() << " of " << kThreads * kPerThread << " answered";
  for (int t = 0; t < kThreads; ++t) {
    absl::StatusOr<RedisReply> count = Call(*client, {"GET", absl::StrCat("count:", t)});
    ASSERT_TRUE(count.ok());
    EXPECT_EQ(count->str, std::to_string(kPerThread / 2));
  }
  // Destroying the client joins its loop thread: no callback runs after this, so a second run would have shown.
  client.reset();
  int wrong = 0;
  for (int n = 0; n < kThreads * kPerThread; ++n) {
    EXPECT_EQ(runs[n].load(), 1) << "command " << n;
    if (!right[n]) ++wrong;
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(answered.load(), kThreads * kPerThread);
  EXPECT_TRUE(inside_loop_thread_only);
}

TEST_F(RedisClientTest, AuthenticatesAndAWrongPasswordStaysDisconnected) {
  const std::string password = "s3cret-Pa55word";
  const std::string wrong = "wrong-Pa55word";
  auto server = std::make_unique<RedisServer>(password);
  ::testing::internal::CaptureStderr();  // The client's log lines, to look for the passwords in.
  {
    RedisOptions options = Options(AddressOf(*server));
    options.password = password;
    auto client = Connected(options);
    absl::StatusOr<RedisReply> ping = Call(*client, {"PING"});
    ASSERT_TRUE(ping.ok()) << ping.status();
    EXPECT_EQ(ping->str, "PONG");
  }
  std::string errors;
  for (const std::string& given : {wrong, std::string()}) {
    RedisOptions options = Options(AddressOf(*server));
    options.password = given;
    RedisClient client(options);
    // Once the first handshake has been refused, "not connected" says why.
    absl::Status refused;
    EXPECT_TRUE(WaitFor([&] {
      refused = Call(client, {"PING"}).status();
      return absl::StrContains(refused.message(), "failed");
    })) << refused;
    EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(refused.message(), HasSubstr(absl::StrCat("127.0.0.1:", server->port())));
    errors += std::string(refused.message()) + "\n";
    // Several reconnects (every 50 ms), each one a refused AUTH (or a NOAUTH PING): none connects.
    const int64_t failed_before = client.attempts().failed;
    EXPECT_TRUE(WaitFor([&] { return client.attempts().failed >= failed_before + 3; }));
    EXPECT_EQ(client.attempts().connected, 0);
    EXPECT_FALSE(client.connected());
  }
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(log, HasSubstr("Redis cannot connect"));
  EXPECT_THAT(log, HasSubstr("Redis connected"));
  EXPECT_THAT(errors, HasSubstr("AUTH failed"));
  EXPECT_THAT(errors, HasSubstr("NOAUTH"));
  for (const std::string& secret : {password, wrong}) {
    EXPECT_THAT(log, Not(HasSubstr(secret)));
    EXPECT_THAT(errors, Not(HasSubstr(secret)));
  }
  // One "cannot connect" line per client, however many retries.
  size_t lines = 0;
  for (size_t at = log.find("Redis cannot connect"); at != std::string::npos;
       at = log.find("Redis cannot connect", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 2u) << log;
}

TEST_F(RedisClientTest, ConnectsOverAUnixSocket) {
  RedisServer::Options on_a_socket;
  on_a_socket.unix_socket = true;
  auto server = std::make_unique<RedisServer>(on_a_socket);
  absl::StatusOr<RedisAddress> address = ParseRedisUrl("unix://" + server->unix_socket());
  ASSERT_TRUE(address.ok()) << address.status();
  auto client = Connected(Options(*address));
  ASSERT_TRUE(Call(*client, {"SET", "over", "unix"}).ok());
  absl::StatusOr<RedisReply> get = Call(*client, {"GET", "over"});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(get->str, "unix");

  // Gone: UNAVAILABLE naming the socket path.
  server.reset();
  ASSERT_TRUE(WaitFor([&] { return !client->connected(); }));
  absl::StatusOr<RedisReply> after = Call(*client, {"GET", "over"});
  EXPECT_EQ(after.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(after.status().message(), HasSubstr(address->unix_socket));
}

TEST_F(RedisClientTest, NotConnectedFailsAtOnceOnTheLoopThreadNamingTheAddress) {
  const int port = FreeLoopbackPort();  // Nothing listens there.
  RedisOptions options = Options({});
  options.address.host = "127.0.0.1";
  options.address.port = port;
  options.password = "never-shown";
  options.reconnect_interval = absl::Seconds(30);  // No reconnect timer wakes the loop during this test.
  RedisClient client(options);
  const std::thread::id test_thread = std::this_thread::get_id();
  absl::Notification done;
  std::thread::id ran_on;
  absl::Status status;
  const absl::Time start = absl::Now();
  client.Command({"PING"}, [&](absl::StatusOr<RedisReply> reply) {
    ran_on = std::this_thread::get_id();
    status = reply.status();
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kBound));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2)) << "a command must not wait for a connection";
  EXPECT_NE(ran_on, test_thread);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr(absl::StrCat("127.0.0.1:", port)));
  EXPECT_THAT(status.message(), Not(HasSubstr("never-shown")));
  EXPECT_FALSE(client.connected());

  // A done that sends again at once (a retry loop) is answered again at once: the loop does not wait for a
  // wake-up that a command queued on its own thread never writes.
  absl::Notification retried;
  std::atomic<int> attempts{0};
  std::function<void()> attempt = [&] {
    client.Command({"PING"}, [&](absl::StatusOr<RedisReply> reply) {
      if (++attempts < 100 && reply.status().code() == absl::StatusCode::kUnavailable) {
        attempt();
      } else {
        retried.Notify();
      }
    });
  };
  const absl::Time retries_start = absl::Now();
  attempt();
  ASSERT_TRUE(retried.WaitForNotificationWithTimeout(kBound));
  EXPECT_EQ(attempts.load(), 100);
  EXPECT_LT(absl::Now() - retries_start, absl::Seconds(2)) << "100 immediate failures, each about a microsecond";
}

TEST_F(RedisClientTest, AStoppedServerGivesDeadlineExceededThenTheClientReconnectsAfterSigcont) {
  auto server = std::make_unique<RedisServer>();
  RedisOptions options = Options(AddressOf(*server));
  options.timeout = absl::Milliseconds(100);
  options.reconnect_interval = absl::Milliseconds(100);
  auto client = Connected(options);
  ASSERT_TRUE(Call(*client, {"SET", "k", "v"}).ok());

  server->Pause();
  // Several pipelined commands: the first times out, the others are failed as the connection is dropped.
  constexpr int kCommands = 5;
  absl::Mutex mu;
  std::vector<absl::Status> statuses;
  std::vector<absl::Duration> took;
  const absl::Time start = absl::Now();
  for (int i = 0; i < kCommands; ++i) {
    client->Command({"GET", "k"}, [&](absl::StatusOr<RedisReply> reply) {
      absl::MutexLock lock(&mu);
      statuses.push_back(reply.status());
      took.push_back(absl::Now() - start);
    });
  }
  ASSERT_TRUE(WaitFor([&] {
    absl::MutexLock lock(&mu);
    return statuses.size() == kCommands;
  }));
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(statuses[0].code(), absl::StatusCode::kDeadlineExceeded) << statuses[0];
    EXPECT_THAT(statuses[0].message(), HasSubstr(absl::StrCat("127.0.0.1:", server->port())));
    EXPECT_GE(took[0], absl::Milliseconds(95));
    EXPECT_LT(took[0], absl::Seconds(1)) << "not within 10x the timeout";
    for (const absl::Status& status : statuses) {
      EXPECT_TRUE(status.code() == absl::StatusCode::kDeadlineExceeded ||
                  status.code() == absl::StatusCode::kUnavailable)
          << status;
    }
  }
  // Dropped, and a stopped server fails the PING of every reconnect.
  EXPECT_TRUE(WaitFor([&] { return !client->connected(); }));
  const RedisClient::Attempts dropped = client->attempts();
  EXPECT_TRUE(WaitFor([&] { return client->attempts().failed >= dropped.failed + 2; }));
  EXPECT_EQ(client->attempts().connected, dropped.connected) << "a reconnect got through to a stopped server";
  EXPECT_FALSE(client->connected());
  EXPECT_EQ(Call(*client, {"GET", "k"}).status().code(), absl::StatusCode::kUnavailable);

  server->Resume();
  ASSERT_TRUE(WaitFor([&] { return client->connected(); }));
  absl::StatusOr<RedisReply> get = Call(*client, {"GET", "k"});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(get->str, "v");
}

TEST_F(RedisClientTest, AKilledServerGivesUnavailableAndTheClientReconnectsWhenItIsBack) {
  auto server = std::make_unique<RedisServer>();
  const int port = server->port();
  RedisOptions options = Options(AddressOf(*server));
  options.timeout = absl::Seconds(30);  // The loss must be noticed by the closed socket, not a timeout.
  auto client = Connected(options);
  ASSERT_TRUE(Call(*client, {"PING"}).ok());

  // A command Redis holds (BLPOP on an empty list) is unanswered when the server dies.
  absl::Notification blocked_done;
  absl::Status blocked_status;
  client->Command({"BLPOP", "empty-list", "0"}, [&](absl::StatusOr<RedisReply> reply) {
    blocked_status = reply.status();
    blocked_done.Notify();
  });
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(server->Command({"INFO", "clients"}).str, "blocked_clients:1\r\n");
  })) << "BLPOP never reached Redis";
  const absl::Time killed_at = absl::Now();
  server->Kill();
  ASSERT_TRUE(blocked_done.WaitForNotificationWithTimeout(kBound));
  EXPECT_LT(absl::Now() - killed_at, absl::Seconds(5));
  EXPECT_EQ(blocked_status.code(), absl::StatusCode::kUnavailable) << blocked_status;
  EXPECT_THAT(blocked_status.message(), HasSubstr(absl::StrCat("127.0.0.1:", port)));

  ASSERT_TRUE(WaitFor([&] { return !client->connected(); }));
  absl::StatusOr<RedisReply> down = Call(*client, {"PING"});
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(down.status().message(), HasSubstr(absl::StrCat("127.0.0.1:", port)));

  server->Restart();  // On the same port.
  ASSERT_TRUE(WaitFor([&] { return client->connected(); }));
  absl::StatusOr<RedisReply> back = Call(*client, {"PING"});
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->str, "PONG");
}

TEST_F(RedisClientTest, BeyondMaxOutstandingFailsAtOnce) {
  auto server = std::make_unique<RedisServer>();
  RedisOptions options = Options(AddressOf(*server));
  options.max_outstanding = 3;
  auto client = Connected(options);
  std::atomic<int> cancelled{0};
  // Three BLPOPs Redis holds fill the client; the fourth fails at once.
  for (int i = 0; i < 3; ++i) {
    client->Command({"BLPOP", "empty-list", "0"}, [&](absl::StatusOr<RedisReply> reply) {
      if (reply.status().code() == absl::StatusCode::kCancelled) ++cancelled;
    });
  }
  absl::StatusOr<RedisReply> fourth = Call(*client, {"PING"});
  EXPECT_EQ(fourth.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(fourth.status().message(), HasSubstr("max_outstanding"));
  client.reset();
  EXPECT_EQ(cancelled.load(), 3);
}

TEST_F(RedisClientTest, DestructionRunsEveryDoneOnceWithCancelled) {
  auto server = std::make_unique<RedisServer>();
  auto client = Connected(Options(AddressOf(*server)));
  constexpr int kCommands = 1000;
  std::vector<std::atomic<int>> runs(kCommands + 1);
  std::atomic<int> cancelled{0};
  std::atomic<int> other{0};
  auto count = [&](int n) {
    return [&, n](absl::StatusOr<RedisReply> reply) {
      runs[n].fetch_add(1);
      (reply.status().code() == absl::StatusCode::kCancelled ? cancelled : other).fetch_add(1);
    };
  };
  // BLPOP holds the connection, so nothing behind it is answered: some commands are in Redis's input buffer,
  // some in hiredis's output buffer, some still in the client's queue when the destructor runs.
  client->Command({"BLPOP", "empty-list", "0"}, count(0));
  for (int n = 1; n < kCommands; ++n) {
    // One done queues another command while the client is going away: it is answered too.
    if (n == 500) {
      client->Command({"GET", "x"}, [&, client = client.get()](absl::StatusOr<RedisReply> reply) {
        runs[500].fetch_add(1);
        (reply.status().code() == absl::StatusCode::kCancelled ? cancelled : other).fetch_add(1);
        client->Command({"GET", "again"}, count(kCommands));
      });
      continue;
    }
    client->Command({"GET", "x"}, count(n));
  }
  client.reset();
  for (int n = 0; n <= kCommands; ++n) EXPECT_EQ(runs[n].load(), 1) << "command " << n;
  EXPECT_EQ(cancelled.load(), kCommands + 1);
  EXPECT_EQ(other.load(), 0);
}

// Not a pass/fail bound: the round trip of one command on loopback, printed for the record.
TEST_F(RedisClientTest, SequentialRoundTripOnLoopback) {
  auto server = std::make_unique<RedisServer>();
  auto client = Connected(Options(AddressOf(*server)));
  constexpr int kCommands = 10000;
  ASSERT_TRUE(Call(*client, {"SET", "k", "v"}).ok());

  // From a caller's thread: Command, then wait for done (two thread hand-offs per command).
  absl::Time start = absl::Now();
  for (int i = 0; i < kCommands; ++i) ASSERT_TRUE(Call(*client, {"GET", "k"}).ok());
  const absl::Duration from_caller = (absl::Now() - start) / kCommands;

  // Chained on the loop thread: each done sends the next command.
  absl::Notification finished;
  std::function<void(int)> next = [&](int left) {
    client->Command({"GET", "k"}, [&, left](absl::StatusOr<RedisReply> reply) {
      if (!reply.ok() || left == 1) {
        finished.Notify();
      } else {
        next(left - 1);
      }
    });
  };
  start = absl::Now();
  next(kCommands);
  ASSERT_TRUE(finished.WaitForNotificationWithTimeout(absl::Seconds(60)));
  const absl::Duration chained = (absl::Now() - start) / kCommands;
  std::printf("round trip of one GET on loopback: %s from a caller thread, %s chained on the loop thread\n",
              absl::FormatDuration(from_caller).c_str(), absl::FormatDuration(chained).c_str());
  RecordProperty("round_trip_from_caller_us", std::to_string(absl::ToDoubleMicroseconds(from_caller)));
  RecordProperty("round_trip_chained_us", std::to_string(absl::ToDoubleMicroseconds(chained)));
}

}  // namespace
}  // namespace portrait_bridge

// The throughput engine end to end: coalescing across streams, the call budget under a real upstream limit, the
// cache.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "tests/integration/stack.h"

namespace portrait_bridge::testing {
namespace {

const std::vector<std::string> kTags = {"Tag_Profile_IM_Nick", "Tag_Profile_IM_BirthDay"};

int Stat(Sandbox& sandbox, const char* name) { return sandbox.Stats()[name].get<int>(); }

TEST(ThroughputTest, SmallAsksFromManyStreamsAreCoalescedIntoFewCalls) {
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url(), {"--coalesce_wait_ms=50"});
  constexpr int kStreams = 200;
  std::vector<StreamOutcome> outcomes(kStreams);
  std::vector<std::thread> threads;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < 4; ++i) channels.push_back(bridge.NewChannel());
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back(
        [&, i] { outcomes[i] = RunStream(*channels[i % 4], {MakeRequest({"user" + std::to_string(i)}, kTags)}); });
  }
  for (auto& thread : threads) thread.join();
  for (int i = 0; i < kStreams; ++i) {
    ASSERT_TRUE(outcomes[i].status.ok()) << outcomes[i].status.error_message();
    ASSERT_EQ(outcomes[i].results_by_request.at(0).size(), 1u);
    EXPECT_EQ(outcomes[i].results_by_request.at(0)[0].account(), "user" + std::to_string(i));
    EXPECT_EQ(outcomes[i].results_by_request.at(0)[0].status().code(), 0);
  }
  // 200 one-account asks arriving within a few tens of milliseconds: a handful of calls, not 200.
  EXPECT_LE(Stat(sandbox, "calls"), 20);
  EXPECT_EQ(Stat(sandbox, "accounts"), kStreams);
  EXPECT_LE(Stat(sandbox, "max_accounts_per_call"), 100);
}

TEST(ThroughputTest, SameAccountAskedByManyStreamsIsFetchedOnce) {
  Sandbox sandbox;
  // A call that takes a second: every stream's ask, even one started late on a loaded machine, comes while the
  // first call for the account is in flight, and joins it. (The first ask goes at once: the bridge was quiet.)
  sandbox.SetFaults({{"latency_ms", 1000}});
  Bridge bridge(sandbox.base_url(), {"--coalesce_wait_ms=20"});
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&] {
      auto channel = bridge.NewChannel();
      const StreamOutcome outcome = RunStream(*channel, {MakeRequest({"alice"}, kTags)});
      if (outcome.status.ok() && outcome.results_by_request.at(0).at(0).status().code() == 0) ++ok;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_LE(Stat(sandbox, "accounts"), 2);  // Once, or twice if a stream came after the call had returned.
}

TEST(ThroughputTest, ConcurrentLoadUnderTheUpstreamLimitCausesNoThrottling) {
  // The sandbox enforces 50 calls per sliding second, the bridge is given the same budget, and 40 streams ask as
  // fast as they can for 3 seconds, with a tag list each so that coalescing cannot absorb everything.
  Sandbox sandbox({"--calls_per_second=50"});
  Bridge bridge(sandbox.base_url(), {"--upstream_calls_per_second=50", "--coalesce_wait_ms=1"});
  const std::vector<std::vector<std::string>> tag_lists = {{"Tag_Profile_IM_Nick"},     {"Tag_Profile_IM_Gender"},
                                                           {"Tag_Profile_IM_Level"},    {"Tag_Profile_IM_Role"},
                                                           {"Tag_Profile_IM_Language"}, {"Tag_Profile_IM_Image"},
                                                           {"Tag_Profile_IM_Location"}, {"Tag_Profile_IM_AllowType"}};
  std::atomic<int> answered{0};
  std::atomic<int> failed{0};
  std::atomic<int> stream_errors{0};
  const auto stop = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 40; ++t) {
    threads.emplace_back([&, t] {
      auto channel = bridge.NewChannel();
      int n = 0;
      while (std::chrono::steady_clock::now() < stop) {
        const std::string account = "user" + std::to_string((t * 2000 + n++) % 100000);
        const StreamOutcome outcome = RunStream(*channel, {MakeRequest({account}, tag_lists[t % tag_lists.size()])});
        if (!outcome.status.ok()) {
          ++stream_errors;
          continue;
        }
        for (const auto& result : outcome.results_by_request.at(0)) {
          ++answered;
          if (result.status().code() != 0) ++failed;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const nlohmann::json stats = sandbox.Stats();
  EXPECT_EQ(stats["throttled"].get<int>(), 0) << stats.dump();
  EXPECT_EQ(stream_errors.load(), 0);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(answered.load(), 100);
  // The budget was the bottleneck: about 50 calls a second, packed with several accounts each.
  EXPECT_GT(stats["accounts"].get<double>() / stats["calls"].get<double>(), 2.0) << stats.dump();
}

TEST(ThroughputTest, AsksTheBudgetCannotServeBeforeTheirDeadlineGetResourceExhaustedAtOnce) {
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url(), {"--upstream_calls_per_second=1", "--upstream_burst=1"});
  auto channel = bridge.NewChannel();
  // Five tag lists: five calls, one second apart at 1 call/s; the deadline leaves room for two of them.
  const std::vector<std::string> tags = {"Tag_Profile_IM_Nick", "Tag_Profile_IM_Gender", "Tag_Profile_IM_Level",
                                         "Tag_Profile_IM_Role", "Tag_Profile_IM_Language"};
  std::vector<v1::GetProfilesRequest> requests;
  for (const std::string& tag : tags) requests.push_back(MakeRequest({"alice"}, {tag}));
  const auto start = std::chrono::steady_clock::now();
  const StreamOutcome outcome = RunStream(*channel, requests, /*deadline_ms=*/1800);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  int served = 0;
  int refused = 0;
  for (const auto& [index, results] : outcome.results_by_request) {
    for (const auto& result : results) {
      if (result.status().code() == 0) {
        ++served;
        continue;
      }
      ++refused;
      EXPECT_EQ(result.status().code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << result.status().message();
      EXPECT_EQ(ErrorInfoOf(result.status()).reason(), "UPSTREAM_BUDGET_EXHAUSTED");
      bool has_retry_info = false;
      for (const auto& detail : result.status().details()) has_retry_info |= detail.Is<google::rpc::RetryInfo>();
      EXPECT_TRUE(has_retry_info);
    }
  }
  EXPECT_EQ(served + refused, 5);
  EXPECT_GE(served, 1);
  EXPECT_GE(refused, 2);
  EXPECT_LT(elapsed, std::chrono::milliseconds(1800)) << "refused asks must not wait for the deadline";
  EXPECT_EQ(sandbox.Stats()["throttled"].get<int>(), 0);
}

// Streams that are cancelled at random moments while their asks complete at once (cache hits answer inline) or
// later (misses go upstream): the bridge keeps serving, and every stream that was not cancelled is answered in full.
TEST(ThroughputTest, RandomCancellationsDuringInlineAndUpstreamCompletions) {
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url(), {"--cache_ttl_ms=60000"});
  ASSERT_TRUE(RunStream(*bridge.NewChannel(), {MakeRequest(Users(0, 100), kTags)}).status.ok());  // Warm half.
  std::atomic<int> complete{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      auto channel = bridge.NewChannel();
      auto stub = v1::ProfileService::NewStub(channel);
      std::mt19937 random(t);
      for (int round = 0; round < 20; ++round) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        auto stream = stub->GetProfiles(&context);
        const int first = static_cast<int>(random() % 150);
        stream->Write(MakeRequest(Users(first, 50), kTags));
        stream->Write(MakeRequest(Users((first + 50) % 150, 50), kTags));
        const bool cancel = random() % 2 == 0;
        if (cancel) {
          std::this_thread::sleep_for(std::chrono::microseconds(random() % 3000));
          context.TryCancel();
        } else {
          stream->WritesDone();
        }
        v1::GetProfilesResponse response;
        int results = 0;
        while (stream->Read(&response)) results += response.results_size();
        const grpc::Status status = stream->Finish();
        if (!cancel) {
          EXPECT_TRUE(status.ok()) << status.error_message();
          EXPECT_EQ(results, 100);
          ++complete;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_GT(complete.load(), 0);
  EXPECT_TRUE(bridge.process().Running());
  EXPECT_TRUE(RunStream(*bridge.NewChannel(), {MakeRequest({"alice"}, kTags)}).status.ok());
}

TEST(ThroughputTest, CacheServesRepeatedAsksWithoutUpstreamCalls) {
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url(), {"--cache_ttl_ms=60000"});
  auto channel = bridge.NewChannel();
  const StreamOutcome first = RunStream(*channel, {MakeRequest({"alice", "bob", "nobody-here"}, kTags)});
  ASSERT_TRUE(first.status.ok());
  const int calls_after_first = Stat(sandbox, "calls");
  const StreamOutcome second = RunStream(*channel, {MakeRequest({"alice", "bob"}, kTags)});
  ASSERT_TRUE(second.status.ok());
  EXPECT_EQ(Stat(sandbox, "calls"), calls_after_first);
  for (const auto& result : second.results_by_request.at(0)) {
    EXPECT_EQ(result.status().code(), 0);
    ASSERT_EQ(result.items_size(), 2);
    EXPECT_EQ(result.items(0).tag(), "Tag_Profile_IM_Nick");
    EXPECT_EQ(result.items(1).value_case(), v1::ProfileItem::kUintValue);
  }
}

TEST(ThroughputTest, WithoutTheCacheRepeatedAsksGoUpstream) {
  Sandbox sandbox;
  Bridge bridge(sandbox.base_url());
  auto channel = bridge.NewChannel();
  ASSERT_TRUE(RunStream(*channel, {MakeRequest({"alice"}, kTags)}).status.ok());
  ASSERT_TRUE(RunStream(*channel, {MakeRequest({"alice"}, kTags)}).status.ok());
  EXPECT_EQ(Stat(sandbox, "calls"), 2);
}

}  // namespace
}  // namespace portrait_bridge::testing

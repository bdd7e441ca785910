#ifndef PORTRAIT_BRIDGE_TESTS_UNIT_FETCHER_FAKES_H_
#define PORTRAIT_BRIDGE_TESTS_UNIT_FETCHER_FAKES_H_

// Builders and fakes shared by the tests of the ProfileFetcher decorators (local and shared cache) and the profile
// cache: one copy of each, so the tests of both cache tiers speak about profiles the same way.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/core/failure.h"
#include "bridge/service/profile_fetcher.h"

namespace portrait_bridge {

inline portraitbridge::profile::v1::ProfileItem StringItem(const std::string& tag, const std::string& value) {
  portraitbridge::profile::v1::ProfileItem item;
  item.set_tag(tag);
  item.set_string_value(value);
  return item;
}

inline portraitbridge::profile::v1::ProfileItem UintItem(const std::string& tag, uint64_t value) {
  portraitbridge::profile::v1::ProfileItem item;
  item.set_tag(tag);
  item.set_uint_value(value);
  return item;
}

inline AccountOutcome Success(const std::string& account, std::vector<portraitbridge::profile::v1::ProfileItem> items) {
  AccountOutcome outcome;
  outcome.account = account;
  outcome.items = std::move(items);
  return outcome;
}

inline AccountOutcome Failed(const std::string& account, Failure failure) {
  AccountOutcome outcome;
  outcome.account = account;
  outcome.failure = std::move(failure);
  return outcome;
}

inline FetchResult Outcomes(std::vector<AccountOutcome> outcomes) {
  FetchResult result;
  result.outcomes = std::move(outcomes);
  return result;
}

/// The tags of `items`, in their order.
inline std::vector<std::string> TagsOf(const std::vector<portraitbridge::profile::v1::ProfileItem>& items) {
  std::vector<std::string> tags;
  for (const auto& item : items) tags.push_back(item.tag());
  return tags;
}

/// Collects what `done` delivered and how often.
struct Delivery {
  int calls = 0;
  FetchResult result;

  ProfileFetcher::Done Callback() {
    return [this](FetchResult delivered) {
      ++calls;
      result = std::move(delivered);
    };
  }
  const AccountOutcome* Find(const std::string& account) const {
    for (const AccountOutcome& outcome : result.outcomes) {
      if (outcome.account == account) return &outcome;
    }
    return nullptr;
  }
  std::vector<std::string> Accounts() const {
    std::vector<std::string> accounts;
    for (const AccountOutcome& outcome : result.outcomes) accounts.push_back(outcome.account);
    return accounts;
  }
};

/// An inner fetcher that records every Fetch and answers when the test says so. Not thread-safe.
class FakeFetcher final : public ProfileFetcher {
 public:
  struct Ask {
    std::vector<std::string> accounts;
    std::vector<std::string> tags;
    absl::Time deadline;
    std::optional<Done> done;
    std::shared_ptr<int> cancels = std::make_shared<int>(0);
  };

  std::shared_ptr<Ticket> Fetch(std::vector<std::string> accounts, std::vector<std::string> tags, absl::Time deadline,
                                Done done) override {
    Ask& ask = asks.emplace_back();
    ask.accounts = std::move(accounts);
    ask.tags = std::move(tags);
    ask.deadline = deadline;
    ask.done = std::move(done);
    std::shared_ptr<Ticket> ticket = std::make_shared<CountingTicket>(ask.cancels);
    if (on_fetch) on_fetch();
    return ticket;
  }

  void Answer(size_t index, FetchResult result) {
    ASSERT_LT(index, asks.size());
    ASSERT_TRUE(asks[index].done.has_value()) << "answered twice";
    Done done = std::move(*asks[index].done);
    asks[index].done.reset();
    std::move(done)(std::move(result));
  }

  std::vector<Ask> asks;
  absl::AnyInvocable<void()> on_fetch;  ///< Runs inside Fetch, after the ask is recorded.

 private:
  class CountingTicket final : public Ticket {
   public:
    explicit CountingTicket(std::shared_ptr<int> cancels) : cancels_(std::move(cancels)) {}
    void Cancel() override { ++*cancels_; }

   private:
    std::shared_ptr<int> cancels_;
  };
};

/// An inner fetcher that answers at once on a thread of its own (like a real one, later and elsewhere) and is
/// thread-safe: every account gets its Tag_Profile_IM_Nick, accounts ending in 7 do not exist (40003).
class ThreadedFetcher final : public ProfileFetcher {
 public:
  ~ThreadedFetcher() override { JoinAll(); }

  /// Waits for every answer, including those to Fetches cancelled meanwhile.
  void JoinAll() {
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&mutex_);
      threads.swap(threads_);
    }
    for (std::thread& thread : threads) thread.join();
  }

  std::shared_ptr<Ticket> Fetch(std::vector<std::string> accounts, std::vector<std::string> /*tags*/,
                                absl::Time /*deadline*/, Done done) override {
    ++fetches;
    accounts_fetched += static_cast<int64_t>(accounts.size());
    absl::MutexLock lock(&mutex_);
    threads_.emplace_back([accounts = std::move(accounts), done = std::move(done)]() mutable {
      FetchResult result;
      for (const std::string& account : accounts) {
        result.outcomes.push_back(account.back() == '7'
                                      ? Failed(account, TencentFailure(40003, "not found"))
                                      : Success(account, {StringItem("Tag_Profile_IM_Nick", account)}));
      }
      std::move(done)(std::move(result));
    });
    return std::make_shared<NoopTicket>();
  }

  std::atomic<int64_t> fetches{0};
  std::atomic<int64_t> accounts_fetched{0};

 private:
  class NoopTicket final : public Ticket {
   public:
    void Cancel() override {}
  };
  absl::Mutex mutex_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_TESTS_UNIT_FETCHER_FAKES_H_

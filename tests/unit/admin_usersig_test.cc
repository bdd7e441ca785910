#include "bridge/core/admin_usersig.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bridge/core/usersig.h"
#include "tests/unit/fake_clock.h"

namespace portrait_bridge {
namespace {

constexpr char kKey[] = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
constexpr char kAdmin[] = "administrator";
constexpr uint64_t kSdkAppId = 1400000000;
constexpr int64_t kStart = 1700000000;
constexpr absl::Duration kValidity = absl::Hours(1);

// Decodes `usersig` and checks that it is a valid admin UserSig under kKey; returns its TLS.time.
int64_t VerifiedTime(const std::string& usersig) {
  const absl::StatusOr<DecodedUserSig> decoded = DecodeUserSig(usersig);
  EXPECT_TRUE(decoded.ok()) << decoded.status();
  if (!decoded.ok()) return -1;
  EXPECT_EQ(decoded->fields.identifier, kAdmin);
  EXPECT_EQ(decoded->fields.sdkappid, kSdkAppId);
  EXPECT_EQ(decoded->fields.expire, absl::ToInt64Seconds(kValidity));
  EXPECT_TRUE(UserSigSignatureMatches(kKey, *decoded));
  return decoded->fields.time;
}

TEST(AdminUserSigTest, FirstCurrentSignsWithTheClockTime) {
  FakeClock clock(absl::FromUnixSeconds(kStart));
  AdminUserSig usersig(kKey, kAdmin, kSdkAppId, kValidity, clock);
  const std::string sig = usersig.Current();
  EXPECT_EQ(usersig.signatures(), 1);
  EXPECT_EQ(VerifiedTime(sig), kStart);
}

TEST(AdminUserSigTest, CachedUntilHalfTheValidityThenRenewed) {
  FakeClock clock(absl::FromUnixSeconds(kStart));
  AdminUserSig usersig(kKey, kAdmin, kSdkAppId, kValidity, clock);
  const std::string first = usersig.Current();

  clock.Advance(kValidity / 2 - absl::Seconds(1));
  EXPECT_EQ(usersig.Current(), first);
  EXPECT_EQ(usersig.Current(), first);
  EXPECT_EQ(usersig.signatures(), 1);

  clock.Advance(absl::Seconds(1));  // Exactly half of the validity has passed.
  const std::string second = usersig.Current();
  EXPECT_NE(second, first);
  EXPECT_EQ(usersig.signatures(), 2);
  EXPECT_EQ(VerifiedTime(second), kStart + absl::ToInt64Seconds(kValidity / 2));

  // The renewed one is cached in turn.
  clock.Advance(absl::Seconds(10));
  EXPECT_EQ(usersig.Current(), second);
  EXPECT_EQ(usersig.signatures(), 2);
}

TEST(AdminUserSigTest, RenewAfterRejectionRenewsEvenWithinTheSameSecond) {
  FakeClock clock(absl::FromUnixSeconds(kStart));
  AdminUserSig usersig(kKey, kAdmin, kSdkAppId, kValidity, clock);
  const std::string rejected = usersig.Current();

  usersig.RenewAfterRejection(rejected);
  const std::string renewed = usersig.Current();
  EXPECT_NE(renewed, rejected);
  EXPECT_EQ(usersig.signatures(), 2);
  EXPECT_GE(VerifiedTime(renewed), kStart);
}

TEST(AdminUserSigTest, RepeatedRejectionsWithinOneSecondNeverReturnARejectedUserSig) {
  FakeClock clock(absl::FromUnixSeconds(kStart));
  AdminUserSig usersig(kKey, kAdmin, kSdkAppId, kValidity, clock);
  std::set<std::string> rejected;
  for (int i = 0; i < 3; ++i) {
    const std::string current = usersig.Current();
    EXPECT_EQ(rejected.count(current), 0u) << "rejection " << i << " brought back an already rejected UserSig";
    rejected.insert(current);
    usersig.RenewAfterRejection(current);
  }
  EXPECT_EQ(rejected.count(usersig.Current()), 0u);
  EXPECT_EQ(usersig.signatures(), 4);
}

TEST(AdminUserSigTest, RejectionOfAStaleUserSigDoesNothing) {
  FakeClock clock(absl::FromUnixSeconds(kStart));
  AdminUserSig usersig(kKey, kAdmin, kSdkAppId, kValidity, clock);
  const std::string stale = usersig.Current();
  usersig.RenewAfterRejection(stale);  // Another call already had it replaced.
  const std::string current = usersig.Current();
  ASSERT_EQ(usersig.signatures(), 2);

  usersig.RenewAfterRejection(stale);
  EXPECT_EQ(usersig.Current(), current);
  EXPECT_EQ(usersig.signatures(), 2);
}

TEST(AdminUserSigTest, ConcurrentCallersShareOneSignature) {
  FakeClock clock(absl::FromUnixSeconds(kStart));
  AdminUserSig usersig(kKey, kAdmin, kSdkAppId, kValidity, clock);
  constexpr int kThreads = 8;
  constexpr int kCallsPerThread = 1000;
  std::vector<std::set<std::string>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&usersig, &seen, t] {
      for (int i = 0; i < kCallsPerThread; ++i) seen[t].insert(usersig.Current());
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::set<std::string> all;
  for (const auto& per_thread : seen) all.insert(per_thread.begin(), per_thread.end());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(VerifiedTime(*all.begin()), kStart);
  EXPECT_EQ(usersig.signatures(), 1);
}

}  // namespace
}  // namespace portrait_bridge

#include "bridge/service/readiness.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace portrait_bridge {
namespace {

constexpr char kService[] = "portraitbridge.profile.v1.ProfileService";

class FakeHealth final : public grpc::HealthCheckServiceInterface {
 public:
  void SetServingStatus(const std::string& service, bool serving) override { status[service] = serving; }
  void SetServingStatus(bool /*serving*/) override { FAIL() << "only the readiness name is set"; }
  std::map<std::string, bool> status;
};

TEST(ReadinessTest, ServingOnceAttachedUnlessMisconfiguredOrDraining) {
  FakeHealth health;
  Readiness readiness(kService);
  readiness.SetMisconfigured(false);  // Before the server runs: nothing to set yet.
  EXPECT_TRUE(health.status.empty());
  readiness.Attach(&health);
  EXPECT_TRUE(health.status.at(kService));
  readiness.SetMisconfigured(true);
  EXPECT_FALSE(health.status.at(kService));
  readiness.SetMisconfigured(false);
  EXPECT_TRUE(health.status.at(kService));
}

TEST(ReadinessTest, AMisconfigurationKnownBeforeTheServerRunsHoldsAtAttach) {
  FakeHealth health;
  Readiness readiness(kService);
  readiness.SetMisconfigured(true);
  readiness.Attach(&health);
  EXPECT_FALSE(health.status.at(kService));
}

TEST(ReadinessTest, DrainingIsForGood) {
  FakeHealth health;
  Readiness readiness(kService);
  readiness.Attach(&health);
  readiness.SetDraining();
  EXPECT_FALSE(health.status.at(kService));
  readiness.SetMisconfigured(false);
  EXPECT_FALSE(health.status.at(kService)) << "a fixed configuration must not bring a draining bridge back";
}

}  // namespace
}  // namespace portrait_bridge

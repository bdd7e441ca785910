#include "bridge/service/readiness.h"

namespace portrait_bridge {

void Readiness::Attach(grpc::HealthCheckServiceInterface* health) {
  absl::MutexLock lock(&mutex_);
  health_ = health;
  UpdateLocked();
}

void Readiness::SetMisconfigured(bool misconfigured) {
  absl::MutexLock lock(&mutex_);
  misconfigured_ = misconfigured;
  UpdateLocked();
}

void Readiness::SetDraining() {
  absl::MutexLock lock(&mutex_);
  draining_ = true;
  UpdateLocked();
}

void Readiness::UpdateLocked() {
  // Under the lock, so that two changes reach the health service in the order they were made.
  if (health_ != nullptr) health_->SetServingStatus(service_, !misconfigured_ && !draining_);
}

}  // namespace portrait_bridge

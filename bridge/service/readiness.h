#ifndef PORTRAIT_BRIDGE_SERVICE_READINESS_H_
#define PORTRAIT_BRIDGE_SERVICE_READINESS_H_

#include <grpcpp/health_check_service_interface.h>

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace portrait_bridge {

/// The readiness status of one health service name: SERVING once attached to a running server, NOT_SERVING while
/// upstream says the bridge is misconfigured (UpstreamHealth), and NOT_SERVING for good once draining starts (a
/// fixed configuration must not bring a draining pod back). Thread-safe.
class Readiness {
 public:
  explicit Readiness(std::string service) : service_(std::move(service)) {}

  /// The server's health service, once it runs; sets the current status. `health` must outlive this.
  void Attach(grpc::HealthCheckServiceInterface* health);
  void SetMisconfigured(bool misconfigured);
  void SetDraining();

 private:
  void UpdateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const std::string service_;
  absl::Mutex mutex_;
  grpc::HealthCheckServiceInterface* health_ ABSL_GUARDED_BY(mutex_) = nullptr;
  bool misconfigured_ ABSL_GUARDED_BY(mutex_) = false;
  bool draining_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_READINESS_H_

#ifndef PORTRAIT_BRIDGE_CORE_ADMIN_USERSIG_H_
#define PORTRAIT_BRIDGE_CORE_ADMIN_USERSIG_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/core/clock.h"

namespace portrait_bridge {

/// The admin UserSig shared by every upstream call. It is signed once, reused, and renewed when half of its
/// validity has passed, long before Tencent would reject it. Thread-safe.
class AdminUserSig {
 public:
  /// `clock` must outlive this object.
  AdminUserSig(std::string secret_key, std::string identifier, uint64_t sdkappid, absl::Duration validity,
               const Clock& clock);

  /// The UserSig to send now.
  std::string Current();

  /// Called when Tencent rejected `rejected` as expired or invalidated (70001, 70052): signs a new one unless
  /// another call already replaced it.
  void RenewAfterRejection(const std::string& rejected);

  /// How many UserSigs have been signed, the first one included.
  int64_t signatures() const;

 private:
  void SignLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const std::string secret_key_;
  const std::string identifier_;
  const uint64_t sdkappid_;
  const absl::Duration validity_;
  const Clock& clock_;

  mutable absl::Mutex mutex_;
  std::string current_ ABSL_GUARDED_BY(mutex_);
  absl::Time signed_at_ ABSL_GUARDED_BY(mutex_);
  int64_t signed_time_ ABSL_GUARDED_BY(mutex_) = 0;  // TLS.time of current_, in Unix seconds.
  int64_t signatures_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_ADMIN_USERSIG_H_

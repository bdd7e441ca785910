#include "bridge/core/admin_usersig.h"

#include <utility>

#include "bridge/core/usersig.h"

namespace portrait_bridge {

AdminUserSig::AdminUserSig(std::string secret_key, std::string identifier, uint64_t sdkappid,
                           absl::Duration validity, const Clock& clock)
    : secret_key_(std::move(secret_key)),
      identifier_(std::move(identifier)),
      sdkappid_(sdkappid),
      validity_(validity),
      clock_(clock) {}

std::string AdminUserSig::Current() {
  absl::MutexLock lock(&mutex_);
  // Renewing at half the validity leaves a wide margin for clock skew between the bridge and Tencent.
  if (current_.empty() || clock_.Now() - signed_at_ >= validity_ / 2) SignLocked();
  return current_;
}

void AdminUserSig::RenewAfterRejection(const std::string& rejected) {
  absl::MutexLock lock(&mutex_);
  if (current_ == rejected) SignLocked();
}

int64_t AdminUserSig::signatures() const {
  absl::MutexLock lock(&mutex_);
  return signatures_;
}

void AdminUserSig::SignLocked() {
  signed_at_ = clock_.Now();
  const UserSigFields fields{identifier_, sdkappid_, absl::ToUnixSeconds(signed_at_),
                             absl::ToInt64Seconds(validity_)};
  std::string next = SignUserSig(secret_key_, fields);
  if (next == current_) {
    // Signed again within the same second: the same bytes would be rejected again, so date it one second later.
    UserSigFields later = fields;
    later.time += 1;
    next = SignUserSig(secret_key_, later);
  }
  current_ = std::move(next);
  ++signatures_;
}

}  // namespace portrait_bridge

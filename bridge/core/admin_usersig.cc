#include "bridge/core/admin_usersig.h"

#include <algorithm>
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
  // Each new UserSig is dated after the one it replaces, so a renewal never brings back a rejected UserSig, even
  // when it is renewed more than once within the same second.
  int64_t time = absl::ToUnixSeconds(signed_at_);
  if (signatures_ > 0) time = std::max(time, signed_time_ + 1);
  const UserSigFields fields{identifier_, sdkappid_, time, absl::ToInt64Seconds(validity_)};
  current_ = SignUserSig(secret_key_, fields);
  signed_time_ = time;
  ++signatures_;
}

}  // namespace portrait_bridge

#ifndef PORTRAIT_BRIDGE_CORE_CLOCK_H_
#define PORTRAIT_BRIDGE_CORE_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace portrait_bridge {

/// The wall clock, injectable so tests can move time without sleeping. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

/// The real clock.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_CLOCK_H_

#ifndef PORTRAIT_BRIDGE_TESTS_SUPPORT_LOOPBACK_H_
#define PORTRAIT_BRIDGE_TESTS_SUPPORT_LOOPBACK_H_

#include <netinet/in.h>

namespace portrait_bridge::testing {

/// 127.0.0.1 at `port` (0: any port, for bind).
sockaddr_in LoopbackAddress(int port);

/// A loopback port nothing listens on right now: the kernel's pick for port 0, released again. Another process may
/// take it before the caller binds it. Throws std::runtime_error when no socket can be had.
int FreeLoopbackPort();

}  // namespace portrait_bridge::testing

#endif  // PORTRAIT_BRIDGE_TESTS_SUPPORT_LOOPBACK_H_

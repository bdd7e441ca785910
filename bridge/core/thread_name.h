#ifndef PORTRAIT_BRIDGE_CORE_THREAD_NAME_H_
#define PORTRAIT_BRIDGE_CORE_THREAD_NAME_H_

#include <pthread.h>

namespace portrait_bridge {

/// Names the calling thread (Linux keeps 15 characters), so that `top -H`, `perf` and `gdb` tell the bridge's own
/// threads apart from gRPC's and from each other.
inline void NameThisThread(const char* name) { pthread_setname_np(pthread_self(), name); }

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_THREAD_NAME_H_

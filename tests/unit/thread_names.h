// The names of threads, for tests that check which thread ran something (bridge/core/thread_name.h names them).

#ifndef PORTRAIT_BRIDGE_TESTS_UNIT_THREAD_NAMES_H_
#define PORTRAIT_BRIDGE_TESTS_UNIT_THREAD_NAMES_H_

#include <pthread.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace portrait_bridge::testing {

/// The calling thread's name.
inline std::string ThisThreadName() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  return name;
}

/// The names of every thread of this process (/proc/self/task/*/comm).
inline std::vector<std::string> ProcessThreadNames() {
  std::vector<std::string> names;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name)) names.push_back(name);
  }
  return names;
}

}  // namespace portrait_bridge::testing

#endif  // PORTRAIT_BRIDGE_TESTS_UNIT_THREAD_NAMES_H_

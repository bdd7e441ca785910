#ifndef PORTRAIT_BRIDGE_TESTS_FUZZ_FUZZ_CHECK_H_
#define PORTRAIT_BRIDGE_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

// A fuzz target's assertion: prints what went wrong and aborts, which libFuzzer reports as a crash (saving the
// input). `detail` is evaluated only when the check fails.
#define FUZZ_CHECK(condition, detail)                                                         \
  do {                                                                                        \
    if (!(condition)) ::portrait_bridge_fuzz::Fail(__FILE__, __LINE__, #condition, (detail)); \
  } while (false)

namespace portrait_bridge_fuzz {

[[noreturn]] inline void Fail(const char* file, int line, const char* condition, const std::string& detail) {
  std::fprintf(stderr, "%s:%d: check failed: %s\n%s\n", file, line, condition, detail.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace portrait_bridge_fuzz

#endif  // PORTRAIT_BRIDGE_TESTS_FUZZ_FUZZ_CHECK_H_

// Whether this test binary is a sanitizer build. The tests start the bridge and the sandbox built by the same
// preset, so it says the same of them.
#ifndef PORTRAIT_BRIDGE_TESTS_SUPPORT_SANITIZERS_H_
#define PORTRAIT_BRIDGE_TESTS_SUPPORT_SANITIZERS_H_

namespace portrait_bridge::testing {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizerBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitizerBuild = true;
#else
inline constexpr bool kSanitizerBuild = false;
#endif
#else
inline constexpr bool kSanitizerBuild = false;
#endif

// A sanitizer changes what some tests measure: ASan's redzones and quarantine of freed blocks and TSan's shadow
// memory are in the process's RSS, and a Debug ASan build or a TSan build runs several times slower, too slow to
// fill an upstream's rate window. Such tests check those measurements only when this is true; everything else
// they check (answers, errors, bounds the bridge reports itself) holds in every build.
inline constexpr bool kMeasuresResourcesAndThroughput = !kSanitizerBuild;

}  // namespace portrait_bridge::testing

#endif  // PORTRAIT_BRIDGE_TESTS_SUPPORT_SANITIZERS_H_

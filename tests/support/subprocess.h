#ifndef PORTRAIT_BRIDGE_TESTS_SUPPORT_SUBPROCESS_H_
#define PORTRAIT_BRIDGE_TESTS_SUPPORT_SUBPROCESS_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace portrait_bridge::testing {

/// The environment variable that marks every process the test suite starts: Subprocess sets it to TestRunId() in
/// each child (the client test scripts and the chart test do the same through tests/support/test_run_id.sh), so the
/// suite's cleanup test (tests/support/check_no_leftover_processes.sh) finds what a run left behind, and only that.
inline constexpr char kTestRunVariable[] = "PORTRAIT_TEST_SUITE_RUN";

/// This run of the suite: $PORTRAIT_TEST_SUITE_RUN when set; else "ctest-<pid>-<start time>" of the nearest ctest
/// ancestor process (one ctest invocation is one run, whatever its -j, and two concurrent runs differ); else this
/// process's own "pid-<pid>-<start time>" (a test binary run by hand). Start times are /proc/<pid>/stat's, in clock
/// ticks since boot, so a reused pid is a different run.
std::string TestRunId();

/// A child process started from a binary path, with its stdout and stderr captured to files in a fresh
/// temporary directory, and PORTRAIT_TEST_SUITE_RUN=TestRunId() in its environment. The destructor sends SIGTERM,
/// then SIGKILL after a few seconds.
class Subprocess {
 public:
  /// Starts `binary` with `args`; `env` entries are added to (or replace) the inherited environment and the
  /// run's marker.
  Subprocess(const std::string& binary, const std::vector<std::string>& args,
             const std::map<std::string, std::string>& env = {});
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  /// A path in this process's temporary directory, e.g. for a --port_file flag.
  std::string TempPath(const std::string& name) const;

  /// Waits up to `timeout_ms` for `path` to hold a port number (a line the process writes once it listens), and
  /// returns it; 0 when the process exits first (e.g. its port could not be bound) or the time runs out.
  int PortFromFile(const std::string& path, int timeout_ms = 20000);

  /// PortFromFile, failing the test (an exception holding the process's output) when there is no port.
  int WaitForPortFile(const std::string& path, int timeout_ms = 20000);

  /// Sends `signal` and waits up to `timeout_ms` for the exit; returns the exit status as waitpid reports it,
  /// or -1 on timeout.
  int SignalAndWait(int signal, int timeout_ms = 15000);

  /// Whether the process is still running.
  bool Running();

  /// Everything the process wrote to stdout and stderr so far.
  std::string Output() const;

  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string dir_;
};

/// A fresh directory under /tmp, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  /// `name` inside the directory.
  std::string Path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// The path of a built binary: the environment variable (BRIDGE_BINARY, SANDBOX_BINARY) if set, else the path of
/// the binary built with the tests.
std::string BinaryFromEnv(const char* variable);

/// Writes `content` to `path`, creating or truncating it.
void WriteFile(const std::string& path, const std::string& content);

}  // namespace portrait_bridge::testing

#endif  // PORTRAIT_BRIDGE_TESTS_SUPPORT_SUBPROCESS_H_

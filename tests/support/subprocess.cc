#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace portrait_bridge::testing {
namespace {

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses): [0] is the state
// (field 3), [1] the parent's pid (field 4), [19] the start time (field 22). Empty if the process is gone.
std::vector<std::string> StatFields(pid_t pid) {
  const std::string stat = ReadWholeFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t end_of_name = stat.rfind(") ");
  if (end_of_name == std::string::npos) return {};
  std::istringstream rest(stat.substr(end_of_name + 2));
  std::vector<std::string> fields;
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;
}

std::string ComputeTestRunId() {
  if (const char* id = std::getenv(kTestRunVariable); id != nullptr && *id != '\0') return id;
  for (pid_t pid = getpid(); pid > 1;) {
    const std::vector<std::string> fields = StatFields(pid);
    if (fields.size() < 20) break;
    if (ReadWholeFile("/proc/" + std::to_string(pid) + "/comm") == "ctest\n") {
      return "ctest-" + std::to_string(pid) + "-" + fields[19];
    }
    pid = static_cast<pid_t>(std::stol(fields[1]));
  }
  const std::vector<std::string> own = StatFields(getpid());
  return "pid-" + std::to_string(getpid()) + "-" + (own.size() >= 20 ? own[19] : "0");
}

}  // namespace

std::string TestRunId() {
  static const std::string id = ComputeTestRunId();
  return id;
}

Subprocess::Subprocess(const std::string& binary, const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env) {
  char dir_template[] = "/tmp/portrait-bridge-test-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = dir_template;
  const std::string log_path = dir_ + "/output.log";

  const std::string run_id = TestRunId();
  std::vector<std::string> argv_storage{binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    setenv(kTestRunVariable, run_id.c_str(), 1);
    for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
    std::vector<char*> argv;
    for (auto& arg : argv_storage) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    std::fprintf(stderr, "execv %s: %s\n", binary.c_str(), std::strerror(errno));
    _exit(127);
  }
}

Subprocess::~Subprocess() {
  if (Running()) {
    if (SignalAndWait(SIGTERM, 5000) == -1) SignalAndWait(SIGKILL, 5000);
  }
  std::string command = "rm -rf '" + dir_ + "'";
  if (std::system(command.c_str()) != 0) {
    // Best effort.
  }
}

std::string Subprocess::TempPath(const std::string& name) const { return dir_ + "/" + name; }

int Subprocess::PortFromFile(const std::string& path, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = ReadWholeFile(path);
    if (!text.empty() && text.back() == '\n') return std::stoi(text);
    if (!Running()) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

int Subprocess::WaitForPortFile(const std::string& path, int timeout_ms) {
  const int port = PortFromFile(path, timeout_ms);
  if (port != 0) return port;
  throw std::runtime_error("no port in " + path + " within " + std::to_string(timeout_ms) +
                           " ms (or the process exited); its output:\n" + Output());
}

int Subprocess::SignalAndWait(int signal, int timeout_ms) {
  if (reaped_) return -1;
  kill(pid_, signal);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

bool Subprocess::Running() {
  if (reaped_) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

std::string Subprocess::Output() const { return ReadWholeFile(dir_ + "/output.log"); }

TempDir::TempDir() {
  char dir_template[] = "/tmp/portrait-bridge-test-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = dir_template;
}

TempDir::~TempDir() {
  const std::string command = "rm -rf '" + path_ + "'";
  if (std::system(command.c_str()) != 0) {
    // Best effort.
  }
}

std::string BinaryFromEnv(const char* variable) {
  const char* value = std::getenv(variable);
  if (value != nullptr && *value != '\0') return value;
#if defined(BUILT_BRIDGE_BINARY) && defined(BUILT_SANDBOX_BINARY)
  if (std::string(variable) == "BRIDGE_BINARY") return BUILT_BRIDGE_BINARY;
  if (std::string(variable) == "SANDBOX_BINARY") return BUILT_SANDBOX_BINARY;
#endif
  throw std::runtime_error(std::string("environment variable ") + variable + " is not set");
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
}

}  // namespace portrait_bridge::testing

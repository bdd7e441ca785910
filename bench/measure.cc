#include "bench/measure.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace portrait_bridge::bench {

void Recorder::OpenWindow() {
  opened_ = Clock::now();
  opened_ticks_.store(opened_.time_since_epoch().count());
  measuring_.store(true);
}

void Recorder::CloseWindow() {
  measuring_.store(false);
  closed_ = Clock::now();
  closed_ticks_.store(closed_.time_since_epoch().count());
}

namespace {

uint32_t Microseconds(Clock::duration d) {
  const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return static_cast<uint32_t>(std::clamp<int64_t>(us, 0, UINT32_MAX));
}

}  // namespace

void Recorder::AddAsk(int index, Clock::time_point started) {
  if (!measuring()) return;
  const Clock::time_point now = Clock::now();
  const bool started_inside = started.time_since_epoch().count() >= opened_ticks_.load();
  const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(now - started).count();
  Shard& s = shard(index);
  std::lock_guard<std::mutex> lock(s.mutex);
  s.asks++;
  if (started_inside) s.latencies_us.push_back(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
}

void Recorder::AddOffered(Clock::time_point intended, bool dropped) {
  if (!Inside(intended)) return;
  std::lock_guard<std::mutex> lock(arrivals_.mutex);
  arrivals_.offered++;
  if (dropped) arrivals_.dropped++;
}

void Recorder::AddSent(Clock::time_point intended, Clock::time_point sent) {
  if (!Inside(intended)) return;
  std::lock_guard<std::mutex> lock(arrivals_.mutex);
  arrivals_.lags_us.push_back(Microseconds(sent - intended));
}

void Recorder::AddLookup(int index, Clock::time_point intended) {
  const bool answered_inside = measuring();
  const bool intended_inside = Inside(intended);
  if (!answered_inside && !intended_inside) return;
  const uint32_t us = Microseconds(Clock::now() - intended);
  Shard& s = shard(index);
  std::lock_guard<std::mutex> lock(s.mutex);
  if (answered_inside) s.asks++;
  if (intended_inside) s.latencies_us.push_back(us);
}

void Recorder::AddAccounts(int index, int64_t ok, int64_t failed) {
  if (!measuring()) return;
  Shard& s = shard(index);
  std::lock_guard<std::mutex> lock(s.mutex);
  s.ok += ok;
  s.failed += failed;
}

void Recorder::AddError(int index, const std::string& label, int64_t count) {
  if (!measuring()) return;
  Shard& s = shard(index);
  std::lock_guard<std::mutex> lock(s.mutex);
  s.errors[label] += count;
}

LoadResult Recorder::Result() const { return Combined({this}); }

LoadResult Recorder::Combined(const std::vector<const Recorder*>& recorders) {
  LoadResult result;
  if (recorders.empty()) return result;
  result.seconds = std::chrono::duration<double>(recorders.front()->closed_ - recorders.front()->opened_).count();
  std::vector<uint32_t> lags;
  for (const Recorder* recorder : recorders) {
    for (Shard& s : recorder->shards_) {
      std::lock_guard<std::mutex> lock(s.mutex);
      result.asks += s.asks;
      result.accounts_ok += s.ok;
      result.accounts_failed += s.failed;
      for (const auto& [label, count] : s.errors) result.errors[label] += count;
      result.latencies_us.insert(result.latencies_us.end(), s.latencies_us.begin(), s.latencies_us.end());
    }
    std::lock_guard<std::mutex> lock(recorder->arrivals_.mutex);
    result.offered += recorder->arrivals_.offered;
    result.dropped += recorder->arrivals_.dropped;
    lags.insert(lags.end(), recorder->arrivals_.lags_us.begin(), recorder->arrivals_.lags_us.end());
  }
  result.latency = Summarize(result.latencies_us);
  result.lag = Summarize(lags);
  return result;
}

double Percentile(const std::vector<uint32_t>& sorted_us, double q) {
  if (sorted_us.empty()) return 0;
  size_t index = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted_us.size())));
  index = std::clamp<size_t>(index, 1, sorted_us.size()) - 1;
  return sorted_us[index] / 1000.0;
}

LatencySummary Summarize(std::vector<uint32_t>& latencies_us) {
  LatencySummary summary;
  summary.count = static_cast<int64_t>(latencies_us.size());
  if (latencies_us.empty()) return summary;
  std::sort(latencies_us.begin(), latencies_us.end());
  auto rank = [&](double q) { return Percentile(latencies_us, q); };
  summary.p50_ms = rank(0.50);
  summary.p90_ms = rank(0.90);
  summary.p99_ms = rank(0.99);
  summary.p999_ms = rank(0.999);
  summary.max_ms = latencies_us.back() / 1000.0;
  double sum = 0;
  for (uint32_t us : latencies_us) sum += us;
  summary.mean_ms = sum / static_cast<double>(latencies_us.size()) / 1000.0;
  return summary;
}

bool KeepTimeOnThisThread() {
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  sched_param param{};
  param.sched_priority = 1;
  return pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0;
}

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  // After "pid (comm)": field 3 (state) onwards; utime and stime are fields 14 and 15.
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int number = 3; number <= 15 && fields >> field; ++number) {
    if (number == 14) utime = std::stoull(field);
    if (number == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int64_t ProcessStatusKiB(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  const std::string prefix = std::string(field) + ":";
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::stoll(line.substr(prefix.size()));
  }
  return -1;
}

std::string HttpGet(int port, const std::string& path) {
  CURL* curl = curl_easy_init();
  std::string body;
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(
      curl, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t count, void* user) -> size_t {
        static_cast<std::string*>(user)->append(data, size * count);
        return size * count;
      });
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  long status = 0;
  if (curl_easy_perform(curl) != CURLE_OK) body.clear();
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  return status == 200 ? body : std::string();
}

nlohmann::json SandboxStats(int port) {
  // A sandbox busy refusing tens of thousands of calls per second (or a machine under heavy load) can miss one
  // 5 s request: try a few times before giving up.
  for (int attempt = 0; attempt < 4; ++attempt) {
    nlohmann::json stats = nlohmann::json::parse(HttpGet(port, "/sandbox/stats"), nullptr, false);
    if (stats.is_object()) return stats;
  }
  return nullptr;
}

UpstreamDelta Diff(const nlohmann::json& before, const nlohmann::json& after) {
  UpstreamDelta delta;
  if (!before.is_object() || !after.is_object()) return delta;
  delta.known = true;
  auto get = [](const nlohmann::json& j, const char* key) { return j.value(key, int64_t{0}); };
  delta.calls = get(after, "calls") - get(before, "calls");
  delta.ok = get(after, "ok") - get(before, "ok");
  delta.throttled = get(after, "throttled") - get(before, "throttled");
  delta.accounts = get(after, "accounts") - get(before, "accounts");
  delta.max_accounts_per_call = get(after, "max_accounts_per_call");
  if (after.contains("error_codes")) {
    for (const auto& [code, count] : after["error_codes"].items()) {
      int64_t was = 0;
      if (before.contains("error_codes")) was = before["error_codes"].value(code, int64_t{0});
      if (count.get<int64_t>() - was != 0) delta.error_codes[code] = count.get<int64_t>() - was;
    }
  }
  return delta;
}

Arrivals SandboxArrivals(int port, absl::Span<const int64_t> windows_ms) {
  std::string path = "/sandbox/arrivals?windows_ms=";
  for (size_t i = 0; i < windows_ms.size(); ++i) path += (i > 0 ? "," : "") + std::to_string(windows_ms[i]);
  Arrivals arrivals;
  // As with SandboxStats: a busy machine can miss one 5 s request.
  for (int attempt = 0; attempt < 4 && !arrivals.known; ++attempt) {
    const nlohmann::json body = nlohmann::json::parse(HttpGet(port, path), nullptr, false);
    if (!body.is_object() || !body.contains("max_in_window") || !body["max_in_window"].is_object()) continue;
    arrivals.known = true;
    arrivals.count = body.value("count", int64_t{0});
    arrivals.dropped = body.value("dropped", int64_t{0});
    for (int64_t window : windows_ms) {
      const nlohmann::json most = body["max_in_window"].value(std::to_string(window), nlohmann::json());
      if (!most.is_number_integer()) arrivals.known = false;  // Not what was asked: no figure rather than a wrong one.
      arrivals.max_in_window[window] = most.is_number_integer() ? most.get<int64_t>() : -1;
    }
    if (const nlohmann::json gaps = body.value("gap_us", nlohmann::json()); gaps.is_object()) {
      arrivals.gap_p50_us = gaps.value("p50", int64_t{-1});
      arrivals.gap_p99_us = gaps.value("p99", int64_t{-1});
      arrivals.gap_max_us = gaps.value("max", int64_t{-1});
    }
  }
  return arrivals;
}

double PrometheusValue(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

}  // namespace portrait_bridge::bench

#include "bench/rest_load.h"

#include <curl/curl.h>

#include <chrono>
#include <ctime>
#include <deque>
#include <mutex>

#include "bench/stack.h"
#include "bridge/core/portrait_api.h"
#include "bridge/core/profile_tags.h"
#include "bridge/core/usersig.h"

namespace portrait_bridge::bench {
namespace {

struct Call {
  CURL* easy = nullptr;
  int caller = 0;
  std::mt19937_64 rng;
  std::string url;
  std::string body;
  std::string answer;
  int accounts = 0;
  Clock::time_point started;  // Closed loop: when sent. Open loop: the intended arrival.
};

size_t Append(char* data, size_t size, size_t count, void* user) {
  static_cast<Call*>(user)->answer.append(data, size * count);
  return size * count;
}

// Signed once, as a well-behaved service caches its admin UserSig (validity 1 day).
std::string AdminUserSig() {
  return SignUserSig(kSecretKey, {kAdmin, kSdkAppIdNumber, static_cast<int64_t>(std::time(nullptr)), 86400});
}

// Fills `call` with a signed call for `accounts` and makes its easy handle ready for curl_multi_add_handle.
void Prepare(Call& call, const std::vector<std::string>& accounts, const std::string& base_url,
             const std::string& usersig, const std::vector<std::string>& tags, curl_slist* headers) {
  call.accounts = static_cast<int>(accounts.size());
  call.body = BuildPortraitGetBody(accounts, tags);
  call.url = BuildPortraitGetUrl(base_url, kSdkAppIdNumber, kAdmin, usersig, static_cast<uint32_t>(call.rng()));
  call.answer.clear();
  if (call.easy == nullptr) {
    call.easy = curl_easy_init();
    curl_easy_setopt(call.easy, CURLOPT_POST, 1L);
    curl_easy_setopt(call.easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(call.easy, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(call.easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(call.easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(call.easy, CURLOPT_WRITEFUNCTION, Append);
    curl_easy_setopt(call.easy, CURLOPT_WRITEDATA, &call);
    curl_easy_setopt(call.easy, CURLOPT_PRIVATE, &call);
  }
  curl_easy_setopt(call.easy, CURLOPT_URL, call.url.c_str());
  curl_easy_setopt(call.easy, CURLOPT_POSTFIELDS, call.body.data());
  curl_easy_setopt(call.easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size()));
}

// Counts a finished call's accounts and errors (not the call itself: closed and open loop count it differently).
void RecordAnswer(Recorder& recorder, int shard, const Call& call, CURLcode code, const TagTypes& tag_types) {
  long http_status = 0;
  curl_easy_getinfo(call.easy, CURLINFO_RESPONSE_CODE, &http_status);
  if (code != CURLE_OK) {
    recorder.AddError(shard, std::string("calls: transport ") + curl_easy_strerror(code));
    recorder.AddAccounts(shard, 0, call.accounts);
  } else if (http_status != 200) {
    recorder.AddError(shard, "calls: HTTP " + std::to_string(http_status));
    recorder.AddAccounts(shard, 0, call.accounts);
  } else {
    absl::StatusOr<PortraitGetAnswer> answer = ParsePortraitGetBody(call.answer, tag_types);
    if (!answer.ok()) {
      recorder.AddError(shard, "calls: malformed body");
      recorder.AddAccounts(shard, 0, call.accounts);
    } else if (answer->error_code != 0) {
      recorder.AddError(shard, "calls: ErrorCode " + std::to_string(answer->error_code));
      recorder.AddAccounts(shard, 0, call.accounts);
    } else {
      int64_t ok = 0, failed = 0;
      for (const UserProfileEntry& user : answer->users) {
        if (user.result_code == 0) {
          ++ok;
        } else {
          ++failed;
          recorder.AddError(shard, "accounts: ResultCode " + std::to_string(user.result_code));
        }
      }
      recorder.AddAccounts(shard, ok, failed);
    }
  }
}

// The finished calls of `multi`, each removed from it and passed to `done(call, code)`.
template <typename Done>
void TakeFinished(CURLM* multi, Done done) {
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
    if (message->msg != CURLMSG_DONE) continue;
    Call* call = nullptr;
    curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&call));
    const CURLcode code = message->data.result;
    curl_multi_remove_handle(multi, call->easy);
    done(*call, code);
  }
}

}  // namespace

RestLoad::RestLoad(RestLoadOptions options, Recorder& recorder)
    : options_(std::move(options)), recorder_(recorder), usersig_(AdminUserSig()) {}

RestLoad::~RestLoad() { Stop(); }

void RestLoad::Start() {
  const int threads = std::max(1, std::min(options_.threads, options_.callers));
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this, i] { Loop(i); });
}

void RestLoad::Stop() {
  stopping_.store(true);
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

void RestLoad::Loop(int thread_index) {
  const int threads = static_cast<int>(std::max<size_t>(1, std::min<size_t>(options_.threads, options_.callers)));
  std::vector<std::unique_ptr<Call>> calls;
  for (int caller = thread_index; caller < options_.callers; caller += threads) {
    auto call = std::make_unique<Call>();
    call->caller = caller;
    call->rng.seed(static_cast<uint64_t>(caller) + 1000003);
    calls.push_back(std::move(call));
  }
  CURLM* multi = curl_multi_init();
  // Every caller keeps its own keep-alive connection, as separate service instances or threads would.
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(calls.size() + 8));
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  const TagTypes tag_types;

  auto launch = [&](Call& call) {
    std::vector<std::string> accounts;
    options_.shape.Pick(call.rng, [&](std::string account) { accounts.push_back(std::move(account)); });
    Prepare(call, accounts, options_.base_url, usersig_, options_.shape.tags, headers);
    call.started = Clock::now();
    curl_multi_add_handle(multi, call.easy);
  };

  for (auto& call : calls) launch(*call);
  int running = static_cast<int>(calls.size());
  while (running > 0) {
    int still_running = 0;
    curl_multi_perform(multi, &still_running);
    TakeFinished(multi, [&](Call& call, CURLcode code) {
      RecordAnswer(recorder_, call.caller, call, code, tag_types);
      recorder_.AddAsk(call.caller, call.started);
      if (stopping_.load()) {
        --running;
      } else {
        launch(call);
      }
    });
    if (running > 0) curl_multi_poll(multi, nullptr, 0, 50, nullptr);
  }
  for (auto& call : calls) curl_easy_cleanup(call->easy);
  curl_multi_cleanup(multi);
  curl_slist_free_all(headers);
}

// One curl multi loop of the open loop, and the arrivals handed to it.
struct RestOpenLoad::Worker {
  int index = 0;
  CURLM* multi = nullptr;  // Created before the arrivals start: they wake it (curl_multi_wakeup is thread-safe).
  std::mutex mutex;
  std::vector<std::pair<Clock::time_point, std::vector<std::string>>> incoming;  // Intended arrival, accounts.
};

RestOpenLoad::RestOpenLoad(RestOpenLoadOptions options, Recorder& recorder)
    : options_(std::move(options)),
      recorder_(recorder),
      usersig_(AdminUserSig()),
      arrivals_(options_.rate_per_s, options_.seed, [this](Clock::time_point intended) { Arrive(intended); }),
      rng_(options_.seed ^ 0x9e3779b97f4a7c15ULL) {  // The accounts GrpcOpenLoad asks with the same seed.
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    workers_.push_back(std::make_unique<Worker>());
    workers_.back()->index = i;
  }
}

RestOpenLoad::~RestOpenLoad() { Stop(std::chrono::milliseconds(0)); }

void RestOpenLoad::Start() {
  for (auto& worker : workers_) {
    worker->multi = curl_multi_init();
    // The pool's connections, all kept alive (Loop keeps calls in curl to this many).
    const long connections = std::max<long>(1, options_.connections / static_cast<long>(workers_.size()));
    curl_multi_setopt(worker->multi, CURLMOPT_MAX_HOST_CONNECTIONS, connections);
    curl_multi_setopt(worker->multi, CURLMOPT_MAXCONNECTS, connections);
  }
  for (auto& worker : workers_) threads_.emplace_back([this, w = worker.get()] { Loop(*w); });
  arrivals_.Start();
}

void RestOpenLoad::Stop(std::chrono::milliseconds drain) {
  arrivals_.Stop();
  if (threads_.empty()) return;
  drain_deadline_ticks_.store((Clock::now() + drain).time_since_epoch().count());
  stopping_.store(true);
  for (auto& worker : workers_) curl_multi_wakeup(worker->multi);
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  for (auto& worker : workers_) curl_multi_cleanup(worker->multi);
}

void RestOpenLoad::Arrive(Clock::time_point intended) {
  Worker& worker = *workers_[next_worker_++ % workers_.size()];
  if (outstanding_.load() >= options_.max_outstanding) {
    recorder_.AddOffered(intended, /*dropped=*/true);
    return;
  }
  recorder_.AddOffered(intended, /*dropped=*/false);
  outstanding_.fetch_add(1);
  std::vector<std::string> accounts;
  options_.shape.Pick(rng_, [&](std::string account) { accounts.push_back(std::move(account)); });
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(worker.mutex);
    wake = worker.incoming.empty();  // Otherwise a wake-up is already on its way.
    worker.incoming.emplace_back(intended, std::move(accounts));
  }
  if (wake) curl_multi_wakeup(worker.multi);
  // Handed to the client (as GrpcOpenLoad hands a lookup to a stream): the generator's lag ends here; the curl
  // thread's queue and the wait for a pooled connection are part of the latency, as for any REST client.
  recorder_.AddSent(intended, Clock::now());
}

void RestOpenLoad::Loop(Worker& worker) {
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  const TagTypes tag_types;
  // The pool: at most this many calls in curl at once, one per connection. The rest wait here, in arrival order,
  // as in a service's connection pool (curl's own queue would do the same, but its multi_perform walks every
  // queued handle each time: thousands of them cost more than the calls).
  const int64_t connections = std::max<int64_t>(1, options_.connections / static_cast<int64_t>(workers_.size()));
  std::vector<std::unique_ptr<Call>> calls;  // Every call object made; reused through `idle`.
  std::vector<Call*> idle;
  std::vector<std::pair<Clock::time_point, std::vector<std::string>>> arrived;
  std::deque<std::pair<Clock::time_point, std::vector<std::string>>> waiting;
  int64_t running = 0;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(worker.mutex);
      arrived.swap(worker.incoming);
    }
    for (auto& arrival : arrived) waiting.push_back(std::move(arrival));
    arrived.clear();
    while (running < connections && !waiting.empty()) {
      if (idle.empty()) {
        calls.push_back(std::make_unique<Call>());
        calls.back()->caller = worker.index;
        calls.back()->rng.seed(options_.seed + 1000003 * static_cast<uint64_t>(calls.size()));
        idle.push_back(calls.back().get());
      }
      Call& call = *idle.back();
      idle.pop_back();
      Prepare(call, waiting.front().second, options_.base_url, usersig_, options_.shape.tags, headers);
      call.started = waiting.front().first;
      waiting.pop_front();
      curl_multi_add_handle(worker.multi, call.easy);
      ++running;
    }
    int still_running = 0;
    curl_multi_perform(worker.multi, &still_running);
    bool finished = false;
    TakeFinished(worker.multi, [&](Call& call, CURLcode code) {
      RecordAnswer(recorder_, worker.index, call, code, tag_types);
      recorder_.AddLookup(worker.index, call.started);
      outstanding_.fetch_sub(1);
      --running;
      idle.push_back(&call);
      finished = true;
    });
    if (finished && !waiting.empty() && !stopping_.load()) continue;  // Free connections: start the next calls.
    if (stopping_.load()) {
      // Arrivals have stopped (Stop stops them first); whatever is left after the drain is abandoned.
      std::lock_guard<std::mutex> lock(worker.mutex);
      if (running == 0 && waiting.empty() && worker.incoming.empty()) break;
      if (Clock::now().time_since_epoch().count() >= drain_deadline_ticks_.load()) break;
    }
    curl_multi_poll(worker.multi, nullptr, 0, 50, nullptr);
  }
  for (auto& call : calls) {
    curl_multi_remove_handle(worker.multi, call->easy);  // A no-op for a call that is not running.
    curl_easy_cleanup(call->easy);
  }
  curl_slist_free_all(headers);
}

}  // namespace portrait_bridge::bench

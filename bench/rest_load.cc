#include "bench/rest_load.h"

#include <curl/curl.h>

#include <chrono>
#include <ctime>

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
  Clock::time_point started;
};

size_t Append(char* data, size_t size, size_t count, void* user) {
  static_cast<Call*>(user)->answer.append(data, size * count);
  return size * count;
}

}  // namespace

RestLoad::RestLoad(RestLoadOptions options, Recorder& recorder)
    : options_(std::move(options)), recorder_(recorder) {
  // Signed once, as a well-behaved service caches its admin UserSig (validity 1 day).
  usersig_ = SignUserSig(kSecretKey, {kAdmin, kSdkAppIdNumber, static_cast<int64_t>(std::time(nullptr)), 86400});
}

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
    call.accounts = static_cast<int>(accounts.size());
    call.body = BuildPortraitGetBody(accounts, options_.shape.tags);
    call.url = BuildPortraitGetUrl(options_.base_url, kSdkAppIdNumber, kAdmin, usersig_,
                                   static_cast<uint32_t>(call.rng()));
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
    call.started = Clock::now();
    curl_multi_add_handle(multi, call.easy);
  };

  auto finish = [&](Call& call, CURLcode code) {
    long http_status = 0;
    curl_easy_getinfo(call.easy, CURLINFO_RESPONSE_CODE, &http_status);
    const int shard = call.caller;
    if (code != CURLE_OK) {
      recorder_.AddError(shard, std::string("calls: transport ") + curl_easy_strerror(code));
      recorder_.AddAccounts(shard, 0, call.accounts);
    } else if (http_status != 200) {
      recorder_.AddError(shard, "calls: HTTP " + std::to_string(http_status));
      recorder_.AddAccounts(shard, 0, call.accounts);
    } else {
      absl::StatusOr<PortraitGetAnswer> answer = ParsePortraitGetBody(call.answer, tag_types);
      if (!answer.ok()) {
        recorder_.AddError(shard, "calls: malformed body");
        recorder_.AddAccounts(shard, 0, call.accounts);
      } else if (answer->error_code != 0) {
        recorder_.AddError(shard, "calls: ErrorCode " + std::to_string(answer->error_code));
        recorder_.AddAccounts(shard, 0, call.accounts);
      } else {
        int64_t ok = 0, failed = 0;
        for (const UserProfileEntry& user : answer->users) {
          if (user.result_code == 0) {
            ++ok;
          } else {
            ++failed;
            recorder_.AddError(shard, "accounts: ResultCode " + std::to_string(user.result_code));
          }
        }
        recorder_.AddAccounts(shard, ok, failed);
      }
    }
    recorder_.AddAsk(shard, call.started);
  };

  for (auto& call : calls) launch(*call);
  int running = static_cast<int>(calls.size());
  while (running > 0) {
    int still_running = 0;
    curl_multi_perform(multi, &still_running);
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
      if (message->msg != CURLMSG_DONE) continue;
      Call* call = nullptr;
      curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&call));
      const CURLcode code = message->data.result;
      curl_multi_remove_handle(multi, call->easy);
      finish(*call, code);
      if (stopping_.load()) {
        --running;
      } else {
        launch(*call);
      }
    }
    if (running > 0) curl_multi_poll(multi, nullptr, 0, 50, nullptr);
  }
  for (auto& call : calls) curl_easy_cleanup(call->easy);
  curl_multi_cleanup(multi);
  curl_slist_free_all(headers);
}

}  // namespace portrait_bridge::bench

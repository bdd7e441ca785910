#include "bridge/sandbox/sandbox.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bridge/core/usersig.h"

namespace portrait_bridge::sandbox {
namespace {

using OrderedJson = nlohmann::ordered_json;

// The limiter's answer, which throttle_for_ms gives too.
constexpr int64_t kThrottledCode = 60007;

constexpr char kHtml502[] = "<html><body><h1>502 Bad Gateway</h1></body></html>";
constexpr char kMaintenanceHtml[] = "<html>upstream maintenance</html>";

const std::string* FirstQueryValue(const std::multimap<std::string, std::string>& query, const char* name) {
  auto it = query.find(name);
  return it == query.end() ? nullptr : &it->second;
}

// Plain unsigned decimal: no sign, no spaces, no hex, fits in 64 bits.
bool ParseUnsignedDecimal(const std::string& text, uint64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  return absl::SimpleAtoi(text, out);
}

std::string ResultInfoForCode(int64_t code) {
  // A lookup table reads best one row per line.
  // clang-format off
  switch (code) {
    case 40003: return "Err_Profile_Account_Not_Exist";
    case 40006: return "Err_Profile_PortraitGet_Read_Custom_Data_Fail";
    case 40007: return "Err_Profile_PortraitGet_No_Read_Permission";
    default: return "Err_Profile_Sandbox_Injected_Failure";
  }
  // clang-format on
}

// Whether a fault counter fires for this call; counts down N > 0, keeps -1 (always) as is.
bool TakeOne(int64_t* count) {
  if (*count == 0) return false;
  if (*count > 0) --*count;
  return true;
}

}  // namespace

std::string ErrorInfoForCode(int64_t code) {
  // A lookup table reads best one row per line.
  // clang-format off
  switch (code) {
    case 40001: return "Err_Profile_Comm_Decode_Fail";
    case 40002: return "Err_Profile_Comm_Account_Empty";
    case 40009: return "Err_Profile_Tag_Not_Exist";
    case 60002: return "HTTP request parse error";
    case 60003: return "request JSON parse error";
    case 60004: return "identifier or UserSig wrong";
    case 60006: return "SDKAppID invalid";
    case 60007: return "call frequency over the limit";
    case 60009: return "wrong service or command in the URL";
    case 60012: return "sdkappid missing";
    case 60015: return "account must be a string";
    case 70001: return "UserSig expired, generate a new one";
    case 70002: return "UserSig empty";
    case 70003: return "UserSig invalid";
    case 70009: return "UserSig verification failed";
    case 70013: return "identifier does not match the UserSig";
    case 70014: return "SDKAppID does not match the UserSig";
    case 70016: return "SDKAppID unknown in this region";
    case 70052: return "UserSig invalidated, generate a new one";
    case 70403: return "the identifier is not an app admin";
    default: return "error injected by portrait-sandbox";
  }
  // clang-format on
}

Sandbox::Sandbox(SandboxConfig config) : Sandbox(std::move(config), Faults{}, absl::InfinitePast()) {}

Sandbox::Sandbox(SandboxConfig config, Faults faults, absl::Time now)
    : config_(std::move(config)),
      store_(config_.pool_size, config_.custom_tags),
      limiter_(config_.calls_per_second, absl::Milliseconds(config_.rate_window_ms)) {
  SetFaults(std::move(faults), now);
}

Sandbox::Injected Sandbox::TakeInjectedFault(absl::Time now, int64_t* error_code) {
  Faults& f = faults_;
  // A time span, not a counter: it consumes nothing, and while it lasts no other fault is consumed either.
  if (now >= throttle_from_ && now < throttle_until_) return Injected::kThrottle;
  if (TakeOne(&f.drop_connection_count)) return Injected::kDrop;
  if (TakeOne(&f.http_502_count)) return Injected::kHttp502;
  if (TakeOne(&f.non_json_count)) return Injected::kNonJson;
  if (TakeOne(&f.truncated_count)) return Injected::kTruncated;
  if (f.error_code != 0) {
    *error_code = f.error_code;
    // error_count counts down to 0, and then the fault is off (error_code cleared with it).
    if (f.error_count > 0 && --f.error_count == 0) f.error_code = 0;
    return Injected::kErrorCode;
  }
  if (f.expire_all_sigs) return Injected::kUserSigExpired;
  if (TakeOne(&f.usersig_expired_count)) return Injected::kUserSigExpired;
  return Injected::kNone;
}

Reply Sandbox::HandlePortraitGet(const PortraitGetRequest& request, absl::Time arrival) {
  // Microseconds, as /sandbox/arrivals reports them: the limiter then counts exactly the instants reported.
  const absl::Time now = absl::FromUnixMicros(absl::ToUnixMicros(arrival));
  absl::Duration delay;
  Injected injected;
  int64_t injected_code = 0;
  {
    absl::MutexLock lock(&mu_);
    ++stats_.calls;
    arrivals_.Record(now);
    delay = absl::Milliseconds(faults_.latency_ms);
    injected = TakeInjectedFault(now, &injected_code);
    const char* fault_name = nullptr;
    // One row per fault.
    // clang-format off
    switch (injected) {
      case Injected::kThrottle:
        fault_name = "throttle_for";
        ++stats_.throttled;
        break;
      case Injected::kDrop:
        fault_name = "drop_connection";
        break;
      case Injected::kHttp502:
        fault_name = "http_502";
        break;
      case Injected::kNonJson:
        fault_name = "non_json";
        break;
      case Injected::kTruncated:
        fault_name = "truncated";
        break;
      case Injected::kErrorCode:
        fault_name = "error_code";
        break;
      case Injected::kUserSigExpired:
        fault_name = "usersig_expired";
        break;
      case Injected::kNone:
        break;
    }
    // clang-format on
    if (fault_name != nullptr) ++stats_.faults[fault_name];
    // Transport faults are neither OK nor FAIL answers.
    if (injected == Injected::kDrop || injected == Injected::kHttp502 || injected == Injected::kNonJson ||
        injected == Injected::kTruncated) {
      ++stats_.faulted;
    }
  }

  Reply reply;
  reply.delay = delay;
  switch (injected) {
    case Injected::kThrottle:
      return Fail(kThrottledCode, ErrorInfoForCode(kThrottledCode), delay);
    case Injected::kDrop:
      reply.drop_connection = true;
      reply.summary = "fault: drop connection";
      return reply;
    case Injected::kHttp502:
      reply.http_status = 502;
      reply.content_type = "text/html";
      reply.body = kHtml502;
      reply.summary = "fault: HTTP 502";
      return reply;
    case Injected::kNonJson:
      reply.content_type = "text/html";
      reply.body = kMaintenanceHtml;
      reply.summary = "fault: non-JSON body";
      return reply;
    case Injected::kTruncated: {
      const std::string whole =
          R"({"UserProfileItem":[{"To_Account":"user1","ProfileItem":[{"Tag":"Tag_Profile_IM_Nick",)"
          R"("Value":"User 1"}],"ResultCode":0,"ResultInfo":""}],"ActionStatus":"OK","ErrorCode":0,)"
          R"("ErrorInfo":"","ErrorDisplay":""})";
      reply.body = whole.substr(0, whole.size() / 2);
      reply.summary = "fault: truncated JSON";
      return reply;
    }
    case Injected::kErrorCode:
      return Fail(injected_code, ErrorInfoForCode(injected_code), delay);
    case Injected::kUserSigExpired:
      return Fail(70001, ErrorInfoForCode(70001), delay);
    case Injected::kNone:
      break;
  }

  if (request.method != "POST") {
    return Fail(60002, absl::StrCat("HTTP method must be POST, got ", request.method), delay);
  }
  const Check query = CheckQuery(request, now);
  if (query.code != 0) return Fail(query.code, query.info, delay);

  const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return Fail(60003, "request body is not JSON", delay);
  if (!body.is_object()) return Fail(40001, "Err_Profile_Comm_Decode_Fail: body is not a JSON object", delay);
  auto to_account = body.find("To_Account");
  if (to_account == body.end() || (to_account->is_array() && to_account->empty())) {
    return Fail(40002, "Err_Profile_Comm_Account_Empty: To_Account missing or empty", delay);
  }
  if (!to_account->is_array()) {
    return Fail(40001, "Err_Profile_Comm_Decode_Fail: To_Account must be an array", delay);
  }
  for (const nlohmann::json& account : *to_account) {
    if (!account.is_string()) return Fail(60015, "To_Account entries must be strings", delay);
  }
  if (to_account->size() > static_cast<size_t>(config_.max_accounts_per_call)) {
    return Fail(40001,
                absl::StrCat("Err_Profile_Comm_Decode_Fail: To_Account holds ", to_account->size(),
                             " accounts, at most ", config_.max_accounts_per_call, " allowed"),
                delay);
  }
  auto tag_list = body.find("TagList");
  if (tag_list == body.end() || !tag_list->is_array() || tag_list->empty()) {
    return Fail(40001, "Err_Profile_Comm_Decode_Fail: TagList missing, empty or not an array", delay);
  }
  std::vector<std::string> tags;
  for (const nlohmann::json& tag : *tag_list) {
    if (!tag.is_string()) return Fail(40001, "Err_Profile_Comm_Decode_Fail: TagList entries must be strings", delay);
    if (!store_.KnownTag(tag.get<std::string>())) {
      return Fail(40009, absl::StrCat("Err_Profile_Tag_Not_Exist: ", tag.get<std::string>()), delay);
    }
    tags.push_back(tag.get<std::string>());
  }
  return Answer(*to_account, tags, delay);
}

Sandbox::Check Sandbox::CheckQuery(const PortraitGetRequest& request, absl::Time now) {
  const std::string* sdkappid_text = FirstQueryValue(request.query, "sdkappid");
  if (sdkappid_text == nullptr) return {60012, ErrorInfoForCode(60012)};
  uint64_t sdkappid = 0;
  if (!ParseUnsignedDecimal(*sdkappid_text, &sdkappid)) return {60006, "sdkappid is not a number"};
  if (sdkappid != config_.sdkappid) return {70016, ErrorInfoForCode(70016)};

  // The limit is per SDKAppID, so it applies once the app is known, before the costlier sig check.
  {
    absl::MutexLock lock(&mu_);
    if (!limiter_.Admit(now)) {
      ++stats_.throttled;
      return {kThrottledCode, ErrorInfoForCode(kThrottledCode)};
    }
  }

  const std::string* identifier = FirstQueryValue(request.query, "identifier");
  if (identifier == nullptr || identifier->empty()) return {60004, "identifier missing"};
  const std::string* sig = FirstQueryValue(request.query, "usersig");
  if (sig == nullptr || sig->empty()) return {70002, ErrorInfoForCode(70002)};

  absl::StatusOr<DecodedUserSig> decoded = DecodeUserSig(*sig);
  if (!decoded.ok()) return {70003, ErrorInfoForCode(70003)};
  if (decoded->fields.identifier != *identifier) return {70013, ErrorInfoForCode(70013)};
  if (decoded->fields.sdkappid != sdkappid) return {70014, ErrorInfoForCode(70014)};
  if (!UserSigSignatureMatches(config_.secret_key, *decoded)) return {70009, ErrorInfoForCode(70009)};
  {
    absl::MutexLock lock(&mu_);
    stats_.usersigs.insert(std::hash<std::string>{}(*sig));
  }
  const int64_t now_seconds = absl::ToUnixSeconds(now);
  // In 128 bits: a correctly signed UserSig may still carry any 64-bit time and expire.
  if (static_cast<__int128>(now_seconds) >
      static_cast<__int128>(decoded->fields.time) + static_cast<__int128>(decoded->fields.expire)) {
    return {70001, ErrorInfoForCode(70001)};
  }
  if (decoded->fields.time < config_.invalidate_sigs_before) return {70052, ErrorInfoForCode(70052)};
  // Authenticate first, then authorise: a normal account with a valid sig of its own gets "needs admin".
  if (std::find(config_.admins.begin(), config_.admins.end(), *identifier) == config_.admins.end()) {
    return {70403, ErrorInfoForCode(70403)};
  }

  const std::string* random = FirstQueryValue(request.query, "random");
  uint64_t random_value = 0;
  if (random == nullptr || !ParseUnsignedDecimal(*random, &random_value) || random_value > 0xFFFFFFFFull) {
    return {60002, "random must be an unsigned 32-bit decimal"};
  }
  const std::string* content_type = FirstQueryValue(request.query, "contenttype");
  if (content_type == nullptr || *content_type != "json") return {60002, "contenttype must be json"};
  return {};
}

Reply Sandbox::Fail(int64_t code, const std::string& info, absl::Duration delay) {
  OrderedJson body;
  body["ActionStatus"] = "FAIL";
  body["ErrorCode"] = code;
  body["ErrorInfo"] = info;
  body["ErrorDisplay"] = "";
  {
    absl::MutexLock lock(&mu_);
    ++stats_.rejected;
    ++stats_.error_codes[code];
    body["RequestId"] = absl::StrCat("sandbox-", next_request_id_++);
  }
  Reply reply;
  reply.body = body.dump();
  reply.delay = delay;
  reply.summary = absl::StrCat("FAIL ", code);
  return reply;
}

Reply Sandbox::Answer(const nlohmann::json& to_account, const std::vector<std::string>& tags, absl::Duration delay) {
  std::map<std::string, int64_t> fail_accounts;
  {
    absl::MutexLock lock(&mu_);
    fail_accounts = faults_.fail_accounts;
  }
  OrderedJson items = OrderedJson::array();
  OrderedJson failed = OrderedJson::array();
  std::map<int64_t, int64_t> result_codes;
  for (const nlohmann::json& account_json : to_account) {
    const std::string account = account_json.get<std::string>();
    OrderedJson item;
    item["To_Account"] = account;
    int64_t code = 0;
    if (auto it = fail_accounts.find(account); it != fail_accounts.end()) {
      code = it->second;
    } else if (!store_.Exists(account)) {
      code = 40003;
    }
    if (code != 0) {
      item["ResultCode"] = code;
      item["ResultInfo"] = ResultInfoForCode(code);
      failed.push_back(account);
      ++result_codes[code];
    } else {
      OrderedJson profile = OrderedJson::array();
      for (const std::string& tag : tags) {
        std::optional<nlohmann::json> value = store_.Value(account, tag);
        if (!value.has_value()) continue;  // Unset and omitted.
        OrderedJson entry;
        entry["Tag"] = tag;
        entry["Value"] = *value;
        profile.push_back(std::move(entry));
      }
      item["ProfileItem"] = std::move(profile);
      item["ResultCode"] = 0;
      item["ResultInfo"] = "";
    }
    items.push_back(std::move(item));
  }

  OrderedJson body;
  body["UserProfileItem"] = std::move(items);
  const size_t failed_count = failed.size();
  if (failed_count > 0) body["Fail_Account"] = std::move(failed);
  body["ActionStatus"] = "OK";
  body["ErrorCode"] = 0;
  body["ErrorInfo"] = "";
  body["ErrorDisplay"] = "";
  {
    absl::MutexLock lock(&mu_);
    body["RequestId"] = absl::StrCat("sandbox-", next_request_id_++);
    const int64_t n = static_cast<int64_t>(to_account.size());
    ++stats_.ok;
    stats_.accounts += n;
    stats_.failed_accounts += static_cast<int64_t>(failed_count);
    stats_.max_accounts_per_call = std::max(stats_.max_accounts_per_call, n);
    for (const auto& [code, count] : result_codes) stats_.result_codes[code] += count;
  }
  Reply reply;
  reply.body = body.dump();
  reply.delay = delay;
  reply.summary = absl::StrCat("OK accounts=", to_account.size(), " failed=", failed_count);
  return reply;
}

Reply Sandbox::HandleUnknownCommand(const std::string& path) const {
  OrderedJson body;
  body["ActionStatus"] = "FAIL";
  body["ErrorCode"] = 60009;
  body["ErrorInfo"] = absl::StrCat(ErrorInfoForCode(60009), ": ", path);
  body["ErrorDisplay"] = "";
  Reply reply;
  reply.body = body.dump();
  reply.summary = "FAIL 60009 (unknown command)";
  return reply;
}

void Sandbox::SetFaults(Faults faults, absl::Time now) {
  absl::MutexLock lock(&mu_);
  faults_ = std::move(faults);
  throttle_from_ = now;
  throttle_until_ = now + absl::Milliseconds(faults_.throttle_for_ms);
}

Faults Sandbox::GetFaults(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  Faults faults = faults_;
  const absl::Duration left = throttle_until_ - std::max(now, throttle_from_);
  // Rounded up, so a throttle still in force never reads as 0 (off).
  faults.throttle_for_ms =
      left > absl::ZeroDuration() ? absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))) : 0;
  return faults;
}

nlohmann::json Sandbox::Stats() const {
  absl::MutexLock lock(&mu_);
  nlohmann::json error_codes = nlohmann::json::object();
  for (const auto& [code, count] : stats_.error_codes) error_codes[std::to_string(code)] = count;
  nlohmann::json result_codes = nlohmann::json::object();
  for (const auto& [code, count] : stats_.result_codes) result_codes[std::to_string(code)] = count;
  nlohmann::json faults = {{"throttle_for", 0}, {"drop_connection", 0}, {"http_502", 0},       {"non_json", 0},
                           {"truncated", 0},    {"error_code", 0},      {"usersig_expired", 0}};
  for (const auto& [name, count] : stats_.faults) faults[name] = count;
  return {
      {"calls", stats_.calls},
      {"ok", stats_.ok},
      {"rejected", stats_.rejected},
      {"throttled", stats_.throttled},
      {"faulted", stats_.faulted},
      {"accounts", stats_.accounts},
      {"failed_accounts", stats_.failed_accounts},
      {"max_accounts_per_call", stats_.max_accounts_per_call},
      {"in_flight", stats_.in_flight},
      {"max_in_flight", stats_.max_in_flight},
      {"distinct_usersigs", static_cast<int64_t>(stats_.usersigs.size())},
      {"error_codes", error_codes},
      {"result_codes", result_codes},
      {"faults", faults},
  };
}

void Sandbox::ResetStats() {
  absl::MutexLock lock(&mu_);
  const int64_t in_flight = stats_.in_flight;  // Calls still running will decrement it.
  stats_ = Counters();
  stats_.in_flight = in_flight;
  stats_.max_in_flight = in_flight;
  arrivals_.Clear();
}

nlohmann::json Sandbox::Arrivals(const ArrivalsQuery& query) const {
  std::optional<ArrivalLog> snapshot;
  {
    absl::MutexLock lock(&mu_);
    snapshot.emplace(arrivals_);  // A copy (8 MB at most); sorting it outside the lock keeps calls flowing.
  }
  return ArrivalsReport(snapshot->SortedMicros(), snapshot->capacity(), snapshot->dropped(), query);
}

void Sandbox::CallStarted() {
  absl::MutexLock lock(&mu_);
  ++stats_.in_flight;
  stats_.max_in_flight = std::max(stats_.max_in_flight, stats_.in_flight);
}

void Sandbox::CallFinished() {
  absl::MutexLock lock(&mu_);
  --stats_.in_flight;
}

std::string Sandbox::IssueUserSig(const std::string& identifier, int64_t expire_seconds, absl::Time now) const {
  return SignUserSig(config_.secret_key, {identifier, config_.sdkappid, absl::ToUnixSeconds(now), expire_seconds});
}

}  // namespace portrait_bridge::sandbox

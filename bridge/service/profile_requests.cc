#include "bridge/service/profile_requests.h"

#include <google/protobuf/arena.h>

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bridge/core/portrait_api.h"
#include "bridge/core/profile_tags.h"
#include "bridge/core/request_validation.h"
#include "bridge/service/grpc_server_metrics.h"
#include "portraitbridge/profile/v1/profile.pb.h"

namespace portrait_bridge {
namespace {

namespace v1 = portraitbridge::profile::v1;

// An arena for decoding one request, its first block on the stack: a 100-account request's strings then cost no
// allocation (they were two each, and their frees, a tenth of a cached lookup's work).
struct RequestArena {
  RequestArena() : arena(Options(block, sizeof(block))) {}

  static google::protobuf::ArenaOptions Options(char* initial_block, size_t size) {
    google::protobuf::ArenaOptions options;
    options.initial_block = initial_block;
    options.initial_block_size = size;
    return options;
  }

  alignas(8) char block[8192];
  google::protobuf::Arena arena;
};

// A result encoded for a GetProfilesResponse becomes one for a BatchGetProfilesResponse by its first byte: both
// tags are one byte, and the rest of the field is the same.
constexpr char kBatchResultTag = (v1::BatchGetProfilesResponse::kResultsFieldNumber << 3) | 2;
static_assert(v1::GetProfilesResponse::kResultsFieldNumber < 16 &&
                  v1::BatchGetProfilesResponse::kResultsFieldNumber < 16,
              "results tags must be one byte");

void SetFailure(const Failure& failure, v1::AccountResult& result) {
  const int64_t code = failure.tencent_code;
  const bool fits = code >= std::numeric_limits<int32_t>::min() && code <= std::numeric_limits<int32_t>::max();
  result.set_tencent_code(fits ? static_cast<int32_t>(code) : 0);
  if (code == 0) {
    result.set_result_code(v1::RESULT_CODE_NO_UPSTREAM_ANSWER);
  } else if (fits && code > v1::RESULT_CODE_NO_UPSTREAM_ANSWER) {
    result.set_result_code(static_cast<v1::ResultCode>(code));  // Named or not: proto3 enums are open.
  } else {
    // Not a Tencent code number (a broken answer), and it would read as one of the schema's own codes.
    result.set_result_code(v1::RESULT_CODE_UNSPECIFIED);
  }
  result.set_result_info(failure.tencent_info);
  *result.mutable_status() = ToRpcStatus(failure);
}

// Appends the result for `outcome` to `results`; returns the gRPC code of its status.
int EncodeResult(const AccountOutcome& outcome, ResponseEncoder& results) {
  if (!outcome.failure.has_value()) {
    results.AddSuccess(outcome, 1);
    return 0;
  }
  v1::AccountResult result;
  result.set_account(outcome.account);
  SetFailure(*outcome.failure, result);
  results.AddResult(result, 1);
  return result.status().code();
}

}  // namespace

bool SharedQuota::TryTake(int64_t units) {
  int64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (used + units > limit_) return false;
  } while (!used_.compare_exchange_weak(used, used + units, std::memory_order_relaxed));
  return true;
}

void SharedQuota::Give(int64_t units) { used_.fetch_sub(units, std::memory_order_relaxed); }

grpc::Status ToGrpcStatus(const google::rpc::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message(), status.SerializeAsString());
}

ProfileRequests::ProfileRequests(const StreamLimits& limits, ServerQuotas& quotas, StreamObserver* observer)
    : limits_(limits), quotas_(quotas), observer_(observer) {}

ProfileRequests::~ProfileRequests() { quotas_.accepted_accounts.Give(accepted_accounts_); }

std::optional<ResponseEncoder> ProfileRequests::AcceptStreamRequest(absl::string_view wire) {
  const uint64_t index = next_request_index_++;
  if (end_status_.has_value() || stop_reading_) return std::nullopt;
  RequestArena arena;
  v1::GetProfilesRequest& request = *google::protobuf::Arena::CreateMessage<v1::GetProfilesRequest>(&arena.arena);
  std::vector<FieldViolation> stream_violations;
  if (!DecodeRequest(wire, request)) {
    stream_violations.push_back(
        {absl::StrCat("requests[", index, "]"), "the message is not a valid GetProfilesRequest encoding"});
  } else if (accounts_on_stream_ += request.accounts_size(); accounts_on_stream_ > limits_.max_accounts_per_stream) {
    stream_violations.push_back(
        {absl::StrCat("requests[", index, "].accounts"),
         absl::StrCat("this stream has asked for ", accounts_on_stream_, " accounts; one stream may ask for at most ",
                      limits_.max_accounts_per_stream, " (max_accounts_per_stream): open another stream")});
  }
  if (!stream_violations.empty()) {
    // Requests accepted before this one are still answered; then the stream ends with the violation.
    invalid_status_ = ToGrpcStatus(InvalidArgumentStatus(
        absl::StrCat("request ", index, " on this stream ends it: ", stream_violations.front().field, ": ",
                     stream_violations.front().description),
        stream_violations));
    stop_reading_ = true;
    return std::nullopt;
  }
  // Only this request is refused from here on; the stream goes on with the next one.
  std::optional<google::rpc::Status> refusal;
  if (std::vector<FieldViolation> violations = ValidateRequest(request, index); !violations.empty()) {
    ++invalid_requests_;
    if (observer_ != nullptr) observer_->OnInvalidRequest();
    refusal = InvalidArgumentStatus(absl::StrCat("request ", index, " is invalid: ", violations.front().field, ": ",
                                                 violations.front().description),
                                    violations);
  } else {
    refusal = AcceptLookup(index, request.request_id(), request.accounts(), request.tags());
  }
  if (!refusal.has_value()) return std::nullopt;
  // A request_id that is not UTF-8 is not echoed.
  ResponseEncoder response(index, IsValidUtf8(request.request_id()) ? request.request_id() : std::string());
  response.SetComplete();
  response.SetStatus(*refusal);
  return response;
}

grpc::Status ProfileRequests::AcceptBatchGet(absl::string_view wire) {
  ++next_request_index_;
  stop_reading_ = true;
  RequestArena arena;
  v1::BatchGetProfilesRequest& request =
      *google::protobuf::Arena::CreateMessage<v1::BatchGetProfilesRequest>(&arena.arena);
  std::vector<FieldViolation> violations;
  if (!DecodeBatchGetRequest(wire, request)) {
    violations.push_back({"", "the message is not a valid BatchGetProfilesRequest encoding"});
  } else {
    violations = ValidateBatchGetRequest(request);
    if (request.accounts_size() > limits_.max_accounts_per_batch_get) {
      violations.insert(
          violations.begin(),
          {"accounts", absl::StrCat(request.accounts_size(), " accounts; BatchGetProfiles takes at most ",
                                    limits_.max_accounts_per_batch_get,
                                    " (max_accounts_per_batch_get): use the GetProfiles stream for more")});
    }
  }
  if (!violations.empty()) {
    ++invalid_requests_;
    if (observer_ != nullptr) observer_->OnInvalidRequest();
    const FieldViolation& first = violations.front();
    return ToGrpcStatus(InvalidArgumentStatus(
        absl::StrCat("invalid BatchGetProfilesRequest: ", first.field.empty() ? "" : first.field + ": ",
                     first.description),
        violations));
  }
  batch_ = std::make_unique<Batch>();
  batch_->accounts.assign(request.accounts().begin(), request.accounts().end());
  if (std::optional<google::rpc::Status> refusal = AcceptLookup(0, std::string(), request.accounts(), request.tags());
      refusal.has_value()) {
    return ToGrpcStatus(*refusal);
  }
  return grpc::Status::OK;
}

std::optional<google::rpc::Status> ProfileRequests::AcceptLookup(
    uint64_t index, std::string request_id, const google::protobuf::RepeatedPtrField<std::string>& accounts,
    const google::protobuf::RepeatedPtrField<std::string>& tags) {
  RequestState state;
  std::vector<std::string> unique;
  state.occurrences.reserve(accounts.size());  // Not rehashed seven times on the way to 100 accounts.
  unique.reserve(accounts.size());
  for (const std::string& account : accounts) {
    if (state.occurrences[account]++ == 0) unique.push_back(account);
  }
  const int64_t cost = static_cast<int64_t>(unique.size());
  if (!quotas_.accepted_accounts.TryTake(cost)) {
    return ToRpcStatus(BridgeOverQuotaFailure(absl::StrCat(
        "request ", index, " asks for ", cost, " accounts, but the bridge already holds ",
        quotas_.accepted_accounts.used(), " accounts of requests not yet answered, its limit for all callers (",
        quotas_.accepted_accounts.limit(), ", max_accepted_accounts); retry it later, or in smaller requests")));
  }
  accepted_accounts_ += cost;
  state.cost = cost;
  state.request_id = std::move(request_id);
  state.tags.assign(tags.begin(), tags.end());
  state.unanswered_entries = accounts.size();
  state.accepted_at = absl::Now();
  requests_.emplace(index, std::move(state));
  for (auto& call : SplitIntoCalls(std::move(unique), static_cast<size_t>(limits_.max_accounts_per_call))) {
    pending_calls_.push_back({index, std::move(call)});
  }
  return std::nullopt;
}

void ProfileRequests::ForgetRequest(uint64_t index) {
  auto it = requests_.find(index);
  accepted_accounts_ -= it->second.cost;
  quotas_.accepted_accounts.Give(it->second.cost);
  requests_.erase(it);
}

ProfileRequests::Call ProfileRequests::TakeNextCall() {
  Call call = std::move(pending_calls_.front());
  pending_calls_.pop_front();
  return call;
}

const std::vector<std::string>& ProfileRequests::TagsOf(uint64_t request_index) const {
  return requests_.at(request_index).tags;
}

std::optional<grpc::Status> ProfileRequests::OnAnswer(uint64_t request_index, std::vector<AccountOutcome> outcomes) {
  if (end_status_.has_value()) return std::nullopt;
  for (const AccountOutcome& outcome : outcomes) {
    if (outcome.failure.has_value() && outcome.failure->rule.ends_stream) {
      return ToGrpcStatus(ToRpcStatus(*outcome.failure));
    }
  }
  RequestState& state = requests_.at(request_index);
  EncodedResults encoded;
  encoded.request_index = request_index;
  encoded.results.reserve(outcomes.size());
  ResponseEncoder results(0, std::string());  // No header: only the results.
  size_t estimate = 0;  // Successes, the usual answer: their bytes and about a dozen of framing each.
  for (const AccountOutcome& outcome : outcomes) estimate += outcome.account.size() + outcome.encoded_items.size() + 16;
  results.Reserve(estimate);
  // Accounts answered per gRPC code, reported to the observer once per call rather than per account.
  std::array<int64_t, kGrpcStatusCodes> answered{};
  for (AccountOutcome& outcome : outcomes) {
    const auto occurrences = state.occurrences.find(outcome.account);
    if (occurrences == state.occurrences.end() || occurrences->second == 0) continue;  // Not asked, or answered.
    const int copies = std::exchange(occurrences->second, 0);
    const size_t begin = results.size();
    const int code = EncodeResult(outcome, results);
    if (batch_ != nullptr) {
      // Every copy is written when the response is assembled, in request order.
      std::string result = results.bytes().substr(begin);
      result[0] = kBatchResultTag;
      batch_->results.emplace(outcome.account, std::move(result));
      state.unanswered_entries -= copies;
    } else {
      encoded.results.push_back({results.size(), copies});
    }
    accounts_answered_ += copies;
    if (code != 0) accounts_failed_ += copies;
    answered[code >= 0 && code < kGrpcStatusCodes ? code : static_cast<int>(grpc::StatusCode::UNKNOWN)] += copies;
  }
  if (observer_ != nullptr) {
    for (int code = 0; code < kGrpcStatusCodes; ++code) {
      if (answered[code] > 0) observer_->OnAccountsAnswered(static_cast<grpc::StatusCode>(code), answered[code]);
    }
  }
  if (batch_ != nullptr) {
    if (state.unanswered_entries == 0) ForgetRequest(request_index);
    return std::nullopt;
  }
  if (encoded.results.empty()) return std::nullopt;
  encoded.bytes = std::move(results).TakeBytes();
  unsent_.push_back(std::move(encoded));
  return std::nullopt;
}

void ProfileRequests::End(grpc::Status status) {
  if (!end_status_.has_value()) end_status_ = std::move(status);
  stop_reading_ = true;
  pending_calls_.clear();
  unsent_.clear();  // Results not yet in a response: the call's status speaks for them.
}

std::optional<ResponseEncoder> ProfileRequests::NextResponse(absl::Time* completes) {
  if (end_status_.has_value() || unsent_.empty()) return std::nullopt;
  // The room for results: request_complete (two bytes) may still follow.
  constexpr size_t kResultsRoom = kMaxResponseBytes - 2;
  EncodedResults& from = unsent_.front();
  RequestState& state = requests_.at(from.request_index);
  ResponseEncoder response(from.request_index, state.request_id);
  const size_t header = response.size();
  // The rest of the results (up to the size limit) and request_complete: copied once, never moved again.
  response.Reserve(std::min(from.bytes.size() - from.next_begin, kResultsRoom) + 2);
  while (from.next < from.results.size()) {
    // A run of results with one copy each that fits goes in one append; a result with copies goes as often as it
    // fits; a response holds at least one result, whatever its size.
    size_t run_end = from.next;
    while (run_end < from.results.size() && from.results[run_end].copies == 1 &&
           response.size() + (from.results[run_end].end - from.next_begin) <= kResultsRoom) {
      ++run_end;
    }
    if (run_end > from.next) {
      const size_t end = from.results[run_end - 1].end;
      response.AddEncodedResults(absl::string_view(from.bytes).substr(from.next_begin, end - from.next_begin), 1);
      state.unanswered_entries -= static_cast<int64_t>(run_end - from.next);
      for (size_t i = from.next; i < run_end; ++i) from.results[i].copies = 0;
      from.next = run_end;
      from.next_begin = end;
      continue;
    }
    EncodedResults::Result& result = from.results[from.next];
    const size_t size = result.end - from.next_begin;
    const size_t room = kResultsRoom > response.size() ? kResultsRoom - response.size() : 0;
    const int fits = static_cast<int>(std::min<size_t>(result.copies, room / size));
    const int copies = fits > 0 ? fits : (response.size() == header ? 1 : 0);
    if (copies == 0) break;  // The response is full.
    response.AddEncodedResults(absl::string_view(from.bytes).substr(from.next_begin, size), copies);
    state.unanswered_entries -= copies;
    result.copies -= copies;
    if (result.copies > 0) break;  // The rest of its copies go into the next response.
    ++from.next;
    from.next_begin = result.end;
  }
  const uint64_t request_index = from.request_index;
  if (from.next == from.results.size()) unsent_.pop_front();
  if (state.unanswered_entries == 0) {
    response.SetComplete();
    if (completes != nullptr) *completes = state.accepted_at;
    ForgetRequest(request_index);
  }
  return response;
}

bool ProfileRequests::batch_answered() const { return batch_ != nullptr && requests_.empty(); }

std::string ProfileRequests::TakeBatchResponse() {
  std::string response;
  size_t size = 0;
  for (const std::string& account : batch_->accounts) size += batch_->results.at(account).size();
  response.reserve(size);
  for (const std::string& account : batch_->accounts) response.append(batch_->results.at(account));
  batch_->results.clear();
  return response;
}

grpc::Status ProfileRequests::status() const {
  if (end_status_.has_value()) return *end_status_;
  if (invalid_status_.has_value()) return *invalid_status_;
  return grpc::Status::OK;
}

}  // namespace portrait_bridge

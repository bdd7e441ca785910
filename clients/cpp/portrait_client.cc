#include "clients/cpp/portrait_client.h"

#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/rpc/error_details.pb.h"

namespace portrait_bridge::client {
namespace {

namespace v1 = ::portraitbridge::profile::v1;

constexpr char kTypePrefix[] = "type.googleapis.com/";

bool ReadFile(const std::string& path, std::string* content, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read " + path;
    return false;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  *content = buffer.str();
  return true;
}

AccountProfile FromProto(const v1::AccountResult& result) {
  AccountProfile profile;
  profile.account = result.account();
  profile.result_code = result.result_code();
  profile.tencent_code = result.tencent_code();
  profile.result_info = result.result_info();
  profile.error = DecodeStatus(result.status());
  profile.fields.reserve(result.items_size());
  for (const v1::ProfileItem& item : result.items()) {
    Field field{item.tag(), std::monostate{}};
    switch (item.value_case()) {
      case v1::ProfileItem::kUintValue:
        field.value = item.uint_value();
        break;
      case v1::ProfileItem::kStringValue:
        field.value = item.string_value();
        break;
      case v1::ProfileItem::kBytesValue:
        field.value = Bytes{item.bytes_value()};
        break;
      case v1::ProfileItem::VALUE_NOT_SET:
        break;
    }
    profile.fields.push_back(std::move(field));
  }
  return profile;
}

}  // namespace

int64_t Error::tencent_code() const {
  int64_t code = 0;
  if (!error_info) return 0;
  const auto it = error_info->metadata.find("tencent_code");
  if (it == error_info->metadata.end() || !absl::SimpleAtoi(it->second, &code)) return 0;
  return code;
}

bool Error::retryable() const {
  if (!error_info) return false;
  const auto it = error_info->metadata.find("retryable");
  return it != error_info->metadata.end() && it->second == "true";
}

std::string Error::ToString() const {
  std::string text = StatusCodeName(code);
  if (!message.empty()) absl::StrAppend(&text, ": ", message);
  std::vector<std::string> facts;
  if (error_info) {
    facts.push_back(absl::StrCat("reason=", error_info->reason));
    if (!error_info->domain.empty()) facts.push_back(absl::StrCat("domain=", error_info->domain));
    for (const auto& [key, value] : error_info->metadata) facts.push_back(absl::StrCat(key, "=", value));
  }
  for (const FieldViolation& violation : field_violations) {
    facts.push_back(absl::StrCat("field ", violation.field, ": ", violation.description));
  }
  if (retry_delay) facts.push_back(absl::StrCat("retry after ", retry_delay->count(), " ms"));
  for (const std::string& type : other_detail_types) facts.push_back(absl::StrCat("detail ", type));
  if (!facts.empty()) absl::StrAppend(&text, " [", absl::StrJoin(facts, "; "), "]");
  return text;
}

Error DecodeStatus(const google::rpc::Status& status) {
  Error error;
  error.code = static_cast<grpc::StatusCode>(status.code());
  error.message = status.message();
  for (const google::protobuf::Any& detail : status.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::BadRequest bad_request;
    google::rpc::RetryInfo retry;
    if (detail.UnpackTo(&info)) {
      ErrorInfo decoded{info.reason(), info.domain(), {}};
      for (const auto& [key, value] : info.metadata()) decoded.metadata[key] = value;
      error.error_info = std::move(decoded);
    } else if (detail.UnpackTo(&bad_request)) {
      for (const auto& violation : bad_request.field_violations()) {
        error.field_violations.push_back({violation.field(), violation.description()});
      }
    } else if (detail.UnpackTo(&retry)) {
      error.retry_delay =
          std::chrono::milliseconds(retry.retry_delay().seconds() * 1000 + retry.retry_delay().nanos() / 1000000);
    } else {
      std::string type = detail.type_url();
      if (type.rfind(kTypePrefix, 0) == 0) type = type.substr(sizeof(kTypePrefix) - 1);
      error.other_detail_types.push_back(type);
    }
  }
  return error;
}

Error DecodeStatus(const grpc::Status& status) {
  google::rpc::Status proto;
  if (!status.error_details().empty() && proto.ParseFromString(status.error_details())) {
    Error error = DecodeStatus(proto);
    error.code = status.error_code();  // the trailer's code is authoritative
    if (error.message.empty()) error.message = status.error_message();
    return error;
  }
  Error error;
  error.code = status.error_code();
  error.message = status.error_message();
  return error;
}

std::string StatusCodeName(grpc::StatusCode code) {
  // gRPC's codes are Abseil's, with the same numbers and names.
  std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? "UNKNOWN" : name;
}

const Field* AccountProfile::Find(const std::string& tag) const {
  for (const Field& field : fields) {
    if (field.tag == tag) return &field;
  }
  return nullptr;
}

std::map<std::string, AccountProfile> LookupResult::ByAccount() const {
  std::map<std::string, AccountProfile> by_account;
  for (const AccountProfile& profile : profiles) by_account[profile.account] = profile;
  return by_account;
}

Batch FromProto(const v1::GetProfilesResponse& response) {
  Batch batch;
  batch.request_index = response.request_index();
  batch.request_id = response.request_id();
  batch.request_complete = response.request_complete();
  if (response.has_status()) batch.error = DecodeStatus(response.status());
  batch.results.reserve(response.results_size());
  for (const v1::AccountResult& result : response.results()) batch.results.push_back(FromProto(result));
  return batch;
}

std::string ValueToString(const Value& value) {
  struct Visitor {
    std::string operator()(std::monostate) const { return ""; }
    std::string operator()(uint32_t number) const { return std::to_string(number); }
    std::string operator()(const std::string& text) const { return text; }
    std::string operator()(const Bytes& bytes) const { return "base64:" + absl::Base64Escape(bytes.data); }
  };
  return std::visit(Visitor{}, value);
}

std::shared_ptr<grpc::Channel> CreateChannel(const ClientOptions& options, std::string* error) {
  grpc::ChannelArguments arguments;
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.use_tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_root_certs_file.empty() && !ReadFile(options.tls_root_certs_file, &ssl.pem_root_certs, error)) {
      return nullptr;
    }
    if (options.tls_client_cert_file.empty() != options.tls_client_key_file.empty()) {
      *error = "mutual TLS needs both a client certificate and a client key";
      return nullptr;
    }
    if (!options.tls_client_cert_file.empty() &&
        (!ReadFile(options.tls_client_cert_file, &ssl.pem_cert_chain, error) ||
         !ReadFile(options.tls_client_key_file, &ssl.pem_private_key, error))) {
      return nullptr;
    }
    if (!options.tls_server_name_override.empty()) {
      arguments.SetSslTargetNameOverride(options.tls_server_name_override);
    }
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  return grpc::CreateCustomChannel(options.target, credentials, arguments);
}

ProfileClient::ProfileClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
    : stub_(v1::ProfileService::NewStub(std::move(channel))), options_(std::move(options)) {}

std::unique_ptr<ProfileClient> ProfileClient::Create(const ClientOptions& options, std::string* error) {
  std::shared_ptr<grpc::Channel> channel = CreateChannel(options, error);
  if (channel == nullptr) return nullptr;
  return std::make_unique<ProfileClient>(std::move(channel), options);
}

Error ProfileClient::GetProfiles(const std::vector<Lookup>& lookups, const std::function<void(Batch&&)>& on_batch) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.deadline);
  std::unique_ptr<grpc::ClientReaderWriter<v1::GetProfilesRequest, v1::GetProfilesResponse>> stream =
      stub_->GetProfiles(&context);

  // Reads and writes run concurrently: the bridge caps the accounts in flight per stream, so a caller that wrote
  // everything before reading could stall on flow control with a large input.
  std::thread writer([&] {
    for (const Lookup& lookup : lookups) {
      v1::GetProfilesRequest request;
      request.set_request_id(lookup.request_id);
      for (const std::string& account : lookup.accounts) request.add_accounts(account);
      for (const std::string& tag : lookup.tags) request.add_tags(tag);
      if (!stream->Write(request)) return;  // the stream has ended; Finish() says why
    }
    stream->WritesDone();
  });

  v1::GetProfilesResponse response;
  while (stream->Read(&response)) on_batch(FromProto(response));
  // Reading stopped: the server has ended the stream, so any pending Write() fails and the writer returns.
  writer.join();
  return DecodeStatus(stream->Finish());
}

LookupResult ProfileClient::BatchGet(const std::vector<std::string>& accounts, const std::vector<std::string>& tags) {
  v1::BatchGetProfilesRequest request;
  request.mutable_accounts()->Add(accounts.begin(), accounts.end());
  request.mutable_tags()->Add(tags.begin(), tags.end());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.deadline);
  v1::BatchGetProfilesResponse response;
  LookupResult result;
  result.error = DecodeStatus(stub_->BatchGetProfiles(&context, request, &response));
  if (!result.error.ok()) return result;
  result.profiles.reserve(response.results_size());
  for (const v1::AccountResult& account_result : response.results())
    result.profiles.push_back(FromProto(account_result));
  return result;
}

}  // namespace portrait_bridge::client

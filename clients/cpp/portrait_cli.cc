// portrait-cli: looks up Tencent Cloud Chat profiles through Portrait Bridge.
//
//   portrait-cli get --target=127.0.0.1:50051 --tags=Tag_Profile_IM_Nick,Tag_Profile_IM_BirthDay alice bob
//   portrait-cli get --target=... --tags=Tag_Profile_IM_Nick --accounts_file=accounts.txt --output=jsonl
//   cut -f1 users.tsv | portrait-cli get --target=... --tags=Tag_Profile_IM_Nick --accounts_file=- > out.jsonl
//
// Up to --batch_size accounts are one lookup: one unary BatchGetProfiles call, answered in input order. More are a
// bulk lookup: requests of --batch_size accounts on one GetProfiles stream, answered as they complete, with
// progress on stderr when it is a terminal.
//
// Exit status: 0 every account answered OK; 2 some accounts failed (see their rows); 1 the call or stream failed,
// or the bridge refused a request as invalid (its accounts were not looked up; the others were); 64 usage error.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "clients/cpp/portrait_client.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "Bridge address (host:port or a gRPC target).");
ABSL_FLAG(std::vector<std::string>, tags, {}, "Comma-separated profile tags to read (at least one).");
ABSL_FLAG(std::string, accounts_file, "",
          "Read accounts from this file, one per line (blank lines and '#' comments skipped); '-' is stdin. "
          "Added to the accounts given as arguments.");
ABSL_FLAG(int, batch_size, 1000,
          "Accounts per lookup: up to this many go in one BatchGetProfiles call (the bridge's "
          "max_accounts_per_batch_get is 1,000 by default); more go as requests of this size on one stream.");
ABSL_FLAG(std::string, output, "table",
          "table (aligned columns, after the last answer) or jsonl (JSON Lines: one JSON object per account, as "
          "answers arrive; 'json' is the same).");
ABSL_FLAG(std::string, progress, "auto",
          "Progress of a bulk lookup on stderr (answered of total, rate, failures): auto (when stderr is a "
          "terminal), always or never.");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(60), "Deadline for the whole lookup, e.g. 30s or 5m.");
ABSL_FLAG(bool, tls, false, "Use TLS.");
ABSL_FLAG(std::string, tls_ca_file, "", "PEM roots to trust (default: gRPC's roots). Implies --tls.");
ABSL_FLAG(std::string, tls_cert_file, "", "PEM client certificate for mutual TLS. Implies --tls.");
ABSL_FLAG(std::string, tls_key_file, "", "PEM client key for mutual TLS. Implies --tls.");
ABSL_FLAG(std::string, tls_server_name, "", "Expect this name in the server certificate. Implies --tls.");

namespace {

using portrait_bridge::client::AccountProfile;
using portrait_bridge::client::Batch;
using portrait_bridge::client::Error;
using portrait_bridge::client::Lookup;
using portrait_bridge::client::LookupResult;
using portrait_bridge::client::ProfileClient;
using portrait_bridge::client::Value;

constexpr int kExitOk = 0;
constexpr int kExitCallFailed = 1;
constexpr int kExitRequestRefused = 1;  // as for a failed stream: some of the input was not looked up
constexpr int kExitSomeAccountsFailed = 2;
constexpr int kExitUsage = 64;

bool ReadAccounts(std::istream& in, std::vector<std::string>* accounts) {
  std::string line;
  while (std::getline(in, line)) {
    const std::string account(absl::StripAsciiWhitespace(line));
    if (account.empty() || account[0] == '#') continue;
    accounts->push_back(account);
  }
  return !in.bad();
}

nlohmann::json ErrorToJson(const Error& error) {
  nlohmann::json json = {{"code", portrait_bridge::client::StatusCodeName(error.code)}, {"message", error.message}};
  if (error.error_info) {
    json["error_info"] = {{"reason", error.error_info->reason},
                          {"domain", error.error_info->domain},
                          {"metadata", error.error_info->metadata}};
  }
  for (const auto& violation : error.field_violations) {
    json["field_violations"].push_back({{"field", violation.field}, {"description", violation.description}});
  }
  if (error.retry_delay) json["retry_delay_ms"] = error.retry_delay->count();
  return json;
}

nlohmann::json ValueToJson(const Value& value) {
  if (const auto* number = std::get_if<uint32_t>(&value)) return *number;
  if (std::holds_alternative<std::monostate>(value)) return nullptr;
  return portrait_bridge::client::ValueToString(value);
}

nlohmann::json ProfileToJson(const AccountProfile& profile) {
  nlohmann::json json = {{"account", profile.account}, {"ok", profile.ok()}};
  nlohmann::json fields = nlohmann::json::object();
  for (const auto& field : profile.fields) fields[field.tag] = ValueToJson(field.value);
  json["fields"] = fields;
  if (!profile.ok()) {
    json["tencent_code"] = profile.tencent_code;
    json["result_code"] = portraitbridge::profile::v1::ResultCode_Name(profile.result_code);
    json["result_info"] = profile.result_info;
    json["error"] = ErrorToJson(profile.error);
  }
  return json;
}

void PrintTable(const std::vector<AccountProfile>& profiles, const std::vector<std::string>& tags) {
  std::vector<std::string> header = {"ACCOUNT", "STATUS"};
  header.insert(header.end(), tags.begin(), tags.end());
  std::vector<std::vector<std::string>> rows = {header};
  for (const AccountProfile& profile : profiles) {
    std::vector<std::string> row = {profile.account};
    if (profile.ok()) {
      row.push_back("OK");
    } else {
      row.push_back(portrait_bridge::client::StatusCodeName(profile.error.code) + " (" +
                    std::to_string(profile.tencent_code) + " " + profile.result_info + ")");
    }
    for (const std::string& tag : tags) {
      const auto* field = profile.Find(tag);
      row.push_back(field == nullptr ? "" : portrait_bridge::client::ValueToString(field->value));
    }
    rows.push_back(std::move(row));
  }
  std::vector<size_t> widths(header.size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

// Prints the profiles of a lookup or of a bulk lookup's batch: JSON Lines at once, or kept for the table.
void Emit(std::vector<AccountProfile>& profiles, const std::string& output, std::vector<AccountProfile>* table,
          bool* some_failed) {
  for (AccountProfile& profile : profiles) {
    *some_failed = *some_failed || !profile.ok();
    if (output == "jsonl") {
      std::cout << ProfileToJson(profile).dump() << "\n";
    } else {
      table->push_back(std::move(profile));
    }
  }
}

void PrintError(const std::string& output, const char* key, const Error& error) {
  if (output == "jsonl") {
    std::cerr << nlohmann::json{{key, ErrorToJson(error)}}.dump() << "\n";
  } else {
    std::cerr << "error: " << error.ToString() << "\n";
  }
}

bool ShowProgress() {
  const std::string progress = absl::GetFlag(FLAGS_progress);
  return progress == "always" || (progress == "auto" && isatty(STDERR_FILENO));
}

// One BatchGetProfiles call; the table is in input order.
int SmallLookup(ProfileClient& client, const std::vector<std::string>& accounts, const std::vector<std::string>& tags,
                const std::string& output) {
  LookupResult result = client.BatchGet(accounts, tags);
  if (!result.error.ok()) {
    PrintError(output, "error", result.error);
    return kExitCallFailed;
  }
  std::vector<AccountProfile> table;
  bool some_failed = false;
  Emit(result.profiles, output, &table, &some_failed);
  if (output == "table") PrintTable(table, tags);
  std::cout.flush();
  return some_failed ? kExitSomeAccountsFailed : kExitOk;
}

// "answered 12000 of 50000 (24%), 4100/s, 3 failed" on stderr: rewritten in place on a terminal, at most four
// times a second, and once more at the end.
class Progress {
 public:
  Progress(bool enabled, size_t total) : enabled_(enabled), total_(total), start_(Clock::now()) {}

  void Update(size_t answered, size_t failed, bool last = false) {
    if (!enabled_) return;
    const Clock::time_point now = Clock::now();
    if (!last && now - shown_ < std::chrono::milliseconds(250)) return;
    shown_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(answered) / seconds : 0;
    std::fprintf(stderr, "\ranswered %zu of %zu (%zu%%), %.0f/s, %zu failed%s", answered, total_,
                 total_ == 0 ? 100 : answered * 100 / total_, rate, failed, last ? "\n" : "");
    std::fflush(stderr);
  }

 private:
  using Clock = std::chrono::steady_clock;
  const bool enabled_;
  const size_t total_;
  const Clock::time_point start_;
  Clock::time_point shown_;
};

// Requests of `batch_size` accounts on one GetProfiles stream; answers as they complete.
int BulkLookup(ProfileClient& client, const std::vector<std::string>& accounts, const std::vector<std::string>& tags,
               int batch_size, const std::string& output, bool show_progress) {
  std::vector<Lookup> lookups;
  for (size_t start = 0; start < accounts.size(); start += batch_size) {
    const size_t end = std::min(accounts.size(), start + batch_size);
    lookups.push_back(Lookup{"", std::vector<std::string>(accounts.begin() + start, accounts.begin() + end), tags});
  }
  std::vector<AccountProfile> table;
  bool some_failed = false;
  bool some_refused = false;
  size_t answered = 0;
  size_t failed = 0;
  Progress progress(show_progress, accounts.size());
  const Error stream_error = client.GetProfiles(lookups, [&](Batch&& batch) {
    if (!batch.ok()) {
      // A refused request: its field violations name the bad input ("requests[3].accounts[5]" is the account at
      // position 3 * batch_size + 5).
      some_refused = true;
      const size_t first = batch.request_index * static_cast<size_t>(batch_size);
      const size_t last = std::min(accounts.size(), first + batch_size);
      if (output == "jsonl") {
        std::cerr << nlohmann::json{{"request_index", batch.request_index}, {"request_error", ErrorToJson(batch.error)}}
                         .dump()
                  << "\n";
      } else {
        std::cerr << "error: request " << batch.request_index << " (accounts " << first + 1 << " to " << last
                  << " of the input) refused: " << batch.error.ToString() << "\n";
      }
    }
    answered += batch.results.size();
    for (const AccountProfile& profile : batch.results) failed += profile.ok() ? 0 : 1;
    Emit(batch.results, output, &table, &some_failed);
    progress.Update(answered, failed);
  });
  progress.Update(answered, failed, /*last=*/true);
  if (output == "table" && (!table.empty() || (stream_error.ok() && !some_refused))) PrintTable(table, tags);
  std::cout.flush();
  if (!stream_error.ok()) {
    PrintError(output, "stream_error", stream_error);
    return kExitCallFailed;
  }
  if (some_refused) return kExitRequestRefused;
  return some_failed ? kExitSomeAccountsFailed : kExitOk;
}

int Get(const std::vector<std::string>& positional) {
  const std::vector<std::string> tags = absl::GetFlag(FLAGS_tags);
  const std::string output = absl::GetFlag(FLAGS_output) == "table" ? "table" : "jsonl";
  if (output != "table" && output != "jsonl" && output != "json") {
    std::cerr << "--output must be table or jsonl\n";
    return kExitUsage;
  }
  const std::string progress = absl::GetFlag(FLAGS_progress);
  if (progress != "auto" && progress != "always" && progress != "never") {
    std::cerr << "--progress must be auto, always or never\n";
    return kExitUsage;
  }
  std::vector<std::string> accounts = positional;
  const std::string accounts_file = absl::GetFlag(FLAGS_accounts_file);
  if (accounts_file == "-") {
    if (!ReadAccounts(std::cin, &accounts)) {
      std::cerr << "cannot read accounts from stdin\n";
      return kExitUsage;
    }
  } else if (!accounts_file.empty()) {
    std::ifstream in(accounts_file);
    if (!in || !ReadAccounts(in, &accounts)) {
      std::cerr << "cannot read accounts from " << accounts_file << "\n";
      return kExitUsage;
    }
  }
  if (accounts.empty()) {
    std::cerr << "no accounts: give them as arguments or with --accounts_file\n";
    return kExitUsage;
  }
  const int batch_size = std::max(1, absl::GetFlag(FLAGS_batch_size));

  portrait_bridge::client::ClientOptions options;
  options.target = absl::GetFlag(FLAGS_target);
  options.deadline = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_deadline));
  options.tls_root_certs_file = absl::GetFlag(FLAGS_tls_ca_file);
  options.tls_client_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  options.tls_client_key_file = absl::GetFlag(FLAGS_tls_key_file);
  options.tls_server_name_override = absl::GetFlag(FLAGS_tls_server_name);
  options.use_tls = absl::GetFlag(FLAGS_tls) || !options.tls_root_certs_file.empty() ||
                    !options.tls_client_cert_file.empty() || !options.tls_server_name_override.empty();
  std::string error_text;
  std::unique_ptr<ProfileClient> client = ProfileClient::Create(options, &error_text);
  if (client == nullptr) {
    std::cerr << error_text << "\n";
    return kExitUsage;
  }

  if (accounts.size() <= static_cast<size_t>(batch_size)) return SmallLookup(*client, accounts, tags, output);
  return BulkLookup(*client, accounts, tags, batch_size, output, ShowProgress());
}
}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Looks up Tencent Cloud Chat profiles through Portrait Bridge.\n"
      "  portrait-cli get --target=HOST:PORT --tags=TAG[,TAG...] [--accounts_file=FILE|-] [--output=table|jsonl] "
      "[ACCOUNT...]");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> positional(args.begin() + 1, args.end());
  if (positional.empty() || positional[0] != "get") {
    std::cerr << "usage: portrait-cli get --target=HOST:PORT --tags=TAG[,TAG...] [ACCOUNT...]"
                 " (--help for every flag)\n";
    return kExitUsage;
  }
  positional.erase(positional.begin());
  return Get(positional);
}

#include "bridge/core/options.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace portrait_bridge {
namespace {

const OptionSpec* FindSpec(const std::vector<OptionSpec>& specs, absl::string_view name) {
  for (const OptionSpec& spec : specs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

// Whole numbers (up to 2^53, where doubles stop being exact) without a fraction or exponent: 1000000, not 1e+06.
std::string FormatBound(double value) {
  if (std::floor(value) == value && std::fabs(value) <= 9007199254740992.0)
    return absl::StrCat(static_cast<int64_t>(value));
  return absl::StrCat(value);
}

// What a flag's value looks like, for --help.
std::string ValueHint(const OptionSpec& spec) {
  switch (spec.kind) {
    case OptionKind::kBool:
      return "";
    case OptionKind::kInteger:
      switch (spec.unit) {
        case OptionUnit::kMilliseconds:
          return "MS";
        case OptionUnit::kSeconds:
          return "SECONDS";
        case OptionUnit::kMebibytes:
          return "MIB";
        case OptionUnit::kNone:
          return "N";
      }
      return "N";
    case OptionKind::kNumber:
      return "X";
    case OptionKind::kEnum:
      return "WORD";
    case OptionKind::kList:
      return "A,B";
    case OptionKind::kString:
      for (absl::string_view suffix : {"_file", "_dir", "_binary", "_out", "bundle"}) {
        if (absl::EndsWith(spec.name, suffix)) return "PATH";
      }
      return "TEXT";
  }
  return "TEXT";
}

// A file's keys over `values` (below the environment and flags, which are merged after it).
absl::Status MergeConfigFile(const std::vector<OptionSpec>& specs, const std::string& path,
                             const std::string& error_prefix,
                             std::map<std::string, std::vector<RawValue>, std::less<>>& values) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(error_prefix, "cannot read config file \"", path, "\""));
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json document = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(error_prefix, path, " is not a JSON object"));
  }
  const std::string source = absl::StrCat("config file ", path);
  for (const auto& [key, value] : document.items()) {
    if (FindSpec(specs, key) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(error_prefix, "unknown key \"", key, "\" in ", source));
    }
    std::string text_value;
    if (value.is_string()) {
      text_value = value.get<std::string>();
    } else if (value.is_number() || value.is_boolean()) {
      text_value = value.dump();
    } else if (value.is_array()) {
      for (const auto& element : value) {
        if (!element.is_string()) {
          return absl::InvalidArgumentError(
              absl::StrCat(error_prefix, key, " in ", source, " must be a string or an array of strings"));
        }
        if (!text_value.empty()) text_value += ",";
        text_value += element.get<std::string>();
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(error_prefix, key, " in ", source, " must be a string, number or array"));
    }
    values[key] = {{text_value, source}};
  }
  return absl::OkStatus();
}

}  // namespace

std::string OptionEnvName(absl::string_view prefix, absl::string_view name) {
  return absl::StrCat(prefix, absl::AsciiStrToUpper(name));
}

std::string BoundsText(const OptionSpec& spec) {
  if (spec.kind == OptionKind::kEnum) return absl::StrJoin(spec.allowed, ", ");
  if (spec.kind != OptionKind::kInteger && spec.kind != OptionKind::kNumber) return "";
  std::string text;
  if (spec.min.has_value() && spec.max.has_value() && !spec.min_exclusive) {
    text = absl::StrCat(FormatBound(*spec.min), "..", FormatBound(*spec.max));
  } else {
    std::vector<std::string> parts;
    if (spec.min.has_value()) parts.push_back(absl::StrCat(spec.min_exclusive ? "> " : ">= ", FormatBound(*spec.min)));
    if (spec.max.has_value()) parts.push_back(absl::StrCat("<= ", FormatBound(*spec.max)));
    text = absl::StrJoin(parts, ", ");
  }
  switch (spec.unit) {
    case OptionUnit::kMilliseconds:
      return text + " ms";
    case OptionUnit::kSeconds:
      return text + " s";
    case OptionUnit::kMebibytes:
      return text + " MiB";
    case OptionUnit::kNone:
      return text;
  }
  return text;
}

const RawValue* ParsedOptions::Find(absl::string_view name) const {
  const auto it = values_.find(name);
  return it == values_.end() || it->second.empty() ? nullptr : &it->second.back();
}

const std::vector<RawValue>& ParsedOptions::All(absl::string_view name) const {
  static const auto* none = new std::vector<RawValue>();
  const auto it = values_.find(name);
  return it == values_.end() ? *none : it->second;
}

bool ParsedOptions::IsSet(absl::string_view name) const {
  const RawValue* raw = Find(name);
  return raw != nullptr && raw->source != "default";
}

absl::Status ParsedOptions::Invalid(absl::string_view name, absl::string_view why) const {
  const RawValue* raw = Find(name);
  if (raw == nullptr) return Error(absl::StrCat(name, " ", why));
  return Invalid(name, *raw, why);
}

absl::Status ParsedOptions::Invalid(absl::string_view name, const RawValue& raw, absl::string_view why) const {
  return Error(absl::StrCat(name, "=\"", raw.text, "\" (from ", raw.source, ") ", why));
}

absl::Status ParsedOptions::Error(absl::string_view message) const {
  return absl::InvalidArgumentError(absl::StrCat(error_prefix_, message));
}

absl::StatusOr<ParsedOptions> CollectOptions(const std::vector<OptionSpec>& specs, const OptionSources& sources,
                                             const std::vector<std::string>& args, const EnvLookup& getenv) {
  ParsedOptions parsed;
  parsed.error_prefix_ = sources.error_prefix;
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      parsed.help_ = true;
      return parsed;
    }
  }

  // Flags first, so that --config is known before the file is read.
  std::map<std::string, std::vector<RawValue>, std::less<>> flags;
  std::string config_path;
  const std::string config_env = sources.env_prefix + "CONFIG";
  if (sources.config_file && !sources.env_prefix.empty()) {
    if (const char* env_path = getenv(config_env.c_str()); env_path != nullptr) config_path = env_path;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (!absl::ConsumePrefix(&arg, "--") || arg.empty()) {
      return parsed.Error(absl::StrCat("unexpected argument \"", args[i], "\"; flags look like --name=value"));
    }
    const size_t equals = arg.find('=');
    const std::string name(arg.substr(0, equals));
    const OptionSpec* spec = FindSpec(specs, name);
    if (spec == nullptr && !(sources.config_file && name == "config")) {
      return parsed.Error(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    std::string value;
    if (equals != absl::string_view::npos) {
      value = std::string(arg.substr(equals + 1));
    } else if (spec != nullptr && spec->kind == OptionKind::kBool) {
      value = "true";
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return parsed.Error(absl::StrCat("flag --", name, " needs a value"));
    }
    if (spec == nullptr) {  // --config
      config_path = value;
      continue;
    }
    RawValue raw{std::move(value), "flag --" + name};
    if (spec->repeatable) {
      flags[name].push_back(std::move(raw));
    } else {
      flags[name] = {std::move(raw)};
    }
  }

  // Precedence: flag > environment > file > default; each source below overwrites the ones above it.
  if (!sources.defaults_from_target) {
    for (const OptionSpec& spec : specs) {
      if (!spec.default_value.empty()) parsed.values_[spec.name] = {{spec.default_value, "default"}};
    }
  }
  if (!config_path.empty()) {
    if (absl::Status status = MergeConfigFile(specs, config_path, sources.error_prefix, parsed.values_); !status.ok()) {
      return status;
    }
  }
  for (const OptionSpec& spec : specs) {
    if (spec.env.empty()) continue;
    if (const char* env_value = getenv(spec.env.c_str()); env_value != nullptr) {
      parsed.values_[spec.name] = {{env_value, "environment " + spec.env}};
    }
  }
  for (auto& [name, raws] : flags) parsed.values_[name] = std::move(raws);
  return parsed;
}

std::string OptionsHelp(const std::vector<OptionSpec>& specs) {
  std::string help;
  for (const OptionSpec& spec : specs) {
    const std::string hint = ValueHint(spec);
    absl::StrAppend(&help, "  --", spec.name, hint.empty() ? "" : "=", hint);
    if (!spec.default_value.empty()) absl::StrAppend(&help, "  (default ", spec.default_value, ")");
    if (const std::string bounds = BoundsText(spec); !bounds.empty()) absl::StrAppend(&help, "  [", bounds, "]");
    if (spec.repeatable) absl::StrAppend(&help, "  (repeatable)");
    if (!spec.env.empty()) absl::StrAppend(&help, "  $", spec.env);
    absl::StrAppend(&help, "\n      ", spec.help, "\n");
  }
  return help;
}

absl::StatusOr<int64_t> ParseIntegerOption(absl::string_view text, int64_t min, int64_t max) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) return absl::InvalidArgumentError("is not an integer");
  if (value < min || value > max) {
    return absl::InvalidArgumentError(absl::StrCat("must be between ", min, " and ", max));
  }
  return value;
}

absl::StatusOr<double> ParseNumberOption(absl::string_view text, double min, double max, bool min_exclusive) {
  double value = 0;
  const bool in_range = absl::SimpleAtod(text, &value) && std::isfinite(value) &&
                        (min_exclusive ? value > min : value >= min) && value <= max;
  if (!in_range) {
    return absl::InvalidArgumentError(
        min_exclusive ? absl::StrCat("must be a number above ", FormatBound(min), " and at most ", FormatBound(max))
                      : absl::StrCat("must be a number from ", FormatBound(min), " to ", FormatBound(max)));
  }
  return value;
}

absl::StatusOr<bool> ParseBoolOption(absl::string_view text) {
  bool value = false;
  if (!absl::SimpleAtob(text, &value)) return absl::InvalidArgumentError("must be true or false");
  return value;
}

std::vector<std::string> SplitListOption(absl::string_view text) {
  std::vector<std::string> elements;
  for (absl::string_view element : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    elements.emplace_back(absl::StripAsciiWhitespace(element));
  }
  return elements;
}

}  // namespace portrait_bridge

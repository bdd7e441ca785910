#ifndef PORTRAIT_BRIDGE_CORE_OPTIONS_H_
#define PORTRAIT_BRIDGE_CORE_OPTIONS_H_

// Options as data: each program (the bridge, the sandbox, the benchmark) describes its options once, in a table of
// Option<Target> (name, default, bounds, unit, help, and the field of its own settings struct the value goes to).
// The table drives parsing (flags, environment, JSON file), --help, the printed configuration, and the tests that
// hold the README and the chart's schema to it.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace portrait_bridge {

/// What an option's text means.
enum class OptionKind { kString, kInteger, kNumber, kBool, kEnum, kList };

/// The unit in an option's name: the value lands in its field as an absl::Duration, or as bytes.
enum class OptionUnit { kNone, kMilliseconds, kSeconds, kMebibytes };

/// An option's documentation and bounds: what --help, the README and the chart's schema show of it.
struct OptionSpec {
  std::string name;
  std::string env;            ///< Its environment variable; empty: none.
  std::string default_value;  ///< As text; empty: none (required, or computed from other options).
  OptionKind kind = OptionKind::kString;
  OptionUnit unit = OptionUnit::kNone;
  std::optional<double> min;  ///< kInteger and kNumber, in the unit of the name (ms, seconds, MiB).
  std::optional<double> max;
  bool min_exclusive = false;        ///< kNumber: the value must be above min.
  std::vector<std::string> allowed;  ///< kEnum
  bool repeatable = false;           ///< A flag given several times applies each value.
  std::string help;
};

/// The bounds in words, as --help and the README show them: "1..100", "1..600000 ms", "> 0, <= 1000000",
/// "debug, info, warning, error"; empty when the option has none.
std::string BoundsText(const OptionSpec& spec);

/// Where a program reads its options from, besides its flags.
struct OptionSources {
  /// Not empty: every option may also come from the environment as env_prefix + NAME in upper case.
  std::string env_prefix;
  /// --config=FILE (or env_prefix + "CONFIG"): a JSON object of options, below the environment in precedence.
  bool config_file = false;
  /// The defaults are the target struct's initial values (--help prints them) instead of text in the table.
  bool defaults_from_target = false;
  /// Put before every error message ("configuration: ").
  std::string error_prefix;
};

/// A value as read, and where from ("flag --x", "environment PORTRAIT_BRIDGE_X", "config file F", "default").
struct RawValue {
  std::string text;
  std::string source;
};

/// Looks up an environment variable; nullptr when unset (std::getenv in the binaries, a map in tests).
using EnvLookup = std::function<const char*(const char*)>;

/// The values that won, per option, for the rules across options that follow the table.
class ParsedOptions {
 public:
  /// --help or -h was given; nothing else was parsed.
  bool help() const { return help_; }
  /// The value that won (flag > environment > file > default); nullptr when none.
  const RawValue* Find(absl::string_view name) const;
  /// Every value of `name` to apply: each flag of a repeatable option, else the one that won.
  const std::vector<RawValue>& All(absl::string_view name) const;
  /// Given by a flag, the environment or the file, not only a default.
  bool IsSet(absl::string_view name) const;
  /// INVALID_ARGUMENT naming the option, its value and where it came from: `name="value" (from SOURCE) why`.
  absl::Status Invalid(absl::string_view name, absl::string_view why) const;
  absl::Status Invalid(absl::string_view name, const RawValue& raw, absl::string_view why) const;
  /// INVALID_ARGUMENT with the program's prefix.
  absl::Status Error(absl::string_view message) const;

 private:
  friend absl::StatusOr<ParsedOptions> CollectOptions(const std::vector<OptionSpec>& specs,
                                                      const OptionSources& sources,
                                                      const std::vector<std::string>& args, const EnvLookup& getenv);
  std::string error_prefix_;
  bool help_ = false;
  std::map<std::string, std::vector<RawValue>, std::less<>> values_;
};

/// Reads `args` (without argv[0]: "--name=value", "--name value", a bare "--name" for booleans, "--help"/"-h"),
/// the environment and the config file, as `sources` says. Unknown flags and file keys are errors naming them.
absl::StatusOr<ParsedOptions> CollectOptions(const std::vector<OptionSpec>& specs, const OptionSources& sources,
                                             const std::vector<std::string>& args, const EnvLookup& getenv);

/// The option lines of --help: each flag with its default, bounds, environment variable and help.
std::string OptionsHelp(const std::vector<OptionSpec>& specs);

// Text to value, with the bounds checked; the error says only why (ParsedOptions::Invalid adds name and source).
absl::StatusOr<int64_t> ParseIntegerOption(absl::string_view text, int64_t min, int64_t max);
absl::StatusOr<double> ParseNumberOption(absl::string_view text, double min, double max, bool min_exclusive);
absl::StatusOr<bool> ParseBoolOption(absl::string_view text);
/// Comma-separated, each element stripped of spaces, empty ones skipped.
std::vector<std::string> SplitListOption(absl::string_view text);

/// prefix + NAME in upper case: OptionEnvName("PORTRAIT_BRIDGE_", "log_level") is PORTRAIT_BRIDGE_LOG_LEVEL.
std::string OptionEnvName(absl::string_view prefix, absl::string_view name);

/// One option of a program whose settings are a `Target`: its spec, how its text lands in the target, and how the
/// target's value reads back (for the printed configuration and, with defaults_from_target, --help's defaults).
template <typename Target>
struct Option {
  OptionSpec spec;
  std::function<absl::Status(absl::string_view text, Target&)> apply;
  std::function<std::string(const Target&)> show;  ///< Empty: not printed.
};

/// An accessor of a field, or of a field of a field: Field(&Config::upstream, &UpstreamOptions::attempt_timeout).
template <typename... Members>
auto Field(Members... path) {
  return [path...](auto& target) -> auto& { return (target.*....*path); };
}

/// The option kinds, each bound to a field through an accessor (Field(...) or any `T& (auto& target)` lambda).
template <typename Target>
struct OptionBuilder {
  /// `check` (optional) says why a text is not acceptable.
  template <typename F>
  static Option<Target> String(std::string name, std::string default_value, std::string help, F field,
                               std::function<absl::Status(absl::string_view)> check = nullptr) {
    Option<Target> option{Spec(std::move(name), std::move(default_value), OptionKind::kString, std::move(help))};
    option.apply = [field, check](absl::string_view text, Target& target) {
      if (check) {
        if (absl::Status status = check(text); !status.ok()) return status;
      }
      field(target) = std::string(text);
      return absl::OkStatus();
    };
    option.show = [field](const Target& target) { return std::string(field(target)); };
    return option;
  }

  template <typename F>
  static Option<Target> Integer(std::string name, std::string default_value, int64_t min, int64_t max, std::string help,
                                F field) {
    Option<Target> option = Bounded(std::move(name), std::move(default_value), OptionKind::kInteger, OptionUnit::kNone,
                                    min, max, std::move(help));
    option.apply = [field, min, max](absl::string_view text, Target& target) {
      absl::StatusOr<int64_t> value = ParseIntegerOption(text, min, max);
      if (!value.ok()) return value.status();
      field(target) = static_cast<std::remove_reference_t<decltype(field(target))>>(*value);
      return absl::OkStatus();
    };
    option.show = [field](const Target& target) { return absl::StrCat(field(target)); };
    return option;
  }

  /// A whole number of milliseconds or seconds (the unit in the name) into an absl::Duration.
  template <typename F>
  static Option<Target> Duration(std::string name, std::string default_value, int64_t min, int64_t max, OptionUnit unit,
                                 std::string help, F field) {
    Option<Target> option =
        Bounded(std::move(name), std::move(default_value), OptionKind::kInteger, unit, min, max, std::move(help));
    const absl::Duration one = unit == OptionUnit::kSeconds ? absl::Seconds(1) : absl::Milliseconds(1);
    option.apply = [field, min, max, one](absl::string_view text, Target& target) {
      absl::StatusOr<int64_t> value = ParseIntegerOption(text, min, max);
      if (!value.ok()) return value.status();
      field(target) = *value * one;
      return absl::OkStatus();
    };
    option.show = [field, one](const Target& target) {
      absl::Duration remainder;
      return absl::StrCat(absl::IDivDuration(field(target), one, &remainder));
    };
    return option;
  }

  /// A whole number of MiB into a byte count.
  template <typename F>
  static Option<Target> Mebibytes(std::string name, std::string default_value, int64_t min, int64_t max,
                                  std::string help, F field) {
    Option<Target> option = Bounded(std::move(name), std::move(default_value), OptionKind::kInteger,
                                    OptionUnit::kMebibytes, min, max, std::move(help));
    option.apply = [field, min, max](absl::string_view text, Target& target) {
      absl::StatusOr<int64_t> value = ParseIntegerOption(text, min, max);
      if (!value.ok()) return value.status();
      field(target) = *value << 20;
      return absl::OkStatus();
    };
    option.show = [field](const Target& target) { return absl::StrCat(field(target) >> 20); };
    return option;
  }

  template <typename F>
  static Option<Target> Number(std::string name, std::string default_value, double min, double max, bool min_exclusive,
                               std::string help, F field) {
    Option<Target> option = Bounded(std::move(name), std::move(default_value), OptionKind::kNumber, OptionUnit::kNone,
                                    min, max, std::move(help));
    option.spec.min_exclusive = min_exclusive;
    option.apply = [field, min, max, min_exclusive](absl::string_view text, Target& target) {
      absl::StatusOr<double> value = ParseNumberOption(text, min, max, min_exclusive);
      if (!value.ok()) return value.status();
      field(target) = *value;
      return absl::OkStatus();
    };
    option.show = [field](const Target& target) { return absl::StrCat(field(target)); };
    return option;
  }

  /// As a flag, a bare --name means true.
  template <typename F>
  static Option<Target> Bool(std::string name, std::string default_value, std::string help, F field) {
    Option<Target> option{Spec(std::move(name), std::move(default_value), OptionKind::kBool, std::move(help))};
    option.apply = [field](absl::string_view text, Target& target) {
      absl::StatusOr<bool> value = ParseBoolOption(text);
      if (!value.ok()) return value.status();
      field(target) = *value;
      return absl::OkStatus();
    };
    option.show = [field](const Target& target) { return std::string(field(target) ? "true" : "false"); };
    return option;
  }

  /// One of `values` (text and what it means), in documentation order.
  template <typename V, typename F>
  static Option<Target> Enum(std::string name, std::string default_value, std::vector<std::pair<std::string, V>> values,
                             std::string help, F field) {
    Option<Target> option{Spec(std::move(name), std::move(default_value), OptionKind::kEnum, std::move(help))};
    for (const auto& [text, value] : values) option.spec.allowed.push_back(text);
    std::string why = "must be ";
    for (size_t i = 0; i < values.size(); ++i) {
      absl::StrAppend(&why, i == 0 ? "" : (i + 1 == values.size() ? " or " : ", "), values[i].first);
    }
    option.apply = [field, values, why](absl::string_view text, Target& target) {
      for (const auto& [name, value] : values) {
        if (text == name) {
          field(target) = value;
          return absl::OkStatus();
        }
      }
      return absl::InvalidArgumentError(why);
    };
    option.show = [field, values](const Target& target) {
      for (const auto& [name, value] : values) {
        if (field(target) == value) return name;
      }
      return std::string("?");
    };
    return option;
  }

  /// Comma-separated (a JSON array in the config file); `set` takes the elements and may refuse one.
  static Option<Target> List(std::string name, std::string default_value, std::string help,
                             std::function<absl::Status(std::vector<std::string>, Target&)> set,
                             std::function<std::string(const Target&)> show) {
    Option<Target> option{Spec(std::move(name), std::move(default_value), OptionKind::kList, std::move(help))};
    option.apply = [set](absl::string_view text, Target& target) { return set(SplitListOption(text), target); };
    option.show = std::move(show);
    return option;
  }

  /// Comma-separated strings (a JSON array in the config file) into a vector<string> field, as given.
  template <typename F>
  static Option<Target> Strings(std::string name, std::string default_value, std::string help, F field) {
    return List(
        std::move(name), std::move(default_value), std::move(help),
        [field](std::vector<std::string> values, Target& target) {
          field(target) = std::move(values);
          return absl::OkStatus();
        },
        [field](const Target& target) { return absl::StrJoin(field(target), ","); });
  }

  /// A flag that may be given several times, each value appended to a vector<string> field (not printed back).
  template <typename F>
  static Option<Target> Repeated(std::string name, std::string help, F field) {
    Option<Target> option{Spec(std::move(name), "", OptionKind::kString, std::move(help))};
    option.spec.repeatable = true;
    option.apply = [field](absl::string_view text, Target& target) {
      field(target).emplace_back(text);
      return absl::OkStatus();
    };
    return option;
  }

  /// Anything else: the spec, the parser and the read-back written out.
  static Option<Target> Custom(OptionSpec spec, std::function<absl::Status(absl::string_view, Target&)> apply,
                               std::function<std::string(const Target&)> show = nullptr) {
    return Option<Target>{std::move(spec), std::move(apply), std::move(show)};
  }

  static OptionSpec Spec(std::string name, std::string default_value, OptionKind kind, std::string help) {
    OptionSpec spec;
    spec.name = std::move(name);
    spec.default_value = std::move(default_value);
    spec.kind = kind;
    spec.help = std::move(help);
    return spec;
  }

 private:
  static Option<Target> Bounded(std::string name, std::string default_value, OptionKind kind, OptionUnit unit,
                                double min, double max, std::string help) {
    Option<Target> option{Spec(std::move(name), std::move(default_value), kind, std::move(help))};
    option.spec.unit = unit;
    option.spec.min = min;
    option.spec.max = max;
    return option;
  }
};

/// A program's options: parsing into its settings struct, --help and the printed configuration.
template <typename Target>
class OptionTable {
 public:
  OptionTable(OptionSources sources, std::vector<Option<Target>> options)
      : sources_(std::move(sources)), options_(std::move(options)) {
    // Value-initialized: clang refuses Target{} (aggregate init) when a member's default constructor is explicit.
    const Target initial = Target();
    for (Option<Target>& option : options_) {
      if (option.spec.env.empty() && !sources_.env_prefix.empty()) {
        option.spec.env = OptionEnvName(sources_.env_prefix, option.spec.name);
      }
      if (sources_.defaults_from_target && option.spec.default_value.empty() && option.show) {
        option.spec.default_value = option.show(initial);
      }
      specs_.push_back(option.spec);
    }
  }

  const std::vector<OptionSpec>& specs() const { return specs_; }
  const OptionSources& sources() const { return sources_; }

  /// Reads every source into `target`, option by option in table order; an option with no value anywhere is left
  /// as `target` had it (nor is an empty value of a number, bool or enum without a default: it means "unset").
  absl::StatusOr<ParsedOptions> Parse(const std::vector<std::string>& args, const EnvLookup& getenv,
                                      Target& target) const {
    absl::StatusOr<ParsedOptions> parsed = CollectOptions(specs_, sources_, args, getenv);
    if (!parsed.ok() || parsed->help()) return parsed;
    for (const Option<Target>& option : options_) {
      const OptionSpec& spec = option.spec;
      for (const RawValue& raw : parsed->All(spec.name)) {
        const bool text_kind = spec.kind == OptionKind::kString || spec.kind == OptionKind::kList;
        if (raw.text.empty() && !text_kind && spec.default_value.empty()) continue;
        if (absl::Status status = option.apply(raw.text, target); !status.ok()) {
          return parsed->Invalid(spec.name, raw, status.message());
        }
      }
    }
    return parsed;
  }

  /// --help's option lines.
  std::string Help() const { return OptionsHelp(specs_); }

  /// For a command-line tool (flags only, no environment): parses argv into `target` and says which flags were
  /// given. --help prints "<program>: <about>" and the option lines, and exits 0; an error is printed as
  /// "<program>: <error>" and makes this return nothing.
  std::optional<ParsedOptions> ParseCommandLine(int argc, char** argv, absl::string_view program,
                                                absl::string_view about, Target& target) const {
    absl::StatusOr<ParsedOptions> parsed = Parse(
        std::vector<std::string>(argv + 1, argv + argc), [](const char*) { return nullptr; }, target);
    if (!parsed.ok()) {
      std::fprintf(stderr, "%s\n", absl::StrCat(program, ": ", parsed.status().message()).c_str());
      return std::nullopt;
    }
    if (parsed->help()) {
      std::printf("%s", absl::StrCat(program, ": ", about, "\n\n", Help()).c_str());
      std::exit(0);
    }
    return *std::move(parsed);
  }

  /// "name=value" for every option with a read-back, space-separated.
  std::string Describe(const Target& target) const {
    std::vector<std::string> parts;
    for (const Option<Target>& option : options_) {
      if (option.show) parts.push_back(absl::StrCat(option.spec.name, "=", option.show(target)));
    }
    return absl::StrJoin(parts, " ");
  }

 private:
  OptionSources sources_;
  std::vector<Option<Target>> options_;
  std::vector<OptionSpec> specs_;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_OPTIONS_H_

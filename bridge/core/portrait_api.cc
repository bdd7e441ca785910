#include "bridge/core/portrait_api.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/base/config.h"
#include "absl/numeric/bits.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace portrait_bridge {
namespace {

using portraitbridge::profile::v1::ProfileItem;
using Json = nlohmann::json;

constexpr std::array<std::pair<absl::string_view, absl::string_view>, 8> kRegions = {{
    {"china", "https://console.tim.qq.com"},
    {"singapore", "https://adminapisgp.im.qcloud.com"},
    {"seoul", "https://adminapikr.im.qcloud.com"},
    {"tokyo", "https://adminapijpn.im.qcloud.com"},
    {"frankfurt", "https://adminapiger.im.qcloud.com"},
    {"mumbai", "https://adminapiind.im.qcloud.com"},
    {"silicon-valley", "https://adminapiusa.im.qcloud.com"},
    {"jakarta", "https://adminapiidn.im.qcloud.com"},
}};

// Reads a portrait_get answer in one pass, straight into the result: a DOM would allocate a node for every key and
// value of up to 100 profiles, for each call. Fields it does not know are skipped, whatever their shape.
class PortraitGetSax final {
 public:
  // `users_hint`: how many users the answer likely holds (the list is reserved once rather than grown).
  PortraitGetSax(const TagTypes& tag_types, size_t users_hint) : tag_types_(tag_types), users_hint_(users_hint) {}

  absl::StatusOr<PortraitGetAnswer> Result(bool parsed) {
    if (!parsed || depth_ != 0) {
      return absl::InvalidArgumentError(error_.empty() ? "the body is not JSON (or is truncated)" : error_);
    }
    if (!saw_root_object_) return absl::InvalidArgumentError("the body is JSON but not an object");
    if (!saw_error_code_ && !saw_action_status_) {
      return absl::InvalidArgumentError("the body has neither ErrorCode nor ActionStatus");
    }
    if (!error_code_is_integer_) return absl::InvalidArgumentError("ErrorCode is not an integer");
    // A FAIL without a code still failed; keep it distinguishable from success.
    if (answer_.error_code == 0 && action_status_fail_) {
      return absl::InvalidArgumentError("ActionStatus is FAIL but ErrorCode is 0");
    }
    if (answer_.error_code != 0) {
      answer_.users.clear();  // The users of a failed call mean nothing; a malformed list does not matter either.
      return std::move(answer_);
    }
    if (!users_error_.empty()) return absl::InvalidArgumentError(users_error_);
    return std::move(answer_);
  }

  // Scalars are looked at in place: strings are views of the body (or of the reader's buffer when they hold
  // escapes), valid during the callback only.
  bool null() { return Scalar(ScalarValue()); }
  bool boolean(bool value) { return Scalar(ScalarValue(value)); }
  bool number_integer(int64_t value) { return Scalar(ScalarValue(value)); }
  bool number_unsigned(uint64_t value) { return Scalar(ScalarValue(value)); }
  bool number_float(double value) { return Scalar(ScalarValue(value)); }
  bool string(absl::string_view value) { return Scalar(ScalarValue(value)); }

  bool start_object() {
    ++depth_;
    if (skip_depth_ > 0) {
      ++skip_depth_;
      return true;
    }
    switch (At()) {
      case Place::kRoot:
        saw_root_object_ = true;
        place_.push_back(Place::kRootObject);
        return true;
      case Place::kUsersArray:
        if (answer_.users.empty()) answer_.users.reserve(users_hint_);
        answer_.users.emplace_back();
        user_has_account_ = false;
        place_.push_back(Place::kUser);
        return true;
      case Place::kItemsArray:
        if (answer_.users.back().encoded_items.empty()) answer_.users.back().encoded_items.reserve(items_bytes_hint_);
        item_has_tag_ = false;
        item_value_.kind = ScalarValue::kNull;
        place_.push_back(Place::kItem);
        return true;
      default:
        return StructureMismatch();
    }
  }

  bool end_object() {
    --depth_;
    if (skip_depth_ > 0) return Unskip();
    const Place closing = At();
    place_.pop_back();
    if (closing == Place::kUser && !user_has_account_) {
      UsersError("a UserProfileItem entry has no string To_Account");
    } else if (closing == Place::kItem) {
      if (!item_has_tag_) {
        UsersError("a ProfileItem has no string Tag");
      } else {
        AppendItem(answer_.users.back().encoded_items);
      }
    } else if (closing == Place::kUser) {
      // Users of one call ask the same tags.
      items_bytes_hint_ = std::max(items_bytes_hint_, answer_.users.back().encoded_items.size());
    }
    AfterValue();
    return true;
  }

  bool start_array() {
    ++depth_;
    if (skip_depth_ > 0) {
      ++skip_depth_;
      return true;
    }
    switch (At()) {
      case Place::kUsersKey:
        place_.back() = Place::kUsersArray;
        return true;
      case Place::kItemsKey:
        place_.back() = Place::kItemsArray;
        return true;
      default:
        return StructureMismatch();
    }
  }

  bool end_array() {
    --depth_;
    if (skip_depth_ > 0) return Unskip();
    place_.pop_back();  // kUsersArray or kItemsArray: the value of its key is complete.
    return true;
  }

  bool key(absl::string_view key) {
    if (skip_depth_ > 0) return true;
    const Place container = At();
    Place next = Place::kOther;
    if (container == Place::kRootObject) {
      if (key == "ErrorCode")
        next = Place::kErrorCode;
      else if (key == "ErrorInfo")
        next = Place::kErrorInfo;
      else if (key == "ActionStatus")
        next = Place::kActionStatus;
      else if (key == "UserProfileItem")
        next = Place::kUsersKey;
    } else if (container == Place::kUser) {
      if (key == "To_Account")
        next = Place::kAccount;
      else if (key == "ResultCode")
        next = Place::kResultCode;
      else if (key == "ResultInfo")
        next = Place::kResultInfo;
      else if (key == "ProfileItem")
        next = Place::kItemsKey;
    } else if (container == Place::kItem) {
      if (key == "Tag")
        next = Place::kTag;
      else if (key == "Value")
        next = Place::kValue;
    }
    place_.push_back(next);
    return true;
  }

 private:
  // Where the parser is: containers, and keys whose value comes next.
  enum class Place {
    kRoot,
    kRootObject,
    kErrorCode,
    kErrorInfo,
    kActionStatus,
    kUsersKey,
    kUsersArray,
    kUser,
    kAccount,
    kResultCode,
    kResultInfo,
    kItemsKey,
    kItemsArray,
    kItem,
    kTag,
    kValue,
    kOther,
  };

  Place At() const { return place_.empty() ? Place::kRoot : place_.back(); }

  // One scalar, in place.
  struct ScalarValue {
    enum Kind { kNull, kInteger, kUnsigned, kString, kBoolean, kFloat };

    ScalarValue() = default;
    explicit ScalarValue(bool value) : kind(kBoolean), boolean(value) {}
    explicit ScalarValue(int64_t value) : kind(kInteger), integer(value) {}
    explicit ScalarValue(uint64_t value)
        : kind(kUnsigned), integer(static_cast<int64_t>(value)), unsigned_value(value) {}
    explicit ScalarValue(double value) : kind(kFloat), floating(value) {}
    explicit ScalarValue(absl::string_view value) : kind(kString), text(value) {}

    Kind kind = kNull;
    int64_t integer = 0;  // kInteger and kUnsigned (the latter cast, as Json::get<int64_t> does).
    uint64_t unsigned_value = 0;
    bool boolean = false;
    double floating = 0;
    absl::string_view text;  // kString: valid during the callback only.

    bool IsInteger() const { return kind == kInteger || kind == kUnsigned; }
  };

  // A ProfileItem's Value, kept until the item ends (its Tag, which decides the type, may come after it).
  struct ItemValue {
    ScalarValue::Kind kind = ScalarValue::kNull;
    int64_t integer = 0;
    uint64_t unsigned_value = 0;
    bool boolean = false;
    double floating = 0;
    std::string text;  // kString; assigned, so its capacity is reused from item to item.
  };

  // The value's text as a string field holds it: a string as is, anything else as its JSON text (in `scratch`).
  absl::string_view ItemValueText(std::string& scratch) const {
    switch (item_value_.kind) {
      case ScalarValue::kString:
        return item_value_.text;
      case ScalarValue::kInteger:
        scratch = Json(item_value_.integer).dump();
        return scratch;
      case ScalarValue::kUnsigned:
        scratch = Json(item_value_.unsigned_value).dump();
        return scratch;
      case ScalarValue::kBoolean:
        scratch = Json(item_value_.boolean).dump();
        return scratch;
      default:
        scratch = Json(item_value_.floating).dump();
        return scratch;
    }
  }

  // Appends the item that ended, in wire form: its value typed as the schema promises, falling back to the JSON
  // text when it does not fit (uint_value is 32 bits, as Tencent's integer fields are); no value without one.
  void AppendItem(std::string& out) const {
    if (item_value_.kind == ScalarValue::kNull) {
      AppendEncodedItem(item_tag_, ProfileItem::VALUE_NOT_SET, 0, {}, out);
      return;
    }
    std::string scratch;
    switch (tag_types_.TypeOf(item_tag_)) {
      case ValueType::kUint: {
        if (item_value_.kind == ScalarValue::kUnsigned &&
            item_value_.unsigned_value <= std::numeric_limits<uint32_t>::max()) {
          AppendEncodedItem(item_tag_, ProfileItem::kUintValue, static_cast<uint32_t>(item_value_.unsigned_value), {},
                            out);
          return;
        }
        if (item_value_.kind == ScalarValue::kString) {
          const std::string& text = item_value_.text;
          uint32_t parsed = 0;
          const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
          if (error == std::errc() && end == text.data() + text.size() && !text.empty()) {
            AppendEncodedItem(item_tag_, ProfileItem::kUintValue, parsed, {}, out);
            return;
          }
        }
        AppendEncodedItem(item_tag_, ProfileItem::kStringValue, 0, ItemValueText(scratch), out);
        return;
      }
      case ValueType::kString:
        AppendEncodedItem(item_tag_, ProfileItem::kStringValue, 0, ItemValueText(scratch), out);
        return;
      case ValueType::kBytes:
        AppendEncodedItem(item_tag_, ProfileItem::kBytesValue, 0, ItemValueText(scratch), out);
        return;
    }
  }

  bool Scalar(const ScalarValue& value) {
    if (skip_depth_ > 0) return true;
    switch (At()) {
      case Place::kRoot:
        return true;  // A bare scalar document: Result() reports "not an object".
      case Place::kErrorCode:
        saw_error_code_ = true;
        error_code_is_integer_ = value.IsInteger();
        if (error_code_is_integer_) answer_.error_code = value.integer;
        break;
      case Place::kErrorInfo:
        if (value.kind == ScalarValue::kString) answer_.error_info = std::string(value.text);
        break;
      case Place::kActionStatus:
        saw_action_status_ = true;
        action_status_fail_ = value.kind == ScalarValue::kString && value.text == "FAIL";
        break;
      case Place::kUsersKey:
        if (value.kind != ScalarValue::kNull) UsersError("UserProfileItem is not an array");
        break;
      case Place::kUsersArray:
        UsersError("a UserProfileItem entry is not an object");
        return true;
      case Place::kAccount:
        if (value.kind == ScalarValue::kString) {
          answer_.users.back().account = std::string(value.text);
          user_has_account_ = true;
        }
        break;
      case Place::kResultCode:
        if (value.IsInteger()) answer_.users.back().result_code = value.integer;
        break;
      case Place::kResultInfo:
        if (value.kind == ScalarValue::kString) answer_.users.back().result_info = std::string(value.text);
        break;
      case Place::kItemsKey:
        if (value.kind != ScalarValue::kNull) UsersError("ProfileItem is not an array");
        break;
      case Place::kItemsArray:
        UsersError("a ProfileItem entry is not an object");
        return true;
      case Place::kTag:
        if (value.kind == ScalarValue::kString) {
          item_tag_.assign(value.text.data(), value.text.size());
          item_has_tag_ = true;
        }
        break;
      case Place::kValue:
        item_value_.kind = value.kind;
        item_value_.integer = value.integer;
        item_value_.unsigned_value = value.unsigned_value;
        item_value_.boolean = value.boolean;
        item_value_.floating = value.floating;
        if (value.kind == ScalarValue::kString) item_value_.text.assign(value.text.data(), value.text.size());
        break;
      default:
        break;
    }
    AfterValue();
    return true;
  }

  // An object or array where the schema has something else (or an unknown field): skip it, and remember the
  // error if it matters.
  bool StructureMismatch() {
    switch (At()) {
      case Place::kRoot:
        break;  // An array document; Result() reports "not an object".
      case Place::kErrorCode:
        saw_error_code_ = true;
        error_code_is_integer_ = false;
        break;
      case Place::kActionStatus:  // Present, as with a scalar of any type, and not "FAIL".
        saw_action_status_ = true;
        action_status_fail_ = false;
        break;
      case Place::kUsersKey:
        UsersError("UserProfileItem is not an array");
        break;
      case Place::kUsersArray:
        UsersError("a UserProfileItem entry is not an object");
        break;
      case Place::kItemsKey:
        UsersError("ProfileItem is not an array");
        break;
      case Place::kItemsArray:
        UsersError("a ProfileItem entry is not an object");
        break;
      case Place::kValue:
        UsersError("a ProfileItem Value is not a number or string");
        break;
      case Place::kAccount:
      case Place::kTag:
        break;  // Reported as missing when the entry ends.
      default:
        break;
    }
    skip_depth_ = 1;
    return true;
  }

  bool Unskip() {
    if (--skip_depth_ == 0) AfterValue();
    return true;
  }

  // A key's value is complete: back to its container. (Elements of arrays have no key to pop.)
  void AfterValue() {
    const Place place = At();
    if (place != Place::kRoot && place != Place::kRootObject && place != Place::kUser && place != Place::kItem &&
        place != Place::kUsersArray && place != Place::kItemsArray) {
      place_.pop_back();
    }
  }

  void UsersError(const char* message) {
    if (users_error_.empty()) users_error_ = message;
  }

  const TagTypes& tag_types_;
  PortraitGetAnswer answer_;
  std::vector<Place> place_;
  int depth_ = 0;       // Open objects and arrays.
  int skip_depth_ = 0;  // >0 while inside a value that is skipped.
  bool saw_root_object_ = false;
  bool saw_error_code_ = false;
  bool error_code_is_integer_ = true;
  bool saw_action_status_ = false;
  bool action_status_fail_ = false;
  bool user_has_account_ = false;
  bool item_has_tag_ = false;
  std::string item_tag_;  // The current item's Tag; assigned, so its capacity is reused.
  ItemValue item_value_;
  const size_t users_hint_;
  size_t items_bytes_hint_ = 0;  // The most item bytes a user had so far.
  std::string users_error_;
  std::string error_;
};

// A strict JSON reader (RFC 8259: what nlohmann's strict sax_parse accepts, a leading UTF-8 BOM included) that
// drives the handler above. nlohmann's lexer appends every character of every string to its buffer one call at a
// time; on portrait_get answers that was about half the parse.
class JsonReader {
 public:
  JsonReader(absl::string_view text, PortraitGetSax& sax)
      : p_(text.data()), end_(text.data() + text.size()), sax_(sax) {
    if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") p_ += 3;
  }

  // Whether the whole text is one JSON value (with whitespace around it); the handler saw it up to any error.
  bool Parse() {
    std::string in_object;  // Open containers, innermost last, 1 for an object (iterative: no stack per level).
    while (true) {
      // A value.
      SkipSpace();
      if (p_ == end_) return false;
      if (*p_ == '{') {
        ++p_;
        if (!sax_.start_object()) return false;
        SkipSpace();
        if (p_ != end_ && *p_ == '}') {
          ++p_;
          if (!sax_.end_object()) return false;
        } else {
          if (!Key()) return false;
          in_object.push_back(1);
          continue;
        }
      } else if (*p_ == '[') {
        ++p_;
        if (!sax_.start_array()) return false;
        SkipSpace();
        if (p_ != end_ && *p_ == ']') {
          ++p_;
          if (!sax_.end_array()) return false;
        } else {
          in_object.push_back(0);
          continue;
        }
      } else if (!Scalar()) {
        return false;
      }
      // After a value: close containers until one continues with a comma.
      while (true) {
        SkipSpace();
        // Like nlohmann, a NUL byte ends the input (it reads C strings so too).
        if (in_object.empty()) return p_ == end_ || *p_ == '\0';
        if (p_ == end_) return false;
        const char c = *p_++;
        if (c == ',') {
          if (in_object.back() && !Key()) return false;
          break;
        }
        if (c != (in_object.back() ? '}' : ']')) return false;
        if (!(in_object.back() ? sax_.end_object() : sax_.end_array())) return false;
        in_object.pop_back();
      }
    }
  }

 private:
  void SkipSpace() {
    const char* p = p_;
    while (p != end_ && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
    p_ = p;
  }

  // A member's name and its colon.
  bool Key() {
    SkipSpace();
    absl::string_view name;
    if (p_ == end_ || *p_ != '"' || !String(name) || !sax_.key(name)) return false;
    SkipSpace();
    if (p_ == end_ || *p_ != ':') return false;
    ++p_;
    return true;
  }

  bool Literal(absl::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() || absl::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }

  bool Scalar() {
    switch (*p_) {
      case '"': {
        absl::string_view text;
        return String(text) && sax_.string(text);
      }
      case 't':
        return Literal("true") && sax_.boolean(true);
      case 'f':
        return Literal("false") && sax_.boolean(false);
      case 'n':
        return Literal("null") && sax_.null();
      default:
        return Number();
    }
  }

  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }

  bool Digits() {
    if (p_ == end_ || !IsDigit(*p_)) return false;
    while (p_ != end_ && IsDigit(*p_)) ++p_;
    return true;
  }

  // Integers that fit int64 (negative) or uint64 are integers, anything else a double, as nlohmann reads them.
  bool Number() {
    const char* start = p_;
    if (*p_ == '-') ++p_;
    if (p_ == end_ || !IsDigit(*p_)) return false;
    if (*p_ == '0') {
      ++p_;
    } else {
      Digits();
    }
    bool integer = true;
    if (p_ != end_ && *p_ == '.') {
      ++p_;
      if (!Digits()) return false;
      integer = false;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!Digits()) return false;
      integer = false;
    }
    if (integer) {
      if (*start == '-') {
        int64_t value = 0;
        if (std::from_chars(start, p_, value).ec == std::errc()) return sax_.number_integer(value);
      } else {
        uint64_t value = 0;
        if (std::from_chars(start, p_, value).ec == std::errc()) return sax_.number_unsigned(value);
      }
    }
    text_.assign(start, p_);
    const double value = std::strtod(text_.c_str(), nullptr);
    return std::isfinite(value) && sax_.number_float(value);  // nlohmann refuses what overflows a double.
  }

  static int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // Four hex digits after "\u"; -1 when they are not.
  int Hex4() {
    if (end_ - p_ < 4) return -1;
    int value = 0;
    for (int i = 0; i < 4; ++i) {
      const int digit = HexValue(p_[i]);
      if (digit < 0) return -1;
      value = value * 16 + digit;
    }
    p_ += 4;
    return value;
  }

  void AppendUtf8(uint32_t code) {
    if (code < 0x80) {
      text_.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      text_.push_back(static_cast<char>(0xC0 | (code >> 6)));
      text_.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      text_.push_back(static_cast<char>(0xE0 | (code >> 12)));
      text_.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      text_.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      text_.push_back(static_cast<char>(0xF0 | (code >> 18)));
      text_.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      text_.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      text_.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

  // The escape after a backslash.
  bool Escape() {
    if (p_ == end_) return false;
    const char c = *p_++;
    switch (c) {
      case '"':
        text_.push_back('"');
        return true;
      case '\\':
        text_.push_back('\\');
        return true;
      case '/':
        text_.push_back('/');
        return true;
      case 'b':
        text_.push_back('\b');
        return true;
      case 'f':
        text_.push_back('\f');
        return true;
      case 'n':
        text_.push_back('\n');
        return true;
      case 'r':
        text_.push_back('\r');
        return true;
      case 't':
        text_.push_back('\t');
        return true;
      case 'u':
        break;
      default:
        return false;
    }
    const int unit = Hex4();
    if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF)) return false;  // A low surrogate needs a high one first.
    if (unit < 0xD800 || unit > 0xDBFF) {
      AppendUtf8(static_cast<uint32_t>(unit));
      return true;
    }
    if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
    p_ += 2;
    const int low = Hex4();
    if (low < 0xDC00 || low > 0xDFFF) return false;
    AppendUtf8(0x10000 + ((static_cast<uint32_t>(unit) - 0xD800) << 10) + (static_cast<uint32_t>(low) - 0xDC00));
    return true;
  }

  // Steps over one UTF-8 sequence starting with a byte >= 0x80, if it is valid (RFC 3629: no overlong forms, no
  // surrogates, <= U+10FFFF).
  bool Utf8() {
    const auto byte = [this](int i) { return static_cast<unsigned char>(p_[i]); };
    const unsigned char lead = byte(0);
    int length = 0;
    unsigned char low = 0x80, high = 0xBF;  // The range of the second byte.
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    } else {
      return false;
    }
    if (end_ - p_ < length || byte(1) < low || byte(1) > high) return false;
    for (int i = 2; i < length; ++i) {
      if (byte(i) < 0x80 || byte(i) > 0xBF) return false;
    }
    p_ += length;
    return true;
  }

  // A string, from its opening quote, as a view: of the body itself when it holds no escape (most do), else of
  // text_, where its unescaped text is built.
  bool String(absl::string_view& text) {
    ++p_;
    const char* run = p_;  // Bytes not yet copied to text_ (once there is an escape).
    bool escaped = false;
    while (true) {
      p_ = SkipPlain(p_, end_);
      if (p_ == end_) return false;
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        if (escaped) {
          text_.append(run, static_cast<size_t>(p_ - run));
          text = text_;
        } else {
          text = absl::string_view(run, static_cast<size_t>(p_ - run));
        }
        ++p_;
        return true;
      }
      if (c >= 0x80) {
        if (!Utf8()) return false;  // Valid UTF-8 stays in the run.
      } else if (c == '\\') {
        if (!escaped) text_.clear();
        escaped = true;
        text_.append(run, static_cast<size_t>(p_ - run));
        ++p_;
        if (!Escape()) return false;
        run = p_;
      } else {
        return false;  // A control character must be escaped.
      }
    }
  }

  // The bytes that end a run of plain characters in a string: the closing quote, a backslash, a control character
  // (which must be escaped) and the first byte of a UTF-8 sequence (which is checked).
  static constexpr std::array<bool, 256> kStringStop = [] {
    std::array<bool, 256> stop{};
    for (int c = 0; c < 256; ++c) stop[c] = c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
    return stop;
  }();

  // The first byte in [p, end) that kStringStop holds, or end. Strings are most of an answer's bytes, so they are
  // scanned eight bytes at a time: each test below sets the high bit of a byte that matches (a zero byte after the
  // XOR for the quote and the backslash, a byte below 0x20, a byte from 0x80), and though a borrow can also set it
  // in a byte above a match, the lowest byte set is always a true match.
  static const char* SkipPlain(const char* p, const char* end) {
#ifdef ABSL_IS_LITTLE_ENDIAN
    constexpr uint64_t kOnes = 0x0101010101010101, kHighBits = 0x8080808080808080;
    while (end - p >= 8) {
      uint64_t word;
      std::memcpy(&word, p, sizeof(word));
      const uint64_t quote = word ^ (kOnes * '"');
      const uint64_t backslash = word ^ (kOnes * '\\');
      const uint64_t stops =
          (((quote - kOnes) & ~quote) | ((backslash - kOnes) & ~backslash) | ((word - kOnes * 0x20) & ~word) | word) &
          kHighBits;
      if (stops != 0) return p + absl::countr_zero(stops) / 8;
      p += 8;
    }
#endif
    while (p != end && !kStringStop[static_cast<unsigned char>(*p)]) ++p;
    return p;
  }

  const char* p_;
  const char* const end_;
  PortraitGetSax& sax_;
  std::string text_;  // The current number, or string with escapes; reused.
};

}  // namespace

namespace {

// `text` as a JSON string, escaped as nlohmann's dump() escapes it (the text is UTF-8: protobuf checked it).
void AppendJsonString(absl::string_view text, std::string& out) {
  out.push_back('"');
  size_t plain = 0;  // Start of the run of characters copied as they are.
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20) continue;
    out.append(text.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default: {
        constexpr char kHex[] = "0123456789abcdef";
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
      }
    }
  }
  out.append(text.data() + plain, text.size() - plain);
  out.push_back('"');
}

void AppendJsonArray(absl::Span<const std::string> texts, std::string& out) {
  out.push_back('[');
  for (size_t i = 0; i < texts.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(texts[i], out);
  }
  out.push_back(']');
}

}  // namespace

// Written directly: a Json document would copy every account into a node of its own. Same bytes as the document's
// dump() (its keys sorted).
std::string BuildPortraitGetBody(absl::Span<const std::string> accounts, absl::Span<const std::string> tags) {
  size_t size = 32;
  for (const std::string& account : accounts) size += account.size() + 3;
  for (const std::string& tag : tags) size += tag.size() + 3;
  std::string body;
  body.reserve(size);
  body.append("{\"TagList\":");
  AppendJsonArray(tags, body);
  body.append(",\"To_Account\":");
  AppendJsonArray(accounts, body);
  body.push_back('}');
  return body;
}

std::string BuildPortraitGetUrl(absl::string_view base_url, uint64_t sdkappid, absl::string_view identifier,
                                absl::string_view usersig, uint32_t random) {
  while (!base_url.empty() && base_url.back() == '/') base_url.remove_suffix(1);
  // Identifiers are admin names chosen by the app ([A-Za-z0-9_@.-]); the UserSig alphabet needs no escaping.
  return absl::StrCat(base_url, "/v4/profile/portrait_get?sdkappid=", sdkappid, "&identifier=", identifier,
                      "&usersig=", usersig, "&random=", random, "&contenttype=json");
}

absl::StatusOr<std::string> RegionBaseUrl(absl::string_view region) {
  for (const auto& [name, url] : kRegions) {
    if (name == region) return std::string(url);
  }
  return absl::NotFoundError(absl::StrCat("unknown region \"", region, "\"; known regions: ", RegionNames()));
}

std::string RegionNames() {
  std::vector<absl::string_view> names;
  for (const auto& [name, url] : kRegions) names.push_back(name);
  return absl::StrJoin(names, ", ");
}

absl::StatusOr<PortraitGetAnswer> ParsePortraitGetBody(absl::string_view body, const TagTypes& tag_types) {
  // An answer's entry takes at least ~40 bytes ({"To_Account":"","ResultCode":0} and a comma).
  PortraitGetSax sax(tag_types, std::min(kMaxAccountsPerCall, body.size() / 40));
  const bool parsed = JsonReader(body, sax).Parse();
  return sax.Result(parsed);
}

std::vector<std::vector<std::string>> SplitIntoCalls(std::vector<std::string> accounts, size_t max_per_call) {
  std::vector<std::vector<std::string>> calls;
  for (size_t start = 0; start < accounts.size(); start += max_per_call) {
    const size_t end = std::min(accounts.size(), start + max_per_call);
    calls.emplace_back(std::make_move_iterator(accounts.begin() + start),
                       std::make_move_iterator(accounts.begin() + end));
  }
  return calls;
}

}  // namespace portrait_bridge

// Value: a JSON-shaped value (null, bool, number, string, array, object) for what files record
// about a run: its options, the data a checkpoint trained on. Public headers use it so that they
// need no JSON library; src/io converts it to and from JSON text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "nnet/status.h"

namespace nnet {

// Nesting a parsed value may have (deeper text is refused): what files record is two levels deep.
inline constexpr int kMaxValueDepth = 32;

class Value {
 public:
  // The order of the alternatives below.
  enum class Kind { kNull, kBool, kInt, kUnsigned, kFloat, kString, kArray, kObject };
  using Array = std::vector<Value>;
  using Member = std::pair<std::string, Value>;
  using Object = std::vector<Member>;  // sorted by key, each key once (as JSON files write them)

  Value() = default;  // null
  Value(std::nullptr_t) {}
  Value(bool b) : v_(b) {}
  template <typename T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Value(T n) {
    if constexpr (std::is_signed_v<T>)
      v_ = static_cast<int64_t>(n);
    else
      v_ = static_cast<uint64_t>(n);
  }
  Value(double d) : v_(d) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(Array a) : v_(std::move(a)) {}
  template <typename T>
  Value(const std::vector<T>& items) : v_(Array(items.begin(), items.end())) {}
  // An empty object (Value() is null, not {}).
  static Value object() { return Value(Object{}); }

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_null() const { return kind() == Kind::kNull; }
  bool is_bool() const { return kind() == Kind::kBool; }
  // An integer: int or unsigned. A float such as 3.0 is a number but not an integer.
  bool is_integer() const { return kind() == Kind::kInt || kind() == Kind::kUnsigned; }
  bool is_number() const { return is_integer() || kind() == Kind::kFloat; }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_array() const { return kind() == Kind::kArray; }
  bool is_object() const { return kind() == Kind::kObject; }

  // The contents; each requires its kind (checked by the caller: a wrong kind is a bug).
  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  uint64_t as_unsigned() const { return std::get<uint64_t>(v_); }
  double as_double() const;  // any number, converted
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const Array& as_array() const { return std::get<Array>(v_); }
  const Object& as_object() const { return std::get<Object>(v_); }

  // The integer in [lo, hi] this number holds exactly, if it does (an integral float too).
  bool get_integer(int64_t lo, int64_t hi, int64_t* out) const;

  // An object's member `key`, or nullptr when absent or this is not an object.
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  // An object's member `key`, inserted as null when absent; a null value becomes {} first.
  Value& operator[](std::string_view key);

  // Compact JSON text, as files hold it (invalid UTF-8 replaced by U+FFFD).
  std::string dump() const;
  // Parses JSON text (at most kMaxValueDepth levels); `name` prefixes the error.
  static Status parse(std::string_view text, const std::string& name, Value* out);

  // Equal values; numbers compare by value whatever their kind (3 == 3.0), as JSON's do.
  friend bool operator==(const Value& a, const Value& b);
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

 private:
  explicit Value(Object o) : v_(std::move(o)) {}
  std::variant<std::monostate, bool, int64_t, uint64_t, double, std::string, Array, Object> v_;
};

}  // namespace nnet

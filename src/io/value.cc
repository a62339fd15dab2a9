#include "nnet/value.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include "io/json_value.h"

namespace nnet {

namespace {

using json = nlohmann::json;

// The member of `o` named `key`, or where it would go.
template <typename Obj>
auto lower(Obj& o, std::string_view key) {
  return std::lower_bound(o.begin(), o.end(), key, [](const Value::Member& m, std::string_view k) {
    return std::string_view(m.first) < k;
  });
}

bool convert(const json& j, int depth, Value* out) {
  if (depth >= kMaxValueDepth) return false;  // depth 0 is the first level
  switch (j.type()) {
    case json::value_t::boolean:
      *out = j.get<bool>();
      return true;
    case json::value_t::number_integer:
      *out = j.get<int64_t>();
      return true;
    case json::value_t::number_unsigned:
      *out = j.get<uint64_t>();
      return true;
    case json::value_t::number_float:
      *out = j.get<double>();
      return true;
    case json::value_t::string:
      *out = j.get<std::string>();
      return true;
    case json::value_t::array: {
      Value::Array a(j.size());
      for (size_t i = 0; i < j.size(); ++i)
        if (!convert(j[i], depth + 1, &a[i])) return false;
      *out = Value(std::move(a));
      return true;
    }
    case json::value_t::object: {
      Value o = Value::object();
      for (auto it = j.begin(); it != j.end(); ++it)
        if (!convert(it.value(), depth + 1, &o[it.key()])) return false;
      *out = std::move(o);
      return true;
    }
    default:  // null, discarded, binary
      *out = Value();
      return true;
  }
}

}  // namespace

double Value::as_double() const {
  switch (kind()) {
    case Kind::kInt:
      return static_cast<double>(as_int());
    case Kind::kUnsigned:
      return static_cast<double>(as_unsigned());
    default:
      return std::get<double>(v_);
  }
}

bool Value::get_integer(int64_t lo, int64_t hi, int64_t* out) const {
  int64_t n;
  if (kind() == Kind::kInt) {
    n = as_int();
  } else if (kind() == Kind::kUnsigned) {
    if (as_unsigned() > static_cast<uint64_t>(INT64_MAX)) return false;
    n = static_cast<int64_t>(as_unsigned());
  } else if (kind() == Kind::kFloat) {
    const double d = std::get<double>(v_);
    // 2^63 as a double: anything at or above it is not an int64.
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != std::trunc(d))
      return false;
    n = static_cast<int64_t>(d);
  } else {
    return false;
  }
  if (n < lo || n > hi) return false;
  *out = n;
  return true;
}

const Value* Value::find(std::string_view key) const {
  if (!is_object()) return nullptr;
  const Object& o = as_object();
  auto it = lower(o, key);
  return it != o.end() && std::string_view(it->first) == key ? &it->second : nullptr;
}

Value* Value::find(std::string_view key) {
  return const_cast<Value*>(static_cast<const Value&>(*this).find(key));
}

Value& Value::operator[](std::string_view key) {
  if (is_null()) v_ = Object{};
  Object& o = std::get<Object>(v_);
  auto it = lower(o, key);
  if (it == o.end() || std::string_view(it->first) != key)
    it = o.insert(it, Member(std::string(key), Value()));
  return it->second;
}

bool operator==(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind() == Value::Kind::kFloat || b.kind() == Value::Kind::kFloat)
      return a.as_double() == b.as_double();
    if (a.kind() == b.kind()) return a.v_ == b.v_;
    const Value& s = a.kind() == Value::Kind::kInt ? a : b;  // the signed one
    const Value& u = a.kind() == Value::Kind::kInt ? b : a;
    return s.as_int() >= 0 && static_cast<uint64_t>(s.as_int()) == u.as_unsigned();
  }
  return a.v_ == b.v_;
}

std::string Value::dump() const {
  return json_of(*this).dump(-1, ' ', false, json::error_handler_t::replace);
}

Status Value::parse(std::string_view text, const std::string& name, Value* out) {
  const json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return DataError(name + ": expected JSON text");
  if (!value_of(j, out))
    return DataError(name + ": expected at most " + std::to_string(kMaxValueDepth) +
                     " levels of nesting");
  return Status::Ok();
}

json json_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      return nullptr;
    case Value::Kind::kBool:
      return v.as_bool();
    case Value::Kind::kInt:
      return v.as_int();
    case Value::Kind::kUnsigned:
      return v.as_unsigned();
    case Value::Kind::kFloat:
      return v.as_double();
    case Value::Kind::kString:
      return v.as_string();
    case Value::Kind::kArray: {
      json a = json::array();
      for (const Value& x : v.as_array()) a.push_back(json_of(x));
      return a;
    }
    case Value::Kind::kObject: {
      json o = json::object();
      for (const auto& [k, x] : v.as_object()) o[k] = json_of(x);
      return o;
    }
  }
  assert(false && "unknown Value kind");
  return nullptr;
}

bool value_of(const json& j, Value* out) {
  Value v;
  if (!convert(j, 0, &v)) return false;
  *out = std::move(v);
  return true;
}

}  // namespace nnet

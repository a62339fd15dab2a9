#include "nnet/run_json.h"

#include <limits>
#include <type_traits>

namespace nnet {

namespace {

Value value(const OptionValue& v) {
  return std::visit([](const auto& x) { return Value(x); }, v);
}

// `v` as an option of type T: integers exactly and in T's range, any number for a double.
template <typename T>
bool get(const Value& v, T* out) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_bool()) return false;
    *out = v.as_bool();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) return false;
    *out = v.as_string();
  } else if constexpr (std::is_same_v<T, double>) {
    if (!v.is_number()) return false;
    *out = v.as_double();
  } else if constexpr (std::is_integral_v<T>) {
    using L = std::numeric_limits<T>;
    // Every integral option fits int64 (size_t options are counts far below 2^63).
    const int64_t hi =
        L::max() > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(L::max());
    int64_t n;
    if (!v.get_integer(static_cast<int64_t>(L::min()), hi, &n)) return false;
    *out = static_cast<T>(n);
  } else {  // a list
    if (!v.is_array()) return false;
    T items;
    for (const Value& x : v.as_array()) {
      typename T::value_type item;
      if (!get(x, &item)) return false;
      items.push_back(std::move(item));
    }
    *out = std::move(items);
  }
  return true;
}

}  // namespace

Value checkpoint_value(const RunOptions& opts, const OptionInfo& o) {
  const OptionValue v = get_option(opts, o);
  if (o.negation) return Value(!std::get<bool>(v));
  return value(v);
}

bool set_checkpoint_value(RunOptions* opts, const OptionInfo& o, const Value& v) {
  return std::visit(
      [&](auto RunOptions::*f) {
        using V = std::remove_reference_t<decltype(opts->*f)>;
        V x;
        if (!get(v, &x)) return false;
        if constexpr (std::is_same_v<V, bool>)
          if (o.negation) x = !x;
        opts->*f = std::move(x);
        return true;
      },
      o.field);
}

Value checkpoint_options(const RunOptions& opts) {
  Value j = Value::object();
  for (const OptionInfo& o : run_options())
    if (o.uses & kCheckpointed) j[checkpoint_key(o)] = checkpoint_value(opts, o);
  return j;
}

Value recorded_options(const RunOptions& opts, const Architecture& arch,
                       const std::string& data_path) {
  static const RunOptions kDefaults;
  Value j = Value::object();
  for (const OptionInfo& o : run_options()) {
    if (!(o.uses & kRecorded)) continue;
    const std::string key = o.record_key ? o.record_key : o.name;
    const OptionValue v = get_option(opts, o);
    switch (o.recorded) {
      case Recorded::kValue:
        j[key] = value(v);
        break;
      case Recorded::kUnlessDefault:
        if (v != get_option(kDefaults, o)) j[key] = value(v);
        break;
      case Recorded::kDataPath:
        j[key] = data_path;
        break;
      case Recorded::kBuilt:
        if (key == "sizes") {
          j[key] = arch.sizes;
        } else if (key == "cost") {
          j[key] = name(arch.cost);
        } else {  // activations: one per weight layer
          std::vector<std::string> acts;
          for (Activation a : arch.activations) acts.push_back(name(a));
          j[key] = acts;
        }
        break;
    }
  }
  return j;
}

}  // namespace nnet

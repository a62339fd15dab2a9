#include "nnet/run_json.h"

#include <type_traits>

namespace nnet {

namespace {

using json = nlohmann::json;

json value_json(const OptionValue& v) {
  return std::visit([](const auto& x) { return json(x); }, v);
}

}  // namespace

json checkpoint_value(const RunOptions& opts, const OptionInfo& o) {
  const OptionValue v = get_option(opts, o);
  if (o.negation) return json(!std::get<bool>(v));
  return value_json(v);
}

bool set_checkpoint_value(RunOptions* opts, const OptionInfo& o, const json& j) {
  try {
    return std::visit(
        [&](auto RunOptions::*f) {
          using V = std::remove_reference_t<decltype(opts->*f)>;
          V v = j.get<V>();
          if constexpr (std::is_same_v<V, bool>)
            if (o.negation) v = !v;
          opts->*f = v;
          return true;
        },
        o.field);
  } catch (const json::exception&) {
    return false;
  }
}

json checkpoint_options(const RunOptions& opts) {
  json j = json::object();
  for (const OptionInfo& o : run_options())
    if (o.uses & kCheckpointed) j[checkpoint_key(o)] = checkpoint_value(opts, o);
  return j;
}

json recorded_options(const RunOptions& opts, const Architecture& arch,
                      const std::string& data_path) {
  static const RunOptions kDefaults;
  json j = json::object();
  for (const OptionInfo& o : run_options()) {
    if (!(o.uses & kRecorded)) continue;
    const std::string key = o.record_key ? o.record_key : o.name;
    const OptionValue v = get_option(opts, o);
    switch (o.recorded) {
      case Recorded::kValue:
        j[key] = value_json(v);
        break;
      case Recorded::kUnlessDefault:
        if (v != get_option(kDefaults, o)) j[key] = value_json(v);
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

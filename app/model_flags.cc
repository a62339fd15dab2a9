#include "model_flags.h"

#include <sstream>

namespace nnet::app {

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + v[i];
  return s;
}

std::string join_ints(const std::vector<int>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

}  // namespace

Status prepare_init_from(const std::string& path, bool sizes_given, bool activation_given,
                         bool cost_given, std::vector<int>* sizes,
                         std::vector<std::string>* activations, std::string* cost, Model* model) {
  NNET_RETURN_IF_ERROR(load_model(path, model));
  const Architecture& arch = model->net.arch();
  if (sizes_given && *sizes != arch.sizes)
    return UsageError("--sizes " + join_ints(*sizes) + ": --init-from " + path + " has sizes " +
                      join_ints(arch.sizes) + " (omit --sizes to use the file's)");
  std::vector<std::string> hidden;
  for (size_t l = 0; l + 1 < arch.activations.size(); ++l)
    hidden.push_back(name(arch.activations[l]));
  if (activation_given) {
    // Accept one name for all layers or one per layer, as --activation does.
    std::vector<std::string> given;
    for (const std::string& item : *activations) {
      std::stringstream ss(item);
      std::string part;
      while (std::getline(ss, part, ',')) given.push_back(part);
    }
    if (given.size() == 1 && !hidden.empty()) given.assign(hidden.size(), given[0]);
    if (given != hidden)
      return UsageError("--activation " + join(*activations) + ": --init-from " + path +
                        " has hidden activations " + join(hidden) +
                        " (omit --activation to use the file's)");
  }
  *sizes = arch.sizes;
  *activations = hidden.empty() ? std::vector<std::string>{"sigmoid"} : hidden;
  if (!cost_given) *cost = name(arch.cost);
  return Status::Ok();
}

}  // namespace nnet::app

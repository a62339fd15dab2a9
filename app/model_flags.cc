#include "model_flags.h"

#include <sstream>

#include "nnet/layers.h"

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
                         bool cost_given, bool layers_given, std::vector<int>* sizes,
                         std::vector<std::string>* activations, std::string* cost,
                         std::string* layers, Model* model) {
  NNET_RETURN_IF_ERROR(load_model(path, model));
  const Architecture& arch = model->net.arch();
  const bool stack = !model->net.dense();
  const std::string file_layers = stack ? layers_to_string(arch.layers) : "";
  if (stack && sizes_given)
    return UsageError("--sizes " + join_ints(*sizes) + ": --init-from " + path +
                      " is a layer stack (--layers " + file_layers + "); omit --sizes");
  if (!stack && layers_given)
    return UsageError("--layers " + *layers + ": --init-from " + path + " is a dense net (sizes " +
                      join_ints(arch.sizes) + "); omit --layers");
  if (!stack && sizes_given && *sizes != arch.sizes)
    return UsageError("--sizes " + join_ints(*sizes) + ": --init-from " + path + " has sizes " +
                      join_ints(arch.sizes) + " (omit --sizes to use the file's)");
  if (stack && layers_given) {
    std::vector<LayerSpec> given;
    NNET_RETURN_IF_ERROR(parse_layers(*layers, {}, &given));
    if (layers_to_string(given) != file_layers)
      return UsageError("--layers " + *layers + ": --init-from " + path + " has layers " +
                        file_layers + " (omit --layers to use the file's)");
  }
  // Hidden activations: dense, every layer but the output; a stack, every conv/fc layer.
  std::vector<std::string> hidden;
  if (stack) {
    for (const LayerSpec& l : arch.layers)
      if (l.kind == LayerKind::kConv || l.kind == LayerKind::kFullyConnected)
        hidden.push_back(name(l.activation));
  } else {
    for (size_t l = 0; l + 1 < arch.activations.size(); ++l)
      hidden.push_back(name(arch.activations[l]));
  }
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
  if (stack)
    *layers = file_layers;
  else
    *sizes = arch.sizes;
  *activations = hidden.empty() ? std::vector<std::string>{"sigmoid"} : hidden;
  if (!cost_given) *cost = name(arch.cost);
  return Status::Ok();
}

}  // namespace nnet::app

#include "model_flags.h"


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

// A different explicit --sizes / --layers than the file's is a usage error.
Status check_shape_flags(const std::string& path, const Given& given, const RunOptions& run,
                         const RunOptions& file, bool stack) {
  if (stack && given("sizes"))
    return UsageError("--sizes " + join_ints(run.sizes) + ": --init-from " + path +
                      " is a layer stack (--layers " + file.layers + "); omit --sizes");
  if (!stack && given("layers"))
    return UsageError("--layers " + run.layers + ": --init-from " + path +
                      " is a dense net (sizes " + join_ints(file.sizes) + "); omit --layers");
  if (!stack && given("sizes") && run.sizes != file.sizes)
    return UsageError("--sizes " + join_ints(run.sizes) + ": --init-from " + path +
                      " has sizes " + join_ints(file.sizes) + " (omit --sizes to use the file's)");
  if (stack && given("layers")) {
    std::vector<LayerSpec> spec;
    NNET_RETURN_IF_ERROR(with_flags(parse_layers(run.layers, {}, &spec)));
    if (layers_to_string(spec) != file.layers)
      return UsageError("--layers " + run.layers + ": --init-from " + path + " has layers " +
                        file.layers + " (omit --layers to use the file's)");
  }
  return Status::Ok();
}

}  // namespace

Status prepare_init_from(const std::string& path, const Given& given, RunOptions* run,
                         Model* model) {
  NNET_RETURN_IF_ERROR(load_model(path, model));
  const Architecture& arch = model->net.arch();
  const bool stack = !spelled_layers(arch).empty();
  RunOptions file = *run;
  spell_architecture(arch, &file);
  NNET_RETURN_IF_ERROR(check_shape_flags(path, given, *run, file, stack));
  const std::vector<std::string> hidden = hidden_activations(arch);
  if (given("activation")) {
    // Accept one name for all layers or one per layer, as --activation does.
    std::vector<std::string> named = list_items(run->activation);
    if (named.size() == 1 && !hidden.empty()) named.assign(hidden.size(), named[0]);
    if (named != hidden)
      return UsageError("--activation " + join(run->activation) + ": --init-from " + path +
                        " has hidden activations " + join(hidden) +
                        " (omit --activation to use the file's)");
  }
  if (given("cost")) file.cost = run->cost;
  *run = file;
  return Status::Ok();
}

}  // namespace nnet::app

// Model files' shared parts (internal to src/io/): the checks and architecture helpers both
// formats use (model_io.cc), and what save_model/load_model call in each format's file
// (model_json.cc, model_hdf5.cc).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/json_value.h"
#include "nnet/model_io.h"
#include "nnet/status.h"

namespace nnet::model_file {

using json = nlohmann::json;

// How a file stores weight layer l's W: conv (F, C, K, K), with W[f][c][ky][kx] the weight
// nnet's cross-correlation puts on input (c, y*S + ky - P, x*S + kx - P); fc, softmax and dense
// layers (rows, cols). The row-major flattening of dims holds W(r, c) at r * cols + c.
struct WeightLayout {
  std::vector<size_t> dims;
  std::vector<std::string> names;  // what each level of dims counts, for "expected 20 filters"
  std::string layer;               // "conv:20:5" (stacks) or "" (dense)
  std::string kind;                // "conv", "fc", "softmax" or "dense"
};

// Copies arch->activations (one per weight layer, as read from a file) into the conv/fc layer
// specs; a softmax layer must say softmax and a conv/fc layer must not. `where(l)` names entry l.
template <class Where>
Status apply_stack_activations(Architecture* arch, Where where) {
  size_t l = 0;
  for (LayerSpec& spec : arch->layers) {
    if (spec.kind != LayerKind::kConv && spec.kind != LayerKind::kFullyConnected &&
        spec.kind != LayerKind::kSoftmax)
      continue;
    const Activation a = arch->activations[l];
    const std::string layer = layers_to_string({spec});
    if (spec.kind == LayerKind::kSoftmax && a != Activation::kSoftmax)
      return DataError(where(l) + ": expected softmax for layer " + layer + ", found " + name(a));
    if (spec.kind != LayerKind::kSoftmax && a == Activation::kSoftmax)
      return DataError(where(l) + ": expected sigmoid, tanh, relu or linear for layer " + layer +
                       ", found softmax");
    if (spec.kind != LayerKind::kSoftmax) spec.activation = a;
    ++l;
  }
  return Status::Ok();
}

std::string describe(const json& j);
std::string index_path(const std::string& base, size_t i);
Status check_sizes(const std::vector<long long>& sizes, const std::string& where, size_t* params);
Status book_cost_from_name(const std::string& s, Cost* out);
Status arch_from_sizes(const std::vector<long long>& sizes, const std::string& where, Architecture* arch, size_t* params);
Status check_arch(const Architecture& arch, const std::string& name);
std::string without_option(const std::string& m);
Status stack_from_spec(const std::string& spec, const std::vector<long long>& input, const std::string& where_layers, const std::string& where_input, Architecture* arch, size_t* params);
// j must be an array of n entries (`what` names them in the error).
Status require_array(const json& j, const std::string& path, size_t n, const std::string& what);
std::vector<WeightLayout> weight_layouts(const Architecture& arch);
size_t product(const std::vector<size_t>& dims);
nlohmann::ordered_json nnet_block(const Model& m);
Status read_nnet_block(const json& blk, const std::string& name, size_t layers, Architecture* arch, Model* out);
Status read_stack_header(const json& j, const std::string& name, Architecture* out_arch, Model* m, size_t* params);
Status read_header(const json& j, const std::string& name, Architecture* out_arch, Model* m, size_t* params = nullptr);

// model_hdf5.cc: the HDF5 image of a model; an .h5 file's signature; the isolated reader (the file
// at `path`, or `image` when not null).
Status hdf5_image(const Model& m, const std::string& path, std::string* bytes);
bool has_hdf5_signature(const std::string& path);
Status load_hdf5(const std::string& path, const std::string* image, Model* out);

}  // namespace nnet::model_file

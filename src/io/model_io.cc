// Model files: the checks both formats share, and saving/loading by file type.
#include "nnet/model_io.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <vector>

#include "nn/layer_table.h"
#include "nnet/data.h"
#include "nnet/fileio.h"
#include "nnet/run.h"

#include "io/model_file.h"

namespace fs = std::filesystem;

namespace nnet {

namespace model_file {


// ---------------------------------------------------------------------------------------------
// Shared checks

// Short text of a JSON value for "found ..." (strings quoted, long values cut).
std::string describe(const json& j) {
  std::string s = j.dump();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

std::string index_path(const std::string& base, size_t i) {
  return base + "[" + std::to_string(i) + "]";
}

// Checks sizes against the caps and returns the parameter count without overflowing.
Status check_sizes(const std::vector<long long>& sizes, const std::string& where, size_t* params) {
  if (sizes.size() < 2 || sizes.size() > kMaxModelLayers + 1)
    return DataError(where + ": expected 2.." + std::to_string(kMaxModelLayers + 1) +
                     " layer sizes, found " + std::to_string(sizes.size()));
  for (size_t i = 0; i < sizes.size(); ++i)
    if (sizes[i] < 1 || sizes[i] > 1000000)
      return DataError(index_path(where, i) + ": expected 1..1000000 neurons, found " +
                       std::to_string(sizes[i]));
  size_t total = 0;
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    // Each term is <= 1e12 + 1e6, so with the running cap no sum or product overflows.
    total += static_cast<size_t>(sizes[l + 1]) * static_cast<size_t>(sizes[l] + 1);
    if (total > kMaxModelParams)
      return DataError(where + ": the network would have more than " +
                       std::to_string(kMaxModelParams) + " parameters (cap)");
  }
  *params = total;
  return Status::Ok();
}

Status book_cost_from_name(const std::string& s, Cost* out) {
  if (s == "QuadraticCost") {
    *out = Cost::kQuadratic;
    return Status::Ok();
  }
  if (s == "CrossEntropyCost") {
    *out = Cost::kCrossEntropy;
    return Status::Ok();
  }
  return DataError("expected \"QuadraticCost\" or \"CrossEntropyCost\"");
}

// Final architecture check (softmax placement, cost/activation pairing), worded for a file.
// Checks `sizes` (check_sizes) and makes an all-sigmoid architecture over them; the caller sets
// activations and cost. `params` (optional) receives the parameter count.
Status arch_from_sizes(const std::vector<long long>& sizes, const std::string& where,
                       Architecture* arch, size_t* params) {
  size_t count = 0;
  NNET_RETURN_IF_ERROR(check_sizes(sizes, where, &count));
  arch->sizes.assign(sizes.begin(), sizes.end());
  arch->activations.assign(sizes.size() - 1, Activation::kSigmoid);
  if (params != nullptr) *params = count;
  return Status::Ok();
}

// Drops the option a layers.h / validate() message starts with ("layers: "): a file's message
// names its entry instead.
std::string without_option(const std::string& m) {
  const size_t p = m.find(": ");
  if (p != std::string::npos && find_option(m.substr(0, p)) != nullptr) return m.substr(p + 2);
  return m;
}

Status check_arch(const Architecture& arch, const std::string& name) {
  Status s = validate(arch, arch.sizes.front(), 1);
  if (!s.ok()) return DataError(name + ": inconsistent architecture: " + without_option(s.message()));
  return Status::Ok();
}

// A layer stack from its spelling (layers_to_string) and input shape (c, h, w), checked as
// --layers is (layer_shapes) and against the model caps before anything is allocated; conv/fc
// activations stay sigmoid until the caller sets them. The wheres name the two entries.
Status stack_from_spec(const std::string& spec, const std::vector<long long>& input,
                       const std::string& where_layers, const std::string& where_input,
                       Architecture* arch, size_t* params) {
  if (input.size() != 3)
    return DataError(where_input + ": expected 3 numbers (channels, height, width), found " +
                     std::to_string(input.size()));
  for (size_t i = 0; i < 3; ++i)
    if (input[i] < 1 || input[i] > 1000000)
      return DataError(index_path(where_input, i) + ": expected 1..1000000, found " +
                       std::to_string(input[i]));
  Architecture a;
  a.input =
      Shape{static_cast<int>(input[0]), static_cast<int>(input[1]), static_cast<int>(input[2])};
  if (static_cast<long long>(a.input.c) * a.input.h * a.input.w > (1LL << 26))
    return DataError(where_input + ": expected at most 2^26 values per sample");
  Status s = parse_layers(spec, {}, &a.layers);
  if (!s.ok()) return DataError(where_layers + ": " + without_option(s.message()));
  std::vector<Shape> shapes;
  s = layer_shapes(a.input, a.layers, 1, &shapes);
  if (!s.ok()) return DataError(where_layers + ": " + without_option(s.message()));
  size_t weight_layers = 0;
  for (const LayerSpec& l : a.layers) weight_layers += has_weights(l.kind);
  if (weight_layers > kMaxModelLayers)
    return DataError(where_layers + ": expected at most " + std::to_string(kMaxModelLayers) +
                     " conv/fc/softmax layers, found " + std::to_string(weight_layers));
  const LayerTable t = make_layer_table(&a);  // shapes only: allocates no parameters
  size_t total = 0;
  for (size_t l = 0; l < t.rows.size(); ++l) {
    // layer_shapes caps each W at 2^28 values, so with <= 64 layers nothing overflows.
    total += static_cast<size_t>(t.rows[l]) * (static_cast<size_t>(t.cols[l]) + 1);
    if (total > kMaxModelParams)
      return DataError(where_layers + ": the network would have more than " +
                       std::to_string(kMaxModelParams) + " parameters (cap)");
  }
  if (params != nullptr) *params = total;
  *arch = std::move(a);
  return Status::Ok();
}


// The layouts of `arch`'s weight layers (arch valid; allocates no parameters).
std::vector<WeightLayout> weight_layouts(const Architecture& arch) {
  Architecture a = arch;
  const LayerTable t = make_layer_table(&a);
  std::vector<WeightLayout> out;
  for (size_t l = 0; l < t.rows.size(); ++l) {
    WeightLayout w;
    const size_t rows = t.rows[l], cols = t.cols[l];
    w.dims = {rows, cols};
    w.names = {"rows (neurons)", "numbers (inputs)"};
    w.kind = "dense";
    if (!a.dense) {
      const int i = t.stack_index[l];
      const LayerSpec& s = a.layers[i];
      w.layer = layers_to_string({s});
      w.kind = s.kind == LayerKind::kConv      ? "conv"
               : s.kind == LayerKind::kSoftmax ? "softmax"
                                               : "fc";
      if (s.kind == LayerKind::kConv) {
        const size_t k = s.kernel;
        w.dims = {rows, cols / (k * k), k, k};
        w.names = {"filters", "input channels", "kernel rows", "kernel columns"};
      }
    }
    out.push_back(std::move(w));
  }
  return out;
}

size_t product(const std::vector<size_t>& dims) {
  size_t n = 1;
  for (size_t d : dims) n *= d;
  return n;
}

// The "nnet" block: what network2's format cannot hold.
nlohmann::ordered_json nnet_block(const Model& m) {
  const Architecture& arch = m.net.arch();
  nlohmann::ordered_json blk;
  blk["format_version"] = m.net.dense() ? kDenseModelFormatVersion : kModelFormatVersion;
  blk["written_by"] = "nnet";
  blk["cost"] = name(arch.cost);
  std::vector<std::string> acts;
  for (Activation a : arch.activations) acts.push_back(name(a));
  blk["activations"] = acts;
  blk["init"] = m.init;
  blk["training"] = nlohmann::ordered_json::parse(json_of(m.training).dump());
  return blk;
}

// Reads the "nnet" block into `arch` and `out`.
Status read_nnet_block(const json& blk, const std::string& name, size_t layers, Architecture* arch,
                       Model* out) {
  const std::string p = name + ": nnet";
  if (!blk.is_object()) return DataError(p + ": expected an object, found " + describe(blk));
  if (blk.contains("format_version")) {
    const json& v = blk["format_version"];
    if (!v.is_number_integer() || v.get<long long>() < 1 ||
        v.get<long long>() > kModelFormatVersion)
      return DataError(p + ".format_version: expected 1.." + std::to_string(kModelFormatVersion) +
                       ", found " + describe(v));
  }
  if (blk.contains("cost")) {
    const json& c = blk["cost"];
    Cost cost;
    if (!c.is_string() || !parse_cost(c.get<std::string>(), &cost))
      return DataError(p + ".cost: expected \"quadratic\", \"cross-entropy\" or " +
                       "\"log-likelihood\", found " + describe(c));
    if (std::string(book_cost_name(cost)) != book_cost_name(arch->cost))
      return DataError(name + ": cost: expected \"" + book_cost_name(cost) + "\" (nnet.cost is " +
                       ::nnet::name(cost) + "), found \"" + book_cost_name(arch->cost) + "\"");
    arch->cost = cost;
  }
  if (blk.contains("activations")) {
    const json& a = blk["activations"];
    NNET_RETURN_IF_ERROR(require_array(a, p + ".activations", layers, "names (one per layer)"));
    for (size_t l = 0; l < layers; ++l) {
      Activation act;
      if (!a[l].is_string() || !parse_activation(a[l].get<std::string>(), &act))
        return DataError(index_path(p + ".activations", l) +
                         ": expected sigmoid, tanh, relu, softmax or linear, found " +
                         describe(a[l]));
      arch->activations[l] = act;
    }
  }
  if (blk.contains("init")) {
    const json& i = blk["init"];
    Init init;
    if (!i.is_string() ||
        (!i.get<std::string>().empty() && !parse_init(i.get<std::string>(), &init)))
      return DataError(p + ".init: expected large, default, xavier, he or network3, found " +
                       describe(i));
    out->init = i.get<std::string>();
  }
  if (blk.contains("training") && !value_of(blk["training"], &out->training))
    return DataError(p + ".training: expected at most " + std::to_string(kMaxValueDepth) +
                     " levels of nesting");
  return Status::Ok();
}

// read_header for a layer stack: "layers" (layers_to_string's spelling), "input" (c, h, w),
// "sizes" (the summary make_layer_table derives, checked), cost and the "nnet" block.
Status read_stack_header(const json& j, const std::string& name, Architecture* out_arch, Model* m,
                         size_t* params) {
  const json& jl = j["layers"];
  if (!jl.is_string())
    return DataError(name + ": layers: expected a layer list like \"conv:20:5,maxpool:2,fc:100," +
                     "softmax:10\", found " + describe(jl));
  if (!j.contains("input"))
    return DataError(name + ": input: missing (a layer stack's model has layers and input)");
  const json& ji = j["input"];
  if (!ji.is_array() || ji.size() != 3)
    return DataError(name + ": input: expected [channels, height, width], found " + describe(ji));
  std::vector<long long> input;
  for (size_t i = 0; i < 3; ++i) {
    if (!ji[i].is_number_integer())
      return DataError(index_path(name + ": input", i) + ": expected an integer, found " +
                       describe(ji[i]));
    input.push_back(ji[i].get<long long>());
  }
  Architecture arch;
  NNET_RETURN_IF_ERROR(stack_from_spec(jl.get<std::string>(), input, name + ": layers",
                                       name + ": input", &arch, params));
  if (j["sizes"] != json(arch.sizes))
    return DataError(name + ": sizes: expected " + json(arch.sizes).dump() +
                     " (what layers and input give), found " + describe(j["sizes"]));
  const json& jc = j["cost"];
  if (!jc.is_string() || !book_cost_from_name(jc.get<std::string>(), &arch.cost).ok())
    return DataError(name + ": cost: expected \"QuadraticCost\" or \"CrossEntropyCost\", found " +
                     describe(jc));
  if (j.contains("nnet"))
    NNET_RETURN_IF_ERROR(read_nnet_block(j["nnet"], name, arch.activations.size(), &arch, m));
  NNET_RETURN_IF_ERROR(apply_stack_activations(
      &arch, [&](size_t l) { return index_path(name + ": nnet.activations", l); }));
  NNET_RETURN_IF_ERROR(check_arch(arch, name));
  *out_arch = std::move(arch);
  return Status::Ok();
}

// Reads sizes, cost and the "nnet" block (everything but the parameters) into `arch` and `m`.
// `params` (optional) receives the parameter count.
Status read_header(const json& j, const std::string& name, Architecture* out_arch, Model* m,
                   size_t* params) {
  for (const char* key : {"sizes", "cost"})
    if (!j.contains(key)) return DataError(name + ": " + key + ": missing");
  if (j.contains("layers")) return read_stack_header(j, name, out_arch, m, params);
  const json& js = j["sizes"];
  if (!js.is_array())
    return DataError(name + ": sizes: expected a list of layer sizes, found " + describe(js));
  if (js.size() > kMaxModelLayers + 1)
    return DataError(name + ": sizes: expected 2.." + std::to_string(kMaxModelLayers + 1) +
                     " layer sizes, found " + std::to_string(js.size()));
  std::vector<long long> sizes;
  for (size_t i = 0; i < js.size(); ++i) {
    if (!js[i].is_number_integer())
      return DataError(index_path(name + ": sizes", i) + ": expected an integer, found " +
                       describe(js[i]));
    sizes.push_back(js[i].get<long long>());
  }
  Architecture arch;
  NNET_RETURN_IF_ERROR(arch_from_sizes(sizes, name + ": sizes", &arch, params));
  const size_t L = sizes.size() - 1;
  const json& jc = j["cost"];
  if (!jc.is_string() || !book_cost_from_name(jc.get<std::string>(), &arch.cost).ok())
    return DataError(name + ": cost: expected \"QuadraticCost\" or \"CrossEntropyCost\", found " +
                     describe(jc));
  if (j.contains("nnet")) NNET_RETURN_IF_ERROR(read_nnet_block(j["nnet"], name, L, &arch, m));
  NNET_RETURN_IF_ERROR(check_arch(arch, name));
  *out_arch = std::move(arch);
  return Status::Ok();
}

Status require_array(const json& j, const std::string& path, size_t n, const std::string& what) {
  if (!j.is_array())
    return DataError(path + ": expected a list of " + std::to_string(n) + " " + what + ", found " +
                     describe(j));
  if (j.size() != n)
    return DataError(path + ": expected " + std::to_string(n) + " " + what + ", found " +
                     std::to_string(j.size()));
  return Status::Ok();
}

}  // namespace model_file

using namespace model_file;

const char* book_cost_name(Cost cost) {
  return cost == Cost::kQuadratic ? "QuadraticCost" : "CrossEntropyCost";
}

Status save_model(const std::string& path, const Model& m) {
  const Network& net = m.net;
  for (int l = 0; l < net.layers(); ++l)
    if (!net.weight(l).allFinite() || !net.bias(l).allFinite())
      return Status::Error(Code::kDiverged, path + ": refusing to save: layer " +
                                                std::to_string(l) + " has non-finite parameters");
  std::string bytes;
  if (is_hdf5_path(path))
    NNET_RETURN_IF_ERROR(hdf5_image(m, path, &bytes));
  else
    bytes = model_to_json(m);
  return write_file_atomic(path, bytes);
}

Status load_model(const std::string& path, Model* out) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return NoInput(path + ": no such model file");
  if (fs::is_directory(path, ec))
    return NoInput(path + ": expected a model file, found a directory");
  if (has_hdf5_signature(path)) return load_hdf5(path, nullptr, out);
  if (is_hdf5_path(path))
    return DataError(path + ": expected an HDF5 file (signature \\x89HDF at byte 0), found none");
  std::string text;
  NNET_RETURN_IF_ERROR(read_file(path, kMaxModelFileBytes, &text));
  return model_from_json(text, path, out);
}

}  // namespace nnet

#include "nnet/model_io.h"

#include <hdf5.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <vector>

#include "isolate.h"
#include "model_io_internal.h"
#include "nnet/data.h"
#include "nnet/fileio.h"
#include "nnet/run.h"

namespace fs = std::filesystem;

namespace nnet {

namespace {

using json = nlohmann::json;

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

// How a file stores weight layer l's W: conv (F, C, K, K), with W[f][c][ky][kx] the weight
// nnet's cross-correlation puts on input (c, y*S + ky - P, x*S + kx - P); fc, softmax and dense
// layers (rows, cols). The row-major flattening of dims holds W(r, c) at r * cols + c.
struct WeightLayout {
  std::vector<size_t> dims;
  std::vector<std::string> names;  // what each level of dims counts, for "expected 20 filters"
  std::string layer;               // "conv:20:5" (stacks) or "" (dense)
  std::string kind;                // "conv", "fc", "softmax" or "dense"
};

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

// ---------------------------------------------------------------------------------------------
// JSON

// Writes the float exactly: the shortest decimal of its double widening reads back (as double,
// then float) to the very same bits, and Python's float() sees exactly the float32 value.
void append_float(std::string& out, float f) {
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof(buf), static_cast<double>(f));
  std::string_view s(buf, r.ptr - buf);
  out += s;
  if (s.find_first_of(".e") == std::string_view::npos) out += ".0";  // keep numpy dtype float
}

// The JSON path of the value being parsed at byte `end`, for parse errors ("weights[1][3][7]").
std::string json_path_at(const std::string& text, size_t end) {
  struct Frame {
    bool array;
    long index;
    std::string key;
    bool expect_key;
  };
  std::vector<Frame> st;
  end = std::min(end, text.size());
  for (size_t i = 0; i < end; ++i) {
    const char c = text[i];
    if (c == '"') {
      std::string s;
      size_t j = i + 1;
      for (; j < end && text[j] != '"'; ++j) {
        if (text[j] == '\\') ++j;
        if (j < end) s += text[j];
      }
      if (!st.empty() && !st.back().array && st.back().expect_key) {
        st.back().key = s;
        st.back().expect_key = false;
      }
      i = j;
    } else if (c == '[' || c == '{') {
      st.push_back({c == '[', 0, "", c == '{'});
    } else if ((c == ']' || c == '}') && !st.empty()) {
      st.pop_back();
    } else if (c == ',' && !st.empty()) {
      if (st.back().array)
        ++st.back().index;
      else
        st.back().expect_key = true;
    }
  }
  std::string path;
  for (const Frame& f : st) {
    if (f.array) {
      path += "[" + std::to_string(f.index) + "]";
    } else {
      if (f.expect_key || f.key.empty()) break;
      path += (path.empty() ? "" : ".") + f.key;
    }
  }
  return path;
}

Status parse_error(const std::string& text, const std::string& name, size_t byte,
                   const std::string& what) {
  const size_t at = byte > 0 ? byte - 1 : 0;  // nlohmann counts bytes read; `at` is the last one
  // The token around the error: Python's json.dump writes NaN/Infinity for a diverged network.
  auto tok_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; };
  size_t b = std::min(at, text.size());
  while (b > 0 && tok_char(text[b - 1])) --b;
  size_t e = b;
  while (e < text.size() && tok_char(text[e]) && e - b < 20) ++e;
  const std::string tok = text.substr(b, e - b);
  std::string path = json_path_at(text, b);
  const std::string where =
      name + ": byte " + std::to_string(b) + (path.empty() ? "" : " (" + path + ")");
  if (tok == "NaN" || tok == "Infinity" || tok == "-Infinity")
    return DataError(where + ": expected a finite number, found " + tok);
  std::string msg = what;
  if (size_t p = msg.find("column "); p != std::string::npos)
    if (size_t q = msg.find(": ", p); q != std::string::npos) msg = msg.substr(q + 2);
  if (byte >= text.size() && msg.find("end of input") != std::string::npos)
    return DataError(where + ": not valid JSON (truncated?): " + msg);
  return DataError(where + ": not valid JSON: " + msg);
}

Status get_float(const json& j, const std::string& path, float* out) {
  if (!j.is_number()) return DataError(path + ": expected a finite number, found " + describe(j));
  const double d = j.get<double>();
  const float f = static_cast<float>(d);
  if (!std::isfinite(d) || !std::isfinite(f))
    return DataError(path + ": expected a finite number within float32 range, found " +
                     describe(j));
  *out = f;
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

// Checks weights/biases shapes against sizes without allocating anything.
Status check_shapes(const json& j, const std::vector<int>& sizes, const std::string& name) {
  const size_t L = sizes.size() - 1;
  const json& W = j["weights"];
  const json& B = j["biases"];
  NNET_RETURN_IF_ERROR(require_array(W, name + ": weights", L, "layers (len(sizes) - 1)"));
  NNET_RETURN_IF_ERROR(require_array(B, name + ": biases", L, "layers (len(sizes) - 1)"));
  for (size_t l = 0; l < L; ++l) {
    const size_t y = sizes[l + 1], x = sizes[l];
    const std::string wp = index_path(name + ": weights", l);
    NNET_RETURN_IF_ERROR(require_array(W[l], wp, y, "rows (sizes[" + std::to_string(l + 1) + "])"));
    for (size_t r = 0; r < y; ++r)
      NNET_RETURN_IF_ERROR(require_array(W[l][r], index_path(wp, r), x,
                                         "numbers (sizes[" + std::to_string(l) + "])"));
    const std::string bp = index_path(name + ": biases", l);
    NNET_RETURN_IF_ERROR(require_array(B[l], bp, y, "rows (sizes[" + std::to_string(l + 1) + "])"));
    for (size_t r = 0; r < y; ++r)
      NNET_RETURN_IF_ERROR(require_array(B[l][r], index_path(bp, r), 1, "number (a y x 1 column)"));
  }
  return Status::Ok();
}

// Appends W (rows, cols) as the nested lists of `dims` (row-major flattening r * cols + c).
void append_nested(std::string& out, const ConstMatrixMap& w, const std::vector<size_t>& dims,
                   size_t level, size_t start, size_t stride) {
  const size_t cols = static_cast<size_t>(w.cols());
  stride /= dims[level];
  out += "[";
  for (size_t k = 0; k < dims[level]; ++k) {
    if (k) out += ", ";
    const size_t idx = start + k * stride;
    if (level + 1 == dims.size())
      append_float(out,
                   w(static_cast<Eigen::Index>(idx / cols), static_cast<Eigen::Index>(idx % cols)));
    else
      append_nested(out, w, dims, level + 1, idx, stride);
  }
  out += "]";
}

// Checks that `j` is nested lists of exactly layout.dims from `level` on, allocating nothing.
Status check_nested(const json& j, const std::string& path, const WeightLayout& w, size_t level) {
  std::string what = w.names[level];
  if (level == 0 && !w.layer.empty()) what += " (" + w.layer + ")";
  NNET_RETURN_IF_ERROR(require_array(j, path, w.dims[level], what));
  if (level + 1 < w.dims.size())
    for (size_t k = 0; k < j.size(); ++k)
      NNET_RETURN_IF_ERROR(check_nested(j[k], index_path(path, k), w, level + 1));
  return Status::Ok();
}

// Reads the numbers of nested lists checked by check_nested into out (row-major).
Status read_nested(const json& j, const std::string& path, const std::vector<size_t>& dims,
                   size_t level, size_t start, size_t stride, float* out) {
  stride /= dims[level];
  for (size_t k = 0; k < dims[level]; ++k) {
    const std::string at = index_path(path, k);
    if (level + 1 == dims.size())
      NNET_RETURN_IF_ERROR(get_float(j[k], at, &out[start + k]));
    else
      NNET_RETURN_IF_ERROR(read_nested(j[k], at, dims, level + 1, start + k * stride, stride, out));
  }
  return Status::Ok();
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
  blk["training"] = nlohmann::ordered_json::parse(m.training.dump());
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
  if (blk.contains("training")) out->training = blk["training"];
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// HDF5

// Owns one HDF5 identifier.
class Hid {
 public:
  Hid(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Hid() {
    if (id_ >= 0) close_(id_);
  }
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// Silences HDF5's own error printing (library code never prints) and turns plugin loading off
// (a file must never make us dlopen code) for the scope of one call.
class Hdf5Guard {
 public:
  Hdf5Guard() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    H5PLset_loading_state(0);
  }
  ~Hdf5Guard() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

bool write_string_attr(hid_t obj, const char* attr, const std::string& value) {
  Hid type(H5Tcopy(H5T_C_S1), H5Tclose);
  if (!type.ok() || H5Tset_size(type.get(), H5T_VARIABLE) < 0 ||
      H5Tset_cset(type.get(), H5T_CSET_UTF8) < 0)
    return false;
  Hid space(H5Screate(H5S_SCALAR), H5Sclose);
  Hid a(H5Acreate2(obj, attr, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  const char* p = value.c_str();
  return a.ok() && H5Awrite(a.get(), type.get(), &p) >= 0;
}

bool write_int_attr(hid_t obj, const char* attr, const std::vector<int>& values, bool scalar) {
  const hsize_t n = values.size();
  Hid space(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose);
  Hid a(H5Acreate2(obj, attr, H5T_STD_I32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  return a.ok() && H5Awrite(a.get(), H5T_NATIVE_INT, values.data()) >= 0;
}

bool write_dataset(hid_t loc, const char* dname, const std::vector<hsize_t>& dims,
                   const float* data) {
  Hid space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Hid d(H5Dcreate2(loc, dname, H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
        H5Dclose);
  return d.ok() && H5Dwrite(d.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0;
}

// Builds the whole file in memory (core driver, no backing store) so the write can be atomic.
Status hdf5_image(const Model& m, const std::string& path, std::string* bytes) {
  Hdf5Guard guard;
  const Network& net = m.net;
  const Architecture& arch = net.arch();
  auto fail = [&](const std::string& what) {
    return Status::Error(Code::kCantCreate, path + ": HDF5: cannot " + what);
  };
  Hid fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (!fapl.ok() || H5Pset_fapl_core(fapl.get(), 1 << 20, 0) < 0) return fail("set up the driver");
  Hid file(H5Fcreate(("nnet-in-memory:" + path).c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()),
           H5Fclose);
  if (!file.ok()) return fail("create the in-memory file");
  const hid_t root = file.get();
  json training = m.training;
  const int version = net.dense() ? kDenseModelFormatVersion : kModelFormatVersion;
  bool ok = write_string_attr(root, "format", "nnet-model") &&
            write_int_attr(root, "format_version", {version}, true) &&
            write_int_attr(root, "sizes", arch.sizes, false) &&
            write_string_attr(root, "cost", name(arch.cost)) &&
            write_string_attr(root, "book_cost", book_cost_name(arch.cost)) &&
            write_string_attr(root, "init", m.init) &&
            write_string_attr(root, "training", training.dump());
  if (ok && !net.dense())
    ok = write_string_attr(root, "layers", layers_to_string(arch.layers)) &&
         write_int_attr(root, "input", {arch.input.c, arch.input.h, arch.input.w}, false);
  if (!ok) return fail("write the root attributes");
  Hid layers(H5Gcreate2(root, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  if (!layers.ok()) return fail("create /layers");
  const std::vector<WeightLayout> layouts = weight_layouts(arch);
  for (int l = 0; l < net.layers(); ++l) {
    const std::string gname = std::to_string(l);
    Hid g(H5Gcreate2(layers.get(), gname.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (!g.ok() || !write_string_attr(g.get(), "activation", name(arch.activations[l])))
      return fail("create /layers/" + gname);
    if (!net.dense() && (!write_string_attr(g.get(), "kind", layouts[l].kind) ||
                           !write_string_attr(g.get(), "layer", layouts[l].layer)))
      return fail("create /layers/" + gname);
    // numpy's (y, x) is row-major; our weights are column-major, so write the transpose's data
    // (for conv, row-major (F, C*K*K) is row-major (F, C, K, K)).
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> w =
        net.weight(l);  // (rows, cols) row-major
    const std::vector<hsize_t> dims(layouts[l].dims.begin(), layouts[l].dims.end());
    if (!write_dataset(g.get(), "weight", dims, w.data()) ||
        !write_dataset(g.get(), "bias", {hsize_t(net.rows(l))}, net.bias(l).data()))
      return fail("write /layers/" + gname);
  }
  if (H5Fflush(root, H5F_SCOPE_GLOBAL) < 0) return fail("flush");
  const ssize_t size = H5Fget_file_image(root, nullptr, 0);
  if (size <= 0) return fail("get the file image");
  bytes->resize(static_cast<size_t>(size));
  if (H5Fget_file_image(root, bytes->data(), bytes->size()) != size)
    return fail("get the file image");
  return Status::Ok();
}

// Opens `name` under `loc` only through a hard link: soft and external links (which could send
// us to another file) are refused.
Status check_hard_link(hid_t loc, const std::string& link, const std::string& where) {
  if (H5Lexists(loc, link.c_str(), H5P_DEFAULT) <= 0) return DataError(where + ": missing");
  H5L_info_t info;
  if (H5Lget_info(loc, link.c_str(), &info, H5P_DEFAULT) < 0)
    return DataError(where + ": unreadable link");
  if (info.type != H5L_TYPE_HARD)
    return DataError(where + ": expected a plain (hard-linked) object, found " +
                     (info.type == H5L_TYPE_EXTERNAL ? "an external link" : "a soft link") +
                     " (refused)");
  return Status::Ok();
}

Status read_string_attr(hid_t obj, const char* attr, const std::string& where, bool required,
                        std::string* out) {
  const std::string p = where + " attribute " + attr;
  if (H5Aexists(obj, attr) <= 0) {
    if (required) return DataError(p + ": missing");
    return Status::Ok();
  }
  Hid a(H5Aopen(obj, attr, H5P_DEFAULT), H5Aclose);
  Hid type(H5Aget_type(a.get()), H5Tclose);
  Hid space(H5Aget_space(a.get()), H5Sclose);
  if (!a.ok() || !type.ok() || !space.ok()) return DataError(p + ": unreadable");
  if (H5Tget_class(type.get()) != H5T_STRING)
    return DataError(p + ": expected a string, found another type");
  if (H5Sget_simple_extent_npoints(space.get()) != 1)
    return DataError(p + ": expected a single string, found " +
                     std::to_string(H5Sget_simple_extent_npoints(space.get())) + " values");
  if (H5Tis_variable_str(type.get()) > 0) {
    Hid mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    char* s = nullptr;
    if (H5Aread(a.get(), mem.get(), &s) < 0) return DataError(p + ": unreadable");
    *out = s ? s : "";
    H5free_memory(s);
  } else {
    const size_t n = H5Tget_size(type.get());
    if (n == 0 || n > (1u << 24)) return DataError(p + ": string too large");
    std::string buf(n, '\0');
    Hid mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), n);
    if (H5Aread(a.get(), mem.get(), buf.data()) < 0) return DataError(p + ": unreadable");
    buf.resize(std::strlen(buf.c_str()));
    *out = buf;
  }
  return Status::Ok();
}

Status read_sizes_attr(hid_t root, const std::string& where, std::vector<long long>* out) {
  const std::string p = where + " attribute sizes";
  if (H5Aexists(root, "sizes") <= 0) return DataError(p + ": missing");
  Hid a(H5Aopen(root, "sizes", H5P_DEFAULT), H5Aclose);
  Hid type(H5Aget_type(a.get()), H5Tclose);
  Hid space(H5Aget_space(a.get()), H5Sclose);
  if (!a.ok() || !type.ok() || !space.ok()) return DataError(p + ": unreadable");
  if (H5Tget_class(type.get()) != H5T_INTEGER)
    return DataError(p + ": expected integers, found another type");
  if (H5Sget_simple_extent_ndims(space.get()) != 1)
    return DataError(p + ": expected a 1-D list, found rank " +
                     std::to_string(H5Sget_simple_extent_ndims(space.get())));
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 2 || n > static_cast<hssize_t>(kMaxModelLayers + 1))
    return DataError(p + ": expected 2.." + std::to_string(kMaxModelLayers + 1) +
                     " layer sizes, found " + std::to_string(n));
  out->resize(static_cast<size_t>(n));
  if (H5Aread(a.get(), H5T_NATIVE_LLONG, out->data()) < 0) return DataError(p + ": unreadable");
  return Status::Ok();
}

// Reads an integer attribute holding exactly `n` values (a 1-D list).
Status read_int_list_attr(hid_t obj, const char* attr, const std::string& where, size_t n,
                          std::vector<long long>* out) {
  const std::string p = where + " attribute " + attr;
  if (H5Aexists(obj, attr) <= 0) return DataError(p + ": missing");
  Hid a(H5Aopen(obj, attr, H5P_DEFAULT), H5Aclose);
  Hid type(H5Aget_type(a.get()), H5Tclose);
  Hid space(H5Aget_space(a.get()), H5Sclose);
  if (!a.ok() || !type.ok() || !space.ok()) return DataError(p + ": unreadable");
  if (H5Tget_class(type.get()) != H5T_INTEGER)
    return DataError(p + ": expected integers, found another type");
  if (H5Sget_simple_extent_ndims(space.get()) != 1 ||
      H5Sget_simple_extent_npoints(space.get()) != static_cast<hssize_t>(n))
    return DataError(p + ": expected a list of " + std::to_string(n) + " integers, found " +
                     std::to_string(H5Sget_simple_extent_npoints(space.get())) + " values");
  out->resize(n);
  if (H5Aread(a.get(), H5T_NATIVE_LLONG, out->data()) < 0) return DataError(p + ": unreadable");
  return Status::Ok();
}

// Reads one float dataset after checking its link, storage, filters, type and exact shape.
Status read_float_dataset(hid_t loc, const std::string& dname, const std::string& where,
                          const std::vector<hsize_t>& dims, std::vector<float>* out) {
  NNET_RETURN_IF_ERROR(check_hard_link(loc, dname, where));
  Hid d(H5Dopen2(loc, dname.c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.ok()) return DataError(where + ": expected a dataset, found another kind of object");
  Hid dcpl(H5Dget_create_plist(d.get()), H5Pclose);
  if (!dcpl.ok()) return DataError(where + ": unreadable creation properties");
  if (H5Pget_external_count(dcpl.get()) != 0)
    return DataError(where + ": stored in external files (refused)");
  if (H5Pget_layout(dcpl.get()) == H5D_VIRTUAL)
    return DataError(where + ": a virtual dataset (refused)");
  const int nfilters = H5Pget_nfilters(dcpl.get());
  for (int i = 0; i < nfilters; ++i) {
    unsigned flags = 0, config = 0;
    size_t nelmts = 0;
    char fname[64] = {0};
    const H5Z_filter_t id =
        H5Pget_filter2(dcpl.get(), i, &flags, &nelmts, nullptr, sizeof(fname), fname, &config);
    const bool builtin = id == H5Z_FILTER_DEFLATE || id == H5Z_FILTER_SHUFFLE ||
                         id == H5Z_FILTER_FLETCHER32 || id == H5Z_FILTER_NBIT ||
                         id == H5Z_FILTER_SCALEOFFSET;
    if (!builtin || H5Zfilter_avail(id) <= 0)
      return DataError(where + ": filter " + std::to_string(id) + " (" + fname +
                       ") needs a plugin (refused; plugins are disabled)");
  }
  Hid type(H5Dget_type(d.get()), H5Tclose);
  const H5T_class_t cls = type.ok() ? H5Tget_class(type.get()) : H5T_NO_CLASS;
  const size_t tsize = type.ok() ? H5Tget_size(type.get()) : 0;
  if (cls != H5T_FLOAT || (tsize != 4 && tsize != 8))
    return DataError(where + ": expected float32 (or float64), found " +
                     (cls == H5T_INTEGER ? "integer"
                      : cls == H5T_FLOAT ? "float"
                                         : "non-float") +
                     " of " + std::to_string(tsize) + " bytes");
  Hid space(H5Dget_space(d.get()), H5Sclose);
  const int rank = space.ok() ? H5Sget_simple_extent_ndims(space.get()) : -1;
  auto shape_text = [](const std::vector<hsize_t>& v) {
    std::string s = "(";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
    return s + (v.size() == 1 ? ",)" : ")");
  };
  if (rank != static_cast<int>(dims.size()))
    return DataError(where + ": expected shape " + shape_text(dims) + ", found rank " +
                     std::to_string(rank));
  std::vector<hsize_t> found(dims.size());
  H5Sget_simple_extent_dims(space.get(), found.data(), nullptr);
  if (found != dims)
    return DataError(where + ": expected shape " + shape_text(dims) + ", found " +
                     shape_text(found));
  size_t n = 1;
  for (hsize_t v : dims) n *= v;  // bounded by check_sizes
  out->resize(n);
  if (H5Dread(d.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out->data()) < 0)
    return DataError(where + ": cannot read the data (truncated or corrupt file)");
  return Status::Ok();
}

// Reads the model from the file `path`, or, when `image` is given, from those bytes (core driver,
// no backing store: `path` then only names it in errors). Runs inside the isolated child.
Status read_hdf5_in_process(const std::string& path, const std::string* image, Model* out) {
  Hdf5Guard guard;
  Hid fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (!fapl.ok()) return DataError(path + ": HDF5: cannot create a file access list");
  if (image != nullptr) {
    if (image->empty()) return DataError(path + ": expected an HDF5 file, found 0 bytes");
    if (H5Pset_fapl_core(fapl.get(), 1 << 20, 0) < 0 ||
        H5Pset_file_image(fapl.get(), const_cast<char*>(image->data()), image->size()) < 0)
      return DataError(path + ": HDF5: cannot set up the in-memory file");
  }
  const std::string open_name = image != nullptr ? "nnet-in-memory:" + path : path;
  Hid file(H5Fopen(open_name.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  if (!file.ok()) return DataError(path + ": not a readable HDF5 file (truncated or corrupt)");
  const hid_t root = file.get();
  std::string format;
  NNET_RETURN_IF_ERROR(read_string_attr(root, "format", path + ": /", false, &format));
  if (!format.empty() && format != "nnet-model")
    return DataError(path + ": / attribute format: expected \"nnet-model\", found \"" + format +
                     "\"");
  std::vector<long long> sizes;
  NNET_RETURN_IF_ERROR(read_sizes_attr(root, path + ": /", &sizes));
  Architecture arch;
  if (H5Aexists(root, "layers") > 0) {
    std::string spec;
    NNET_RETURN_IF_ERROR(read_string_attr(root, "layers", path + ": /", true, &spec));
    std::vector<long long> input;
    NNET_RETURN_IF_ERROR(read_int_list_attr(root, "input", path + ": /", 3, &input));
    NNET_RETURN_IF_ERROR(stack_from_spec(spec, input, path + ": / attribute layers",
                                         path + ": / attribute input", &arch, nullptr));
    if (std::vector<long long>(arch.sizes.begin(), arch.sizes.end()) != sizes)
      return DataError(path + ": / attribute sizes: expected " + json(arch.sizes).dump() +
                       " (what layers and input give), found " + json(sizes).dump());
  } else {
    NNET_RETURN_IF_ERROR(arch_from_sizes(sizes, path + ": / attribute sizes", &arch, nullptr));
  }
  const std::vector<WeightLayout> layouts = weight_layouts(arch);
  const size_t L = layouts.size();
  std::string cost;
  NNET_RETURN_IF_ERROR(read_string_attr(root, "cost", path + ": /", true, &cost));
  if (!parse_cost(cost, &arch.cost))
    return DataError(path + ": / attribute cost: expected quadratic, cross-entropy or " +
                     "log-likelihood, found \"" + cost + "\"");
  std::string init, training;
  NNET_RETURN_IF_ERROR(read_string_attr(root, "init", path + ": /", false, &init));
  Init init_value;
  if (!init.empty() && !parse_init(init, &init_value))
    return DataError(path + ": / attribute init: expected large, default, xavier, he or " +
                     "network3, found \"" + init + "\"");
  NNET_RETURN_IF_ERROR(read_string_attr(root, "training", path + ": /", false, &training));
  json training_json;
  if (!training.empty()) {
    training_json = json::parse(training, nullptr, false);
    if (training_json.is_discarded())
      return DataError(path + ": / attribute training: expected JSON text, found \"" +
                       training.substr(0, 40) + "\"");
  }
  NNET_RETURN_IF_ERROR(check_hard_link(root, "layers", path + ": /layers"));
  Hid layers(H5Gopen2(root, "layers", H5P_DEFAULT), H5Gclose);
  if (!layers.ok()) return DataError(path + ": /layers: expected a group");
  std::vector<std::vector<float>> weights(L), biases(L);
  for (size_t l = 0; l < L; ++l) {
    const std::string gname = std::to_string(l), gp = path + ": /layers/" + gname;
    NNET_RETURN_IF_ERROR(check_hard_link(layers.get(), gname, gp));
    Hid g(H5Gopen2(layers.get(), gname.c_str(), H5P_DEFAULT), H5Gclose);
    if (!g.ok()) return DataError(gp + ": expected a group");
    std::string act;
    NNET_RETURN_IF_ERROR(read_string_attr(g.get(), "activation", gp, false, &act));
    if (!act.empty() && !parse_activation(act, &arch.activations[l]))
      return DataError(gp + " attribute activation: expected sigmoid, tanh, relu, softmax or " +
                       "linear, found \"" + act + "\"");
    const std::vector<hsize_t> dims(layouts[l].dims.begin(), layouts[l].dims.end());
    NNET_RETURN_IF_ERROR(read_float_dataset(g.get(), "weight", gp + "/weight", dims, &weights[l]));
    NNET_RETURN_IF_ERROR(read_float_dataset(g.get(), "bias", gp + "/bias", {dims[0]}, &biases[l]));
  }
  if (!arch.layers.empty())
    NNET_RETURN_IF_ERROR(apply_stack_activations(&arch, [&](size_t l) {
      return path + ": /layers/" + std::to_string(l) + " attribute activation";
    }));
  NNET_RETURN_IF_ERROR(check_arch(arch, path));
  Network net(arch);
  for (size_t l = 0; l < L; ++l) {
    const int y = net.rows(l), x = net.cols(l);
    auto w = net.weight(l);  // (y, x)
    const std::vector<size_t>& dims = layouts[l].dims;
    for (int r = 0; r < y; ++r)
      for (int c = 0; c < x; ++c) {
        const float v = weights[l][static_cast<size_t>(r) * x + c];
        if (!std::isfinite(v)) {
          // The index as the dataset's shape has it: [r, c] or, for conv, [f, c, ky, kx].
          std::string at;
          size_t rest = static_cast<size_t>(r) * x + c;
          for (size_t d = dims.size(); d-- > 0;) {
            at = std::to_string(rest % dims[d]) + (at.empty() ? "" : ", ") + at;
            rest /= dims[d];
          }
          return DataError(path + ": /layers/" + std::to_string(l) + "/weight[" + at +
                           "]: expected a finite number, found " + std::to_string(v));
        }
        w(r, c) = v;
      }
    for (int r = 0; r < y; ++r) {
      if (!std::isfinite(biases[l][r]))
        return DataError(path + ": /layers/" + std::to_string(l) + "/bias[" + std::to_string(r) +
                         "]: expected a finite number, found " + std::to_string(biases[l][r]));
      net.bias(l)[r] = biases[l][r];
    }
  }
  out->net = std::move(net);
  out->init = init;
  out->training = training_json;
  return Status::Ok();
}

bool has_hdf5_signature(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char sig[8] = {0};
  f.read(sig, 8);
  return f.gcount() == 8 && std::memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0;
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
                   size_t* params = nullptr) {
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

}  // namespace

namespace internal {

// Wire format: see model_io_internal.h.
std::string encode_model(const Model& m) {
  nlohmann::ordered_json header;
  header["sizes"] = m.net.arch().sizes;
  if (!m.net.dense()) {
    const Shape& in = m.net.arch().input;
    header["layers"] = layers_to_string(m.net.arch().layers);
    header["input"] = {in.c, in.h, in.w};
  }
  header["cost"] = book_cost_name(m.net.arch().cost);
  header["nnet"] = nnet_block(m);
  const std::string text = header.dump();
  const uint64_t len = text.size();
  const std::vector<float>& p = m.net.params();
  std::string out(sizeof(len) + text.size() + p.size() * sizeof(float), '\0');
  std::memcpy(out.data(), &len, sizeof(len));
  std::memcpy(out.data() + sizeof(len), text.data(), text.size());
  if (!p.empty()) std::memcpy(out.data() + sizeof(len) + text.size(), p.data(), p.size() * 4);
  return out;
}

Status decode_model(const std::string& bytes, const std::string& name, Model* out) {
  uint64_t len = 0;
  if (bytes.size() < sizeof(len)) return DataError(name + ": HDF5 reader: short result");
  std::memcpy(&len, bytes.data(), sizeof(len));
  if (len > bytes.size() - sizeof(len))
    return DataError(name + ": HDF5 reader: header length " + std::to_string(len) +
                     " exceeds the result");
  const json j =
      json::parse(bytes.data() + sizeof(len), bytes.data() + sizeof(len) + len, nullptr, false);
  if (!j.is_object()) return DataError(name + ": HDF5 reader: header is not a JSON object");
  Architecture arch;
  Model m;
  size_t count = 0;
  NNET_RETURN_IF_ERROR(read_header(j, name, &arch, &m, &count));
  const size_t rest = bytes.size() - sizeof(len) - len;
  if (rest != count * sizeof(float))  // before allocating the network
    return DataError(name + ": HDF5 reader: expected " + std::to_string(count) +
                     " parameters, found " + std::to_string(rest) + " bytes");
  Network net(arch);
  std::vector<float>& p = net.params();
  if (p.size() != count) return Status::Error(Code::kSoftware, name + ": parameter layout changed");
  if (!p.empty()) std::memcpy(p.data(), bytes.data() + sizeof(len) + len, rest);
  for (size_t i = 0; i < p.size(); ++i)
    if (!std::isfinite(p[i]))
      return DataError(name + ": parameter " + std::to_string(i) +
                       ": expected a finite number, found " + std::to_string(p[i]));
  m.net = std::move(net);
  *out = std::move(m);
  return Status::Ok();
}

}  // namespace internal

namespace {

// libhdf5 trusts the sizes inside a file: a corrupt or hostile one can make it allocate and fill
// gigabytes (a variable-length string's length), spin, or crash. So it parses in a child process
// with bounded memory and time, and the parent checks what comes back as it would a file.
Status load_hdf5(const std::string& path, const std::string* image, Model* out) {
  size_t file_bytes = 0;
  if (image != nullptr) {
    file_bytes = image->size();
  } else {
    std::error_code ec;
    file_bytes = static_cast<size_t>(fs::file_size(path, ec));
    if (ec) return NoInput(path + ": cannot read: " + ec.message());
  }
  if (file_bytes > kMaxModelFileBytes)
    return DataError(path + ": model larger than " + std::to_string(kMaxModelFileBytes >> 30) +
                     " GiB");
  IsolationLimits limits;
  // The core driver holds up to two copies of the image, the reader one more as floats plus the
  // result; 256 MiB covers the library itself.
  limits.extra_memory_bytes = (size_t{256} << 20) + 6 * file_bytes;
  limits.seconds = 5 + static_cast<double>(file_bytes >> 24);  // + 1 s per 16 MiB
  limits.max_result_bytes = (size_t{64} << 20) + kMaxModelParams * sizeof(float);
  // Library-wide setup once, in the parent, so children inherit it (each child still sets up the
  // parts it touches: most of the ~13 ms a load costs, measured in docs/robustness.md).
  H5open();
  std::string result;
  NNET_RETURN_IF_ERROR(run_isolated(
      path + ": HDF5 reader", limits,
      [&](std::string* bytes) {
        Model m;
        NNET_RETURN_IF_ERROR(read_hdf5_in_process(path, image, &m));
        *bytes = internal::encode_model(m);
        return Status::Ok();
      },
      &result));
  return internal::decode_model(result, path, out);
}
}  // namespace

bool is_hdf5_path(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  return ext == ".h5" || ext == ".hdf5";
}

const char* book_cost_name(Cost cost) {
  return cost == Cost::kQuadratic ? "QuadraticCost" : "CrossEntropyCost";
}

std::string model_to_json(const Model& m) {
  const Network& net = m.net;
  const Architecture& arch = net.arch();
  std::string out;
  if (!net.dense()) {
    // docs/models.md: sizes (summary), layers, input, then weights and biases per weight layer.
    const Shape& in = arch.input;
    out.reserve(net.params().size() * 24 + 4096);
    out += "{\"sizes\": " + json(arch.sizes).dump() +
           ", \"layers\": " + json(layers_to_string(arch.layers)).dump() + ", \"input\": [" +
           std::to_string(in.c) + ", " + std::to_string(in.h) + ", " + std::to_string(in.w) +
           "], \"weights\": [";
    const std::vector<WeightLayout> layouts = weight_layouts(arch);
    for (int l = 0; l < net.layers(); ++l) {
      if (l) out += ", ";
      append_nested(out, net.weight(l), layouts[l].dims, 0, 0, product(layouts[l].dims));
    }
    out += "], \"biases\": [";
    for (int l = 0; l < net.layers(); ++l) {
      auto b = net.bias(l);
      out += l ? ", [" : "[";
      for (Eigen::Index r = 0; r < b.size(); ++r) {
        if (r) out += ", ";
        append_float(out, b[r]);
      }
      out += "]";
    }
    out += "], \"cost\": \"" + std::string(book_cost_name(arch.cost)) + "\"";
    out += ", \"nnet\": " + nnet_block(m).dump() + "}\n";
    return out;
  }
  out.reserve(net.params().size() * 24 + 4096);
  // network2.save's keys, in its order.
  out += "{\"sizes\": " + json(arch.sizes).dump() + ", \"weights\": [";
  for (int l = 0; l < net.layers(); ++l) {
    auto w = net.weight(l);  // (y, x)
    out += l ? ", [" : "[";
    for (int r = 0; r < w.rows(); ++r) {
      out += r ? ", [" : "[";
      for (int c = 0; c < w.cols(); ++c) {
        if (c) out += ", ";
        append_float(out, w(r, c));
      }
      out += "]";
    }
    out += "]";
  }
  out += "], \"biases\": [";
  for (int l = 0; l < net.layers(); ++l) {
    auto b = net.bias(l);  // (y)
    out += l ? ", [" : "[";
    for (int r = 0; r < b.size(); ++r) {
      out += r ? ", [" : "[";
      append_float(out, b[r]);
      out += "]";
    }
    out += "]";
  }
  out += "], \"cost\": \"" + std::string(book_cost_name(arch.cost)) + "\"";
  out += ", \"nnet\": " + nnet_block(m).dump() + "}\n";
  return out;
}

namespace {

// The parameters of a stack's JSON model (header already read into arch and m): every weight
// list checked against the layer spec before the network is allocated, then every number read.
Status stack_from_json(const json& j, const std::string& name, Architecture arch, Model m,
                       Model* out) {
  const std::vector<WeightLayout> layouts = weight_layouts(arch);
  const size_t L = layouts.size();
  const json& W = j["weights"];
  const json& B = j["biases"];
  NNET_RETURN_IF_ERROR(require_array(W, name + ": weights", L, "layers (conv/fc/softmax)"));
  NNET_RETURN_IF_ERROR(require_array(B, name + ": biases", L, "layers (conv/fc/softmax)"));
  for (size_t l = 0; l < L; ++l) {
    NNET_RETURN_IF_ERROR(check_nested(W[l], index_path(name + ": weights", l), layouts[l], 0));
    NNET_RETURN_IF_ERROR(require_array(B[l], index_path(name + ": biases", l), layouts[l].dims[0],
                                       "numbers (" + layouts[l].layer + ")"));
  }
  Network net(arch);
  std::vector<float> buf;
  for (size_t l = 0; l < L; ++l) {
    const int li = static_cast<int>(l);
    const size_t n = product(layouts[l].dims), cols = net.cols(li);
    buf.assign(n, 0.0f);
    NNET_RETURN_IF_ERROR(
        read_nested(W[l], index_path(name + ": weights", l), layouts[l].dims, 0, 0, n, buf.data()));
    auto w = net.weight(li);
    for (size_t k = 0; k < n; ++k)
      w(static_cast<Eigen::Index>(k / cols), static_cast<Eigen::Index>(k % cols)) = buf[k];
    auto b = net.bias(li);
    for (Eigen::Index r = 0; r < b.size(); ++r)
      NNET_RETURN_IF_ERROR(
          get_float(B[l][r], index_path(index_path(name + ": biases", l), r), &b[r]));
  }
  m.net = std::move(net);
  *out = std::move(m);
  return Status::Ok();
}

}  // namespace

Status model_from_json(const std::string& text, const std::string& name, Model* out) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    return parse_error(text, name, e.byte, e.what());
  } catch (const json::exception& e) {
    return DataError(name + ": not valid JSON: " + e.what());
  }
  if (!j.is_object())
    return DataError(name +
                     ": expected a JSON object with sizes, weights, biases and cost, found " +
                     describe(j));
  for (const char* key : {"sizes", "weights", "biases", "cost"})
    if (!j.contains(key))
      return DataError(name + ": " + key +
                       ": missing (a network2 model has sizes, weights, biases and cost)");
  Architecture arch;
  Model m;
  NNET_RETURN_IF_ERROR(read_header(j, name, &arch, &m));
  if (!arch.layers.empty()) return stack_from_json(j, name, std::move(arch), std::move(m), out);
  const size_t L = arch.sizes.size() - 1;
  NNET_RETURN_IF_ERROR(check_shapes(j, arch.sizes, name));
  Network net(arch);
  const json& W = j["weights"];
  const json& B = j["biases"];
  for (size_t l = 0; l < L; ++l) {
    auto w = net.weight(static_cast<int>(l));  // (y, x)
    auto b = net.bias(static_cast<int>(l));    // (y)
    const std::string wp = index_path(name + ": weights", l);
    const std::string bp = index_path(name + ": biases", l);
    for (Eigen::Index r = 0; r < w.rows(); ++r) {
      for (Eigen::Index c = 0; c < w.cols(); ++c)
        NNET_RETURN_IF_ERROR(get_float(W[l][r][c], index_path(index_path(wp, r), c), &w(r, c)));
      NNET_RETURN_IF_ERROR(get_float(B[l][r][0], index_path(index_path(bp, r), 0), &b[r]));
    }
  }
  m.net = std::move(net);
  *out = std::move(m);
  return Status::Ok();
}

Status model_from_hdf5(const std::string& bytes, const std::string& name, Model* out) {
  return load_hdf5(name, &bytes, out);
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

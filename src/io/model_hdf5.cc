// Model files as HDF5: written here, read by libhdf5 in a child process with capped memory and
// time (isolate.h), whose answer is checked like a file (model_io_internal.h).
#include "nnet/model_io.h"

#include <hdf5.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <vector>

#include "io/isolate.h"
#include "io/model_io_internal.h"
#include "nn/layer_table.h"
#include "nnet/data.h"
#include "nnet/fileio.h"

#include "io/model_file.h"

namespace fs = std::filesystem;

namespace nnet {

namespace model_file {

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
  const int version = net.dense() ? kDenseModelFormatVersion : kModelFormatVersion;
  bool ok = write_string_attr(root, "format", "nnet-model") &&
            write_int_attr(root, "format_version", {version}, true) &&
            write_int_attr(root, "sizes", arch.sizes, false) &&
            write_string_attr(root, "cost", name(arch.cost)) &&
            write_string_attr(root, "book_cost", book_cost_name(arch.cost)) &&
            write_string_attr(root, "init", m.init) &&
            write_string_attr(root, "training", json_of(m.training).dump());
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
  Value training_value;
  if (!training.empty()) {
    const json training_json = json::parse(training, nullptr, false);
    if (training_json.is_discarded())
      return DataError(path + ": / attribute training: expected JSON text, found \"" +
                       training.substr(0, 40) + "\"");
    if (!value_of(training_json, &training_value))
      return DataError(path + ": / attribute training: expected at most " +
                       std::to_string(kMaxValueDepth) + " levels of nesting");
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
  out->training = std::move(training_value);
  return Status::Ok();
}

bool has_hdf5_signature(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char sig[8] = {0};
  f.read(sig, 8);
  return f.gcount() == 8 && std::memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0;
}


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
}  // namespace model_file

using namespace model_file;

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

bool is_hdf5_path(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  return ext == ".h5" || ext == ".hdf5";
}

Status model_from_hdf5(const std::string& bytes, const std::string& name, Model* out) {
  return load_hdf5(name, &bytes, out);
}

}  // namespace nnet

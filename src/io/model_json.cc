// Model files as JSON: the book's network2.save layout plus nnet's keys (docs/models.md).
#include "nnet/model_io.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <vector>

#include "nn/layer_table.h"

#include "io/model_file.h"

namespace fs = std::filesystem;

namespace nnet {

namespace model_file {

namespace {

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

}  // namespace

}  // namespace model_file

using namespace model_file;

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

}  // namespace nnet

// Parsing, printing and shape-checking of layer stacks (layers.h).
#include "nnet/layers.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "nnet/network.h"

namespace nnet {

namespace {

// Caps that keep a hostile --layers from asking for absurd allocations.
constexpr int kMaxUnits = 1000000;
constexpr int kMaxKernel = 1024;
constexpr long long kMaxLayerSize = 1LL << 26;  // activations per sample in one layer
constexpr long long kMaxLayerWeights = static_cast<long long>(kMaxParams);  // a net's own cap

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : s) {
    if (ch == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  out.push_back(cur);
  return out;
}

bool parse_int(const std::string& s, int lo, int hi, int* out) {
  if (s.empty() || s.size() > 9) return false;
  for (char ch : s)
    if (ch < '0' || ch > '9') return false;
  const long v = std::strtol(s.c_str(), nullptr, 10);
  if (v < lo || v > hi) return false;
  *out = static_cast<int>(v);
  return true;
}

bool parse_probability(const std::string& s, double* out) {
  if (s.empty() || s.size() > 32) return false;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !(v >= 0 && v < 1)) return false;
  *out = v;
  return true;
}

std::string shape_string(const Shape& s) {
  return std::to_string(s.c) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w);
}

}  // namespace

Status parse_layers(const std::string& spec, const std::vector<Activation>& activations,
                    std::vector<LayerSpec>* out) {
  out->clear();
  if (spec.empty())
    return UsageError("layers: expected a list like conv:20:5,fc:100,softmax:10, found \"\"");
  const std::vector<std::string> items = split(spec, ',');
  if (items.size() > 1000)
    return UsageError("layers: expected at most 1000 layers, found " +
                      std::to_string(items.size()));
  std::vector<LayerSpec> layers;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string& item = items[i];
    const std::vector<std::string> f = split(item, ':');
    auto bad = [&](const std::string& expected) {
      return UsageError("layers: item " + std::to_string(i + 1) + " \"" + item + "\": expected " +
                        expected + ", found \"" + item + "\"");
    };
    LayerSpec l;
    const std::string& kind = f[0];
    if (kind == "conv") {
      l.kind = LayerKind::kConv;
      if (f.size() < 3 || f.size() > 5 || !parse_int(f[1], 1, kMaxUnits, &l.units) ||
          !parse_int(f[2], 1, kMaxKernel, &l.kernel) ||
          (f.size() > 3 && !parse_int(f[3], 1, kMaxKernel, &l.stride)) ||
          (f.size() > 4 && !parse_int(f[4], 0, kMaxKernel, &l.pad)))
        return bad(
            "conv:F:K[:S[:P]] with filters F >= 1, kernel K >= 1, stride S >= 1, pad P >= 0");
    } else if (kind == "maxpool" || kind == "avgpool") {
      l.kind = kind == "maxpool" ? LayerKind::kMaxPool : LayerKind::kAvgPool;
      if (f.size() != 2 || !parse_int(f[1], 1, kMaxKernel, &l.kernel))
        return bad(kind + ":P with pool size P >= 1");
    } else if (kind == "fc" || kind == "softmax") {
      l.kind = kind == "fc" ? LayerKind::kFullyConnected : LayerKind::kSoftmax;
      if (f.size() != 2 || !parse_int(f[1], 1, kMaxUnits, &l.units))
        return bad(kind + ":N with N >= 1 neurons");
      if (l.kind == LayerKind::kSoftmax) l.activation = Activation::kSoftmax;
    } else if (kind == "dropout") {
      l.kind = LayerKind::kDropout;
      if (f.size() < 2 || f.size() > 3 || !parse_probability(f[1], &l.drop) ||
          (f.size() == 3 && f[2] != "inverted"))
        return bad("dropout:P[:inverted] with a probability P in [0, 1)");
      l.inverted = f.size() == 3;
    } else {
      return bad("conv:F:K, maxpool:P, avgpool:P, fc:N, softmax:N or dropout:P");
    }
    layers.push_back(l);
  }
  // Activations: one for every conv/fc layer, or one per conv/fc layer in order.
  size_t hidden = 0;
  for (const LayerSpec& l : layers)
    hidden += (l.kind == LayerKind::kConv || l.kind == LayerKind::kFullyConnected);
  if (!activations.empty() && activations.size() != 1 && activations.size() != hidden)
    return UsageError("activation: expected 1 name or " + std::to_string(hidden) +
                      " (one per conv/fc layer), found " + std::to_string(activations.size()));
  for (Activation a : activations)
    if (a == Activation::kSoftmax)
      return UsageError(
          "activation: softmax is a layer (softmax:N) of the stack, found softmax as a conv/fc "
          "activation");
  size_t k = 0;
  for (LayerSpec& l : layers) {
    if (l.kind != LayerKind::kConv && l.kind != LayerKind::kFullyConnected) continue;
    // network3's default activation is the sigmoid.
    l.activation = activations.empty()       ? Activation::kSigmoid
                   : activations.size() == 1 ? activations[0]
                                             : activations[k];
    ++k;
  }
  *out = std::move(layers);
  return Status::Ok();
}

bool has_weights(LayerKind kind) {
  return kind == LayerKind::kConv || kind == LayerKind::kFullyConnected ||
         kind == LayerKind::kSoftmax;
}

std::string layers_to_string(const std::vector<LayerSpec>& layers) {
  std::ostringstream s;
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerSpec& l = layers[i];
    if (i) s << ',';
    switch (l.kind) {
      case LayerKind::kConv:
        s << "conv:" << l.units << ':' << l.kernel;
        if (l.stride != 1 || l.pad != 0) s << ':' << l.stride;
        if (l.pad != 0) s << ':' << l.pad;
        break;
      case LayerKind::kMaxPool:
        s << "maxpool:" << l.kernel;
        break;
      case LayerKind::kAvgPool:
        s << "avgpool:" << l.kernel;
        break;
      case LayerKind::kFullyConnected:
        s << "fc:" << l.units;
        break;
      case LayerKind::kSoftmax:
        s << "softmax:" << l.units;
        break;
      case LayerKind::kDropout: {
        // Shortest text that reads back to the same double.
        char buf[32];
        for (int prec = 1; prec <= 17; ++prec) {
          std::snprintf(buf, sizeof buf, "%.*g", prec, l.drop);
          if (std::strtod(buf, nullptr) == l.drop) break;
        }
        s << "dropout:" << buf;
        if (l.inverted) s << ":inverted";
        break;
      }
    }
  }
  return s.str();
}

Status layer_shapes(const Shape& input, const std::vector<LayerSpec>& layers, int num_classes,
                    std::vector<Shape>* out) {
  out->clear();
  if (layers.empty()) return UsageError("layers: expected at least 1 layer, found none");
  if (input.c < 1 || input.h < 1 || input.w < 1 || input.size() > kMaxLayerSize)
    return UsageError("layers: input shape " + shape_string(input) +
                      " must have every dimension >= 1");
  std::vector<Shape> shapes;
  Shape in = input;
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerSpec& l = layers[i];
    const std::string where = "layers: layer " + std::to_string(i + 1) + " \"" +
                              layers_to_string({l}) + "\" on input " + shape_string(in);
    Shape o = in;
    switch (l.kind) {
      case LayerKind::kConv: {
        if (l.units < 1 || l.kernel < 1 || l.stride < 1 || l.pad < 0)
          return UsageError(where + ": expected filters, kernel, stride >= 1 and pad >= 0");
        const int ph = in.h + 2 * l.pad, pw = in.w + 2 * l.pad;
        if (l.kernel > ph || l.kernel > pw)
          return UsageError(where + ": kernel " + std::to_string(l.kernel) +
                            " is larger than its padded input " + std::to_string(ph) + "x" +
                            std::to_string(pw));
        o = Shape{l.units, (ph - l.kernel) / l.stride + 1, (pw - l.kernel) / l.stride + 1};
        const long long patch = static_cast<long long>(in.c) * l.kernel * l.kernel;
        if (patch * l.units > kMaxLayerWeights)
          return UsageError(where + ": expected at most " + std::to_string(kMaxLayerWeights) +
                            " weights, found " + std::to_string(patch * l.units));
        break;
      }
      case LayerKind::kMaxPool:
      case LayerKind::kAvgPool:
        if (l.kernel < 1 || in.h % l.kernel != 0 || in.w % l.kernel != 0)
          return UsageError(where + ": pool size " + std::to_string(l.kernel) +
                            " must divide the input's height " + std::to_string(in.h) +
                            " and width " + std::to_string(in.w));
        o = Shape{in.c, in.h / l.kernel, in.w / l.kernel};
        break;
      case LayerKind::kFullyConnected:
      case LayerKind::kSoftmax:
        if (l.units < 1) return UsageError(where + ": expected >= 1 neurons");
        if (static_cast<long long>(in.size()) * l.units > kMaxLayerWeights)
          return UsageError(where + ": expected at most " + std::to_string(kMaxLayerWeights) +
                            " weights, found " +
                            std::to_string(static_cast<long long>(in.size()) * l.units));
        if (l.kind == LayerKind::kSoftmax && i + 1 != layers.size())
          return UsageError(where + ": softmax must be the last layer, found it at layer " +
                            std::to_string(i + 1) + " of " + std::to_string(layers.size()));
        o = Shape{l.units, 1, 1};
        break;
      case LayerKind::kDropout:
        if (!(l.drop >= 0 && l.drop < 1))
          return UsageError(where + ": expected a probability in [0, 1)");
        if (i + 1 == layers.size())
          return UsageError(where + ": dropout acts on the next layer's input, found it last");
        break;
    }
    if (static_cast<long long>(o.c) * o.h * o.w > kMaxLayerSize)
      return UsageError(where + ": output " + shape_string(o) + " exceeds " +
                        std::to_string(kMaxLayerSize) + " values");
    shapes.push_back(o);
    in = o;
  }
  const LayerSpec& last = layers.back();
  if (last.kind != LayerKind::kFullyConnected && last.kind != LayerKind::kSoftmax)
    return UsageError("layers: the last layer must be fc:N or softmax:N, found \"" +
                      layers_to_string({last}) + "\"");
  if (last.units < num_classes)
    return UsageError("layers: the last layer must have at least " + std::to_string(num_classes) +
                      " neurons (one per class), found " + std::to_string(last.units));
  *out = std::move(shapes);
  return Status::Ok();
}

}  // namespace nnet

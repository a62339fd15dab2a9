#include "nnet/network.h"

#include <cassert>
#include <cmath>
#include <string>

#include "nn/conv.h"
#include "nn/kernels.h"
#include "nn/layer_table.h"
#include "nn/ordered_sum.h"
#include "nn/workspace.h"
#include "nnet/pyrandom.h"

namespace nnet {

namespace {

struct Named {
  const char* name;
  int value;
};
constexpr Named kActivations[] = {{"sigmoid", static_cast<int>(Activation::kSigmoid)},
                                  {"tanh", static_cast<int>(Activation::kTanh)},
                                  {"relu", static_cast<int>(Activation::kRelu)},
                                  {"softmax", static_cast<int>(Activation::kSoftmax)},
                                  {"linear", static_cast<int>(Activation::kLinear)}};
constexpr Named kCosts[] = {{"quadratic", static_cast<int>(Cost::kQuadratic)},
                            {"cross-entropy", static_cast<int>(Cost::kCrossEntropy)},
                            {"log-likelihood", static_cast<int>(Cost::kLogLikelihood)}};
constexpr Named kInits[] = {{"large", static_cast<int>(Init::kLarge)},
                            {"default", static_cast<int>(Init::kDefault)},
                            {"xavier", static_cast<int>(Init::kXavier)},
                            {"he", static_cast<int>(Init::kHe)},
                            {"network3", static_cast<int>(Init::kNetwork3)}};

template <class E, size_t N>
const char* lookup_name(const Named (&table)[N], E value) {
  for (const Named& n : table)
    if (n.value == static_cast<int>(value)) return n.name;
  return "?";
}

template <class E, size_t N>
bool lookup_value(const Named (&table)[N], const std::string& s, E* out) {
  for (const Named& n : table)
    if (s == n.name) {
      *out = static_cast<E>(n.value);
      return true;
    }
  return false;
}

// Applies the activation in place to the first m columns of z, writing a.
template <class T>
void activate(Activation act, const Eigen::Ref<const MatrixT<T>>& z, Eigen::Ref<MatrixT<T>> a) {
  switch (act) {
    case Activation::kSigmoid:
      // exp(-z) overflows to inf for very negative z, giving exactly 0: no NaN.
      a = (T(1) + (-z.array()).exp()).inverse().matrix();
      break;
    case Activation::kTanh:
      a = z.array().tanh().matrix();
      break;
    case Activation::kRelu:
      a = z.array().max(T(0)).matrix();
      break;
    case Activation::kLinear:
      a = z;
      break;
    case Activation::kSoftmax:
      // Subtract the column max first so exp never overflows (log-sum-exp trick).
      for (Eigen::Index j = 0; j < z.cols(); ++j) {
        const T mx = z.col(j).maxCoeff();
        a.col(j) = (z.col(j).array() - mx).exp().matrix();
        a.col(j) /= ordered_sum(a.col(j));
      }
      break;
  }
}

// d *= (z > 0 ? 1 : 0), column by column over raw pointers (Eigen's bool-to-T cast does not
// vectorize; this loop does, with the same products).
template <class T>
void relu_derivative(const Eigen::Ref<const MatrixT<T>>& z, Eigen::Ref<MatrixT<T>> d) {
  const Eigen::Index rows = d.rows();
  for (Eigen::Index j = 0; j < d.cols(); ++j) {
    const T* zj = z.data() + j * z.outerStride();
    T* dj = d.data() + j * d.outerStride();
    for (Eigen::Index i = 0; i < rows; ++i) dj[i] *= zj[i] > T(0) ? T(1) : T(0);
  }
}

// Multiplies d in place by the activation's derivative, expressed through z and a.
template <class T>
void times_derivative(Activation act, const Eigen::Ref<const MatrixT<T>>& z,
                      const Eigen::Ref<const MatrixT<T>>& a, Eigen::Ref<MatrixT<T>> d) {
  switch (act) {
    case Activation::kSigmoid:
      d.array() *= a.array() * (T(1) - a.array());
      break;
    case Activation::kTanh:
      d.array() *= T(1) - a.array().square();
      break;
    case Activation::kRelu:
      relu_derivative(z, d);
      break;
    case Activation::kLinear:
    case Activation::kSoftmax:  // only ever paired with log-likelihood: handled by the caller
      break;
  }
}

// As times_derivative, recomputing the activation from z (for dropout, where a is masked).
template <class T>
void times_derivative_from_z(Activation act, const Eigen::Ref<const MatrixT<T>>& z,
                             Eigen::Ref<MatrixT<T>> d) {
  switch (act) {
    case Activation::kSigmoid: {
      auto s = (T(1) + (-z.array()).exp()).inverse();
      d.array() *= s * (T(1) - s);
      break;
    }
    case Activation::kTanh:
      d.array() *= T(1) - z.array().tanh().square();
      break;
    case Activation::kRelu:
      d.array() *= (z.array() > T(0)).template cast<T>();
      break;
    case Activation::kLinear:
    case Activation::kSoftmax:
      break;
  }
}

}  // namespace

const char* name(Activation a) { return lookup_name(kActivations, a); }
const char* name(Cost c) { return lookup_name(kCosts, c); }
const char* name(Init i) { return lookup_name(kInits, i); }
bool parse_activation(const std::string& s, Activation* out) {
  return lookup_value(kActivations, s, out);
}
bool parse_cost(const std::string& s, Cost* out) { return lookup_value(kCosts, s, out); }
bool parse_init(const std::string& s, Init* out) { return lookup_value(kInits, s, out); }

Architecture sigmoid_architecture(std::vector<int> sizes, Cost cost) {
  Architecture arch;
  arch.activations.assign(sizes.size() > 1 ? sizes.size() - 1 : 0, Activation::kSigmoid);
  arch.sizes = std::move(sizes);
  arch.cost = cost;
  return arch;
}

namespace {

// validate() for a layer stack: shapes, then the cost against the last layer.
Status validate_stack(const Architecture& arch, int input_pixels, int num_classes) {
  if (arch.input.size() != input_pixels)
    return UsageError("layers: input shape " + std::to_string(arch.input.c) + "x" +
                      std::to_string(arch.input.h) + "x" + std::to_string(arch.input.w) +
                      " must match the image size " + std::to_string(input_pixels));
  std::vector<Shape> shapes;
  NNET_RETURN_IF_ERROR(layer_shapes(arch.input, arch.layers, num_classes, &shapes));
  for (const LayerSpec& l : arch.layers)
    if ((l.kind == LayerKind::kConv || l.kind == LayerKind::kFullyConnected) &&
        l.activation == Activation::kSoftmax)
      return UsageError("activation: softmax is a layer (softmax:N), not a conv/fc activation");
  const LayerSpec& last = arch.layers.back();
  const bool softmax_out = last.kind == LayerKind::kSoftmax;
  if (softmax_out != (arch.cost == Cost::kLogLikelihood))
    return UsageError(std::string("cost: log-likelihood goes with a softmax output layer, "
                                  "found cost ") +
                      name(arch.cost) + " with last layer " + layers_to_string({last}));
  if (arch.cost == Cost::kCrossEntropy && last.activation != Activation::kSigmoid)
    return UsageError(std::string("cost: cross-entropy needs a sigmoid output layer, found ") +
                      name(last.activation));
  return Status::Ok();
}

}  // namespace

bool has_dropout(const Architecture& arch) {
  for (const LayerSpec& l : arch.layers)
    if (l.kind == LayerKind::kDropout) return true;
  return false;
}

std::string spelled_layers(const Architecture& arch) {
  return arch.dense || arch.layers.empty() ? std::string() : layers_to_string(arch.layers);
}

bool has_in_place_dropout(const Architecture& arch) {
  for (const LayerSpec& l : arch.layers)
    if (l.in_place_dropout) return true;
  return false;
}

namespace {

// A --sizes net as its stack: fc:N per weight layer, softmax:N for a softmax output.
void dense_to_stack(Architecture* arch) {
  const int n = arch->sizes.empty() ? 0 : arch->sizes.front();
  const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(n))));
  arch->input = side * side == n ? Shape{1, side, side} : Shape{n, 1, 1};
  for (size_t l = 0; l + 1 < arch->sizes.size(); ++l) {
    LayerSpec s;
    const Activation act = l < arch->activations.size() ? arch->activations[l] : Activation{};
    s.kind = act == Activation::kSoftmax ? LayerKind::kSoftmax : LayerKind::kFullyConnected;
    s.units = arch->sizes[l + 1];
    s.activation = act;
    s.in_place_dropout = l + 2 < arch->sizes.size();  // every hidden layer
    arch->layers.push_back(s);
  }
  arch->dense = true;
  arch->numerics = Architecture::Numerics::kFusedFc;
}

}  // namespace

LayerTable make_layer_table(Architecture* arch) {
  if (arch->layers.empty()) dense_to_stack(arch);
  LayerTable t;
  const Status s = layer_shapes(arch->input, arch->layers, 0, &t.shapes);
  assert(s.ok());
  (void)s;
  arch->sizes.assign(1, arch->input.size());
  arch->activations.clear();
  Shape in = arch->input;
  for (size_t i = 0; i < arch->layers.size(); ++i) {
    const LayerSpec& l = arch->layers[i];
    int rows = 0, cols = 0;
    switch (l.kind) {
      case LayerKind::kConv:
        rows = l.units;
        cols = in.c * l.kernel * l.kernel;
        break;
      case LayerKind::kFullyConnected:
      case LayerKind::kSoftmax:
        rows = l.units;
        cols = in.size();
        break;
      default:
        break;
    }
    if (rows > 0) {
      t.weight_index.push_back(static_cast<int>(t.rows.size()));
      t.stack_index.push_back(static_cast<int>(i));
      t.rows.push_back(rows);
      t.cols.push_back(cols);
      arch->sizes.push_back(t.shapes[i].size());
      arch->activations.push_back(l.kind == LayerKind::kSoftmax ? Activation::kSoftmax
                                                                : l.activation);
    } else {
      t.weight_index.push_back(-1);
    }
    in = t.shapes[i];
  }
  return t;
}

namespace {

Status validate_dense(const Architecture& arch, int input_pixels, int num_classes) {
  const auto& s = arch.sizes;
  if (s.size() < 2)
    return UsageError("sizes: expected at least 2 layers (e.g. 784,30,10), found " +
                      std::to_string(s.size()));
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] <= 0 || s[i] > 1000000)
      return UsageError("sizes: layer " + std::to_string(i) +
                        " expected 1..1000000 neurons, found " + std::to_string(s[i]));
  if (s.front() != input_pixels)
    return UsageError("sizes: first layer must equal the image size " +
                      std::to_string(input_pixels) + ", found " + std::to_string(s.front()));
  if (s.back() < num_classes)
    return UsageError("sizes: last layer must have at least " + std::to_string(num_classes) +
                      " neurons (one per class), found " + std::to_string(s.back()));
  if (arch.activations.size() != s.size() - 1)
    return UsageError("activation: expected " + std::to_string(s.size() - 1) +
                      " activations (one per layer after the input), found " +
                      std::to_string(arch.activations.size()));
  for (size_t l = 0; l + 1 < arch.activations.size(); ++l)
    if (arch.activations[l] == Activation::kSoftmax)
      return UsageError("activation: softmax is only allowed on the output layer");
  const bool softmax_out = arch.activations.back() == Activation::kSoftmax;
  if (softmax_out != (arch.cost == Cost::kLogLikelihood))
    return UsageError(
        std::string("cost: log-likelihood goes with a softmax output layer, found cost ") +
        name(arch.cost) + " with output " + name(arch.activations.back()));
  if (arch.cost == Cost::kCrossEntropy && arch.activations.back() != Activation::kSigmoid)
    return UsageError(std::string("cost: cross-entropy needs a sigmoid output layer, found ") +
                      name(arch.activations.back()));
  // The same limits on every layer as a stack's (layer_shapes), spelled for --sizes.
  Architecture stack = arch;
  stack.layers.clear();
  dense_to_stack(&stack);
  std::vector<Shape> shapes;
  if (Status st = layer_shapes(stack.input, stack.layers, num_classes, &shapes); !st.ok())
    return UsageError("sizes: " + st.message().substr(st.message().find(": ") + 2));
  return Status::Ok();
}

}  // namespace

Status validate(const Architecture& arch, int input_pixels, int num_classes) {
  NNET_RETURN_IF_ERROR(arch.dense || arch.layers.empty()
                           ? validate_dense(arch, input_pixels, num_classes)
                           : validate_stack(arch, input_pixels, num_classes));
  int weight_layers = 0;
  for (const LayerSpec& l : arch.layers) weight_layers += has_weights(l.kind);
  if (arch.layers.empty()) weight_layers = static_cast<int>(arch.sizes.size()) - 1;
  const std::string flag = arch.dense || arch.layers.empty() ? "sizes" : "layers";
  if (weight_layers > kMaxWeightLayers)
    return UsageError(flag + ": expected at most " + std::to_string(kMaxWeightLayers) +
                      " conv/fc/softmax layers, found " + std::to_string(weight_layers));
  Architecture a = arch;
  const LayerTable t = make_layer_table(&a);  // shapes only: allocates no parameters
  size_t params = 0;
  for (size_t l = 0; l < t.rows.size(); ++l)
    params += static_cast<size_t>(t.rows[l]) * (static_cast<size_t>(t.cols[l]) + 1);
  if (params > kMaxParams)
    return UsageError(flag + ": expected at most " + std::to_string(kMaxParams) +
                      " parameters, found " + std::to_string(params));
  return Status::Ok();
}

namespace {

// network3.py's initialisation, layer by layer in stack order (see init_params' contract).
template <class T>
void init_network3(NetworkT<T>& net, NumpyRandom& rng) {
  for (int l = 0; l < net.layers(); ++l) {
    auto w = net.weight(l);  // (rows, cols)
    auto b = net.bias(l);    // (rows)
    const int i = net.stack_layer(l);
    if (net.spec(i).kind == LayerKind::kSoftmax) {
      w.setZero();
      b.setZero();
      continue;
    }
    if (net.spec(i).kind == LayerKind::kConv) {
      const LayerSpec& s = net.spec(i);
      const int F = s.units, K = s.kernel, C = net.input_shape(i).c;
      int P = 1;
      if (i + 1 < net.stack_size() && (net.spec(i + 1).kind == LayerKind::kMaxPool ||
                                       net.spec(i + 1).kind == LayerKind::kAvgPool))
        P = net.spec(i + 1).kernel;
      const double scale = std::sqrt(1.0 / (static_cast<double>(F) * K * K / (P * P)));
      // numpy fills (F, C, K, K) row-major; theano's conv2d flips kernels, nnet does not.
      for (int f = 0; f < F; ++f)
        for (int c = 0; c < C; ++c)
          for (int ky = 0; ky < K; ++ky)
            for (int kx = 0; kx < K; ++kx)
              w(f, (c * K + (K - 1 - ky)) * K + (K - 1 - kx)) = static_cast<T>(rng.randn() * scale);
    } else {
      // Drawn as (n_in, n_out) row-major: column-major (n_out, n_in) order.
      const double scale = std::sqrt(1.0 / static_cast<double>(w.rows()));
      for (Eigen::Index k = 0; k < w.cols(); ++k)
        for (Eigen::Index j = 0; j < w.rows(); ++j) w(j, k) = static_cast<T>(rng.randn() * scale);
    }
    for (Eigen::Index j = 0; j < b.size(); ++j) b[j] = static_cast<T>(rng.randn());
  }
}

}  // namespace

template <class T>
void init_params(NetworkT<T>& net, Init init, uint32_t seed) {
  NumpyRandom rng(seed);
  if (init == Init::kNetwork3) {
    init_network3(net, rng);
    return;
  }
  // The book draws all biases first, then all weights; randn(y, x) fills row-major.
  for (int l = 0; l < net.layers(); ++l) {
    auto b = net.bias(l);  // (y)
    for (int j = 0; j < b.size(); ++j) b[j] = static_cast<T>(rng.randn());
  }
  for (int l = 0; l < net.layers(); ++l) {
    auto w = net.weight(l);  // (y, x)
    const double n_in = w.cols(), n_out = w.rows();
    double scale = 1.0;
    switch (init) {
      case Init::kLarge:
        scale = 1.0;
        break;
      case Init::kDefault:
        scale = 1.0 / std::sqrt(n_in);
        break;
      case Init::kXavier:
        scale = std::sqrt(2.0 / (n_in + n_out));
        break;
      case Init::kHe:
        scale = std::sqrt(2.0 / n_in);
        break;
      case Init::kNetwork3:
        break;
    }
    for (Eigen::Index j = 0; j < w.rows(); ++j)
      for (Eigen::Index k = 0; k < w.cols(); ++k) w(j, k) = static_cast<T>(rng.randn() * scale);
  }
}

template <class T>
WorkspaceT<T> make_workspace(const NetworkT<T>& net, int max_batch) {
  WorkspaceT<T> ws;
  ws.max_batch = max_batch;
  for (int i = 0; i < net.stack_size(); ++i) {
    const int size = net.shape(i).size();
    const LayerKind k = net.spec(i).kind;
    const bool masked = k == LayerKind::kDropout || drops_in_place(net, i);
    ws.z.emplace_back(net.weight_layer(i) >= 0 ? size : 0, max_batch);  // (size, max_batch)
    ws.a.emplace_back(size, max_batch);                                 // (size, max_batch)
    ws.delta.emplace_back(size, max_batch);                             // (size, max_batch)
    ws.mask.emplace_back(masked ? size : 0, max_batch);
    ws.argmax.emplace_back(k == LayerKind::kMaxPool ? static_cast<size_t>(size) * max_batch : 0);
  }
  ws.cols.resize(static_cast<size_t>(max_batch));
  return ws;
}

// ---- One forward/backward pair per layer kind. ----
namespace {

// Whether the AVX-512 fused kernels run this net's fc layers: in float, where the build and CPU
// have them (kernels.h), for a net whose numerics are theirs (Architecture::Numerics).
template <class T>
bool fused_fc(const NetworkT<T>& net) {
  if constexpr (std::is_same_v<T, float>)
    return net.arch().numerics == Architecture::Numerics::kFusedFc && kernels::available();
  else
    return false;
}

// A layer's input: (in_size, m) with leading dimension ld, and/or its m column pointers (the fused
// kernels read columns where they lie: a mini-batch's images are never gathered).
template <class T>
struct Input {
  const T* data = nullptr;
  int ld = 0;
  const T* const* cols = nullptr;
};

template <class T>
using ConstStrided = Eigen::Map<const MatrixT<T>, 0, Eigen::OuterStride<>>;

template <class T>
Input<T> stack_input(const WorkspaceT<T>& ws, const Input<T>& x, int i) {
  if (i == 0) return x;
  return {ws.a[i - 1].data(), static_cast<int>(ws.a[i - 1].rows()), nullptr};
}

// The input's column pointers, from the input itself or laid out in ws.cols.
template <class T>
const T* const* input_columns(const Input<T>& x, int m, WorkspaceT<T>& ws) {
  if (x.cols) return x.cols;
  for (int j = 0; j < m; ++j) ws.cols[j] = x.data + static_cast<size_t>(j) * x.ld;
  return ws.cols.data();
}

template <class T>
conv::Geometry geometry(const NetworkT<T>& net, int i) {
  const Shape& in = net.input_shape(i);
  const LayerSpec& s = net.spec(i);
  conv::Geometry g;
  g.c = in.c;
  g.h = in.h;
  g.w = in.w;
  g.filters = s.units;
  g.k = s.kernel;
  g.stride = s.stride;
  g.pad = s.pad;
  return g;
}

// f(j) for each sample j < m of a per-sample pass over `rows` values a sample, on the conv
// kernels' threads (a column at a time is what Eigen does over a block anyway: same bits).
template <class T, class F>
void each_sample(const WorkspaceT<T>& ws, int m, int rows, F&& f) {
  conv::parallel_for(m, ws.threads, static_cast<size_t>(rows) * m, f);
}

// d (dC/da of weight layer i on entry) becomes dC/dz: times the activation's derivative, and
// first times the layer's own in-place dropout mask when it has one (its a holds act(z) * mask,
// so the derivative is taken from z). Per sample, so a conv layer's large block is shared out.
template <class T>
void to_dz(const NetworkT<T>& net, int i, int m, WorkspaceT<T>& ws, bool dropout_masks) {
  const Activation act = net.arch().activations[net.weight_layer(i)];
  const bool masked = dropout_masks && drops_in_place(net, i);
  each_sample(ws, m, static_cast<int>(ws.delta[i].rows()), [&](int j) {
    auto d = ws.delta[i].col(j);
    if (masked) {
      d.array() *= ws.mask[i].col(j).array();
      times_derivative_from_z<T>(act, ws.z[i].col(j), d);
    } else {
      times_derivative<T>(act, ws.z[i].col(j), ws.a[i].col(j), d);
    }
  });
}

template <class T>
void conv_forward(const NetworkT<T>& net, int i, Input<T> x, int m, WorkspaceT<T>& ws) {
  const int l = net.weight_layer(i);
  const T* p = net.params().data();
  MatrixT<T>& z = ws.z[i];  // (F*oh*ow, max_batch)
  conv::forward<T>(geometry(net, i), p + net.weight_offset(l), p + net.bias_offset(l), x.data, x.ld,
                   m, z.data(), static_cast<int>(z.rows()), ws.threads);
  each_sample(ws, m, static_cast<int>(z.rows()), [&](int j) {
    activate<T>(net.spec(i).activation, z.col(j), ws.a[i].col(j));
  });
}

// ws.delta[i] holds dC/dz; dC/d(input) goes to ws.delta[i-1].
template <class T>
void conv_backward(const NetworkT<T>& net, int i, Input<T> x, int m, WorkspaceT<T>& ws, T* grad) {
  const int l = net.weight_layer(i);
  auto d = ws.delta[i].leftCols(m);  // (F*oh*ow, m)
  const conv::Geometry g = geometry(net, i);
  const int ldd = static_cast<int>(ws.delta[i].rows());
  conv::backward_params<T>(g, x.data, x.ld, d.data(), ldd, m, grad + net.weight_offset(l),
                           grad + net.bias_offset(l), ws.threads);
  if (i > 0)
    conv::backward_input<T>(g, net.params().data() + net.weight_offset(l), d.data(), ldd, m,
                            ws.delta[i - 1].data(), static_cast<int>(ws.delta[i - 1].rows()),
                            ws.threads);
}

// fc and softmax: z = W x + b, a = act(z); with dropout masks, a dense net's hidden activations
// are multiplied by their mask in place.
template <class T>
void dense_layer_forward(const NetworkT<T>& net, int i, Input<T> x, int m, WorkspaceT<T>& ws,
                         bool dropout_masks) {
  const int l = net.weight_layer(i);
  const Activation act = net.arch().activations[l];
  auto z = ws.z[i].leftCols(m);  // (N, m)
  auto a = ws.a[i].leftCols(m);  // (N, m)
  bool activated = false;
  if constexpr (std::is_same_v<T, float>) {
    if (fused_fc(net)) {
      // Bias and activation fused into the product (sigmoid, ReLU, linear in registers).
      const auto& p = net.params();
      activated = kernels::dense_forward(p.data() + net.weight_offset(l),
                                         p.data() + net.bias_offset(l), net.rows(l), net.cols(l),
                                         input_columns(x, m, ws), m, act, ws.z[i].data(),
                                         ws.a[i].data(), net.rows(l));
    } else {
      ConstStrided<T> X(x.data, net.cols(l), m, Eigen::OuterStride<>(x.ld));  // (in_size, m)
      z.noalias() = net.weight(l) * X;
      z.colwise() += net.bias(l);
    }
  } else {
    ConstStrided<T> X(x.data, net.cols(l), m, Eigen::OuterStride<>(x.ld));  // (in_size, m)
    z.noalias() = net.weight(l) * X;
    z.colwise() += net.bias(l);
  }
  if (!activated) activate<T>(act, z, a);
  if (dropout_masks && drops_in_place(net, i)) a.array() *= ws.mask[i].leftCols(m).array();
}

// ws.delta[i] holds dC/dz; adds the gradient, and dC/d(input) goes to ws.delta[i-1].
template <class T>
void dense_layer_backward(const NetworkT<T>& net, int i, Input<T> x, int m, WorkspaceT<T>& ws,
                          T* grad) {
  const int l = net.weight_layer(i);
  auto d = ws.delta[i].leftCols(m);                                       // (N, m)
  ConstStrided<T> X(x.data, net.cols(l), m, Eigen::OuterStride<>(x.ld));  // (in_size, m)
  typename NetworkT<T>::MatrixMap gw(grad + net.weight_offset(l), net.rows(l), net.cols(l));
  typename NetworkT<T>::VectorMap gb(grad + net.bias_offset(l), net.rows(l));
  gw.noalias() += d * X.transpose();
  add_row_sums(d, gb);  // not rowwise().sum(): ordered_sum.h
  if (i > 0) ws.delta[i - 1].leftCols(m).noalias() = net.weight(l).transpose() * d;
}

// Non-overlapping P x P pools over each channel; max pooling records the winner's input index.
template <class T>
void pool_forward(const NetworkT<T>& net, int i, Input<T> x, int m, WorkspaceT<T>& ws) {
  const Shape& in = net.input_shape(i);
  const Shape& out = net.shape(i);
  const int P = net.spec(i).kernel, osize = out.size();
  const bool is_max = net.spec(i).kind == LayerKind::kMaxPool;
  const T inv = T(1) / static_cast<T>(P * P);
  each_sample(ws, m, in.size(), [&](int j) {
    const T* xj = x.data + static_cast<size_t>(j) * x.ld;  // (c, h, w)
    T* aj = ws.a[i].data() + static_cast<size_t>(j) * osize;
    int* win = is_max ? ws.argmax[i].data() + static_cast<size_t>(j) * osize : nullptr;
    if constexpr (std::is_same_v<T, float>) {
      if (is_max && P == 2 && conv::maxpool2(xj, in.c, in.h, in.w, aj, win)) return;
    }
    for (int c = 0; c < out.c; ++c)
      for (int oy = 0; oy < out.h; ++oy)
        for (int ox = 0; ox < out.w; ++ox) {
          const int o = (c * out.h + oy) * out.w + ox;
          int best = (c * in.h + oy * P) * in.w + ox * P;
          T acc = T(0), mx = xj[best];
          for (int py = 0; py < P; ++py)
            for (int px = 0; px < P; ++px) {
              const int k = (c * in.h + oy * P + py) * in.w + ox * P + px;
              acc += xj[k];
              if (xj[k] > mx) {  // first maximum wins ties, like theano's max_pool_2d
                mx = xj[k];
                best = k;
              }
            }
          if (is_max) {
            aj[o] = mx;
            win[o] = best;
          } else {
            aj[o] = acc * inv;
          }
        }
  });
}

// Routes dC/da to the max's input, or spreads it evenly over the pool (avg).
template <class T>
void pool_backward(const NetworkT<T>& net, int i, int m, WorkspaceT<T>& ws) {
  if (i == 0) return;
  const Shape& in = net.input_shape(i);
  const Shape& out = net.shape(i);
  const int P = net.spec(i).kernel, osize = out.size(), isize = in.size();
  const bool is_max = net.spec(i).kind == LayerKind::kMaxPool;
  const T inv = T(1) / static_cast<T>(P * P);
  auto dp = ws.delta[i - 1].leftCols(m);  // (in_size, m)
  each_sample(ws, m, isize, [&](int j) {
    const T* dj = ws.delta[i].data() + static_cast<size_t>(j) * osize;
    T* pj = dp.data() + static_cast<size_t>(j) * isize;
    std::fill(pj, pj + isize, T(0));
    if (is_max) {
      const int* win = ws.argmax[i].data() + static_cast<size_t>(j) * osize;
      for (int o = 0; o < osize; ++o) pj[win[o]] += dj[o];
      return;
    }
    for (int c = 0; c < out.c; ++c)
      for (int oy = 0; oy < out.h; ++oy)
        for (int ox = 0; ox < out.w; ++ox) {
          const T g = dj[(c * out.h + oy) * out.w + ox] * inv;
          for (int py = 0; py < P; ++py)
            for (int px = 0; px < P; ++px) pj[(c * in.h + oy * P + py) * in.w + ox * P + px] += g;
        }
  });
}

// The factor a dropout layer applies at test time: network3 scales by 1-p, inverted does not.
template <class T>
T dropout_test_scale(const LayerSpec& s) {
  return s.inverted ? T(1) : static_cast<T>(1.0 - s.drop);
}

template <class T>
void dropout_forward(const NetworkT<T>& net, int i, Input<T> x, int m, WorkspaceT<T>& ws,
                     bool training) {
  const int n = net.shape(i).size();
  ConstStrided<T> X(x.data, n, m, Eigen::OuterStride<>(x.ld));  // (size, m)
  auto a = ws.a[i].leftCols(m);
  if (training)
    a = X.cwiseProduct(ws.mask[i].leftCols(m));
  else
    a = X * dropout_test_scale<T>(net.spec(i));
}

template <class T>
void dropout_backward(const NetworkT<T>& net, int i, int m, WorkspaceT<T>& ws, bool training) {
  if (i == 0) return;
  auto d = ws.delta[i].leftCols(m);
  if (training)
    ws.delta[i - 1].leftCols(m) = d.cwiseProduct(ws.mask[i].leftCols(m));
  else
    ws.delta[i - 1].leftCols(m) = d * dropout_test_scale<T>(net.spec(i));
}

template <class T>
void forward_layers(const NetworkT<T>& net, const Input<T>& x, int m, WorkspaceT<T>& ws,
                    bool training) {
  assert(static_cast<int>(ws.a.size()) == net.stack_size() && m <= ws.max_batch);
  for (int i = 0; i < net.stack_size(); ++i) {
    const Input<T> in = stack_input(ws, x, i);
    switch (net.spec(i).kind) {
      case LayerKind::kConv:
        conv_forward(net, i, in, m, ws);
        break;
      case LayerKind::kMaxPool:
      case LayerKind::kAvgPool:
        pool_forward(net, i, in, m, ws);
        break;
      case LayerKind::kFullyConnected:
      case LayerKind::kSoftmax:
        dense_layer_forward(net, i, in, m, ws, training);
        break;
      case LayerKind::kDropout:
        dropout_forward(net, i, in, m, ws, training);
        break;
    }
    assert(ws.a[i].rows() == net.shape(i).size() && ws.a[i].cols() >= m);
  }
}

// The output error dC/dz of the summed cost, d = a - y (times act'(z) for the quadratic cost:
// cross-entropy with sigmoid and log-likelihood with softmax give exactly a - y).
template <class T>
void output_derivative(const NetworkT<T>& net, int m, WorkspaceT<T>& ws) {
  const int S = net.stack_size();
  if (net.arch().cost == Cost::kQuadratic)
    times_derivative<T>(net.arch().activations[net.layers() - 1], ws.z[S - 1].leftCols(m),
                        ws.a[S - 1].leftCols(m), ws.delta[S - 1].leftCols(m));
}

// Backward from dC/dz of the output layer (in ws.delta.back()) through every layer below `top`
// (exclusive) down to 0, adding each weight layer's gradient to `grad`.
template <class T>
void backward_layers(const NetworkT<T>& net, const Input<T>& x, int m, WorkspaceT<T>& ws, T* grad,
                     bool training) {
  const int S = net.stack_size();
  for (int i = S - 1; i >= 0; --i) {
    const Input<T> in = stack_input(ws, x, i);
    const LayerKind kind = net.spec(i).kind;
    if (has_weights(kind) && i < S - 1) to_dz(net, i, m, ws, training);
    switch (kind) {
      case LayerKind::kConv:
        conv_backward(net, i, in, m, ws, grad);
        break;
      case LayerKind::kMaxPool:
      case LayerKind::kAvgPool:
        pool_backward(net, i, m, ws);
        break;
      case LayerKind::kFullyConnected:
      case LayerKind::kSoftmax:
        dense_layer_backward(net, i, in, m, ws, grad);
        break;
      case LayerKind::kDropout:
        dropout_backward(net, i, m, ws, training);
        break;
    }
    assert(i == 0 || ws.delta[i - 1].rows() == net.input_shape(i).size());
  }
}

template <class T>
Input<T> matrix_input(const Eigen::Ref<const MatrixT<T>>& x) {
  return {x.data(), static_cast<int>(x.outerStride()), nullptr};
}

}  // namespace

template <class T>
void forward(const NetworkT<T>& net, const NonDeduced<Eigen::Ref<const MatrixT<T>>>& x, int m,
             WorkspaceT<T>& ws, bool dropout_masks) {
  assert(m <= ws.max_batch && x.rows() == net.inputs() && x.cols() >= m);
  forward_layers<T>(net, matrix_input<T>(x), m, ws, dropout_masks);
}

template <class T>
void backward(const NetworkT<T>& net, const NonDeduced<Eigen::Ref<const MatrixT<T>>>& x,
              const NonDeduced<Eigen::Ref<const MatrixT<T>>>& y, int m, WorkspaceT<T>& ws, T* grad,
              bool dropout_masks) {
  auto d = ws.delta.back().leftCols(m);  // (outputs, m)
  d = ws.a.back().leftCols(m) - y.leftCols(m);
  output_derivative(net, m, ws);
  backward_layers<T>(net, matrix_input<T>(x), m, ws, grad, dropout_masks);
}

template <class T>
void apply_update(NetworkT<T>& net, const T* g, const SgdRule& rule, T* velocity) {
  const T step = static_cast<T>(rule.step), wdecay = static_cast<T>(rule.decay);
  const T l1 = static_cast<T>(rule.l1), mu = static_cast<T>(rule.momentum);
  T* p = net.params().data();
  auto sgn = [](T w) { return static_cast<T>((w > 0) - (w < 0)); };
  for (int l = 0; l < net.layers(); ++l) {
    const size_t w0 = net.weight_offset(l), b0 = net.bias_offset(l), b1 = b0 + net.rows(l);
    if (rule.momentum > 0) {
      T* v = velocity;
      for (size_t i = w0; i < b0; ++i) {
        v[i] = mu * v[i] - step * g[i];
        p[i] = wdecay * p[i] + v[i] - (l1 != 0 ? l1 * sgn(p[i]) : T(0));
      }
      for (size_t i = b0; i < b1; ++i) {
        v[i] = mu * v[i] - step * g[i];
        p[i] += v[i];
      }
    } else {
      if (l1 != 0) {
        for (size_t i = w0; i < b0; ++i) p[i] = wdecay * p[i] - step * g[i] - l1 * sgn(p[i]);
      } else if (rule.decay != 1) {
        for (size_t i = w0; i < b0; ++i) p[i] = wdecay * p[i] - step * g[i];
      } else {
        for (size_t i = w0; i < b0; ++i) p[i] -= step * g[i];
      }
      for (size_t i = b0; i < b1; ++i) p[i] -= step * g[i];
    }
  }
}

namespace {

// The portable step: gather, forward, backward into a gradient buffer, apply_update.
template <class T>
bool sgd_step_portable(NetworkT<T>& net, const T* const* x, const uint8_t* labels, int m,
                       WorkspaceT<T>& ws, const SgdRule& rule, T* velocity, bool dropout_masks) {
  if (ws.x.cols() != ws.max_batch) {
    ws.x.resize(net.inputs(), ws.max_batch);   // (inputs, max_batch)
    ws.y.resize(net.outputs(), ws.max_batch);  // (outputs, max_batch)
  }
  ws.grad.assign(net.params().size(), T(0));
  for (int j = 0; j < m; ++j) {
    ws.x.col(j) = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(x[j], net.inputs());
    ws.y.col(j).setZero();
    ws.y(labels[j], j) = T(1);
  }
  forward<T>(net, ws.x, m, ws, dropout_masks);
  backward<T>(net, ws.x, ws.y, m, ws, ws.grad.data(), dropout_masks);
  if (!ws.delta.back().leftCols(m).allFinite()) return false;
  apply_update(net, ws.grad.data(), rule, velocity);
  return true;
}

// The fused step of a --sizes net on the AVX-512 kernels: forward reading the images in place,
// then each layer's update applied as soon as its gradient is formed (no gradient buffer): the
// error one layer down is taken first, while W_l is still this step's.
bool sgd_step_fused(Network& net, const float* const* x, const uint8_t* labels, int m,
                    Workspace& ws, const SgdRule& rule, float* velocity, bool dropout_masks) {
  forward_layers<float>(net, Input<float>{nullptr, 0, x}, m, ws, dropout_masks);
  const int L = net.layers();
  auto out = ws.delta[L - 1].leftCols(m);  // (outputs, m)
  out = ws.a[L - 1].leftCols(m);
  for (int j = 0; j < m; ++j) out(labels[j], j) -= 1.0f;  // a - y, y one-hot
  output_derivative(net, m, ws);
  if (!out.allFinite()) return false;
  kernels::UpdateRule u;
  u.step = static_cast<float>(rule.step);
  u.decay = static_cast<float>(rule.decay);
  u.l1 = static_cast<float>(rule.l1);
  u.mu = static_cast<float>(rule.momentum);
  float* p = net.params().data();
  for (int l = L - 1; l >= 0; --l) {  // a dense net: stack layer l is weight layer l
    auto d = ws.delta[l].leftCols(m);  // (sizes[l+1], m)
    if (l > 0) {
      ws.delta[l - 1].leftCols(m).noalias() = net.weight(l).transpose() * d;
      to_dz(net, l - 1, m, ws, dropout_masks);
    }
    const float* const* in =
        input_columns(l == 0 ? Input<float>{nullptr, 0, x}
                             : Input<float>{ws.a[l - 1].data(), net.rows(l - 1), nullptr},
                      m, ws);
    const size_t wo = net.weight_offset(l), bo = net.bias_offset(l);
    kernels::dense_update(p + wo, p + bo, net.rows(l), net.cols(l), d.data(), net.rows(l), in, m,
                          u, u.mu > 0 ? velocity + wo : nullptr,
                          u.mu > 0 ? velocity + bo : nullptr);
  }
  return true;
}

}  // namespace

template <class T>
bool sgd_step(NetworkT<T>& net, const T* const* x, const uint8_t* labels, int m, WorkspaceT<T>& ws,
              const SgdRule& rule, T* velocity, bool dropout_masks) {
  assert(m >= 1 && m <= ws.max_batch);
  if constexpr (std::is_same_v<T, float>)
    if (fused_fc(net)) return sgd_step_fused(net, x, labels, m, ws, rule, velocity, dropout_masks);
  return sgd_step_portable(net, x, labels, m, ws, rule, velocity, dropout_masks);
}

template <class T>
double sample_cost(Cost cost, const T* a, int n, int label) {
  double c = 0.0;
  switch (cost) {
    case Cost::kQuadratic:
      for (int i = 0; i < n; ++i) {
        const double diff = a[i] - (i == label ? 1.0 : 0.0);
        c += diff * diff;
      }
      return 0.5 * c;
    case Cost::kCrossEntropy:
      // numpy's nan_to_num turns 0*log(0) into 0 and log(0) into a huge finite value; we clamp
      // the log argument instead so a saturated neuron costs ~ -log(1e-300), never inf or NaN.
      for (int i = 0; i < n; ++i) {
        const double ai = a[i];
        c += (i == label) ? -std::log(std::max(ai, 1e-300)) : -std::log(std::max(1.0 - ai, 1e-300));
      }
      return c;
    case Cost::kLogLikelihood:
      return -std::log(std::max(static_cast<double>(a[label]), 1e-300));
  }
  return c;
}

template <class T>
NetworkT<T>::NetworkT(Architecture arch) : arch_(std::move(arch)) {
  LayerTable t = make_layer_table(&arch_);
  rows_ = std::move(t.rows);
  cols_ = std::move(t.cols);
  shapes_ = std::move(t.shapes);
  weight_index_ = std::move(t.weight_index);
  stack_index_ = std::move(t.stack_index);
  size_t off = 0;
  for (int l = 0; l < layers(); ++l) {
    offsets_.push_back(off);
    off += static_cast<size_t>(rows(l)) * cols(l);
    offsets_.push_back(off);
    off += rows(l);
  }
  params_.assign(off, T(0));
}

template class NetworkT<float>;
template class NetworkT<double>;

#define NNET_NETWORK_INSTANTIATE(T)                                                              \
  template void init_params<T>(NetworkT<T>&, Init, uint32_t);                                    \
  template WorkspaceT<T> make_workspace<T>(const NetworkT<T>&, int);                             \
  template void forward<T>(const NetworkT<T>&, const Eigen::Ref<const MatrixT<T>>&, int,         \
                           WorkspaceT<T>&, bool);                                                \
  template void backward<T>(const NetworkT<T>&, const Eigen::Ref<const MatrixT<T>>&,             \
                            const Eigen::Ref<const MatrixT<T>>&, int, WorkspaceT<T>&, T*, bool); \
  template double sample_cost<T>(Cost, const T*, int, int);                                      \
  template void apply_update<T>(NetworkT<T>&, const T*, const SgdRule&, T*);                     \
  template bool sgd_step<T>(NetworkT<T>&, const T* const*, const uint8_t*, int, WorkspaceT<T>&,  \
                            const SgdRule&, T*, bool);
NNET_NETWORK_INSTANTIATE(float)
NNET_NETWORK_INSTANTIATE(double)

}  // namespace nnet

// Network: a fully connected feed-forward net whose parameters live in one flat float buffer
// (llm.c style), with Eigen views per layer. Forward/backward work on a whole mini-batch at once.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "nnet/activation.h"
#include "nnet/layers.h"
#include "nnet/status.h"

namespace nnet {

// A network: a stack of typed layers (layers.h) on an input shape, with a cost. Every net runs
// through the same engine; a net spelled with --sizes is a stack of fc layers (the last one softmax
// with the log-likelihood cost) and keeps three things of the book's network.py/network2.py:
// the version-1 model file, TrainOptions::dropout dropping its hidden units in place, and, on the
// CPU, the fused fc kernels its numbers have always come from.
struct Architecture {
  // What --sizes spells: neurons per layer, input first ({784, 30, 10}), one activation per weight
  // layer. For a net built from layers, make_layer_table() fills both as summaries: the input's
  // size, then each weight layer's outputs; each weight layer's activation (softmax for softmax).
  std::vector<int> sizes;
  std::vector<Activation> activations;
  Cost cost = Cost::kQuadratic;
  Shape input{1, 28, 28};
  std::vector<LayerSpec> layers;
  // Spelled as --sizes: make_layer_table() sets it (and builds `layers` and `input`, and sets
  // `numerics` and the hidden layers' in_place_dropout) for an architecture given by sizes and
  // activations alone. Read only where the spelling matters: model files, the CLI and Python.
  bool dense = false;
  // Which CPU numerics the net keeps; tests/compat_test.cc holds both to their old bytes.
  //   kFusedFc (a --sizes net): the fused AVX-512 fc kernels where the CPU has them, which round
  //     differently from Eigen's GEMM, and evaluation in whole chunks;
  //   kLayerwise (any other): each layer kind's own kernels (Eigen's GEMM for fc), evaluation in
  //     pieces whose workspace fits ~4 MiB.
  enum class Numerics { kLayerwise, kFusedFc };
  Numerics numerics = Numerics::kLayerwise;
};

// The notebook's network: sigmoid everywhere, quadratic cost.
Architecture sigmoid_architecture(std::vector<int> sizes, Cost cost = Cost::kQuadratic);

// Checks an architecture before any allocation. Given by sizes: >= 2 layers, all > 0,
// first == input_pixels, last >= num_classes, one activation per layer, softmax only on the
// output layer and only with log-likelihood (and vice versa). Given by layers: input.size() ==
// input_pixels, layer_shapes() passes, and the cost fits the last layer (softmax <=>
// log-likelihood, cross-entropy needs a sigmoid fc). Both: at most kMaxWeightLayers weight layers.
Status validate(const Architecture& arch, int input_pixels, int num_classes);

// The most conv/fc/softmax layers, and parameters, a net may have: validate() and the model
// loaders share them, so whatever trains also loads.
inline constexpr int kMaxWeightLayers = 64;
inline constexpr size_t kMaxParams = size_t{1} << 28;  // 268M floats (1 GiB)

// The engine is written once for any scalar: float is what trains (fast), double is what the
// gradient checks use (central differences need the precision).
// Keeps Eigen::Ref arguments out of template deduction so callers pass any matrix expression.
template <class X>
using NonDeduced = std::type_identity_t<X>;

template <class T>
using MatrixT = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;

template <class T>
class NetworkT {
 public:
  using MatrixMap = Eigen::Map<MatrixT<T>>;
  using ConstMatrixMap = Eigen::Map<const MatrixT<T>>;
  using VectorMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>;
  using ConstVectorMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>;

  NetworkT() = default;
  // Allocates zeroed parameters for `arch` (assumed valid). An architecture given by sizes and
  // activations alone becomes its stack: fc:N per layer (softmax:N for a softmax output) on an
  // input of sizes[0] values (1 x r x r when that is a square r*r, else sizes[0] x 1 x 1), with
  // dense set; arch().sizes and arch().activations then summarise the layers.
  explicit NetworkT(Architecture arch);

  const Architecture& arch() const { return arch_; }
  int layers() const { return static_cast<int>(rows_.size()); }  // weight layers
  int inputs() const { return arch_.sizes.front(); }
  int outputs() const { return arch_.sizes.back(); }

  // All parameters: for each weight layer l, W_l (rows(l), cols(l)) column-major, then b_l
  // (rows(l)). Dense: W_l is (sizes[l+1], sizes[l]). Stack, in stack order: conv W (F, C*K*K) with
  // column index (c*K + ky)*K + kx and b (F); fc/softmax W (N, in_size) and b (N).
  std::vector<T>& params() { return params_; }
  const std::vector<T>& params() const { return params_; }
  size_t weight_offset(int l) const { return offsets_[2 * l]; }
  size_t bias_offset(int l) const { return offsets_[2 * l + 1]; }

  MatrixMap weight(int l) { return MatrixMap(params_.data() + weight_offset(l), rows(l), cols(l)); }
  ConstMatrixMap weight(int l) const {
    return ConstMatrixMap(params_.data() + weight_offset(l), rows(l), cols(l));
  }
  VectorMap bias(int l) { return VectorMap(params_.data() + bias_offset(l), rows(l)); }
  ConstVectorMap bias(int l) const {
    return ConstVectorMap(params_.data() + bias_offset(l), rows(l));
  }
  int rows(int l) const { return rows_[l]; }  // outputs (conv: filters) of weight layer l
  int cols(int l) const { return cols_[l]; }  // inputs (conv: C*K*K) of weight layer l

  // The layer stack: every net has one (a --sizes net's is fc layers, stack layer i = weight
  // layer i). dense(): spelled as --sizes (see Architecture::dense).
  bool dense() const { return arch_.dense; }
  int stack_size() const { return static_cast<int>(arch_.layers.size()); }
  const LayerSpec& spec(int i) const { return arch_.layers[i]; }
  // Output shape of stack layer i; input_shape(i) is the previous one (arch.input for i == 0).
  const Shape& shape(int i) const { return shapes_[i]; }
  const Shape& input_shape(int i) const { return i == 0 ? arch_.input : shapes_[i - 1]; }
  int weight_layer(int i) const { return weight_index_[i]; }  // -1: no parameters
  int stack_layer(int l) const { return stack_index_[l]; }

 private:
  Architecture arch_;
  std::vector<int> rows_, cols_;    // (weight layers) W_l is (rows_[l], cols_[l])
  std::vector<Shape> shapes_;       // (stack layers) output shape of each
  std::vector<int> weight_index_;   // (stack layers) weight layer of stack layer i, or -1
  std::vector<int> stack_index_;    // (weight layers) stack layer of weight layer l
  std::vector<size_t> offsets_;     // (2 * layers): weight and bias offset of each layer
  std::vector<T> params_;
};
extern template class NetworkT<float>;
extern template class NetworkT<double>;

using Network = NetworkT<float>;
using NetworkD = NetworkT<double>;
using MatrixMap = Network::MatrixMap;
using ConstMatrixMap = Network::ConstMatrixMap;
using VectorMap = Network::VectorMap;
using ConstVectorMap = Network::ConstVectorMap;

// Fills weights and biases the way the book does, drawing from numpy's RandomState(seed):
// biases randn(y, 1) for every layer first, then weights randn(y, x) [scaled by the init].
//   large:   N(0, 1) weights (network.py, network2's large_weight_initializer)
//   default: N(0, 1/n_in) weights (network2's default_weight_initializer)
//   xavier:  N(0, 2/(n_in+n_out)) weights;  he: N(0, 2/n_in) weights
// Biases are N(0, 1) in every case (as in the book). Stacks take the same draws over their weight
// layers (conv n_in = C*K*K, n_out = F). network3 (stacks): layer by layer in stack order, W then
// b, numpy.random.normal(0, scale) = randn*scale: conv W (F, C, K, K) with scale
// sqrt(1/(F*K*K/P^2)) (P: the pool right after it, else 1), stored kernel-flipped so nnet's
// cross-correlation computes network3's convolution; fc W drawn as (in, N) with scale sqrt(1/N);
// conv/fc b N(0, 1); softmax W and b zero.
template <class T>
void init_params(NetworkT<T>& net, Init init, uint32_t seed);

// The net as the user spelled it: layers_to_string(arch.layers) for a stack given by layers, ""
// for a net spelled by sizes (Architecture::dense). Front ends show and record this spelling.
std::string spelled_layers(const Architecture& arch);

// Whether a stack has any dropout layer.
bool has_dropout(const Architecture& arch);
// Whether any layer takes TrainOptions::dropout in place (LayerSpec::in_place_dropout).
bool has_in_place_dropout(const Architecture& arch);

// Cost of one output column against its one-hot target, as the book defines it
// (quadratic: 0.5*|a-y|^2; cross-entropy: sum -y ln a - (1-y) ln(1-a), with 0*log 0 = 0;
// log-likelihood: -ln a_y). Computed in double.
template <class T>
double sample_cost(Cost cost, const T* a, int n, int label);

// Explicitly instantiated in network.cc for float and double.
#define NNET_NETWORK_EXTERN(T)                                                                   \
  extern template void init_params<T>(NetworkT<T>&, Init, uint32_t);                             \
  extern template double sample_cost<T>(Cost, const T*, int, int);
NNET_NETWORK_EXTERN(float)
NNET_NETWORK_EXTERN(double)
#undef NNET_NETWORK_EXTERN

}  // namespace nnet

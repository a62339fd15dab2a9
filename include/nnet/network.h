// Network: a fully connected feed-forward net whose parameters live in one flat float buffer
// (llm.c style), with Eigen views per layer. Forward/backward work on a whole mini-batch at once.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "nnet/layers.h"
#include "nnet/status.h"

namespace nnet {

enum class Activation { kSigmoid, kTanh, kRelu, kSoftmax, kLinear };
enum class Cost { kQuadratic, kCrossEntropy, kLogLikelihood };
enum class Init { kLarge, kDefault, kXavier, kHe };

// Names as used on the command line and in model files ("sigmoid", "cross-entropy", "large").
const char* name(Activation a);
const char* name(Cost c);
const char* name(Init i);
bool parse_activation(const std::string& s, Activation* out);
bool parse_cost(const std::string& s, Cost* out);
bool parse_init(const std::string& s, Init* out);

struct Architecture {
  std::vector<int> sizes;               // neurons per layer, input first: {784, 30, 10}
  std::vector<Activation> activations;  // one per weight layer: sizes.size() - 1
  Cost cost = Cost::kQuadratic;
  // Chapter 6: when non-empty the net is this stack of typed layers on `input` (layers.h), and
  // sizes = {input.size(), ..., outputs} only summarises it; when empty it is the dense net above.
  Shape input{1, 28, 28};
  std::vector<LayerSpec> layers;
};

// The notebook's network: sigmoid everywhere, quadratic cost.
Architecture sigmoid_architecture(std::vector<int> sizes, Cost cost = Cost::kQuadratic);

// Checks sizes (>= 2 layers, all > 0, first == input_pixels, last >= num_classes), one activation
// per layer, softmax only on the output layer and only with log-likelihood (and vice versa).
Status validate(const Architecture& arch, int input_pixels, int num_classes);

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
  // Allocates zeroed parameters for `arch` (assumed valid).
  explicit NetworkT(Architecture arch) : arch_(std::move(arch)) {
    size_t off = 0;
    for (int l = 0; l < layers(); ++l) {
      offsets_.push_back(off);
      off += static_cast<size_t>(rows(l)) * cols(l);
      offsets_.push_back(off);
      off += rows(l);
    }
    params_.assign(off, T(0));
  }

  const Architecture& arch() const { return arch_; }
  int layers() const { return static_cast<int>(arch_.sizes.size()) - 1; }  // weight layers
  int inputs() const { return arch_.sizes.front(); }
  int outputs() const { return arch_.sizes.back(); }

  // All parameters: for each layer l, W_l (sizes[l+1], sizes[l]) column-major, then b_l.
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
  int rows(int l) const { return arch_.sizes[l + 1]; }  // outputs of layer l
  int cols(int l) const { return arch_.sizes[l]; }      // inputs of layer l

 private:
  Architecture arch_;
  std::vector<size_t> offsets_;  // (2 * layers): weight and bias offset of each layer
  std::vector<T> params_;
};

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
// Biases are N(0, 1) in every case (as in the book).
template <class T>
void init_params(NetworkT<T>& net, Init init, uint32_t seed);

// Scratch space for a mini-batch of up to `max_batch` columns; allocated once, reused every step.
template <class T>
struct WorkspaceT {
  int max_batch = 0;
  std::vector<MatrixT<T>> z;      // per layer l: (sizes[l+1], max_batch) pre-activations
  std::vector<MatrixT<T>> a;      // per layer l: (sizes[l+1], max_batch) activations
  std::vector<MatrixT<T>> delta;  // per layer l: (sizes[l+1], max_batch) dC/dz
  std::vector<MatrixT<T>> mask;   // per hidden layer: (sizes[l+1], max_batch) dropout scale
  std::vector<const T*> cols;     // (max_batch) input column pointers of the layer at hand
  // Only for sgd_step's portable path (sized on first use):
  MatrixT<T> x;         // (inputs, max_batch) gathered images
  MatrixT<T> y;         // (outputs, max_batch) one-hot targets
  std::vector<T> grad;  // same layout as params
};
using Workspace = WorkspaceT<float>;

template <class T>
WorkspaceT<T> make_workspace(const NetworkT<T>& net, int max_batch);

// Forward pass on x (inputs, m), m <= ws.max_batch; activations land in ws.a. When `dropout_masks`
// is true the hidden activations are multiplied by ws.mask (filled by the caller).
template <class T>
void forward(const NetworkT<T>& net, const NonDeduced<Eigen::Ref<const MatrixT<T>>>& x, int m,
             WorkspaceT<T>& ws, bool dropout_masks = false);

// Backward pass after forward(): adds the gradient of the summed cost over the m columns to
// `grad` (same layout as params). `y` holds one-hot targets (outputs, m).
template <class T>
void backward(const NetworkT<T>& net, const NonDeduced<Eigen::Ref<const MatrixT<T>>>& x,
              const NonDeduced<Eigen::Ref<const MatrixT<T>>>& y, int m, WorkspaceT<T>& ws, T* grad,
              bool dropout_masks = false);

// One mini-batch's SGD update rule (TrainOptions' L2 decay, L1 and momentum), per parameter:
//   momentum: v <- mu v - step g;  w <- decay w + v - l1 sgn(w);   b <- b + v
//   otherwise:                     w <- decay w - step g - l1 sgn(w);  b <- b - step g
struct SgdRule {
  double step = 0;      // eta / m
  double decay = 1;     // 1 - eta*lambda/n (weights only)
  double l1 = 0;        // eta*l1/n (weights only)
  double momentum = 0;  // mu; > 0 needs a velocity buffer laid out like params
};

// Applies `rule` with the summed gradient `grad` (params layout) to net's parameters; `velocity`
// is read and written when rule.momentum > 0 (may be null otherwise).
template <class T>
void apply_update(NetworkT<T>& net, const T* grad, const SgdRule& rule, T* velocity);

// One SGD step on m images given as column pointers x[j] (inputs each) with labels[j]: forward,
// output error against the one-hot targets, backward, and `rule` applied to each layer as soon as
// its gradient is formed (no gather copy, no gradient buffer where the vector kernels exist).
// Computes what forward + backward + apply_update compute, up to float summation order, and is
// deterministic. Returns false, parameters untouched, if the output error is not finite.
template <class T>
bool sgd_step(NetworkT<T>& net, const T* const* x, const uint8_t* labels, int m, WorkspaceT<T>& ws,
              const SgdRule& rule, T* velocity, bool dropout_masks = false);

// Cost of one output column against its one-hot target, as the book defines it
// (quadratic: 0.5*|a-y|^2; cross-entropy: sum -y ln a - (1-y) ln(1-a), with 0*log 0 = 0;
// log-likelihood: -ln a_y). Computed in double.
template <class T>
double sample_cost(Cost cost, const T* a, int n, int label);

// Explicitly instantiated in network.cc for float and double.
#define NNET_NETWORK_EXTERN(T)                                                                   \
  extern template void init_params<T>(NetworkT<T>&, Init, uint32_t);                             \
  extern template WorkspaceT<T> make_workspace<T>(const NetworkT<T>&, int);                      \
  extern template void forward<T>(const NetworkT<T>&, const Eigen::Ref<const MatrixT<T>>&, int,  \
                                  WorkspaceT<T>&, bool);                                         \
  extern template void backward<T>(const NetworkT<T>&, const Eigen::Ref<const MatrixT<T>>&,      \
                                   const Eigen::Ref<const MatrixT<T>>&, int, WorkspaceT<T>&, T*, \
                                   bool);                                                        \
  extern template double sample_cost<T>(Cost, const T*, int, int);                               \
  extern template void apply_update<T>(NetworkT<T>&, const T*, const SgdRule&, T*);              \
  extern template bool sgd_step<T>(NetworkT<T>&, const T* const*, const uint8_t*, int,           \
                                   WorkspaceT<T>&, const SgdRule&, T*, bool);
NNET_NETWORK_EXTERN(float)
NNET_NETWORK_EXTERN(double)
#undef NNET_NETWORK_EXTERN

}  // namespace nnet

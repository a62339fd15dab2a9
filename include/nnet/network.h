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
// kNetwork3: network3.py's initialisation (stacks only, see init_params).
enum class Init { kLarge, kDefault, kXavier, kHe, kNetwork3 };

// Names as used on the command line and in model files ("sigmoid", "cross-entropy", "large").
const char* name(Activation a);
const char* name(Cost c);
const char* name(Init i);
bool parse_activation(const std::string& s, Activation* out);
bool parse_cost(const std::string& s, Cost* out);
bool parse_init(const std::string& s, Init* out);

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
  // Spelled as --sizes: make_layer_table() sets it (and builds `layers` and `input`) for an
  // architecture given by sizes and activations alone. Read only where the spelling matters:
  // model files, the CLI and Python, and the CPU backend's choice of fc kernels.
  bool dense = false;
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

// What NetworkT derives from an architecture: per weight layer its W (rows, cols); per stack layer
// its output shape and the map between stack layers and weight layers.
struct LayerTable {
  std::vector<int> rows, cols;    // (weight layers) W_l is (rows[l], cols[l])
  std::vector<Shape> shapes;      // (stack layers) output shape of each stack layer
  std::vector<int> weight_index;  // (stack layers) weight layer of stack layer i, or -1
  std::vector<int> stack_index;   // (weight layers) stack layer of weight layer l
};

// Builds the table for `arch` (assumed valid). An architecture given by sizes and activations
// alone becomes its stack first: fc:N per layer (softmax:N for a softmax output) on an input of
// sizes[0] values (1 x r x r when that is a square r*r, else sizes[0] x 1 x 1), with dense set.
// Then arch->sizes and arch->activations are filled from the layers as their summaries.
LayerTable make_layer_table(Architecture* arch);

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
  explicit NetworkT(Architecture arch) : arch_(std::move(arch)), table_(make_layer_table(&arch_)) {
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
  int layers() const { return static_cast<int>(table_.rows.size()); }  // weight layers
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
  int rows(int l) const { return table_.rows[l]; }  // outputs (conv: filters) of weight layer l
  int cols(int l) const { return table_.cols[l]; }  // inputs (conv: C*K*K) of weight layer l

  // The layer stack: every net has one (a --sizes net's is fc layers, stack layer i = weight
  // layer i). dense(): spelled as --sizes (see Architecture::dense).
  bool dense() const { return arch_.dense; }
  int stack_size() const { return static_cast<int>(arch_.layers.size()); }
  const LayerSpec& spec(int i) const { return arch_.layers[i]; }
  // Output shape of stack layer i; input_shape(i) is the previous one (arch.input for i == 0).
  const Shape& shape(int i) const { return table_.shapes[i]; }
  const Shape& input_shape(int i) const { return i == 0 ? arch_.input : table_.shapes[i - 1]; }
  int weight_layer(int i) const { return table_.weight_index[i]; }  // -1: no parameters
  int stack_layer(int l) const { return table_.stack_index[l]; }

 private:
  Architecture arch_;
  LayerTable table_;
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
// Biases are N(0, 1) in every case (as in the book). Stacks take the same draws over their weight
// layers (conv n_in = C*K*K, n_out = F). network3 (stacks): layer by layer in stack order, W then
// b, numpy.random.normal(0, scale) = randn*scale: conv W (F, C, K, K) with scale
// sqrt(1/(F*K*K/P^2)) (P: the pool right after it, else 1), stored kernel-flipped so nnet's
// cross-correlation computes network3's convolution; fc W drawn as (in, N) with scale sqrt(1/N);
// conv/fc b N(0, 1); softmax W and b zero.
template <class T>
void init_params(NetworkT<T>& net, Init init, uint32_t seed);

// Scratch space for a mini-batch of up to `max_batch` columns; allocated once, reused every step.
// Per stack layer i: a (shape(i).size(), max_batch) its outputs; z the pre-activations of a
// conv/fc/softmax layer (0 rows elsewhere); delta dC/dz for those, dC/da for the others; mask the
// multiplier of each unit while training (a dropout layer's input units; a dense net's hidden fc
// layer's own units, which its dropout multiplies in place); argmax a max pool's winners.
// The output layer's activations are a.back().
template <class T>
struct WorkspaceT {
  int max_batch = 0;
  std::vector<MatrixT<T>> z, a, delta, mask;
  std::vector<std::vector<int>> argmax;
  int threads = 1;             // conv kernel threads (0 = all cores); never changes results
  std::vector<const T*> cols;  // (max_batch) input column pointers of the layer at hand
  // Only for sgd_step's portable path (sized on first use):
  MatrixT<T> x;         // (inputs, max_batch) gathered images
  MatrixT<T> y;         // (outputs, max_batch) one-hot targets
  std::vector<T> grad;  // same layout as params
};
using Workspace = WorkspaceT<float>;

template <class T>
WorkspaceT<T> make_workspace(const NetworkT<T>& net, int max_batch);

// Whether stack layer i's own activations are multiplied by a dropout mask while training: the
// hidden fc layers of a dense net (TrainOptions::dropout drops its hidden units in place).
template <class T>
bool drops_in_place(const NetworkT<T>& net, int i) {
  return net.dense() && i + 1 < net.stack_size();
}

// Forward pass on x (inputs, m), m <= ws.max_batch; activations land in ws.a. Each layer kind has
// its own forward function and every output shape is asserted. `dropout_masks` means training
// mode: dropout layers apply ws.mask (network3: else inputs times 1-p; inverted: identity), and a
// dense net's hidden activations are multiplied by ws.mask.
template <class T>
void forward(const NetworkT<T>& net, const NonDeduced<Eigen::Ref<const MatrixT<T>>>& x, int m,
             WorkspaceT<T>& ws, bool dropout_masks = false);

// Fills the dropout masks of the first m columns from `uniform` (draws in [0, 1), e.g.
// Mt19937::next_double53): per dropout layer, each input unit kept (1, or 1/(1-p) inverted) unless
// its draw is < p (0); per in-place layer (drops_in_place), each unit kept as 1/(1-dense_dropout)
// unless its draw is < dense_dropout. Stack layer order, then column-major.
template <class T, class Uniform>
void fill_dropout_masks(const NetworkT<T>& net, WorkspaceT<T>& ws, int m, double dense_dropout,
                        Uniform&& uniform) {
  for (int i = 0; i < net.stack_size(); ++i) {
    const LayerSpec& s = net.spec(i);
    double p = 0;
    T keep = T(1);
    if (s.kind == LayerKind::kDropout) {
      p = s.drop;
      keep = s.inverted ? static_cast<T>(1.0 / (1.0 - s.drop)) : T(1);
    } else if (dense_dropout > 0 && drops_in_place(net, i)) {
      p = dense_dropout;
      keep = static_cast<T>(1.0 / (1.0 - dense_dropout));
    } else {
      continue;
    }
    T* mk = ws.mask[i].data();  // (size, max_batch)
    const size_t n = static_cast<size_t>(ws.mask[i].rows()) * m;
    for (size_t k = 0; k < n; ++k) mk[k] = uniform() < p ? T(0) : keep;
  }
}

// Whether a stack has any dropout layer.
bool has_dropout(const Architecture& arch);

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

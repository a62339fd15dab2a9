// Network: a fully connected feed-forward net whose parameters live in one flat float buffer
// (llm.c style), with Eigen views per layer. Forward/backward work on a whole mini-batch at once.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

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
};

// The notebook's network: sigmoid everywhere, quadratic cost.
Architecture sigmoid_architecture(std::vector<int> sizes, Cost cost = Cost::kQuadratic);

// Checks sizes (>= 2 layers, all > 0, first == input_pixels, last >= num_classes), one activation
// per layer, softmax only on the output layer and only with log-likelihood (and vice versa).
Status validate(const Architecture& arch, int input_pixels, int num_classes);

using MatrixMap = Eigen::Map<Eigen::MatrixXf>;
using ConstMatrixMap = Eigen::Map<const Eigen::MatrixXf>;
using VectorMap = Eigen::Map<Eigen::VectorXf>;
using ConstVectorMap = Eigen::Map<const Eigen::VectorXf>;

class Network {
 public:
  Network() = default;
  // Allocates zeroed parameters for `arch` (assumed valid).
  explicit Network(Architecture arch);
  Network(const Network& other);
  Network& operator=(const Network& other);

  const Architecture& arch() const { return arch_; }
  int layers() const { return static_cast<int>(arch_.sizes.size()) - 1; }  // weight layers
  int inputs() const { return arch_.sizes.front(); }
  int outputs() const { return arch_.sizes.back(); }

  // All parameters: for each layer l, W_l (sizes[l+1], sizes[l]) column-major, then b_l.
  std::vector<float>& params() { return params_; }
  const std::vector<float>& params() const { return params_; }
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
  void layout();
  Architecture arch_;
  std::vector<size_t> offsets_;  // (2 * layers): weight and bias offset of each layer
  std::vector<float> params_;
};

// Fills weights and biases the way the book does, drawing from numpy's RandomState(seed):
// biases randn(y, 1) for every layer first, then weights randn(y, x) [scaled by the init].
//   large:   N(0, 1) weights (network.py, network2's large_weight_initializer)
//   default: N(0, 1/n_in) weights (network2's default_weight_initializer)
//   xavier:  N(0, 2/(n_in+n_out)) weights;  he: N(0, 2/n_in) weights
// Biases are N(0, 1) in every case (as in the book).
void init_params(Network& net, Init init, uint32_t seed);

// Scratch space for a mini-batch of up to `max_batch` columns; allocated once, reused every step.
struct Workspace {
  int max_batch = 0;
  std::vector<Eigen::MatrixXf> z;      // per layer l: (sizes[l+1], max_batch) pre-activations
  std::vector<Eigen::MatrixXf> a;      // per layer l: (sizes[l+1], max_batch) activations
  std::vector<Eigen::MatrixXf> delta;  // per layer l: (sizes[l+1], max_batch) dC/dz
  std::vector<Eigen::MatrixXf> mask;   // per hidden layer: (sizes[l+1], max_batch) dropout scale
};
Workspace make_workspace(const Network& net, int max_batch);

// Forward pass on x (inputs, m), m <= ws.max_batch; activations land in ws.a. When `dropout_masks`
// is true the hidden activations are multiplied by ws.mask (filled by the caller).
void forward(const Network& net, const Eigen::Ref<const Eigen::MatrixXf>& x, int m, Workspace& ws,
             bool dropout_masks = false);

// Backward pass after forward(): adds the gradient of the summed cost over the m columns to
// `grad` (same layout as params). `y` holds one-hot targets (outputs, m).
void backward(const Network& net, const Eigen::Ref<const Eigen::MatrixXf>& x,
              const Eigen::Ref<const Eigen::MatrixXf>& y, int m, Workspace& ws, float* grad,
              bool dropout_masks = false);

// Cost of one output column against its one-hot target, as the book defines it
// (quadratic: 0.5*|a-y|^2; cross-entropy: sum -y ln a - (1-y) ln(1-a), with 0*log 0 = 0;
// log-likelihood: -ln a_y). Computed in double.
double sample_cost(Cost cost, const float* a, int n, int label);

}  // namespace nnet

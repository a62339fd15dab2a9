// The engine's working memory and its passes (internal to the library: the CPU backend, the
// float64 reference checks and the tests use them). Each layer kind has one forward and one
// backward function (network.cc); every output shape is asserted. The engine is written once for
// any scalar: float trains, double is what the gradient checks use.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "nnet/network.h"

namespace nnet {

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

// Whether stack layer i's own activations are multiplied by a dropout mask while training
// (LayerSpec::in_place_dropout: TrainOptions::dropout on a --sizes net's hidden layers).
template <class T>
bool drops_in_place(const NetworkT<T>& net, int i) {
  return net.spec(i).in_place_dropout;
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
// its draw is < p (0); per in-place layer (drops_in_place), each unit kept as 1/(1-unit_dropout)
// unless its draw is < unit_dropout. Stack layer order, then column-major.
template <class T, class Uniform>
void fill_dropout_masks(const NetworkT<T>& net, WorkspaceT<T>& ws, int m, double unit_dropout,
                        Uniform&& uniform) {
  for (int i = 0; i < net.stack_size(); ++i) {
    const LayerSpec& s = net.spec(i);
    double p = 0;
    T keep = T(1);
    if (s.kind == LayerKind::kDropout) {
      p = s.drop;
      keep = s.inverted ? static_cast<T>(1.0 / (1.0 - s.drop)) : T(1);
    } else if (unit_dropout > 0 && drops_in_place(net, i)) {
      p = unit_dropout;
      keep = static_cast<T>(1.0 / (1.0 - unit_dropout));
    } else {
      continue;
    }
    T* mk = ws.mask[i].data();  // (size, max_batch)
    const size_t n = static_cast<size_t>(ws.mask[i].rows()) * m;
    for (size_t k = 0; k < n; ++k) mk[k] = uniform() < p ? T(0) : keep;
  }
}

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

// Explicitly instantiated in network.cc for float and double.
#define NNET_WORKSPACE_EXTERN(T)                                                                 \
  extern template WorkspaceT<T> make_workspace<T>(const NetworkT<T>&, int);                      \
  extern template void forward<T>(const NetworkT<T>&, const Eigen::Ref<const MatrixT<T>>&, int,  \
                                  WorkspaceT<T>&, bool);                                         \
  extern template void backward<T>(const NetworkT<T>&, const Eigen::Ref<const MatrixT<T>>&,      \
                                   const Eigen::Ref<const MatrixT<T>>&, int, WorkspaceT<T>&, T*, \
                                   bool);                                                        \
  extern template void apply_update<T>(NetworkT<T>&, const T*, const SgdRule&, T*);              \
  extern template bool sgd_step<T>(NetworkT<T>&, const T* const*, const uint8_t*, int,           \
                                   WorkspaceT<T>&, const SgdRule&, T*, bool);
NNET_WORKSPACE_EXTERN(float)
NNET_WORKSPACE_EXTERN(double)
#undef NNET_WORKSPACE_EXTERN

}  // namespace nnet

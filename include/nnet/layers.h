// A network as a stack of typed layers (the book's chapter 6, network3.py): what each layer is,
// how a stack is spelled on the command line, and the shapes that flow between layers.
//
// A dense net (`--sizes`) needs none of this: Architecture::layers stays empty and the dense
// fast path runs as before. With `--layers`, every sample's activations between two layers are
// one column of a (shape.size(), m) batch matrix, stored channel-major: index (c*h + y)*w + x.
#pragma once

#include <string>
#include <vector>

#include "nnet/activation.h"
#include "nnet/status.h"

namespace nnet {

// One sample's activations between layers: channels x height x width.
struct Shape {
  int c = 1, h = 1, w = 1;
  int size() const { return c * h * w; }
  bool operator==(const Shape&) const = default;
};

enum class LayerKind {
  kConv,            // conv:F:K[:S[:P]]  F filters of K x K, stride S (1), zero padding P (0)
  kMaxPool,         // maxpool:P         P x P, stride P; P must divide the input's h and w
  kAvgPool,         // avgpool:P
  kFullyConnected,  // fc:N
  kSoftmax,         // softmax:N         output layer only, with the log-likelihood cost
  kDropout,         // dropout:P         on the next layer's input (see LayerSpec::inverted)
};

struct LayerSpec {
  LayerKind kind = LayerKind::kFullyConnected;
  int units = 0;   // conv: filters F; fc/softmax: neurons N
  int kernel = 0;  // conv: K; pools: P
  int stride = 1;  // conv only
  int pad = 0;     // conv only, zeros on each side
  // conv/fc: set from --activation (one name for all, or one per conv/fc layer in order);
  // softmax layers always use the softmax activation.
  Activation activation{};
  double drop = 0.0;  // dropout: probability of dropping an input unit
  // dropout: false = network3 (binomial mask while training, inputs scaled by (1-p) at test
  // time); true = inverted (kept units scaled by 1/(1-p) while training, identity at test time).
  bool inverted = false;
  // fc: TrainOptions::dropout drops this layer's outputs in place while training (network2-style
  // hidden-unit dropout). Set for a --sizes net's hidden layers; a stack has dropout:P layers.
  bool in_place_dropout = false;
};

// Parses "conv:20:5,maxpool:2,conv:40:5,maxpool:2,fc:100,softmax:10" into specs, with
// `activations` (from --activation: one name, or one per conv/fc layer) filled in. A malformed
// item is a usage error naming it ("layers: item 3 "conv:x:5": expected ..., found ...").
Status parse_layers(const std::string& spec, const std::vector<Activation>& activations,
                    std::vector<LayerSpec>* out);

// Whether a layer of this kind has weights and biases (conv, fc, softmax): a "weight layer".
bool has_weights(LayerKind kind);

// The command-line spelling of `layers` (parse_layers' inverse, without activations).
std::string layers_to_string(const std::vector<LayerSpec>& layers);

// The output shape of each layer for `input`: (layers.size()) shapes. Checks, before any
// allocation, that the stack is possible (a kernel no larger than its padded input, a pool that
// divides its input, softmax only last, at least one parametrised layer, output >= num_classes);
// a violation is a usage error naming the layer, its input shape and what it needs.
Status layer_shapes(const Shape& input, const std::vector<LayerSpec>& layers, int num_classes,
                    std::vector<Shape>* out);

}  // namespace nnet

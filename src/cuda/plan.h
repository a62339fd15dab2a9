// A network as the CUDA kernels run it: the plan (one entry per layer, built from the stack, or
// a dense net's fc layers (its stack) with the dropout that multiplies their activations in
// place, as the CPU does), and the per-batch buffers each layer needs. Plain C++: DeviceNet
// (device_net.cu) and the host executor of the tests (host_exec.h) build the same plan here.
#pragma once

#include <string>
#include <vector>

#include "common.h"
#include "nn/workspace.h"
#include "nnet/network.h"
#include "nnet/status.h"

namespace nnet::cuda {

// One layer of the plan.
struct Layer {
  LayerKind kind = LayerKind::kFullyConnected;
  int size = 0;     // outputs per sample
  int in_size = 0;  // inputs per sample
  int act = kNoAct;
  int weight = -1;  // weight layer index, -1 without parameters
  size_t w_off = 0, b_off = 0;
  int rows = 0, cols = 0;
  ConvGeom conv{};
  PoolGeom pool{};
  double drop = 0;  // dropout probability: a dropout layer's, or a dense layer's in place
  bool inverted = false;
  bool in_place = false;  // dense nets: the mask multiplies this layer's activations
};

struct Plan {
  std::vector<Layer> layers;
  int inputs = 0, outputs = 0, cost = 0;
  uint32_t seed = 0;
  size_t params = 0;
  LayerBounds bounds{};
  std::vector<int> weight_stack;  // plan layer of each weight layer
};

// The plan of `net`. unit_dropout: the probability of in-place dropout on layers with
// LayerSpec::in_place_dropout (a stack carries dropout layers instead). A usage error for what the
// kernels cannot run.
template <class T>
Status make_plan(const NetworkT<T>& net, double unit_dropout, uint32_t seed, Plan* out) {
  if (net.layers() > kMaxWeightLayers)
    return UsageError("device cuda: at most " + std::to_string(kMaxWeightLayers) +
                      " conv/fc/softmax layers, found " + std::to_string(net.layers()));
  Plan P;
  P.inputs = net.inputs();
  P.outputs = net.outputs();
  P.cost = static_cast<int>(net.arch().cost);
  P.seed = seed;
  P.params = net.params().size();
  // One entry per stack layer; a dense net's hidden fc layers drop in place.
  for (int i = 0; i < net.stack_size(); ++i) {
    const LayerSpec& s = net.spec(i);
    Layer L;
    L.kind = s.kind;
    L.size = net.shape(i).size();
    L.in_size = net.input_shape(i).size();
    L.weight = net.weight_layer(i);
    L.act = s.kind == LayerKind::kSoftmax ? kSoftmax : static_cast<int>(s.activation);
    if (L.weight < 0) L.act = kNoAct;
    const Shape& in = net.input_shape(i);
    const Shape& o = net.shape(i);
    if (s.kind == LayerKind::kConv)
      L.conv = ConvGeom{in.c, in.h, in.w, s.units, s.kernel, s.stride, s.pad, o.h, o.w};
    if (s.kind == LayerKind::kMaxPool || s.kind == LayerKind::kAvgPool)
      L.pool = PoolGeom{in.c, in.h, in.w, s.kernel, o.h, o.w, s.kind == LayerKind::kMaxPool};
    if (s.kind == LayerKind::kDropout) {
      L.drop = s.drop;
      L.inverted = s.inverted;
    }
    if (unit_dropout > 0 && drops_in_place(net, i)) {
      L.in_place = true;
      L.drop = unit_dropout;
      L.inverted = true;
    }
    P.layers.push_back(L);
  }
  if (P.layers.back().weight < 0)
    return UsageError("device cuda: the last layer must be conv, fc or softmax");
  for (size_t i = 0; i < P.layers.size(); ++i) {
    Layer& L = P.layers[i];
    if (L.weight < 0) continue;
    L.w_off = net.weight_offset(L.weight);
    L.b_off = net.bias_offset(L.weight);
    L.rows = net.rows(L.weight);
    L.cols = net.cols(L.weight);
    P.weight_stack.push_back(static_cast<int>(i));
    const int l = L.weight;
    P.bounds.w0[l] = L.w_off;
    P.bounds.b0[l] = L.b_off;
    P.bounds.b1[l] = L.b_off + L.rows;
  }
  P.bounds.layers = net.layers();
  *out = std::move(P);
  return Status::Ok();
}

// Buffers for batches of up to `cap` samples (device or host memory).
template <class T>
struct Buffers {
  int cap = 0;
  T* x = nullptr;                     // (inputs, cap)
  uint8_t* y = nullptr;               // (cap)
  std::vector<T*> z, a, delta, mask;  // per plan layer, (size, cap); z, mask where needed
  std::vector<int*> argmax;           // per plan layer, max pooling's winners
};

// Allocates b's buffers for `cap` samples through mem.template alloc<E>(count) (null for 0).
template <class T, class Memory>
void alloc_buffers(const Plan& plan, int cap, Memory& mem, Buffers<T>* b) {
  b->cap = cap;
  b->x = mem.template alloc<T>(static_cast<size_t>(plan.inputs) * cap);
  b->y = mem.template alloc<uint8_t>(cap);
  for (const Layer& L : plan.layers) {
    const size_t n = static_cast<size_t>(L.size) * cap;
    b->z.push_back(L.weight >= 0 ? mem.template alloc<T>(n) : nullptr);
    b->a.push_back(mem.template alloc<T>(n));
    b->delta.push_back(mem.template alloc<T>(n));
    b->mask.push_back(L.kind == LayerKind::kDropout || L.in_place ? mem.template alloc<T>(n)
                                                                  : nullptr);
    b->argmax.push_back(L.kind == LayerKind::kMaxPool ? mem.template alloc<int>(n) : nullptr);
  }
}

}  // namespace nnet::cuda

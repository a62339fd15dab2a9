// The kernels of one training step, in order: gather, forward through the plan's layers, output
// error, backward, (gradient norms, the probe's evidence), update. Written once, generic over the
// executor that runs each kernel's body:
//   CudaExec (device_net.cu): launches on a stream (and cuBLAS for large products);
//   HostExec (host_exec.h):   loops over every block and thread on the CPU, for the tests.
// An executor provides run(body) for any body of *_kernels.h, has_gemm(), and
// gemm(W, N, K, x, ldx, m, z): z (N, m) = W (N, K) x (K, m).
// The pointers are the executor's memory (device memory for CudaExec); the owner allocates them.
#pragma once

#include <vector>

#include "conv_kernels.h"
#include "dropout_kernels.h"
#include "fc_kernels.h"
#include "loss_kernels.h"
#include "engine/tally.h"
#include "plan.h"
#include "pool_kernels.h"
#include "update_kernels.h"

namespace nnet::cuda {

template <class T, class Ex>
struct Program {
  Plan plan;
  Ex* ex = nullptr;
  T* p = nullptr;  // (params) parameters
  T* g = nullptr;  // (params) this batch's gradient
  T* v = nullptr;  // (params) momentum
  // Training data: images (pixels, n) as float, labels (n), this epoch's order of indices.
  const float* images = nullptr;
  const uint8_t* labels = nullptr;
  const uint32_t* order = nullptr;
  double* norms = nullptr;  // (batches, 2L) per-step gradient norms
  // Probe: per slot and sample; per slot and weight layer; per hidden weight layer and unit.
  uint8_t* probe_argmax = nullptr;
  double* probe_cost = nullptr;
  int* probe_pinned = nullptr;
  double* probe_bias = nullptr;
  std::vector<uint8_t*> probe_active;
  std::vector<int*> probe_sat;

  DropoutCfg<T> dropout_cfg(size_t i) const {
    const Layer& L = plan.layers[i];
    DropoutCfg<T> c;
    c.p = L.drop;
    c.keep = L.inverted ? static_cast<T>(1.0 / (1.0 - L.drop)) : T(1);
    c.test_scale = L.inverted ? T(1) : static_cast<T>(1.0 - L.drop);
    c.seed = plan.seed;
    c.base = static_cast<unsigned long long>(i) << 40;  // each layer's draws apart
    return c;
  }

  // The epilogue of layer i's input gradient: layer i-1's activation derivative, if it has one.
  Epilogue<T> epilogue(const Buffers<T>& ws, size_t i) const {
    Epilogue<T> e;
    if (i == 0) return e;
    const Layer& prev = plan.layers[i - 1];
    if (prev.weight < 0) return e;
    e.act = prev.act;
    e.z = ws.z[i - 1];
    e.a = ws.a[i - 1];
    e.mask = prev.in_place ? ws.mask[i - 1] : nullptr;
    return e;
  }

  // A GEMM for the large products of evaluation; the step's small ones stay in FcForward.
  bool use_gemm(int m) const { return ex->has_gemm() && m > 64; }

  // Forward through every layer on x (inputs, m) of leading dimension ldx.
  void forward(Buffers<T>& ws, const T* x, int ldx, int m, bool training, const StepState* s) {
    for (size_t i = 0; i < plan.layers.size(); ++i) {
      const Layer& L = plan.layers[i];
      const T* in = i == 0 ? x : ws.a[i - 1];
      const int ld = i == 0 ? ldx : plan.layers[i - 1].size;
      const T* W = p + L.w_off;
      const T* b = p + L.b_off;
      switch (L.kind) {
        case LayerKind::kConv:
          ex->run(ConvForward<T>{L.conv, W, b, in, ld, m, L.act, ws.z[i], ws.a[i], s});
          break;
        case LayerKind::kMaxPool:
        case LayerKind::kAvgPool:
          ex->run(PoolForward<T>{L.pool, in, ld, m, ws.a[i], ws.argmax[i], s});
          break;
        case LayerKind::kFullyConnected:
        case LayerKind::kSoftmax: {
          // A layer with an in-place mask draws it in FcForward, which computes z itself.
          const bool in_place = training && L.in_place;
          const bool gemm = use_gemm(m) && !in_place;
          if (gemm) ex->gemm(W, L.rows, L.cols, in, ld, m, ws.z[i]);
          if (L.kind == LayerKind::kSoftmax) {
            ex->run(SoftmaxForward<T>{W, b, L.rows, L.cols, in, ld, m, gemm, ws.z[i], ws.a[i], s});
          } else if (gemm) {
            ex->run(BiasActivate<T>{b, L.rows, m, L.act, ws.z[i], ws.a[i], s});
          } else {
            DropoutCfg<T> drop;
            if (in_place) drop = dropout_cfg(i);
            ex->run(FcForward<T>{W, b, L.rows, L.cols, in, ld, m, L.act, ws.z[i], ws.a[i], drop,
                                 ws.mask[i], s});
          }
          break;
        }
        case LayerKind::kDropout:
          ex->run(DropoutForward<T>{L.size, in, ld, m, training, dropout_cfg(i), ws.mask[i],
                                    ws.a[i], s});
          break;
      }
    }
  }

  // The last layer's dC/dz against the labels ws.y.
  void output_error(Buffers<T>& ws, int m, StepState* s) {
    const size_t last = plan.layers.size() - 1;
    const Layer& L = plan.layers[last];
    ex->run(OutputError<T>{ws.z[last], ws.a[last], ws.y, L.size, m, L.act, plan.cost,
                           ws.delta[last], s});
  }

  // Backward through every layer after output_error filled the last layer's delta: the gradient
  // into g (overwritten), each layer's input gradient into the previous layer's delta.
  void backward(Buffers<T>& ws, const T* x, int ldx, int m, const StepState* s) {
    for (size_t i = plan.layers.size(); i-- > 0;) {
      const Layer& L = plan.layers[i];
      const T* in = i == 0 ? x : ws.a[i - 1];
      const int ld = i == 0 ? ldx : plan.layers[i - 1].size;
      T* dx = i > 0 ? ws.delta[i - 1] : nullptr;
      const Epilogue<T> ep = epilogue(ws, i);
      switch (L.kind) {
        case LayerKind::kConv:
          ex->run(ConvGrad<T>{L.conv, ws.delta[i], in, ld, m, g + L.w_off, g + L.b_off, s});
          if (dx) ex->run(ConvBackwardInput<T>{L.conv, p + L.w_off, ws.delta[i], m, dx, ep, s});
          break;
        case LayerKind::kMaxPool:
        case LayerKind::kAvgPool:
          if (dx) ex->run(PoolBackward<T>{L.pool, ws.delta[i], ws.argmax[i], m, dx, ep, s});
          break;
        case LayerKind::kFullyConnected:
        case LayerKind::kSoftmax:
          ex->run(FcGrad<T>{ws.delta[i], L.rows, L.cols, in, ld, m, g + L.w_off, g + L.b_off, s});
          if (dx)
            ex->run(FcBackwardInput<T>{p + L.w_off, L.rows, L.cols, ws.delta[i], m, dx, ep, s});
          break;
        case LayerKind::kDropout:
          if (dx)
            ex->run(DropoutBackward<T>{L.size, ws.delta[i], ws.mask[i], m, true,
                                       dropout_cfg(i).test_scale, dx, ep, s});
          break;
      }
    }
  }

  // The probe's kernels for this step (engine/tally.h's tally_batch, where the activations are).
  void probe(const Buffers<T>& ws, int m, int stride, StepState* s) {
    const size_t last = plan.layers.size() - 1;
    const bool sigmoid_out = plan.layers[last].act == kSigmoid;
    ex->run(ProbeSamples<T>{ws.a[last], plan.outputs, ws.y, m, plan.cost, sigmoid_out, stride,
                            probe_argmax, probe_cost, probe_pinned, s});
    const int L = static_cast<int>(plan.weight_stack.size());
    for (int l = 0; l + 1 < L; ++l) {
      const Layer& layer = plan.layers[plan.weight_stack[l]];
      const int act = layer.act;
      if (act != kRelu && act != kSigmoid && act != kTanh) continue;
      const SaturationBand band = saturation_band(static_cast<Activation>(act));
      ex->run(ProbeUnits<T>{ws.a[plan.weight_stack[l]], layer.size, m, act, band.lo, band.hi,
                            probe_active[l], probe_sat[l], s});
    }
    for (int l = 0; l < L; ++l) {
      const int i = plan.weight_stack[l];
      ex->run(ProbeBiasNorm<T>{ws.delta[i], plan.layers[i].size, plan.layers[i].rows, m, l, L,
                               probe_bias, s});
    }
    ex->run(ProbeAdvance{s});
  }

  // Every kernel of one training step on m samples of the batch s->step - s->epoch_first.
  void step(Buffers<T>& ws, int m, int batch_size, bool with_probe, bool with_norms, StepState* s) {
    ex->run(Gather<T>{images, labels, plan.inputs, order, batch_size, m, ws.x, ws.y, s});
    forward(ws, ws.x, plan.inputs, m, true, s);
    output_error(ws, m, s);
    backward(ws, ws.x, plan.inputs, m, s);
    if (with_norms) ex->run(GradNorms<T>{g, plan.bounds, m, norms, s});
    if (with_probe) probe(ws, m, batch_size, s);
    ex->run(SgdUpdate<T>{p, g, v, plan.params, plan.bounds, m, s});
  }

  // Per sample of the last forward's m outputs: the first maximum and the cost against y.
  void score(const Buffers<T>& ws, const uint8_t* y, int m, uint8_t* argmax, double* cost) {
    const size_t last = plan.layers.size() - 1;
    ex->run(Score<T>{ws.a[last], plan.outputs, y, m, plan.cost, argmax, cost});
  }
};

}  // namespace nnet::cuda

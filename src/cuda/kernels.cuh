// The launchers of every kernel, one .cu file per layer kind (as llm.c's llmc/): each enqueues on
// `stream` and checks the launch. Layouts as on the CPU (network.h): one sample per column,
// channel-major inside a column; a layer's input X has leading dimension ldx, its own buffers the
// layer's size. `st` is the step state in device memory (common.cuh).
#pragma once

#include <cstdint>

#include "common.cuh"

namespace nnet::cuda {

// ---- fc.cu: fc and softmax layers ----
// z = W X + b, a = act(z) (act not softmax), (N, m); with drop.p > 0 (dense nets, training) a is
// multiplied in place by a fresh mask, stored in `mask`.
template <class T>
void fc_forward(cudaStream_t s, const T* W, const T* b, int N, int K, const T* X, int ldx, int m,
                int act, T* z, T* a, const DropoutCfg<T>& drop, T* mask, const StepState* st);
// Bias and activation after z = W X came from a GEMM (cuBLAS), in place on z.
template <class T>
void bias_activate(cudaStream_t s, const T* b, int N, int m, int act, T* z, T* a,
                   const StepState* st);
// Softmax layer: z = W X + b (unless have_z: z already holds W X + b), a = softmax(z) per column.
template <class T>
void softmax_forward(cudaStream_t s, const T* W, const T* b, int N, int K, const T* X, int ldx,
                     int m, bool have_z, T* z, T* a, const StepState* st);
// gW = d X^T (N, K), gb = d 1 (N): this batch's gradient, overwritten.
template <class T>
void fc_grad(cudaStream_t s, const T* d, int N, int K, const T* X, int ldx, int m, T* gW, T* gb,
             const StepState* st);
// dX = W^T d (K, m) through the epilogue of the layer below.
template <class T>
void fc_backward_input(cudaStream_t s, const T* W, int N, int K, const T* d, int m, T* dX,
                       const Epilogue<T>& ep, const StepState* st);

// ---- conv.cu ----
template <class T>
void conv_forward(cudaStream_t s, const ConvGeom& g, const T* W, const T* b, const T* X, int ldx,
                  int m, int act, T* z, T* a, const StepState* st);
template <class T>
void conv_grad(cudaStream_t s, const ConvGeom& g, const T* d, const T* X, int ldx, int m, T* gW,
               T* gb, const StepState* st);
template <class T>
void conv_backward_input(cudaStream_t s, const ConvGeom& g, const T* W, const T* d, int m, T* dX,
                         const Epilogue<T>& ep, const StepState* st);

// ---- pool.cu ----
template <class T>
void pool_forward(cudaStream_t s, const PoolGeom& g, const T* X, int ldx, int m, T* a,
                  int* argmax, const StepState* st);
template <class T>
void pool_backward(cudaStream_t s, const PoolGeom& g, const T* d, const int* argmax, int m, T* dX,
                   const Epilogue<T>& ep, const StepState* st);

// ---- dropout.cu: dropout layers (network3's, or inverted) ----
template <class T>
void dropout_forward(cudaStream_t s, int n, const T* X, int ldx, int m, bool training,
                     const DropoutCfg<T>& cfg, T* mask, T* a, const StepState* st);
template <class T>
void dropout_backward(cudaStream_t s, int n, const T* d, const T* mask, int m, bool training,
                      T test_scale, T* dX, const Epilogue<T>& ep, const StepState* st);

// ---- loss.cu: data, output error, evaluation and the health probe ----
// x (pixels, m) and y (m) <- the images and labels at order[batch * batch_size + j].
template <class T>
void gather(cudaStream_t s, const float* images, const uint8_t* labels, int pixels,
            const uint32_t* order, int batch_size, int m, T* x, uint8_t* y, const StepState* st);
// d = a - onehot(y) (times act'(z) for the quadratic cost), (n, m); records a non-finite one.
template <class T>
void output_error(cudaStream_t s, const T* z, const T* a, const uint8_t* y, int n, int m, int act,
                  int cost, T* d, StepState* st);
// Per sample: the first maximum's index and the cost (sample_cost()).
template <class T>
void score(cudaStream_t s, const T* a, int n, const uint8_t* y, int m, int cost,
           uint8_t* argmax, double* cost_out);
// The probe's evidence of this batch in slot st->probe_count (then counted): per sample argmax,
// cost and pinned outputs; stride: samples per slot.
template <class T>
void probe_samples(cudaStream_t s, const T* a, int n, const uint8_t* y, int m, int cost,
                   bool sigmoid_out, int stride, uint8_t* argmax, double* cost_out, int* pinned,
                   const StepState* st);
// Per unit of a hidden layer: ever > 0 (ReLU) or count outside the saturation band.
template <class T>
void probe_units(cudaStream_t s, const T* a, int units, int m, int act, float lo, float hi,
                 uint8_t* active, int* sat, const StepState* st);
// |dC/db| / m of a weight layer from its dC/dz (units = rows * positions), into out[slot * L + l].
template <class T>
void probe_bias_norm(cudaStream_t s, const T* d, int units, int rows, int m, int l, int L,
                     double* out, const StepState* st);
// Ends a probed step: st->probe_count += 1.
void probe_advance(cudaStream_t s, StepState* st);

// ---- update.cu ----
// The SGD rule (network.h's apply_update) over all parameters with this batch's gradient; then
// st->step += 1.
template <class T>
void sgd_update(cudaStream_t s, T* p, const T* g, T* v, size_t n, const LayerBounds& lb, int m,
                StepState* st);
// Per weight layer: |dC/db| / m and |dC/dW| / m into out[b * 2L + l] and out[b * 2L + L + l],
// b the batch in the epoch.
template <class T>
void grad_norms(cudaStream_t s, const T* g, const LayerBounds& lb, int m, double* out,
                const StepState* st);
// *flag = 1 if any of the n values is not finite (flag zeroed by the caller).
template <class T>
void check_finite(cudaStream_t s, const T* p, size_t n, int* flag);

}  // namespace nnet::cuda

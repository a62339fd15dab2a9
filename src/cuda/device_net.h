// A network on an NVIDIA GPU: its parameters, gradient, momentum buffer and workspaces in device
// memory, and the layer kinds (src/cuda/*.cu, one file per kind) that run on them. Plain C++: no
// CUDA type crosses this header, so the backend (cuda_backend.cu) and the tests (cuda_test.cc) see
// only this. Every kernel is deterministic: no floating-point atomics, reductions in a fixed order.
//
// The layer list is the stack's (network.h) or, for a dense net, one fc layer per weight layer
// whose dropout (TrainOptions::dropout) multiplies its activations in place, as the CPU does.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nnet/dataset.h"
#include "nnet/network.h"
#include "nnet/status.h"
#include "nnet/train.h"

namespace nnet::cuda {

// Ok when this build has CUDA and a device can be used; else kUnavailable and one line (no
// driver, no device, a build without CUDA).
Status device_status();

// The device's name and compute capability, e.g. "NVIDIA H200 (sm_90, 132 SMs)"; "" without one.
std::string device_name();

// What the kernels of one training step read besides the parameters: the batch's place in the
// epoch, and the epoch's update rule (step = eta / m with the batch's own m).
struct RuleValues {
  double eta = 0, decay = 1, l1 = 0, mu = 0;
};

template <class T>
class DeviceNet {
 public:
  // A net on the device for mini-batches of up to max_batch samples. unit_dropout: the
  // probability of in-place dropout on layers with LayerSpec::in_place_dropout (a --sizes net's
  // hidden layers; a stack carries dropout layers instead). seed keys the
  // dropout masks (counter-based: the mask of step s depends only on seed and s).
  static Status create(const NetworkT<T>& net, int max_batch, double unit_dropout, uint32_t seed,
                       std::unique_ptr<DeviceNet>* out);
  ~DeviceNet();

  void set_params(const T* p);  // (params) host -> device
  void get_params(T* p);        // (params) device -> host
  void set_velocity(const T* v);
  void get_velocity(T* v);
  size_t param_count() const;

  // ---- The training data: uploaded once; batches are positions in an order of its indices. ----
  void set_training(const Dataset& d);  // T must be float for datasets
  void set_order(const std::vector<uint32_t>& order);
  // Where the next step starts: global step index (keys dropout) and its batch in the epoch.
  void set_position(long long global_step, long long batch_in_epoch);
  void set_rule(const RuleValues& r);

  // One SGD step on m samples at order[batch * batch_size ...]: enqueued, not waited for. With
  // probe_slot >= 0 the health probe's evidence of this batch lands in that slot; with
  // norms, the per-layer gradient norms in slot (batch in epoch).
  void step(int m, int batch_size, int probe_slot, bool norms);
  // Replays the step through CUDA graphs (one per distinct (m, probe, norms)): same kernels.
  void step_graph(int m, int batch_size, int probe_slot, bool norms);
  // Waits for everything enqueued; returns the first step (global) whose output error was not
  // finite, or -1.
  long long sync_bad_step();

  // Per-step gradient norms (|dC/db|/m, |dC/dW|/m per layer) of batches [first, end) of the epoch.
  void get_norms(long long first, long long end, std::vector<double>* out);
  // The probe's evidence: per probed batch slot and sample: argmax, cost, pinned outputs; per
  // hidden weight layer and unit: ever active (ReLU) / saturated count (sigmoid, tanh); per slot
  // and weight layer: |dC/db| / m. reset_probe() zeroes the per-unit counts.
  void get_probe(int slots, int batch_size, std::vector<uint8_t>* argmax,
                 std::vector<double>* cost, std::vector<int>* pinned,
                 std::vector<std::vector<uint8_t>>* active, std::vector<std::vector<int>>* sat,
                 std::vector<double>* bias_norms);
  void reset_probe(int slots, int batch_size);

  bool params_finite();

  // ---- Evaluation ----
  // Per sample of `d`: the argmax of the outputs and the cost (sample_cost()). d is uploaded on
  // first use and kept (keyed by address) while this net lives.
  void evaluate(const Dataset& d, std::vector<uint8_t>* argmax, std::vector<double>* cost);

  // ---- For the tests: one batch from host memory, stage by stage. ----
  // Forward on x (inputs, m) column-major; training: dropout masks drawn at global step `step`.
  void forward_host(const T* x, int m, bool training, long long step);
  // After forward_host: output error against labels and backward into the gradient.
  void backward_host(const uint8_t* labels, int m);
  void get_gradient(T* g);                     // (params)
  void get_activations(int layer, int m, T* a);  // stack layer's a (size, m)
  void get_mask(int layer, int m, T* mask);      // dropout layer's (or dense layer's) mask
  // The summed cost of the last forward_host's m samples against labels.
  double cost_host(const uint8_t* labels, int m);

  DeviceNet(const DeviceNet&) = delete;
  DeviceNet& operator=(const DeviceNet&) = delete;

 private:
  DeviceNet();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

extern template class DeviceNet<float>;
extern template class DeviceNet<double>;

}  // namespace nnet::cuda

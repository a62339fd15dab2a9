// What DeviceNet (device_net.h) does, written once over an executor that owns the memory and runs
// the kernels' bodies: CudaExec (device_net.cu) on the GPU, HostExec (host_exec.h) on the CPU for
// the tests. Besides Program's run(body), has_gemm() and gemm(...), an executor provides
//   alloc<E>(n) (null for n == 0), release(p), to_device(dst, src, bytes),
//   to_host(dst, src, bytes), zero(dst, bytes) and sync(),
// where the copies and fills are ordered after everything run before them and complete on return.
// DeviceNet adds only what needs a GPU: the device check, cuBLAS, and CUDA graphs of the step.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "nnet/dataset.h"
#include "program.h"

namespace nnet::cuda {

template <class T, class Ex>
class NetRunner {
 public:
  explicit NetRunner(Ex* ex) { prog_.ex = ex; }
  ~NetRunner() {
    for (void* q : owned_) ex().release(q);
    release_data(training_);
    for (auto& kv : datasets_) release_data(kv.second);
  }
  NetRunner(const NetRunner&) = delete;
  NetRunner& operator=(const NetRunner&) = delete;

  // The plan of `net`, buffers for batches of up to max_batch samples, net's parameters.
  Status init(const NetworkT<T>& net, int max_batch, double unit_dropout, uint32_t seed) {
    NNET_RETURN_IF_ERROR(make_plan(net, unit_dropout, seed, &prog_.plan));
    const Plan& P = prog_.plan;
    max_batch_ = std::max(max_batch, 1);
    prog_.p = own<T>(P.params);
    prog_.g = own<T>(P.params);
    prog_.v = own<T>(P.params);
    ex().zero(prog_.v, P.params * sizeof(T));
    ex().zero(prog_.g, P.params * sizeof(T));
    st_ = own<StepState>(1);
    eval_st_ = own<StepState>(1);
    flag_ = own<int>(1);
    const StepState fresh;
    ex().to_device(st_, &fresh, sizeof fresh);
    ex().to_device(eval_st_, &fresh, sizeof fresh);
    alloc_buffers(P, max_batch_, *this, &train_);
    // Per hidden weight layer, per unit: the probe's counts.
    for (size_t l = 0; l + 1 < P.weight_stack.size(); ++l) {
      const size_t units = P.layers[P.weight_stack[l]].size;
      prog_.probe_active.push_back(own<uint8_t>(units));
      prog_.probe_sat.push_back(own<int>(units));
    }
    set_params(net.params().data());
    return Status::Ok();
  }

  const Plan& plan() const { return prog_.plan; }
  size_t param_count() const { return plan().params; }
  // Changes whenever a pointer the step's kernels were given changes (CUDA graphs hold them).
  int layout() const { return layout_; }

  void set_params(const T* h) { ex().to_device(prog_.p, h, bytes(plan().params)); }
  void get_params(T* h) { ex().to_host(h, prog_.p, bytes(plan().params)); }
  void set_velocity(const T* h) { ex().to_device(prog_.v, h, bytes(plan().params)); }
  void get_velocity(T* h) { ex().to_host(h, prog_.v, bytes(plan().params)); }

  void set_training(const Dataset& d) {
    release_data(training_);
    training_ = upload(d);
    prog_.images = training_.images;
    prog_.labels = training_.labels;
    ++layout_;
  }

  void set_order(const std::vector<uint32_t>& order) {
    if (order_cap_ < order.size()) {
      ex().sync();
      forget(order_);
      order_ = own<uint32_t>(order.size());
      prog_.order = order_;
      order_cap_ = order.size();
      ++layout_;
    }
    // The copy has left `order` when this returns, so the caller may reshuffle.
    ex().to_device(order_, order.data(), order.size() * sizeof(uint32_t));
  }

  void set_position(long long global_step, long long batch_in_epoch) {
    StepState h = read_state();
    h.step = global_step;
    h.epoch_first = global_step - batch_in_epoch;
    write_state(h);
  }

  void set_rule(double eta, double decay, double l1, double mu) {
    StepState h = read_state();
    h.eta = eta;
    h.decay = decay;
    h.l1 = l1;
    h.mu = mu;
    write_state(h);
  }

  // The norms of every mini-batch of an epoch: (batches, 2L). Before a step with norms.
  void ensure_norms(int batch_size) {
    const size_t batches = (order_cap_ + batch_size - 1) / batch_size + 1;
    if (norms_cap_ >= batches) return;
    ex().sync();
    forget(prog_.norms);
    prog_.norms = own<double>(batches * 2 * plan().weight_stack.size());
    norms_cap_ = batches;
    ++layout_;
  }

  // Every kernel of one training step (ensure_norms first when with_norms).
  void enqueue_step(int m, int batch_size, bool probe, bool with_norms) {
    prog_.step(train_, m, batch_size, probe, with_norms, st_);
  }
  // One SGD step on m samples at order[batch * batch_size ...] (DeviceNet::step).
  void step(int m, int batch_size, bool probe, bool with_norms) {
    if (with_norms) ensure_norms(batch_size);
    enqueue_step(m, batch_size, probe, with_norms);
  }

  // Waits for everything enqueued; the first step whose output error was not finite, or -1.
  long long sync_bad_step() {
    const StepState h = read_state();
    return h.bad_step == kNoBadStep ? -1 : h.bad_step;
  }

  void get_norms(long long first, long long end, std::vector<double>* out) {
    const size_t width = 2 * plan().weight_stack.size();
    out->assign(static_cast<size_t>(end - first) * width, 0.0);
    if (end > first)
      ex().to_host(out->data(), prog_.norms + static_cast<size_t>(first) * width,
                   out->size() * sizeof(double));
  }

  void get_probe(int slots, int batch_size, std::vector<uint8_t>* argmax, std::vector<double>* cost,
                 std::vector<int>* pinned, std::vector<std::vector<uint8_t>>* active,
                 std::vector<std::vector<int>>* sat, std::vector<double>* bias_norms) {
    const size_t samples = static_cast<size_t>(slots) * batch_size;
    argmax->resize(samples);
    cost->resize(samples);
    pinned->resize(samples);
    bias_norms->resize(static_cast<size_t>(slots) * plan().weight_stack.size());
    if (samples > 0) {
      ex().to_host(argmax->data(), prog_.probe_argmax, samples);
      ex().to_host(cost->data(), prog_.probe_cost, samples * sizeof(double));
      ex().to_host(pinned->data(), prog_.probe_pinned, samples * sizeof(int));
      ex().to_host(bias_norms->data(), prog_.probe_bias, bias_norms->size() * sizeof(double));
    }
    active->resize(prog_.probe_active.size());
    sat->resize(prog_.probe_sat.size());
    for (size_t l = 0; l < prog_.probe_active.size(); ++l) {
      const size_t units = hidden_units(l);
      (*active)[l].resize(units);
      (*sat)[l].resize(units);
      ex().to_host((*active)[l].data(), prog_.probe_active[l], units);
      ex().to_host((*sat)[l].data(), prog_.probe_sat[l], units * sizeof(int));
    }
  }

  void reset_probe(int slots, int batch_size) {
    ensure_probe(slots, batch_size);
    for (size_t l = 0; l < prog_.probe_active.size(); ++l) {
      ex().zero(prog_.probe_active[l], hidden_units(l));
      ex().zero(prog_.probe_sat[l], hidden_units(l) * sizeof(int));
    }
    StepState h = read_state();
    h.probe_count = 0;
    write_state(h);
  }

  bool params_finite() {
    ex().zero(flag_, sizeof(int));
    ex().run(CheckFinite<T>{prog_.p, plan().params, flag_});
    int h = 0;
    ex().to_host(&h, flag_, sizeof h);
    return h == 0;
  }

  // Per sample of `d`: the first maximum and the cost; d is uploaded on first use and kept
  // (keyed by address).
  void evaluate(const Dataset& d, std::vector<uint8_t>* argmax, std::vector<double>* cost) {
    auto it = datasets_.find(&d);
    if (it == datasets_.end() || it->second.n != d.size()) {
      if (it != datasets_.end()) {
        release_data(it->second);
        datasets_.erase(it);
      }
      it = datasets_.emplace(&d, upload(d)).first;
    }
    const Data& dd = it->second;
    // Pieces whose workspace stays near 1 GiB (the book's conv net: ~210 KB a sample).
    size_t per_sample = 0;
    for (const Layer& L : plan().layers) per_sample += 4 * static_cast<size_t>(L.size) * sizeof(T);
    const size_t piece = std::clamp<size_t>(eval_bytes_ / std::max<size_t>(per_sample, 1), 1,
                                            std::max<size_t>(dd.n, 1));
    if (eval_.cap < static_cast<int>(std::min<size_t>(piece, 1 << 20))) {
      ex().sync();
      for (void* q : eval_owned_) forget(q);
      eval_owned_.clear();
      eval_ = Buffers<T>();
      const size_t mark = owned_.size();
      alloc_buffers(plan(), static_cast<int>(piece), *this, &eval_);
      eval_owned_.assign(owned_.begin() + mark, owned_.end());
    }
    if (score_cap_ < dd.n) {
      forget(score_argmax_);
      forget(score_cost_);
      score_argmax_ = own<uint8_t>(dd.n);
      score_cost_ = own<double>(dd.n);
      score_cap_ = dd.n;
    }
    for (size_t begin = 0; begin < dd.n; begin += piece) {
      const int m = static_cast<int>(std::min(piece, dd.n - begin));
      const T* x;
      if constexpr (std::is_same_v<T, float>) {
        x = dd.images + begin * dd.pixels;
      } else {
        // Double nets (tests) convert the images into the workspace first.
        std::vector<T> h(static_cast<size_t>(m) * dd.pixels);
        const float* src = d.image(begin);
        for (size_t k = 0; k < h.size(); ++k) h[k] = src[k];
        ex().to_device(eval_.x, h.data(), bytes(h.size()));
        x = eval_.x;
      }
      prog_.forward(eval_, x, dd.pixels, m, false, eval_st_);
      prog_.score(eval_, dd.labels + begin, m, score_argmax_ + begin, score_cost_ + begin);
    }
    argmax->resize(dd.n);
    cost->resize(dd.n);
    if (dd.n > 0) {
      ex().to_host(argmax->data(), score_argmax_, dd.n);
      ex().to_host(cost->data(), score_cost_, dd.n * sizeof(double));
    }
  }

  // ---- The tests' stages: one batch from host memory (the eval step state, never halted) ----
  void forward_host(const T* x, int m, bool training, long long step) {
    StepState h;
    h.step = step;
    ex().to_device(eval_st_, &h, sizeof h);
    ex().to_device(train_.x, x, bytes(static_cast<size_t>(plan().inputs) * m));
    prog_.forward(train_, train_.x, plan().inputs, m, training, eval_st_);
    ex().sync();
  }
  void backward_host(const uint8_t* labels, int m) {
    ex().to_device(train_.y, labels, m);
    prog_.output_error(train_, m, eval_st_);
    prog_.backward(train_, train_.x, plan().inputs, m, eval_st_);
    ex().sync();
  }
  void get_gradient(T* h) { ex().to_host(h, prog_.g, bytes(plan().params)); }
  void get_activations(int layer, int m, T* a) {
    ex().to_host(a, train_.a[layer], bytes(static_cast<size_t>(plan().layers[layer].size) * m));
  }
  void get_mask(int layer, int m, T* mask) {
    ex().to_host(mask, train_.mask[layer],
                 bytes(static_cast<size_t>(plan().layers[layer].size) * m));
  }
  double cost_host(const uint8_t* labels, int m) {
    ex().to_device(train_.y, labels, m);
    uint8_t* am = ex().template alloc<uint8_t>(m);
    double* c = ex().template alloc<double>(m);
    prog_.score(train_, train_.y, m, am, c);
    std::vector<double> h(m);
    ex().to_host(h.data(), c, m * sizeof(double));
    ex().release(am);
    ex().release(c);
    double s = 0;
    for (double x : h) s += x;
    return s;
  }

  // ---- For the host tests: what the kernels left ----
  const Buffers<T>& train_buffers() const { return train_; }
  StepState state() { return read_state(); }
  // Evaluation's pieces hold at most this many bytes of workspace (1 GiB; tests make it small).
  void set_eval_bytes(size_t b) { eval_bytes_ = b; }

  // alloc_buffers' memory: owned, released with the runner.
  template <class E>
  E* alloc(size_t n) {
    return own<E>(n);
  }

 private:
  struct Data {
    float* images = nullptr;
    uint8_t* labels = nullptr;
    size_t n = 0;
    int pixels = 0;
  };

  Ex& ex() { return *prog_.ex; }
  static size_t bytes(size_t n) { return n * sizeof(T); }
  size_t hidden_units(size_t l) const { return plan().layers[plan().weight_stack[l]].size; }

  template <class E>
  E* own(size_t n) {
    E* q = ex().template alloc<E>(n);
    if (q) owned_.push_back(q);
    return q;
  }
  // Releases q, one of owned_ (or null).
  void forget(const void* q) {
    if (!q) return;
    auto it = std::find(owned_.begin(), owned_.end(), q);
    if (it == owned_.end()) return;
    ex().release(*it);
    owned_.erase(it);
  }

  Data upload(const Dataset& d) {
    Data dd;
    dd.n = d.size();
    dd.pixels = d.pixels();
    dd.images = ex().template alloc<float>(dd.n * dd.pixels);
    dd.labels = ex().template alloc<uint8_t>(dd.n);
    if (dd.n > 0) {
      ex().to_device(dd.images, d.image(0), dd.n * dd.pixels * sizeof(float));
      ex().to_device(dd.labels, d.labels.data(), dd.n);
    }
    return dd;
  }
  void release_data(Data& dd) {
    ex().sync();
    if (dd.images) ex().release(dd.images);
    if (dd.labels) ex().release(dd.labels);
    dd = Data();
  }

  void ensure_probe(int slots, int batch_size) {
    const size_t samples = static_cast<size_t>(slots) * batch_size;
    if (probe_cap_ >= static_cast<size_t>(slots) && probe_samples_cap_ >= samples) return;
    ex().sync();
    forget(prog_.probe_argmax);
    forget(prog_.probe_cost);
    forget(prog_.probe_pinned);
    forget(prog_.probe_bias);
    probe_cap_ = slots;
    probe_samples_cap_ = samples;
    prog_.probe_argmax = own<uint8_t>(samples);
    prog_.probe_cost = own<double>(samples);
    prog_.probe_pinned = own<int>(samples);
    prog_.probe_bias = own<double>(static_cast<size_t>(slots) * plan().weight_stack.size());
    ++layout_;
  }

  StepState read_state() {
    StepState h;
    ex().to_host(&h, st_, sizeof h);
    return h;
  }
  void write_state(const StepState& h) { ex().to_device(st_, &h, sizeof h); }

  Program<T, Ex> prog_;
  int max_batch_ = 0;
  StepState* st_ = nullptr;       // training steps
  StepState* eval_st_ = nullptr;  // evaluation and the tests' stages: never halted
  int* flag_ = nullptr;
  Buffers<T> train_, eval_;
  std::vector<void*> owned_;       // every allocation but the data sets'
  std::vector<void*> eval_owned_;  // the evaluation buffers among them
  Data training_;
  uint32_t* order_ = nullptr;
  size_t order_cap_ = 0, norms_cap_ = 0, probe_cap_ = 0, probe_samples_cap_ = 0, score_cap_ = 0;
  uint8_t* score_argmax_ = nullptr;
  double* score_cost_ = nullptr;
  std::map<const Dataset*, Data> datasets_;
  size_t eval_bytes_ = size_t{1} << 30;
  int layout_ = 0;
};

}  // namespace nnet::cuda

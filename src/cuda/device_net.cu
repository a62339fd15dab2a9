// DeviceNet: the plan (one entry per layer), the device buffers, and the step as a sequence of
// launches: gather, forward through the layers, output error, backward, (norms, probe), update.
// A step is captured once per (m, probe, norms) as a CUDA graph and replayed: its kernels read the
// batch position and rule from the StepState in device memory, so one graph serves every step.
#include <cublas_v2.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <tuple>

#include "device_net.h"
#include "kernels.cuh"
#include "engine/tally.h"
#include "nn/workspace.h"

namespace nnet::cuda {

namespace {

template <class T>
T* device_alloc(size_t n) {
  if (n == 0) return nullptr;
  T* p = nullptr;
  NNET_CUDA_CHECK(cudaMalloc(&p, n * sizeof(T)));
  return p;
}

void device_free(void* p) {
  if (p) cudaFree(p);
}

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
  double drop = 0;      // dropout probability: a dropout layer's, or a dense layer's in place
  bool inverted = false;
  bool in_place = false;  // dense nets: the mask multiplies this layer's activations
};

// Buffers for batches of up to `cap` samples.
template <class T>
struct Workspace {
  int cap = 0;
  T* x = nullptr;          // (inputs, cap)
  uint8_t* y = nullptr;    // (cap)
  std::vector<T*> z, a, delta, mask;
  std::vector<int*> argmax;
  void free_all() {
    device_free(x);
    device_free(y);
    for (auto* v : {&z, &a, &delta, &mask})
      for (T* p : *v) device_free(p);
    for (int* p : argmax) device_free(p);
    z.clear(), a.clear(), delta.clear(), mask.clear(), argmax.clear();
  }
};

struct DeviceData {
  float* images = nullptr;
  uint8_t* labels = nullptr;
  size_t n = 0;
  int pixels = 0;
};


// cuBLAS, opened the first time a GPU is used: linked, its ~600 MB of libraries would be mapped
// into every nnet process, CPU runs included (230 MB more peak memory for `nnet --help`).
struct Blas {
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetStream_v2) set_stream = nullptr;
  decltype(&cublasSetMathMode) set_math_mode = nullptr;
  decltype(&cublasSgemm_v2) sgemm = nullptr;
  decltype(&cublasDgemm_v2) dgemm = nullptr;
  bool ok() const { return create && destroy && set_stream && set_math_mode && sgemm && dgemm; }

  static const Blas& get() {
    static const Blas blas = [] {
      Blas b;
      void* lib = nullptr;
      for (const char* name : {"libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.13",
                               "/usr/local/cuda/lib/libcublas.so.13"})
        if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
      if (!lib) return b;  // evaluation then uses fc.cu's kernels for every product
      b.create = reinterpret_cast<decltype(b.create)>(dlsym(lib, "cublasCreate_v2"));
      b.destroy = reinterpret_cast<decltype(b.destroy)>(dlsym(lib, "cublasDestroy_v2"));
      b.set_stream = reinterpret_cast<decltype(b.set_stream)>(dlsym(lib, "cublasSetStream_v2"));
      b.set_math_mode = reinterpret_cast<decltype(b.set_math_mode)>(dlsym(lib, "cublasSetMathMode"));
      b.sgemm = reinterpret_cast<decltype(b.sgemm)>(dlsym(lib, "cublasSgemm_v2"));
      b.dgemm = reinterpret_cast<decltype(b.dgemm)>(dlsym(lib, "cublasDgemm_v2"));
      return b;
    }();
    return blas;
  }
};

}  // namespace

Status device_status() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  // The static runtime loads the driver (libcuda) only now; without it every call says
  // "insufficient driver", which would mislead: say what is missing.
  if (e == cudaErrorInsufficientDriver) {
    void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (!lib) lib = dlopen("libcuda.so.1", RTLD_NOW);
    if (!lib)
      return Status::Error(Code::kUnavailable,
                           "--device cuda: no NVIDIA driver on this machine (libcuda.so.1 not "
                           "found); run on the CPU (--device cpu)");
    dlclose(lib);
    return Status::Error(Code::kUnavailable,
                         "--device cuda: the NVIDIA driver is older than CUDA 13 needs; update "
                         "it, or run on the CPU (--device cpu)");
  }
  if (e == cudaErrorNoDevice || e == cudaErrorInitializationError ||
      e == cudaErrorCompatNotSupportedOnDevice)
    return Status::Error(Code::kUnavailable,
                         std::string("--device cuda: no usable GPU (") + cudaGetErrorString(e) +
                             "); run on the CPU (--device cpu)");
  if (e != cudaSuccess)
    return Status::Error(Code::kUnavailable, std::string("--device cuda: CUDA cannot start (") +
                                                 cudaGetErrorString(e) + ")");
  if (count == 0)
    return Status::Error(Code::kUnavailable,
                         "--device cuda: the driver sees no GPU; run on the CPU (--device cpu)");
  // The build's kernels are for sm_90 (plus PTX any newer device compiles).
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, 0) != cudaSuccess)
    return Status::Error(Code::kUnavailable, "--device cuda: cannot read the GPU's properties");
  if (p.major < 9)
    return Status::Error(Code::kUnavailable,
                         std::string("--device cuda: ") + p.name + " is sm_" +
                             std::to_string(p.major * 10 + p.minor) +
                             "; this build's kernels need sm_90 or newer");
  // A first allocation proves the context works (a driver older than the runtime fails here).
  void* probe = nullptr;
  const cudaError_t a = cudaMalloc(&probe, 256);
  if (a != cudaSuccess)
    return Status::Error(Code::kUnavailable, std::string("--device cuda: cannot use ") + p.name +
                                                 " (" + cudaGetErrorString(a) + ")");
  cudaFree(probe);
  return Status::Ok();
}

std::string device_name() {
  if (!device_status().ok()) return "";
  cudaDeviceProp p{};
  cudaGetDeviceProperties(&p, 0);
  return std::string(p.name) + " (sm_" + std::to_string(p.major * 10 + p.minor) + ", " +
         std::to_string(p.multiProcessorCount) + " SMs)";
}

template <class T>
struct DeviceNet<T>::Impl {
  std::vector<Layer> plan;
  int inputs = 0, outputs = 0, cost = 0, max_batch = 0;
  uint32_t seed = 0;
  size_t params = 0;
  LayerBounds bounds{};
  std::vector<int> weight_stack;  // stack layer of each weight layer
  T* p = nullptr;
  T* g = nullptr;
  T* v = nullptr;
  StepState* st = nullptr;       // training steps
  StepState* eval_st = nullptr;  // evaluation and the tests' stages: never halted
  Workspace<T> train, eval;
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  bool blas_ok = false;
  // Training data and per-epoch buffers.
  DeviceData training;
  uint32_t* order = nullptr;
  size_t order_cap = 0;
  double* norms = nullptr;  // (batches, 2L)
  size_t norms_cap = 0;
  // Probe: per slot and sample; per hidden layer and unit; per slot and weight layer.
  uint8_t* probe_argmax = nullptr;
  double* probe_cost = nullptr;
  int* probe_pinned = nullptr;
  double* probe_bias = nullptr;
  size_t probe_cap = 0;  // slots
  std::vector<uint8_t*> probe_active;
  std::vector<int*> probe_sat;
  int* flag = nullptr;
  std::map<const Dataset*, DeviceData> datasets;
  uint8_t* score_argmax = nullptr;
  double* score_cost = nullptr;
  size_t score_cap = 0;
  std::map<std::tuple<int, bool, bool>, cudaGraphExec_t> graphs;

  ~Impl() {
    if (stream) cudaStreamSynchronize(stream);
    for (auto& kv : graphs) cudaGraphExecDestroy(kv.second);
    train.free_all();
    eval.free_all();
    for (void* q : {static_cast<void*>(p), static_cast<void*>(g), static_cast<void*>(v),
                    static_cast<void*>(st), static_cast<void*>(eval_st),
                    static_cast<void*>(order), static_cast<void*>(norms),
                    static_cast<void*>(probe_argmax), static_cast<void*>(probe_cost),
                    static_cast<void*>(probe_pinned), static_cast<void*>(probe_bias),
                    static_cast<void*>(flag), static_cast<void*>(training.images),
                    static_cast<void*>(training.labels), static_cast<void*>(score_argmax),
                    static_cast<void*>(score_cost)})
      device_free(q);
    for (uint8_t* q : probe_active) device_free(q);
    for (int* q : probe_sat) device_free(q);
    for (auto& kv : datasets) {
      device_free(kv.second.images);
      device_free(kv.second.labels);
    }
    if (blas) Blas::get().destroy(blas);
    if (stream) cudaStreamDestroy(stream);
  }

  void alloc_workspace(Workspace<T>& ws, int cap) {
    ws.free_all();
    ws.cap = cap;
    ws.x = device_alloc<T>(static_cast<size_t>(inputs) * cap);
    ws.y = device_alloc<uint8_t>(cap);
    for (const Layer& L : plan) {
      const size_t n = static_cast<size_t>(L.size) * cap;
      ws.z.push_back(L.weight >= 0 ? device_alloc<T>(n) : nullptr);
      ws.a.push_back(device_alloc<T>(n));
      ws.delta.push_back(device_alloc<T>(n));
      ws.mask.push_back(L.kind == LayerKind::kDropout || L.in_place ? device_alloc<T>(n) : nullptr);
      ws.argmax.push_back(L.kind == LayerKind::kMaxPool ? device_alloc<int>(n) : nullptr);
    }
  }

  DropoutCfg<T> dropout_cfg(size_t i) const {
    const Layer& L = plan[i];
    DropoutCfg<T> c;
    c.p = static_cast<float>(L.drop);
    c.keep = L.inverted ? static_cast<T>(1.0 / (1.0 - L.drop)) : T(1);
    c.test_scale = L.inverted ? T(1) : static_cast<T>(1.0 - L.drop);
    c.seed = seed;
    c.base = static_cast<unsigned long long>(i) << 40;  // each layer's draws apart
    return c;
  }

  // The epilogue of layer i's input gradient: layer i-1's activation derivative, if it has one.
  Epilogue<T> epilogue(const Workspace<T>& ws, size_t i) const {
    Epilogue<T> e;
    if (i == 0) return e;
    const Layer& prev = plan[i - 1];
    if (prev.weight < 0) return e;
    e.act = prev.act;
    e.z = ws.z[i - 1];
    e.a = ws.a[i - 1];
    e.mask = prev.in_place ? ws.mask[i - 1] : nullptr;
    return e;
  }

  // Forward through every layer on x (inputs, m) of leading dimension ldx.
  void forward(Workspace<T>& ws, const T* x, int ldx, int m, bool training, const StepState* s) {
    for (size_t i = 0; i < plan.size(); ++i) {
      const Layer& L = plan[i];
      const T* in = i == 0 ? x : ws.a[i - 1];
      const int ld = i == 0 ? ldx : plan[i - 1].size;
      const T* W = p + L.w_off;
      const T* b = p + L.b_off;
      switch (L.kind) {
        case LayerKind::kConv:
          conv_forward(stream, L.conv, W, b, in, ld, m, L.act, ws.z[i], ws.a[i], s);
          break;
        case LayerKind::kMaxPool:
        case LayerKind::kAvgPool:
          pool_forward(stream, L.pool, in, ld, m, ws.a[i], ws.argmax[i], s);
          break;
        case LayerKind::kFullyConnected:
        case LayerKind::kSoftmax: {
          const bool gemm = use_gemm(m);
          if (gemm) product(W, L.rows, L.cols, in, ld, m, ws.z[i]);
          if (L.kind == LayerKind::kSoftmax) {
            softmax_forward(stream, W, b, L.rows, L.cols, in, ld, m, gemm, ws.z[i], ws.a[i], s);
          } else if (gemm && !(training && L.in_place)) {
            bias_activate(stream, b, L.rows, m, L.act, ws.z[i], ws.a[i], s);
          } else {
            DropoutCfg<T> drop;
            if (training && L.in_place) drop = dropout_cfg(i);
            fc_forward(stream, W, b, L.rows, L.cols, in, ld, m, L.act, ws.z[i], ws.a[i], drop,
                       ws.mask[i], s);
          }
          break;
        }
        case LayerKind::kDropout:
          dropout_forward(stream, L.size, in, ld, m, training, dropout_cfg(i), ws.mask[i], ws.a[i],
                          s);
          break;
      }
    }
  }

  // cuBLAS for the large products of evaluation; the step's small ones stay in fc.cu's kernel.
  bool use_gemm(int m) const { return blas_ok && m > 64; }

  // z (N, m) = W (N, K) x (K, m) through cuBLAS (fp32 or fp64, no TF32).
  void product(const T* W, int N, int K, const T* x, int ldx, int m, T* z) {
    const T one = 1, zero = 0;
    cublasStatus_t r;
    if constexpr (std::is_same_v<T, float>)
      r = Blas::get().sgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, N, m, K, &one, W, N, x, ldx, &zero, z,
                            N);
    else
      r = Blas::get().dgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, N, m, K, &one, W, N, x, ldx, &zero, z,
                            N);
    if (r != CUBLAS_STATUS_SUCCESS) {
      std::fprintf(stderr, "nnet: cuBLAS gemm failed (status %d)\n", static_cast<int>(r));
      std::abort();
    }
  }

  // Backward through every layer after output_error filled the last layer's delta.
  void backward(Workspace<T>& ws, const T* x, int ldx, int m, const StepState* s) {
    for (size_t i = plan.size(); i-- > 0;) {
      const Layer& L = plan[i];
      const T* in = i == 0 ? x : ws.a[i - 1];
      const int ld = i == 0 ? ldx : plan[i - 1].size;
      T* dx = i > 0 ? ws.delta[i - 1] : nullptr;
      const Epilogue<T> ep = epilogue(ws, i);
      switch (L.kind) {
        case LayerKind::kConv:
          conv_grad(stream, L.conv, ws.delta[i], in, ld, m, g + L.w_off, g + L.b_off, s);
          if (dx) conv_backward_input(stream, L.conv, p + L.w_off, ws.delta[i], m, dx, ep, s);
          break;
        case LayerKind::kMaxPool:
        case LayerKind::kAvgPool:
          if (dx) pool_backward(stream, L.pool, ws.delta[i], ws.argmax[i], m, dx, ep, s);
          break;
        case LayerKind::kFullyConnected:
        case LayerKind::kSoftmax:
          fc_grad(stream, ws.delta[i], L.rows, L.cols, in, ld, m, g + L.w_off, g + L.b_off, s);
          if (dx) fc_backward_input(stream, p + L.w_off, L.rows, L.cols, ws.delta[i], m, dx, ep, s);
          break;
        case LayerKind::kDropout:
          if (dx)
            dropout_backward(stream, L.size, ws.delta[i], ws.mask[i], m, true,
                             dropout_cfg(i).test_scale, dx, ep, s);
          break;
      }
    }
  }

  void output_error_of(Workspace<T>& ws, int m, StepState* s) {
    const size_t last = plan.size() - 1;
    output_error(stream, ws.z[last], ws.a[last], ws.y, plan[last].size, m, plan[last].act, cost,
                 ws.delta[last], s);
  }

  // The probe's kernels for this step (engine/tally.h's tally_batch on the device).
  void probe_kernels(int m, int stride) {
    const size_t last = plan.size() - 1;
    const bool sigmoid_out = plan[last].act == kSigmoid;
    probe_samples(stream, train.a[last], outputs, train.y, m, cost, sigmoid_out, stride,
                  probe_argmax, probe_cost, probe_pinned, st);
    const int L = static_cast<int>(weight_stack.size());
    for (int l = 0; l + 1 < L; ++l) {
      const int i = weight_stack[l];
      const int act = plan[i].act;
      if (act != kRelu && act != kSigmoid && act != kTanh) continue;
      const SaturationBand band = saturation_band(static_cast<Activation>(act));
      probe_units(stream, train.a[i], plan[i].size, m, act, band.lo, band.hi, probe_active[l],
                  probe_sat[l], st);
    }
    for (int l = 0; l < L; ++l) {
      const int i = weight_stack[l];
      probe_bias_norm(stream, train.delta[i], plan[i].size, plan[i].rows, m, l, L, probe_bias, st);
    }
    probe_advance(stream, st);
  }

  // Every launch of one training step.
  void enqueue_step(int m, int batch_size, bool probe, bool with_norms) {
    gather(stream, training.images, training.labels, inputs, order, batch_size, m, train.x,
           train.y, st);
    forward(train, train.x, inputs, m, true, st);
    output_error_of(train, m, st);
    backward(train, train.x, inputs, m, st);
    if (with_norms) grad_norms(stream, g, bounds, m, norms, st);
    if (probe) probe_kernels(m, batch_size);
    sgd_update(stream, p, g, v, params, bounds, m, st);
  }

  // The norms of every mini-batch of an epoch: (batches, 2L).
  void ensure_norms(int batch_size) {
    const size_t batches = (order_cap + batch_size - 1) / batch_size + 1;
    if (norms_cap >= batches) return;
    NNET_CUDA_CHECK(cudaStreamSynchronize(stream));
    device_free(norms);
    norms = device_alloc<double>(batches * 2 * weight_stack.size());
    norms_cap = batches;
    for (auto& kv : graphs) cudaGraphExecDestroy(kv.second);
    graphs.clear();
  }

  void ensure_probe(int slots, int batch_size) {
    if (probe_cap >= static_cast<size_t>(slots)) return;
    NNET_CUDA_CHECK(cudaStreamSynchronize(stream));
    device_free(probe_argmax);
    device_free(probe_cost);
    device_free(probe_pinned);
    device_free(probe_bias);
    probe_cap = slots;
    const size_t samples = static_cast<size_t>(slots) * batch_size;
    probe_argmax = device_alloc<uint8_t>(samples);
    probe_cost = device_alloc<double>(samples);
    probe_pinned = device_alloc<int>(samples);
    probe_bias = device_alloc<double>(static_cast<size_t>(slots) * weight_stack.size());
    // Graphs hold the old pointers.
    for (auto& kv : graphs) cudaGraphExecDestroy(kv.second);
    graphs.clear();
  }

  StepState read_state() {
    StepState h;
    NNET_CUDA_CHECK(cudaMemcpyAsync(&h, st, sizeof h, cudaMemcpyDeviceToHost, stream));
    NNET_CUDA_CHECK(cudaStreamSynchronize(stream));
    return h;
  }
  void write_state(const StepState& h) {
    NNET_CUDA_CHECK(cudaMemcpyAsync(st, &h, sizeof h, cudaMemcpyHostToDevice, stream));
    NNET_CUDA_CHECK(cudaStreamSynchronize(stream));
  }

  DeviceData upload(const Dataset& d) {
    DeviceData dd;
    dd.n = d.size();
    dd.pixels = d.pixels();
    dd.images = device_alloc<float>(dd.n * dd.pixels);
    dd.labels = device_alloc<uint8_t>(dd.n);
    if (dd.n > 0) {
      NNET_CUDA_CHECK(cudaMemcpy(dd.images, d.image(0), dd.n * dd.pixels * sizeof(float),
                                 cudaMemcpyHostToDevice));
      NNET_CUDA_CHECK(
          cudaMemcpy(dd.labels, d.labels.data(), dd.n, cudaMemcpyHostToDevice));
    }
    return dd;
  }
};

template <class T>
DeviceNet<T>::DeviceNet() : impl_(std::make_unique<Impl>()) {}
template <class T>
DeviceNet<T>::~DeviceNet() = default;

template <class T>
Status DeviceNet<T>::create(const NetworkT<T>& net, int max_batch, double dense_dropout,
                            uint32_t seed, std::unique_ptr<DeviceNet>* out) {
  NNET_RETURN_IF_ERROR(device_status());
  if (net.layers() > kMaxWeightLayers)
    return UsageError("--device cuda: at most " + std::to_string(kMaxWeightLayers) +
                      " conv/fc/softmax layers, found " + std::to_string(net.layers()));
  std::unique_ptr<DeviceNet> dn(new DeviceNet());
  Impl& I = *dn->impl_;
  I.inputs = net.inputs();
  I.outputs = net.outputs();
  I.cost = static_cast<int>(net.arch().cost);
  I.max_batch = std::max(max_batch, 1);
  I.seed = seed;
  I.params = net.params().size();
  // The plan: one entry per stack layer; a dense net's hidden fc layers drop in place.
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
    if (dense_dropout > 0 && drops_in_place(net, i)) {
      L.in_place = true;
      L.drop = dense_dropout;
      L.inverted = true;
    }
    I.plan.push_back(L);
  }
  if (I.plan.back().weight < 0)
    return UsageError("--device cuda: the last layer must be conv, fc or softmax");
  for (size_t i = 0; i < I.plan.size(); ++i) {
    Layer& L = I.plan[i];
    if (L.weight < 0) continue;
    L.w_off = net.weight_offset(L.weight);
    L.b_off = net.bias_offset(L.weight);
    L.rows = net.rows(L.weight);
    L.cols = net.cols(L.weight);
    I.weight_stack.push_back(static_cast<int>(i));
    const int l = L.weight;
    I.bounds.w0[l] = L.w_off;
    I.bounds.b0[l] = L.b_off;
    I.bounds.b1[l] = L.b_off + L.rows;
  }
  I.bounds.layers = net.layers();
  NNET_CUDA_CHECK(cudaStreamCreateWithFlags(&I.stream, cudaStreamNonBlocking));
  const Blas& blas = Blas::get();
  I.blas_ok = blas.ok() && blas.create(&I.blas) == CUBLAS_STATUS_SUCCESS;
  if (I.blas_ok) {
    // fp32 products stay fp32 (no TF32), and cuBLAS runs on our stream.
    I.blas_ok = blas.set_math_mode(I.blas, CUBLAS_DEFAULT_MATH) == CUBLAS_STATUS_SUCCESS &&
                blas.set_stream(I.blas, I.stream) == CUBLAS_STATUS_SUCCESS;
  }
  I.p = device_alloc<T>(I.params);
  I.g = device_alloc<T>(I.params);
  I.v = device_alloc<T>(I.params);
  NNET_CUDA_CHECK(cudaMemset(I.v, 0, I.params * sizeof(T)));
  NNET_CUDA_CHECK(cudaMemset(I.g, 0, I.params * sizeof(T)));
  I.st = device_alloc<StepState>(1);
  I.eval_st = device_alloc<StepState>(1);
  I.flag = device_alloc<int>(1);
  const StepState fresh;
  NNET_CUDA_CHECK(cudaMemcpy(I.st, &fresh, sizeof fresh, cudaMemcpyHostToDevice));
  NNET_CUDA_CHECK(cudaMemcpy(I.eval_st, &fresh, sizeof fresh, cudaMemcpyHostToDevice));
  I.alloc_workspace(I.train, I.max_batch);
  // Per hidden weight layer, per unit: the probe's counts.
  for (size_t l = 0; l + 1 < I.weight_stack.size(); ++l) {
    const size_t units = I.plan[I.weight_stack[l]].size;
    I.probe_active.push_back(device_alloc<uint8_t>(units));
    I.probe_sat.push_back(device_alloc<int>(units));
  }
  dn->set_params(net.params().data());
  *out = std::move(dn);
  return Status::Ok();
}

template <class T>
size_t DeviceNet<T>::param_count() const {
  return impl_->params;
}

template <class T>
void DeviceNet<T>::set_params(const T* h) {
  NNET_CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
  NNET_CUDA_CHECK(cudaMemcpy(impl_->p, h, impl_->params * sizeof(T), cudaMemcpyHostToDevice));
}
template <class T>
void DeviceNet<T>::get_params(T* h) {
  NNET_CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
  NNET_CUDA_CHECK(cudaMemcpy(h, impl_->p, impl_->params * sizeof(T), cudaMemcpyDeviceToHost));
}
template <class T>
void DeviceNet<T>::set_velocity(const T* h) {
  NNET_CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
  NNET_CUDA_CHECK(cudaMemcpy(impl_->v, h, impl_->params * sizeof(T), cudaMemcpyHostToDevice));
}
template <class T>
void DeviceNet<T>::get_velocity(T* h) {
  NNET_CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
  NNET_CUDA_CHECK(cudaMemcpy(h, impl_->v, impl_->params * sizeof(T), cudaMemcpyDeviceToHost));
}

template <class T>
void DeviceNet<T>::set_training(const Dataset& d) {
  Impl& I = *impl_;
  device_free(I.training.images);
  device_free(I.training.labels);
  I.training = I.upload(d);
  for (auto& kv : I.graphs) cudaGraphExecDestroy(kv.second);
  I.graphs.clear();
}

template <class T>
void DeviceNet<T>::set_order(const std::vector<uint32_t>& order) {
  Impl& I = *impl_;
  if (I.order_cap < order.size()) {
    NNET_CUDA_CHECK(cudaStreamSynchronize(I.stream));
    device_free(I.order);
    I.order = device_alloc<uint32_t>(order.size());
    I.order_cap = order.size();
    for (auto& kv : I.graphs) cudaGraphExecDestroy(kv.second);
    I.graphs.clear();
  }
  // Pageable source: the copy has left `order` when this returns, so the caller may reshuffle.
  NNET_CUDA_CHECK(cudaMemcpyAsync(I.order, order.data(), order.size() * sizeof(uint32_t),
                                  cudaMemcpyHostToDevice, I.stream));
  NNET_CUDA_CHECK(cudaStreamSynchronize(I.stream));
}

template <class T>
void DeviceNet<T>::set_position(long long global_step, long long batch_in_epoch) {
  Impl& I = *impl_;
  StepState h = I.read_state();
  h.step = global_step;
  h.epoch_first = global_step - batch_in_epoch;
  I.write_state(h);
}

template <class T>
void DeviceNet<T>::set_rule(const RuleValues& r) {
  Impl& I = *impl_;
  StepState h = I.read_state();
  h.eta = r.eta;
  h.decay = r.decay;
  h.l1 = r.l1;
  h.mu = r.mu;
  I.write_state(h);
}

template <class T>
void DeviceNet<T>::step(int m, int batch_size, int probe_slot, bool norms) {
  if (norms) impl_->ensure_norms(batch_size);
  impl_->enqueue_step(m, batch_size, probe_slot >= 0, norms);
}

template <class T>
void DeviceNet<T>::step_graph(int m, int batch_size, int probe_slot, bool norms) {
  Impl& I = *impl_;
  if (norms) I.ensure_norms(batch_size);
  const auto key = std::make_tuple(m, probe_slot >= 0, norms);
  auto it = I.graphs.find(key);
  if (it == I.graphs.end()) {
    cudaGraph_t graph;
    NNET_CUDA_CHECK(cudaStreamBeginCapture(I.stream, cudaStreamCaptureModeThreadLocal));
    I.enqueue_step(m, batch_size, probe_slot >= 0, norms);
    NNET_CUDA_CHECK(cudaStreamEndCapture(I.stream, &graph));
    cudaGraphExec_t exec;
    NNET_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    NNET_CUDA_CHECK(cudaGraphDestroy(graph));
    it = I.graphs.emplace(key, exec).first;
  }
  NNET_CUDA_CHECK(cudaGraphLaunch(it->second, I.stream));
}

template <class T>
long long DeviceNet<T>::sync_bad_step() {
  const StepState h = impl_->read_state();
  return h.bad_step == kNoBadStep ? -1 : h.bad_step;
}

template <class T>
void DeviceNet<T>::get_norms(long long first, long long end, std::vector<double>* out) {
  Impl& I = *impl_;
  const size_t width = 2 * I.weight_stack.size();
  out->assign(static_cast<size_t>(end - first) * width, 0.0);
  NNET_CUDA_CHECK(cudaStreamSynchronize(I.stream));
  if (end > first)
    NNET_CUDA_CHECK(cudaMemcpy(out->data(), I.norms + static_cast<size_t>(first) * width,
                               out->size() * sizeof(double), cudaMemcpyDeviceToHost));
}

template <class T>
void DeviceNet<T>::get_probe(int slots, int batch_size, std::vector<uint8_t>* argmax,
                             std::vector<double>* cost, std::vector<int>* pinned,
                             std::vector<std::vector<uint8_t>>* active,
                             std::vector<std::vector<int>>* sat, std::vector<double>* bias_norms) {
  Impl& I = *impl_;
  NNET_CUDA_CHECK(cudaStreamSynchronize(I.stream));
  const size_t samples = static_cast<size_t>(slots) * batch_size;
  argmax->resize(samples);
  cost->resize(samples);
  pinned->resize(samples);
  bias_norms->resize(static_cast<size_t>(slots) * I.weight_stack.size());
  if (samples > 0) {
    NNET_CUDA_CHECK(cudaMemcpy(argmax->data(), I.probe_argmax, samples, cudaMemcpyDeviceToHost));
    NNET_CUDA_CHECK(
        cudaMemcpy(cost->data(), I.probe_cost, samples * sizeof(double), cudaMemcpyDeviceToHost));
    NNET_CUDA_CHECK(
        cudaMemcpy(pinned->data(), I.probe_pinned, samples * sizeof(int), cudaMemcpyDeviceToHost));
    NNET_CUDA_CHECK(cudaMemcpy(bias_norms->data(), I.probe_bias,
                               bias_norms->size() * sizeof(double), cudaMemcpyDeviceToHost));
  }
  active->resize(I.probe_active.size());
  sat->resize(I.probe_sat.size());
  for (size_t l = 0; l < I.probe_active.size(); ++l) {
    const size_t units = I.plan[I.weight_stack[l]].size;
    (*active)[l].resize(units);
    (*sat)[l].resize(units);
    NNET_CUDA_CHECK(
        cudaMemcpy((*active)[l].data(), I.probe_active[l], units, cudaMemcpyDeviceToHost));
    NNET_CUDA_CHECK(
        cudaMemcpy((*sat)[l].data(), I.probe_sat[l], units * sizeof(int), cudaMemcpyDeviceToHost));
  }
}

template <class T>
void DeviceNet<T>::reset_probe(int slots, int batch_size) {
  Impl& I = *impl_;
  I.ensure_probe(slots, batch_size);
  NNET_CUDA_CHECK(cudaStreamSynchronize(I.stream));
  for (size_t l = 0; l < I.probe_active.size(); ++l) {
    const size_t units = I.plan[I.weight_stack[l]].size;
    NNET_CUDA_CHECK(cudaMemset(I.probe_active[l], 0, units));
    NNET_CUDA_CHECK(cudaMemset(I.probe_sat[l], 0, units * sizeof(int)));
  }
  StepState h = I.read_state();
  h.probe_count = 0;
  I.write_state(h);
}

template <class T>
bool DeviceNet<T>::params_finite() {
  Impl& I = *impl_;
  NNET_CUDA_CHECK(cudaMemsetAsync(I.flag, 0, sizeof(int), I.stream));
  check_finite(I.stream, I.p, I.params, I.flag);
  int h = 0;
  NNET_CUDA_CHECK(cudaMemcpyAsync(&h, I.flag, sizeof h, cudaMemcpyDeviceToHost, I.stream));
  NNET_CUDA_CHECK(cudaStreamSynchronize(I.stream));
  return h == 0;
}

template <class T>
void DeviceNet<T>::evaluate(const Dataset& d, std::vector<uint8_t>* argmax,
                            std::vector<double>* cost) {
  Impl& I = *impl_;
  auto it = I.datasets.find(&d);
  if (it == I.datasets.end() || it->second.n != d.size()) {
    if (it != I.datasets.end()) {
      device_free(it->second.images);
      device_free(it->second.labels);
      I.datasets.erase(it);
    }
    it = I.datasets.emplace(&d, I.upload(d)).first;
  }
  const DeviceData& dd = it->second;
  // Pieces whose workspace stays near 1 GiB (the book's conv net: ~210 KB a sample).
  size_t per_sample = 0;
  for (const Layer& L : I.plan) per_sample += 4 * static_cast<size_t>(L.size) * sizeof(T);
  const size_t piece = std::clamp<size_t>((size_t{1} << 30) / std::max<size_t>(per_sample, 1), 1,
                                          std::max<size_t>(dd.n, 1));
  if (I.eval.cap < static_cast<int>(std::min<size_t>(piece, 1 << 20)))
    I.alloc_workspace(I.eval, static_cast<int>(piece));
  if (I.score_cap < dd.n) {
    device_free(I.score_argmax);
    device_free(I.score_cost);
    I.score_argmax = device_alloc<uint8_t>(dd.n);
    I.score_cost = device_alloc<double>(dd.n);
    I.score_cap = dd.n;
  }
  const size_t last = I.plan.size() - 1;
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
      NNET_CUDA_CHECK(cudaMemcpy(I.eval.x, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
      x = I.eval.x;
    }
    I.forward(I.eval, x, dd.pixels, m, false, I.eval_st);
    score(I.stream, I.eval.a[last], I.outputs, dd.labels + begin, m, I.cost,
          I.score_argmax + begin, I.score_cost + begin);
  }
  argmax->resize(dd.n);
  cost->resize(dd.n);
  NNET_CUDA_CHECK(cudaStreamSynchronize(I.stream));
  if (dd.n > 0) {
    NNET_CUDA_CHECK(cudaMemcpy(argmax->data(), I.score_argmax, dd.n, cudaMemcpyDeviceToHost));
    NNET_CUDA_CHECK(
        cudaMemcpy(cost->data(), I.score_cost, dd.n * sizeof(double), cudaMemcpyDeviceToHost));
  }
}

template <class T>
void DeviceNet<T>::forward_host(const T* x, int m, bool training, long long step) {
  Impl& I = *impl_;
  StepState h;
  h.step = step;
  NNET_CUDA_CHECK(cudaMemcpy(I.eval_st, &h, sizeof h, cudaMemcpyHostToDevice));
  NNET_CUDA_CHECK(cudaMemcpy(I.train.x, x, static_cast<size_t>(I.inputs) * m * sizeof(T),
                             cudaMemcpyHostToDevice));
  I.forward(I.train, I.train.x, I.inputs, m, training, I.eval_st);
  NNET_CUDA_CHECK(cudaStreamSynchronize(I.stream));
}

template <class T>
void DeviceNet<T>::backward_host(const uint8_t* labels, int m) {
  Impl& I = *impl_;
  NNET_CUDA_CHECK(cudaMemcpy(I.train.y, labels, m, cudaMemcpyHostToDevice));
  I.output_error_of(I.train, m, I.eval_st);
  I.backward(I.train, I.train.x, I.inputs, m, I.eval_st);
  NNET_CUDA_CHECK(cudaStreamSynchronize(I.stream));
}

template <class T>
void DeviceNet<T>::get_gradient(T* h) {
  NNET_CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
  NNET_CUDA_CHECK(cudaMemcpy(h, impl_->g, impl_->params * sizeof(T), cudaMemcpyDeviceToHost));
}

template <class T>
void DeviceNet<T>::get_activations(int layer, int m, T* a) {
  Impl& I = *impl_;
  NNET_CUDA_CHECK(cudaStreamSynchronize(I.stream));
  NNET_CUDA_CHECK(cudaMemcpy(a, I.train.a[layer], static_cast<size_t>(I.plan[layer].size) * m * sizeof(T),
                             cudaMemcpyDeviceToHost));
}

template <class T>
void DeviceNet<T>::get_mask(int layer, int m, T* mask) {
  Impl& I = *impl_;
  NNET_CUDA_CHECK(cudaStreamSynchronize(I.stream));
  NNET_CUDA_CHECK(cudaMemcpy(mask, I.train.mask[layer],
                             static_cast<size_t>(I.plan[layer].size) * m * sizeof(T),
                             cudaMemcpyDeviceToHost));
}

template <class T>
double DeviceNet<T>::cost_host(const uint8_t* labels, int m) {
  Impl& I = *impl_;
  NNET_CUDA_CHECK(cudaMemcpy(I.train.y, labels, m, cudaMemcpyHostToDevice));
  uint8_t* am = device_alloc<uint8_t>(m);
  double* c = device_alloc<double>(m);
  score(I.stream, I.train.a[I.plan.size() - 1], I.outputs, I.train.y, m, I.cost, am, c);
  std::vector<double> h(m);
  NNET_CUDA_CHECK(cudaStreamSynchronize(I.stream));
  NNET_CUDA_CHECK(cudaMemcpy(h.data(), c, m * sizeof(double), cudaMemcpyDeviceToHost));
  device_free(am);
  device_free(c);
  double s = 0;
  for (double x : h) s += x;
  return s;
}

template class DeviceNet<float>;
template class DeviceNet<double>;

}  // namespace nnet::cuda

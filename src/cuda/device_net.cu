// DeviceNet on the GPU: net_runner.h's NetRunner over CudaExec (every kernel body launched on one
// stream, cuBLAS for large products), plus what only a GPU has: the device check and CUDA graphs.
// A step is captured once per (m, batch size, probe, norms) as a CUDA graph and replayed: its
// kernels read the batch position and rule from the StepState in device memory, so one graph
// serves every step.
#include <cublas_v2.h>
#include <dlfcn.h>

#include <map>
#include <tuple>

#include "device_net.h"
#include "kernels.cuh"
#include "net_runner.h"

namespace nnet::cuda {

namespace {

// NetRunner's executor on the GPU. Copies and fills go through the stream, never plain
// cudaMemcpy/cudaMemset: those run on the legacy default stream, which this (non-blocking) stream
// does not wait for, and a pageable host-to-device cudaMemcpy, like any cudaMemset, may return
// before the device memory is written, so a kernel enqueued next could read the old bytes (or a
// copy overwrite what a running kernel still reads). Each returns once the copy is done.
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

struct CudaExec {
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  bool blas_ok = false;

  ~CudaExec() {
    if (stream) cudaStreamSynchronize(stream);
    if (blas) Blas::get().destroy(blas);
    if (stream) cudaStreamDestroy(stream);
  }

  template <class B>
  void run(const B& b) {
    launch(stream, b);
  }
  bool has_gemm() const { return blas_ok; }
  // z (N, m) = W (N, K) x (K, m) through cuBLAS (fp32 or fp64, no TF32).
  template <class T>
  void gemm(const T* W, int N, int K, const T* x, int ldx, int m, T* z) {
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

  template <class E>
  E* alloc(size_t n) {
    if (n == 0) return nullptr;
    E* p = nullptr;
    NNET_CUDA_CHECK(cudaMalloc(&p, n * sizeof(E)));
    return p;
  }
  void release(void* p) {
    if (p) cudaFree(p);
  }
  void sync() { NNET_CUDA_CHECK(cudaStreamSynchronize(stream)); }
  void to_device(void* dst, const void* src, size_t bytes) {
    if (bytes == 0) return;
    NNET_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream));
    sync();
  }
  void to_host(void* dst, const void* src, size_t bytes) {
    if (bytes == 0) return;
    NNET_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream));
    sync();
  }
  void zero(void* dst, size_t bytes) {
    if (bytes == 0) return;
    NNET_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, stream));
    sync();
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
                           "device cuda: no NVIDIA driver on this machine (libcuda.so.1 not "
                           "found); run on the CPU instead");
    dlclose(lib);
    return Status::Error(Code::kUnavailable,
                         "device cuda: the NVIDIA driver is older than CUDA 13 needs; update "
                         "it, or run on the CPU instead");
  }
  if (e == cudaErrorNoDevice || e == cudaErrorInitializationError ||
      e == cudaErrorCompatNotSupportedOnDevice)
    return Status::Error(Code::kUnavailable, std::string("device cuda: no usable GPU (") +
                                                 cudaGetErrorString(e) +
                                                 "); run on the CPU instead");
  if (e != cudaSuccess)
    return Status::Error(Code::kUnavailable, std::string("device cuda: CUDA cannot start (") +
                                                 cudaGetErrorString(e) + ")");
  if (count == 0)
    return Status::Error(Code::kUnavailable,
                         "device cuda: the driver sees no GPU; run on the CPU instead");
  // The build's kernels are for sm_90 (plus PTX any newer device compiles).
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, 0) != cudaSuccess)
    return Status::Error(Code::kUnavailable, "device cuda: cannot read the GPU's properties");
  if (p.major < 9)
    return Status::Error(Code::kUnavailable, std::string("device cuda: ") + p.name + " is sm_" +
                                                 std::to_string(p.major * 10 + p.minor) +
                                                 "; this build's kernels need sm_90 or newer");
  // A first allocation proves the context works (a driver older than the runtime fails here).
  void* probe = nullptr;
  const cudaError_t a = cudaMalloc(&probe, 256);
  if (a != cudaSuccess)
    return Status::Error(Code::kUnavailable, std::string("device cuda: cannot use ") + p.name +
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
  CudaExec exec;  // before net: released after it
  NetRunner<T, CudaExec> net{&exec};
  std::map<std::tuple<int, int, bool, bool>, cudaGraphExec_t> graphs;  // (m, batch, probe, norms)
  int graph_layout = -1;  // net.layout() the graphs were captured with

  ~Impl() {
    if (exec.stream) cudaStreamSynchronize(exec.stream);
    drop_graphs();
  }
  void drop_graphs() {
    for (auto& kv : graphs) cudaGraphExecDestroy(kv.second);
    graphs.clear();
  }
};

template <class T>
DeviceNet<T>::DeviceNet() : impl_(std::make_unique<Impl>()) {}
template <class T>
DeviceNet<T>::~DeviceNet() = default;

template <class T>
Status DeviceNet<T>::create(const NetworkT<T>& net, int max_batch, double unit_dropout,
                            uint32_t seed, std::unique_ptr<DeviceNet>* out) {
  NNET_RETURN_IF_ERROR(device_status());
  std::unique_ptr<DeviceNet> dn(new DeviceNet());
  Impl& I = *dn->impl_;
  NNET_CUDA_CHECK(cudaStreamCreateWithFlags(&I.exec.stream, cudaStreamNonBlocking));
  const Blas& blas = Blas::get();
  I.exec.blas_ok = blas.ok() && blas.create(&I.exec.blas) == CUBLAS_STATUS_SUCCESS;
  if (I.exec.blas_ok) {
    // fp32 products stay fp32 (no TF32), and cuBLAS runs on our stream.
    I.exec.blas_ok =
        blas.set_math_mode(I.exec.blas, CUBLAS_DEFAULT_MATH) == CUBLAS_STATUS_SUCCESS &&
        blas.set_stream(I.exec.blas, I.exec.stream) == CUBLAS_STATUS_SUCCESS;
  }
  // The plan (plan.h's make_plan), the buffers and the parameters.
  NNET_RETURN_IF_ERROR(I.net.init(net, max_batch, unit_dropout, seed));
  *out = std::move(dn);
  return Status::Ok();
}

template <class T>
size_t DeviceNet<T>::param_count() const {
  return impl_->net.param_count();
}
template <class T>
void DeviceNet<T>::set_params(const T* h) {
  impl_->net.set_params(h);
}
template <class T>
void DeviceNet<T>::get_params(T* h) {
  impl_->net.get_params(h);
}
template <class T>
void DeviceNet<T>::set_velocity(const T* h) {
  impl_->net.set_velocity(h);
}
template <class T>
void DeviceNet<T>::get_velocity(T* h) {
  impl_->net.get_velocity(h);
}
template <class T>
void DeviceNet<T>::set_training(const Dataset& d) {
  impl_->net.set_training(d);
}
template <class T>
void DeviceNet<T>::set_order(const std::vector<uint32_t>& order) {
  impl_->net.set_order(order);
}
template <class T>
void DeviceNet<T>::set_position(long long global_step, long long batch_in_epoch) {
  impl_->net.set_position(global_step, batch_in_epoch);
}
template <class T>
void DeviceNet<T>::set_rule(const RuleValues& r) {
  impl_->net.set_rule(r.eta, r.decay, r.l1, r.mu);
}

template <class T>
void DeviceNet<T>::step(int m, int batch_size, int probe_slot, bool norms) {
  impl_->net.step(m, batch_size, probe_slot >= 0, norms);
}

template <class T>
void DeviceNet<T>::step_graph(int m, int batch_size, int probe_slot, bool norms) {
  Impl& I = *impl_;
  if (norms) I.net.ensure_norms(batch_size);
  // A graph holds the pointers it was captured with: recapture after any reallocation.
  if (I.graph_layout != I.net.layout()) {
    I.drop_graphs();
    I.graph_layout = I.net.layout();
  }
  const auto key = std::make_tuple(m, batch_size, probe_slot >= 0, norms);
  auto it = I.graphs.find(key);
  if (it == I.graphs.end()) {
    cudaGraph_t graph;
    NNET_CUDA_CHECK(cudaStreamBeginCapture(I.exec.stream, cudaStreamCaptureModeThreadLocal));
    I.net.enqueue_step(m, batch_size, probe_slot >= 0, norms);
    NNET_CUDA_CHECK(cudaStreamEndCapture(I.exec.stream, &graph));
    cudaGraphExec_t exec;
    NNET_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    NNET_CUDA_CHECK(cudaGraphDestroy(graph));
    it = I.graphs.emplace(key, exec).first;
  }
  NNET_CUDA_CHECK(cudaGraphLaunch(it->second, I.exec.stream));
}

template <class T>
long long DeviceNet<T>::sync_bad_step() {
  return impl_->net.sync_bad_step();
}
template <class T>
void DeviceNet<T>::get_norms(long long first, long long end, std::vector<double>* out) {
  impl_->net.get_norms(first, end, out);
}
template <class T>
void DeviceNet<T>::get_probe(int slots, int batch_size, std::vector<uint8_t>* argmax,
                             std::vector<double>* cost, std::vector<int>* pinned,
                             std::vector<std::vector<uint8_t>>* active,
                             std::vector<std::vector<int>>* sat, std::vector<double>* bias_norms) {
  impl_->net.get_probe(slots, batch_size, argmax, cost, pinned, active, sat, bias_norms);
}
template <class T>
void DeviceNet<T>::reset_probe(int slots, int batch_size) {
  impl_->net.reset_probe(slots, batch_size);
}
template <class T>
bool DeviceNet<T>::params_finite() {
  return impl_->net.params_finite();
}
template <class T>
void DeviceNet<T>::evaluate(const Dataset& d, std::vector<uint8_t>* argmax,
                            std::vector<double>* cost) {
  impl_->net.evaluate(d, argmax, cost);
}
template <class T>
void DeviceNet<T>::forward_host(const T* x, int m, bool training, long long step) {
  impl_->net.forward_host(x, m, training, step);
}
template <class T>
void DeviceNet<T>::backward_host(const uint8_t* labels, int m) {
  impl_->net.backward_host(labels, m);
}
template <class T>
void DeviceNet<T>::get_gradient(T* g) {
  impl_->net.get_gradient(g);
}
template <class T>
void DeviceNet<T>::get_activations(int layer, int m, T* a) {
  impl_->net.get_activations(layer, m, a);
}
template <class T>
void DeviceNet<T>::get_mask(int layer, int m, T* mask) {
  impl_->net.get_mask(layer, m, mask);
}
template <class T>
double DeviceNet<T>::cost_host(const uint8_t* labels, int m) {
  return impl_->net.cost_host(labels, m);
}

template class DeviceNet<float>;
template class DeviceNet<double>;

}  // namespace nnet::cuda

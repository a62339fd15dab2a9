// The CUDA kernels' bodies run on the CPU, for the tests only (tests/cuda_host_test.cc): HostExec
// is NetRunner's and Program's executor in host memory, running every body over every block and
// thread of the grid the device would launch, in plain loops, with the device's summation trees
// (portable.h). HostNet is DeviceNet's whole API over it: the same plan, the same kernel
// sequence, the same arithmetic and indexing as the GPU, minus what only a GPU has (CUDA graphs
// replay the same kernels; cuBLAS's products become a plain loop here).
//
// Memory from alloc() is filled with NaN (floating point) or 0x5a bytes (the rest), as fresh
// device memory holds whatever it held: a kernel that reads what nothing wrote shows.
#pragma once

#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "net_runner.h"

namespace nnet::cuda {

class HostExec {
 public:
  // Runs body b as the device would launch it (launch.cuh): the same grid, every thread.
  template <class B>
  void run(const B& b) {
    ++launches_;
    if (!b.active()) return;  // every thread asks first; on the host, once for all of them
    if constexpr (B::kLaunch == Launch::kPerItem) {
      const size_t n = b.items();
      const unsigned blocks = blocks_for(n, B::kBlock);
      for (unsigned block = 0; block < blocks; ++block)
        for (int t = 0; t < B::kBlock; ++t) {
          const size_t idx = block * static_cast<size_t>(B::kBlock) + t;
          if (idx < n) b(idx);
        }
    } else if constexpr (B::kLaunch == Launch::kPerGroup) {
      using Acc = typename B::Acc;
      std::vector<Acc> partial(B::kGroup);
      for (size_t g = 0; g < b.groups(); ++g) {
        for (int t = 0; t < B::kGroup; ++t) partial[t] = b.partial(g, t);
        b.finish(g, tree_reduce(partial.data(), B::kGroup, SumOp()));
      }
    } else {
      using T = typename B::Value;
      const int n = b.threads();
      std::vector<T> sh(n);
      for (unsigned j = 0; j < b.blocks(); ++j) {
        for (int t = 0; t < n; ++t) sh[t] = b.first(j, t, n);
        const T r1 = tree_reduce(sh.data(), n, MaxOp());
        for (int t = 0; t < n; ++t) sh[t] = b.second(j, t, n, r1);
        const T r2 = tree_reduce(sh.data(), n, SumOp());
        for (int t = 0; t < n; ++t) b.last(j, t, n, r1, r2);
      }
    }
  }

  // The device takes cuBLAS for evaluation's large products; here a plain loop (other rounding).
  bool has_gemm() const { return true; }
  template <class T>
  void gemm(const T* W, int N, int K, const T* x, int ldx, int m, T* z) {
    for (int j = 0; j < m; ++j)
      for (int r = 0; r < N; ++r) {
        T s = 0;
        for (int k = 0; k < K; ++k)
          s += W[r + static_cast<size_t>(N) * k] * x[k + static_cast<size_t>(ldx) * j];
        z[r + static_cast<size_t>(N) * j] = s;
      }
  }

  template <class E>
  E* alloc(size_t n) {
    if (n == 0) return nullptr;
    auto block = std::make_unique<E[]>(n);
    if constexpr (std::is_floating_point_v<E>)
      for (size_t i = 0; i < n; ++i) block[i] = std::numeric_limits<E>::quiet_NaN();
    else
      std::memset(static_cast<void*>(block.get()), 0x5a, n * sizeof(E));
    E* p = block.get();
    blocks_.push_back(
        std::shared_ptr<void>(block.release(), [](void* q) { delete[] static_cast<E*>(q); }));
    return p;
  }
  void release(void* p) {
    for (size_t i = 0; i < blocks_.size(); ++i)
      if (blocks_[i].get() == p) {
        blocks_.erase(blocks_.begin() + static_cast<long>(i));
        return;
      }
  }
  void sync() {}
  void to_device(void* dst, const void* src, size_t bytes) {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void to_host(void* dst, const void* src, size_t bytes) {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void zero(void* dst, size_t bytes) {
    if (bytes) std::memset(dst, 0, bytes);
  }

  long long launches() const { return launches_; }

 private:
  std::vector<std::shared_ptr<void>> blocks_;
  long long launches_ = 0;
};

// DeviceNet<T>'s API (device_net.h) on the host executor.
template <class T>
class HostNet {
 public:
  static Status create(const NetworkT<T>& net, int max_batch, double unit_dropout, uint32_t seed,
                       std::unique_ptr<HostNet>* out) {
    std::unique_ptr<HostNet> h(new HostNet());
    NNET_RETURN_IF_ERROR(h->net_.init(net, max_batch, unit_dropout, seed));
    *out = std::move(h);
    return Status::Ok();
  }
  NetRunner<T, HostExec>& net() { return net_; }
  NetRunner<T, HostExec>* operator->() { return &net_; }
  HostExec& exec() { return exec_; }

 private:
  HostNet() = default;
  HostExec exec_;  // before net_: released after it
  NetRunner<T, HostExec> net_{&exec_};
};

}  // namespace nnet::cuda

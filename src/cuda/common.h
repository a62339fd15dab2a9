// What every CUDA layer's kernels share, in plain C++ that the host compiler also builds (the
// tests run these bodies on the CPU): the step state the kernels of one SGD step read (so a
// captured CUDA graph replays any step), activations and their derivatives, the epilogue that
// turns a layer's input gradient into the previous layer's dC/dz, the counter-based dropout
// draws, and the layer geometries. Deterministic throughout: no floating-point atomics; every sum
// has one order (portable.h's tree).
#pragma once

#include <climits>
#include <cstdint>

#include "portable.h"

namespace nnet::cuda {

constexpr long long kNoBadStep = LLONG_MAX;

// In device memory; written by the host between steps (position, rule) and by the kernels.
struct StepState {
  long long step = 0;               // global step index of the step running (keys dropout)
  long long epoch_first = 0;        // global step index of this epoch's mini-batch 0
  long long bad_step = kNoBadStep;  // first global step whose output error was not finite
  int probe_count = 0;              // probed mini-batches so far in this tally
  double eta = 0, decay = 1, l1 = 0, mu = 0;  // the epoch's rule; step = eta / m
};

// Once a step's output error was not finite, every later kernel leaves everything untouched.
NNET_HD inline bool halted(const StepState* st) { return st->bad_step != kNoBadStep; }

// nnet::Activation's values.
enum ActKind : int { kSigmoid = 0, kTanh = 1, kRelu = 2, kSoftmax = 3, kLinear = 4, kNoAct = -1 };
// nnet::Cost's values.
enum CostKind : int { kQuadratic = 0, kCrossEntropy = 1, kLogLikelihood = 2 };

template <class T>
NNET_HD inline T activate(int act, T z) {
  switch (act) {
    case kSigmoid:
      return T(1) / (T(1) + hd_exp(-z));
    case kTanh:
      return hd_tanh(z);
    case kRelu:
      return z > T(0) ? z : T(0);
    default:
      return z;
  }
}

// d act / dz from z and a = act(z).
template <class T>
NNET_HD inline T derivative(int act, T z, T a) {
  switch (act) {
    case kSigmoid:
      return a * (T(1) - a);
    case kTanh:
      return T(1) - a * a;
    case kRelu:
      return z > T(0) ? T(1) : T(0);
    default:
      return T(1);
  }
}

// d act / dz from z alone (for a layer whose stored a was multiplied by a dropout mask).
template <class T>
NNET_HD inline T derivative_from_z(int act, T z) {
  return derivative(act, z, activate(act, z));
}

// What becomes of the gradient a layer computes for its input, which is the previous layer's
// output: for a weight layer (conv, fc) dC/da turns into dC/dz (times its in-place dropout mask,
// then its activation's derivative); for any other layer it stays dC/da.
template <class T>
struct Epilogue {
  int act = kNoAct;         // the previous layer's activation, kNoAct if it has none
  const T* z = nullptr;     // its (size, m) pre-activations, leading dimension size
  const T* a = nullptr;     // its activations
  const T* mask = nullptr;  // its in-place dropout mask (dense nets), or null
  NNET_HD T operator()(T s, size_t idx) const {
    if (act == kNoAct) return s;
    if (mask) return (s * mask[idx]) * derivative_from_z(act, z[idx]);
    return s * derivative(act, z[idx], a[idx]);
  }
};

// ---- Dropout draws: Philox4x32-10 (Random123: Salmon et al., SC11) ----
//
// A draw is a pure function of (seed, global step, element), so a resumed run draws what an
// uninterrupted one did, and the host and the device draw the same masks:
//   key     = (seed mod 2^32, seed / 2^32)
//   counter = (e/4 mod 2^32, e/4 / 2^32, step mod 2^32, step / 2^32)
//   word    = output word e mod 4 of philox4x32_10(counter, key)
//   u       = (word + 0.5) / 2^32, in (0, 1), exact in double
// where e is the element: DropoutCfg::base (the layer's own range, layer index << 40) plus the
// unit's index u + size * j in the layer's (size, m) batch. This is cuRAND's Philox stream for
// curand_init(seed, step, e) (subsequence = step, offset = e), word for word; the uniform differs.
// A unit is dropped when u < p, as the CPU's `uniform() < p`.
struct Philox4x32 {
  uint32_t v[4];
};

NNET_HD inline uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// Random123's philox4x32_R: R rounds (10 is Philox4x32-10), the key bumped between rounds.
template <int R = 10>
NNET_HD inline Philox4x32 philox4x32(Philox4x32 c, uint32_t k0, uint32_t k1) {
  for (int r = 0; r < R; ++r) {
    if (r > 0) {
      k0 += 0x9E3779B9u;  // the golden ratio
      k1 += 0xBB67AE85u;  // sqrt(3) - 1
    }
    uint32_t hi0, hi1;
    const uint32_t lo0 = mulhilo32(0xD2511F53u, c.v[0], &hi0);
    const uint32_t lo1 = mulhilo32(0xCD9E8D57u, c.v[2], &hi1);
    c = Philox4x32{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
  }
  return c;
}

// The raw 32-bit draw of (seed, step, element), as mapped above.
NNET_HD inline uint32_t dropout_bits(unsigned long long seed, long long step,
                                     unsigned long long element) {
  const unsigned long long q = element / 4, s = static_cast<unsigned long long>(step);
  const Philox4x32 c{{static_cast<uint32_t>(q), static_cast<uint32_t>(q >> 32),
                      static_cast<uint32_t>(s), static_cast<uint32_t>(s >> 32)}};
  const Philox4x32 r =
      philox4x32<10>(c, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  // Selected, not indexed: a run-time index would put r in the GPU's local memory.
  const unsigned w = static_cast<unsigned>(element % 4);
  return w == 0 ? r.v[0] : w == 1 ? r.v[1] : w == 2 ? r.v[2] : r.v[3];
}

// The uniform draw in (0, 1).
NNET_HD inline double dropout_uniform(unsigned long long seed, long long step,
                                      unsigned long long element) {
  return (static_cast<double>(dropout_bits(seed, step, element)) + 0.5) * (1.0 / 4294967296.0);
}

// A dropout layer's (or a dense layer's in-place) parameters.
template <class T>
struct DropoutCfg {
  double p = 0;         // probability of dropping a unit
  T keep = T(1);        // kept units are multiplied by this while training
  T test_scale = T(1);  // and all units by this at test time
  unsigned long long seed = 0;
  unsigned long long base = 0;  // element offset of this layer's draws
  // The mask value of element idx of this layer at `step`: 0 or keep.
  NNET_HD T mask(long long step, size_t idx) const {
    return dropout_uniform(seed, step, base + idx) < p ? T(0) : keep;
  }
};

// A conv layer's shape (conv.h's Geometry, plus its output size).
struct ConvGeom {
  int c, h, w, f, k, s, p, oh, ow;
  NNET_HD int in_size() const { return c * h * w; }
  NNET_HD int out_size() const { return f * oh * ow; }
  NNET_HD int patch() const { return c * k * k; }
};

// A P x P pool of stride P on (c, h, w).
struct PoolGeom {
  int c, h, w, p, oh, ow;
  bool is_max;
  NNET_HD int in_size() const { return c * h * w; }
  NNET_HD int out_size() const { return c * oh * ow; }
};

// Where each weight layer's W and b start in the flat parameter buffer (params() layout).
constexpr int kMaxWeightLayers = 64;
struct LayerBounds {
  int layers = 0;
  unsigned long long w0[kMaxWeightLayers], b0[kMaxWeightLayers], b1[kMaxWeightLayers];
};

// How a kernel's threads share its work (launch.cuh on the device, host_exec.h on the host):
//   kPerItem:  one work item per thread, B::kBlock threads a block: b(idx) for idx < b.items().
//   kPerGroup: b.groups() groups of B::kGroup threads (a block, or a warp when kGroup is 32);
//              thread t of group g computes b.partial(g, t), the group sums them over the fixed
//              tree, and b.finish(g, sum) stores it.
//   kSoftmax:  b.blocks() blocks of b.threads() threads (a power of two): b.first(j, t, n)
//              partials (of type B::Value), their tree max r1; b.second(j, t, n, r1) partials,
//              their tree sum r2; then b.last(j, t, n, r1, r2).
// Every kernel first asks b.active() (false once the step halted) and does nothing if not.
enum class Launch { kPerItem, kPerGroup, kSoftmax };

}  // namespace nnet::cuda

// Random number generators that reproduce numpy's legacy RandomState and Python's `random`
// module bit for bit, so a run seeded like the notebook draws the same weights and shuffles.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nnet {

// MT19937 as in Python's _randommodule.c and numpy's randomkit.
class Mt19937 {
 public:
  Mt19937() { init_genrand(5489u); }
  void init_genrand(uint32_t s);
  void init_by_array(const uint32_t* key, size_t len);
  uint32_t next_u32();
  double next_double53();  // (a*67108864+b)/9007199254740992, a = u32>>5, b = u32>>6

  // Full state, for checkpoints: 624 words followed by the position.
  std::vector<uint32_t> state() const;
  bool set_state(const std::vector<uint32_t>& s);

 private:
  uint32_t mt_[624];
  int mti_ = 625;
};

// numpy.random.RandomState(seed) legacy API: seed(), randn() (polar method with cached value),
// random_sample().
class NumpyRandom {
 public:
  explicit NumpyRandom(uint32_t seed = 0) { seed_with(seed); }
  void seed_with(uint32_t seed);  // np.random.seed(seed): init_genrand(seed)
  double random_sample();
  double randn();  // standard normal, legacy_gauss
  // Full state for checkpoints (MT words, position, has_gauss, gauss).
  std::vector<uint32_t> mt_state() const { return mt_.state(); }
  bool set_state(const std::vector<uint32_t>& mt, bool has_gauss, double gauss);
  bool has_gauss() const { return has_gauss_; }
  double cached_gauss() const { return gauss_; }

 private:
  Mt19937 mt_;
  bool has_gauss_ = false;
  double gauss_ = 0.0;
};

// Python's `random.Random(seed)` for a non-negative integer seed (init_by_array on its 32-bit
// words), with random(), getrandbits(), and both shuffle algorithms.
class PyRandom {
 public:
  explicit PyRandom(uint64_t seed = 0) { seed_with(seed); }
  void seed_with(uint64_t seed);
  double random();
  uint32_t getrandbits(int k);     // 1 <= k <= 32
  uint64_t getrandbits64(int k);   // 1 <= k <= 64, CPython's word order (low word drawn first)
  uint64_t randbelow(uint64_t n);  // Python 3 _randbelow_with_getrandbits, n >= 1
  // Python 3's random.shuffle (via _randbelow).
  template <class T>
  void shuffle(std::vector<T>& x) {
    for (size_t i = x.size(); i-- > 1;) std::swap(x[i], x[randbelow(i + 1)]);
  }
  // Python 2.7's random.shuffle: j = int(random() * (i+1)).
  template <class T>
  void shuffle_py2(std::vector<T>& x) {
    for (size_t i = x.size(); i-- > 1;)
      std::swap(x[i], x[static_cast<size_t>(random() * static_cast<double>(i + 1))]);
  }
  std::vector<uint32_t> state() const { return mt_.state(); }
  bool set_state(const std::vector<uint32_t>& s) { return mt_.set_state(s); }

 private:
  Mt19937 mt_;
};

// Formats a double as Python 3's repr() does (shortest round-trip; '1.0', '1e-05', 'nan').
std::string py_repr(double x);

}  // namespace nnet

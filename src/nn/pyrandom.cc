// Bit-exact ports of CPython's _randommodule.c and numpy's legacy RandomState (randomkit).
//
// Floating-point contraction is disabled for this file: with -march=native GCC would otherwise
// fuse x1*x1 + x2*x2 (and 2*u - 1) into FMAs, whose single rounding differs from numpy's build and
// would change which polar-method draws are rejected.
#pragma GCC optimize("fp-contract=off")

#include "nnet/pyrandom.h"

#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace nnet {

namespace {
constexpr int kN = 624;
constexpr int kM = 397;
constexpr uint32_t kMatrixA = 0x9908b0dfu;
constexpr uint32_t kUpperMask = 0x80000000u;
constexpr uint32_t kLowerMask = 0x7fffffffu;
}  // namespace

void Mt19937::init_genrand(uint32_t s) {
  mt_[0] = s;
  for (int i = 1; i < kN; ++i) {
    mt_[i] = 1812433253u * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<uint32_t>(i);
  }
  mti_ = kN;
}

void Mt19937::init_by_array(const uint32_t* key, size_t len) {
  init_genrand(19650218u);
  size_t i = 1, j = 0;
  for (size_t k = (kN > len ? kN : len); k; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525u)) + key[j] +
             static_cast<uint32_t>(j);  // non linear
    ++i;
    ++j;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
    if (j >= len) j = 0;
  }
  for (size_t k = kN - 1; k; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941u)) -
             static_cast<uint32_t>(i);  // non linear
    ++i;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
  }
  mt_[0] = 0x80000000u;  // MSB is 1, assuring a non-zero initial array
  mti_ = kN;
}

uint32_t Mt19937::next_u32() {
  if (mti_ >= kN) {
    // mti_ == kN + 1 only for a default-constructed-but-never-seeded state, which the constructor
    // prevents; regenerate the whole block as genrand_int32 does.
    int kk = 0;
    for (; kk < kN - kM; ++kk) {
      uint32_t y = (mt_[kk] & kUpperMask) | (mt_[kk + 1] & kLowerMask);
      mt_[kk] = mt_[kk + kM] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
    }
    for (; kk < kN - 1; ++kk) {
      uint32_t y = (mt_[kk] & kUpperMask) | (mt_[kk + 1] & kLowerMask);
      mt_[kk] = mt_[kk + (kM - kN)] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
    }
    uint32_t y = (mt_[kN - 1] & kUpperMask) | (mt_[0] & kLowerMask);
    mt_[kN - 1] = mt_[kM - 1] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
    mti_ = 0;
  }
  uint32_t y = mt_[mti_++];
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= (y >> 18);
  return y;
}

double Mt19937::next_double53() {
  uint32_t a = next_u32() >> 5, b = next_u32() >> 6;
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

std::vector<uint32_t> Mt19937::state() const {
  std::vector<uint32_t> s(mt_, mt_ + kN);
  s.push_back(static_cast<uint32_t>(mti_));
  return s;
}

bool Mt19937::set_state(const std::vector<uint32_t>& s) {
  if (s.size() != kN + 1 || s[kN] > static_cast<uint32_t>(kN)) return false;
  bool all_zero = true;
  for (int i = 0; i < kN; ++i) all_zero = all_zero && s[i] == 0;
  if (all_zero) return false;  // MT never leaves the all-zero state: a corrupt checkpoint
  std::memcpy(mt_, s.data(), sizeof(mt_));
  mti_ = static_cast<int>(s[kN]);
  return true;
}

void NumpyRandom::seed_with(uint32_t seed) {
  mt_.init_genrand(seed);  // numpy's mt19937_seed is init_genrand
  has_gauss_ = false;
  gauss_ = 0.0;
}

double NumpyRandom::random_sample() { return mt_.next_double53(); }

double NumpyRandom::randn() {
  if (has_gauss_) {
    has_gauss_ = false;
    double g = gauss_;
    gauss_ = 0.0;
    return g;
  }
  double x1, x2, r2;
  do {
    x1 = 2.0 * mt_.next_double53() - 1.0;
    x2 = 2.0 * mt_.next_double53() - 1.0;
    r2 = x1 * x1 + x2 * x2;
  } while (r2 >= 1.0 || r2 == 0.0);
  double f = std::sqrt(-2.0 * std::log(r2) / r2);  // polar Box-Muller
  gauss_ = f * x1;
  has_gauss_ = true;
  return f * x2;
}

bool NumpyRandom::set_state(const std::vector<uint32_t>& mt, bool has_gauss, double gauss) {
  if (!mt_.set_state(mt)) return false;
  has_gauss_ = has_gauss;
  gauss_ = has_gauss ? gauss : 0.0;
  return true;
}

void PyRandom::seed_with(uint64_t seed) {
  // random_seed(): the key is |seed| split into 32-bit words, least significant first; 0 -> [0].
  uint32_t key[2] = {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  mt_.init_by_array(key, key[1] != 0 ? 2 : 1);
}

double PyRandom::random() { return mt_.next_double53(); }

uint32_t PyRandom::getrandbits(int k) {
  assert(k >= 1 && k <= 32);
  return mt_.next_u32() >> (32 - k);
}

uint64_t PyRandom::getrandbits64(int k) {
  assert(k >= 1 && k <= 64);
  if (k <= 32) return getrandbits(k);
  // CPython fills 32-bit words from least to most significant, dropping low bits of the last.
  uint64_t lo = mt_.next_u32();
  uint64_t hi = mt_.next_u32() >> (64 - k);
  return lo | (hi << 32);
}

uint64_t PyRandom::randbelow(uint64_t n) {
  assert(n >= 1);
  int k = 64 - __builtin_clzll(n);  // n.bit_length()
  uint64_t r = getrandbits64(k);
  while (r >= n) r = getrandbits64(k);
  return r;
}

std::string py_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  if (x == 0.0) return std::signbit(x) ? "-0.0" : "0.0";
  // Shortest round-trip digits, as Python's repr (David Gay's mode 0) chooses them.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::scientific);
  std::string s(buf, res.ptr);
  bool neg = s[0] == '-';
  if (neg) s.erase(0, 1);
  size_t e = s.find('e');
  std::string mant = s.substr(0, e);
  int exp10 = std::atoi(s.c_str() + e + 1);
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  // Python: scientific when decpt <= -4 or decpt > 16, decpt = exp10 + 1.
  std::string out = neg ? "-" : "";
  if (exp10 < -4 || exp10 >= 16) {
    out += digits[0];
    if (digits.size() > 1) {
      out += '.';
      out.append(digits, 1);
    }
    char eb[16];
    std::snprintf(eb, sizeof(eb), "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    out += eb;
  } else if (exp10 < 0) {
    out += "0.";
    out.append(static_cast<size_t>(-exp10 - 1), '0');
    out += digits;
  } else {
    size_t int_digits = static_cast<size_t>(exp10) + 1;
    if (digits.size() <= int_digits) {
      out += digits;
      out.append(int_digits - digits.size(), '0');
      out += ".0";
    } else {
      out.append(digits, 0, int_digits);
      out += '.';
      out.append(digits, int_digits);
    }
  }
  return out;
}

}  // namespace nnet

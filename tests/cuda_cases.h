// What tests/cuda_test.cc (on the device) and tests/cuda_host_test.cc (the same kernels on the
// host) share: the nets every layer kind is checked on, and the helpers that compare them with
// the float64 CPU engine.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "nnet/layers.h"
#include "nnet/network.h"

namespace nnet::cuda_cases {

struct NetCase {
  const char* name;
  Architecture arch;
  double unit_dropout = 0;  // a dense net's in-place --dropout
};

inline Architecture stack(Shape input, const std::string& layers,
                          const std::vector<Activation>& acts, Cost cost) {
  Architecture a;
  a.input = input;
  a.cost = cost;
  const Status s = parse_layers(layers, acts, &a.layers);
  EXPECT_TRUE(s.ok()) << s.message();
  return a;
}

inline Architecture dense(std::vector<int> sizes, std::vector<Activation> acts, Cost cost) {
  Architecture a;
  a.sizes = std::move(sizes);
  a.activations = std::move(acts);
  a.cost = cost;
  return a;
}

// Every layer kind, cost and activation, both dropouts, strides and padding.
inline std::vector<NetCase> net_cases() {
  using A = Activation;
  return {
      {"dense sigmoid/tanh quadratic",
       dense({36, 16, 12, 10}, {A::kSigmoid, A::kTanh, A::kSigmoid}, Cost::kQuadratic)},
      {"dense relu softmax in-place dropout",
       dense({36, 20, 10}, {A::kRelu, A::kSoftmax}, Cost::kLogLikelihood), 0.3},
      {"dense linear cross-entropy",
       dense({36, 14, 10}, {A::kLinear, A::kSigmoid}, Cost::kCrossEntropy)},
      {"conv maxpool fc softmax", stack({1, 12, 12}, "conv:4:3,maxpool:2,fc:16,softmax:10",
                                        {A::kSigmoid, A::kTanh}, Cost::kLogLikelihood)},
      {"conv stride/pad avgpool fc quadratic",
       stack({2, 9, 9}, "conv:3:3:1:1,avgpool:3,fc:10", {A::kRelu, A::kSigmoid}, Cost::kQuadratic)},
      {"conv strided", stack({1, 11, 11}, "conv:3:3:2,fc:12,softmax:10", {A::kTanh, A::kSigmoid},
                             Cost::kLogLikelihood)},
      {"dropout layers both kinds",
       stack({1, 10, 10}, "conv:3:3,maxpool:2,dropout:0.4,fc:12,dropout:0.3:inverted,softmax:10",
             {A::kRelu, A::kRelu}, Cost::kLogLikelihood)},
      {"conv on conv", stack({1, 12, 12}, "conv:3:3,conv:4:3,maxpool:2,softmax:10",
                             {A::kTanh, A::kRelu}, Cost::kLogLikelihood)},
  };
}

// The float network's parameters in T.
template <class T>
NetworkT<T> convert(const Network& net) {
  NetworkT<T> out(net.arch());
  for (size_t i = 0; i < net.params().size(); ++i)
    out.params()[i] = static_cast<T>(net.params()[i]);
  return out;
}

// |a - ref| / |ref| (Euclidean norms).
inline double rel_error(const std::vector<double>& a, const std::vector<double>& ref) {
  double d = 0, r = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d += (a[i] - ref[i]) * (a[i] - ref[i]);
    r += ref[i] * ref[i];
  }
  return r > 0 ? std::sqrt(d / r) : std::sqrt(d);
}

inline bool has_masks(const Network& net, double unit_dropout) {
  return unit_dropout > 0 || has_dropout(net.arch());
}

// The activations of stack layer (or dense layer) i as the CPU stores them.
inline int layer_count(const Network& net) { return net.stack_size(); }

}  // namespace nnet::cuda_cases

#include "engine/tally.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace nnet {

Activation layer_activation(const Network& net, int l) {
  const LayerSpec& s = net.spec(net.stack_layer(l));
  return s.kind == LayerKind::kSoftmax ? Activation::kSoftmax : s.activation;
}

SaturationBand saturation_band(Activation act) {
  return act == Activation::kSigmoid ? SaturationBand{0.01f, 0.99f} : SaturationBand{-0.98f, 0.98f};
}

void ProbeTally::reset(const Network& net) {
  const int L = net.layers();
  seen = correct = pinned = outputs_seen = 0;
  cost_sum = cost_sq_sum = seconds = 0;
  batches = 0;
  predicted.assign(net.outputs(), 0);
  active.resize(std::max(L - 1, 0));
  sat_count.resize(std::max(L - 1, 0));
  for (auto& v : active) std::fill(v.begin(), v.end(), 0);
  for (auto& v : sat_count) std::fill(v.begin(), v.end(), 0);
  bias_norm_sum.assign(L, 0.0);
}

void tally_batch(const Network& net, const float* out, const std::vector<const float*>& layer_out,
                 const std::vector<const float*>& delta, const uint8_t* labels, int m,
                 ProbeTally* t) {
  const auto t0 = std::chrono::steady_clock::now();
  const int L = net.layers();
  const int outs = net.outputs();
  const Cost cost = net.arch().cost;
  const bool sigmoid_out = layer_activation(net, L - 1) == Activation::kSigmoid;
  for (int j = 0; j < m; ++j) {
    const float* a = out + static_cast<size_t>(j) * outs;
    int arg = 0;
    for (int k = 1; k < outs; ++k)
      if (a[k] > a[arg]) arg = k;  // first maximum, like np.argmax
    ++t->predicted[arg];
    t->correct += (arg == labels[j]);
    const double c = sample_cost(cost, a, outs, labels[j]);
    t->cost_sum += c;
    t->cost_sq_sum += c * c;
    if (sigmoid_out) {
      for (int k = 0; k < outs; ++k) {
        const bool target = k == labels[j];
        t->pinned += target ? a[k] < 0.01f : a[k] > 0.99f;  // pinned on the wrong side
      }
      t->outputs_seen += outs;
    }
  }
  t->seen += m;
  // Hidden units: ever active (ReLU), saturated samples (sigmoid/tanh).
  for (int l = 0; l + 1 < L; ++l) {
    const Activation act = layer_activation(net, l);
    const float* a = layer_out[l];  // (units, m)
    const size_t units = static_cast<size_t>(net.shape(net.stack_layer(l)).size());
    if (act == Activation::kRelu) {
      std::vector<uint8_t>& on = t->active[l];
      if (on.size() != units) on.assign(units, 0);
      for (int j = 0; j < m; ++j) {
        const float* c = a + static_cast<size_t>(j) * units;
        for (size_t u = 0; u < units; ++u) on[u] |= c[u] > 0.0f;
      }
    } else if (act == Activation::kSigmoid || act == Activation::kTanh) {
      std::vector<int>& sc = t->sat_count[l];
      if (sc.size() != units) sc.assign(units, 0);
      const SaturationBand band = saturation_band(act);
      int* count = sc.data();
      // Branch-free (below + above, never both) so it vectorises: this loop was the probe's
      // largest cost on workload 1.
      for (int j = 0; j < m; ++j) {
        const float* c = a + static_cast<size_t>(j) * units;
        for (size_t u = 0; u < units; ++u)
          count[u] += static_cast<int>(c[u] < band.lo) + static_cast<int>(c[u] > band.hi);
      }
    }
  }
  // |dC/db| of the batch's mean cost per weight layer: dC/dz summed over the batch (and, for a
  // conv layer, over each filter's positions).
  std::vector<double> g;
  for (int l = 0; l < L; ++l) {
    const int rows = net.rows(l);
    const size_t units = static_cast<size_t>(net.shape(net.stack_layer(l)).size());
    const size_t per = units / rows;  // positions per bias (1 unless conv)
    g.assign(rows, 0.0);
    for (int j = 0; j < m; ++j) {
      const float* c = delta[l] + static_cast<size_t>(j) * units;
      if (per == 1) {  // dense: one delta per bias, a loop that vectorises
        for (int r = 0; r < rows; ++r) g[r] += c[r];
      } else {
        for (int r = 0; r < rows; ++r)
          for (size_t q = 0; q < per; ++q) g[r] += c[r * per + q];
      }
    }
    double sq = 0;
    for (double v : g) sq += v * v;
    t->bias_norm_sum[l] += std::sqrt(sq) / m;
  }
  ++t->batches;
  t->seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace nnet

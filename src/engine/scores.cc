// Per-sample scores into an EvalResult, summed as the CPU's evaluate() sums them.
#include "engine/backend.h"

namespace nnet::engine {

void fold_scores(const Network& net, const Dataset& data, const std::vector<uint8_t>& argmax,
                 const std::vector<double>& cost, bool want_cost, double lambda,
                 bool want_predictions, EvalResult* out) {
  constexpr size_t kChunk = 500;  // cpu_backend.cc's kEvalChunk
  *out = EvalResult();
  const size_t n = data.size();
  out->total = static_cast<long>(n);
  if (want_predictions) out->predictions = argmax;
  for (size_t c = 0; c < n; c += kChunk) {
    long correct = 0;
    double sum = 0;
    for (size_t i = c; i < std::min(n, c + kChunk); ++i) {
      correct += argmax[i] == data.labels[i];
      if (want_cost) sum += cost[i];
    }
    out->correct += correct;
    out->cost += sum;
  }
  if (want_cost && n > 0) {
    double w2 = 0.0;
    for (int l = 0; l < net.layers(); ++l) w2 += net.weight(l).cast<double>().squaredNorm();
    const double nd = static_cast<double>(n);
    out->cost = out->cost / nd + 0.5 * (lambda / nd) * w2;
  }
}

}  // namespace nnet::engine

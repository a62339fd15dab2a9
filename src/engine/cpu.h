// The CPU backend's evaluation, shared with the public evaluate() and predict() (train.h).
#pragma once

#include <Eigen/Core>

#include "nnet/dataset.h"
#include "nnet/distributed.h"
#include "nnet/network.h"
#include "nnet/train.h"

namespace nnet::engine {

// evaluate() on the CPU over `threads` threads; with an active `collective` the processes share
// the chunks and every process gets the same result.
Status cpu_evaluate(const Network& net, const Dataset& data, bool want_cost, double lambda,
                    bool want_predictions, int threads, const Collective& collective,
                    EvalResult* out);

// predict() on the CPU: output activations (outputs, n) for n images (pixels, n).
void cpu_predict(const Network& net, const float* images, size_t n, Eigen::MatrixXf* out);

}  // namespace nnet::engine

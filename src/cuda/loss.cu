// The gather, output error, scores and probe on the device: the launches of loss_kernels.h's
// bodies, compiled here once (kernels.cuh declares them to everyone else).
#include "kernels.cuh"

namespace nnet::cuda {

NNET_CUDA_LOSS_BODIES(NNET_CUDA_LAUNCH, float)
NNET_CUDA_LOSS_BODIES(NNET_CUDA_LAUNCH, double)
NNET_CUDA_LAUNCH(ProbeAdvance)

}  // namespace nnet::cuda

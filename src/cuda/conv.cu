// Conv layers on the device: the launches of conv_kernels.h's bodies, compiled here once
// (kernels.cuh declares them to everyone else).
#include "kernels.cuh"

namespace nnet::cuda {

NNET_CUDA_CONV_BODIES(NNET_CUDA_LAUNCH, float)
NNET_CUDA_CONV_BODIES(NNET_CUDA_LAUNCH, double)

}  // namespace nnet::cuda

// Every kernel as the device runs it: the bodies (one header per layer kind, *_kernels.h) and the
// generic launches (launch.cuh). Each .cu file instantiates the launches of its layer kind's
// bodies; everyone else (device_net.cu) sees them declared extern here, so each kernel is
// compiled once.
#pragma once

#include "conv_kernels.h"
#include "dropout_kernels.h"
#include "fc_kernels.h"
#include "launch.cuh"
#include "loss_kernels.h"
#include "pool_kernels.h"
#include "update_kernels.h"

namespace nnet::cuda {

#define NNET_CUDA_FC_BODIES(X, T) \
  X(FcForward<T>) X(BiasActivate<T>) X(SoftmaxForward<T>) X(FcGrad<T>) X(FcBackwardInput<T>)
#define NNET_CUDA_CONV_BODIES(X, T) X(ConvForward<T>) X(ConvGrad<T>) X(ConvBackwardInput<T>)
#define NNET_CUDA_POOL_BODIES(X, T) X(PoolForward<T>) X(PoolBackward<T>)
#define NNET_CUDA_DROPOUT_BODIES(X, T) X(DropoutForward<T>) X(DropoutBackward<T>)
#define NNET_CUDA_LOSS_BODIES(X, T) \
  X(Gather<T>) X(OutputError<T>) X(Score<T>) X(ProbeSamples<T>) X(ProbeUnits<T>) X(ProbeBiasNorm<T>)
#define NNET_CUDA_UPDATE_BODIES(X, T) X(SgdUpdate<T>) X(GradNorms<T>) X(CheckFinite<T>)
#define NNET_CUDA_ALL_BODIES(X, T)                                                       \
  NNET_CUDA_FC_BODIES(X, T)                                                              \
  NNET_CUDA_CONV_BODIES(X, T) NNET_CUDA_POOL_BODIES(X, T) NNET_CUDA_DROPOUT_BODIES(X, T) \
      NNET_CUDA_LOSS_BODIES(X, T) NNET_CUDA_UPDATE_BODIES(X, T)

#define NNET_CUDA_EXTERN_LAUNCH(B) extern template void launch<B>(cudaStream_t, const B&);
#define NNET_CUDA_LAUNCH(B) template void launch<B>(cudaStream_t, const B&);
NNET_CUDA_ALL_BODIES(NNET_CUDA_EXTERN_LAUNCH, float)
NNET_CUDA_ALL_BODIES(NNET_CUDA_EXTERN_LAUNCH, double)
NNET_CUDA_EXTERN_LAUNCH(ProbeAdvance)

}  // namespace nnet::cuda

// The CUDA entry points of a build without CUDA (-DNNET_CUDA=OFF, or no nvcc): each says so in
// one line, with Code::kUnavailable.
#include "engine/backend.h"

namespace nnet::engine {

namespace {
Status no_cuda() {
  return Status::Error(Code::kUnavailable,
                       "device cuda: this nnet was built without CUDA (rebuild with nvcc "
                       "installed and -DNNET_CUDA=ON); run on the CPU instead");
}
}  // namespace

Status cuda_status() { return no_cuda(); }

Status make_cuda_backend(const Network&, const Dataset&, const TrainOptions&,
                         std::unique_ptr<Backend>*) {
  return no_cuda();
}

Status cuda_evaluate(const Network&, const Dataset&, bool, double, bool, EvalResult*) {
  return no_cuda();
}

}  // namespace nnet::engine

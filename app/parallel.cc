#include "parallel.h"

namespace nnet::app {

namespace {
const Parallel* g_parallel = nullptr;
}  // namespace

const Parallel* parallel() { return g_parallel; }
void set_parallel(const Parallel* p) { g_parallel = p; }

}  // namespace nnet::app

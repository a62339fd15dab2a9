// libFuzzer target: the HDF5 model reader, on an in-memory file image (HDF5's core driver),
// as users get it: libhdf5 parses in an isolated child (memory and time capped), the parent checks
// the result. Coverage comes from the parent only; the property is one clean line for any input.
// libhdf5 itself is Debian's, not instrumented; a crash inside it must come back as an error line.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "nnet/model_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  nnet::Model m;
  nnet::Status st = nnet::model_from_hdf5(bytes, "fuzz-model.h5", &m);
  check_one_line(st);
  return 0;
}

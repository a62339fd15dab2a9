// libFuzzer target: the allowlist pickle reader on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "nnet/data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  nnet::DataSplits out;
  nnet::Status st = nnet::parse_mnist_pickle(bytes, "fuzz.pkl", &out);
  if (st.ok()) {
    // A success must satisfy the documented contract.
    for (const nnet::Dataset* d : {&out.training, &out.validation, &out.test}) {
      if (d->images.size() != d->labels.size() * 784) __builtin_trap();
      for (uint8_t l : d->labels) {
        if (l > 9) __builtin_trap();
      }
    }
  } else if (st.message().empty() || st.message().find('\n') != std::string::npos) {
    __builtin_trap();  // errors are exactly one line
  }
  return 0;
}

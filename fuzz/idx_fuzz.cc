// libFuzzer target: the IDX parser. The first two bytes (little-endian) say how many of the
// remaining bytes form the image file; the rest is the label file.
#include <cstddef>
#include <cstdint>
#include <string>

#include "nnet/data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t rest = size - 2;
  const size_t split = (data[0] | (size_t{data[1]} << 8)) % (rest + 1);
  const std::string images(reinterpret_cast<const char*>(data + 2), split);
  const std::string labels(reinterpret_cast<const char*>(data + 2 + split), rest - split);
  nnet::Dataset out;
  nnet::Status st = nnet::parse_idx(images, "fuzz-images", labels, "fuzz-labels", &out);
  if (st.ok()) {
    if (out.images.size() != out.labels.size() * 784) __builtin_trap();
    for (float v : out.images) {
      if (!(v >= 0.0f && v <= 1.0f)) __builtin_trap();
    }
  } else if (st.message().find('\n') != std::string::npos) {
    __builtin_trap();
  }
  return 0;
}

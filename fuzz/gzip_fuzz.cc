// libFuzzer target: gunzip on arbitrary bytes, with a 1 MiB output cap (as a small max_bytes).
#include <cstddef>
#include <cstdint>
#include <string>

#include "nnet/data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  std::string out;
  constexpr size_t kCap = size_t{1} << 20;
  nnet::Status st = nnet::gunzip(in, "fuzz.gz", kCap, &out);
  if (st.ok() && out.size() > kCap) __builtin_trap();
  if (!st.ok() && st.message().find('\n') != std::string::npos) __builtin_trap();
  return 0;
}

// libFuzzer target: the checkpoint parser. The trailing CRC-32 is recomputed over the mutated
// bytes first, or random mutations would never get past it (the CRC check itself is covered by
// tests/checkpoint_test.cc).
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "nnet/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (size >= 5) {
    const size_t body = size - 4;
    uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(body));
    for (int i = 0; i < 4; ++i) bytes[body + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  }
  nnet::Checkpoint c;
  nnet::Status st = nnet::parse_checkpoint(bytes, "fuzz-checkpoint", &c);
  if (st.ok()) {
    // An accepted checkpoint re-serializes to something that parses again.
    nnet::Checkpoint again;
    if (!nnet::parse_checkpoint(nnet::serialize_checkpoint(c), "again", &again).ok())
      fail("accepted checkpoint does not re-serialize");
  }
  check_one_line(st);
  return 0;
}

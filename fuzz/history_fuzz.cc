// libFuzzer target: the JSON history reader (`--history run.json`, also inside checkpoints).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "nnet/history.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  nnet::History h;
  nnet::Status st = nnet::parse_history(bytes, "fuzz-history.json", &h);
  check_one_line(st);
  return 0;
}

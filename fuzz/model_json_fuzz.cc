// libFuzzer target: the JSON model parser (network2.save files and ours), from memory.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "nnet/model_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  nnet::Model m;
  nnet::Status st = nnet::model_from_json(bytes, "fuzz-model.json", &m);
  if (st.ok()) {
    // An accepted model must be usable: round-trip through the writer and parse again.
    nnet::Model again;
    if (!nnet::model_from_json(nnet::model_to_json(m), "again", &again).ok())
      fail("accepted model does not round-trip");
  }
  check_one_line(st);
  return 0;
}

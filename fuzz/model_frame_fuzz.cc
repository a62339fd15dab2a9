// libFuzzer target: what the parent reads back from the isolated HDF5 reader (decode_model).
// The child ran libhdf5 on a hostile file, so its answer is parsed like any other input: one
// line for anything bad, and an accepted model must encode and decode to the same parameters.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_util.h"
#include "io/model_io_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  nnet::Model m;
  nnet::Status st = nnet::internal::decode_model(bytes, "fuzz-model.h5", &m);
  if (st.ok()) {
    nnet::Model again;
    if (!nnet::internal::decode_model(nnet::internal::encode_model(m), "again", &again).ok())
      fail("accepted frame does not round-trip");
    const auto& a = m.net.params();
    const auto& b = again.net.params();
    if (a.size() != b.size() ||
        (!a.empty() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) != 0))
      fail("round trip changed the parameters");
  }
  check_one_line(st);
  return 0;
}

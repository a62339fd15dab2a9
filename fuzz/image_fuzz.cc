// libFuzzer target: image decoding (stb_image: PNG, JPEG, BMP, GIF, ...) and the digit framing
// that follows it in `nnet predict`.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "nnet/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  nnet::ImageLimits limits;
  limits.max_pixels = 1L << 20;  // smaller than the default so each run stays fast
  nnet::Image img;
  nnet::Status st = nnet::decode_image(bytes, "fuzz-image", limits, &img);
  if (st.ok()) {
    if (img.channels != 4 || img.width <= 0 || img.height <= 0 ||
        img.pixels.size() != static_cast<size_t>(img.width) * img.height * 4)
      fail("decoded image is not RGBA of its size");
    std::vector<float> digit;
    nnet::preprocess_digit(img, nnet::DigitFraming{}, &digit);
  }
  check_one_line(st);
  return 0;
}

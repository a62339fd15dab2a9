// Image IO: PNG writing (libpng) and decoding of PNG/JPEG/BMP/GIF/... (stb_image), with limits
// checked before any pixel is decoded, plus the MNIST-style framing of a photo of a digit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "nnet/status.h"

namespace nnet {

// 8-bit pixels, row-major, channels interleaved: 1 = gray, 3 = RGB, 4 = RGBA.
struct Image {
  int width = 0;
  int height = 0;
  int channels = 1;
  std::vector<uint8_t> pixels;  // (height, width, channels)

  Image() = default;
  Image(int w, int h, int c, uint8_t fill = 0)
      : width(w), height(h), channels(c), pixels(static_cast<size_t>(w) * h * c, fill) {}
  uint8_t* at(int x, int y) {
    return pixels.data() + (static_cast<size_t>(y) * width + x) * channels;
  }
  const uint8_t* at(int x, int y) const {
    return pixels.data() + (static_cast<size_t>(y) * width + x) * channels;
  }
};

// What decode_image accepts; checked against the header before decoding.
struct ImageLimits {
  size_t max_file_bytes = size_t{64} << 20;  // 64 MiB
  long max_pixels = 16L << 20;               // 16 Mpx
  int max_side = 32768;
};

// Encodes a 1-, 3- or 4-channel image as PNG bytes (libpng, 8 bits per channel).
Status encode_png(const Image& img, std::string* png);

// Writes `img` to `path` as PNG, atomically (temp + rename); code 73/74 on failure.
Status write_png(const std::string& path, const Image& img);

// Decodes image bytes (PNG, JPEG, BMP, GIF first frame, TGA, PSD, PNM; via stb_image) into RGBA.
// Reads only the header first and refuses images over the limits with code 65; `name` is used in
// errors.
Status decode_image(const std::string& bytes, const std::string& name, const ImageLimits& limits,
                    Image* rgba);

// Reads and decodes the file at `path` into RGBA: 66 when missing/unreadable, 65 when it is not an
// image, corrupt, truncated or over the limits (file size checked before reading).
Status read_image(const std::string& path, const ImageLimits& limits, Image* rgba);

// How a picture of a digit is turned into the network's 28x28 input.
struct DigitFraming {
  double threshold = 0.25;  // ink level (0..1, after background removal) that counts as the digit
  int box = 20;             // longer side of the digit after scaling (MNIST: 20)
  int size = 28;            // output side (MNIST: 28)
};

// What preprocess_digit decided, for reports.
struct DigitFramingInfo {
  bool inverted = false;  // the background was light (dark ink on paper)
  double background = 0;  // background gray level 0..1 measured on the border
  int crop_x = 0, crop_y = 0, crop_w = 0, crop_h = 0;  // bounding box in the source image
};

// Turns any RGBA image into an MNIST-style digit: alpha composited over white, grayscale, inverted
// when the border is light, background removed, cropped to the ink's bounding box, scaled to fit
// `box` keeping the aspect ratio (area averaging), centred by centre of mass in size x size.
// `out` gets (size*size) values 0..1, row-major, ink high. Code 65 when no ink is found.
Status preprocess_digit(const Image& rgba, const DigitFraming& framing, std::vector<float>* out,
                        DigitFramingInfo* info = nullptr);

}  // namespace nnet

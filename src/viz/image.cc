#include "nnet/image.h"

#include <png.h>
#include <stb_image.h>
#include <stb_image_resize.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include "nnet/fileio.h"

namespace nnet {

namespace {

std::string dims(long w, long h) { return std::to_string(w) + "x" + std::to_string(h); }

// stb's reason, made printable: for an unknown PNG chunk it embeds the file's 4 type bytes, which a
// hostile file can make a newline or a terminal escape.
std::string stb_reason(const char* fallback) {
  const char* r = stbi_failure_reason();
  std::string out;
  for (const char* p = r ? r : fallback; *p; ++p) {
    const auto ch = static_cast<unsigned char>(*p);
    if (ch >= 0x20 && ch < 0x7f) {
      out += *p;
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", ch);
      out += hex;
    }
  }
  return out;
}

// Binary PNM (P5 gray, P6 RGB): the pixel bytes its header announces, or 0 when `bytes` is no
// binary PNM. Debian's stb reads past the end of a truncated 16-bit PNM (fuzzer finding), so the
// length is checked here before stb sees it.
size_t pnm_payload(const std::string& bytes, size_t* header_end) {
  if (bytes.size() < 2 || bytes[0] != 'P' || (bytes[1] != '5' && bytes[1] != '6')) return 0;
  size_t pos = 2;
  unsigned long long v[3] = {0, 0, 0};
  for (auto& x : v) {
    while (pos < bytes.size() &&
           (std::isspace(static_cast<unsigned char>(bytes[pos])) || bytes[pos] == '#')) {
      if (bytes[pos] == '#')
        while (pos < bytes.size() && bytes[pos] != '\n') ++pos;
      else
        ++pos;
    }
    size_t digits = 0;
    while (pos < bytes.size() && std::isdigit(static_cast<unsigned char>(bytes[pos])) &&
           digits < 9) {
      x = x * 10 + static_cast<unsigned>(bytes[pos] - '0');
      ++pos, ++digits;
    }
    if (digits == 0) return 0;  // stb refuses it itself
  }
  *header_end = pos + 1;  // one whitespace byte ends the header
  // Sides over 2^20 are refused by the limits anyway; with them capped w * h * 6 < 2^43.
  const unsigned long long w = v[0], h = v[1],
                           bpp = (bytes[1] == '6' ? 3 : 1) * (v[2] > 255 ? 2 : 1);
  if (w == 0 || h == 0 || w > (1ull << 20) || h > (1ull << 20)) return 0;  // limits refuse it
  return static_cast<size_t>(w * h * bpp);
}

}  // namespace

Status encode_png(const Image& img, std::string* png) {
  if (img.width <= 0 || img.height <= 0 ||
      (img.channels != 1 && img.channels != 3 && img.channels != 4) ||
      img.pixels.size() != static_cast<size_t>(img.width) * img.height * img.channels)
    return Status::Error(Code::kSoftware, "encode_png: inconsistent image " +
                                              dims(img.width, img.height) + "x" +
                                              std::to_string(img.channels));
  png_image pi;
  std::memset(&pi, 0, sizeof pi);
  pi.version = PNG_IMAGE_VERSION;
  pi.width = static_cast<png_uint_32>(img.width);
  pi.height = static_cast<png_uint_32>(img.height);
  pi.format = img.channels == 1   ? PNG_FORMAT_GRAY
              : img.channels == 3 ? PNG_FORMAT_RGB
                                  : PNG_FORMAT_RGBA;
  png_alloc_size_t size = 0;
  // First call sizes the buffer, second fills it (libpng's simplified API).
  if (!png_image_write_to_memory(&pi, nullptr, &size, 0, img.pixels.data(), 0, nullptr)) {
    std::string why = pi.message;
    png_image_free(&pi);
    return Status::Error(Code::kSoftware, "encode_png: " + why);
  }
  png->resize(size);
  if (!png_image_write_to_memory(&pi, png->data(), &size, 0, img.pixels.data(), 0, nullptr)) {
    std::string why = pi.message;
    png_image_free(&pi);
    return Status::Error(Code::kSoftware, "encode_png: " + why);
  }
  png->resize(size);
  return Status::Ok();
}

Status write_png(const std::string& path, const Image& img) {
  std::string bytes;
  NNET_RETURN_IF_ERROR(encode_png(img, &bytes));
  return write_file_atomic(path, bytes);
}

Status decode_image(const std::string& bytes, const std::string& name, const ImageLimits& limits,
                    Image* rgba) {
  if (bytes.size() > limits.max_file_bytes || bytes.size() > size_t{INT32_MAX})
    return DataError(name + ": expected an image file of at most " +
                     std::to_string(limits.max_file_bytes) + " bytes, found " +
                     std::to_string(bytes.size()));
  if (bytes.empty()) return DataError(name + ": expected an image, found an empty file");
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = static_cast<int>(bytes.size());
  int w = 0, h = 0, c = 0;
  // The header alone: refuse huge images before a single pixel is allocated.
  if (!stbi_info_from_memory(data, len, &w, &h, &c))
    return DataError(name + ": expected a PNG, JPEG, BMP, GIF, TGA, PSD or PNM image, found " +
                     stb_reason("unrecognised bytes"));
  if (w <= 0 || h <= 0 || w > limits.max_side || h > limits.max_side ||
      static_cast<long>(w) * h > limits.max_pixels)
    return DataError(name + ": expected at most " + std::to_string(limits.max_pixels) +
                     " pixels and sides <= " + std::to_string(limits.max_side) + ", found " +
                     dims(w, h));
  size_t header_end = 0;
  if (const size_t payload = pnm_payload(bytes, &header_end);
      payload > 0 && (header_end > bytes.size() || bytes.size() - header_end < payload))
    return DataError(name + ": truncated " + dims(w, h) + " PNM image: expected " +
                     std::to_string(payload) + " pixel bytes after the header, found " +
                     std::to_string(header_end > bytes.size() ? 0 : bytes.size() - header_end));
  int w2 = 0, h2 = 0, c2 = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> px(stbi_load_from_memory(data, len, &w2, &h2, &c2, 4),
                                               stbi_image_free);
  if (!px)
    return DataError(name + ": corrupt or truncated " + dims(w, h) + " image (" +
                     stb_reason("decode failed") + ")");
  if (w2 != w || h2 != h)
    return DataError(name + ": header says " + dims(w, h) + ", decoded " + dims(w2, h2));
  rgba->width = w;
  rgba->height = h;
  rgba->channels = 4;
  rgba->pixels.assign(px.get(), px.get() + static_cast<size_t>(w) * h * 4);
  return Status::Ok();
}

Status read_image(const std::string& path, const ImageLimits& limits, Image* rgba) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return NoInput("cannot open image " + path + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return NoInput(path + ": expected an image file, found a directory");
  if (S_ISREG(st.st_mode) && static_cast<size_t>(st.st_size) > limits.max_file_bytes)
    return DataError(path + ": expected an image file of at most " +
                     std::to_string(limits.max_file_bytes) + " bytes, found " +
                     std::to_string(st.st_size));
  std::ifstream in(path, std::ios::binary);
  if (!in) return NoInput("cannot open image " + path);
  std::string bytes;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    bytes.append(buf, static_cast<size_t>(in.gcount()));
    if (bytes.size() > limits.max_file_bytes)  // a pipe or a file that grew
      return DataError(path + ": expected an image file of at most " +
                       std::to_string(limits.max_file_bytes) + " bytes, found more");
  }
  if (in.bad()) return IoError(path + ": read failed");
  return decode_image(bytes, path, limits, rgba);
}

Status preprocess_digit(const Image& rgba, const DigitFraming& fr, std::vector<float>* out,
                        DigitFramingInfo* info) {
  if (rgba.channels != 4 || rgba.width <= 0 || rgba.height <= 0)
    return Status::Error(Code::kSoftware, "preprocess_digit: expected an RGBA image");
  if (fr.box < 1 || fr.size < fr.box || fr.threshold <= 0 || fr.threshold >= 1)
    return UsageError("preprocess_digit: bad framing (box " + std::to_string(fr.box) + ", size " +
                      std::to_string(fr.size) + ")");
  const int w = rgba.width, h = rgba.height;
  // Gray 0..1 with alpha composited over white (a transparent background is paper).
  std::vector<float> g(static_cast<size_t>(w) * h);  // (h, w)
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const uint8_t* p = rgba.at(x, y);
      const float lum = (0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]) / 255.f;
      const float a = p[3] / 255.f;
      g[static_cast<size_t>(y) * w + x] = lum * a + (1.f - a);
    }
  // The border tells paper from ink: its median is the background.
  std::vector<float> border;
  for (int x = 0; x < w; ++x) {
    border.push_back(g[x]);
    border.push_back(g[static_cast<size_t>(h - 1) * w + x]);
  }
  for (int y = 1; y + 1 < h; ++y) {
    border.push_back(g[static_cast<size_t>(y) * w]);
    border.push_back(g[static_cast<size_t>(y) * w + w - 1]);
  }
  std::nth_element(border.begin(), border.begin() + border.size() / 2, border.end());
  float bg = border[border.size() / 2];
  const bool invert = bg > 0.5f;
  if (invert) {
    for (float& v : g) v = 1.f - v;
    bg = 1.f - bg;
  }
  const float peak = *std::max_element(g.begin(), g.end());
  if (peak - bg < 0.1f)
    return DataError("expected a digit (ink differing from the background), found a blank image");
  // Background removal: paper -> 0, strongest ink -> 1.
  for (float& v : g) v = std::clamp((v - bg) / (peak - bg), 0.f, 1.f);
  int x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if (g[static_cast<size_t>(y) * w + x] >= fr.threshold) {
        x0 = std::min(x0, x), x1 = std::max(x1, x);
        y0 = std::min(y0, y), y1 = std::max(y1, y);
      }
  if (x1 < 0) return DataError("expected a digit, found no ink above the threshold");
  const int cw = x1 - x0 + 1, ch = y1 - y0 + 1;
  // Fit the longer side into `box`, keeping the aspect ratio.
  const double scale = static_cast<double>(fr.box) / std::max(cw, ch);
  const int nw = std::clamp(static_cast<int>(std::lround(cw * scale)), 1, fr.box);
  const int nh = std::clamp(static_cast<int>(std::lround(ch * scale)), 1, fr.box);
  std::vector<float> small(static_cast<size_t>(nw) * nh);  // (nh, nw)
  // Area averaging when shrinking (anti-aliasing, as MNIST did); linear when enlarging.
  const stbir_filter filter = scale < 1 ? STBIR_FILTER_BOX : STBIR_FILTER_TRIANGLE;
  if (!stbir_resize_float_generic(g.data() + static_cast<size_t>(y0) * w + x0, cw, ch,
                                  w * static_cast<int>(sizeof(float)), small.data(), nw, nh,
                                  nw * static_cast<int>(sizeof(float)), 1, STBIR_ALPHA_CHANNEL_NONE,
                                  0, STBIR_EDGE_ZERO, filter, STBIR_COLORSPACE_LINEAR, nullptr))
    return Status::Error(Code::kSoftware, "preprocess_digit: resize failed");
  double sum = 0, sx = 0, sy = 0;
  for (int y = 0; y < nh; ++y)
    for (int x = 0; x < nw; ++x) {
      float& v = small[static_cast<size_t>(y) * nw + x];
      v = std::clamp(v, 0.f, 1.f);
      sum += v, sx += v * x, sy += v * y;
    }
  if (sum <= 0) return DataError("expected a digit, found no ink after scaling");
  // Integer shift putting the centre of mass on pixel index size/2 (14 for 28): measured on
  // MNIST's test digits, whose centres of mass sit there rather than at 13.5 (predict_test).
  const int ox = static_cast<int>(std::lround(fr.size / 2.0 - sx / sum));
  const int oy = static_cast<int>(std::lround(fr.size / 2.0 - sy / sum));
  out->assign(static_cast<size_t>(fr.size) * fr.size, 0.f);
  for (int y = 0; y < nh; ++y)
    for (int x = 0; x < nw; ++x) {
      const int tx = x + ox, ty = y + oy;
      if (tx >= 0 && tx < fr.size && ty >= 0 && ty < fr.size)
        (*out)[static_cast<size_t>(ty) * fr.size + tx] = small[static_cast<size_t>(y) * nw + x];
    }
  if (info) *info = DigitFramingInfo{invert, bg, x0, y0, cw, ch};
  return Status::Ok();
}

}  // namespace nnet

#include "nnet/render.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "viz/draw_internal.h"
#include "nnet/layers.h"

namespace nnet {

namespace {

constexpr int kMargin = 10;
constexpr int kGap = 12;
constexpr long kMaxOutputPixels = 64L << 20;  // refuse absurd grids instead of allocating GBs

uint8_t to_byte(float v) {
  return static_cast<uint8_t>(std::lround(std::clamp(v, 0.f, 1.f) * 255.f));
}

int caption_font(int scale) { return std::clamp(5 * scale, 12, 22); }

struct GridGeometry {
  int digit_w, digit_h, cell_w, cell_h, caption_h, title_h, ncols, nrows, width, height;
};

GridGeometry geometry(const GridStyle& s, size_t tiles, bool captions) {
  GridGeometry g;
  g.digit_w = s.cols * s.scale;
  g.digit_h = s.rows * s.scale;
  g.caption_h = captions ? caption_font(s.scale) + 6 : 0;
  g.title_h = s.title.empty() ? 0 : 30;
  g.ncols = static_cast<int>(std::min<size_t>(std::max(1, s.columns), std::max<size_t>(tiles, 1)));
  g.nrows = static_cast<int>((tiles + g.ncols - 1) / g.ncols);
  g.cell_w = g.digit_w + kGap;
  g.cell_h = g.digit_h + g.caption_h + kGap;
  g.width = 2 * kMargin + g.ncols * g.cell_w - kGap;
  g.height = 2 * kMargin + g.title_h + std::max(1, g.nrows) * g.cell_h - kGap;
  return g;
}

bool any_caption(const std::vector<DigitTile>& tiles) {
  for (const DigitTile& t : tiles)
    if (!t.caption.empty()) return true;
  return false;
}

Status check_size(long w, long h, const char* what) {
  if (w <= 0 || h <= 0 || w > 32767 || h > 32767 || w * h > kMaxOutputPixels)
    return UsageError(std::string(what) + ": picture would be " + std::to_string(w) + "x" +
                      std::to_string(h) + " pixels; expected at most " +
                      std::to_string(kMaxOutputPixels) + " (use fewer digits or a smaller scale)");
  return Status::Ok();
}

}  // namespace

void tile_origin(const GridStyle& s, size_t tiles, size_t i, int* x, int* y) {
  // Geometry does not depend on captions except through caption_h, which the caller's tiles fix;
  // render_digit_grid always reserves the caption band, so use the same here.
  const GridGeometry g = geometry(s, tiles, true);
  *x = kMargin + static_cast<int>(i % g.ncols) * g.cell_w;
  *y = kMargin + g.title_h + static_cast<int>(i / g.ncols) * g.cell_h;
}

Status render_digit_grid(const std::vector<DigitTile>& tiles, const GridStyle& s, Image* out) {
  if (s.rows < 1 || s.cols < 1 || s.scale < 1 || s.scale > 64 || s.columns < 1)
    return UsageError("render_digit_grid: bad style");
  const GridGeometry g = geometry(s, tiles.size(), true);
  NNET_RETURN_IF_ERROR(check_size(g.width, g.height, "digit grid"));
  draw::Canvas c(g.width, g.height);
  if (!s.title.empty()) {
    c.color({0.1, 0.1, 0.1});
    c.title(s.title, kMargin, g.width - 2 * kMargin);
  }
  c.font(caption_font(s.scale));
  const bool captions = any_caption(tiles);
  for (size_t i = 0; i < tiles.size(); ++i) {
    int x, y;
    tile_origin(s, tiles.size(), i, &x, &y);
    if (captions && !tiles[i].caption.empty()) {
      c.color(tiles[i].highlight ? draw::Rgb{0.80, 0.10, 0.10} : draw::Rgb{0.15, 0.15, 0.15});
      c.text(x + g.digit_w / 2.0, y + g.digit_h + 3, tiles[i].caption, 0.5, 0);
    }
  }
  NNET_RETURN_IF_ERROR(c.finish());
  *out = c.to_rgb();
  // Digits are copied in exactly (no resampling), dark ink on white paper.
  for (size_t i = 0; i < tiles.size(); ++i) {
    int x0, y0;
    tile_origin(s, tiles.size(), i, &x0, &y0);
    for (int r = 0; r < s.rows; ++r)
      for (int col = 0; col < s.cols; ++col) {
        const uint8_t v = 255 - to_byte(tiles[i].pixels[r * s.cols + col]);
        for (int dy = 0; dy < s.scale; ++dy)
          for (int dx = 0; dx < s.scale; ++dx) {
            uint8_t* p = out->at(x0 + col * s.scale + dx, y0 + r * s.scale + dy);
            p[0] = p[1] = p[2] = v;
          }
      }
  }
  return Status::Ok();
}

std::string terminal_digits(const std::vector<DigitTile>& tiles, int rows, int cols, int width,
                            bool color) {
  const int tile_w = color ? cols : 2 * cols;
  const int per_line = std::max(1, (width + 1) / (tile_w + 1));
  static const char kRamp[] = " .:-=+*#%@";
  std::string out;
  char buf[64];
  auto gray = [](float v) {
    return 232 + static_cast<int>(std::lround(std::clamp(v, 0.f, 1.f) * 23));
  };
  for (size_t first = 0; first < tiles.size(); first += per_line) {
    const size_t last = std::min(tiles.size(), first + per_line);
    bool captions = false;
    for (size_t i = first; i < last; ++i) captions |= !tiles[i].caption.empty();
    if (captions) {
      for (size_t i = first; i < last; ++i) {
        std::string cap = tiles[i].caption.substr(0, tile_w);
        if (color && tiles[i].highlight) out += "\x1b[31m";
        out += cap;
        if (color && tiles[i].highlight) out += "\x1b[0m";
        if (i + 1 < last) out += std::string(tile_w + 1 - cap.size(), ' ');
      }
      out += '\n';
    }
    const int step = color ? 2 : 1;
    for (int r = 0; r < rows; r += step) {
      for (size_t i = first; i < last; ++i) {
        const float* px = tiles[i].pixels;
        for (int c = 0; c < cols; ++c) {
          const float top = px[r * cols + c];
          if (color) {
            const float bottom = r + 1 < rows ? px[(r + 1) * cols + c] : 0.f;
            std::snprintf(buf, sizeof buf, "\x1b[38;5;%dm\x1b[48;5;%dm\xe2\x96\x80", gray(top),
                          gray(bottom));
            out += buf;
          } else {
            const char ch = kRamp[std::clamp(static_cast<int>(top * 9.999f), 0, 9)];
            out += ch;
            out += ch;
          }
        }
        if (color) out += "\x1b[0m";
        if (i + 1 < last) out += ' ';
      }
      out += '\n';
    }
  }
  return out;
}

Status render_confusion(const std::vector<long>& counts, int n, const std::string& title,
                        Image* out) {
  if (n < 1 || n > 100 || counts.size() != static_cast<size_t>(n) * n)
    return UsageError("render_confusion: expected an n x n matrix of counts");
  const int cell = 52, left = 80, top = 84, right = 130, bottom = 20;
  const int w = left + n * cell + right, h = top + n * cell + bottom;
  draw::Canvas c(w, h);
  std::vector<long> row_total(n, 0);
  long correct = 0, total = 0, max_off = 0;
  for (int t = 0; t < n; ++t)
    for (int p = 0; p < n; ++p) {
      const long v = counts[static_cast<size_t>(t) * n + p];
      row_total[t] += v;
      total += v;
      if (t == p)
        correct += v;
      else
        max_off = std::max(max_off, v);
    }
  c.color({0.1, 0.1, 0.1});
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s%s%ld/%ld correct (%.2f%%)", title.c_str(),
                title.empty() ? "" : ": ", correct, total, total ? 100.0 * correct / total : 0.0);
  c.title(buf, 10, w - 20);
  c.font(14);
  c.text(left + n * cell / 2.0, 38, "predicted", 0.5, 0);
  c.text(22, top + n * cell / 2.0, "true label", 0.5, 0, -M_PI / 2);
  c.font(14, true);
  for (int i = 0; i < n; ++i) {
    c.text(left + i * cell + cell / 2.0, top - 22, std::to_string(i), 0.5, 0);
    c.text(left - 12, top + i * cell + cell / 2.0, std::to_string(i), 1, 0.5);
  }
  c.font(13);
  c.color({0.3, 0.3, 0.3});
  c.text(left + n * cell + 10, top - 22, "recall", 0, 0);
  for (int t = 0; t < n; ++t) {
    for (int p = 0; p < n; ++p) {
      const long v = counts[static_cast<size_t>(t) * n + p];
      // Diagonal: blue by the row's share; off-diagonal: red relative to the worst confusion,
      // so the mistakes stand out even when they are 1% of a row.
      double k;
      draw::Rgb base;
      if (t == p) {
        k = row_total[t] ? static_cast<double>(v) / row_total[t] : 0;
        base = {0.13, 0.40, 0.67};
      } else {
        k = max_off ? std::sqrt(static_cast<double>(v) / max_off) : 0;
        base = {0.80, 0.15, 0.15};
      }
      c.color({1 - k * (1 - base.r), 1 - k * (1 - base.g), 1 - k * (1 - base.b)});
      c.rect(left + p * cell, top + t * cell, cell, cell);
      c.color(k > 0.55 ? draw::Rgb{1, 1, 1}
              : v      ? draw::Rgb{0.1, 0.1, 0.1}
                       : draw::Rgb{0.75, 0.75, 0.75});
      c.font(v >= 10000 ? 11 : 14, t == p);
      c.text(left + p * cell + cell / 2.0, top + t * cell + cell / 2.0, std::to_string(v), 0.5,
             0.5);
    }
    c.color({0.2, 0.2, 0.2});
    c.font(13);
    std::snprintf(
        buf, sizeof buf, "%.1f%%",
        row_total[t] ? 100.0 * counts[static_cast<size_t>(t) * n + t] / row_total[t] : 0.0);
    c.text(left + n * cell + 10, top + t * cell + cell / 2.0, buf, 0, 0.5);
  }
  c.color({0.6, 0.6, 0.6});
  cairo_set_line_width(c.cr(), 1);
  cairo_rectangle(c.cr(), left + 0.5, top + 0.5, n * cell - 1, n * cell - 1);
  cairo_stroke(c.cr());
  NNET_RETURN_IF_ERROR(c.finish());
  *out = c.to_rgb();
  return Status::Ok();
}

namespace {

// Tile j is row j of w (tiles, rows*cols, row-major pixels) upscaled by `scale`, captioned
// captions[j], in the diverging colour map, divided by scales[j] (a positive |weight| bound).
Status draw_weight_tiles(const Eigen::Ref<const Eigen::MatrixXf>& w, int rows, int cols, int scale,
                         int columns, const std::vector<std::string>& captions,
                         const std::vector<float>& scales, const std::string& title, int font,
                         Image* out) {
  const long tiles = w.rows();
  GridStyle s;
  s.rows = rows, s.cols = cols, s.scale = scale, s.title = title, s.columns = columns;
  const GridGeometry g = geometry(s, static_cast<size_t>(tiles), true);
  NNET_RETURN_IF_ERROR(check_size(g.width, g.height, "weights"));
  draw::Canvas c(g.width, g.height);
  if (!title.empty()) {
    c.color({0.1, 0.1, 0.1});
    c.title(title, kMargin, g.width - 2 * kMargin);
  }
  c.font(font);
  c.color({0.3, 0.3, 0.3});
  for (long j = 0; j < tiles; ++j) {
    int x, y;
    tile_origin(s, tiles, j, &x, &y);
    c.text(x + g.digit_w / 2.0, y + g.digit_h + 3, captions[j], 0.5, 0);
  }
  NNET_RETURN_IF_ERROR(c.finish());
  *out = c.to_rgb();
  const float neg[3] = {0.13f, 0.40f, 0.67f}, pos[3] = {0.70f, 0.09f, 0.17f};
  for (long j = 0; j < tiles; ++j) {
    int x0, y0;
    tile_origin(s, tiles, j, &x0, &y0);
    const float m = std::max(scales[j], 1e-12f);
    for (int r = 0; r < rows; ++r)
      for (int col = 0; col < cols; ++col) {
        const float t = std::clamp(w(j, r * cols + col) / m, -1.f, 1.f);
        const float* base = t < 0 ? neg : pos;
        const float k = std::fabs(t);
        uint8_t rgb[3];
        for (int ch = 0; ch < 3; ++ch) rgb[ch] = to_byte(1 - k * (1 - base[ch]));
        for (int dy = 0; dy < s.scale; ++dy)
          for (int dx = 0; dx < s.scale; ++dx) {
            uint8_t* p = out->at(x0 + col * s.scale + dx, y0 + r * s.scale + dy);
            p[0] = rgb[0], p[1] = rgb[1], p[2] = rgb[2];
          }
      }
  }
  return Status::Ok();
}

}  // namespace

Status render_weights(const Eigen::Ref<const Eigen::MatrixXf>& w, int rows, int cols,
                      const std::string& title, Image* out) {
  const long neurons = w.rows();
  if (neurons < 1 || w.cols() != static_cast<long>(rows) * cols)
    return UsageError("render_weights: expected (neurons, " + std::to_string(rows * cols) +
                      ") weights, found (" + std::to_string(neurons) + ", " +
                      std::to_string(w.cols()) + ")");
  if (neurons > 4096) return UsageError("render_weights: at most 4096 neurons");
  std::vector<std::string> captions;
  std::vector<float> scales;
  for (long j = 0; j < neurons; ++j) {
    captions.push_back("neuron " + std::to_string(j));
    scales.push_back(w.row(j).cwiseAbs().maxCoeff());
  }
  const int columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(neurons))));
  return draw_weight_tiles(w, rows, cols, 3, columns, captions, scales, title, caption_font(3) - 2,
                           out);
}

Status render_filters(const Eigen::Ref<const Eigen::MatrixXf>& w, int channels, int kernel,
                      const std::string& title, Image* out) {
  const long filters = w.rows();
  if (filters < 1 || channels < 1 || kernel < 1 ||
      w.cols() != static_cast<long>(channels) * kernel * kernel)
    return UsageError("render_filters: expected (filters, " +
                      std::to_string(static_cast<long>(channels) * kernel * kernel) +
                      ") weights, found (" + std::to_string(filters) + ", " +
                      std::to_string(w.cols()) + ")");
  if (filters * channels > 4096)
    return UsageError("render_filters: at most 4096 kernels (filters x channels), found " +
                      std::to_string(filters * channels));
  const int kk = kernel * kernel;
  // One tile per (filter, channel): the c-th K*K block of filter f's row, row-major (ky, kx).
  Eigen::MatrixXf tiles(filters * channels, kk);
  std::vector<std::string> captions;
  std::vector<float> scales;
  for (long f = 0; f < filters; ++f) {
    const float m = w.row(f).cwiseAbs().maxCoeff();
    for (int c = 0; c < channels; ++c) {
      tiles.row(f * channels + c) = w.row(f).segment(static_cast<long>(c) * kk, kk);
      captions.push_back(channels == 1 ? std::to_string(f)
                                       : std::to_string(f) + ":" + std::to_string(c));
      scales.push_back(m);
    }
  }
  // Upscaled so a 5x5 kernel is 60 pixels wide; one row of C tiles per filter when C > 1.
  const int scale = std::clamp(60 / kernel, 3, 24);
  const int columns = channels == 1
                          ? static_cast<int>(std::ceil(std::sqrt(static_cast<double>(filters))))
                          : channels;
  return draw_weight_tiles(tiles, kernel, kernel, scale, columns, captions, scales, title, 12, out);
}

Status render_layer_weights(const Network& net, int layer, const std::string& name, Image* out) {
  if (layer < 1 || layer > net.layers())
    return UsageError(name + ": weight layer " + std::to_string(layer) + ": expected 1.." +
                      std::to_string(net.layers()) + " (it has " + std::to_string(net.layers()) +
                      " weight layers)");
  const int l = layer - 1;
  const std::string where = name + ": layer " + std::to_string(layer) + ", ";
  const LayerSpec& spec = net.spec(net.stack_layer(l));
  const Shape in = net.input_shape(net.stack_layer(l));
  if (spec.kind == LayerKind::kConv)  // F kernels, one row of tiles per filter
    return render_filters(net.weight(l), in.c, spec.kernel,
                          where + layers_to_string({spec}) + " filters (red > 0 > blue)", out);
  // Each neuron's weights as a picture of its input: an image (one channel) or a square (a
  // --sizes net's 784 inputs are 1x28x28 already).
  int rows = 0, cols = 0;
  const bool flat = in.h == 1 && in.w == 1;  // a dense layer's outputs (fc:N is N x 1 x 1)
  if (!flat && in.c == 1) {
    rows = in.h, cols = in.w;
  } else if (flat) {
    const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(net.cols(l)))));
    if (side * side == net.cols(l)) rows = cols = side;
  }
  if (rows == 0)
    return DataError(
        name + ": weight layer " + std::to_string(layer) +
        ": expected a conv layer or one whose inputs form an image or a square, found " +
        (in.c > 1 && !flat ? std::to_string(in.c) + " feature maps of " + std::to_string(in.h) +
                                 "x" + std::to_string(in.w)
                           : std::to_string(net.cols(l)) + " inputs"));
  return render_weights(
      net.weight(l), rows, cols,
      where + std::to_string(net.rows(l)) + " neurons' weights (red > 0 > blue, per-tile scale)",
      out);
}

}  // namespace nnet

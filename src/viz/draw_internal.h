// Cairo helpers shared by render.cc and plot.cc: a canvas over a PNG (image) or SVG surface,
// text with alignment, and conversion to nnet::Image. Private to the library.
#pragma once

#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "nnet/image.h"
#include "nnet/status.h"

namespace nnet::draw {

struct Rgb {
  double r, g, b;
};

// Horizontal / vertical anchor of a text: 0 = left/top, 0.5 = centre, 1 = right/bottom.
class Canvas {
 public:
  // A raster canvas (RGB24) of w x h pixels, filled white.
  Canvas(int w, int h) : w_(w), h_(h) {
    surface_ = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    init();
  }
  // A vector canvas whose SVG bytes accumulate in *svg (complete after finish()).
  Canvas(int w, int h, std::string* svg) : w_(w), h_(h), svg_(svg) {
    surface_ = cairo_svg_surface_create_for_stream(&Canvas::append, svg, w, h);
    init();
  }
  ~Canvas() {
    cairo_destroy(cr_);
    cairo_surface_destroy(surface_);
  }
  Canvas(const Canvas&) = delete;
  Canvas& operator=(const Canvas&) = delete;

  cairo_t* cr() { return cr_; }
  int width() const { return w_; }
  int height() const { return h_; }

  void color(Rgb c, double alpha = 1.0) { cairo_set_source_rgba(cr_, c.r, c.g, c.b, alpha); }
  void font(double size, bool bold = false) {
    cairo_select_font_face(cr_, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr_, size);
  }
  double text_width(const std::string& s) {
    cairo_text_extents_t e;
    cairo_text_extents(cr_, s.c_str(), &e);
    return e.x_advance;
  }
  // Draws `s` with its anchor (ax, ay) at (x, y); ay uses the font's ascent, so rows line up.
  void text(double x, double y, const std::string& s, double ax = 0, double ay = 0,
            double angle = 0) {
    cairo_font_extents_t fe;
    cairo_font_extents(cr_, &fe);
    const double tw = text_width(s), th = fe.ascent + fe.descent * 0.3;
    cairo_save(cr_);
    cairo_translate(cr_, x, y);
    cairo_rotate(cr_, angle);
    cairo_move_to(cr_, -ax * tw, -ay * th + fe.ascent);
    cairo_show_text(cr_, s.c_str());
    cairo_restore(cr_);
  }
  // A bold title centred at the top, shrunk (down to 10 px) until it fits `max_width`.
  void title(const std::string& s, double y, double max_width, double size = 16) {
    font(size, true);
    const double tw = text_width(s);
    if (tw > max_width) font(std::max(10.0, size * max_width / tw), true);
    text(w_ / 2.0, y, s, 0.5, 0);
  }
  void rect(double x, double y, double w, double h) {
    cairo_rectangle(cr_, x, y, w, h);
    cairo_fill(cr_);
  }
  void line(double x0, double y0, double x1, double y1, double width) {
    cairo_set_line_width(cr_, width);
    cairo_move_to(cr_, x0, y0);
    cairo_line_to(cr_, x1, y1);
    cairo_stroke(cr_);
  }

  // Flushes the surface; for SVG the bytes are complete afterwards.
  Status finish() {
    cairo_surface_flush(surface_);
    if (svg_) cairo_surface_finish(surface_);
    if (cairo_status(cr_) != CAIRO_STATUS_SUCCESS)
      return Status::Error(Code::kSoftware,
                           std::string("cairo: ") + cairo_status_to_string(cairo_status(cr_)));
    return Status::Ok();
  }

  // The raster canvas as an 8-bit RGB image.
  Image to_rgb() {
    cairo_surface_flush(surface_);
    Image img(w_, h_, 3);
    const unsigned char* data = cairo_image_surface_get_data(surface_);
    const int stride = cairo_image_surface_get_stride(surface_);
    for (int y = 0; y < h_; ++y)
      for (int x = 0; x < w_; ++x) {
        uint32_t px;
        std::memcpy(&px, data + static_cast<size_t>(y) * stride + 4 * x, 4);  // xRGB, native
        uint8_t* o = img.at(x, y);
        o[0] = (px >> 16) & 255, o[1] = (px >> 8) & 255, o[2] = px & 255;
      }
    return img;
  }

 private:
  void init() {
    cr_ = cairo_create(surface_);
    cairo_set_source_rgb(cr_, 1, 1, 1);
    cairo_paint(cr_);
  }
  static cairo_status_t append(void* closure, const unsigned char* data, unsigned int length) {
    static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
    return CAIRO_STATUS_SUCCESS;
  }
  int w_, h_;
  std::string* svg_ = nullptr;
  cairo_surface_t* surface_ = nullptr;
  cairo_t* cr_ = nullptr;
};

}  // namespace nnet::draw

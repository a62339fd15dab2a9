#include "nnet/plot.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>

#include "viz/draw_internal.h"
#include "nnet/fileio.h"
#include "nnet/layers.h"

namespace nnet {

namespace {

using draw::Canvas;
using draw::Rgb;

// matplotlib's tab10: distinct, print-friendly, what the book's figures look like.
const Rgb kPalette[] = {{0.122, 0.467, 0.706}, {1.000, 0.498, 0.055}, {0.173, 0.627, 0.173},
                        {0.839, 0.153, 0.157}, {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294},
                        {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498}, {0.737, 0.741, 0.133},
                        {0.090, 0.745, 0.812}};
Rgb palette(size_t i) { return kPalette[i % 10]; }

struct Series {
  std::vector<double> x, y;
  Rgb color;
  std::vector<double> dash;  // empty = solid
};

// A "nice" tick step (1, 2, 2.5 or 5 times a power of ten) giving about `target` intervals.
double nice_step(double range, int target) {
  const double raw = range / target;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

std::string format_tick(double v, double step) {
  int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  if (std::fabs(step / std::pow(10.0, -decimals) - 2.5) < 1e-6) ++decimals;
  if (std::fabs(v) < step * 1e-6) v = 0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string superscript(int e) {
  static const char* kDigits[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
  std::string s = e < 0 ? "⁻" : "";
  const std::string d = std::to_string(std::abs(e));
  for (char c : d) s += kDigits[c - '0'];
  return s;
}

struct Panel {
  double x, y, w, h;  // plot area in pixels
  double x0, x1, y0, y1;
  bool log_y = false;
  double px(double v) const { return x + (v - x0) / (x1 - x0) * w; }
  double py(double v) const {
    if (log_y) v = std::log10(v);
    const double lo = log_y ? std::log10(y0) : y0, hi = log_y ? std::log10(y1) : y1;
    return y + h - (v - lo) / (hi - lo) * h;
  }
};

// Frame, grid, ticks, tick labels, axis labels and title of one panel; data ranges are set by
// the caller. Returns the panel with its ranges widened to whole ticks.
void draw_axes(Canvas& c, Panel& p, const std::string& title, const std::string& xlabel,
               const std::string& ylabel, double fs) {
  // x: integer epochs.
  double xs = std::max(1.0, nice_step(std::max(p.x1 - p.x0, 1.0), 6));
  if (std::fabs(xs / std::pow(10.0, std::floor(std::log10(xs))) - 2.5) < 1e-9) xs *= 0.8;  // 2.5->2
  xs = std::max(1.0, std::round(xs));
  if (p.x1 <= p.x0) p.x1 = p.x0 + 1;
  std::vector<std::pair<double, std::string>> yt;
  if (p.log_y) {
    int e0 = static_cast<int>(std::floor(std::log10(p.y0) + 1e-9));
    int e1 = static_cast<int>(std::ceil(std::log10(p.y1) - 1e-9));
    if (e1 <= e0) e1 = e0 + 1;
    p.y0 = std::pow(10.0, e0), p.y1 = std::pow(10.0, e1);
    const int every = std::max(1, (e1 - e0 + 5) / 6);
    for (int e = e0; e <= e1; ++e) {
      if ((e - e0) % every == 0) yt.push_back({std::pow(10.0, e), "10" + superscript(e)});
      if (e1 - e0 <= 2 && e < e1)  // few decades: 2x and 5x too, unlabelled lines
        for (double m : {2.0, 5.0}) yt.push_back({m * std::pow(10.0, e), ""});
    }
  } else {
    if (p.y1 - p.y0 < 1e-12) p.y0 -= 0.5, p.y1 += 0.5;
    const double ys = nice_step(p.y1 - p.y0, 5);
    p.y0 = std::floor(p.y0 / ys + 1e-9) * ys;
    p.y1 = std::ceil(p.y1 / ys - 1e-9) * ys;
    for (double v = p.y0; v <= p.y1 + ys * 1e-6; v += ys) yt.push_back({v, format_tick(v, ys)});
  }
  cairo_t* cr = c.cr();
  // Grid.
  c.color({0.90, 0.90, 0.90});
  for (auto& [v, s] : yt)
    c.line(p.x, std::round(p.py(v)) + 0.5, p.x + p.w, std::round(p.py(v)) + 0.5, 1);
  for (double v = std::ceil(p.x0 / xs) * xs; v <= p.x1 + 1e-9; v += xs)
    c.line(std::round(p.px(v)) + 0.5, p.y, std::round(p.px(v)) + 0.5, p.y + p.h, 1);
  // Frame.
  c.color({0.25, 0.25, 0.25});
  cairo_set_line_width(cr, 1.2);
  cairo_rectangle(cr, std::round(p.x) + 0.5, std::round(p.y) + 0.5, std::round(p.w),
                  std::round(p.h));
  cairo_stroke(cr);
  // Tick labels.
  c.font(fs * 0.85);
  c.color({0.2, 0.2, 0.2});
  for (auto& [v, s] : yt) {
    if (s.empty()) continue;
    c.line(p.x - 5, p.py(v), p.x, p.py(v), 1.2);
    c.text(p.x - 8, p.py(v), s, 1, 0.5);
  }
  for (double v = std::ceil(p.x0 / xs) * xs; v <= p.x1 + 1e-9; v += xs) {
    c.line(p.px(v), p.y + p.h, p.px(v), p.y + p.h + 5, 1.2);
    c.text(p.px(v), p.y + p.h + 8, format_tick(v, 1), 0.5, 0);
  }
  // Axis labels and title.
  c.font(fs);
  c.color({0.1, 0.1, 0.1});
  c.text(p.x + p.w / 2, p.y + p.h + 10 + fs * 1.3, xlabel, 0.5, 0);
  double widest = 0;
  c.font(fs * 0.85);
  for (auto& [v, s] : yt) widest = std::max(widest, c.text_width(s));
  c.font(fs);
  c.text(p.x - 16 - widest - fs * 0.4, p.y + p.h / 2, ylabel, 0.5, 1, -M_PI / 2);
  c.font(fs * 1.1, true);
  c.text(p.x + p.w / 2, p.y - 10, title, 0.5, 1);
}

void draw_series(Canvas& c, const Panel& p, const std::vector<Series>& ss) {
  cairo_t* cr = c.cr();
  cairo_save(cr);
  cairo_rectangle(cr, p.x, p.y, p.w, p.h);
  cairo_clip(cr);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  for (const Series& s : ss) {
    c.color(s.color);
    cairo_set_line_width(cr, 2.2);
    cairo_set_dash(cr, s.dash.data(), static_cast<int>(s.dash.size()), 0);
    bool pen = false;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i]) || (p.log_y && s.y[i] <= 0)) {
        pen = false;
        continue;
      }
      if (pen)
        cairo_line_to(cr, p.px(s.x[i]), p.py(s.y[i]));
      else
        cairo_move_to(cr, p.px(s.x[i]), p.py(s.y[i]));
      pen = true;
    }
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
    // Markers when the epochs are few enough to tell apart.
    if (s.x.size() <= 40)
      for (size_t i = 0; i < s.x.size(); ++i) {
        if (!std::isfinite(s.y[i]) || (p.log_y && s.y[i] <= 0)) continue;
        cairo_arc(cr, p.px(s.x[i]), p.py(s.y[i]), 3.2, 0, 2 * M_PI);
        cairo_fill(cr);
      }
  }
  cairo_restore(cr);
}

// Legend entries laid out in rows across the width; returns the height used.
double draw_legend(Canvas& c, double x, double y, double w, const std::vector<Series>& ss,
                   const std::vector<std::string>& labels, double fs, bool measure_only) {
  c.font(fs);
  double total = 0;
  for (const std::string& l : labels) total += 34 + c.text_width(l) + 22;
  total -= 22;
  // One row: centred under the figure; several: flush left.
  double cx = total <= w ? x + (w - total) / 2 : x, cy = y;
  const double row = fs * 1.6;
  for (size_t i = 0; i < labels.size(); ++i) {
    const double ew = 34 + c.text_width(labels[i]) + 22;
    if (cx + ew > x + w && cx > x) cx = x, cy += row;
    if (!measure_only) {
      cairo_t* cr = c.cr();
      c.color(ss[i].color);
      cairo_set_dash(cr, ss[i].dash.data(), static_cast<int>(ss[i].dash.size()), 0);
      c.line(cx, cy + row / 2, cx + 26, cy + row / 2, 2.5);
      cairo_set_dash(cr, nullptr, 0, 0);
      cairo_arc(cr, cx + 13, cy + row / 2, 3.2, 0, 2 * M_PI);
      cairo_fill(cr);
      c.color({0.1, 0.1, 0.1});
      c.text(cx + 34, cy + row / 2, labels[i], 0, 0.5);
    }
    cx += ew;
  }
  return cy + row - y;
}

Status write_canvas(const std::string& path, int w, int h, const std::function<void(Canvas&)>& fn) {
  std::string bytes;
  if (is_svg_path(path)) {
    {
      Canvas c(w, h, &bytes);
      fn(c);
      NNET_RETURN_IF_ERROR(c.finish());
    }
  } else {
    Canvas c(w, h);
    fn(c);
    NNET_RETURN_IF_ERROR(c.finish());
    NNET_RETURN_IF_ERROR(encode_png(c.to_rgb(), &bytes));
  }
  return write_file_atomic(path, bytes);
}

bool finite_range(const std::vector<Series>& ss, bool positive, double* lo, double* hi) {
  *lo = std::numeric_limits<double>::infinity(), *hi = -*lo;
  for (const Series& s : ss)
    for (double v : s.y)
      if (std::isfinite(v) && (!positive || v > 0)) *lo = std::min(*lo, v), *hi = std::max(*hi, v);
  return *lo <= *hi;
}

}  // namespace

bool is_svg_path(const std::string& path) {
  if (path.size() < 4) return false;
  std::string ext = path.substr(path.size() - 4);
  for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return ext == ".svg";
}

std::string label_from_path(const std::string& path) {
  return std::filesystem::path(path).stem().string();
}

Status plot_curves(const std::vector<PlotRun>& runs, const std::string& path) {
  struct Spec {
    const char* title;
    const char* ylabel;
    std::function<double(const EpochReport&)> get;
  };
  auto pct = [](long c, long t) { return c >= 0 && t > 0 ? 100.0 * c / t : NAN; };
  const Spec specs[4] = {
      {"Cost on the training data", "cost",
       [](const EpochReport& r) { return r.training_cost >= 0 ? r.training_cost : NAN; }},
      {"Accuracy on the training data", "accuracy (%)",
       [&](const EpochReport& r) { return pct(r.training_correct, r.training_total); }},
      {"Cost on the evaluation data", "cost",
       [](const EpochReport& r) { return r.evaluation_cost >= 0 ? r.evaluation_cost : NAN; }},
      {"Accuracy on the evaluation data", "accuracy (%)",
       [&](const EpochReport& r) { return pct(r.evaluation_correct, r.evaluation_total); }},
  };
  std::vector<std::vector<Series>> panels(4);
  bool any = false;
  double xmax = 1;
  for (int k = 0; k < 4; ++k)
    for (size_t i = 0; i < runs.size(); ++i) {
      Series s;
      s.color = palette(i);
      bool has = false;
      for (const EpochReport& r : runs[i].history.epochs) {
        s.x.push_back(r.epoch);
        s.y.push_back(specs[k].get(r));
        has |= std::isfinite(s.y.back());
        xmax = std::max(xmax, static_cast<double>(r.epoch));
      }
      if (has) any = true;
      panels[k].push_back(std::move(s));
    }
  if (!any)
    return DataError(path + ": nothing to plot: the histories hold no monitored cost or accuracy");
  std::vector<std::string> labels;
  std::vector<Series> legend;
  for (size_t i = 0; i < runs.size(); ++i) {
    labels.push_back(runs[i].label);
    legend.push_back(Series{{}, {}, palette(i), {}});
  }
  const int W = 1280, fs = 16;
  const double pad_l = 96, pad_r = 28, pad_t = 52, pad_b = 74;
  const double cell_w = W / 2.0, cell_h = 400;
  double legend_h;
  {
    Canvas m(W, 10);
    legend_h = draw_legend(m, 40, 0, W - 80, legend, labels, fs, true) + 24;
  }
  const int H = static_cast<int>(2 * cell_h + legend_h + 10);
  return write_canvas(path, W, H, [&](Canvas& c) {
    for (int k = 0; k < 4; ++k) {
      Panel p;
      p.x = (k % 2) * cell_w + pad_l, p.y = (k / 2) * cell_h + pad_t;
      p.w = cell_w - pad_l - pad_r, p.h = cell_h - pad_t - pad_b;
      p.x0 = 0, p.x1 = xmax;
      double lo, hi;
      const bool has = finite_range(panels[k], false, &lo, &hi);
      if (!has) lo = 0, hi = 1;
      if (k % 2 == 1 && has) {  // accuracy: a little headroom, never past 100%
        const double pad = std::max(0.5, 0.05 * (hi - lo));
        lo = std::max(0.0, lo - pad), hi = std::min(100.0, hi + pad);
      } else if (has) {
        const double pad = std::max(1e-9, 0.05 * (hi - lo));
        lo = std::max(0.0, lo - pad), hi = hi + pad;
      }
      p.y0 = lo, p.y1 = hi;
      draw_axes(c, p, specs[k].title, "epoch", specs[k].ylabel, fs);
      if (has) {
        draw_series(c, p, panels[k]);
      } else {
        c.font(fs);
        c.color({0.5, 0.5, 0.5});
        c.text(p.x + p.w / 2, p.y + p.h / 2 - fs, "not monitored", 0.5, 0.5);
        c.font(fs * 0.8);
        c.text(p.x + p.w / 2, p.y + p.h / 2 + fs * 0.6, "(train with --monitor all)", 0.5, 0.5);
      }
    }
    draw_legend(c, 40, 2 * cell_h + 6, W - 80, legend, labels, fs, false);
  });
}

std::vector<std::string> weight_layer_names(const History& h, size_t layers) {
  std::vector<std::string> names;
  const Value* spelled = h.options.find("layers");
  std::vector<LayerSpec> specs;
  if (spelled && spelled->is_string() && !spelled->as_string().empty() &&
      parse_layers(spelled->as_string(), {Activation::kSigmoid}, &specs).ok()) {
    for (const LayerSpec& s : specs)
      if (has_weights(s.kind))
        names.push_back("layer " + std::to_string(names.size() + 1) + ": " + layers_to_string({s}));
    if (names.size() == layers) return names;
  }
  names.clear();
  for (size_t l = 0; l < layers; ++l)
    names.push_back(l + 1 == layers ? "output layer" : "hidden layer " + std::to_string(l + 1));
  return names;
}

Status plot_gradients(const std::vector<PlotRun>& runs, const std::string& path) {
  std::vector<Series> ss;
  std::vector<std::string> labels;
  double xmax = 1;
  static const std::vector<std::vector<double>> kDashes = {{}, {8, 5}, {2, 4}, {10, 4, 2, 4}};
  for (size_t i = 0; i < runs.size(); ++i) {
    size_t layers = 0;
    for (const EpochReport& r : runs[i].history.epochs)
      layers = std::max(layers, r.bias_grad_norm.size());
    const std::vector<std::string> names = weight_layer_names(runs[i].history, layers);
    for (size_t l = 0; l < layers; ++l) {
      Series s;
      s.color = palette(l);
      s.dash = kDashes[i % kDashes.size()];
      for (const EpochReport& r : runs[i].history.epochs) {
        s.x.push_back(r.epoch);
        s.y.push_back(l < r.bias_grad_norm.size() ? r.bias_grad_norm[l] : NAN);
        xmax = std::max(xmax, static_cast<double>(r.epoch));
      }
      ss.push_back(std::move(s));
      std::string lab = names[l];
      if (runs.size() > 1) lab = runs[i].label + ": " + lab;
      labels.push_back(lab);
    }
  }
  double lo, hi;
  if (ss.empty() || !finite_range(ss, true, &lo, &hi))
    return DataError(path +
                     ": nothing to plot: no per-layer gradient norms in the histories "
                     "(train with --record-gradients)");
  const int W = 960, fs = 16;
  double legend_h;
  {
    Canvas m(W, 10);
    legend_h = draw_legend(m, 40, 0, W - 80, ss, labels, fs, true) + 20;
  }
  const int H = static_cast<int>(560 + legend_h);
  std::string title = "Speed of learning: ‖∂C/∂b‖ per layer";
  if (runs.size() == 1) title += " (" + runs[0].label + ")";
  return write_canvas(path, W, H, [&](Canvas& c) {
    Panel p;
    p.x = 104, p.y = 56, p.w = W - 104 - 32, p.h = 560 - 56 - 76;
    p.x0 = 0, p.x1 = xmax, p.y0 = lo, p.y1 = hi, p.log_y = true;
    draw_axes(c, p, title, "epoch", "gradient norm (mean over mini-batches)", fs);
    draw_series(c, p, ss);
    draw_legend(c, 40, 560, W - 80, ss, labels, fs, false);
  });
}

Status plot_health(const std::vector<PlotRun>& runs, const std::string& path) {
  const HealthThresholds t;
  struct Spec {
    std::string title, ylabel;
    bool log_y;
    std::vector<double> thresholds;
    bool per_layer;  // one series per hidden layer
    std::function<double(const EpochReport&, size_t layer)> get;
  };
  auto pct = [](long c, long n) { return c >= 0 && n > 0 ? static_cast<double>(c) / n : NAN; };
  const std::vector<Spec> specs = {
      {"Outputs pinned on the wrong side",
       "share of outputs",
       false,
       {t.output_saturation},
       false,
       [](const EpochReport& r, size_t) { return r.health.output_saturation; }},
      {"Sample predicted as the top class",
       "share of sample",
       false,
       {t.one_class},
       false,
       [](const EpochReport& r, size_t) { return r.health.top_class_share; }},
      {"Dead ReLU units",
       "share of layer",
       false,
       {t.dead_units},
       true,
       [](const EpochReport& r, size_t l) {
         return l < r.health.dead_share.size() ? r.health.dead_share[l] : NAN;
       }},
      {"Saturated sigmoid/tanh units",
       "share of layer",
       false,
       {t.saturated_units},
       true,
       [](const EpochReport& r, size_t l) {
         return l < r.health.saturated_share.size() ? r.health.saturated_share[l] : NAN;
       }},
      {"Gradient ratio ‖∂C/∂b‖ first / last layer",
       "ratio",
       true,
       {1.0 / t.gradient_ratio, t.gradient_ratio},
       false,
       [](const EpochReport& r, size_t) {
         const auto& g = r.health.bias_grad_norm;
         return g.size() >= 2 && g.back() > 0 ? g.front() / g.back() : NAN;
       }},
      {"Training minus evaluation accuracy",
       "accuracy gap",
       false,
       {t.overfit_gap},
       false,
       [&](const EpochReport& r, size_t) {
         const double tr = r.training_correct >= 0 ? pct(r.training_correct, r.training_total)
                                                   : r.health.sample_accuracy;
         return tr - pct(r.evaluation_correct, r.evaluation_total);
       }},
      // The cost the learning-rate rule follows; a sampled rise must also beat its noise.
      {"Training cost, monitored or sampled (2 rises >= 10% in 5 epochs fire)",
       "cost",
       false,
       {},
       false,
       [](const EpochReport& r, size_t) {
         return r.training_cost >= 0 ? r.training_cost : r.health.sample_cost;
       }},
  };
  static const std::vector<std::vector<double>> kDashes = {{}, {8, 5}, {2, 4}, {10, 4, 2, 4}};
  std::vector<std::vector<Series>> panels(specs.size());
  std::vector<std::string> legend_labels;
  std::vector<Series> legend;
  bool any = false;
  double xmax = 1;
  size_t max_layers = 1;
  for (const PlotRun& run : runs)
    for (const EpochReport& r : run.history.epochs)
      max_layers = std::max(max_layers, r.health.dead_share.size());
  for (size_t k = 0; k < specs.size(); ++k)
    for (size_t i = 0; i < runs.size(); ++i)
      for (size_t l = 0; l < (specs[k].per_layer ? max_layers : 1); ++l) {
        Series s;
        s.color = specs[k].per_layer ? palette(l) : palette(i);
        s.dash = specs[k].per_layer ? kDashes[i % kDashes.size()] : std::vector<double>{};
        bool has = false;
        for (const EpochReport& r : runs[i].history.epochs) {
          if (!r.health.measured()) continue;
          any = true;
          s.x.push_back(r.epoch);
          s.y.push_back(specs[k].get(r, l));
          has |= std::isfinite(s.y.back());
          xmax = std::max(xmax, static_cast<double>(r.epoch));
        }
        if (has) panels[k].push_back(std::move(s));
      }
  if (!any)
    return DataError(path +
                     ": nothing to plot: no health evidence in the histories (train with "
                     "hints on, recording a history)");
  for (size_t i = 0; i < runs.size(); ++i) {
    legend_labels.push_back(runs[i].label);
    legend.push_back(Series{{}, {}, palette(i), {}});
  }
  for (size_t l = 0; l < max_layers && max_layers > 1; ++l) {
    legend_labels.push_back("hidden layer " + std::to_string(l + 1) + " (unit panels)");
    legend.push_back(Series{{}, {}, palette(l), {}});
  }
  legend_labels.push_back("hint threshold");
  legend.push_back(Series{{}, {}, {0.75, 0.1, 0.1}, {6, 4}});
  const int W = 1280, fs = 15, cols = 2;
  const double pad_l = 96, pad_r = 28, pad_t = 52, pad_b = 74;
  const double cell_w = W / 2.0, cell_h = 330;
  const int rows = static_cast<int>((specs.size() + cols - 1) / cols);
  double legend_h;
  {
    Canvas m(W, 10);
    legend_h = draw_legend(m, 40, 0, W - 80, legend, legend_labels, fs, true) + 24;
  }
  const int H = static_cast<int>(rows * cell_h + legend_h + 10);
  return write_canvas(path, W, H, [&](Canvas& c) {
    for (size_t k = 0; k < specs.size(); ++k) {
      Panel p;
      p.x = (k % cols) * cell_w + pad_l, p.y = (k / cols) * cell_h + pad_t;
      p.w = cell_w - pad_l - pad_r, p.h = cell_h - pad_t - pad_b;
      p.x0 = 0, p.x1 = xmax;
      p.log_y = specs[k].log_y;
      double lo, hi;
      bool has = finite_range(panels[k], specs[k].log_y, &lo, &hi);
      if (!has) lo = specs[k].log_y ? 0.1 : 0, hi = specs[k].log_y ? 10 : 1;
      for (double th : specs[k].thresholds) lo = std::min(lo, th), hi = std::max(hi, th);
      if (!specs[k].log_y) {
        const double pad = std::max(1e-9, 0.05 * (hi - lo));
        lo -= pad, hi += pad;
      }
      p.y0 = lo, p.y1 = hi;
      draw_axes(c, p, specs[k].title, "epoch", specs[k].ylabel, fs);
      cairo_t* cr = c.cr();
      const double dash[] = {6, 4};
      for (double th : specs[k].thresholds) {
        c.color({0.75, 0.1, 0.1});
        cairo_set_dash(cr, dash, 2, 0);
        c.line(p.x, p.py(th), p.x + p.w, p.py(th), 1.6);
        cairo_set_dash(cr, nullptr, 0, 0);
      }
      if (has) {
        draw_series(c, p, panels[k]);
      } else {
        c.font(fs);
        c.color({0.5, 0.5, 0.5});
        c.text(p.x + p.w / 2, p.y + p.h / 2, "does not apply to these runs", 0.5, 0.5);
      }
    }
    draw_legend(c, 40, rows * cell_h + 6, W - 80, legend, legend_labels, fs, false);
  });
}

}  // namespace nnet

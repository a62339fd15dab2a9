// `nnet show`: digits from a data set in the terminal (half-block pixels) and as a labelled PNG
// grid; with --model, each digit's prediction too; with --weights, a weight layer's weights.
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "commands.h"
#include "common.h"
#include "nnet/fileio.h"
#include "nnet/model_io.h"
#include "nnet/render.h"
#include "nnet/train.h"

namespace nnet::app {

namespace {

struct ShowFlags {
  DataFlags data;
  std::string split = "test";
  long index = 0;
  std::string grid;
  int scale = 3;
  std::string output;
  std::string model;
  bool weights = false;
  int layer = 1;  // --weights: which weight layer, 1 = the first
  std::string color = "auto";
  bool quiet = false;
};

// Columns of the terminal on stdout (or $COLUMNS, else 80).
int terminal_width() {
  struct winsize ws;
  if (::isatty(1) && ::ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS"); c && std::atoi(c) > 0) return std::atoi(c);
  return 80;
}

Status parse_grid(const std::string& s, int* rows, int* cols) {
  char x = 0, extra = 0;
  if (std::sscanf(s.c_str(), "%d%c%d%c", rows, &x, cols, &extra) != 3 || (x != 'x' && x != 'X') ||
      *rows < 1 || *cols < 1 || *rows > 100 || *cols > 100)
    return UsageError("--grid: expected ROWSxCOLS with 1..100 each (e.g. 10x10), found '" + s +
                      "'");
  return Status::Ok();
}

int show_weights(const ShowFlags& f) {
  if (f.model.empty()) return fail(UsageError("--weights: needs --model MODEL"));
  if (f.output.empty()) return fail(UsageError("--weights: needs -o FILE.png"));
  if (Status s = check_output_path("-o", f.output, {f.model}); !s.ok()) return fail(s);
  Model m;
  if (Status s = load_model(f.model, &m); !s.ok()) return fail(s);
  Image img;
  const std::string file = std::filesystem::path(f.model).filename().string();
  if (Status s = render_layer_weights(m.net, f.layer, file, &img); !s.ok()) return fail(s);
  if (Status s = write_png(f.output, img); !s.ok()) return fail(s);
  std::fprintf(stderr, "nnet: wrote %s (%dx%d)\n", f.output.c_str(), img.width, img.height);
  return 0;
}

int run_show(const ShowFlags& f) {
  if (f.weights) return show_weights(f);
  int rows = 1, cols = 1;
  if (!f.grid.empty())
    if (Status s = parse_grid(f.grid, &rows, &cols); !s.ok()) return fail(s);
  if (f.scale < 1 || f.scale > 16)
    return fail(UsageError("--scale: expected 1..16, found " + std::to_string(f.scale)));
  if (f.color != "auto" && f.color != "always" && f.color != "never")
    return fail(UsageError("--color: expected auto, always or never, found '" + f.color + "'"));
  if (!f.output.empty())
    if (Status s = check_output_path("-o", f.output, {f.data.data, f.model}); !s.ok())
      return fail(s);
  DataSplits data;
  std::string used;
  if (Status s = load_cli_data(f.data, &data, &used); !s.ok()) return fail(s);
  const Dataset* d = nullptr;
  if (Status s = pick_split(data, f.split, "--split", &d); !s.ok()) return fail(s);
  if (!d) return fail(UsageError("--split: expected test, validation or training, found none"));
  const size_t want = static_cast<size_t>(rows) * cols;
  if (f.index < 0 || static_cast<size_t>(f.index) + want > d->size())
    return fail(UsageError("--index: expected 0.." + std::to_string(d->size() - want) + " for " +
                           std::to_string(want) + " digit(s) of the " + f.split + " split (" +
                           std::to_string(d->size()) + " images), found " +
                           std::to_string(f.index)));
  std::vector<uint8_t> pred;
  if (!f.model.empty()) {
    Model m;
    if (Status s = load_model(f.model, &m); !s.ok()) return fail(s);
    if (m.net.inputs() != d->pixels())
      return fail(DataError(f.model + ": expected a model with " + std::to_string(d->pixels()) +
                            " inputs, found " + std::to_string(m.net.inputs())));
    Eigen::MatrixXf out;  // (outputs, want)
    predict(m.net, d->image(static_cast<size_t>(f.index)), want, &out);
    for (size_t i = 0; i < want; ++i) {
      Eigen::Index k;
      out.col(static_cast<Eigen::Index>(i)).maxCoeff(&k);
      pred.push_back(static_cast<uint8_t>(k));
    }
  }
  std::vector<DigitTile> tiles;
  for (size_t i = 0; i < want; ++i) {
    const size_t at = static_cast<size_t>(f.index) + i;
    DigitTile t;
    t.pixels = d->image(at);
    const int label = d->labels[at];
    if (pred.empty()) {
      t.caption = want == 1 ? "#" + std::to_string(at) + ": " + std::to_string(label)
                            : std::to_string(label);
    } else {
      t.caption = std::to_string(label) + (pred[i] == label ? "" : "→" + std::to_string(pred[i]));
      t.highlight = pred[i] != label;
    }
    tiles.push_back(std::move(t));
  }
  if (!f.quiet) {
    const bool color = f.color == "always" || (f.color == "auto" && ::isatty(1));
    std::fputs(terminal_digits(tiles, d->rows, d->cols, terminal_width(), color).c_str(), stdout);
  }
  if (!f.output.empty()) {
    GridStyle style;
    style.rows = d->rows, style.cols = d->cols, style.scale = f.scale, style.columns = cols;
    Image img;
    if (Status s = render_digit_grid(tiles, style, &img); !s.ok()) return fail(s);
    if (Status s = write_png(f.output, img); !s.ok()) return fail(s);
    std::fprintf(stderr, "nnet: wrote %s (%dx%d, %zu digits from %s %s split, index %ld..%zu)\n",
                 f.output.c_str(), img.width, img.height, want, used.c_str(), f.split.c_str(),
                 f.index, f.index + want - 1);
  }
  return 0;
}

}  // namespace

void add_show_command(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<ShowFlags>();
  CLI::App* cmd = app.add_subcommand(
      "show", "draw digits in the terminal and as PNG (labels, predictions), or a model's weights");
  add_data_flags(cmd, &f->data);
  cmd->add_option("--split", f->split, "test, validation or training")->capture_default_str();
  cmd->add_option("--index", f->index, "first digit to show")->capture_default_str();
  cmd->add_option("--grid", f->grid, "ROWSxCOLS digits (e.g. 10x10) starting at --index");
  cmd->add_option("--scale", f->scale, "PNG pixels per digit pixel (1..16)")->capture_default_str();
  cmd->add_option("-o,--output", f->output, "write a PNG here");
  cmd->add_option("--model", f->model, "model file: captions show true→predicted for mistakes");
  cmd->add_flag("--weights", f->weights,
                "draw each neuron's weights of a weight layer, or a conv layer's filters (needs "
                "--model, -o)");
  cmd->add_option("--layer", f->layer, "--weights: which weight layer, 1 = the first")
      ->capture_default_str();
  cmd->add_option("--color", f->color, "terminal colours: auto, always, never (ASCII)")
      ->capture_default_str();
  cmd->add_flag("-q,--quiet", f->quiet, "do not draw in the terminal");
  cmd->callback([f, exit_code] { *exit_code = run_show(*f); });
}

}  // namespace nnet::app

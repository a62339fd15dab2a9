// `nnet plot`: learning curves (the four network2 monitors) or per-layer gradient norms from
// history files written by `nnet train --history`, as PNG or SVG.
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "nnet/fileio.h"
#include "nnet/history.h"
#include "nnet/plot.h"

namespace nnet::app {

namespace {

struct PlotFlags {
  std::vector<std::string> histories;
  std::vector<std::string> labels;
  std::string output;
  bool gradients = false;
  bool health = false;
};

int run_plot(const PlotFlags& f) {
  if (!f.labels.empty() && f.labels.size() != f.histories.size())
    return fail(UsageError("--label: expected one label per history file (" +
                           std::to_string(f.histories.size()) + "), found " +
                           std::to_string(f.labels.size())));
  if (Status s = check_output_path("-o", f.output, f.histories); !s.ok()) return fail(s);
  std::vector<PlotRun> runs;
  for (size_t i = 0; i < f.histories.size(); ++i) {
    PlotRun r;
    if (Status s = load_history(f.histories[i], &r.history); !s.ok()) return fail(s);
    r.label = f.labels.empty() ? label_from_path(f.histories[i]) : f.labels[i];
    runs.push_back(std::move(r));
  }
  if (f.gradients && f.health)
    return fail(UsageError("--health: cannot be combined with --gradients (one figure a file)"));
  Status s = f.health      ? plot_health(runs, f.output)
             : f.gradients ? plot_gradients(runs, f.output)
                           : plot_curves(runs, f.output);
  if (!s.ok()) return fail(s);
  std::fprintf(stderr, "nnet: wrote %s (%zu run%s)\n", f.output.c_str(), runs.size(),
               runs.size() == 1 ? "" : "s");
  return 0;
}

}  // namespace

void add_plot_command(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<PlotFlags>();
  CLI::App* cmd = app.add_subcommand(
      "plot", "plot learning curves (or --gradients) from `nnet train --history` files");
  cmd->add_option("histories", f->histories, "history JSON files (one line per run)")->required();
  cmd->add_option("-o,--output", f->output, "FILE.png or FILE.svg")->required();
  cmd->add_option("--label", f->labels, "legend labels, one per file (default: file names)")
      ->delimiter(',');
  cmd->add_flag("--gradients", f->gradients,
                "per-layer gradient norms on a log axis (train with --record-gradients)");
  cmd->add_flag("--health", f->health,
                "the health evidence behind the hints, one panel per signal, thresholds marked");
  cmd->callback([f, exit_code] { *exit_code = run_plot(*f); });
}

}  // namespace nnet::app

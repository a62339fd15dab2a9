// `nnet eval`: a saved model on one split of a dataset: "correct / total", per-class accuracy and
// the confusion matrix. Phases (load, evaluate, print) are separate so more outputs can be added.
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "eval_pictures.h"
#include "nnet/metrics.h"
#include "nnet/model_io.h"
#include "nnet/train.h"

namespace nnet::app {

namespace {

struct EvalFlags {
  std::string model;
  DataFlags data;
  std::string split = "test";
  long limit = -1;  // first N images of the split; -1 = all
  int threads = 0;
  std::string mistakes, confusion_png;  // --mistakes, --confusion pictures
};

// Everything an evaluation produced, for the printers.
struct EvalRun {
  Model model;
  Dataset data;       // the evaluated images (the split, or its first --limit)
  EvalResult result;  // with predictions
};

Status evaluate_model(const EvalFlags& f, EvalRun* run) {
  NNET_RETURN_IF_ERROR(load_model(f.model, &run->model));
  if (f.split == "none")
    return UsageError("--split: expected test, validation or training, found 'none'");
  DataSplits data;
  std::string data_path;
  NNET_RETURN_IF_ERROR(load_cli_data(f.data, &data, &data_path));
  const Dataset* split = nullptr;
  NNET_RETURN_IF_ERROR(pick_split(data, f.split, "--split", &split));
  const Network& net = run->model.net;
  if (net.inputs() != split->pixels())
    return UsageError("--model " + f.model + ": expects " + std::to_string(net.inputs()) +
                      "-pixel images, found " + std::to_string(split->pixels()) + " in " +
                      data_path);
  if (net.outputs() < 10)
    return UsageError("--model " + f.model +
                      ": expected at least 10 outputs (one per digit), found " +
                      std::to_string(net.outputs()));
  if (f.limit == 0 || f.limit < -1)
    return UsageError("--limit: expected an integer >= 1, found " + std::to_string(f.limit));
  run->data = f.limit > 0 ? head(*split, static_cast<size_t>(f.limit)) : *split;
  run->result = evaluate(net, run->data, false, 0.0, true, f.threads);
  return Status::Ok();
}

void print_report(const EvalRun& run) {
  const EvalResult& r = run.result;
  std::printf("%ld / %ld\n", r.correct, r.total);
  std::printf("accuracy %.2f%%\n\n", r.total ? 100.0 * r.correct / r.total : 0.0);
  const Confusion c = confusion(run.data, r.predictions);
  std::fputs(format_per_class(c).c_str(), stdout);
  std::fputs("\n", stdout);
  std::fputs(format_confusion(c).c_str(), stdout);
}

int run_eval(const EvalFlags& f) {
  if (int rc = check_eval_picture_paths(f.mistakes, f.confusion_png, {f.model, f.data.data}))
    return rc;
  EvalRun run;
  if (Status s = evaluate_model(f, &run); !s.ok()) return fail(s);
  print_report(run);
  if (int rc = write_eval_pictures(run.model.net, run.data, run.result.predictions, f.model,
                                   f.mistakes, f.confusion_png))
    return rc;
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<EvalFlags>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "evaluate a saved model: correct / total, per-class accuracy, confusion matrix");
  cmd->add_option("--model", f->model, "model file (nnet train --save: .json or .h5)")->required();
  add_data_flags(cmd, &f->data);
  cmd->add_option("--split", f->split, "test, validation or training")->capture_default_str();
  cmd->add_option("--limit", f->limit, "evaluate only the first N images of the split");
  cmd->add_option("--threads", f->threads, "evaluation threads (0 = all cores)");
  cmd->add_option("--mistakes", f->mistakes, "write a PNG gallery of misclassified digits");
  cmd->add_option("--confusion", f->confusion_png, "write the confusion matrix as a PNG heat map");
  cmd->callback([f, exit_code] { *exit_code = run_eval(*f); });
}

}  // namespace nnet::app

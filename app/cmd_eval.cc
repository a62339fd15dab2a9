// `nnet eval`: a saved model on one split of a dataset: "correct / total", per-class accuracy and
// the confusion matrix. Phases (load, evaluate, print) are separate so more outputs can be added.
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "eval_pictures.h"
#include "nnet/ensemble.h"
#include "nnet/metrics.h"
#include "nnet/model_io.h"
#include "nnet/train.h"
#include "run_flags.h"

namespace nnet::app {

namespace {

struct EvalFlags {
  std::vector<std::string> models;  // one, or several for a plurality-vote ensemble
  DataFlags data;
  std::string split = "test";
  long limit = -1;  // first N images of the split; -1 = all
  int threads = 0;
  std::string mistakes, confusion_png;  // --mistakes, --confusion pictures
  std::string device = "cpu";           // --device cpu|cuda
};

// Everything an evaluation produced, for the printers.
struct EvalRun {
  std::vector<Model> models;
  Dataset data;                  // the evaluated images (the split, or its first --limit)
  std::vector<EvalResult> each;  // per model, with predictions
  EvalResult result;             // the model's, or the ensemble's vote
};

Status evaluate_model(const EvalFlags& f, EvalRun* run) {
  Device device;
  if (!parse_device(f.device, &device))
    return UsageError("--device: expected cpu or cuda, found '" + f.device + "'");
  NNET_RETURN_IF_ERROR(with_flags(device_status(device)));
  for (const std::string& path : f.models) {
    run->models.emplace_back();
    NNET_RETURN_IF_ERROR(load_model(path, &run->models.back()));
  }
  if (f.split == "none")
    return UsageError("--split: expected test, validation or training, found 'none'");
  DataSplits data;
  std::string data_path;
  NNET_RETURN_IF_ERROR(load_cli_data(f.data, &data, &data_path));
  const Dataset* split = nullptr;
  NNET_RETURN_IF_ERROR(pick_split(data, f.split, "--split", &split));
  for (size_t i = 0; i < run->models.size(); ++i) {
    const Network& net = run->models[i].net;
    if (net.inputs() != split->pixels())
      return UsageError("--model " + f.models[i] + ": expects " + std::to_string(net.inputs()) +
                        "-pixel images, found " + std::to_string(split->pixels()) + " in " +
                        data_path);
    if (net.outputs() < 10)
      return UsageError("--model " + f.models[i] +
                        ": expected at least 10 outputs (one per digit), found " +
                        std::to_string(net.outputs()));
  }
  if (f.limit == 0 || f.limit < -1)
    return UsageError("--limit: expected an integer >= 1, found " + std::to_string(f.limit));
  run->data = f.limit > 0 ? head(*split, static_cast<size_t>(f.limit)) : *split;
  for (const Model& m : run->models) {
    run->each.emplace_back();
    if (device == Device::kCpu)
      run->each.back() = evaluate(m.net, run->data, false, 0.0, true, f.threads);
    else
      NNET_RETURN_IF_ERROR(
          with_flags(evaluate_on(device, m.net, run->data, false, 0.0, true, &run->each.back())));
  }
  if (run->each.size() == 1) {
    run->result = run->each[0];
    return Status::Ok();
  }
  // conv.py's ensemble: each image's class is the plurality of the models' argmax predictions.
  std::vector<std::vector<uint8_t>> preds;
  for (const EvalResult& r : run->each) preds.push_back(r.predictions);
  run->result.predictions = plurality_vote(preds);
  run->result.total = static_cast<long>(run->data.size());
  for (size_t i = 0; i < run->data.size(); ++i)
    run->result.correct += run->result.predictions[i] == run->data.labels[i];
  return Status::Ok();
}

void print_report(const EvalFlags& f, const EvalRun& run) {
  const EvalResult& r = run.result;
  std::printf("%ld / %ld\n", r.correct, r.total);
  std::printf("accuracy %.2f%%%s\n\n", r.total ? 100.0 * r.correct / r.total : 0.0,
              run.each.size() > 1 ? " (plurality vote of the models below)" : "");
  if (run.each.size() > 1) {
    for (size_t i = 0; i < run.each.size(); ++i)
      std::printf("model %zu  %ld / %ld  %.2f%%  %s\n", i + 1, run.each[i].correct,
                  run.each[i].total,
                  run.each[i].total ? 100.0 * run.each[i].correct / run.each[i].total : 0.0,
                  f.models[i].c_str());
    std::fputs("\n", stdout);
  }
  const Confusion c = confusion(run.data, r.predictions);
  std::fputs(format_per_class(c).c_str(), stdout);
  std::fputs("\n", stdout);
  std::fputs(format_confusion(c).c_str(), stdout);
}

int run_eval(const EvalFlags& f) {
  std::vector<std::string> inputs = f.models;
  inputs.push_back(f.data.data);
  if (int rc = check_eval_picture_paths(f.mistakes, f.confusion_png, inputs)) return rc;
  EvalRun run;
  if (Status s = evaluate_model(f, &run); !s.ok()) return fail(s);
  print_report(f, run);
  // An ensemble's gallery shows the vote; confidences are the first model's.
  if (int rc = write_eval_pictures(run.models[0].net, run.data, run.result.predictions,
                                   f.models.size() == 1 ? f.models[0] : "ensemble", f.mistakes,
                                   f.confusion_png))
    return rc;
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<EvalFlags>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "evaluate a saved model: correct / total, per-class accuracy, confusion matrix");
  cmd->add_option("--model", f->models,
                  "model file (nnet train --save: .json or .h5); several: a plurality vote")
      ->required();
  add_data_flags(cmd, &f->data);
  cmd->add_option("--split", f->split, "test, validation or training")->capture_default_str();
  cmd->add_option("--limit", f->limit, "evaluate only the first N images of the split");
  cmd->add_option("--threads", f->threads, "evaluation threads (0 = all cores)");
  cmd->add_option("--device", f->device, "where to evaluate: cpu, or cuda (an NVIDIA GPU)")
      ->capture_default_str();
  cmd->add_option("--mistakes", f->mistakes, "write a PNG gallery of misclassified digits");
  cmd->add_option("--confusion", f->confusion_png, "write the confusion matrix as a PNG heat map");
  cmd->callback([f, exit_code] { *exit_code = run_eval(*f); });
}

}  // namespace nnet::app

#include "reference_mode.h"

#include <cstdio>

#include "common.h"
#include "nnet/history.h"
#include "nnet/model_io.h"
#include "nnet/reference.h"
#include "nnet/report.h"
#include "run_flags.h"

namespace nnet::app {

namespace {

// The fast engine's extras have no counterpart in network.py/network2.py.
Status check_reference_options(const TrainOptions& o) {
  auto refuse = [](const char* flag) {
    return UsageError(
        std::string("--reference: ") + flag +
        " is not in the book's network.py/network2.py (drop it, or drop --reference)");
  };
  if (o.dropout != 0) return refuse("--dropout");
  if (o.momentum != 0) return refuse("--momentum");
  if (o.l1 != 0) return refuse("--l1");
  if (o.schedule != Schedule::kConstant) return refuse("--schedule");
  if (o.early_stop != 0) return refuse("--early-stop");
  if (o.record_gradients) return refuse("--record-gradients");
  return Status::Ok();
}

}  // namespace

int run_reference(const ReferenceRun& run) {
  if (Status s = check_reference_options(run.opts); !s.ok()) return fail(s);
  ReferenceOptions ro;
  ro.epochs = run.opts.epochs;
  ro.batch = run.opts.batch;
  ro.eta = run.opts.eta;
  ro.lambda = run.opts.lambda;
  ro.numpy_seed = run.numpy_seed;
  ro.python_seed = run.python_seed;
  ro.python2_shuffle = run.python2_shuffle;
  // network2.py as soon as anything only it has is asked for; network.py otherwise.
  ro.network2 = run.arch.cost != Cost::kQuadratic || run.opts.lambda != 0 ||
                network2_style(run.opts) || run.init == "default";
  ro.init = ro.network2 ? Init::kDefault : Init::kLarge;
  if (!run.init.empty() && !parse_init(run.init, &ro.init))
    return fail(
        UsageError("--init: expected large or default with --reference, found '" + run.init + "'"));
  ro.monitor_training_cost = run.opts.monitor_training_cost;
  ro.monitor_training_accuracy = run.opts.monitor_training_accuracy;
  ro.monitor_evaluation_cost = run.opts.monitor_evaluation_cost && run.evaluation;
  ro.monitor_evaluation_accuracy = run.opts.monitor_evaluation_accuracy && run.evaluation;
  if (Status s = validate_reference(run.arch, ro); !s.ok()) return fail(with_flags(s));
  if (!run.quiet)
    std::fprintf(stderr,
                 "nnet: reference mode: float64, %s semantics, numpy seed %u, python seed %llu, %s "
                 "shuffle\n",
                 ro.network2 ? "network2.py" : "network.py", ro.numpy_seed,
                 static_cast<unsigned long long>(ro.python_seed),
                 ro.python2_shuffle ? "Python 2.7" : "Python 3");

  TrainCallbacks cb;
  cb.on_epoch = [&](const EpochReport& r) {
    for (const std::string& line : reference_epoch_lines(r, ro)) std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    if (!run.quiet)
      std::fprintf(stderr, "  epoch %d: train %.3f s (%.0f img/s), eval %.3f s\n", r.epoch,
                   r.train_seconds,
                   static_cast<double>(run.training->size()) / std::max(r.train_seconds, 1e-9),
                   r.eval_seconds);
  };
  ReferenceNetwork net;
  std::vector<EpochReport> history;
  Status st = reference_train(run.arch, *run.training, run.evaluation, ro, cb, &net, &history);
  if (!run.history.empty()) {
    History h{run.options, history};
    h.options["reference"] = true;
    if (Status s = save_history(run.history, h); !s.ok()) return fail(s);
  }
  if (!st.ok()) return fail(with_flags(st));
  if (!run.save.empty()) {
    Model m{to_network(net), name(ro.init), run.options};
    m.training["reference"] = true;
    if (Status s = save_model(run.save, m); !s.ok()) return fail(s);
  }
  return 0;
}

}  // namespace nnet::app

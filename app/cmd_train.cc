// `nnet train`: flags -> TrainOptions, data, network; then the library's train() with callbacks
// that print the notebook's lines on stdout and timing/progress on stderr.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "commands.h"
#include "common.h"
#include "interrupt.h"
#include "model_flags.h"
#include "nnet/checkpoint.h"
#include "nnet/expand.h"
#include "nnet/fileio.h"
#include "nnet/history.h"
#include "nnet/model_io.h"
#include "nnet/network.h"
#include "nnet/train.h"
#include "parallel.h"
#include "reference_mode.h"
#include "report.h"

namespace nnet::app {

namespace {

struct TrainFlags {
  DataFlags data;
  std::vector<int> sizes{784, 30, 10};
  TrainOptions opts;
  long train_size = -1;
  std::string eval = "test";
  std::string cost = "quadratic";
  std::vector<std::string> activations{"sigmoid"};
  std::string init = "large";
  std::string schedule = "constant";
  std::vector<std::string> monitor;
  std::string history;
  bool quiet = false;
  std::string checkpoint;       // --checkpoint DIR
  std::string resume;           // --resume DIR
  size_t checkpoint_every = 0;  // --checkpoint-every N mini-batches
  std::string save, init_from;  // --save / --init-from model files
  bool reference = false;       // --reference: the book's Python code, step for step
  uint32_t numpy_seed = 0;      // --numpy-seed (default: --seed)
  uint64_t python_seed = 0;     // --python-seed (default: --seed)
  bool python2_shuffle = false;
  bool expand = false;  // --expand: expand_mnist.py's 5x training data, made in memory
  std::string layers;   // --layers: a chapter-6 layer stack (replaces --sizes)
  bool no_shuffle = false;
  std::string l2_style = "network2";
  bool inverted_dropout = false;
  std::string hints = "on";  // --hints on|off: watch the run's health, hints on stderr
  std::string device = "cpu";  // --device cpu|cuda
};

// The flags that shape a run, as a checkpoint records them: --resume takes those not given on
// the command line from the checkpoint and refuses any given with a different value.
struct RunField {
  const char* flag;
  const char* key;
  std::function<nlohmann::json()> get;
  std::function<void(const nlohmann::json&)> set;  // may throw nlohmann::json::exception
};

template <class T>
RunField run_field(const char* flag, const char* key, T* p) {
  return {flag, key, [p] { return nlohmann::json(*p); },
          [p](const nlohmann::json& j) { *p = j.get<T>(); }};
}

std::vector<RunField> run_fields(TrainFlags& f) {
  TrainOptions& o = f.opts;
  return {run_field("--data", "data", &f.data.data),
          run_field("--validation-size", "validation_size", &f.data.validation_size),
          run_field("--sizes", "sizes", &f.sizes),
          run_field("--epochs", "epochs", &o.epochs),
          run_field("--batch", "batch", &o.batch),
          run_field("--eta", "eta", &o.eta),
          run_field("--seed", "seed", &o.seed),
          run_field("--train-size", "train_size", &f.train_size),
          run_field("--eval", "eval", &f.eval),
          run_field("--cost", "cost", &f.cost),
          run_field("--activation", "activation", &f.activations),
          run_field("--init", "init", &f.init),
          run_field("--lambda", "lambda", &o.lambda),
          run_field("--l1", "l1", &o.l1),
          run_field("--dropout", "dropout", &o.dropout),
          run_field("--momentum", "momentum", &o.momentum),
          run_field("--schedule", "schedule", &f.schedule),
          run_field("--step-epochs", "step_epochs", &o.step_epochs),
          run_field("--step-gamma", "step_gamma", &o.step_gamma),
          run_field("--plateau", "plateau", &o.plateau_epochs),
          run_field("--early-stop", "early_stop", &o.early_stop),
          run_field("--monitor", "monitor", &f.monitor),
          run_field("--record-gradients", "record_gradients", &o.record_gradients),
          run_field("--expand", "expand", &f.expand),
          run_field("--layers", "layers", &f.layers),
          run_field("--no-shuffle", "no_shuffle", &f.no_shuffle),
          run_field("--l2-style", "l2_style", &f.l2_style),
          run_field("--inverted-dropout", "inverted_dropout", &f.inverted_dropout),
          run_field("--grad-chunk", "grad_chunk", &o.grad_chunk),
          run_field("--device", "device", &f.device)};
}

nlohmann::json run_options(TrainFlags& f) {
  nlohmann::json j = nlohmann::json::object();
  for (const RunField& r : run_fields(f)) j[r.key] = r.get();
  return j;
}

// Keys added after the first checkpoints were written (absent means the default).
const std::set<std::string> kChapter6Keys = {"expand",           "layers",     "no_shuffle",
                                             "l2_style",         "grad_chunk", "device",
                                             "inverted_dropout"};

// --resume: flags not given take the checkpoint's value; --epochs (to extend a run) and --data
// (the contents are checked by CRC instead) may change, any other flag must match.
Status apply_saved_options(TrainFlags& f, const CLI::App& cmd, const nlohmann::json& saved) {
  const std::string where = "--resume " + f.resume;
  for (RunField& r : run_fields(f)) {
    auto it = saved.find(r.key);
    // Checkpoints written before the chapter-6 flags existed lack their keys: those runs had
    // the defaults.
    if (it == saved.end() && kChapter6Keys.count(r.key) > 0 && cmd.count(r.flag) == 0) {
      if (std::string(r.key) == "grad_chunk") f.opts.grad_chunk = 0;  // nnet-mpi's default is not
      continue;
    }
    if (it == saved.end())
      return DataError(where + ": the checkpoint's options lack \"" + std::string(r.key) + "\"");
    if (cmd.count(r.flag) > 0) {
      const std::string key = r.key;
      if (key == "epochs" || key == "data") continue;
      if (r.get() != *it)
        return UsageError(where + ": " + r.flag + " " + r.get().dump() +
                          " differs from the checkpoint's " + it->dump() +
                          " (a resumed run keeps its options; omit the flag)");
      continue;
    }
    try {
      r.set(*it);
    } catch (const nlohmann::json::exception&) {
      return DataError(where + ": the checkpoint's \"" + std::string(r.key) + "\" is " +
                       it->dump() + ", not a valid " + r.flag + " value");
    }
  }
  return Status::Ok();
}

Status split_list(const std::vector<std::string>& in, std::vector<std::string>* out) {
  for (const std::string& item : in) {
    std::stringstream ss(item);
    std::string part;
    while (std::getline(ss, part, ',')) out->push_back(part);
  }
  return Status::Ok();
}

// Turns the string flags into the architecture and options, with one-line usage errors.
Status resolve_stack(TrainFlags& f, Architecture* arch) {
  std::vector<std::string> names;
  split_list(f.activations, &names);
  std::vector<Activation> acts;
  for (const std::string& nm : names) {
    Activation a;
    if (!parse_activation(nm, &a) || a == Activation::kSoftmax)
      return UsageError("--activation: expected sigmoid, tanh, relu or linear, found '" + nm + "'");
    acts.push_back(a);
  }
  NNET_RETURN_IF_ERROR(parse_layers(f.layers, acts, &arch->layers));
  // --inverted-dropout makes every dropout layer inverted; "dropout:P:inverted" makes that one.
  for (LayerSpec& l : arch->layers)
    if (l.kind == LayerKind::kDropout && f.inverted_dropout) l.inverted = true;
  arch->input = Shape{1, 28, 28};
  return Status::Ok();
}

Status resolve(TrainFlags& f, Architecture* arch) {
  if (f.l2_style == "network2")
    f.opts.l2_style = L2Style::kNetwork2;
  else if (f.l2_style == "network3")
    f.opts.l2_style = L2Style::kNetwork3;
  else
    return UsageError("--l2-style: expected network2 or network3, found '" + f.l2_style + "'");
  f.opts.shuffle = !f.no_shuffle;
  if (!parse_device(f.device, &f.opts.device))
    return UsageError("--device: expected cpu or cuda, found '" + f.device + "'");
  if (!f.layers.empty()) {
    if (!parse_cost(f.cost, &arch->cost))
      return UsageError("--cost: expected quadratic, cross-entropy or log-likelihood, found '" +
                        f.cost + "'");
    Init init;
    if (!parse_init(f.init, &init))
      return UsageError("--init: expected large, default, xavier, he or network3, found '" +
                        f.init + "'");
    NNET_RETURN_IF_ERROR(resolve_stack(f, arch));
  } else {
    if (f.inverted_dropout)
      return UsageError("--inverted-dropout: applies to --layers dropout:P layers only");
    if (f.init == "network3") return UsageError("--init network3: applies to --layers stacks only");
  }
  if (f.layers.empty()) {
    arch->sizes = f.sizes;
    if (!parse_cost(f.cost, &arch->cost))
      return UsageError("--cost: expected quadratic, cross-entropy or log-likelihood, found '" +
                        f.cost + "'");
    Init init;
    if (!parse_init(f.init, &init))
      return UsageError("--init: expected large, default, xavier or he, found '" + f.init + "'");
    std::vector<std::string> acts;
    split_list(f.activations, &acts);
    const size_t hidden = f.sizes.size() >= 2 ? f.sizes.size() - 2 : 0;
    if (acts.size() != 1 && acts.size() != hidden)
      return UsageError("--activation: expected one name or one per hidden layer (" +
                        std::to_string(hidden) + "), found " + std::to_string(acts.size()));
    for (size_t l = 0; l < hidden; ++l) {
      Activation a;
      const std::string& nm = acts.size() == 1 ? acts[0] : acts[l];
      if (!parse_activation(nm, &a) || a == Activation::kSoftmax)
        return UsageError("--activation: expected sigmoid, tanh, relu or linear, found '" + nm +
                          "'");
      arch->activations.push_back(a);
    }
    if (f.sizes.size() >= 2)
      arch->activations.push_back(arch->cost == Cost::kLogLikelihood ? Activation::kSoftmax
                                                                     : Activation::kSigmoid);
  }
  if (f.schedule == "constant")
    f.opts.schedule = Schedule::kConstant;
  else if (f.schedule == "step")
    f.opts.schedule = Schedule::kStep;
  else if (f.schedule == "plateau")
    f.opts.schedule = Schedule::kHalveOnPlateau;
  else
    return UsageError("--schedule: expected constant, step or plateau, found '" + f.schedule + "'");
  std::vector<std::string> mon;
  split_list(f.monitor, &mon);
  for (const std::string& m : mon) {
    if (m == "all") {
      f.opts.monitor_training_cost = f.opts.monitor_training_accuracy = true;
      f.opts.monitor_evaluation_cost = f.opts.monitor_evaluation_accuracy = true;
    } else if (m == "training-cost")
      f.opts.monitor_training_cost = true;
    else if (m == "training-accuracy")
      f.opts.monitor_training_accuracy = true;
    else if (m == "evaluation-cost")
      f.opts.monitor_evaluation_cost = true;
    else if (m == "evaluation-accuracy")
      f.opts.monitor_evaluation_accuracy = true;
    else
      return UsageError(
          "--monitor: expected all, training-cost, training-accuracy, evaluation-cost or "
          "evaluation-accuracy, found '" +
          m + "'");
  }
  return validate(f.opts);
}

nlohmann::json options_json(const TrainFlags& f, const Architecture& arch,
                            const std::string& data_path) {
  nlohmann::json j;
  j["data"] = data_path;
  j["sizes"] = arch.sizes;
  std::vector<std::string> acts;
  for (Activation a : arch.activations) acts.push_back(name(a));
  j["activations"] = acts;
  j["cost"] = name(arch.cost);
  j["init"] = f.init;
  j["epochs"] = f.opts.epochs;
  j["batch"] = f.opts.batch;
  j["eta"] = f.opts.eta;
  j["seed"] = f.opts.seed;
  j["lambda"] = f.opts.lambda;
  j["l1"] = f.opts.l1;
  j["dropout"] = f.opts.dropout;
  j["momentum"] = f.opts.momentum;
  j["schedule"] = f.schedule;
  j["early_stop"] = f.opts.early_stop;
  j["train_size"] = f.train_size;
  j["eval"] = f.eval;
  j["expand"] = f.expand;
  if (!f.layers.empty()) j["layers"] = f.layers;
  j["shuffle"] = !f.no_shuffle;
  j["l2_style"] = f.l2_style;
  j["inverted_dropout"] = f.inverted_dropout;
  if (f.opts.grad_chunk > 0) j["grad_chunk"] = f.opts.grad_chunk;
  if (f.opts.device != Device::kCpu) j["device"] = f.device;
  return j;
}

// Draws "[=====>    ] 412/900 batches  61k img/s  ETA 0.3s" in place on a terminal.
class Progress {
 public:
  Progress(bool enabled, int batch) : enabled_(enabled), batch_(batch) {}
  void start() {
    t0_ = std::chrono::steady_clock::now();
    last_ = t0_;
  }
  void update(size_t done, size_t total) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (done < total && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double el = std::chrono::duration<double>(now - t0_).count();
    const double rate = el > 0 ? static_cast<double>(done) * batch_ / el : 0;
    const double eta =
        done > 0 ? el * static_cast<double>(total - done) / static_cast<double>(done) : 0;
    const int width = 30, fill = static_cast<int>(width * done / std::max<size_t>(total, 1));
    std::fprintf(stderr, "\r[%s%s] %zu/%zu batches  %.0f img/s  ETA %.1fs ",
                 std::string(fill, '=').c_str(), std::string(width - fill, ' ').c_str(), done,
                 total, rate, eta);
    if (done == total) std::fprintf(stderr, "\r%*s\r", width + 60, "");
  }

 private:
  bool enabled_;
  int batch_;
  std::chrono::steady_clock::time_point t0_, last_;
};

int run_train(TrainFlags& f, const CLI::App& cmd) {
  // nnet-mpi: every process trains the same model on its share of each mini-batch; rank 0
  // alone writes files (and is the only one whose output is shown).
  const Parallel* par = parallel();
  const bool writer = !par || par->rank == 0;
  Checkpoint resumed;
  if (!f.resume.empty()) {
    if (Status s = load_checkpoint(checkpoint_file(f.resume), &resumed); !s.ok()) return fail(s);
    if (Status s = apply_saved_options(f, cmd, resumed.options); !s.ok()) return fail(s);
    if (f.checkpoint.empty()) f.checkpoint = f.resume;  // keep saving where the run saved
  }
  Model init_model;
  if (!f.init_from.empty()) {
    if (!f.resume.empty()) return fail(UsageError("--init-from: cannot be combined with --resume"));
    if (Status s =
            prepare_init_from(f.init_from, cmd.count("--sizes") > 0, cmd.count("--activation") > 0,
                              cmd.count("--cost") > 0, cmd.count("--layers") > 0, &f.sizes,
                              &f.activations, &f.cost, &f.layers, &init_model);
        !s.ok())
      return fail(s);
  }
  if (!f.layers.empty()) {
    if (cmd.count("--sizes") > 0)
      return fail(UsageError("--layers: cannot be combined with --sizes (one describes the net)"));
    if (f.reference) return fail(UsageError("--layers: cannot be combined with --reference yet"));
    // network3's defaults for a stack: its initialisation and the softmax's log-likelihood
    // (--init-from has set the file's cost).
    if (cmd.count("--init") == 0 && f.resume.empty()) f.init = "network3";
    if (cmd.count("--cost") == 0 && f.resume.empty() && f.init_from.empty())
      f.cost = "log-likelihood";
  }
  // nnet-mpi's chunks never depend on the process count (a fixed default, kDefaultGradChunk);
  // the whole batch at once (0) would sum in an order that does.
  if (par && !f.reference && f.opts.grad_chunk < 1)
    return fail(UsageError(
        "--grad-chunk: expected C >= 1 for nnet-mpi (default " +
        std::to_string(kDefaultGradChunk) + ": results then equal nnet --grad-chunk C at any " +
        "process count), found " + std::to_string(f.opts.grad_chunk) +
        (cmd.count("--grad-chunk") == 0 && !f.resume.empty() ? " in the checkpoint" : "")));
  if (par && par->local_size > 1) {
    // Processes on one machine share its cores: "all cores" becomes each process's share.
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const int share = std::max(1, cores / par->local_size);
    if (cmd.count("--threads") == 0) f.opts.threads = share;
    if (cmd.count("--conv-threads") == 0) f.opts.conv_threads = share;
  }
  Architecture arch;
  if (Status s = resolve(f, &arch); !s.ok()) return fail(s);
  // A GPU that cannot be used is said before any data is read.
  if (f.opts.device != Device::kCpu) {
    if (f.reference)
      return fail(UsageError("--reference: runs the book's float64 code on the CPU; drop --device"));
    if (par && par->size > 1)
      return fail(UsageError("--device cuda: runs in one process (nnet, or mpirun -np 1)"));
    if (Status s = device_status(f.opts.device); !s.ok()) return fail(s);
  }
  if (!f.history.empty() && writer)
    if (Status s = check_output_path("--history", f.history, {f.data.data}); !s.ok())
      return fail(s);
  if (!f.save.empty() && writer)
    if (Status s = check_output_path("--save", f.save, {f.data.data, f.init_from}); !s.ok())
      return fail(s);
  if (f.checkpoint_every > 0 && f.checkpoint.empty())
    return fail(UsageError("--checkpoint-every: expected --checkpoint DIR as well"));
  if (!f.checkpoint.empty() && writer)
    if (Status s = prepare_checkpoint_dir("--checkpoint", f.checkpoint, {f.data.data, f.history});
        !s.ok())
      return fail(s);
  DataSplits data;
  std::string data_path;
  if (Status s = load_cli_data(f.data, &data, &data_path); !s.ok()) return fail(s);
  if (f.train_size >= 0) {
    if (f.train_size < 1 || static_cast<size_t>(f.train_size) > data.training.size())
      return fail(UsageError("--train-size: expected 1.." + std::to_string(data.training.size()) +
                             " (the training split's size), found " +
                             std::to_string(f.train_size)));
    data.training = head(std::move(data.training), static_cast<size_t>(f.train_size));
  }
  if (f.expand)
    if (Status s = expand_training(&data.training, f.opts.seed); !s.ok()) return fail(s);
  const Dataset* evaluation = nullptr;
  if (Status s = pick_split(data, f.eval, "--eval", &evaluation); !s.ok()) return fail(s);
  if (Status s = validate(arch, data.training.pixels(), 10); !s.ok()) return fail(s);

  if (f.reference) {
    if (par && par->size > 1)
      return fail(UsageError("--reference: runs in one process (mpirun -np 1, or nnet)"));
    if (!f.resume.empty() || !f.checkpoint.empty() || !f.init_from.empty())
      return fail(
          UsageError("--reference: cannot be combined with --checkpoint, --resume or --init-from"));
    if (cmd.count("--grad-chunk") == 0) f.opts.grad_chunk = 0;  // nnet-mpi's default: unused here
    ReferenceRun run;
    run.arch = arch;
    run.training = &data.training;
    run.evaluation = evaluation;
    run.opts = f.opts;
    run.numpy_seed = cmd.count("--numpy-seed") ? f.numpy_seed : f.opts.seed;
    run.python_seed = cmd.count("--python-seed") ? f.python_seed : f.opts.seed;
    run.python2_shuffle = f.python2_shuffle;
    run.init = cmd.count("--init") ? f.init : "";
    run.quiet = f.quiet;
    run.history = f.history;
    run.save = f.save;
    run.options = options_json(f, arch, data_path);
    return run_reference(run);
  }
  Network net(arch);
  Init init;
  parse_init(f.init, &init);
  init_params(net, init, f.opts.seed);
  if (!f.init_from.empty()) {
    // Same sizes (or layers and input): same layout.
    const Architecture& from = init_model.net.arch();
    if (from.sizes != net.arch().sizes || from.input != net.arch().input ||
        init_model.net.params().size() != net.params().size())
      return fail(UsageError("--init-from " + f.init_from + ": the model's input " +
                             std::to_string(from.input.c) + "x" + std::to_string(from.input.h) +
                             "x" + std::to_string(from.input.w) + " and sizes do not fit the " +
                             "data's " + std::to_string(data.training.rows) + "x" +
                             std::to_string(data.training.cols) + " images"));
    net.params() = init_model.net.params();
  }
  if (!f.quiet)
    std::fprintf(stderr, "nnet: %s: %zu training images, %zu evaluation images (%s); pixels %s\n",
                 data_path.c_str(), data.training.size(), evaluation ? evaluation->size() : 0,
                 evaluation ? f.eval.c_str() : "none", data.training.scaling.c_str());

  if (f.hints != "on" && f.hints != "off")
    return fail(UsageError("--hints: expected on or off, found '" + f.hints + "'"));
  f.opts.watch_health = f.hints == "on";
  Progress progress(!f.quiet && stderr_is_tty(), f.opts.batch);
  TrainCallbacks cb;
  if (par) cb.collective = par->collective;
  cb.on_batch = [&](size_t done, size_t total) { progress.update(done, total); };
  cb.on_epoch = [&](const EpochReport& r) {
    std::fputs(format_epoch(r, f.opts, evaluation != nullptr).c_str(), stdout);
    std::fflush(stdout);
    if (!f.quiet)
      std::fprintf(stderr, "  epoch %d: train %.3f s (%.0f img/s), eval %.3f s\n", r.epoch,
                   r.train_seconds,
                   static_cast<double>(data.training.size()) / std::max(r.train_seconds, 1e-9),
                   r.eval_seconds);
    progress.start();
  };
  cb.on_hint = [&](const Hint& h) {
    if (!f.quiet) std::fprintf(stderr, "%s\n", h.message.c_str());
  };
  TrainState state = initial_state(net, data.training.size(), f.opts);
  Checkpoint ckpt;  // what every save writes; params and state are filled at save time
  if (!f.checkpoint.empty() || !f.resume.empty()) {
    ckpt.options = run_options(f);
    ckpt.data = data_identity(data_path, data.training, evaluation);
  }
  if (!f.resume.empty()) {
    const std::string where = "--resume " + f.resume;
    if (Status s = compare_for_resume(where + ": data", resumed.data, ckpt.data, {"path"}); !s.ok())
      return fail(s);
    if (resumed.params.size() != net.params().size() ||
        resumed.state.order.size() != data.training.size())
      return fail(DataError(where + ": expected " + std::to_string(net.params().size()) +
                            " parameters and " + std::to_string(data.training.size()) +
                            " training indices, found " + std::to_string(resumed.params.size()) +
                            " and " + std::to_string(resumed.state.order.size())));
    net.params() = resumed.params;
    state = std::move(resumed.state);
    if (state.stop_reason == "interrupted") state.stop_reason.clear();
    // A run that ended because its epochs ran out continues when --epochs asks for more.
    if (state.finished && state.stop_reason.empty() && state.epoch < f.opts.epochs)
      state.finished = false;
    if (!f.quiet)
      std::fprintf(stderr, "nnet: resuming from %s at epoch %d, mini-batch %zu\n",
                   checkpoint_file(f.resume).c_str(), state.epoch, state.batch_pos);
  }
  if (!f.checkpoint.empty()) {
    const std::string file = checkpoint_file(f.checkpoint);
    cb.checkpoint_every = f.checkpoint_every;
    auto save = [&ckpt, &net, file](const TrainState& s) {
      // Never save a diverged network over the last good checkpoint.
      for (const float v : net.params())
        if (!std::isfinite(v))
          return Status::Error(Code::kDiverged, "training diverged: non-finite weight at epoch " +
                                                    std::to_string(s.epoch) + ", mini-batch " +
                                                    std::to_string(s.batch_pos) +
                                                    " (try a smaller --eta)");
      ckpt.params = net.params();
      ckpt.state = s;
      return save_checkpoint(file, ckpt);
    };
    cb.on_checkpoint = save;
    if (par)  // rank 0 saves; all processes learn whether it could
      cb.on_checkpoint = [save, par, writer](const TrainState& s) {
        Status st = writer ? save(s) : Status::Ok();
        if (par->any(!st.ok()) && st.ok())
          st = IoError("checkpoint: rank 0 could not save it (see its message)");
        return st;
      };
  }
  // Processes that failed to set up (rank 0 alone checks the output paths) stop all of them here.
  if (par)
    if (const int code = par->agree(0); code != 0) return code;
  install_interrupt_handlers();
  cb.should_stop = [] { return interrupt_requested(); };
  if (par) cb.should_stop = [par] { return par->any(interrupt_requested()); };
  progress.start();
  const auto t0 = std::chrono::steady_clock::now();
  Status st = train(net, data.training, evaluation, f.opts, cb, &state);
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!f.quiet && st.ok()) {
    std::fprintf(stderr, "nnet: %d epochs in %.2f s (%.3f s per epoch)%s%s\n", state.epoch, total,
                 total / std::max(state.epoch, 1),
                 state.stop_reason.empty() ? "" : "; stopped: ", state.stop_reason.c_str());
  }
  if (!f.history.empty() && writer) {
    History h{options_json(f, arch, data_path), state.history};
    if (Status s = save_history(f.history, h); !s.ok()) return fail(s);
  }
  if (st.code() == Code::kInterrupted) {
    std::fprintf(stderr, "nnet: interrupted at epoch %d, mini-batch %zu; ", state.epoch,
                 state.batch_pos);
    if (f.checkpoint.empty())
      std::fprintf(stderr, "no checkpoint (train with --checkpoint DIR to be able to resume)\n");
    else
      std::fprintf(stderr, "checkpoint saved in %s; resume with --resume %s\n",
                   f.checkpoint.c_str(), f.checkpoint.c_str());
    return st.exit_code();
  }
  if (!st.ok()) return fail(st);
  if (!f.save.empty() && writer) {
    Model m{net, f.init_from.empty() ? f.init : init_model.init, options_json(f, arch, data_path)};
    if (!f.init_from.empty()) m.training["init_from"] = f.init_from;
    if (Status s = save_model(f.save, m); !s.ok()) return fail(s);
  }
  return 0;
}

}  // namespace

void add_train_command(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<TrainFlags>();
  CLI::App* cmd = app.add_subcommand("train",
                                     "train a network (defaults: the notebook's [784,30,10], "
                                     "30 epochs, batch 10, eta 0.1, seed 1)");
  add_data_flags(cmd, &f->data);
  cmd->add_option("--sizes", f->sizes, "layer sizes, input first")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--epochs", f->opts.epochs, "epochs")->capture_default_str();
  cmd->add_option("--batch", f->opts.batch, "mini-batch size")->capture_default_str();
  cmd->add_option("--eta", f->opts.eta, "learning rate")->capture_default_str();
  cmd->add_option("--seed", f->opts.seed, "seed for init (numpy), shuffles (Python) and dropout")
      ->capture_default_str();
  cmd->add_option("--train-size", f->train_size, "use only the first N training images");
  cmd->add_option("--eval", f->eval, "evaluate on: test, validation or none")
      ->capture_default_str();
  cmd->add_option("--cost", f->cost, "quadratic, cross-entropy, or log-likelihood (softmax output)")
      ->capture_default_str();
  cmd->add_option("--activation", f->activations,
                  "hidden activation(s): sigmoid, tanh, relu, linear; one, or one per hidden layer")
      ->delimiter(',');
  cmd->add_option("--init", f->init,
                  "weight init: large (N(0,1)), default (N(0,1/n_in)), xavier, he")
      ->capture_default_str();
  cmd->add_option("--lambda", f->opts.lambda, "L2 regularization (the book's lmbda)");
  cmd->add_option("--l1", f->opts.l1, "L1 regularization");
  cmd->add_option("--dropout", f->opts.dropout, "dropout probability on hidden layers");
  cmd->add_option("--momentum", f->opts.momentum, "momentum coefficient mu");
  cmd->add_option("--schedule", f->schedule,
                  "learning rate: constant, step, plateau (halve on plateau)")
      ->capture_default_str();
  cmd->add_option("--step-epochs", f->opts.step_epochs, "step schedule: epochs between decays");
  cmd->add_option("--step-gamma", f->opts.step_gamma, "step schedule: decay factor");
  cmd->add_option("--plateau", f->opts.plateau_epochs,
                  "plateau schedule: epochs without improvement");
  cmd->add_option("--early-stop", f->opts.early_stop,
                  "stop after N epochs without better accuracy; 0 = off");
  cmd->add_option("--monitor", f->monitor,
                  "network2 monitors: all, training-cost, training-accuracy, evaluation-cost, "
                  "evaluation-accuracy")
      ->delimiter(',');
  cmd->add_option("--history", f->history, "write per-epoch figures to FILE (.json, or .csv)");
  cmd->add_flag("--record-gradients", f->opts.record_gradients,
                "record per-layer gradient norms each epoch");
  cmd->add_option("--threads", f->opts.threads, "evaluation threads (0 = all cores)");
  cmd->add_option("--conv-threads", f->opts.conv_threads,
                  "threads for a training step's conv layers (0 = all cores; a layer too small "
                  "to share runs on one; same results for any number)")
      ->capture_default_str();
  cmd->add_flag("-q,--quiet", f->quiet, "print only the notebook's lines");
  cmd->add_option("--checkpoint", f->checkpoint,
                  "save a resumable checkpoint in DIR after every epoch (DIR/checkpoint.bin)");
  cmd->add_option("--checkpoint-every", f->checkpoint_every,
                  "with --checkpoint: also save every N mini-batches");
  cmd->add_option("--resume", f->resume,
                  "continue the run checkpointed in DIR (its options; --epochs may extend it)");
  cmd->add_option("--save", f->save, "save the trained model: FILE.json (network2 format) or .h5");
  cmd->add_option("--init-from", f->init_from, "start from a saved model (its sizes/activations)");
  cmd->add_flag(
      "--reference", f->reference,
      "follow the book's network.py/network2.py step for step in float64 (same lines as Python)");
  cmd->add_option("--numpy-seed", f->numpy_seed,
                  "--reference: np.random.seed for the weights (default --seed)");
  cmd->add_option("--python-seed", f->python_seed,
                  "--reference: random.seed for the shuffles (default --seed)");
  cmd->add_flag("--python2-shuffle", f->python2_shuffle,
                "--reference: Python 2.7's random.shuffle (the book's published runs)");
  cmd->add_flag("--expand", f->expand,
                "5x training data as expand_mnist.py: each image and its 1-pixel shifts, shuffled "
                "once by --seed");
  cmd->add_option("--layers", f->layers,
                  "a layer stack instead of --sizes, e.g. "
                  "conv:20:5,maxpool:2,conv:40:5,maxpool:2,fc:100,softmax:10");
  cmd->add_flag("--no-shuffle", f->no_shuffle,
                "keep the training order every epoch (network3 never reshuffles)");
  cmd->add_option("--l2-style", f->l2_style,
                  "--lambda as network2 (1 - eta*lambda/n) or network3 (1 - eta*lambda/batches)")
      ->capture_default_str();
  // nnet-mpi: a fixed default chunk, the same for every process count (shown by --help).
  if (parallel()) f->opts.grad_chunk = kDefaultGradChunk;
  cmd->add_option("--grad-chunk", f->opts.grad_chunk,
                  "sum each mini-batch's gradient over fixed chunks of C samples, in chunk order; "
                  "0 = the whole batch at once (nnet's default, the fused step). nnet-mpi's "
                  "default is " +
                      std::to_string(kDefaultGradChunk) +
                      " at any process count, so its result is nnet --grad-chunk " +
                      std::to_string(kDefaultGradChunk) + "'s")
      ->capture_default_str();
  cmd->add_flag("--inverted-dropout", f->inverted_dropout,
                "--layers dropout:P as inverted dropout (1/(1-p) while training) instead of "
                "network3's (scale by 1-p at test time)");
  cmd->add_option("--device", f->device,
                  "where to train: cpu, or cuda (an NVIDIA GPU, in a build with CUDA)")
      ->capture_default_str();
  cmd->add_option("--hints", f->hints,
                  "name the book's pitfalls (saturation, dead units, vanishing gradients, "
                  "overfitting, eta, data) on stderr as they happen: on or off")
      ->capture_default_str();
  cmd->callback([f, exit_code, cmd] { *exit_code = run_train(*f, *cmd); });
}

}  // namespace nnet::app

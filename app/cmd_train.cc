// `nnet train`: flags -> RunOptions (one flag per option of nnet/run.h's table) -> TrainOptions,
// data, network; then the library's train() with callbacks that print the notebook's lines on
// stdout and timing/progress on stderr.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

#include "commands.h"
#include "common.h"
#include "interrupt.h"
#include "model_flags.h"
#include "nnet/checkpoint.h"
#include "nnet/expand.h"
#include "nnet/fileio.h"
#include "nnet/distributed.h"
#include "nnet/history.h"
#include "nnet/model_io.h"
#include "nnet/network.h"
#include "nnet/report.h"
#include "nnet/run.h"
#include "nnet/run_json.h"
#include "nnet/train.h"
#include "parallel.h"
#include "reference_mode.h"
#include "run_flags.h"

namespace nnet::app {

namespace {

// MNIST's digits: the data loaders refuse any other label.
constexpr int kClasses = 10;

// The run's options (run_flags.h), then the CLI's own: outputs, checkpoints, modes.
struct TrainFlags : RunFlags {
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
};

// What a run works with, filled step by step by run_train.
struct Run {
  TrainFlags& f;
  const CLI::App& cmd;
  Given given;
  // nnet-mpi: every process trains the same model on its share of each mini-batch; rank 0
  // alone writes files (and is the only one whose output is shown).
  const Parallel* par = nullptr;
  bool writer = true;
  TrainOptions opts;
  Checkpoint resumed;  // --resume
  Model init_model;    // --init-from
  DataSplits data;
  std::string data_path;
  const Dataset* evaluation = nullptr;
  Architecture arch;
};

// --resume takes the checkpoint's options, --init-from the model's architecture.
Status take_saved_options(Run& r) {
  TrainFlags& f = r.f;
  if (!f.resume.empty()) {
    if (Status s = load_checkpoint(checkpoint_file(f.resume), &r.resumed); !s.ok())
      return Status::Error(s.code(), "--resume " + f.resume + ": " + s.message());
    NNET_RETURN_IF_ERROR(
        apply_saved_options("--resume " + f.resume, r.resumed.options, r.given, &f.run));
    if (f.checkpoint.empty()) f.checkpoint = f.resume;  // keep saving where the run saved
  }
  if (!f.init_from.empty()) {
    if (!f.resume.empty()) return UsageError("--init-from: cannot be combined with --resume");
    NNET_RETURN_IF_ERROR(prepare_init_from(f.init_from, r.given, &f.run, &r.init_model));
  }
  return Status::Ok();
}

// The defaults that depend on the run: network3's for a stack, nnet-mpi's --grad-chunk.
Status apply_run_defaults(Run& r) {
  RunOptions& o = r.f.run;
  const bool fresh = r.f.resume.empty();
  if (!o.layers.empty()) {
    if (r.given("sizes"))
      return UsageError("--layers: cannot be combined with --sizes (one describes the net)");
    if (r.f.reference) return UsageError("--layers: cannot be combined with --reference yet");
    // network3's defaults for a stack: its initialisation and the softmax's log-likelihood
    // (--init-from has set the file's cost).
    if (!r.given("init") && fresh) o.init = "network3";
    if (!r.given("cost") && fresh && r.f.init_from.empty()) o.cost = "log-likelihood";
  }
  // nnet-mpi's chunks never depend on the process count (a fixed default, kDefaultGradChunk);
  // the whole batch at once (0) would sum in an order that does.
  if (r.f.reference && !r.given("grad_chunk")) o.grad_chunk = 0;  // nnet-mpi's: unused here
  if (r.par && !r.f.reference && o.grad_chunk < 1)
    return UsageError("--grad-chunk: expected C >= 1 for nnet-mpi (default " +
                      std::to_string(kDefaultGradChunk) +
                      ": results then equal nnet --grad-chunk C at any process count), found " +
                      std::to_string(o.grad_chunk) +
                      (!r.given("grad_chunk") && !fresh ? " in the checkpoint" : ""));
  if (r.par && r.par->local_size > 1) {
    // Processes on one machine share its cores: "all cores" becomes each process's share.
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const int share = std::max(1, cores / r.par->local_size);
    if (!r.given("threads")) o.threads = share;
    if (!r.given("conv_threads")) o.conv_threads = share;
  }
  return Status::Ok();
}

// Settles and checks every option and derives the engine's; a GPU that cannot be used is said
// before any data is read.
Status settle_options(Run& r) {
  NNET_RETURN_IF_ERROR(take_saved_options(r));
  NNET_RETURN_IF_ERROR(apply_run_defaults(r));
  NNET_RETURN_IF_ERROR(read_valued_flags(&r.f));
  NNET_RETURN_IF_ERROR(with_flags(train_options(r.f.run, &r.opts)));
  if (r.opts.device != Device::kCpu) {
    if (r.f.reference)
      return UsageError("--reference: runs the book's float64 code on the CPU; drop --device");
    if (r.par && r.par->size > 1)
      return UsageError("--device cuda: runs in one process (nnet, or mpirun -np 1)");
    NNET_RETURN_IF_ERROR(with_flags(device_status(r.opts.device)));
  }
  return Status::Ok();
}

// The output paths, checked before any work (by rank 0, which alone writes them).
Status check_outputs(const Run& r) {
  const TrainFlags& f = r.f;
  if (!f.history.empty() && r.writer)
    NNET_RETURN_IF_ERROR(check_output_path("--history", f.history, {f.run.data}));
  if (!f.save.empty() && r.writer)
    NNET_RETURN_IF_ERROR(check_output_path("--save", f.save, {f.run.data, f.init_from}));
  if (f.checkpoint_every > 0 && f.checkpoint.empty())
    return UsageError("--checkpoint-every: expected --checkpoint DIR as well");
  if (!f.checkpoint.empty() && r.writer)
    NNET_RETURN_IF_ERROR(
        prepare_checkpoint_dir("--checkpoint", f.checkpoint, {f.run.data, f.history}));
  return Status::Ok();
}

// The data (the training split cut to --train-size, then --expand'ed; the evaluation split), and
// the network the options describe on its images.
Status load_run_data(Run& r) {
  const RunOptions& o = r.f.run;
  NNET_RETURN_IF_ERROR(load_cli_data(DataFlags{o.data, o.validation_size}, &r.data, &r.data_path));
  Dataset& training = r.data.training;
  if (o.train_size >= 0) {
    if (o.train_size < 1 || static_cast<size_t>(o.train_size) > training.size())
      return UsageError("--train-size: expected 1.." + std::to_string(training.size()) +
                        " (the training split's size), found " + std::to_string(o.train_size));
    training = head(std::move(training), static_cast<size_t>(o.train_size));
  }
  if (o.expand) NNET_RETURN_IF_ERROR(with_flags(expand_training(&training, o.seed)));
  NNET_RETURN_IF_ERROR(pick_split(r.data, o.eval, "--eval", &r.evaluation));
  return with_flags(
      make_architecture(o, Shape{1, training.rows, training.cols}, kClasses, &r.arch));
}

// --reference: the book's Python code step for step (reference_mode.h).
int run_reference_mode(const Run& r) {
  const TrainFlags& f = r.f;
  if (r.par && r.par->size > 1)
    return fail(UsageError("--reference: runs in one process (mpirun -np 1, or nnet)"));
  if (!f.resume.empty() || !f.checkpoint.empty() || !f.init_from.empty())
    return fail(
        UsageError("--reference: cannot be combined with --checkpoint, --resume or --init-from"));
  ReferenceRun run;
  run.arch = r.arch;
  run.training = &r.data.training;
  run.evaluation = r.evaluation;
  run.opts = r.opts;
  run.numpy_seed = r.cmd.count("--numpy-seed") ? f.numpy_seed : r.opts.seed;
  run.python_seed = r.cmd.count("--python-seed") ? f.python_seed : r.opts.seed;
  run.python2_shuffle = f.python2_shuffle;
  run.init = r.given("init") ? f.run.init : "";
  run.quiet = f.quiet;
  run.history = f.history;
  run.save = f.save;
  run.options = recorded_options(f.run, r.arch, r.data_path);
  return run_reference(run);
}

// The network: drawn by --init from --seed, then given --init-from's weights.
Status build_network(const Run& r, Network* net) {
  *net = Network(r.arch);
  Init init;
  parse_init(r.f.run.init, &init);
  init_params(*net, init, r.opts.seed);
  if (r.f.init_from.empty()) return Status::Ok();
  // Same sizes (or layers and input): same layout.
  const Architecture& from = r.init_model.net.arch();
  const Dataset& d = r.data.training;
  if (from.sizes != net->arch().sizes || from.input != net->arch().input ||
      r.init_model.net.params().size() != net->params().size())
    return UsageError("--init-from " + r.f.init_from + ": the model's input " +
                      std::to_string(from.input.c) + "x" + std::to_string(from.input.h) + "x" +
                      std::to_string(from.input.w) + " and sizes do not fit the data's " +
                      std::to_string(d.rows) + "x" + std::to_string(d.cols) + " images");
  net->params() = r.init_model.net.params();
  return Status::Ok();
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

// The notebook's lines on stdout after each epoch; timing, progress and hints on stderr.
TrainCallbacks make_callbacks(const Run& r, Progress& progress) {
  TrainCallbacks cb;
  if (r.par) cb.collective = r.par->collective;
  cb.on_batch = [&progress](size_t done, size_t total) { progress.update(done, total); };
  cb.on_epoch = [&r, &progress](const EpochReport& e) {
    std::fputs(format_epoch(e, r.opts, r.evaluation != nullptr).c_str(), stdout);
    std::fflush(stdout);
    if (!r.f.quiet)
      std::fprintf(stderr, "  epoch %d: train %.3f s (%.0f img/s), eval %.3f s\n", e.epoch,
                   e.train_seconds,
                   static_cast<double>(r.data.training.size()) / std::max(e.train_seconds, 1e-9),
                   e.eval_seconds);
    progress.start();
  };
  cb.on_hint = [&r](const Hint& h) {
    if (!r.f.quiet) std::fprintf(stderr, "%s\n", h.message.c_str());
  };
  cb.should_stop = [] { return interrupt_requested(); };
  if (r.par) cb.should_stop = [par = r.par] { return par->any(interrupt_requested()); };
  return cb;
}

// The state a run starts from: fresh, or --resume's, checked against this run's data and network.
Status starting_state(Run& r, const Checkpoint& ckpt, Network& net, TrainState* state) {
  *state = initial_state(net, r.data.training.size(), r.opts);
  if (r.f.resume.empty()) return Status::Ok();
  const std::string where = "--resume " + r.f.resume;
  NNET_RETURN_IF_ERROR(compare_for_resume(where + ": data", r.resumed.data, ckpt.data, {"path"}));
  if (r.resumed.params.size() != net.params().size() ||
      r.resumed.state.order.size() != r.data.training.size())
    return DataError(where + ": expected " + std::to_string(net.params().size()) +
                     " parameters and " + std::to_string(r.data.training.size()) +
                     " training indices, found " + std::to_string(r.resumed.params.size()) +
                     " and " + std::to_string(r.resumed.state.order.size()));
  net.params() = r.resumed.params;
  *state = std::move(r.resumed.state);
  if (state->stop_reason == "interrupted") state->stop_reason.clear();
  // A run that ended because its epochs ran out continues when --epochs asks for more.
  if (state->finished && state->stop_reason.empty() && state->epoch < r.opts.epochs)
    state->finished = false;
  if (!r.f.quiet)
    std::fprintf(stderr, "nnet: resuming from %s at epoch %d, mini-batch %zu\n",
                 checkpoint_file(r.f.resume).c_str(), state->epoch, state->batch_pos);
  return Status::Ok();
}

// --checkpoint: `ckpt` with the weights and state saved after every epoch (and every
// --checkpoint-every mini-batches); under nnet-mpi rank 0 saves and every process learns whether
// it could.
void add_checkpointing(const Run& r, Checkpoint& ckpt, Network& net, TrainCallbacks* cb) {
  const std::string file = checkpoint_file(r.f.checkpoint);
  cb->checkpoint_every = r.f.checkpoint_every;
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
  cb->on_checkpoint = save;
  if (r.par)  // rank 0 saves; all processes learn whether it could
    cb->on_checkpoint = [save, par = r.par, writer = r.writer](const TrainState& s) {
      Status st = writer ? save(s) : Status::Ok();
      if (par->any(!st.ok()) && st.ok())
        st = IoError("checkpoint: rank 0 could not save it (see its message)");
      return st;
    };
}

// After train(): the timing line, the history, what an interrupted run says, the model.
int finish(const Run& r, const Network& net, const TrainState& state, const Status& st,
           double seconds) {
  const TrainFlags& f = r.f;
  if (!f.quiet && st.ok())
    std::fprintf(stderr, "nnet: %d epochs in %.2f s (%.3f s per epoch)%s%s\n", state.epoch,
                 seconds, seconds / std::max(state.epoch, 1),
                 state.stop_reason.empty() ? "" : "; stopped: ", state.stop_reason.c_str());
  if (!f.history.empty() && r.writer) {
    History h{recorded_options(f.run, r.arch, r.data_path), state.history};
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
  if (!f.save.empty() && r.writer) {
    Model m{net, f.init_from.empty() ? f.run.init : r.init_model.init,
            recorded_options(f.run, r.arch, r.data_path)};
    if (!f.init_from.empty()) m.training["init_from"] = f.init_from;
    if (Status s = save_model(f.save, m); !s.ok()) return fail(s);
  }
  return 0;
}

// Trains `net` from a fresh or resumed state, checkpointing as asked, then finishes the run.
int train_and_finish(Run& r, Network& net) {
  Progress progress(!r.f.quiet && stderr_is_tty(), r.opts.batch);
  Checkpoint ckpt;  // what every save writes; params and state are filled at save time
  if (!r.f.checkpoint.empty() || !r.f.resume.empty()) {
    ckpt.options = checkpoint_options(r.f.run);
    ckpt.data = data_identity(r.data_path, r.data.training, r.evaluation);
  }
  TrainState state;
  if (Status s = starting_state(r, ckpt, net, &state); !s.ok()) return fail(s);
  TrainCallbacks cb = make_callbacks(r, progress);
  if (!r.f.checkpoint.empty()) add_checkpointing(r, ckpt, net, &cb);
  // Processes that failed to set up (rank 0 alone checks the output paths) stop all of them here.
  if (r.par)
    if (const int code = r.par->agree(0); code != 0) return code;
  install_interrupt_handlers();
  progress.start();
  const auto t0 = std::chrono::steady_clock::now();
  const Status st = with_flags(train(net, r.data.training, r.evaluation, r.opts, cb, &state));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return finish(r, net, state, st, seconds);
}

int run_train(TrainFlags& f, const CLI::App& cmd) {
  Run r{f, cmd, given_in(cmd, f)};
  r.par = parallel();
  r.writer = !r.par || r.par->rank == 0;
  if (Status s = settle_options(r); !s.ok()) return fail(s);
  if (Status s = check_outputs(r); !s.ok()) return fail(s);
  if (Status s = load_run_data(r); !s.ok()) return fail(s);
  if (f.reference) return run_reference_mode(r);
  Network net;
  if (Status s = build_network(r, &net); !s.ok()) return fail(s);
  if (!f.quiet)
    std::fprintf(stderr, "nnet: %s: %zu training images, %zu evaluation images (%s); pixels %s\n",
                 r.data_path.c_str(), r.data.training.size(),
                 r.evaluation ? r.evaluation->size() : 0,
                 r.evaluation ? f.run.eval.c_str() : "none", r.data.training.scaling.c_str());
  return train_and_finish(r, net);
}

}  // namespace

void add_train_command(CLI::App& app, int* exit_code, const std::vector<RecipeSetting>& preset) {
  auto f = std::make_shared<TrainFlags>();
  for (const RecipeSetting& s : preset) {
    set_option(&f->run, setting_option(s), s.value);
    f->preset.insert(setting_option(s).name);
  }
  CLI::App* cmd = app.add_subcommand("train",
                                     "train a network (defaults: the notebook's [784,30,10], "
                                     "30 epochs, batch 10, eta 0.1, seed 1)");
  // nnet-mpi: a fixed default chunk, the same for every process count (shown by --help).
  if (parallel() && !f->preset.count("grad_chunk")) f->run.grad_chunk = kDefaultGradChunk;
  add_run_flags(cmd, f.get());
  cmd->add_option("--history", f->history, "write per-epoch figures to FILE (.json, or .csv)");
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
  cmd->callback([f, exit_code, cmd] { *exit_code = run_train(*f, *cmd); });
}

void add_train_command(CLI::App& app, int* exit_code) { add_train_command(app, exit_code, {}); }

}  // namespace nnet::app

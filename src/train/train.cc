#include "nnet/train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <memory>
#include <numeric>

#include "engine/backend.h"
#include "engine/cpu.h"
#include "train/probe.h"
#include "nnet/pyrandom.h"

namespace nnet {

namespace {

using Clock = std::chrono::steady_clock;

// CPU seconds this process has used so far, all threads (a shared machine's figure that
// other processes' load inflates far less than the wall clock).
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

EvalResult evaluate(const Network& net, const Dataset& data, bool want_cost, double lambda,
                    bool want_predictions, int threads) {
  EvalResult out;
  // Without a collective the CPU evaluation cannot fail.
  (void)engine::cpu_evaluate(net, data, want_cost, lambda, want_predictions, threads, Collective{},
                             &out);
  return out;
}

void predict(const Network& net, const float* images, size_t n, Eigen::MatrixXf* out) {
  engine::cpu_predict(net, images, n, out);
}

const char* name(Device d) { return d == Device::kCuda ? "cuda" : "cpu"; }

bool parse_device(const std::string& s, Device* out) {
  if (s == "cpu") {
    *out = Device::kCpu;
    return true;
  }
  if (s == "cuda") {
    *out = Device::kCuda;
    return true;
  }
  return false;
}

Status device_status(Device device) {
  return device == Device::kCpu ? Status::Ok() : engine::cuda_status();
}

Status evaluate_on(Device device, const Network& net, const Dataset& data, bool want_cost,
                   double lambda, bool want_predictions, EvalResult* out) {
  if (device == Device::kCuda)
    return engine::cuda_evaluate(net, data, want_cost, lambda, want_predictions, out);
  *out = evaluate(net, data, want_cost, lambda, want_predictions);
  return Status::Ok();
}

// validate(const TrainOptions&) is in run.cc: the ranges are the option table's.

TrainState initial_state(const Network& net, size_t training_size, const TrainOptions& opts) {
  TrainState s;
  s.order.resize(training_size);
  std::iota(s.order.begin(), s.order.end(), 0u);
  s.shuffle_rng = PyRandom(opts.seed).state();
  Mt19937 drop;
  drop.init_genrand(opts.seed ^ 0x9e3779b9u);  // a stream distinct from the shuffle's
  s.dropout_rng = drop.state();
  if (opts.momentum > 0) s.velocity.assign(net.params().size(), 0.0f);
  s.eta = opts.eta;
  return s;
}


namespace {

// Checks what train() is given before anything runs.
Status check_run(const Network& net, const Dataset& training, const Dataset* evaluation,
                 const TrainOptions& opts, const Collective& coll, const TrainState& st) {
  NNET_RETURN_IF_ERROR(validate(opts));
  if (training.empty()) return DataError("training data: expected at least 1 image, found 0");
  if ((opts.early_stop > 0 || opts.schedule == Schedule::kHalveOnPlateau) &&
      (!evaluation || evaluation->empty()))
    return UsageError(std::string(opts.early_stop > 0 ? "early_stop" : "schedule plateau") +
                      ": expected evaluation data to watch, found none");
  if (training.pixels() != net.inputs())
    return UsageError("sizes: first layer " + std::to_string(net.inputs()) +
                      " does not match the image size " + std::to_string(training.pixels()));
  if (coll.active() && opts.grad_chunk < 1)
    return UsageError("grad_chunk: expected C >= 1 for a run shared by " +
                      std::to_string(coll.size) + " processes, found " +
                      std::to_string(opts.grad_chunk));
  if (st.order.size() != training.size())
    return UsageError("resume: the run's training set had " + std::to_string(st.order.size()) +
                      " images, found " + std::to_string(training.size()));
  if (opts.dropout > 0 && !has_in_place_dropout(net.arch()))
    return UsageError(
        "dropout: expected a net with hidden fc layers to drop in place (a --sizes "
        "net of 3 or more sizes), found none; a layer stack spells dropout as a "
        "layer (dropout:P in layers)");
  return Status::Ok();
}

Status diverged_at(int epoch, size_t batch) {
  return Status::Error(Code::kDiverged, "training diverged: non-finite output error at epoch " +
                                            std::to_string(epoch) + ", mini-batch " +
                                            std::to_string(batch) + " (try a smaller --eta)");
}

// One run of train(): the loop around a backend's steps, in network2.SGD's order (shuffle, SGD
// over the mini-batches, monitors, then schedules and stopping rules).
class Trainer {
 public:
  Trainer(Network& net, const Dataset& training, const Dataset* evaluation,
          const TrainOptions& opts, const TrainCallbacks& cb, TrainState* st,
          std::unique_ptr<engine::Backend> backend)
      : net_(net),
        training_(training),
        evaluation_(evaluation),
        opts_(opts),
        cb_(cb),
        st_(*st),
        backend_(std::move(backend)),
        batches_((training.size() + opts.batch - 1) / opts.batch) {
    const int L = net.layers();
    bias_norm_sum_.assign(L, 0.0);
    weight_norm_sum_.assign(L, 0.0);
    if (opts.momentum > 0 && st_.velocity.size() != net.params().size())
      st_.velocity.assign(net.params().size(), 0.0f);
    shuffler_.set_state(st_.shuffle_rng);
    backend_->set_params(net.params());
    if (opts.momentum > 0) backend_->set_velocity(st_.velocity);
    backend_->set_dropout_state(st_.dropout_rng, st_.epoch, st_.batch_pos);
    // The health probe reads the evidence the backend tallies for some mini-batches.
    if (opts.watch_health) {
      probe_ = std::make_unique<HealthProbe>(net, training.size(), evaluation, opts);
      if (st_.epoch == 0 && st_.batch_pos == 0 && cb.on_hint)
        for (const Hint& h : check_data(net, training, evaluation)) cb.on_hint(h);
    }
  }

  Status run() {
    while (st_.epoch < opts_.epochs && !st_.finished) {
      EpochReport rep;
      rep.epoch = st_.epoch;
      rep.eta = st_.eta;
      NNET_RETURN_IF_ERROR(train_epoch(&rep));
      NNET_RETURN_IF_ERROR(monitor(&rep));
      std::vector<Hint> hints;
      if (probe_) {
        ProbeTally tally;
        backend_->take_probe_tally(&tally);
        hints = probe_->observe(net_, tally, &rep);
      }
      st_.history.push_back(rep);
      if (cb_.on_epoch) cb_.on_epoch(rep);
      if (cb_.on_hint)
        for (const Hint& h : hints) cb_.on_hint(h);
      NNET_RETURN_IF_ERROR(end_epoch());
      if (st_.finished) break;
      if (cb_.should_stop && cb_.should_stop()) {
        st_.stop_reason = "interrupted";
        return Status::Error(Code::kInterrupted,
                             "interrupted after epoch " + std::to_string(st_.epoch - 1));
      }
    }
    st_.finished = true;
    return Status::Ok();
  }

 private:
  // The SGD pass over one epoch's mini-batches (from st_.batch_pos when resumed mid-epoch).
  Status train_epoch(EpochReport* rep) {
    const auto t0 = Clock::now();
    const double cpu0 = process_cpu_seconds();
    const size_t n = training_.size();
    if (st_.batch_pos == 0 && opts_.shuffle)
      shuffler_.shuffle(st_.order);  // in place, every epoch, like the notebook
    backend_->set_order(st_.order);
    const int L = net_.layers();
    std::fill(bias_norm_sum_.begin(), bias_norm_sum_.end(), 0.0);
    std::fill(weight_norm_sum_.begin(), weight_norm_sum_.end(), 0.0);
    if (st_.batch_pos != 0 && st_.grad_norm_sums.size() == 2 * static_cast<size_t>(L)) {
      // Resumed mid-epoch: carry on the sums the checkpoint saved.
      std::copy_n(st_.grad_norm_sums.begin(), L, bias_norm_sum_.begin());
      std::copy_n(st_.grad_norm_sums.begin() + L, L, weight_norm_sum_.begin());
    }
    const double decay =
        1.0 - st_.eta * opts_.lambda /
                  static_cast<double>(opts_.l2_style == L2Style::kNetwork3 ? batches_ : n);
    for (size_t b = st_.batch_pos; b < batches_; ++b) {
      engine::StepArgs s;
      s.batch = b;
      s.begin = b * opts_.batch;
      s.m = static_cast<int>(std::min<size_t>(opts_.batch, n - s.begin));
      s.eta = st_.eta;
      s.rule.step = st_.eta / s.m;
      s.rule.decay = decay;
      s.rule.l1 = st_.eta * opts_.l1 / static_cast<double>(n);
      s.rule.momentum = opts_.momentum > 0 ? opts_.momentum : 0.0;
      s.probe = probe_ && probe_->wants(b);
      bool finite = true;
      NNET_RETURN_IF_ERROR(backend_->step(s, &finite));
      if (!finite) {
        st_.batch_pos = b;
        return diverged_at(st_.epoch, b);
      }
      if (cb_.on_batch) cb_.on_batch(b + 1, batches_);
      const bool stop = cb_.should_stop && cb_.should_stop();
      const bool periodic = cb_.checkpoint_every > 0 && (b + 1) % cb_.checkpoint_every == 0;
      if ((stop || periodic) && b + 1 < batches_) NNET_RETURN_IF_ERROR(pause(b + 1, stop));
    }
    NNET_RETURN_IF_ERROR(check_steps());
    st_.batch_pos = 0;
    st_.grad_norm_sums.clear();
    rep->train_seconds = seconds_since(t0);
    rep->train_cpu_seconds = process_cpu_seconds() - cpu0;
    sync_to_host();
    if (!backend_->params_finite())
      return Status::Error(Code::kDiverged, "training diverged: non-finite weight after epoch " +
                                                std::to_string(st_.epoch) +
                                                " (try a smaller --eta)");
    if (opts_.record_gradients) {
      backend_->add_gradient_norms(&bias_norm_sum_, &weight_norm_sum_);
      for (int l = 0; l < L; ++l) {
        rep->bias_grad_norm.push_back(bias_norm_sum_[l] / static_cast<double>(batches_));
        rep->weight_grad_norm.push_back(weight_norm_sum_[l] / static_cast<double>(batches_));
      }
    }
    return Status::Ok();
  }

  // A backend that runs ahead of the host reports a non-finite step only now.
  Status check_steps() {
    size_t bad = 0;
    if (backend_->finished_cleanly(&bad)) return Status::Ok();
    st_.batch_pos = bad;
    return diverged_at(st_.epoch, bad);
  }

  // Mid-epoch: saves a checkpoint before mini-batch `next` (and stops, when asked to).
  Status pause(size_t next, bool stop) {
    NNET_RETURN_IF_ERROR(check_steps());
    st_.batch_pos = next;
    st_.shuffle_rng = shuffler_.state();
    st_.dropout_rng = backend_->dropout_state();
    backend_->add_gradient_norms(&bias_norm_sum_, &weight_norm_sum_);
    st_.grad_norm_sums.assign(bias_norm_sum_.begin(), bias_norm_sum_.end());
    st_.grad_norm_sums.insert(st_.grad_norm_sums.end(), weight_norm_sum_.begin(),
                              weight_norm_sum_.end());
    if (stop) st_.stop_reason = "interrupted";
    sync_to_host();
    if (cb_.on_checkpoint) NNET_RETURN_IF_ERROR(cb_.on_checkpoint(st_));
    if (stop)
      return Status::Error(Code::kInterrupted, "interrupted at epoch " + std::to_string(st_.epoch) +
                                                   ", mini-batch " + std::to_string(next) +
                                                   " of " + std::to_string(batches_));
    return Status::Ok();
  }

  // The parameters and momentum, backend -> host (where saving and callbacks read them).
  void sync_to_host() {
    backend_->get_params(&net_.params());
    if (opts_.momentum > 0) backend_->get_velocity(&st_.velocity);
  }

  Status evaluate(const Dataset& d, bool want_cost, EvalResult* r) {
    return backend_->evaluate(d, want_cost, opts_.lambda, r);
  }

  // Monitors, in network2.SGD's order; then the stopping rules' bookkeeping.
  Status monitor(EpochReport* rep) {
    const auto t1 = Clock::now();
    if (opts_.monitor_training_cost || opts_.monitor_training_accuracy) {
      EvalResult r;
      NNET_RETURN_IF_ERROR(evaluate(training_, opts_.monitor_training_cost, &r));
      rep->training_total = r.total;
      if (opts_.monitor_training_cost) rep->training_cost = r.cost;
      if (opts_.monitor_training_accuracy) rep->training_correct = r.correct;
    }
    if (evaluation_ && !evaluation_->empty() &&
        (opts_.monitor_evaluation_cost || opts_.monitor_evaluation_accuracy ||
         opts_.early_stop > 0 || opts_.schedule == Schedule::kHalveOnPlateau)) {
      EvalResult r;
      NNET_RETURN_IF_ERROR(evaluate(*evaluation_, opts_.monitor_evaluation_cost, &r));
      rep->evaluation_total = r.total;
      if (opts_.monitor_evaluation_cost) rep->evaluation_cost = r.cost;
      rep->evaluation_correct = r.correct;
      if (r.correct > st_.best_accuracy) {
        st_.best_accuracy = r.correct;
        st_.best_epoch = st_.epoch;
        st_.epochs_since_best = 0;
        if (opts_.early_stop > 0) st_.best_params = net_.params();
      } else {
        ++st_.epochs_since_best;
      }
    }
    rep->eval_seconds = seconds_since(t1);
    const double cost_seen[] = {rep->training_cost, rep->evaluation_cost};
    for (double c : cost_seen)
      if (std::isnan(c) || std::isinf(c))
        return Status::Error(Code::kDiverged, "training diverged: non-finite cost after epoch " +
                                                  std::to_string(st_.epoch));
    return Status::Ok();
  }

  // Schedules and stopping rules act on what this epoch measured; then the checkpoint.
  Status end_epoch() {
    if (opts_.schedule == Schedule::kStep && (st_.epoch + 1) % opts_.step_epochs == 0)
      st_.eta *= opts_.step_gamma;
    if (opts_.schedule == Schedule::kHalveOnPlateau &&
        st_.epochs_since_best >= opts_.plateau_epochs) {
      st_.eta /= 2;
      st_.epochs_since_best = 0;
      if (st_.eta <= opts_.eta / 128) {  // the book: stop once eta has dropped to eta0/128
        st_.finished = true;
        st_.stop_reason = "eta reached eta0/128";
      }
    }
    if (opts_.early_stop > 0 && st_.epochs_since_best >= opts_.early_stop) {
      st_.finished = true;
      st_.stop_reason = "early stop";
    }
    ++st_.epoch;  // epochs completed: what a checkpoint records
    st_.shuffle_rng = shuffler_.state();
    st_.dropout_rng = backend_->dropout_state();
    if (st_.epoch >= opts_.epochs) st_.finished = true;
    // Early stopping hands back the best weights seen, not the last.
    if (st_.finished && opts_.early_stop > 0 && !st_.best_params.empty()) {
      net_.params() = st_.best_params;
      backend_->set_params(net_.params());
    }
    if (cb_.on_checkpoint) NNET_RETURN_IF_ERROR(cb_.on_checkpoint(st_));
    return Status::Ok();
  }

  Network& net_;
  const Dataset& training_;
  const Dataset* evaluation_;
  const TrainOptions& opts_;
  const TrainCallbacks& cb_;
  TrainState& st_;
  std::unique_ptr<engine::Backend> backend_;
  const size_t batches_;
  PyRandom shuffler_;
  std::unique_ptr<HealthProbe> probe_;
  std::vector<double> bias_norm_sum_, weight_norm_sum_;  // --record-gradients, this epoch
};

}  // namespace

Status train(Network& net, const Dataset& training, const Dataset* evaluation,
             const TrainOptions& opts, const TrainCallbacks& cb, TrainState* state) {
  NNET_RETURN_IF_ERROR(check_run(net, training, evaluation, opts, cb.collective, *state));
  std::unique_ptr<engine::Backend> backend;
  if (opts.device == Device::kCuda) {
    if (cb.collective.active())
      return UsageError("device cuda: runs in one process (nnet, or mpirun -np 1)");
    NNET_RETURN_IF_ERROR(engine::make_cuda_backend(net, training, opts, &backend));
  } else {
    backend = engine::make_cpu_backend(net, training, opts, cb.collective);
  }
  Trainer t(net, training, evaluation, opts, cb, state, std::move(backend));
  return t.run();
}

}  // namespace nnet

#include "nnet/train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <memory>
#include <numeric>
#include <optional>
#include <thread>

#include "nnet/pyrandom.h"
#include "ordered_sum.h"

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

// Images are stored one per row (n, pixels) row-major, which is (pixels, n) column-major:
// image i is column i, so a range of images is a matrix view with no copy.
ConstMatrixMap images_view(const Dataset& d, size_t first, size_t count) {
  return ConstMatrixMap(d.image(first), d.pixels(), static_cast<Eigen::Index>(count));
}

// Evaluation works in fixed chunks, independent of the thread count, so sums are reproducible.
constexpr size_t kEvalChunk = 500;

// Samples per forward pass inside an evaluation chunk. Dense nets take the whole chunk; a layer
// stack's workspace holds every layer's activations (the book's conv net: ~210 KB per sample,
// 100 MB for 500), so stacks go through a chunk in pieces whose workspace fits ~4 MiB. The
// pieces are fixed by the chunk, never by the thread count.
int eval_batch(const Network& net, size_t chunk) {
  if (!net.is_stack()) return static_cast<int>(chunk);
  size_t floats = 0;  // per sample: z, a, delta (and argmax) of every layer, about
  for (int i = 0; i < net.stack_size(); ++i) floats += 4 * static_cast<size_t>(net.shape(i).size());
  const size_t fit = (size_t{4} << 20) / (sizeof(float) * std::max<size_t>(floats, 1));
  return static_cast<int>(std::clamp<size_t>(fit, 1, chunk));
}

struct ChunkResult {
  long correct = 0;
  double cost = 0.0;
};

void evaluate_chunks(const Network& net, const Dataset& data, bool want_cost, size_t first_chunk,
                     size_t chunk_stride, size_t end_chunk, std::vector<ChunkResult>* results,
                     std::vector<uint8_t>* predictions) {
  const size_t n = data.size();
  const int outs = net.outputs();
  const size_t piece = eval_batch(net, std::min(kEvalChunk, n));
  Workspace ws = make_workspace(net, static_cast<int>(piece));
  for (size_t c = first_chunk; c < end_chunk; c += chunk_stride) {
    const size_t chunk_begin = c * kEvalChunk, chunk_count = std::min(kEvalChunk, n - chunk_begin);
    ChunkResult r;
    for (size_t p = 0; p < chunk_count; p += piece) {
      const size_t begin = chunk_begin + p, count = std::min(piece, chunk_count - p);
      forward(net, images_view(data, begin, count), static_cast<int>(count), ws);
      const auto& a = ws.a.back();  // (outputs, count)
      for (size_t j = 0; j < count; ++j) {
        Eigen::Index arg = 0;
        a.col(static_cast<Eigen::Index>(j)).maxCoeff(&arg);  // first maximum, like np.argmax
        const int label = data.labels[begin + j];
        r.correct += (arg == label);
        if (want_cost) r.cost += sample_cost(net.arch().cost, a.col(j).data(), outs, label);
        if (predictions) (*predictions)[begin + j] = static_cast<uint8_t>(arg);
      }
    }
    (*results)[c] = r;
  }
}

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

double squared_weight_norm(const Network& net) {
  double s = 0.0;
  for (int l = 0; l < net.layers(); ++l) s += net.weight(l).cast<double>().squaredNorm();
  return s;
}

// Fills column j of y with the one-hot vector of `label`.
void one_hot(Eigen::MatrixXf& y, int j, int label) {
  y.col(j).setZero();
  y(label, j) = 1.0f;
}

// Evaluates the chunks in `range` over `threads` threads into results (indexed by chunk).
void evaluate_range(const Network& net, const Dataset& data, bool want_cost, Range range,
                    int threads, std::vector<ChunkResult>* results,
                    std::vector<uint8_t>* predictions) {
  const size_t nthreads = std::min<size_t>(resolve_threads(threads), range.size());
  if (nthreads <= 1) {
    evaluate_chunks(net, data, want_cost, range.begin, 1, range.end, results, predictions);
    return;
  }
  std::vector<std::thread> pool;
  for (size_t t = 0; t < nthreads; ++t)
    pool.emplace_back(evaluate_chunks, std::cref(net), std::cref(data), want_cost, range.begin + t,
                      nthreads, range.end, results, predictions);
  for (auto& th : pool) th.join();
}

// evaluate() with the chunks shared among the processes of `coll`: each evaluates its share, the
// per-chunk results are gathered and summed in chunk order, so every process gets exactly what
// evaluate() gives.
Status evaluate_shared(const Network& net, const Dataset& data, bool want_cost, double lambda,
                       int threads, const Collective& coll, EvalResult* out) {
  *out = EvalResult();
  out->total = static_cast<long>(data.size());
  if (data.empty()) return Status::Ok();
  const size_t chunks = (data.size() + kEvalChunk - 1) / kEvalChunk;
  std::vector<ChunkResult> results(chunks);
  const Range mine = share(chunks, coll.rank, coll.size);
  evaluate_range(net, data, want_cost, mine, threads, &results, nullptr);
  std::vector<double> rows(2 * chunks);  // (chunks, 2): correct, cost
  for (size_t c = mine.begin; c < mine.end; ++c) {
    rows[2 * c] = static_cast<double>(results[c].correct);
    rows[2 * c + 1] = results[c].cost;
  }
  NNET_RETURN_IF_ERROR(coll.allgather(rows.data(), chunks, 2));
  for (size_t c = 0; c < chunks; ++c) {
    out->correct += static_cast<long>(rows[2 * c]);
    out->cost += rows[2 * c + 1];
  }
  if (want_cost) {
    const double n = static_cast<double>(data.size());
    out->cost = out->cost / n + 0.5 * (lambda / n) * squared_weight_norm(net);
  }
  return Status::Ok();
}

// --grad-chunk: one mini-batch's gradient as the chunk-ordered sum of per-chunk gradients, this
// process computing only its share of the chunks (all of them without a collective).
class ChunkedGradient {
 public:
  ChunkedGradient(const Network& net, int chunk, int max_batch, int conv_threads)
      : chunk_(chunk),
        width_(round_up(net.params().size() + 1, kRowFloats)),
        flag_(net.params().size()),
        ws_(make_workspace(net, chunk)),
        x_(net.inputs(), chunk),
        y_(net.outputs(), chunk),
        sum_(width_) {
    ws_.threads = conv_threads;
    masks_.mask.resize(ws_.mask.size());
    for (size_t i = 0; i < ws_.mask.size(); ++i)
      masks_.mask[i].resize(ws_.mask[i].rows(), ws_.mask[i].rows() > 0 ? max_batch : 0);
  }
  // Where train() draws the whole mini-batch's dropout masks (the same draws on every process).
  Workspace& masks() { return masks_; }

  // Computes the summed gradient of the m samples (images cols[j], labels[j]); gradient() then
  // holds it (params layout). Sets *finite to whether every chunk's output error was finite.
  Status compute(const Network& net, const float* const* cols, const uint8_t* labels, int m,
                 bool dropout, const Collective& coll, bool* finite) {
    const size_t chunks = chunk_count(static_cast<size_t>(m), static_cast<size_t>(chunk_));
    const Range mine = coll.active() ? share(chunks, coll.rank, coll.size) : Range{0, chunks};
    local_.assign(mine.size() * width_, 0.0f);
    for (size_t c = mine.begin; c < mine.end; ++c) {
      const Range s = chunk_samples(static_cast<size_t>(m), static_cast<size_t>(chunk_), c);
      const int cm = static_cast<int>(s.size());
      for (int j = 0; j < cm; ++j) {
        x_.col(j) = ConstVectorMap(cols[s.begin + j], net.inputs());
        one_hot(y_, j, labels[s.begin + j]);
      }
      if (dropout)
        for (size_t i = 0; i < ws_.mask.size(); ++i)
          if (ws_.mask[i].rows() > 0)
            ws_.mask[i].leftCols(cm) = masks_.mask[i].middleCols(s.begin, cm);
      float* g = local_.data() + (c - mine.begin) * width_;
      forward(net, x_, cm, ws_, dropout);
      backward(net, x_, y_, cm, ws_, g, dropout);
      g[flag_] = ws_.delta.back().leftCols(cm).allFinite() ? 0.0f : 1.0f;
    }
    if (coll.active())
      NNET_RETURN_IF_ERROR(coll.sum_chunks(local_.data(), chunks, width_, sum_.data()));
    else
      sum_chunks(local_.data(), chunks, width_, width_, sum_.data());
    *finite = sum_[flag_] == 0.0f;  // counts the chunks whose output error was not finite
    return Status::Ok();
  }
  const float* gradient() const { return sum_.data(); }

 private:
  // Every chunk's gradient row starts on a 64-byte boundary: Eigen's kernels round a row's
  // unaligned head differently, which would make the sum depend on where a chunk lands.
  static constexpr size_t kRowFloats = 16;
  static size_t round_up(size_t n, size_t k) { return (n + k - 1) / k * k; }
  using AlignedFloats = std::vector<float, Eigen::aligned_allocator<float>>;
  int chunk_;
  size_t width_;  // a row: parameters, then the non-finite flag, then zero padding
  size_t flag_;   // index of the flag in a row
  Workspace ws_;  // (chunk columns)
  Eigen::MatrixXf x_, y_;
  Workspace masks_;      // only mask[]: (size, max_batch)
  AlignedFloats local_;  // (my chunks, width_)
  AlignedFloats sum_;    // (width_)
};

}  // namespace

EvalResult evaluate(const Network& net, const Dataset& data, bool want_cost, double lambda,
                    bool want_predictions, int threads) {
  EvalResult out;
  out.total = static_cast<long>(data.size());
  if (data.empty()) return out;
  const size_t chunks = (data.size() + kEvalChunk - 1) / kEvalChunk;
  std::vector<ChunkResult> results(chunks);
  if (want_predictions) out.predictions.assign(data.size(), 0);
  std::vector<uint8_t>* preds = want_predictions ? &out.predictions : nullptr;
  evaluate_range(net, data, want_cost, Range{0, chunks}, threads, &results, preds);
  for (const ChunkResult& r : results) {
    out.correct += r.correct;
    out.cost += r.cost;
  }
  if (want_cost) {
    const double n = static_cast<double>(data.size());
    out.cost = out.cost / n + 0.5 * (lambda / n) * squared_weight_norm(net);
  }
  return out;
}

void predict(const Network& net, const float* images, size_t n, Eigen::MatrixXf* out) {
  out->resize(net.outputs(), static_cast<Eigen::Index>(n));  // (outputs, n)
  const size_t chunk = eval_batch(net, std::min<size_t>(kEvalChunk, std::max<size_t>(n, 1)));
  Workspace ws = make_workspace(net, static_cast<int>(chunk));
  for (size_t begin = 0; begin < n; begin += chunk) {
    const size_t count = std::min(chunk, n - begin);
    ConstMatrixMap x(images + begin * net.inputs(), net.inputs(), static_cast<Eigen::Index>(count));
    forward(net, x, static_cast<int>(count), ws);
    out->middleCols(begin, count) = ws.a.back().leftCols(count);
  }
}

Status validate(const TrainOptions& o) {
  auto bad = [](const std::string& flag, const std::string& expected, const std::string& found) {
    return UsageError(flag + ": expected " + expected + ", found " + found);
  };
  if (!(o.eta > 0) || !std::isfinite(o.eta))
    return bad("--eta", "a finite number > 0", std::to_string(o.eta));
  if (o.batch < 1) return bad("--batch", "an integer >= 1", std::to_string(o.batch));
  if (o.epochs < 1) return bad("--epochs", "an integer >= 1", std::to_string(o.epochs));
  if (!(o.lambda >= 0) || !std::isfinite(o.lambda))
    return bad("--lambda", "a finite number >= 0", std::to_string(o.lambda));
  if (!(o.l1 >= 0) || !std::isfinite(o.l1))
    return bad("--l1", "a finite number >= 0", std::to_string(o.l1));
  if (!(o.dropout >= 0 && o.dropout < 1))
    return bad("--dropout", "a probability in [0, 1)", std::to_string(o.dropout));
  if (!(o.momentum >= 0 && o.momentum < 1))
    return bad("--momentum", "a number in [0, 1)", std::to_string(o.momentum));
  if (o.step_epochs < 1)
    return bad("--step-epochs", "an integer >= 1", std::to_string(o.step_epochs));
  if (!(o.step_gamma > 0 && o.step_gamma <= 1))
    return bad("--step-gamma", "a number in (0, 1]", std::to_string(o.step_gamma));
  if (o.plateau_epochs < 1)
    return bad("--plateau", "an integer >= 1", std::to_string(o.plateau_epochs));
  if (o.early_stop < 0) return bad("--early-stop", "an integer >= 0", std::to_string(o.early_stop));
  if (o.grad_chunk < 0) return bad("--grad-chunk", "an integer >= 0", std::to_string(o.grad_chunk));
  return Status::Ok();
}

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

Status train(Network& net, const Dataset& training, const Dataset* evaluation,
             const TrainOptions& opts, const TrainCallbacks& cb, TrainState* state) {
  NNET_RETURN_IF_ERROR(validate(opts));
  if (training.empty()) return DataError("training data: expected at least 1 image, found 0");
  if ((opts.early_stop > 0 || opts.schedule == Schedule::kHalveOnPlateau) &&
      (!evaluation || evaluation->empty()))
    return UsageError(std::string(opts.early_stop > 0 ? "--early-stop" : "--schedule plateau") +
                      ": expected evaluation data to watch, found none (--eval none)");
  if (training.pixels() != net.inputs())
    return UsageError("--sizes: first layer " + std::to_string(net.inputs()) +
                      " does not match the image size " + std::to_string(training.pixels()));
  const Collective& coll = cb.collective;
  if (coll.active() && opts.grad_chunk < 1)
    return UsageError("--grad-chunk: expected C >= 1 for a run shared by " +
                      std::to_string(coll.size) + " processes, found " +
                      std::to_string(opts.grad_chunk));
  TrainState& st = *state;
  if (st.order.size() != training.size())
    return UsageError("resume: the run's training set had " + std::to_string(st.order.size()) +
                      " images, found " + std::to_string(training.size()));

  const size_t n = training.size();
  const int L = net.layers();
  const int m_max = static_cast<int>(std::min<size_t>(opts.batch, n));
  const size_t batches = (n + opts.batch - 1) / opts.batch;
  if (net.is_stack() && opts.dropout > 0)
    return UsageError("--dropout: a layer stack spells dropout as a layer (dropout:P in --layers)");
  // Stacks carry their dropout in dropout layers; dense nets in opts.dropout.
  const bool use_dropout = net.is_stack() ? has_dropout(net.arch()) : opts.dropout > 0 && L > 1;
  const bool use_momentum = opts.momentum > 0;
  if (use_momentum && st.velocity.size() != net.params().size())
    st.velocity.assign(net.params().size(), 0.0f);

  PyRandom shuffler;
  shuffler.set_state(st.shuffle_rng);
  Mt19937 drop_rng;
  drop_rng.set_state(st.dropout_rng);

  Workspace ws = make_workspace(net, m_max);
  ws.threads = opts.conv_threads;
  std::vector<const float*> cols(m_max);  // (batch) the mini-batch's images, in place
  std::vector<uint8_t> labels(m_max);     // (batch)
  // Only with record_gradients, which needs the whole gradient:
  const int gm = opts.record_gradients ? m_max : 0;
  Eigen::MatrixXf x(net.inputs(), gm);                                       // (pixels, batch)
  Eigen::MatrixXf y(net.outputs(), gm);                                      // (outputs, batch)
  std::vector<float> grad(opts.record_gradients ? net.params().size() : 0);  // params layout
  std::vector<double> bias_norm_sum(L), weight_norm_sum(L);
  // Adds one mini-batch's per-layer gradient norms (of the mean cost) for --record-gradients.
  auto add_grad_norms = [&](const float* g, int m) {
    for (int l = 0; l < L; ++l) {
      bias_norm_sum[l] += ordered_norm(ConstVectorMap(g + net.bias_offset(l), net.rows(l))) / m;
      weight_norm_sum[l] +=
          ordered_norm(ConstMatrixMap(g + net.weight_offset(l), net.rows(l), net.cols(l))) / m;
    }
  };

  // The health probe reads what each step left in the workspace (some mini-batches); never writes.
  std::unique_ptr<HealthProbe> probe;
  if (opts.watch_health) {
    probe = std::make_unique<HealthProbe>(net, training.size(), evaluation, opts);
    if (st.epoch == 0 && st.batch_pos == 0 && cb.on_hint)
      for (const Hint& h : check_data(net, training, evaluation)) cb.on_hint(h);
  }

  const float keep_scale = use_dropout ? static_cast<float>(1.0 / (1.0 - opts.dropout)) : 1.0f;
  std::optional<ChunkedGradient> chunked;
  if (opts.grad_chunk > 0) chunked.emplace(net, opts.grad_chunk, m_max, opts.conv_threads);
  // Masks land in the chunked path's full-batch buffer, else in the step's workspace.
  Workspace& mask_ws = chunked ? chunked->masks() : ws;
  auto eval = [&](const Dataset& d, bool want_cost, EvalResult* r) {
    if (coll.active())
      return evaluate_shared(net, d, want_cost, opts.lambda, opts.threads, coll, r);
    *r = evaluate(net, d, want_cost, opts.lambda, false, opts.threads);
    return Status::Ok();
  };
  while (st.epoch < opts.epochs && !st.finished) {
    EpochReport rep;
    rep.epoch = st.epoch;
    rep.eta = st.eta;
    const auto t0 = Clock::now();
    const double cpu0 = process_cpu_seconds();
    if (st.batch_pos == 0 && opts.shuffle)
      shuffler.shuffle(st.order);  // in place, every epoch, like the notebook
    std::fill(bias_norm_sum.begin(), bias_norm_sum.end(), 0.0);
    std::fill(weight_norm_sum.begin(), weight_norm_sum.end(), 0.0);
    if (st.batch_pos != 0 && st.grad_norm_sums.size() == 2 * static_cast<size_t>(L)) {
      // Resumed mid-epoch: carry on the sums the checkpoint saved.
      std::copy_n(st.grad_norm_sums.begin(), L, bias_norm_sum.begin());
      std::copy_n(st.grad_norm_sums.begin() + L, L, weight_norm_sum.begin());
    }
    const double decay =
        1.0 - st.eta * opts.lambda /
                  static_cast<double>(opts.l2_style == L2Style::kNetwork3 ? batches : n);

    for (size_t b = st.batch_pos; b < batches; ++b) {
      const size_t begin = b * opts.batch;
      const int m = static_cast<int>(std::min<size_t>(opts.batch, n - begin));
      // No gather: the kernels read each image where the dataset holds it.
      for (int j = 0; j < m; ++j) {
        const uint32_t idx = st.order[begin + j];
        cols[j] = training.image(idx);
        labels[j] = training.labels[idx];
      }
      if (use_dropout && net.is_stack()) {
        fill_dropout_masks(net, mask_ws, m, [&] { return drop_rng.next_double53(); });
      } else if (use_dropout) {
        for (int l = 0; l + 1 < L; ++l) {
          auto mask = mask_ws.mask[l].leftCols(m);  // (sizes[l+1], m)
          for (Eigen::Index k = 0; k < mask.size(); ++k)
            mask.data()[k] = drop_rng.next_double53() < opts.dropout ? 0.0f : keep_scale;
        }
      }
      SgdRule rule;
      rule.step = st.eta / m;
      rule.decay = decay;
      rule.l1 = st.eta * opts.l1 / static_cast<double>(n);
      rule.momentum = use_momentum ? opts.momentum : 0.0;
      float* velocity = use_momentum ? st.velocity.data() : nullptr;
      bool finite = true;
      if (chunked) {
        NNET_RETURN_IF_ERROR(
            chunked->compute(net, cols.data(), labels.data(), m, use_dropout, coll, &finite));
        const float* g = chunked->gradient();
        if (finite && opts.record_gradients) {
          add_grad_norms(g, m);
        }
        if (finite) apply_update(net, g, rule, velocity);
      } else if (!opts.record_gradients) {
        // Forward, backward and update fused: the gradient never exists as a whole.
        finite = sgd_step(net, cols.data(), labels.data(), m, ws, rule, velocity, use_dropout);
      } else {
        // The gradient is needed whole for its norms.
        for (int j = 0; j < m; ++j) {
          x.col(j) = ConstVectorMap(cols[j], training.pixels());
          one_hot(y, j, labels[j]);
        }
        std::fill(grad.begin(), grad.end(), 0.0f);
        forward(net, x, m, ws, use_dropout);
        backward(net, x, y, m, ws, grad.data(), use_dropout);
        finite = ws.delta.back().leftCols(m).allFinite();
        if (finite) {
          add_grad_norms(grad.data(), m);
          apply_update(net, grad.data(), rule, velocity);
        }
      }
      if (!finite) {
        st.batch_pos = b;
        return Status::Error(Code::kDiverged,
                             "training diverged: non-finite output error at epoch " +
                                 std::to_string(st.epoch) + ", mini-batch " + std::to_string(b) +
                                 " (try a smaller --eta)");
      }
      if (probe && !chunked)
        probe->see_batch(net, ws, labels.data(), m, b);  // --grad-chunk: unwatched
      if (cb.on_batch) cb.on_batch(b + 1, batches);
      const bool stop = cb.should_stop && cb.should_stop();
      const bool periodic = cb.checkpoint_every > 0 && (b + 1) % cb.checkpoint_every == 0;
      if ((stop || periodic) && b + 1 < batches) {
        st.batch_pos = b + 1;
        st.shuffle_rng = shuffler.state();
        st.dropout_rng = drop_rng.state();
        st.grad_norm_sums.assign(bias_norm_sum.begin(), bias_norm_sum.end());
        st.grad_norm_sums.insert(st.grad_norm_sums.end(), weight_norm_sum.begin(),
                                 weight_norm_sum.end());
        if (stop) st.stop_reason = "interrupted";
        if (cb.on_checkpoint) NNET_RETURN_IF_ERROR(cb.on_checkpoint(st));
        if (stop)
          return Status::Error(Code::kInterrupted, "interrupted at epoch " +
                                                       std::to_string(st.epoch) + ", mini-batch " +
                                                       std::to_string(b + 1) + " of " +
                                                       std::to_string(batches));
      }
    }
    st.batch_pos = 0;
    st.grad_norm_sums.clear();
    rep.train_seconds = seconds_since(t0);
    rep.train_cpu_seconds = process_cpu_seconds() - cpu0;
    if (!std::all_of(net.params().begin(), net.params().end(),
                     [](float v) { return std::isfinite(v); }))
      return Status::Error(Code::kDiverged, "training diverged: non-finite weight after epoch " +
                                                std::to_string(st.epoch) +
                                                " (try a smaller --eta)");
    if (opts.record_gradients) {
      for (int l = 0; l < L; ++l) {
        rep.bias_grad_norm.push_back(bias_norm_sum[l] / static_cast<double>(batches));
        rep.weight_grad_norm.push_back(weight_norm_sum[l] / static_cast<double>(batches));
      }
    }

    // Monitors, in network2.SGD's order.
    const auto t1 = Clock::now();
    if (opts.monitor_training_cost || opts.monitor_training_accuracy) {
      EvalResult r;
      NNET_RETURN_IF_ERROR(eval(training, opts.monitor_training_cost, &r));
      rep.training_total = r.total;
      if (opts.monitor_training_cost) rep.training_cost = r.cost;
      if (opts.monitor_training_accuracy) rep.training_correct = r.correct;
    }
    if (evaluation && !evaluation->empty() &&
        (opts.monitor_evaluation_cost || opts.monitor_evaluation_accuracy || opts.early_stop > 0 ||
         opts.schedule == Schedule::kHalveOnPlateau)) {
      EvalResult r;
      NNET_RETURN_IF_ERROR(eval(*evaluation, opts.monitor_evaluation_cost, &r));
      rep.evaluation_total = r.total;
      if (opts.monitor_evaluation_cost) rep.evaluation_cost = r.cost;
      rep.evaluation_correct = r.correct;
      if (r.correct > st.best_accuracy) {
        st.best_accuracy = r.correct;
        st.best_epoch = st.epoch;
        st.epochs_since_best = 0;
        if (opts.early_stop > 0) st.best_params = net.params();
      } else {
        ++st.epochs_since_best;
      }
    }
    rep.eval_seconds = seconds_since(t1);
    const double cost_seen[] = {rep.training_cost, rep.evaluation_cost};
    for (double c : cost_seen)
      if (std::isnan(c) || std::isinf(c))
        return Status::Error(Code::kDiverged, "training diverged: non-finite cost after epoch " +
                                                  std::to_string(st.epoch));
    std::vector<Hint> hints;
    if (probe) hints = probe->observe(net, &rep);
    st.history.push_back(rep);
    if (cb.on_epoch) cb.on_epoch(rep);
    if (cb.on_hint)
      for (const Hint& h : hints) cb.on_hint(h);

    // Schedules and stopping rules act on what this epoch measured.
    if (opts.schedule == Schedule::kStep && (st.epoch + 1) % opts.step_epochs == 0)
      st.eta *= opts.step_gamma;
    if (opts.schedule == Schedule::kHalveOnPlateau && st.epochs_since_best >= opts.plateau_epochs) {
      st.eta /= 2;
      st.epochs_since_best = 0;
      if (st.eta <= opts.eta / 128) {  // the book: stop once eta has dropped to eta0/128
        st.finished = true;
        st.stop_reason = "eta reached eta0/128";
      }
    }
    if (opts.early_stop > 0 && st.epochs_since_best >= opts.early_stop) {
      st.finished = true;
      st.stop_reason = "early stop";
    }
    ++st.epoch;  // epochs completed: what a checkpoint records
    st.shuffle_rng = shuffler.state();
    st.dropout_rng = drop_rng.state();
    if (st.epoch >= opts.epochs) st.finished = true;
    // Early stopping hands back the best weights seen, not the last.
    if (st.finished && opts.early_stop > 0 && !st.best_params.empty())
      net.params() = st.best_params;
    if (cb.on_checkpoint) NNET_RETURN_IF_ERROR(cb.on_checkpoint(st));
    if (st.finished) break;
    if (cb.should_stop && cb.should_stop()) {
      st.stop_reason = "interrupted";
      return Status::Error(Code::kInterrupted,
                           "interrupted after epoch " + std::to_string(st.epoch - 1));
    }
  }
  st.finished = true;
  return Status::Ok();
}

}  // namespace nnet

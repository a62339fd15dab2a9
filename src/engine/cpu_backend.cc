// The CPU backend: the step, the evaluation and the health tally over the host Network's own
// parameter buffer. Dense nets take the fused AVX-512 step where the build has the kernels
// (network.cc's sgd_step); a whole gradient, when one is needed (--record-gradients,
// --grad-chunk), comes from forward + backward and is applied by apply_update.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <thread>

#include "cpu.h"
#include "engine/backend.h"
#include "nnet/pyrandom.h"
#include "nn/workspace.h"
#include "nn/ordered_sum.h"

namespace nnet::engine {

namespace {

// Images are stored one per row (n, pixels) row-major, which is (pixels, n) column-major:
// image i is column i, so a range of images is a matrix view with no copy.
ConstMatrixMap images_view(const Dataset& d, size_t first, size_t count) {
  return ConstMatrixMap(d.image(first), d.pixels(), static_cast<Eigen::Index>(count));
}

// Evaluation works in fixed chunks, independent of the thread count, so sums are reproducible.
constexpr size_t kEvalChunk = 500;

// Samples per forward pass inside an evaluation chunk. A layer stack's workspace holds every
// layer's activations (the book's conv net: ~210 KB per sample, 100 MB for 500), so a chunk goes
// through in pieces whose workspace fits ~4 MiB; the pieces are fixed by the chunk, never by the
// thread count. Nets with kFusedFc numerics (--sizes nets) have always taken whole chunks, and
// keep doing so: Eigen's products round by shape.
int eval_batch(const Network& net, size_t chunk) {
  if (net.arch().numerics == Architecture::Numerics::kFusedFc) return static_cast<int>(chunk);
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
  // Where the step draws the whole mini-batch's dropout masks (the same draws on every process).
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

class CpuBackend final : public Backend {
 public:
  CpuBackend(Network& net, const Dataset& training, const TrainOptions& opts,
             const Collective& coll)
      : net_(net), training_(training), opts_(opts), coll_(coll) {
    const size_t n = training.size();
    const int L = net.layers();
    m_max_ = static_cast<int>(std::min<size_t>(opts.batch, std::max<size_t>(n, 1)));
    // Stacks carry their dropout in dropout layers; dense nets in opts.dropout.
    dropout_ = has_dropout(net.arch()) || (opts.dropout > 0 && L > 1);
    ws_ = make_workspace(net, m_max_);
    ws_.threads = opts.conv_threads;
    cols_.resize(m_max_);
    labels_.resize(m_max_);
    if (opts.record_gradients) {
      x_.resize(net.inputs(), m_max_);
      y_.resize(net.outputs(), m_max_);
      grad_.resize(net.params().size());
    }
    tally_.reset(net);
    if (opts.grad_chunk > 0) chunked_.emplace(net, opts.grad_chunk, m_max_, opts.conv_threads);
  }

  void set_params(const std::vector<float>& p) override {
    if (&p != &net_.params()) net_.params() = p;
  }
  void get_params(std::vector<float>* p) override {
    if (p != &net_.params()) *p = net_.params();
  }
  void set_velocity(const std::vector<float>& v) override { velocity_ = v; }
  void get_velocity(std::vector<float>* v) override { *v = velocity_; }

  void set_dropout_state(const std::vector<uint32_t>& state, int, size_t) override {
    drop_rng_.set_state(state);
  }
  std::vector<uint32_t> dropout_state() override { return drop_rng_.state(); }

  void set_order(const std::vector<uint32_t>& order) override { order_ = &order; }

  Status step(const StepArgs& s, bool* ok) override {
    const int m = s.m;
    // No gather: the kernels read each image where the dataset holds it.
    for (int j = 0; j < m; ++j) {
      const uint32_t idx = (*order_)[s.begin + j];
      cols_[j] = training_.image(idx);
      labels_[j] = training_.labels[idx];
    }
    draw_masks(m);
    float* velocity = s.rule.momentum > 0 ? velocity_.data() : nullptr;
    bool finite = true;
    if (chunked_) {
      NNET_RETURN_IF_ERROR(
          chunked_->compute(net_, cols_.data(), labels_.data(), m, dropout_, coll_, &finite));
      const float* g = chunked_->gradient();
      if (finite && opts_.record_gradients) add_grad_norms(g, m);
      if (finite) apply_update(net_, g, s.rule, velocity);
    } else if (!opts_.record_gradients) {
      // Forward, backward and update fused: the gradient never exists as a whole.
      finite = sgd_step(net_, cols_.data(), labels_.data(), m, ws_, s.rule, velocity, dropout_);
    } else {
      // The gradient is needed whole for its norms.
      for (int j = 0; j < m; ++j) {
        x_.col(j) = ConstVectorMap(cols_[j], training_.pixels());
        one_hot(y_, j, labels_[j]);
      }
      std::fill(grad_.begin(), grad_.end(), 0.0f);
      forward(net_, x_, m, ws_, dropout_);
      backward(net_, x_, y_, m, ws_, grad_.data(), dropout_);
      finite = ws_.delta.back().leftCols(m).allFinite();
      if (finite) {
        add_grad_norms(grad_.data(), m);
        apply_update(net_, grad_.data(), s.rule, velocity);
      }
    }
    if (finite && s.probe && !chunked_) tally(m);  // --grad-chunk: unwatched
    *ok = finite;
    return Status::Ok();
  }

  // The CPU step reports a non-finite output error at once.
  bool finished_cleanly(size_t*) override { return true; }

  void add_gradient_norms(std::vector<double>* bias, std::vector<double>* weight) override {
    const size_t L = bias->size();
    for (size_t k = 0; k < step_norms_.size(); k += 2 * L)
      for (size_t l = 0; l < L; ++l) {
        (*bias)[l] += step_norms_[k + l];
        (*weight)[l] += step_norms_[k + L + l];
      }
    step_norms_.clear();
  }

  void take_probe_tally(ProbeTally* t) override {
    *t = tally_;
    tally_.reset(net_);
  }

  Status evaluate(const Dataset& data, bool want_cost, double lambda, EvalResult* out) override {
    return cpu_evaluate(net_, data, want_cost, lambda, false, opts_.threads, coll_, out);
  }

  bool params_finite() override {
    return std::all_of(net_.params().begin(), net_.params().end(),
                       [](float v) { return std::isfinite(v); });
  }

 private:
  // Dropout masks for this mini-batch (the same draws on every process of a shared run): into the
  // chunked path's full-batch buffer, else into the step's workspace.
  void draw_masks(int m) {
    if (!dropout_) return;
    Workspace& mask_ws = chunked_ ? chunked_->masks() : ws_;
    fill_dropout_masks(net_, mask_ws, m, opts_.dropout, [&] { return drop_rng_.next_double53(); });
  }

  // Keeps one mini-batch's per-layer gradient norms (of the mean cost) for --record-gradients.
  void add_grad_norms(const float* g, int m) {
    const int L = net_.layers();
    for (int l = 0; l < L; ++l)
      step_norms_.push_back(ordered_norm(ConstVectorMap(g + net_.bias_offset(l), net_.rows(l))) / m);
    for (int l = 0; l < L; ++l)
      step_norms_.push_back(
          ordered_norm(ConstMatrixMap(g + net_.weight_offset(l), net_.rows(l), net_.cols(l))) / m);
  }

  // The probe's evidence of this batch, read from what the step left in the workspace.
  void tally(int m) {
    const int L = net_.layers();
    std::vector<const float*> out(L), delta(L);
    for (int l = 0; l < L; ++l) {
      const int i = net_.stack_layer(l);
      out[l] = ws_.a[i].data();  // a conv layer's activations before any pooling
      delta[l] = ws_.delta[i].data();
    }
    tally_batch(net_, ws_.a.back().data(), out, delta, labels_.data(), m, &tally_);
  }

  Network& net_;
  const Dataset& training_;
  const TrainOptions opts_;
  const Collective coll_;
  int m_max_ = 1;
  bool dropout_ = false;
  const std::vector<uint32_t>* order_ = nullptr;
  Workspace ws_;
  std::vector<const float*> cols_;  // (batch) the mini-batch's images, in place
  std::vector<uint8_t> labels_;     // (batch)
  // Only with record_gradients, which needs the whole gradient:
  Eigen::MatrixXf x_, y_;    // (pixels, batch), (outputs, batch)
  std::vector<float> grad_;  // params layout
  std::vector<float> velocity_;
  std::vector<double> step_norms_;  // per step: |dC/db|/m of each layer, then |dC/dW|/m
  ProbeTally tally_;
  Mt19937 drop_rng_;
  std::optional<ChunkedGradient> chunked_;
};

}  // namespace

Status cpu_evaluate(const Network& net, const Dataset& data, bool want_cost, double lambda,
                    bool want_predictions, int threads, const Collective& coll, EvalResult* out) {
  *out = EvalResult();
  out->total = static_cast<long>(data.size());
  if (data.empty()) return Status::Ok();
  const size_t chunks = (data.size() + kEvalChunk - 1) / kEvalChunk;
  std::vector<ChunkResult> results(chunks);
  if (want_predictions) out->predictions.assign(data.size(), 0);
  std::vector<uint8_t>* preds = want_predictions ? &out->predictions : nullptr;
  if (!coll.active()) {
    evaluate_range(net, data, want_cost, Range{0, chunks}, threads, &results, preds);
    for (const ChunkResult& r : results) {
      out->correct += r.correct;
      out->cost += r.cost;
    }
  } else {
    // Each process evaluates its share; the per-chunk results are gathered and summed in chunk
    // order, so every process gets exactly what one process gets.
    const Range mine = share(chunks, coll.rank, coll.size);
    evaluate_range(net, data, want_cost, mine, threads, &results, preds);
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
  }
  if (want_cost) {
    const double n = static_cast<double>(data.size());
    out->cost = out->cost / n + 0.5 * (lambda / n) * squared_weight_norm(net);
  }
  return Status::Ok();
}

void cpu_predict(const Network& net, const float* images, size_t n, Eigen::MatrixXf* out) {
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

std::unique_ptr<Backend> make_cpu_backend(Network& net, const Dataset& training,
                                          const TrainOptions& opts, const Collective& collective) {
  return std::make_unique<CpuBackend>(net, training, opts, collective);
}

}  // namespace nnet::engine

// The CUDA backend: the training loop's steps as CUDA graph replays on a DeviceNet, with the
// host folding what the device recorded (gradient norms, the probe's evidence, per-sample scores)
// in the CPU's order. Data goes up once; per epoch only the shuffled order and the rule do.
#include <algorithm>
#include <cmath>

#include "device_net.h"
#include "engine/backend.h"

namespace nnet::engine {

namespace {

class CudaBackend final : public Backend {
 public:
  CudaBackend(const Network& net, const Dataset& training, const TrainOptions& opts,
              std::unique_ptr<cuda::DeviceNet<float>> dn)
      : net_(net),
        training_(training),
        opts_(opts),
        dn_(std::move(dn)),
        batches_((training.size() + opts.batch - 1) / opts.batch) {
    if (opts.watch_health) dn_->reset_probe(static_cast<int>(batches_), opts.batch);
  }

  void set_params(const std::vector<float>& p) override { dn_->set_params(p.data()); }
  void get_params(std::vector<float>* p) override {
    p->resize(dn_->param_count());
    dn_->get_params(p->data());
  }
  void set_velocity(const std::vector<float>& v) override { dn_->set_velocity(v.data()); }
  void get_velocity(std::vector<float>* v) override {
    v->resize(dn_->param_count());
    dn_->get_velocity(v->data());
  }

  // The device's masks are keyed by the global step alone: (epoch, batch) is the whole state, and
  // the CPU's MT19937 words pass through untouched (a checkpoint keeps its format).
  void set_dropout_state(const std::vector<uint32_t>& state, int epoch, size_t batch) override {
    state_ = state;
    global_ = static_cast<long long>(epoch) * static_cast<long long>(batches_) +
              static_cast<long long>(batch);
    positioned_ = false;
  }
  std::vector<uint32_t> dropout_state() override { return state_; }

  void set_order(const std::vector<uint32_t>& order) override {
    dn_->set_order(order);
    order_ = &order;
    positioned_ = false;
  }

  Status step(const StepArgs& s, bool* finite) override {
    if (!positioned_ || static_cast<long long>(s.batch) != next_batch_) {
      dn_->set_position(global_, static_cast<long long>(s.batch));
      epoch_first_ = global_ - static_cast<long long>(s.batch);
      norms_taken_ = static_cast<long long>(s.batch);
      positioned_ = true;
    }
    const cuda::RuleValues r{s.eta, s.rule.decay, s.rule.l1, s.rule.momentum};
    if (!rule_set_ || r.eta != rule_.eta || r.decay != rule_.decay || r.l1 != rule_.l1 ||
        r.mu != rule_.mu) {
      dn_->set_rule(r);
      rule_ = r;
      rule_set_ = true;
    }
    dn_->step_graph(s.m, opts_.batch, s.probe ? 0 : -1, opts_.record_gradients);
    if (s.probe) probed_.push_back({s.batch, s.m});
    ++global_;
    next_batch_ = static_cast<long long>(s.batch) + 1;
    *finite = true;  // known at finished_cleanly()
    return Status::Ok();
  }

  bool finished_cleanly(size_t* bad_batch) override {
    const long long bad = dn_->sync_bad_step();
    if (bad < 0) return true;
    *bad_batch = static_cast<size_t>(bad - epoch_first_);
    return false;
  }

  void add_gradient_norms(std::vector<double>* bias, std::vector<double>* weight) override {
    if (!opts_.record_gradients || next_batch_ <= norms_taken_) return;
    std::vector<double> v;
    dn_->get_norms(norms_taken_, next_batch_, &v);
    const size_t L = bias->size();
    for (size_t k = 0; k < v.size(); k += 2 * L)
      for (size_t l = 0; l < L; ++l) {
        (*bias)[l] += v[k + l];
        (*weight)[l] += v[k + L + l];
      }
    norms_taken_ = next_batch_;
  }

  // engine/tally.h's tally_batch, folded from what the probe kernels recorded, batch by batch.
  void take_probe_tally(ProbeTally* t) override {
    t->reset(net_);
    if (probed_.empty()) return;
    std::vector<uint8_t> argmax;
    std::vector<double> cost, bias_norms;
    std::vector<int> pinned;
    dn_->get_probe(static_cast<int>(probed_.size()), opts_.batch, &argmax, &cost, &pinned,
                   &t->active, &t->sat_count, &bias_norms);
    const int L = net_.layers(), outs = net_.outputs();
    const Activation out_act = net_.arch().activations[L - 1];
    for (size_t k = 0; k < probed_.size(); ++k) {
      const auto [batch, m] = probed_[k];
      for (int j = 0; j < m; ++j) {
        const size_t at = k * opts_.batch + j;
        const int label = training_.labels[(*order_)[batch * opts_.batch + j]];
        ++t->predicted[argmax[at]];
        t->correct += argmax[at] == label;
        t->cost_sum += cost[at];
        t->cost_sq_sum += cost[at] * cost[at];
        if (out_act == Activation::kSigmoid) {
          t->pinned += pinned[at];
          t->outputs_seen += outs;
        }
      }
      t->seen += m;
      for (int l = 0; l < L; ++l) t->bias_norm_sum[l] += bias_norms[k * L + l];
      ++t->batches;
    }
    probed_.clear();
    dn_->reset_probe(static_cast<int>(batches_), opts_.batch);
  }

  Status evaluate(const Dataset& data, bool want_cost, double lambda, EvalResult* out) override {
    std::vector<uint8_t> argmax;
    std::vector<double> cost;
    dn_->evaluate(data, &argmax, &cost);
    fold_scores(net_, data, argmax, cost, want_cost, lambda, false, out);
    return Status::Ok();
  }

  bool params_finite() override { return dn_->params_finite(); }

 private:
  const Network& net_;
  const Dataset& training_;
  const TrainOptions opts_;
  std::unique_ptr<cuda::DeviceNet<float>> dn_;
  const size_t batches_;
  const std::vector<uint32_t>* order_ = nullptr;
  std::vector<uint32_t> state_;
  long long global_ = 0, epoch_first_ = 0, next_batch_ = -1, norms_taken_ = 0;
  bool positioned_ = false, rule_set_ = false;
  cuda::RuleValues rule_;
  std::vector<std::pair<size_t, int>> probed_;  // (batch, m) of each probed step since the tally
};

}  // namespace

Status cuda_status() { return cuda::device_status(); }

Status make_cuda_backend(const Network& net, const Dataset& training, const TrainOptions& opts,
                         std::unique_ptr<Backend>* out) {
  if (opts.grad_chunk > 0)
    return UsageError("grad_chunk: runs on the CPU only (nnet-mpi); drop it, or run on the CPU");
  const int m_max = static_cast<int>(std::min<size_t>(opts.batch, std::max<size_t>(training.size(), 1)));
  std::unique_ptr<cuda::DeviceNet<float>> dn;
  NNET_RETURN_IF_ERROR(cuda::DeviceNet<float>::create(net, m_max, opts.dropout, opts.seed, &dn));
  dn->set_training(training);
  *out = std::make_unique<CudaBackend>(net, training, opts, std::move(dn));
  return Status::Ok();
}

Status cuda_evaluate(const Network& net, const Dataset& data, bool want_cost, double lambda,
                     bool want_predictions, EvalResult* out) {
  std::unique_ptr<cuda::DeviceNet<float>> dn;
  NNET_RETURN_IF_ERROR(cuda::DeviceNet<float>::create(net, 1, 0.0, 0, &dn));
  std::vector<uint8_t> argmax;
  std::vector<double> cost;
  dn->evaluate(data, &argmax, &cost);
  fold_scores(net, data, argmax, cost, want_cost, lambda, want_predictions, out);
  return Status::Ok();
}

}  // namespace nnet::engine

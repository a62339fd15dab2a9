#include "nnet/health.h"

#include "train/probe.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "nnet/train.h"

namespace nnet {

namespace {

std::string pct(double share) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * share);
  return buf;
}

std::string num(double v, const char* fmt = "%.3g") {
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string epoch_prefix(int epoch) { return "epoch " + std::to_string(epoch) + ": "; }

// The last `k` entries of v all satisfy `pred` (and there are at least k).
template <class Pred>
bool last_k(const std::vector<EpochHealth>& v, int k, Pred pred) {
  if (k < 1 || v.size() < static_cast<size_t>(k)) return false;
  for (size_t i = v.size() - k; i < v.size(); ++i)
    if (!pred(v[i])) return false;
  return true;
}


}  // namespace


const char* name(HintKind k) {
  switch (k) {
    case HintKind::kSaturatedOutputs:
      return "saturated-outputs";
    case HintKind::kDeadUnits:
      return "dead-units";
    case HintKind::kSaturatedUnits:
      return "saturated-units";
    case HintKind::kVanishingGradient:
      return "vanishing-gradient";
    case HintKind::kExplodingGradient:
      return "exploding-gradient";
    case HintKind::kOverfitting:
      return "overfitting";
    case HintKind::kLearningRate:
      return "learning-rate";
    case HintKind::kDataRange:
      return "data-range";
    case HintKind::kDataMissingClass:
      return "data-missing-class";
    case HintKind::kDataTooSmall:
      return "data-too-small";
  }
  return "?";
}

std::vector<Hint> check_data(const Network& net, const Dataset& training, const Dataset* evaluation,
                             const HealthThresholds& t) {
  std::vector<Hint> out;
  auto add = [&](HintKind k, std::string msg) { out.push_back({k, -1, std::move(msg)}); };
  const Dataset* splits[] = {&training, evaluation};
  const char* split_names[] = {"training", "evaluation"};
  bool range_reported = false;
  for (int s = 0; s < 2; ++s) {
    const Dataset* d = splits[s];
    if (!d || d->empty()) continue;
    if (!range_reported) {
      const float* p = d->image(0);
      const size_t count = d->size() * static_cast<size_t>(d->pixels());
      float lo = p[0], hi = p[0];
      for (size_t i = 0; i < count; ++i) {
        lo = std::min(lo, p[i]);
        hi = std::max(hi, p[i]);
      }
      if (lo < 0.0f || hi > 1.0f) {
        range_reported = true;
        add(HintKind::kDataRange,
            std::string("hint: data: ") + split_names[s] + " pixels span [" + num(lo, "%g") + ", " +
                num(hi, "%g") +
                "], not [0, 1]: the book's nets expect intensities scaled to [0, 1] (divide "
                "bytes by 255), else sigmoids saturate from the first step");
      }
    }
    std::vector<long> count(10, 0);
    for (uint8_t l : d->labels)
      if (l < 10) ++count[l];
    std::string missing;
    for (int c = 0; c < 10; ++c)
      if (count[c] == 0) missing += (missing.empty() ? "" : ",") + std::to_string(c);
    if (!missing.empty())
      add(HintKind::kDataMissingClass,
          std::string("hint: data: the ") + split_names[s] + " split (" +
              std::to_string(d->size()) + " images) has no image of class " + missing +
              (s == 0 ? ": the net can never learn it; use more (or shuffled) training data"
                      : ": its accuracy says nothing about that class; evaluate on more data"));
  }
  const double params = static_cast<double>(net.params().size());
  if (!training.empty() && params > t.data_ratio * static_cast<double>(training.size()))
    add(HintKind::kDataTooSmall,
        "hint: data: " + std::to_string(training.size()) + " training images for " +
            std::to_string(net.params().size()) + " parameters (" +
            num(params / static_cast<double>(training.size()), "%.0f") +
            " per image): expect overfitting (chapter 3); use more training data (--expand), "
            "--lambda, or a smaller net");
  return out;
}

HealthProbe::HealthProbe(const Network& net, size_t training_size, const Dataset* evaluation,
                         const TrainOptions& opts, HealthThresholds t, int per_epoch)
    : t_(t), lambda_(opts.lambda) {
  const size_t batch = static_cast<size_t>(std::max(opts.batch, 1));
  const size_t batches = (training_size + batch - 1) / batch;
  const size_t want = (static_cast<size_t>(std::max(per_epoch, 1)) + batch - 1) / batch;
  stride_ = std::max<size_t>(1, batches / std::max<size_t>(want, 1));
  eval_class_count_.assign(10, 0);
  if (evaluation)
    for (uint8_t l : evaluation->labels)
      if (l < 10) ++eval_class_count_[l];
  // N(0, 1) weights (--init large) leave the first layer with a mean square near 1.
  if (net.layers() > 0) {
    const auto w = net.weight(0);
    large_init_ = w.cast<double>().squaredNorm() / static_cast<double>(w.size()) > 0.5;
  }
}

bool HealthProbe::fire(HintKind k, int epoch, std::string message, std::vector<Hint>* out) {
  if (!fired_.insert(k).second) return false;
  out->push_back({k, epoch, std::move(message)});
  return true;
}

namespace {

// The epoch's evidence from its tally (t.seen > 0).
EpochHealth evidence(const Network& net, const ProbeTally& t) {
  EpochHealth h;
  const int L = net.layers();
  h.sample = static_cast<int>(t.seen);
  h.sample_cost = t.cost_sum / static_cast<double>(t.seen);
  // Each epoch samples other images, so its mean cost moves by this much without any trend.
  const double cost_var =
      std::max(0.0, t.cost_sq_sum / static_cast<double>(t.seen) - h.sample_cost * h.sample_cost);
  h.sample_cost_se = std::sqrt(cost_var / static_cast<double>(t.seen));
  h.sample_accuracy = static_cast<double>(t.correct) / static_cast<double>(t.seen);
  h.top_class =
      static_cast<int>(std::max_element(t.predicted.begin(), t.predicted.end()) - t.predicted.begin());
  h.top_class_share = static_cast<double>(t.predicted[h.top_class]) / static_cast<double>(t.seen);
  if (t.outputs_seen > 0)
    h.output_saturation = static_cast<double>(t.pinned) / static_cast<double>(t.outputs_seen);
  for (int l = 0; l + 1 < L; ++l) {
    const Activation act = layer_activation(net, l);
    double dead = EpochHealth::kNone, sat = EpochHealth::kNone;
    if (act == Activation::kRelu && !t.active[l].empty()) {
      long n = 0;
      for (uint8_t on : t.active[l]) n += !on;
      dead = static_cast<double>(n) / static_cast<double>(t.active[l].size());
    } else if ((act == Activation::kSigmoid || act == Activation::kTanh) &&
               !t.sat_count[l].empty()) {
      const long need = static_cast<long>(std::ceil(0.95 * static_cast<double>(t.seen)));
      long n = 0;
      for (int c : t.sat_count[l]) n += c >= need;
      sat = static_cast<double>(n) / static_cast<double>(t.sat_count[l].size());
    }
    h.dead_share.push_back(dead);
    h.saturated_share.push_back(sat);
  }
  for (int l = 0; l < L; ++l) h.bias_grad_norm.push_back(t.bias_norm_sum[l] / t.batches);
  return h;
}

}  // namespace

void HealthProbe::saturated_outputs(const Seen& s, std::vector<Hint>* out) {
  const EpochHealth& h = s.h;
  const EpochReport* rep = s.rep;
  const int epoch = s.epoch;
  const double eval_acc = s.eval_acc;
  const bool quadratic = s.quadratic;
  const std::string &at = s.at, &setup = s.setup, &cure = s.cure;
  // Saturated outputs: stuck on one class, or (quadratic) outputs pinned on the wrong side.
  if (last_k(past_, t_.one_class_epochs, [&](const EpochHealth& e) {
        return e.top_class == h.top_class && e.top_class_share >= t_.one_class;
      })) {
    std::string evidence;
    const long cls = eval_class_count_[std::min(h.top_class, 9)];
    long total = 0;
    for (long c : eval_class_count_) total += c;
    if (rep->evaluation_correct >= 0 && total > 0 && rep->evaluation_correct == cls)
      evidence = "every evaluation image is classified as " + std::to_string(h.top_class) + " (" +
                 pct(eval_acc) + " = that class's share)";
    else
      evidence = pct(h.top_class_share) + " of sampled training images are classified as " +
                 std::to_string(h.top_class) + " for " + std::to_string(t_.one_class_epochs) +
                 " epochs";
    fire(HintKind::kSaturatedOutputs, epoch,
         at + evidence + " " + setup +
             (quadratic ? ": the learning slowdown of chapter 3 (saturated outputs)"
                        : ": saturated outputs (chapter 3)") +
             cure,
         out);
  }
  if (quadratic && last_k(past_, t_.output_epochs, [&](const EpochHealth& e) {
        return e.output_saturation >= t_.output_saturation;
      }))
    fire(HintKind::kSaturatedOutputs, epoch,
         at + pct(h.output_saturation) + " of output activations pinned near 0/1 on the wrong " +
             "side of their target for " + std::to_string(t_.output_epochs) + " epochs " + setup +
             ": the learning slowdown of chapter 3 (sigma'(z) ~ 0)" + cure,
         out);
}

void HealthProbe::hidden_units(const Seen& s, std::vector<Hint>* out) {
  const Network& net = s.net;
  const EpochHealth& h = s.h;
  const int L = net.layers(), S = h.sample;
  const int epoch = s.epoch;
  const std::string& at = s.at;
  // Hidden units.
  for (int l = 0; l + 1 < L; ++l) {
    auto layer_share = [&](const EpochHealth& e, bool dead) {
      const std::vector<double>& v = dead ? e.dead_share : e.saturated_share;
      return static_cast<size_t>(l) < v.size() ? v[l] : EpochHealth::kNone;
    };
    if (last_k(past_, t_.unit_epochs,
               [&](const EpochHealth& e) { return layer_share(e, true) >= t_.dead_units; }))
      fire(HintKind::kDeadUnits, epoch,
           at + "hidden layer " + std::to_string(l + 1) + ": " + pct(h.dead_share[l]) +
               " of ReLU units never activate on " + std::to_string(S) +
               " sampled training images (dead units get no gradient); try a smaller --eta, --init "
               "he",
           out);
    if (last_k(past_, t_.unit_epochs,
               [&](const EpochHealth& e) { return layer_share(e, false) >= t_.saturated_units; }))
      fire(HintKind::kSaturatedUnits, epoch,
           at + "hidden layer " + std::to_string(l + 1) + ": " + pct(h.saturated_share[l]) +
               " of " + name(layer_activation(net, l)) +
               " units saturated on >= 95% of sampled images (sigma'(z) ~ 0, they barely "
               "learn)" +
               (large_init_ ? " with N(0,1) weights; try --init default (chapter 3)"
                            : "; try a smaller --eta or --init default (chapter 3)"),
           out);
  }
}

void HealthProbe::gradients(const Seen& s, std::vector<Hint>* out) {
  const Network& net = s.net;
  const EpochHealth& h = s.h;
  const int L = net.layers();
  const int epoch = s.epoch;
  const std::string& at = s.at;
  // Gradients: first layer against the last (chapter 5).
  if (L >= 2) {
    auto ratio = [&](const EpochHealth& e) {
      const double last = e.bias_grad_norm.back();
      return last > 0 ? e.bias_grad_norm.front() / last : EpochHealth::kNone;
    };
    const double r = ratio(h);
    const std::string norms = "|dC/db| " + num(h.bias_grad_norm.front()) + " in layer 1 vs " +
                              num(h.bias_grad_norm.back()) + " in layer " + std::to_string(L);
    // Dead units explain a zero gradient better than depth does: that is the dead-units hint.
    bool dead = false;
    for (double d : h.dead_share) dead |= d >= t_.dead_units;
    const Activation first_act = layer_activation(net, 0);
    const bool squashing = first_act == Activation::kSigmoid || first_act == Activation::kTanh;
    if (!dead && h.bias_grad_norm.front() > 0 &&
        last_k(past_, t_.gradient_epochs,
               [&](const EpochHealth& e) { return ratio(e) <= 1.0 / t_.gradient_ratio; }))
      fire(HintKind::kVanishingGradient, epoch,
           at + norms + ": the first layer learns " + num(1.0 / r, "%.0f") +
               "x slower, the vanishing gradient of chapter 5; try fewer layers" +
               (squashing ? ", --activation relu" : "") + (large_init_ ? ", --init default" : ""),
           out);
    if (last_k(past_, t_.gradient_epochs,
               [&](const EpochHealth& e) { return ratio(e) >= t_.gradient_ratio; }))
      fire(HintKind::kExplodingGradient, epoch,
           at + norms + ": the first layer's gradient is " + num(r, "%.0f") +
               "x the last's, the exploding gradient of chapter 5; try a smaller --eta or "
               "--init default",
           out);
  }
}

void HealthProbe::learning_rate(const Seen& s, std::vector<Hint>* out) {
  const int epoch = s.epoch;
  const EpochReport* rep = s.rep;
  const std::string& at = s.at;
  // Learning rate: within the last 5 epochs, bad_epochs epochs whose evaluation accuracy fell by
  // accuracy_drop or more, or whose training cost rose by cost_rise or more (rising or
  // oscillating). A sampled cost must also rise by more than its noise (cost_rise_z standard
  // errors of the difference): the book's healthy runs see 10-30% rises from one 1,000-image
  // sample to the next.
  if (past_.size() >= 2) {
    const size_t first = past_.size() > 5 ? past_.size() - 5 : 1;
    int bad = 0;
    std::string evidence;
    for (size_t i = first; i < past_.size(); ++i) {
      const double drop = eval_acc_[i - 1] - eval_acc_[i];  // NaN without evaluation
      const double rise = cost_[i] / cost_[i - 1] - 1.0;
      const double noise = std::hypot(cost_se_[i], cost_se_[i - 1]);
      const bool fell = drop >= t_.accuracy_drop,
                 rose = rise >= t_.cost_rise && cost_[i] - cost_[i - 1] >= t_.cost_rise_z * noise;
      if (!fell && !rose) continue;
      ++bad;
      const int e = epoch - static_cast<int>(past_.size() - 1 - i);
      evidence +=
          (evidence.empty() ? "" : ", ") + std::string("epoch ") + std::to_string(e) +
          (fell ? " evaluation accuracy " + pct(eval_acc_[i - 1]) + " -> " + pct(eval_acc_[i])
                : (cost_se_[i] > 0 ? " sampled training cost " : " training cost ") +
                      num(cost_[i - 1]) + " -> " + num(cost_[i]));
    }
    if (bad >= t_.bad_epochs)
      fire(HintKind::kLearningRate, epoch,
           at + "training went backwards in " + std::to_string(bad) + " of the last " +
               std::to_string(past_.size() - first) + " epochs (" + evidence + ") at eta " +
               num(rep->eta, "%g") + ": the learning rate is too high (chapter 3); try --eta " +
               num(rep->eta / 4, "%g") + " or --schedule plateau",
           out);
  }
}

void HealthProbe::overfitting(const Seen& s, std::vector<Hint>* out) {
  const EpochHealth& h = s.h;
  const EpochReport* rep = s.rep;
  const double eval_acc = s.eval_acc;
  const int epoch = s.epoch;
  const std::string& at = s.at;
  // Overfitting: training accuracy (the report's, else the sample's) far above evaluation
  // accuracy, with no better evaluation accuracy for overfit_stall epochs or a quarter of the run,
  // whichever is longer: learning slows as it goes, and a long run that still creeps up (the book's
  // ch3-regularized, 400 epochs) stalls for 10-50 epochs at a time by chance.
  if (!std::isnan(eval_acc)) {
    const double train_acc =
        rep->training_correct >= 0 && rep->training_total > 0
            ? static_cast<double>(rep->training_correct) / static_cast<double>(rep->training_total)
            : h.sample_accuracy;
    size_t best = 0;
    for (size_t i = 0; i < eval_acc_.size(); ++i)
      if (eval_acc_[i] > eval_acc_[best]) best = i;
    const size_t since = eval_acc_.size() - 1 - best;
    const double stall =
        std::max<double>(t_.overfit_stall,
                         std::ceil(t_.overfit_stall_share * static_cast<double>(eval_acc_.size())));
    // An unstable run (the learning-rate hint) opens gaps of its own: that hint explains them.
    if (train_acc - eval_acc >= t_.overfit_gap && static_cast<double>(since) >= stall &&
        !fired_.count(HintKind::kLearningRate))
      fire(HintKind::kOverfitting, epoch,
           at + "training accuracy " + pct(train_acc) + " vs evaluation " + pct(eval_acc) +
               ", no better evaluation accuracy for " + std::to_string(since) + " epochs (best " +
               pct(eval_acc_[best]) + "): overfitting (chapter 3); try " +
               (lambda_ > 0 ? "a larger --lambda" : "--lambda 0.1") +
               ", --early-stop 10, or more training data (--expand)",
           out);
  }
}

std::vector<Hint> HealthProbe::observe(const Network& net, const ProbeTally& t,
                                       EpochReport* rep) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Hint> hints;
  if (t.seen == 0) return hints;
  EpochHealth h = evidence(net, t);
  const Cost cost = net.arch().cost;
  const double watched = t.seconds;
  const int epoch = rep->epoch;
  const double eval_acc = rep->evaluation_correct >= 0 && rep->evaluation_total > 0
                              ? static_cast<double>(rep->evaluation_correct) /
                                    static_cast<double>(rep->evaluation_total)
                              : EpochHealth::kNone;
  past_.push_back(h);
  const bool full_cost = rep->training_cost >= 0;  // monitored: exact, on all training images
  cost_.push_back(full_cost ? rep->training_cost : h.sample_cost);
  cost_se_.push_back(full_cost ? 0.0 : h.sample_cost_se);
  eval_acc_.push_back(eval_acc);
  const std::string at0 = "hint: " + epoch_prefix(epoch);
  const bool quadratic = cost == Cost::kQuadratic;
  const std::string setup0 =
      std::string("with ") + name(cost) + " cost" + (large_init_ ? " and N(0,1) weights" : "");
  const std::string cure0 = quadratic || large_init_
                               ? std::string("; try") + (quadratic ? " --cost cross-entropy" : "") +
                                     (large_init_ ? " --init default" : "")
                               : std::string("; try a smaller --eta or --init default");

  const Seen seen{net, h, rep, epoch, eval_acc, quadratic, at0, setup0, cure0};
  saturated_outputs(seen, &hints);
  hidden_units(seen, &hints);
  gradients(seen, &hints);
  learning_rate(seen, &hints);
  overfitting(seen, &hints);
  h.seconds =
      watched + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rep->health = std::move(h);
  return hints;
}

}  // namespace nnet

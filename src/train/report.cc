#include "nnet/report.h"

#include "nnet/pyrandom.h"

namespace nnet {

bool network2_style(const TrainOptions& o) {
  return o.monitor_training_cost || o.monitor_training_accuracy || o.monitor_evaluation_cost;
}

std::string format_epoch(const EpochReport& r, const TrainOptions& o, bool has_evaluation) {
  const std::string j = std::to_string(r.epoch);
  if (!network2_style(o)) {
    // network.py: print "Epoch {0}: {1} / {2}" or "Epoch {0} complete".
    if (has_evaluation && o.monitor_evaluation_accuracy)
      return "Epoch " + j + ": " + std::to_string(r.evaluation_correct) + " / " +
             std::to_string(r.evaluation_total) + "\n";
    return "Epoch " + j + " complete\n";
  }
  // network2.py's SGD: one block per epoch followed by an empty line.
  std::string s = "Epoch " + j + " training complete\n";
  if (o.monitor_training_cost) s += "Cost on training data: " + py_repr(r.training_cost) + "\n";
  if (o.monitor_training_accuracy)
    s += "Accuracy on training data: " + std::to_string(r.training_correct) + " / " +
         std::to_string(r.training_total) + "\n";
  if (has_evaluation && o.monitor_evaluation_cost)
    s += "Cost on evaluation data: " + py_repr(r.evaluation_cost) + "\n";
  if (has_evaluation && o.monitor_evaluation_accuracy)
    s += "Accuracy on evaluation data: " + std::to_string(r.evaluation_correct) + " / " +
         std::to_string(r.evaluation_total) + "\n";
  return s + "\n";
}

}  // namespace nnet

#include "nnet/metrics.h"

#include <algorithm>
#include <cstdio>

namespace nnet {

long Confusion::correct() const {
  long s = 0;
  for (int k = 0; k < classes; ++k) s += at(k, k);
  return s;
}

long Confusion::total() const {
  long s = 0;
  for (long v : counts) s += v;
  return s;
}

long Confusion::row_total(int truth) const {
  long s = 0;
  for (int p = 0; p < columns; ++p) s += at(truth, p);
  return s;
}

Confusion confusion(const Dataset& data, const std::vector<uint8_t>& predictions) {
  Confusion c;
  bool other = false;
  for (size_t i = 0; i < data.size() && i < predictions.size(); ++i)
    other |= predictions[i] >= c.classes;
  c.columns = c.classes + (other ? 1 : 0);
  c.counts.assign(static_cast<size_t>(c.classes) * c.columns, 0);  // (classes, columns)
  for (size_t i = 0; i < data.size() && i < predictions.size(); ++i) {
    const int t = data.labels[i];
    const int p = std::min<int>(predictions[i], c.classes);
    ++c.counts[static_cast<size_t>(t) * c.columns + p];
  }
  return c;
}

std::string format_per_class(const Confusion& c) {
  std::string s = "class  correct  total  accuracy\n";
  char line[96];
  for (int k = 0; k < c.classes; ++k) {
    const long n = c.row_total(k), ok = c.at(k, k);
    if (n > 0)
      std::snprintf(line, sizeof(line), "%5d  %7ld  %5ld  %7.2f%%\n", k, ok, n, 100.0 * ok / n);
    else
      std::snprintf(line, sizeof(line), "%5d  %7ld  %5ld  %8s\n", k, ok, n, "-");
    s += line;
  }
  return s;
}

std::string format_confusion(const Confusion& c) {
  // Column width fits the largest count (at least 4 characters).
  long mx = 0;
  for (long v : c.counts) mx = std::max(mx, v);
  const int w = std::max(4, static_cast<int>(std::to_string(mx).size()) + 1);
  std::string s = "confusion matrix (rows: true label, columns: predicted)\n";
  char cell[32];
  s += "true\\pred";
  for (int p = 0; p < c.columns; ++p) {
    if (p < c.classes)
      std::snprintf(cell, sizeof(cell), "%*d", w + 1, p);
    else
      std::snprintf(cell, sizeof(cell), "%*s", w + 1, "other");
    s += cell;
  }
  s += "\n";
  for (int t = 0; t < c.classes; ++t) {
    std::snprintf(cell, sizeof(cell), "%9d", t);
    s += cell;
    for (int p = 0; p < c.columns; ++p) {
      std::snprintf(cell, sizeof(cell), "%*ld", w + 1, c.at(t, p));
      s += cell;
    }
    s += "\n";
  }
  return s;
}

}  // namespace nnet

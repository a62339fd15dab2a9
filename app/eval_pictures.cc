#include "eval_pictures.h"

#include <cstdio>
#include <filesystem>

#include "common.h"
#include "nnet/fileio.h"
#include "nnet/image.h"
#include "nnet/render.h"
#include "nnet/train.h"

namespace nnet::app {

namespace {

constexpr size_t kMaxGallery = 200;  // a readable page of mistakes

}  // namespace

int check_eval_picture_paths(const std::string& mistakes, const std::string& confusion,
                             const std::vector<std::string>& inputs) {
  if (!mistakes.empty())
    if (Status s = check_output_path("--mistakes", mistakes, inputs); !s.ok()) return fail(s);
  if (!confusion.empty())
    if (Status s = check_output_path("--confusion", confusion, inputs); !s.ok()) return fail(s);
  return 0;
}

int write_eval_pictures(const Network& net, const Dataset& data,
                        const std::vector<uint8_t>& predictions, const std::string& model_name,
                        const std::string& mistakes, const std::string& confusion) {
  const std::string name = std::filesystem::path(model_name).filename().string();
  const bool softmax = net.arch().activations.back() == Activation::kSoftmax;
  if (!mistakes.empty()) {
    std::vector<size_t> wrong;
    for (size_t i = 0; i < data.size(); ++i)
      if (predictions[i] != data.labels[i]) wrong.push_back(i);
    const size_t shown = std::min(wrong.size(), kMaxGallery);
    std::vector<float> images(shown * static_cast<size_t>(data.pixels()));  // (shown, pixels)
    for (size_t k = 0; k < shown; ++k)
      std::copy_n(data.image(wrong[k]), data.pixels(), images.begin() + k * data.pixels());
    Eigen::MatrixXf out;  // (outputs, shown)
    if (shown) predict(net, images.data(), shown, &out);
    std::vector<DigitTile> tiles;
    char buf[64];
    for (size_t k = 0; k < shown; ++k) {
      const auto col = out.col(static_cast<Eigen::Index>(k));
      const int p = predictions[wrong[k]];
      // Confidence: the softmax probability, or the predicted neuron's share of the activations.
      const double conf = softmax ? col(p) : col(p) / std::max(col.sum(), 1e-12f);
      std::snprintf(buf, sizeof buf, "%d→%d %.0f%%", data.labels[wrong[k]], p, 100 * conf);
      tiles.push_back({images.data() + k * data.pixels(), buf, true});
    }
    GridStyle style;
    style.rows = data.rows, style.cols = data.cols, style.scale = 2, style.columns = 20;
    std::snprintf(buf, sizeof buf, "%zu mistakes", wrong.size());
    style.title = std::string(buf) + " of " + std::to_string(data.size()) + " (" + name +
                  (shown < wrong.size() ? "; first " + std::to_string(shown) + " shown" : "") +
                  "): true→predicted, confidence";
    Image img;
    Status s = render_digit_grid(tiles, style, &img);
    if (s.ok()) s = write_png(mistakes, img);
    if (!s.ok()) return fail(s);
    std::fprintf(stderr, "nnet: wrote %s (%zu of %zu mistakes)\n", mistakes.c_str(), shown,
                 wrong.size());
  }
  if (!confusion.empty()) {
    const int n = 10;
    std::vector<long> counts(n * n, 0);  // (true, predicted)
    for (size_t i = 0; i < data.size(); ++i)
      if (predictions[i] < n && data.labels[i] < n) ++counts[data.labels[i] * n + predictions[i]];
    Image img;
    Status s = render_confusion(counts, n, name, &img);
    if (s.ok()) s = write_png(confusion, img);
    if (!s.ok()) return fail(s);
    std::fprintf(stderr, "nnet: wrote %s\n", confusion.c_str());
  }
  return 0;
}

}  // namespace nnet::app

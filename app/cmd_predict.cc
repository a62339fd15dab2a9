// `nnet predict`: classify your own pictures of digits. Each file is framed the way MNIST was
// made (see preprocess_digit) and fed to the model; prints the digit and the output layer.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "nnet/fileio.h"
#include "nnet/image.h"
#include "nnet/model_io.h"
#include "nnet/render.h"
#include "nnet/train.h"

namespace nnet::app {

namespace {

struct PredictFlags {
  std::string model;
  std::vector<std::string> images;
  std::string show_input;
  bool json = false;
  double threshold = 0.25;
};

std::string bar(double v) {
  const int n = static_cast<int>(std::lround(std::clamp(v, 0.0, 1.0) * 30));
  std::string s;
  for (int i = 0; i < n; ++i) s += "█";
  return s;
}

int run_predict(const PredictFlags& f) {
  if (!f.show_input.empty()) {
    std::vector<std::string> inputs = f.images;
    inputs.push_back(f.model);
    if (Status s = check_output_path("--show-input", f.show_input, inputs); !s.ok()) return fail(s);
  }
  Model m;
  if (Status s = load_model(f.model, &m); !s.ok()) return fail(s);
  DigitFraming framing;
  framing.threshold = f.threshold;
  if (m.net.inputs() != framing.size * framing.size)
    return fail(DataError(f.model + ": expected a model with 784 (28x28) inputs, found " +
                          std::to_string(m.net.inputs())));
  const bool softmax = m.net.arch().activations.back() == Activation::kSoftmax;
  int first_error = 0;
  nlohmann::json results = nlohmann::json::array();
  std::vector<std::vector<float>> seen;
  std::vector<std::string> captions;
  for (const std::string& path : f.images) {
    Image img;
    std::vector<float> x;  // (784) what the network sees
    DigitFramingInfo info;
    Status s = read_image(path, ImageLimits{}, &img);
    if (s.ok()) s = preprocess_digit(img, framing, &x, &info);
    if (!s.ok()) {
      // Messages from preprocess_digit do not name the file; read_image's do.
      Status named =
          s.message().rfind(path, 0) == 0 ? s : Status::Error(s.code(), path + ": " + s.message());
      fail(named);
      if (!first_error) first_error = named.exit_code();
      if (f.json)
        results.push_back(
            {{"file", path}, {"error", named.message()}, {"exit_code", named.exit_code()}});
      continue;
    }
    Eigen::MatrixXf out;  // (outputs, 1)
    predict(m.net, x.data(), 1, &out);
    Eigen::Index k;
    out.col(0).maxCoeff(&k);
    if (f.json) {
      std::vector<double> v(out.data(), out.data() + out.size());
      results.push_back({{"file", path},
                         {"digit", static_cast<int>(k)},
                         {softmax ? "probabilities" : "activations", v},
                         {"inverted", info.inverted},
                         {"crop", {info.crop_x, info.crop_y, info.crop_w, info.crop_h}}});
    } else {
      std::printf("%s: %d  (%s %.3f; %dx%d image, %s background, digit at %d,%d size %dx%d)\n",
                  path.c_str(), static_cast<int>(k), softmax ? "probability" : "activation",
                  out(k, 0), img.width, img.height, info.inverted ? "light" : "dark", info.crop_x,
                  info.crop_y, info.crop_w, info.crop_h);
      for (Eigen::Index j = 0; j < out.rows(); ++j)
        std::printf("  %ld %6.3f %s\n", static_cast<long>(j), out(j, 0), bar(out(j, 0)).c_str());
    }
    seen.push_back(std::move(x));
    captions.push_back(std::filesystem::path(path).filename().string() + ": " + std::to_string(k));
  }
  if (f.json) std::printf("%s\n", results.dump(1).c_str());
  if (!f.show_input.empty() && !seen.empty()) {
    std::vector<DigitTile> tiles;
    for (size_t i = 0; i < seen.size(); ++i) tiles.push_back({seen[i].data(), captions[i], false});
    GridStyle style;
    style.scale = 6;
    style.columns = 5;
    Image grid;
    Status s = render_digit_grid(tiles, style, &grid);
    if (s.ok()) s = write_png(f.show_input, grid);
    if (!s.ok()) return fail(s);
    std::fprintf(stderr, "nnet: wrote %s (the 28x28 input%s the network saw)\n",
                 f.show_input.c_str(), seen.size() == 1 ? "" : "s");
  }
  return first_error;
}

}  // namespace

void add_predict_command(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<PredictFlags>();
  CLI::App* cmd = app.add_subcommand(
      "predict", "classify pictures of digits (PNG, JPEG, ...; any size, colour, background)");
  cmd->add_option("--model", f->model, "model file (nnet train --save)")->required();
  cmd->add_option("images", f->images, "image files")->required();
  cmd->add_option("--show-input", f->show_input, "write the 28x28 inputs the network saw (PNG)");
  cmd->add_flag("--json", f->json, "print a JSON array (file, digit, outputs) instead");
  cmd->add_option("--threshold", f->threshold, "ink level 0..1 that bounds the digit's box")
      ->capture_default_str();
  cmd->callback([f, exit_code] { *exit_code = run_predict(*f); });
}

}  // namespace nnet::app

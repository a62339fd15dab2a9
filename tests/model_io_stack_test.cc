// Model files for layer stacks (--layers): bit-exact JSON and HDF5 round trips over every layer
// kind, the documented layout (conv W[f][c][ky][kx] as cross-correlation), and one-line errors
// naming the entry for files whose contents disagree with their layer spec. Runtime: < 1 s
// (+ ~1 s with h5py).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>

#include "io/model_io_internal.h"
#include "nnet/layers.h"
#include "nnet/model_io.h"
#include "nn/workspace.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace nnet {
namespace {

using nlohmann::json;
using testing::make_temp_dir;
using testing::write_file;

// Every layer kind, a strided/padded conv, both dropout styles, per-layer activations.
Architecture every_kind(Cost cost) {
  Architecture a;
  a.input = Shape{2, 8, 8};
  a.cost = cost;
  const std::string last = cost == Cost::kLogLikelihood ? "softmax:3" : "fc:3";
  std::vector<Activation> acts = {Activation::kRelu, Activation::kTanh, Activation::kLinear};
  if (cost != Cost::kLogLikelihood) acts.push_back(Activation::kSigmoid);  // the fc:3 output
  Status s = parse_layers(
      "conv:3:3,maxpool:2,conv:4:3:1:1,avgpool:3,dropout:0.25,fc:5,dropout:0.5:inverted," + last,
      acts, &a.layers);
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(validate(a, a.input.size(), 3).ok()) << validate(a, a.input.size(), 3).message();
  return a;
}

// Random parameters with the awkward floats (denormals, -0.0, the extremes) in front.
Model awkward_stack(Cost cost) {
  Model m{Network(every_kind(cost)), "network3",
          testing::json_value(R"({"layers": "...", "eta": 0.03})")};
  init_params(m.net, Init::kXavier, 5);
  auto& p = m.net.params();
  const float specials[] = {0.1f,
                            -0.0f,
                            std::numeric_limits<float>::denorm_min(),
                            std::numeric_limits<float>::max(),
                            std::numeric_limits<float>::lowest(),
                            std::numeric_limits<float>::min(),
                            1e-30f,
                            16777217.0f};
  for (size_t i = 0; i < std::size(specials); ++i) p[i] = specials[i];
  return m;
}

void expect_identical(const Model& a, const Model& b) {
  const Architecture &x = a.net.arch(), &y = b.net.arch();
  ASSERT_FALSE(b.net.dense());
  EXPECT_EQ(layers_to_string(x.layers), layers_to_string(y.layers));
  EXPECT_EQ(x.input, y.input);
  EXPECT_EQ(x.sizes, y.sizes);
  EXPECT_EQ(x.activations, y.activations);
  EXPECT_EQ(x.cost, y.cost);
  ASSERT_EQ(x.layers.size(), y.layers.size());
  for (size_t i = 0; i < x.layers.size(); ++i) {
    EXPECT_EQ(x.layers[i].activation, y.layers[i].activation) << i;
    EXPECT_EQ(x.layers[i].drop, y.layers[i].drop) << i;
    EXPECT_EQ(x.layers[i].inverted, y.layers[i].inverted) << i;
  }
  EXPECT_EQ(a.init, b.init);
  EXPECT_EQ(a.training, b.training);
  ASSERT_EQ(a.net.params().size(), b.net.params().size());
  EXPECT_EQ(0, std::memcmp(a.net.params().data(), b.net.params().data(),
                           a.net.params().size() * sizeof(float)));
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class StackModelIo : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = make_temp_dir("nnet-stack-io"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string dir_;
};

TEST_F(StackModelIo, RoundTripsEveryLayerKindBitExactly) {
  for (Cost cost : {Cost::kLogLikelihood, Cost::kCrossEntropy})
    for (const char* file : {"m.json", "m.h5"}) {
      SCOPED_TRACE(std::string(file) + " " + name(cost));
      const Model m = awkward_stack(cost);
      Status s = save_model(path(file), m);
      ASSERT_TRUE(s.ok()) << s.message();
      Model back;
      s = load_model(path(file), &back);
      ASSERT_TRUE(s.ok()) << s.message();
      expect_identical(m, back);
      // And what the loaded model writes is the same file (JSON) / the same model (HDF5).
      if (!is_hdf5_path(file)) EXPECT_EQ(model_to_json(back), slurp(path(file)));
    }
  // The in-memory HDF5 reader and the reader child's frame carry stacks too.
  const Model m = awkward_stack(Cost::kLogLikelihood);
  ASSERT_TRUE(save_model(path("m.h5"), m).ok());
  Model back;
  Status s = model_from_hdf5(slurp(path("m.h5")), "mem.h5", &back);
  ASSERT_TRUE(s.ok()) << s.message();
  expect_identical(m, back);
  s = internal::decode_model(internal::encode_model(m), "frame", &back);
  ASSERT_TRUE(s.ok()) << s.message();
  expect_identical(m, back);
}

// The layout docs/models.md promises, checked by computing the first conv layer's
// pre-activations from the JSON lists alone and comparing with nnet's forward pass.
TEST_F(StackModelIo, JsonLayoutIsCrossCorrelationOverFCKK) {
  const Model m = awkward_stack(Cost::kLogLikelihood);
  Model r{Network(m.net.arch()), "", Value()};
  init_params(r.net, Init::kDefault, 3);  // ordinary numbers: sums stay finite
  const json j = json::parse(model_to_json(r));
  EXPECT_EQ(j["layers"], layers_to_string(m.net.arch().layers));
  EXPECT_EQ(j["input"], json({2, 8, 8}));
  EXPECT_EQ(j["sizes"], json(r.net.arch().sizes));
  EXPECT_EQ(j["nnet"]["format_version"], 2);
  EXPECT_EQ(j["nnet"]["activations"], json({"relu", "tanh", "linear", "softmax"}));
  ASSERT_EQ(j["weights"].size(), 4u);
  // conv:3:3 on 2x8x8: (F, C, K, K) = (3, 2, 3, 3); conv:4:3:1:1 on 3x3x3: (4, 3, 3, 3).
  EXPECT_EQ(j["weights"][0].size(), 3u);
  EXPECT_EQ(j["weights"][0][0].size(), 2u);
  EXPECT_EQ(j["weights"][0][0][0].size(), 3u);
  EXPECT_EQ(j["weights"][0][0][0][0].size(), 3u);
  EXPECT_EQ(j["weights"][1][3].size(), 3u);
  // fc:5 on 4x1x1: (5, 4); softmax:3 on 5: (3, 5); biases flat.
  EXPECT_EQ(j["weights"][2].size(), 5u);
  EXPECT_EQ(j["weights"][2][0].size(), 4u);
  EXPECT_EQ(j["biases"][0].size(), 3u);
  EXPECT_EQ(j["biases"][3].size(), 3u);
  EXPECT_TRUE(j["biases"][3][0].is_number());

  Eigen::MatrixXf x(2 * 8 * 8, 1);
  for (int i = 0; i < x.rows(); ++i) x(i, 0) = static_cast<float>((i * 37) % 11) / 11.0f;
  Workspace ws = make_workspace(r.net, 1);
  forward(r.net, x, 1, ws);
  // out(f, y, xx) = b[f] + sum_c,ky,kx W[f][c][ky][kx] * in(c, y + ky, xx + kx)
  const json& W = j["weights"][0];
  for (int f = 0; f < 3; ++f)
    for (int y = 0; y < 6; ++y)
      for (int xx = 0; xx < 6; ++xx) {
        double z = j["biases"][0][f].get<double>();
        for (int c = 0; c < 2; ++c)
          for (int ky = 0; ky < 3; ++ky)
            for (int kx = 0; kx < 3; ++kx)
              z += W[f][c][ky][kx].get<double>() * x((c * 8 + y + ky) * 8 + xx + kx, 0);
        EXPECT_NEAR(ws.z[0]((f * 6 + y) * 6 + xx, 0), z, 1e-5) << f << " " << y << " " << xx;
      }
}

// A stack's file whose contents disagree with its layer spec: one line, kDataError, the entry.
TEST_F(StackModelIo, MismatchedJsonIsRefusedNamingTheEntry) {
  Model m{Network(every_kind(Cost::kLogLikelihood)), "network3", Value()};
  init_params(m.net, Init::kDefault, 3);
  const json good = json::parse(model_to_json(m));
  struct Case {
    std::function<void(json&)> edit;
    std::string message;
  };
  const Case cases[] = {
      {[](json& j) { j["layers"] = "conv:3:3,maxpool:4,fc:5,softmax:3"; },
       "layers: layer 2 \"maxpool:4\" on input 3x6x6: pool size 4 must divide the input's height "
       "6 and width 6"},
      {[](json& j) { j["layers"] = "conv:3:9,softmax:3"; },
       "layers: layer 1 \"conv:3:9\" on input 2x8x8: kernel 9 is larger than its padded input "
       "8x8"},
      {[](json& j) { j["layers"] = "conv:3:3,softmax:3,fc:4"; },
       "layers: layer 2 \"softmax:3\" on input 3x6x6: softmax must be the last layer"},
      {[](json& j) { j["layers"] = "conv:x:3,softmax:3"; }, "layers: item 1 \"conv:x:3\""},
      {[](json& j) { j["layers"] = 7; }, "layers: expected a layer list like"},
      {[](json& j) { j["layers"] = "fc:500000,fc:134,fc:500000,fc:134,fc:500000,softmax:10"; },
       "layers: the network would have more than 268435456 parameters (cap)"},
      {[](json& j) { j.erase("input"); }, "input: missing"},
      {[](json& j) {
         j["input"] = {2, 8};
       },
       "input: expected [channels, height, width], found"},
      {[](json& j) {
         j["input"] = {2, 0, 8};
       },
       "input[1]: expected 1..1000000, found 0"},
      {[](json& j) {
         j["sizes"] = {128, 108, 36, 5, 4};
       },
       "sizes: expected [128,108,36,5,3] (what layers and input give), found [128,108,36,5,4]"},
      {[](json& j) { j["weights"][0].erase(0); },
       "weights[0]: expected 3 filters (conv:3:3), found 2"},
      {[](json& j) { j["weights"][1][2].push_back(j["weights"][1][2][0]); },
       "weights[1][2]: expected 3 input channels, found 4"},
      {[](json& j) { j["weights"][0][1][1].erase(1); },
       "weights[0][1][1]: expected 3 kernel rows, found 2"},
      {[](json& j) {
         j["weights"][0][1][1][2] = {1.0, 2.0};
       },
       "weights[0][1][1][2]: expected 3 kernel columns, found 2"},
      {[](json& j) { j["weights"][0][2][1][0][1] = "abc"; },
       "weights[0][2][1][0][1]: expected a finite number, found \"abc\""},
      {[](json& j) { j["weights"][3][1].erase(0); },
       "weights[3][1]: expected 5 numbers (inputs), found 4"},
      {[](json& j) { j["weights"].erase(3); },
       "weights: expected 4 layers (conv/fc/softmax), found 3"},
      {[](json& j) { j["biases"][2].erase(0); }, "biases[2]: expected 5 numbers (fc:5), found 4"},
      {[](json& j) { j["biases"][1][3] = 1e39; },
       "biases[1][3]: expected a finite number within float32 range"},
      {[](json& j) { j["nnet"]["activations"][3] = "relu"; },
       "nnet.activations[3]: expected softmax for layer softmax:3, found relu"},
      {[](json& j) { j["nnet"]["activations"][1] = "softmax"; },
       "nnet.activations[1]: expected sigmoid, tanh, relu or linear for layer conv:4:3:1:1, found "
       "softmax"},
      {[](json& j) { j["nnet"]["activations"].erase(0); },
       "nnet.activations: expected 4 names (one per layer), found 3"},
      {[](json& j) { j["nnet"]["cost"] = "cross-entropy"; },
       "inconsistent architecture: log-likelihood goes with a softmax output layer"},
  };
  for (const Case& c : cases) {
    json j = good;
    c.edit(j);
    ASSERT_TRUE(write_file(path("bad.json"), j.dump()));
    Model back;
    Status s = load_model(path("bad.json"), &back);
    EXPECT_EQ(s.code(), Code::kDataError) << c.message;
    EXPECT_EQ(s.message().rfind(path("bad.json") + ": " + c.message, 0), 0u)
        << c.message << "\n  gave: " << s.message();
    EXPECT_EQ(s.message().find('\n'), std::string::npos);
  }
}

// The same checks through HDF5 files edited with h5py (skipped without python3-h5py).
TEST_F(StackModelIo, MismatchedHdf5IsRefusedNamingTheEntry) {
  const std::string py = testing::debian_python();
  if (py.empty() || testing::run_command(py + " -c 'import h5py'").exit_code != 0)
    GTEST_SKIP() << "/usr/bin/python3 with h5py not found: HDF5 edit cases skipped";
  Model m{Network(every_kind(Cost::kLogLikelihood)), "network3", Value()};
  init_params(m.net, Init::kDefault, 3);
  ASSERT_TRUE(save_model(path("good.h5"), m).ok());
  // Each case: a Python statement run on the open file `f`.
  const std::pair<std::string, std::string> cases[] = {
      {"f.attrs['layers'] = 'conv:3:3,maxpool:4,fc:5,softmax:3'",
       "/ attribute layers: layer 2 \"maxpool:4\" on input 3x6x6: pool size 4 must divide"},
      {"f.attrs['input'] = np.array([2, 8], dtype='int32')",
       "/ attribute input: expected a list of 3 integers, found 2 values"},
      {"del f.attrs['input']", "/ attribute input: missing"},
      {"f.attrs['sizes'] = np.array([128, 108, 36, 5, 4], dtype='int32')",
       "/ attribute sizes: expected [128,108,36,5,3] (what layers and input give), found "
       "[128,108,36,5,4]"},
      {"w = f['layers/0/weight'][()]; del f['layers/0/weight']; "
       "f['layers/0/weight'] = w.reshape(3, 2, 9)",
       "/layers/0/weight: expected shape (3, 2, 3, 3), found rank 3"},
      {"w = f['layers/1/weight'][()]; del f['layers/1/weight']; "
       "f['layers/1/weight'] = np.zeros((4, 2, 3, 3), dtype='float32')",
       "/layers/1/weight: expected shape (4, 3, 3, 3), found (4, 2, 3, 3)"},
      {"f['layers/0/weight'][2, 1, 0, 1] = np.nan",
       "/layers/0/weight[2, 1, 0, 1]: expected a finite number, found nan"},
      {"f['layers/3'].attrs['activation'] = 'relu'",
       "/layers/3 attribute activation: expected softmax for layer softmax:3, found relu"},
  };
  // One Python run makes every bad file: bad<i>.h5 is good.h5 with edit i applied.
  std::string script = "import h5py, shutil, numpy as np\n";
  for (size_t i = 0; i < std::size(cases); ++i)
    script += "shutil.copy('" + path("good.h5") + "', '" + path("bad" + std::to_string(i) + ".h5") +
              "')\nwith h5py.File('" + path("bad" + std::to_string(i) + ".h5") +
              "', 'r+') as f:\n    " + cases[i].first + "\n";
  ASSERT_TRUE(write_file(path("edit.py"), script));
  auto r = testing::run_command(py + " '" + path("edit.py") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (size_t i = 0; i < std::size(cases); ++i) {
    const auto& [edit, message] = cases[i];
    const std::string bad = path("bad" + std::to_string(i) + ".h5");
    Model back;
    Status s = load_model(bad, &back);
    EXPECT_EQ(s.code(), Code::kDataError) << edit;
    EXPECT_EQ(s.message().rfind(bad + ": " + message, 0), 0u)
        << edit << "\n  gave: " << s.message();
    EXPECT_EQ(s.message().find('\n'), std::string::npos);
  }
  // What h5py reads is the documented layout: conv W as (F, C, K, K) equal to the JSON lists.
  ASSERT_TRUE(save_model(path("m.json"), m).ok());
  r = testing::run_command(
      py + " -c \"import h5py, json, numpy as np\n" + "j = json.load(open('" + path("m.json") +
      "'))\nwith h5py.File('" + path("good.h5") + "') as f:\n" +
      "    assert f.attrs['layers'] == j['layers'], f.attrs['layers']\n" +
      "    assert list(f.attrs['input']) == j['input']\n" +
      "    for l in range(len(j['weights'])):\n" +
      "        w = f['layers/%d/weight' % l][()]; b = f['layers/%d/bias' % l][()]\n" +
      "        assert w.dtype == np.float32 and w.shape == np.array(j['weights'][l]).shape\n" +
      "        assert (w == np.array(j['weights'][l], dtype=np.float32)).all(), l\n" +
      "        assert (b == np.array(j['biases'][l], dtype=np.float32)).all(), l\n" +
      "    print(f['layers/0/weight'].shape, f['layers/0'].attrs['kind'])\"");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "(3, 2, 3, 3) conv\n");
}

// Dense models keep format_version 1 and no stack keys (network2.load reads them as before).
TEST_F(StackModelIo, DenseFilesKeepTheirFormat) {
  Model m{Network(sigmoid_architecture({4, 3, 2})), "default", Value()};
  init_params(m.net, Init::kDefault, 1);
  const json j = json::parse(model_to_json(m));
  EXPECT_EQ(j["nnet"]["format_version"], 1);
  EXPECT_FALSE(j.contains("layers"));
  EXPECT_FALSE(j.contains("input"));
}

}  // namespace
}  // namespace nnet

// nnet's layer stack against tests/oracle/network3_oracle.py, a float64 numpy transcription of
// network3.py's ConvPoolLayer / FullyConnectedLayer / SoftmaxLayer: the same weights (kernels
// flipped for the oracle, which convolves like theano) and inputs must give the same test-time
// outputs, training-time outputs (same dropout masks) and gradients, to 1e-9 relative.
// Runtime: ~1 s (mostly Python starting and the oracle's own central-difference self-check).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "nnet/layers.h"
#include "nnet/network.h"
#include "nn/workspace.h"
#include "test_util.h"

namespace nnet {
namespace {

using Eigen::MatrixXd;
using json = nlohmann::json;

// |a - b| <= 1e-9 (|b| + 1e-6): relative, with a floor for entries that cancel to ~0.
void expect_close(double a, double b, const std::string& what) {
  EXPECT_LE(std::abs(a - b), 1e-9 * (std::abs(b) + 1e-6))
      << what << ": nnet " << a << " oracle " << b;
}

TEST(Network3Oracle, ForwardAndGradientsAgree) {
  const std::string py = testing::debian_python();
  if (py.empty()) GTEST_SKIP() << "/usr/bin/python3 with numpy not found: network3 oracle skipped";
  // network3: ConvPoolLayer((4,1,12,12) image, 3 filters 3x3, pool 2, tanh),
  // ConvPoolLayer(3x5x5, 4 filters 2x2, pool 2, sigmoid), FullyConnectedLayer(16, 6, ReLU,
  // p_dropout 0.3), SoftmaxLayer(6, 4, p_dropout 0.5).
  Architecture arch;
  arch.input = Shape{1, 12, 12};
  ASSERT_TRUE(parse_layers("conv:3:3,maxpool:2,conv:4:2,maxpool:2,dropout:0.3,fc:6,dropout:0.5,"
                           "softmax:4",
                           {Activation::kTanh, Activation::kSigmoid, Activation::kRelu},
                           &arch.layers)
                  .ok());
  arch.cost = Cost::kLogLikelihood;
  ASSERT_TRUE(validate(arch, 144, 4).ok());
  NetworkD net(arch);
  init_params(net, Init::kDefault, 3);  // the softmax layer non-zero too, unlike network3's init
  const int m = 4;
  std::mt19937 rng(17);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  MatrixXd x = MatrixXd::NullaryExpr(144, m, [&] { return u(rng); });  // (144, m)
  const std::vector<int> labels = {0, 3, 1, 2};
  WorkspaceT<double> ws = make_workspace(net, m);
  for (int i : {4, 6})  // the dropout layers: binomial 0/1 masks, as network3's dropout_layer
    ws.mask[i] = MatrixXd::NullaryExpr(ws.mask[i].rows(), ws.mask[i].cols(),
                                       [&] { return u(rng) < arch.layers[i].drop ? 0.0 : 1.0; });

  // The oracle's input: network3's orientation.
  json in;
  in["x"] = json::array();
  for (int j = 0; j < m; ++j)
    in["x"].push_back(std::vector<double>(x.col(j).data(), x.col(j).data() + 144));
  in["labels"] = labels;
  json layers = json::array();
  for (int l = 0; l < net.layers(); ++l) {
    const int i = net.stack_layer(l);
    const LayerSpec& s = net.spec(i);
    json L;
    auto W = net.weight(l);
    if (s.kind == LayerKind::kConv) {
      const Shape is = net.input_shape(i);
      const int F = s.units, C = is.c, K = s.kernel;
      L["type"] = "convpool";
      L["image_shape"] = {is.c, is.h, is.w};
      L["pool"] = net.spec(i + 1).kernel;
      L["act"] = name(s.activation);
      // theano's conv2d flips the kernel: w3[f][c][ky][kx] = W(f, (c*K + K-1-ky)*K + K-1-kx).
      json w = json::array();
      for (int f = 0; f < F; ++f) {
        json wc = json::array();
        for (int c = 0; c < C; ++c) {
          json wy = json::array();
          for (int ky = 0; ky < K; ++ky) {
            json wx = json::array();
            for (int kx = 0; kx < K; ++kx)
              wx.push_back(W(f, (c * K + (K - 1 - ky)) * K + (K - 1 - kx)));
            wy.push_back(wx);
          }
          wc.push_back(wy);
        }
        w.push_back(wc);
      }
      L["w"] = w;
    } else {
      L["type"] = s.kind == LayerKind::kSoftmax ? "softmax" : "fc";
      L["act"] = name(s.activation);
      L["n_in"] = W.cols();
      const bool dropped = net.spec(i - 1).kind == LayerKind::kDropout;
      L["p_dropout"] = dropped ? net.spec(i - 1).drop : 0.0;
      json w = json::array();  // (n_in, n_out)
      for (Eigen::Index r = 0; r < W.cols(); ++r) {
        json row = json::array();
        for (Eigen::Index o = 0; o < W.rows(); ++o) row.push_back(W(o, r));
        w.push_back(row);
      }
      L["w"] = w;
      if (dropped) {
        json mask = json::array();  // (m, n_in)
        for (int j = 0; j < m; ++j) {
          const auto col = ws.mask[i - 1].col(j);
          mask.push_back(std::vector<double>(col.data(), col.data() + col.size()));
        }
        L["mask"] = mask;
      }
    }
    auto b = net.bias(l);
    L["b"] = std::vector<double>(b.data(), b.data() + b.size());
    layers.push_back(L);
  }
  in["layers"] = layers;
  const std::string dir = testing::make_temp_dir("nnet-network3-oracle");
  ASSERT_TRUE(testing::write_file(dir + "/in.json", in.dump()));
  const testing::CommandResult r =
      testing::run_command(py + " " + NNET_SOURCE_DIR "/tests/oracle/network3_oracle.py " + dir +
                           "/in.json " + dir + "/out.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream f(dir + "/out.json");
  const json out = json::parse(f);
  std::filesystem::remove_all(dir);
  // The oracle's hand-written backprop agrees with its own central differences.
  EXPECT_LT(out["selfcheck"].get<double>(), 1e-6);

  // Test time: network3's `output` (dropout layers scale by 1-p).
  forward(net, x, m, ws, false);
  for (int j = 0; j < m; ++j)
    for (int k = 0; k < 4; ++k)
      expect_close(ws.a.back()(k, j), out["output"][j][k].get<double>(), "output");
  // Training time: `output_dropout` with the same masks, then the gradient of the mean cost.
  forward(net, x, m, ws, true);
  double cost = 0;
  for (int j = 0; j < m; ++j) {
    for (int k = 0; k < 4; ++k)
      expect_close(ws.a.back()(k, j), out["output_dropout"][j][k].get<double>(), "output_dropout");
    cost += sample_cost(Cost::kLogLikelihood, ws.a.back().col(j).data(), 4, labels[j]) / m;
  }
  expect_close(cost, out["cost"].get<double>(), "cost");
  MatrixXd y = MatrixXd::Zero(4, m);
  for (int j = 0; j < m; ++j) y(labels[j], j) = 1;
  std::vector<double> grad(net.params().size(), 0.0);
  backward(net, x, y, m, ws, grad.data(), true);
  for (int l = 0; l < net.layers(); ++l) {
    const int i = net.stack_layer(l);
    const json& g = out["grads"][l];
    typename NetworkD::ConstMatrixMap gw(grad.data() + net.weight_offset(l), net.rows(l),
                                         net.cols(l));
    const std::string where = "layer " + std::to_string(l);
    for (int o = 0; o < net.rows(l); ++o)
      expect_close(grad[net.bias_offset(l) + o] / m, g["b"][o].get<double>(), where + " b");
    if (net.spec(i).kind == LayerKind::kConv) {
      const int C = net.input_shape(i).c, K = net.spec(i).kernel;
      for (int f = 0; f < net.rows(l); ++f)
        for (int c = 0; c < C; ++c)
          for (int ky = 0; ky < K; ++ky)
            for (int kx = 0; kx < K; ++kx)
              expect_close(gw(f, (c * K + (K - 1 - ky)) * K + (K - 1 - kx)) / m,
                           g["w"][f][c][ky][kx].get<double>(), where + " w");
    } else {
      for (int o = 0; o < net.rows(l); ++o)
        for (int k = 0; k < net.cols(l); ++k)
          expect_close(gw(o, k) / m, g["w"][k][o].get<double>(), where + " w");
    }
  }
}

}  // namespace
}  // namespace nnet

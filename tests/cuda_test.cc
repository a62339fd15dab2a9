// --device cuda: every layer kind on the GPU against the float64 CPU engine, gradient checks run
// on the device (in double), bit-for-bit determinism and resume, training curves beside the CPU's,
// and the one-line refusal where no GPU can be used. GPU tests skip, each with its message, when
// no device is present (every developer and CI machine); scripts/gpu-check.sh runs them on one.
// Real MNIST for the curve tests: $NNET_GPU_DATA (a folder of the four IDX files, as
// scripts/gpu-check.sh carries it), else ../shared/data/mnist-first10k.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#if NNET_HAS_CUDA
#include "cuda/device_net.h"
#include "cuda/host_exec.h"
#include "cuda_cases.h"
#endif
#include "nnet/checkpoint.h"
#include "nnet/data.h"
#include "nnet/network.h"
#include "nn/workspace.h"
#include "nnet/train.h"
#include "synthetic_data.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace nnet {
namespace {

using testing::make_temp_dir;
using testing::run_nnet;

#define NNET_REQUIRE_GPU()                                                      \
  do {                                                                          \
    const Status gpu_ = device_status(Device::kCuda);                           \
    if (!gpu_.ok()) GTEST_SKIP() << "no usable GPU: " << gpu_.message();        \
  } while (0)

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string gpu_data_dir() {
  if (const char* env = std::getenv("NNET_GPU_DATA"); env && *env && fs::exists(env)) return env;
  return testing::shared_mnist_dir();
}

#if NNET_HAS_CUDA
// ---- Layer kinds against float64 ----

using namespace cuda_cases;

// Runs one batch through the device net (T) and through the float64 CPU engine with the device's
// dropout masks; returns the worst relative error of any layer's activations and of any weight
// layer's gradient (W and b together).
template <class T>
void compare_with_float64(const NetCase& c, double* act_err, double* grad_err) {
  Network net(c.arch);
  init_params(net, Init::kDefault, 7);
  const int m = 5, in = net.inputs();
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> x(static_cast<size_t>(in) * m);
  for (double& v : x) v = u(rng);
  std::vector<uint8_t> labels(m);
  for (int j = 0; j < m; ++j) labels[j] = static_cast<uint8_t>(rng() % 10);

  NetworkT<T> netT = convert<T>(net);
  std::unique_ptr<cuda::DeviceNet<T>> dn;
  ASSERT_TRUE(cuda::DeviceNet<T>::create(netT, m, c.unit_dropout, 5, &dn).ok());
  std::vector<T> xT(x.begin(), x.end());
  const bool training = has_masks(net, c.unit_dropout);
  dn->forward_host(xT.data(), m, training, 42);
  dn->backward_host(labels.data(), m);

  NetworkD ref = convert<double>(net);
  WorkspaceT<double> ws = make_workspace(ref, m);
  const int S = layer_count(net);
  for (int i = 0; i < S; ++i) {
    const bool dropout_layer =
        net.spec(i).kind == LayerKind::kDropout || (c.unit_dropout > 0 && drops_in_place(net, i));
    if (!training || !dropout_layer) continue;
    std::vector<T> mk(ws.mask[i].rows() * static_cast<size_t>(m));
    dn->get_mask(i, m, mk.data());
    for (size_t k = 0; k < mk.size(); ++k) ws.mask[i].data()[k] = mk[k];
  }
  Eigen::Map<const MatrixT<double>> X(x.data(), in, m);
  MatrixT<double> Y = MatrixT<double>::Zero(net.outputs(), m);
  for (int j = 0; j < m; ++j) Y(labels[j], j) = 1;
  forward(ref, X, m, ws, training);
  std::vector<double> grad(ref.params().size(), 0.0);
  backward(ref, X, Y, m, ws, grad.data(), training);

  *act_err = 0;
  for (int i = 0; i < S; ++i) {
    const size_t n = ws.a[i].rows() * static_cast<size_t>(m);
    std::vector<T> got(n);
    dn->get_activations(i, m, got.data());
    std::vector<double> g(got.begin(), got.end()), r(ws.a[i].data(), ws.a[i].data() + n);
    *act_err = std::max(*act_err, rel_error(g, r));
  }
  std::vector<T> gT(ref.params().size());
  dn->get_gradient(gT.data());
  *grad_err = 0;
  for (int l = 0; l < net.layers(); ++l) {
    const size_t b = net.weight_offset(l), e = net.bias_offset(l) + net.rows(l);
    std::vector<double> g(gT.begin() + b, gT.begin() + e), r(grad.begin() + b, grad.begin() + e);
    *grad_err = std::max(*grad_err, rel_error(g, r));
  }
}

TEST(CudaLayers, EveryLayerKindMatchesFloat64) {
  NNET_REQUIRE_GPU();
  for (const NetCase& c : net_cases()) {
    SCOPED_TRACE(c.name);
    double act = 0, grad = 0;
    ASSERT_NO_FATAL_FAILURE(compare_with_float64<float>(c, &act, &grad));
    std::printf("  float32 on the GPU vs float64: %-40s activations %.2e  gradients %.2e\n", c.name,
                act, grad);
    EXPECT_LE(act, 1e-5);
    EXPECT_LE(grad, 1e-5);
  }
}

// The same kernels in double: any indexing slip shows far above rounding.
TEST(CudaLayers, DoubleKernelsMatchTheCpuToRounding) {
  NNET_REQUIRE_GPU();
  for (const NetCase& c : net_cases()) {
    SCOPED_TRACE(c.name);
    double act = 0, grad = 0;
    ASSERT_NO_FATAL_FAILURE(compare_with_float64<double>(c, &act, &grad));
    std::printf("  float64 on the GPU vs float64: %-40s activations %.2e  gradients %.2e\n", c.name,
                act, grad);
    EXPECT_LE(act, 1e-12);
    EXPECT_LE(grad, 1e-12);
  }
}

// The device against the same kernels run on the host (cuda/host_exec.h, what cuda_host_test
// checks against the CPU engine in every build): the same dropout masks bit for bit (Philox on
// both sides), the same summation trees, so activations and gradients agree far below the CPU
// comparison's bounds (only the device's fused multiply-adds and libm differ); then three
// training steps with the probe and the gradient norms.
TEST(CudaLayers, DeviceMatchesTheHostExecutor) {
  NNET_REQUIRE_GPU();
  for (const NetCase& c : net_cases()) {
    SCOPED_TRACE(c.name);
    Network net(c.arch);
    init_params(net, Init::kDefault, 7);
    const int m = 6, in = net.inputs();
    std::mt19937 rng(13);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::vector<double> x(static_cast<size_t>(in) * m);
    for (double& v : x) v = u(rng);
    std::vector<uint8_t> labels(m);
    for (int j = 0; j < m; ++j) labels[j] = static_cast<uint8_t>(rng() % 10);
    const NetworkD d = convert<double>(net);
    std::unique_ptr<cuda::DeviceNet<double>> dn;
    std::unique_ptr<cuda::HostNet<double>> hn;
    ASSERT_TRUE(cuda::DeviceNet<double>::create(d, m, c.unit_dropout, 5, &dn).ok());
    ASSERT_TRUE(cuda::HostNet<double>::create(d, m, c.unit_dropout, 5, &hn).ok());
    auto& h = hn->net();
    const bool training = has_masks(net, c.unit_dropout);
    dn->forward_host(x.data(), m, training, 42);
    dn->backward_host(labels.data(), m);
    h.forward_host(x.data(), m, training, 42);
    h.backward_host(labels.data(), m);
    double act = 0;
    for (int i = 0; i < layer_count(net); ++i) {
      const size_t n = static_cast<size_t>(h.plan().layers[i].size) * m;
      std::vector<double> a(n), b(n);
      dn->get_activations(i, m, a.data());
      h.get_activations(i, m, b.data());
      act = std::max(act, rel_error(a, b));
      const bool masked =
          net.spec(i).kind == LayerKind::kDropout || (c.unit_dropout > 0 && drops_in_place(net, i));
      if (training && masked) {
        dn->get_mask(i, m, a.data());
        h.get_mask(i, m, b.data());
        EXPECT_TRUE(a == b) << "layer " << i << ": the device drew other masks than the host";
      }
    }
    std::vector<double> g(d.params().size()), hg(g.size());
    dn->get_gradient(g.data());
    h.get_gradient(hg.data());
    const double grad = rel_error(g, hg);
    std::printf(
        "  float64 on the GPU vs the host executor: %-36s activations %.2e  "
        "gradients %.2e\n",
        c.name, act, grad);
    EXPECT_LE(act, 1e-13);
    EXPECT_LE(grad, 1e-13);

    // Three float steps (the last partial) with the probe and the norms, from the same state.
    Dataset data;
    data.rows = 1;
    data.cols = in;
    for (int i = 0; i < 17 * in; ++i) data.images.push_back(static_cast<float>(u(rng)));
    for (int i = 0; i < 17; ++i) data.labels.push_back(static_cast<uint8_t>(rng() % 10));
    std::vector<uint32_t> order(17);
    for (uint32_t i = 0; i < 17; ++i) order[i] = (i * 7) % 17;
    std::unique_ptr<cuda::DeviceNet<float>> df;
    std::unique_ptr<cuda::HostNet<float>> hf;
    ASSERT_TRUE(cuda::DeviceNet<float>::create(net, 6, c.unit_dropout, 3, &df).ok());
    ASSERT_TRUE(cuda::HostNet<float>::create(net, 6, c.unit_dropout, 3, &hf).ok());
    auto& hs = hf->net();
    df->set_training(data);
    hs.set_training(data);
    df->set_order(order);
    hs.set_order(order);
    df->set_position(9, 0);
    hs.set_position(9, 0);
    df->set_rule({0.1, 0.999, 0.0001, 0.5});
    hs.set_rule(0.1, 0.999, 0.0001, 0.5);
    df->reset_probe(3, 6);
    hs.reset_probe(3, 6);
    for (int b = 0; b < 3; ++b) {
      const int mb = b < 2 ? 6 : 5;
      df->step_graph(mb, 6, 0, true);
      hs.step(mb, 6, true, true);
    }
    EXPECT_EQ(df->sync_bad_step(), -1);
    std::vector<float> p(df->param_count()), hp(p.size());
    df->get_params(p.data());
    hs.get_params(hp.data());
    EXPECT_LE(rel_error(std::vector<double>(p.begin(), p.end()),
                        std::vector<double>(hp.begin(), hp.end())),
              1e-5);
    std::vector<double> norms, hnorms;
    df->get_norms(0, 3, &norms);
    hs.get_norms(0, 3, &hnorms);
    EXPECT_LE(rel_error(norms, hnorms), 1e-5);
    std::vector<uint8_t> am, ham;
    std::vector<double> cost, hcost, bn, hbn;
    std::vector<int> pin, hpin;
    std::vector<std::vector<uint8_t>> act1, hact1;
    std::vector<std::vector<int>> sat, hsat;
    df->get_probe(3, 6, &am, &cost, &pin, &act1, &sat, &bn);
    hs.get_probe(3, 6, &ham, &hcost, &hpin, &hact1, &hsat, &hbn);
    cost.resize(17);  // the slots' unused tail holds whatever the memory held
    hcost.resize(17);
    EXPECT_LE(rel_error(cost, hcost), 1e-5);
    EXPECT_LE(rel_error(bn, hbn), 1e-5);
  }
}

// Central differences of the device's own cost against the device's backward pass, in double.
TEST(CudaLayers, GradientCheckOnTheDevice) {
  NNET_REQUIRE_GPU();
  for (const NetCase& c : net_cases()) {
    SCOPED_TRACE(c.name);
    Network net(c.arch);
    init_params(net, Init::kDefault, 3);
    NetworkD d = convert<double>(net);
    const int m = 4, in = net.inputs();
    std::mt19937 rng(5);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::vector<double> x(static_cast<size_t>(in) * m);
    for (double& v : x) v = u(rng);
    std::vector<uint8_t> labels(m);
    for (int j = 0; j < m; ++j) labels[j] = static_cast<uint8_t>(rng() % 10);
    std::unique_ptr<cuda::DeviceNet<double>> dn;
    ASSERT_TRUE(cuda::DeviceNet<double>::create(d, m, c.unit_dropout, 9, &dn).ok());
    const bool training = has_masks(net, c.unit_dropout);
    dn->forward_host(x.data(), m, training, 7);
    dn->backward_host(labels.data(), m);
    std::vector<double> g(d.params().size());
    dn->get_gradient(g.data());
    double worst = 0;
    std::vector<double> p = d.params();
    const double h = 1e-6;
    for (int l = 0; l < net.layers(); ++l) {
      const size_t b = net.weight_offset(l), e = net.bias_offset(l) + net.rows(l);
      for (int k = 0; k < 12; ++k) {
        const size_t i = b + rng() % (e - b);
        const double keep = p[i];
        p[i] = keep + h;
        dn->set_params(p.data());
        dn->forward_host(x.data(), m, training, 7);
        const double up = dn->cost_host(labels.data(), m);
        p[i] = keep - h;
        dn->set_params(p.data());
        dn->forward_host(x.data(), m, training, 7);
        const double down = dn->cost_host(labels.data(), m);
        p[i] = keep;
        const double numeric = (up - down) / (2 * h);
        const double err = std::abs(numeric - g[i]) / std::max(1e-6, std::abs(numeric) + std::abs(g[i]));
        worst = std::max(worst, err);
      }
    }
    std::printf("  gradient check on the GPU: %-40s worst relative error %.2e\n", c.name, worst);
    EXPECT_LE(worst, 1e-5);
  }
}

#endif  // NNET_HAS_CUDA

// ---- Training through the CLI and the library ----

class CudaTraining : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = make_temp_dir("nnet-cuda");
    fs::create_directories(tmp_ + "/data");
    ASSERT_TRUE(testing::write_synthetic_idx(tmp_ + "/data", 600, 200));
  }
  void TearDown() override { fs::remove_all(tmp_); }
  std::string tmp_;
};

// Without a GPU (every CI machine) --device cuda is refused in one line before any training.
TEST_F(CudaTraining, WithoutAGpuDeviceCudaIsOneLineAndExit69) {
  if (device_status(Device::kCuda).ok()) GTEST_SKIP() << "a GPU is present: nothing to refuse";
  for (const std::string& cmd :
       {"train --device cuda --epochs 1 --data " + tmp_ + "/data",
        "book ch6-conv1 --device cuda --epochs 1 --data " + tmp_ + "/data"}) {
    SCOPED_TRACE(cmd);
    const auto r = run_nnet(cmd);
    EXPECT_EQ(r.exit_code, 69) << r.err;
    EXPECT_EQ(r.out, "");
    // One line says why (`nnet book` first echoes the command it runs).
    const std::string last = r.err.substr(r.err.rfind('\n', r.err.size() - 2) + 1);
    EXPECT_EQ(last.rfind("nnet: --device cuda: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), cmd.rfind("book", 0) == 0 ? 2 : 1)
        << r.err;
  }
  const auto model = tmp_ + "/m.json";
  ASSERT_EQ(run_nnet("train -q --epochs 1 --data " + tmp_ + "/data --save " + model).exit_code, 0);
  const auto r = run_nnet("eval --device cuda --model " + model + " --data " + tmp_ + "/data");
  EXPECT_EQ(r.exit_code, 69) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  const auto bad = run_nnet("train --device tpu --epochs 1 --data " + tmp_ + "/data");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--device: expected cpu or cuda, found 'tpu'"), std::string::npos);
}

// The same seed gives the same bits, run after run, for dense nets and stacks with every option.
TEST_F(CudaTraining, SameSeedSameBits) {
  NNET_REQUIRE_GPU();
  const std::string runs[] = {
      "--sizes 784,30,10 --epochs 2 --eta 3.0",
      "--sizes 784,20,10 --activation relu --cost cross-entropy --dropout 0.2 --momentum 0.5 "
      "--lambda 1 --l1 0.01 --epochs 2 --eta 0.2 --record-gradients --monitor all",
      "--layers conv:4:5,maxpool:2,dropout:0.3,fc:20,softmax:10 --activation relu --eta 0.05 "
      "--epochs 2 --lambda 0.1 --l2-style network3 --schedule step --step-epochs 1",
  };
  for (const std::string& flags : runs) {
    SCOPED_TRACE(flags);
    std::string bytes[2], out[2];
    for (int k = 0; k < 2; ++k) {
      const std::string model = tmp_ + "/m" + std::to_string(k) + ".json";
      const auto r = run_nnet("train --device cuda -q --data " + tmp_ + "/data " + flags +
                              " --save " + model);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      bytes[k] = slurp(model);
      out[k] = r.out;
    }
    EXPECT_EQ(out[0], out[1]);
    EXPECT_TRUE(bytes[0] == bytes[1]) << "two runs saved different models";
  }
}

// A GPU run interrupted mid-epoch and resumed from its checkpoint ends with the uninterrupted
// run's bits: parameters, momentum, history, gradient norms and the probe's evidence.
TEST_F(CudaTraining, ResumeMidEpochIsBitExact) {
  NNET_REQUIRE_GPU();
  Dataset d;
  d.rows = d.cols = 8;
  std::mt19937 rng(3);
  for (int i = 0; i < 203; ++i) {
    for (int p = 0; p < 64; ++p) d.images.push_back(static_cast<float>(rng() % 1000) / 1000.0f);
    d.labels.push_back(static_cast<uint8_t>(rng() % 10));
  }
  for (const bool conv : {false, true}) {
    SCOPED_TRACE(conv ? "stack" : "dense");
    Architecture arch;
    if (conv) {
      arch.input = Shape{1, 8, 8};
      arch.cost = Cost::kLogLikelihood;
      ASSERT_TRUE(parse_layers("conv:3:3,maxpool:2,dropout:0.3,fc:12,softmax:10",
                               {Activation::kRelu, Activation::kSigmoid}, &arch.layers)
                      .ok());
    } else {
      arch = sigmoid_architecture({64, 16, 10}, Cost::kCrossEntropy);
    }
    TrainOptions o;
    o.device = Device::kCuda;
    o.epochs = 3;
    o.batch = 9;  // 23 mini-batches, the last one partial
    o.eta = 0.3;
    o.momentum = 0.5;
    o.dropout = conv ? 0.0 : 0.25;
    o.lambda = 0.2;
    o.record_gradients = true;
    o.watch_health = true;
    o.monitor_training_cost = o.monitor_evaluation_cost = true;
    Network a(arch);
    init_params(a, Init::kDefault, 4);
    Network b = a;
    TrainState sa = initial_state(a, d.size(), o);
    ASSERT_TRUE(train(a, d, &d, o, {}, &sa).ok());

    int polls = 0;
    std::string saved;
    TrainCallbacks cb;
    cb.should_stop = [&] { return ++polls == 30; };
    cb.on_checkpoint = [&](const TrainState& s) {
      Checkpoint c;
      c.options = c.data = Value::object();
      c.params = b.params();
      c.state = s;
      saved = serialize_checkpoint(c);
      return Status::Ok();
    };
    TrainState sb = initial_state(b, d.size(), o);
    ASSERT_EQ(train(b, d, &d, o, cb, &sb).code(), Code::kInterrupted);
    Checkpoint c;
    ASSERT_TRUE(parse_checkpoint(saved, "mem", &c).ok());
    EXPECT_EQ(c.state.epoch, 1);
    EXPECT_GT(c.state.batch_pos, 0u);
    Network r(arch);
    r.params() = c.params;
    TrainState sr = c.state;
    sr.stop_reason.clear();
    ASSERT_TRUE(train(r, d, &d, o, {}, &sr).ok());
    EXPECT_TRUE(r.params() == a.params());
    EXPECT_TRUE(sr.velocity == sa.velocity);
    ASSERT_EQ(sr.history.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(sr.history[i].training_cost, sa.history[i].training_cost) << i;
      EXPECT_EQ(sr.history[i].evaluation_correct, sa.history[i].evaluation_correct) << i;
      EXPECT_EQ(sr.history[i].weight_grad_norm, sa.history[i].weight_grad_norm) << i;
    }
  }
}

// Monitors, history, gradient norms and the probe run on the GPU and agree with the CPU's.
TEST_F(CudaTraining, MonitorsHistoryAndHintsAgreeWithTheCpu) {
  NNET_REQUIRE_GPU();
  const std::string flags = "--sizes 784,24,10 --epochs 3 --eta 1.0 --monitor all "
                            "--record-gradients --data " + tmp_ + "/data";
  nlohmann::json h[2];
  int k = 0;
  for (const char* device : {"cpu", "cuda"}) {
    const std::string hist = tmp_ + "/h-" + device + ".json";
    const auto r = run_nnet("train -q --device " + std::string(device) + " " + flags +
                            " --history " + hist);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    h[k++] = nlohmann::json::parse(slurp(hist));
  }
  ASSERT_EQ(h[0]["epochs"].size(), 3u);
  ASSERT_EQ(h[1]["epochs"].size(), 3u);
  // Float sums in another order drift apart over the steps; these bounds held with room to spare
  // on the H200 (the measured gaps are printed).
  auto near = [](const nlohmann::json& g, const nlohmann::json& c, double rel, const char* what) {
    const double gv = g.get<double>(), cv = c.get<double>();
    std::printf("  %s: cpu %.6g  gpu %.6g\n", what, cv, gv);
    EXPECT_NEAR(gv, cv, rel * std::abs(cv)) << what;
  };
  for (size_t e = 0; e < 3; ++e) {
    const auto &c = h[0]["epochs"][e], &g = h[1]["epochs"][e];
    SCOPED_TRACE(e);
    near(g["training_cost"], c["training_cost"], 0.02, "training cost");
    EXPECT_NEAR(g["evaluation_correct"].get<double>(), c["evaluation_correct"].get<double>(), 4);
    for (size_t l = 0; l < 2; ++l)
      near(g["weight_grad_norm"][l], c["weight_grad_norm"][l], 0.02, "|dC/dW|");
    ASSERT_TRUE(g.contains("health"));
    EXPECT_EQ(g["health"]["sample"], c["health"]["sample"]);
    near(g["health"]["sample_cost"], c["health"]["sample_cost"], 0.02, "probe's sample cost");
    near(g["health"]["bias_grad_norm"][0], c["health"]["bias_grad_norm"][0], 0.02,
         "probe's |dC/db| layer 1");
  }
}

// Saved on the GPU, evaluated on the CPU and on the GPU: the same figures; --init-from continues.
TEST_F(CudaTraining, SaveEvalAndInitFrom) {
  NNET_REQUIRE_GPU();
  const std::string model = tmp_ + "/m.json", data = " --data " + tmp_ + "/data";
  auto r = run_nnet("train --device cuda -q --layers conv:4:5,maxpool:2,fc:20,softmax:10 "
                    "--activation relu --eta 0.05 --epochs 2 --save " + model + data);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto cpu = run_nnet("eval --model " + model + data);
  const auto gpu = run_nnet("eval --device cuda --model " + model + data);
  ASSERT_EQ(cpu.exit_code, 0) << cpu.err;
  ASSERT_EQ(gpu.exit_code, 0) << gpu.err;
  EXPECT_EQ(cpu.out.substr(0, cpu.out.find('\n')), gpu.out.substr(0, gpu.out.find('\n')));
  r = run_nnet("train --device cuda -q --epochs 1 --eta 0.05 --init-from " + model + data);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Epoch 0: ", 0), 0u) << r.out;
}

// Accuracy per epoch, GPU beside CPU, on real MNIST: the notebook net and the two-conv net.
TEST(CudaCurves, NotebookAndTwoConvNetsFollowTheCpu) {
  NNET_REQUIRE_GPU();
  const std::string data = gpu_data_dir();
  if (data.empty()) GTEST_SKIP() << "no real MNIST ($NNET_GPU_DATA or ../shared/data)";
  struct Run {
    const char* name;
    std::string flags;
    double bound;  // percentage points, any epoch
  } runs[] = {
      {"notebook [784,30,10]", "--sizes 784,30,10 --epochs 5 --eta 3.0", 1.0},
      {"two-conv ReLU", "--layers conv:20:5,maxpool:2,conv:40:5,maxpool:2,fc:100,softmax:10 "
                        "--activation relu --eta 0.03 --lambda 0.1 --epochs 2 --train-size 3000",
       1.5},
  };
  for (const Run& run : runs) {
    SCOPED_TRACE(run.name);
    std::vector<double> acc[2];
    int k = 0;
    for (const char* device : {"cpu", "cuda"}) {
      const auto r = run_nnet("train -q --device " + std::string(device) + " --data " + data +
                              " --validation-size 1000 " + run.flags);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      std::stringstream in(r.out);
      std::string line;
      while (std::getline(in, line)) {
        long c = 0, n = 0;
        int e = 0;
        if (std::sscanf(line.c_str(), "Epoch %d: %ld / %ld", &e, &c, &n) == 3)
          acc[k].push_back(100.0 * c / n);
      }
      ++k;
    }
    ASSERT_EQ(acc[0].size(), acc[1].size());
    ASSERT_FALSE(acc[0].empty());
    double worst = 0;
    for (size_t e = 0; e < acc[0].size(); ++e) {
      std::printf("  %s epoch %zu: cpu %.2f%%  gpu %.2f%%\n", run.name, e, acc[0][e], acc[1][e]);
      worst = std::max(worst, std::abs(acc[0][e] - acc[1][e]));
    }
    EXPECT_LE(worst, run.bound);
  }
}

}  // namespace
}  // namespace nnet

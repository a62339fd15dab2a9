// A small conv net learns real MNIST: conv:8:5,maxpool:2,fc:30,softmax:10 (ReLU) on the first
// 2000 training images, network3's init, L2 style and fixed order, for 2 epochs.
// Measured (seeds 1, 2, 3): 885, 881, 843 of 1000 validation images after epoch 2 (805, 802, 802
// after epoch 1); seeds 1-8: 843-903. On the npm digits' validation split: 772-865 for seeds 1-8
// (seed 2: 772). Runtime: ~11 s on 2 busy cores with the naive conv kernels.
#include <gtest/gtest.h>

#include "nnet/data.h"
#include "nnet/layers.h"
#include "nnet/network.h"
#include "nnet/train.h"
#include "test_util.h"

namespace nnet {
namespace {

TEST(ConvTrain, SmallConvNetLearnsMnistForEverySeed) {
  NNET_REQUIRE_MNIST(dir);
  DataSplits d;
  Status s = load_pickle(dir + "/mnist.pkl.gz", LoadOptions{}, &d);
  ASSERT_TRUE(s.ok()) << s.message();
  const Dataset train_set = head(d.training, 2000);
  Architecture arch;
  arch.input = Shape{1, 28, 28};
  ASSERT_TRUE(
      parse_layers("conv:8:5,maxpool:2,fc:30,softmax:10", {Activation::kRelu}, &arch.layers).ok());
  arch.cost = Cost::kLogLikelihood;
  ASSERT_TRUE(validate(arch, 784, 10).ok());
  for (uint32_t seed : {1u, 2u, 3u}) {
    Network net(arch);
    init_params(net, Init::kNetwork3, seed);
    TrainOptions o;
    o.epochs = 2;
    o.batch = 10;
    o.eta = 0.1;  // of 0.03, 0.1, 0.3 the best here (0.3 diverges to one class for 2 seeds)
    o.lambda = 0.1;
    o.l2_style = L2Style::kNetwork3;
    o.shuffle = false;
    o.seed = seed;
    TrainState st = initial_state(net, train_set.size(), o);
    s = train(net, train_set, &d.validation, o, TrainCallbacks{}, &st);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(st.history.size(), 2u);
    EXPECT_EQ(st.history[1].evaluation_total, 1000);
    EXPECT_GE(st.history[1].evaluation_correct, testing::mnist().shared ? 800 : 750)
        << "seed " << seed;
  }
}

}  // namespace
}  // namespace nnet

// The fast float32 engine and the float64 reference start from the same weights and shuffles, so
// over a few epochs their accuracies must agree closely for every seed.
#include <gtest/gtest.h>

#include <cstdlib>

#include "nnet/data.h"
#include "nnet/reference.h"
#include "nnet/train.h"
#include "test_util.h"

namespace nnet {
namespace {

TEST(FastVsReference, AccuraciesAgreeAcrossSeeds) {
  NNET_REQUIRE_MNIST(dir);
  DataSplits d;
  ASSERT_TRUE(load_pickle(dir + "/mnist.pkl.gz", LoadOptions{}, &d).ok());
  const Dataset training = head(d.training, 3000);
  const Architecture arch = sigmoid_architecture({784, 30, 10});
  long worst = 0;
  const long max_diff = 20 * static_cast<long>(d.test.size()) / 10000;  // 0.2% of the test set
  for (uint32_t seed : {1u, 2u, 3u, 5u}) {
    TrainOptions o;
    o.epochs = 3;
    o.eta = 3.0;
    o.seed = seed;
    Network fast(arch);
    init_params(fast, Init::kLarge, seed);
    TrainState st = initial_state(fast, training.size(), o);
    ASSERT_TRUE(train(fast, training, &d.test, o, {}, &st).ok());

    ReferenceOptions ro;
    ro.epochs = 3;
    ro.eta = 3.0;
    ro.numpy_seed = seed;
    ro.python_seed = seed;
    ReferenceNetwork ref;
    std::vector<EpochReport> ref_history;
    ASSERT_TRUE(reference_train(arch, training, &d.test, ro, {}, &ref, &ref_history).ok());
    ASSERT_EQ(ref_history.size(), st.history.size());
    for (size_t e = 0; e < st.history.size(); ++e) {
      const long diff =
          std::labs(st.history[e].evaluation_correct - ref_history[e].evaluation_correct);
      worst = std::max(worst, diff);
      // Measured: 0 apart for these seeds (float rounding only shows later: 2 apart after 3
      // epochs on all 9,000 images). 20 of 10,000 is a small margin that still catches a drift;
      // on the npm digits' 997 test images, 1 (measured: 0 apart for seeds 1-8 on both).
      EXPECT_LE(diff, max_diff) << "seed " << seed << " epoch " << e;
    }
  }
  RecordProperty("worst_difference", static_cast<int>(worst));
}

}  // namespace
}  // namespace nnet

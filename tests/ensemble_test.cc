// Plurality voting over hand-made predictions (conv.py's ensemble), ties to the lowest class.
#include "nnet/ensemble.h"

#include <gtest/gtest.h>

namespace nnet {
namespace {

TEST(Ensemble, PluralityOnHandMadePredictions) {
  // Five models, six examples.
  const std::vector<std::vector<uint8_t>> p = {
      {1, 2, 3, 9, 0, 7},  //
      {1, 2, 4, 8, 5, 7},  //
      {1, 3, 4, 8, 6, 3},  //
      {2, 3, 5, 9, 5, 3},  //
      {2, 3, 5, 1, 6, 1},
  };
  // 1 (3 votes); 3 (3); tie 4/5 -> 4; tie 8/9 -> 8; tie 5/6 -> 5; tie 3/7 -> 3.
  EXPECT_EQ(plurality_vote(p), (std::vector<uint8_t>{1, 3, 4, 8, 5, 3}));
}

TEST(Ensemble, OneModelIsItself) {
  const std::vector<uint8_t> a = {0, 9, 4, 4, 2};
  EXPECT_EQ(plurality_vote({a}), a);
}

TEST(Ensemble, AllDifferentGoesToLowest) {
  EXPECT_EQ(plurality_vote({{7}, {3}, {5}}), (std::vector<uint8_t>{3}));
}

TEST(Ensemble, MismatchedLengthsGiveNothing) {
  EXPECT_TRUE(plurality_vote({{1, 2}, {1}}).empty());
  EXPECT_TRUE(plurality_vote({}).empty());
}

}  // namespace
}  // namespace nnet

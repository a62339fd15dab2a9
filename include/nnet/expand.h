// The book's expanded training data (expand_mnist.py): every image plus its four 1-pixel shifts,
// made in memory and deterministically instead of read from mnist_expanded.pkl.gz.
#pragma once

#include <cstdint>

#include "nnet/dataset.h"
#include "nnet/status.h"

namespace nnet {

// Replaces `d` by 5x its images, as expand_mnist.py builds them: for each image j in order, the
// image, then shifted down, up, right and left by one pixel (np.roll by +1/-1 on rows, then on
// columns) with the wrapped-around row or column zeroed; labels follow. Then, like the script's
// random.shuffle(pairs), the 5n pairs are shuffled once as Python 3's random.seed(shuffle_seed);
// random.shuffle(pairs) would (`shuffle` false keeps the unshuffled order). Writes straight into
// the shuffled positions: peak memory is the old plus the new images. Images smaller than 2x2 or
// more than 2^32/5 of them are a usage error.
Status expand_training(Dataset* d, uint64_t shuffle_seed, bool shuffle = true);

}  // namespace nnet

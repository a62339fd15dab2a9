// Model files: the book's network2 JSON (`--save model.json`, readable by network2.load) and HDF5
// (`model.h5`, readable with h5py). Both hold the exact float32 parameters, the architecture and
// the options the model was trained with. Layouts are documented in docs/models.md.
#pragma once

#include <string>

#include "nnet/network.h"
#include "nnet/status.h"
#include "nnet/value.h"

namespace nnet {

// Version of the extra "nnet" block (JSON) / "format_version" attribute (HDF5): dense models are
// written as version 1 (unchanged, network2.load reads them), layer stacks as version 2; readers
// accept 1..kModelFormatVersion.
inline constexpr int kModelFormatVersion = 2;
inline constexpr int kDenseModelFormatVersion = 1;

// Caps checked before anything is allocated while loading.
// The limits every architecture has (network.h), wherever it comes from.
inline constexpr size_t kMaxModelLayers = kMaxWeightLayers;  // weight layers
inline constexpr size_t kMaxModelParams = kMaxParams;        // 268M floats (1 GiB)
inline constexpr size_t kMaxModelFileBytes = size_t{4} << 30;

// A network plus how it was made.
struct Model {
  Network net;
  std::string init;         // "large", "default", ... or "" when unknown (e.g. the book's files)
  Value training;           // training options (recorded_options); null when unknown
};

// True when `path` names an HDF5 model (ends in .h5 or .hdf5); otherwise JSON.
bool is_hdf5_path(const std::string& path);

// The network2 cost class name written for `cost`: QuadraticCost or CrossEntropyCost (the
// closest for log-likelihood, whose truth goes into the "nnet" block).
const char* book_cost_name(Cost cost);

// Serializes `m` as network2.save does (sizes, weights y x x, biases y x 1, cost) plus an "nnet"
// block; every float32 is written as the shortest decimal of its double widening (bit-exact).
std::string model_to_json(const Model& m);

// Parses a JSON model (ours or one network2.save wrote); `name` prefixes errors, which name the
// offending entry's JSON path (e.g. "weights[1][3][7]"). Bad content -> kDataError.
Status model_from_json(const std::string& text, const std::string& name, Model* out);

// Parses the bytes of an HDF5 model (what load_model reads from a .h5 file), in memory; `name`
// prefixes errors. Bad content -> kDataError. libhdf5 runs in a forked child process with capped
// memory (256 MiB + 6 x the size) and time (5 s + 1 s per 16 MiB); a child that crashes or runs
// over is reported as kDataError too.
Status model_from_hdf5(const std::string& bytes, const std::string& name, Model* out);

// Writes `m` to `path` atomically: HDF5 when is_hdf5_path(path), JSON otherwise.
Status save_model(const std::string& path, const Model& m);

// Reads a model from `path`, detecting HDF5 by its signature (parsed as model_from_hdf5 does, in a
// child process). Missing file -> kNoInput; malformed -> kDataError with the offending entry named.
Status load_model(const std::string& path, Model* out);

}  // namespace nnet

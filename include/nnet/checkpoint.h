// Checkpoints: everything `nnet train --resume` needs to continue a run bit for bit, in one
// versioned, CRC-checked file written atomically.
//
// File layout (little-endian), version 1:
//   "NNETCKPT" | u32 version | u64 header_len | header (JSON, UTF-8) |
//   6 arrays, each u64 count + count 4-byte items: params f32, velocity f32, best_params f32,
//   order u32, shuffle_rng u32, dropout_rng u32 | u32 CRC-32 (zlib) of every byte before it.
// The JSON header holds the options, the data identity and the scalar training state + history.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "nnet/dataset.h"
#include "nnet/status.h"
#include "nnet/train.h"
#include "nnet/value.h"

namespace nnet {

inline constexpr uint32_t kCheckpointVersion = 1;
// Caps a loader applies before allocating: header text and items per array.
inline constexpr size_t kMaxCheckpointHeader = size_t{64} << 20;
inline constexpr size_t kMaxCheckpointItems = size_t{1} << 30;

struct Checkpoint {
  Value options;              // the run's settings (checkpoint_options); resume compares them
  Value data;                 // identity of the data (see data_identity)
  std::vector<float> params;  // the network's flat parameters (Network::params layout)
  TrainState state;           // where training stands
};

// The checkpoint file inside a --checkpoint directory: DIR/checkpoint.bin.
std::string checkpoint_file(const std::string& dir);

// The bytes of `c` in the format above (CRC included).
std::string serialize_checkpoint(const Checkpoint& c);

// Parses checkpoint bytes; `name` is used in errors. Checks the magic, version, CRC, every size
// against the bytes present, that `order` is a permutation and the RNG states are valid.
Status parse_checkpoint(const std::string& bytes, const std::string& name, Checkpoint* out);

// Writes `c` to `path` with write_file_atomic: a failure leaves any previous checkpoint intact.
Status save_checkpoint(const std::string& path, const Checkpoint& c);

// Reads and parses `path` (kNoInput when missing, kDataError when corrupt).
Status load_checkpoint(const std::string& path, Checkpoint* out);

// CRC-32 (zlib's) of the images and labels of `d`, continuing from `crc`.
uint32_t dataset_crc32(const Dataset& d, uint32_t crc = 0);

// What identifies the data a run trains on: path, split sizes, pixels, and CRC-32s.
Value data_identity(const std::string& path, const Dataset& training, const Dataset* evaluation);

// Compares a saved object with the current one key by key; on the first difference returns
// a usage error "<what>: <key> is <now> but the checkpoint has <saved>". Keys in `ignore` are
// skipped.
Status compare_for_resume(const std::string& what, const Value& saved, const Value& now,
                          const std::vector<std::string>& ignore = {});

// Checks, before training, that `dir` is (or can be made) a writable directory and holds no input
// file; creates it when missing. `flag` names it in errors.
Status prepare_checkpoint_dir(const std::string& flag, const std::string& dir,
                              const std::vector<std::string>& inputs);

}  // namespace nnet

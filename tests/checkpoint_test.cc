// Checkpoints: format round trip, refusal of corrupt/hostile files, bit-identical resume,
// refusal to resume with other options or data, divergence and disk-full behaviour.
// Budget: ~10 s in Release (the CLI tests train 1000 images for a few epochs).
#include "nnet/checkpoint.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nnet/fileio.h"
#include "nnet/network.h"
#include "nn/workspace.h"
#include "nnet/pyrandom.h"
#include "nnet/train.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace nnet {
namespace {

using testing::make_temp_dir;
using testing::run_command;
using testing::run_nnet;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Checkpoint small_checkpoint() {
  Network net(sigmoid_architecture({4, 3, 2}));
  init_params(net, Init::kDefault, 3);
  TrainOptions o;
  o.momentum = 0.5;
  Checkpoint c;
  c.options = testing::json_value(R"({"eta": 0.1, "sizes": [4, 3, 2]})");
  c.data = testing::json_value(R"({"path": "x", "training_images": 5})");
  c.params = net.params();
  c.state = initial_state(net, 5, o);
  c.state.velocity.assign(net.params().size(), 0.25f);
  c.state.epoch = 1;
  c.state.batch_pos = 2;
  c.state.eta = 0.1 / 3;  // not a short decimal: must survive the JSON header exactly
  c.state.grad_norm_sums = {0.1, 0.2, 1.0 / 7, 2.0 / 7};
  EpochReport r;
  r.epoch = 0;
  r.eta = 0.1;
  r.evaluation_correct = 3;
  r.evaluation_total = 5;
  r.evaluation_cost = 1.0 / 3;
  c.state.history.push_back(r);
  return c;
}

// Replaces the trailing CRC so a hostile edit reaches the field checks.
void fix_crc(std::string* b) {
  const uint32_t crc = static_cast<uint32_t>(
      ::crc32(0, reinterpret_cast<const Bytef*>(b->data()), static_cast<uInt>(b->size() - 4)));
  std::memcpy(b->data() + b->size() - 4, &crc, 4);
}

TEST(CheckpointFormat, RoundTripIsExact) {
  const Checkpoint c = small_checkpoint();
  Checkpoint back;
  ASSERT_TRUE(parse_checkpoint(serialize_checkpoint(c), "mem", &back).ok());
  EXPECT_EQ(back.options, c.options);
  EXPECT_EQ(back.data, c.data);
  EXPECT_EQ(back.params, c.params);
  EXPECT_EQ(back.state.velocity, c.state.velocity);
  EXPECT_EQ(back.state.order, c.state.order);
  EXPECT_EQ(back.state.shuffle_rng, c.state.shuffle_rng);
  EXPECT_EQ(back.state.dropout_rng, c.state.dropout_rng);
  EXPECT_EQ(back.state.epoch, 1);
  EXPECT_EQ(back.state.batch_pos, 2u);
  EXPECT_EQ(back.state.eta, c.state.eta);  // bit-exact double
  EXPECT_EQ(back.state.grad_norm_sums, c.state.grad_norm_sums);
  ASSERT_EQ(back.state.history.size(), 1u);
  EXPECT_EQ(back.state.history[0].evaluation_cost, 1.0 / 3);
  EXPECT_EQ(back.state.history[0].evaluation_correct, 3);
}

// Fuzzer finding (UBSan): a run without momentum has empty velocity/best_params, and reading an
// empty array passed a null pointer to memcpy. It must round-trip cleanly.
TEST(CheckpointFormat, EmptyArraysRoundTrip) {
  Checkpoint c = small_checkpoint();
  c.state.velocity.clear();
  c.state.best_params.clear();
  Checkpoint back;
  Status s = parse_checkpoint(serialize_checkpoint(c), "mem", &back);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(back.state.velocity.empty());
  EXPECT_TRUE(back.state.best_params.empty());
  EXPECT_EQ(back.params, c.params);
}

TEST(CheckpointFormat, EveryFlippedByteIsRefused) {
  const std::string good = serialize_checkpoint(small_checkpoint());
  for (size_t i = 0; i < good.size(); i += 13) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    Checkpoint c;
    Status s = parse_checkpoint(bad, "ck", &c);
    ASSERT_FALSE(s.ok()) << "byte " << i;
    EXPECT_EQ(s.code(), Code::kDataError) << s.message();
  }
  std::string bad = good;
  bad[100] ^= 1;
  Checkpoint c;
  EXPECT_NE(parse_checkpoint(bad, "ck", &c).message().find("CRC-32"), std::string::npos);
}

TEST(CheckpointFormat, EveryTruncationIsRefused) {
  const std::string good = serialize_checkpoint(small_checkpoint());
  for (size_t n = 0; n < good.size(); n += 7) {
    Checkpoint c;
    Status s = parse_checkpoint(good.substr(0, n), "ck", &c);
    ASSERT_FALSE(s.ok()) << "length " << n;
    EXPECT_EQ(s.code(), Code::kDataError);
  }
}

TEST(CheckpointFormat, HostileFieldsWithValidCrcAreRefused) {
  // A duplicate index would let train() read the same image twice (or out of range).
  Checkpoint c = small_checkpoint();
  c.state.order[1] = c.state.order[0];
  Checkpoint out;
  Status s = parse_checkpoint(serialize_checkpoint(c), "ck", &out);
  EXPECT_NE(s.message().find("permutation"), std::string::npos) << s.message();

  c = small_checkpoint();
  c.state.order[0] = 99;
  EXPECT_FALSE(parse_checkpoint(serialize_checkpoint(c), "ck", &out).ok());

  c = small_checkpoint();
  c.state.shuffle_rng.assign(625, 0);
  s = parse_checkpoint(serialize_checkpoint(c), "ck", &out);
  EXPECT_NE(s.message().find("shuffle_rng"), std::string::npos) << s.message();

  c = small_checkpoint();
  c.state.velocity.resize(3);
  EXPECT_FALSE(parse_checkpoint(serialize_checkpoint(c), "ck", &out).ok());

  c = small_checkpoint();
  c.params[0] = std::nanf("");
  EXPECT_FALSE(parse_checkpoint(serialize_checkpoint(c), "ck", &out).ok());

  c = small_checkpoint();
  c.state.batch_pos = 5;
  EXPECT_FALSE(parse_checkpoint(serialize_checkpoint(c), "ck", &out).ok());

  // A header length far past the end: refused before any allocation.
  std::string b = serialize_checkpoint(small_checkpoint());
  const uint64_t huge = uint64_t{1} << 62;
  std::memcpy(b.data() + 12, &huge, 8);
  fix_crc(&b);
  s = parse_checkpoint(b, "ck", &out);
  EXPECT_NE(s.message().find("header length"), std::string::npos) << s.message();

  // An array count past the end (the params count follows the header).
  b = serialize_checkpoint(small_checkpoint());
  uint64_t header_len = 0;
  std::memcpy(&header_len, b.data() + 12, 8);
  const uint64_t many = uint64_t{1} << 29;
  std::memcpy(b.data() + 20 + header_len, &many, 8);
  fix_crc(&b);
  s = parse_checkpoint(b, "ck", &out);
  EXPECT_NE(s.message().find("truncated"), std::string::npos) << s.message();

  // A header that is JSON but of the wrong shape.
  b = serialize_checkpoint(small_checkpoint());
  const std::string key = "\"epoch\":1";
  const size_t at = b.find(key);
  ASSERT_NE(at, std::string::npos);
  b.replace(at, key.size(), "\"epoch\":9");  // same length; the history has 1 epoch
  fix_crc(&b);
  s = parse_checkpoint(b, "ck", &out);
  EXPECT_EQ(s.code(), Code::kDataError);
  EXPECT_NE(s.message().find("epoch"), std::string::npos) << s.message();
}

TEST(CheckpointFormat, CompareForResumeNamesTheDifference) {
  const Value a = testing::json_value(R"({"eta": 0.1, "batch": 10, "path": "a"})");
  Value b = testing::json_value(R"({"eta": 0.5, "batch": 10, "path": "b"})");
  Status s = compare_for_resume("--resume d", a, b, {"path"});
  EXPECT_EQ(s.code(), Code::kUsage);
  EXPECT_NE(s.message().find("eta is 0.5 but the checkpoint has 0.1"), std::string::npos)
      << s.message();
  b["eta"] = 0.1;
  EXPECT_TRUE(compare_for_resume("--resume d", a, b, {"path"}).ok());
  EXPECT_FALSE(compare_for_resume("--resume d", a, b).ok());
}

TEST(CheckpointFormat, PrepareDirChecksBeforeTraining) {
  const std::string tmp = make_temp_dir("nnet-ckdir");
  EXPECT_TRUE(prepare_checkpoint_dir("--checkpoint", tmp + "/new", {}).ok());
  EXPECT_TRUE(fs::is_directory(tmp + "/new"));
  testing::write_file(tmp + "/file", "x");
  EXPECT_EQ(prepare_checkpoint_dir("--checkpoint", tmp + "/file", {}).code(), Code::kCantCreate);
  EXPECT_EQ(prepare_checkpoint_dir("--checkpoint", tmp + "/no/such/dir", {}).code(),
            Code::kCantCreate);
  EXPECT_EQ(prepare_checkpoint_dir("--checkpoint", tmp + "/new", {tmp + "/new"}).code(),
            Code::kCantCreate);
  // A stale temp file from a killed save is cleaned up.
  testing::write_file(tmp + "/new/.checkpoint.bin.tmp-abc123", "partial");
  EXPECT_TRUE(prepare_checkpoint_dir("--checkpoint", tmp + "/new", {}).ok());
  EXPECT_FALSE(fs::exists(tmp + "/new/.checkpoint.bin.tmp-abc123"));
  fs::remove_all(tmp);
}

TEST(Divergence, CostsNeverHideNaN) {
  const float nan_out[2] = {std::nanf(""), 0.5f};
  for (Cost c : {Cost::kQuadratic, Cost::kCrossEntropy})
    EXPECT_TRUE(std::isnan(sample_cost(c, nan_out, 2, 0)));
  EXPECT_TRUE(std::isnan(sample_cost(Cost::kLogLikelihood, nan_out, 2, 0)));
  // A saturated output costs a large finite number, never inf.
  const float saturated[2] = {0.0f, 1.0f};
  EXPECT_TRUE(std::isfinite(sample_cost(Cost::kCrossEntropy, saturated, 2, 0)));
  EXPECT_TRUE(std::isfinite(sample_cost(Cost::kLogLikelihood, saturated, 2, 0)));
}

// In-process and deterministic: stop after the 20th mini-batch (mid-epoch), save through the
// file format, resume in a fresh network, and compare with an uninterrupted run.
// Trains `b` until should_stop has been polled `polls` times, then returns the checkpoint written
// on that stop, serialized and parsed back (so resuming goes through the file format).
void interrupt_and_checkpoint(Network& b, const Dataset& d, const TrainOptions& o, int polls,
                              TrainState* sb, Checkpoint* out) {
  int batches = 0;
  std::string saved;
  TrainCallbacks cb;
  cb.should_stop = [&] { return ++batches == polls; };
  cb.on_checkpoint = [&](const TrainState& s) {
    Checkpoint c;
    c.options = c.data = Value::object();
    c.params = b.params();
    c.state = s;
    saved = serialize_checkpoint(c);
    return Status::Ok();
  };
  Status st = train(b, d, &d, o, cb, sb);
  ASSERT_EQ(st.code(), Code::kInterrupted) << st.message();
  st = parse_checkpoint(saved, "mem", out);
  ASSERT_TRUE(st.ok()) << st.message();
}

TEST(CheckpointResume, MidEpochThroughTheFileIsBitIdentical) {
  Dataset d;
  d.rows = d.cols = 4;
  NumpyRandom rng(5);
  for (int i = 0; i < 97; ++i) {
    for (int p = 0; p < 16; ++p) d.images.push_back(static_cast<float>(rng.random_sample()));
    d.labels.push_back(static_cast<uint8_t>(rng.random_sample() * 10));
  }
  TrainOptions o;
  o.epochs = 3;
  o.batch = 7;  // 14 mini-batches, the last one partial
  o.eta = 0.7;
  o.momentum = 0.5;
  o.dropout = 0.3;
  o.lambda = 0.5;
  o.record_gradients = true;
  o.monitor_training_cost = o.monitor_evaluation_cost = true;
  o.threads = 1;
  const Architecture arch = sigmoid_architecture({16, 8, 10}, Cost::kCrossEntropy);

  Network a(arch);
  init_params(a, Init::kDefault, 9);
  TrainState sa = initial_state(a, d.size(), o);
  ASSERT_TRUE(train(a, d, &d, o, {}, &sa).ok());

  Network b(arch);
  init_params(b, Init::kDefault, 9);
  TrainState sb = initial_state(b, d.size(), o);
  Checkpoint c;
  ASSERT_NO_FATAL_FAILURE(interrupt_and_checkpoint(b, d, o, 20, &sb, &c));
  EXPECT_EQ(c.state.epoch, 1);
  EXPECT_EQ(c.state.batch_pos, 5u);  // should_stop is also polled once after each epoch

  Network r(arch);
  r.params() = c.params;
  TrainState sr = c.state;
  sr.stop_reason.clear();
  ASSERT_TRUE(train(r, d, &d, o, {}, &sr).ok());
  EXPECT_EQ(r.params(), a.params());
  EXPECT_EQ(sr.velocity, sa.velocity);
  EXPECT_EQ(sr.order, sa.order);
  ASSERT_EQ(sr.history.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(sr.history[i].training_cost, sa.history[i].training_cost) << i;
    EXPECT_EQ(sr.history[i].evaluation_correct, sa.history[i].evaluation_correct) << i;
    EXPECT_EQ(sr.history[i].bias_grad_norm, sa.history[i].bias_grad_norm) << i;
    EXPECT_EQ(sr.history[i].weight_grad_norm, sa.history[i].weight_grad_norm) << i;
  }
}

// The same for a layer stack: conv, max pooling, both dropout styles (the dropout RNG's state is
// what must survive), momentum, network3's L2, conv kernels on two threads; stopped mid-epoch.
// record_gradients takes forward + backward + apply_update, otherwise the fused sgd_step.
class ConvStackResume : public ::testing::TestWithParam<bool> {};

TEST_P(ConvStackResume, MidEpochIsBitIdentical) {
  Dataset d;
  d.rows = d.cols = 6;
  NumpyRandom rng(7);
  for (int i = 0; i < 61; ++i) {
    for (int p = 0; p < 36; ++p) d.images.push_back(static_cast<float>(rng.random_sample()));
    d.labels.push_back(static_cast<uint8_t>(rng.random_sample() * 10));
  }
  TrainOptions o;
  o.epochs = 3;
  o.batch = 5;  // 13 mini-batches, the last one partial
  o.eta = 0.1;
  o.momentum = 0.5;
  o.lambda = 0.1;
  o.l2_style = L2Style::kNetwork3;
  o.record_gradients = GetParam();
  o.monitor_training_cost = o.monitor_evaluation_cost = true;
  o.threads = 1;
  o.conv_threads = 2;
  Architecture arch;
  arch.input = Shape{1, 6, 6};
  arch.cost = Cost::kLogLikelihood;
  ASSERT_TRUE(parse_layers("conv:3:3,maxpool:2,dropout:0.3,fc:8,dropout:0.2:inverted,softmax:10",
                           {Activation::kRelu, Activation::kTanh}, &arch.layers)
                  .ok());
  ASSERT_TRUE(validate(arch, 36, 10).ok()) << validate(arch, 36, 10).message();

  Network a(arch);
  init_params(a, Init::kNetwork3, 4);
  TrainState sa = initial_state(a, d.size(), o);
  ASSERT_TRUE(train(a, d, &d, o, {}, &sa).ok());
  // Dropout is really drawn: the RNG moved on (else this test could not catch a lost state).
  EXPECT_NE(sa.dropout_rng, initial_state(a, d.size(), o).dropout_rng);

  Network b(arch);
  init_params(b, Init::kNetwork3, 4);
  TrainState sb = initial_state(b, d.size(), o);
  Checkpoint c;
  ASSERT_NO_FATAL_FAILURE(interrupt_and_checkpoint(b, d, o, 19, &sb, &c));
  EXPECT_EQ(c.state.epoch, 1);
  EXPECT_EQ(c.state.batch_pos, 5u);  // 13 + 1 polls in epoch 0, then 5 mini-batches of epoch 1
  EXPECT_NE(a.params(), b.params());

  Network r(arch);  // fresh: nothing but the checkpoint carries over
  r.params() = c.params;
  TrainState sr = c.state;
  sr.stop_reason.clear();
  ASSERT_TRUE(train(r, d, &d, o, {}, &sr).ok());
  EXPECT_EQ(r.params(), a.params());
  EXPECT_EQ(sr.velocity, sa.velocity);
  EXPECT_EQ(sr.dropout_rng, sa.dropout_rng);
  ASSERT_EQ(sr.history.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(sr.history[i].training_cost, sa.history[i].training_cost) << i;
    EXPECT_EQ(sr.history[i].evaluation_cost, sa.history[i].evaluation_cost) << i;
    EXPECT_EQ(sr.history[i].weight_grad_norm, sa.history[i].weight_grad_norm) << i;
  }
}
INSTANTIATE_TEST_SUITE_P(Paths, ConvStackResume, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Recorded" : "Fused"; });

// ---- The CLI on real MNIST (testing::mnist()) ----

// A small but complete configuration: momentum (velocity), dropout (its RNG), L2, every monitor,
// a step schedule and a final partial mini-batch (1000 % 30 != 0).
std::string run_args(const std::string& data) {
  return "train --data '" + data +
         "' --train-size 1000 --validation-size 1000 --eval validation --sizes 784,20,10 "
         "--batch 30 --eta 0.5 --seed 11 --momentum 0.5 --dropout 0.2 --lambda 1 "
         "--schedule step --step-epochs 2 --cost cross-entropy --init default --monitor all "
         "-q";
}

Checkpoint must_load(const std::string& dir) {
  Checkpoint c;
  Status s = load_checkpoint(checkpoint_file(dir), &c);
  EXPECT_TRUE(s.ok()) << s.message();
  return c;
}

// Every figure of a history except wall-clock timings.
void expect_same_history(const std::vector<EpochReport>& a, const std::vector<EpochReport>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].epoch, b[i].epoch);
    EXPECT_EQ(a[i].eta, b[i].eta);
    EXPECT_EQ(a[i].training_cost, b[i].training_cost) << "epoch " << i;
    EXPECT_EQ(a[i].training_correct, b[i].training_correct);
    EXPECT_EQ(a[i].evaluation_cost, b[i].evaluation_cost);
    EXPECT_EQ(a[i].evaluation_correct, b[i].evaluation_correct);
    EXPECT_EQ(a[i].bias_grad_norm, b[i].bias_grad_norm) << "epoch " << i;
    EXPECT_EQ(a[i].weight_grad_norm, b[i].weight_grad_norm) << "epoch " << i;
  }
}

TEST(CheckpointCli, HalfThenResumeIsBitIdentical) {
  NNET_REQUIRE_MNIST(data);
  const std::string tmp = make_temp_dir("nnet-ck");
  auto full = run_nnet(run_args(data) + " --epochs 4 --checkpoint " + tmp + "/full");
  ASSERT_EQ(full.exit_code, 0) << full.err;
  auto half = run_nnet(run_args(data) + " --epochs 2 --checkpoint " + tmp + "/half");
  ASSERT_EQ(half.exit_code, 0) << half.err;
  // Only --resume and --epochs: every other option comes from the checkpoint.
  auto rest = run_nnet("train --resume " + tmp + "/half --epochs 4 -q");
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_EQ(half.out + rest.out, full.out);
  EXPECT_NE(full.out.find("Epoch 3"), std::string::npos) << full.out;
  Checkpoint a = must_load(tmp + "/full"), b = must_load(tmp + "/half");
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.state.velocity, b.state.velocity);
  expect_same_history(a.state.history, b.state.history);
  fs::remove_all(tmp);
}

TEST(CheckpointCli, PeriodicSavesChangeNothing) {
  NNET_REQUIRE_MNIST(data);
  const std::string tmp = make_temp_dir("nnet-ck");
  auto full = run_nnet(run_args(data) + " --epochs 2 --checkpoint " + tmp + "/full");
  ASSERT_EQ(full.exit_code, 0) << full.err;
  auto part = run_nnet(run_args(data) + " --epochs 2 --checkpoint " + tmp + "/part" +
                       " --checkpoint-every 5");
  ASSERT_EQ(part.exit_code, 0) << part.err;
  EXPECT_EQ(part.out, full.out);
  Checkpoint a = must_load(tmp + "/full"), b = must_load(tmp + "/part");
  EXPECT_EQ(a.params, b.params);
  fs::remove_all(tmp);
}

TEST(CheckpointCli, ResumeWithOtherOptionsOrDataIsRefused) {
  NNET_REQUIRE_MNIST(data);
  const std::string tmp = make_temp_dir("nnet-ck");
  auto first = run_nnet(run_args(data) + " --epochs 1 --checkpoint " + tmp + "/c");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string before = slurp(checkpoint_file(tmp + "/c"));

  auto eta = run_nnet("train --resume " + tmp + "/c --epochs 2 --eta 0.1");
  EXPECT_EQ(eta.exit_code, 2);
  EXPECT_NE(eta.err.find("--eta 0.1 differs from the checkpoint's 0.5"), std::string::npos)
      << eta.err;
  auto size = run_nnet("train --resume " + tmp + "/c --epochs 2 --train-size 900");
  EXPECT_EQ(size.exit_code, 2);
  EXPECT_NE(size.err.find("--train-size"), std::string::npos) << size.err;
  // Same options, other contents: the data folder loads its pickle (pixels x/256); a folder
  // with only the IDX files holds the same images as x/255.
  fs::create_directory(tmp + "/idx");
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"})
    fs::create_symlink(fs::path(data) / f, fs::path(tmp) / "idx" / f);
  auto other = run_nnet("train --resume " + tmp + "/c --epochs 2 --data " + tmp + "/idx");
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_NE(other.err.find("_crc32 is "), std::string::npos) << other.err;
  EXPECT_EQ(slurp(checkpoint_file(tmp + "/c")), before);  // refusals touch nothing
  fs::remove_all(tmp);
}

TEST(CheckpointCli, CorruptCheckpointIsRefusedClearly) {
  NNET_REQUIRE_MNIST(data);
  const std::string tmp = make_temp_dir("nnet-ck");
  auto first = run_nnet(run_args(data) + " --epochs 1 --checkpoint " + tmp + "/c");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string file = checkpoint_file(tmp + "/c");
  const std::string good = slurp(file);
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x01;
  ASSERT_TRUE(testing::write_file(file, flipped));
  auto r = run_nnet("train --resume " + tmp + "/c --epochs 2");
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("CRC-32"), std::string::npos) << r.err;
  ASSERT_TRUE(testing::write_file(file, good.substr(0, good.size() - 1000)));
  r = run_nnet("train --resume " + tmp + "/c --epochs 2");
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("checkpoint"), std::string::npos) << r.err;
  r = run_nnet("train --resume " + tmp + "/nothing --epochs 2");
  EXPECT_EQ(r.exit_code, 66);
  EXPECT_NE(r.err.find("no checkpoint"), std::string::npos) << r.err;
  fs::remove_all(tmp);
}

TEST(CheckpointCli, DivergenceKeepsTheLastGoodCheckpoint) {
  NNET_REQUIRE_MNIST(data);
  const std::string tmp = make_temp_dir("nnet-ck");
  const std::string base = "train --data '" + data +
                           "' --train-size 500 --eval none --sizes 784,30,10 --activation relu "
                           "--cost cross-entropy --init he -q --checkpoint " +
                           tmp + "/c";
  auto good = run_nnet(base + " --epochs 1 --eta 0.01");
  ASSERT_EQ(good.exit_code, 0) << good.err;
  const std::string before = slurp(checkpoint_file(tmp + "/c"));
  auto bad = run_nnet(base + " --epochs 3 --eta 1e30");
  EXPECT_EQ(bad.exit_code, 3) << bad.err;
  EXPECT_NE(bad.err.find("diverged"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("at epoch 0, mini-batch"), std::string::npos) << bad.err;
  EXPECT_EQ(slurp(checkpoint_file(tmp + "/c")), before);
  // Saving every mini-batch: whatever is left is from before the divergence and loads (a
  // checkpoint never holds a non-finite weight).
  bad = run_nnet(base + " --epochs 3 --eta 1e30 --checkpoint-every 1");
  EXPECT_EQ(bad.exit_code, 3) << bad.err;
  Checkpoint left;
  Status s = load_checkpoint(checkpoint_file(tmp + "/c"), &left);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(left.state.epoch, 0);
  // Without checkpoints too: exit 3, never a silent NaN.
  auto plain = run_nnet("train --data '" + data +
                        "' --train-size 500 --eval test --sizes 784,30,10 --activation relu "
                        "--cost cross-entropy --epochs 2 --eta 1e30 -q");
  EXPECT_EQ(plain.exit_code, 3) << plain.err;
  EXPECT_EQ(plain.out.find("nan"), std::string::npos) << plain.out;
  fs::remove_all(tmp);
}

TEST(CheckpointCli, OutputPathsAreCheckedBeforeTraining) {
  NNET_REQUIRE_MNIST(data);
  const std::string tmp = make_temp_dir("nnet-ck");
  const std::string base = "train --data '" + data + "' --train-size 100 --epochs 1 -q ";
  auto r = run_nnet(base + "--history " + tmp + "/no/such/h.json");
  EXPECT_EQ(r.exit_code, 73) << r.err;
  EXPECT_TRUE(r.out.empty()) << "trained before refusing: " << r.out;
  r = run_nnet(base + "--history " + tmp);
  EXPECT_EQ(r.exit_code, 73) << r.err;
  testing::write_file(tmp + "/afile", "x");
  r = run_nnet(base + "--checkpoint " + tmp + "/afile");
  EXPECT_EQ(r.exit_code, 73) << r.err;
  EXPECT_TRUE(r.out.empty());
  r = run_nnet(base + "--checkpoint '" + data + "'");
  EXPECT_EQ(r.exit_code, 73) << r.err;
  r = run_nnet("train --data '" + data + "/mnist.pkl.gz' --history '" + data +
               "/mnist.pkl.gz' --epochs 1 -q");
  EXPECT_EQ(r.exit_code, 73) << r.err;
  r = run_nnet(base + "--checkpoint-every 5");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  fs::remove_all(tmp);
}

TEST(CheckpointCli, DiskFullKeepsThePreviousCheckpoint) {
  NNET_REQUIRE_MNIST(data);
  const std::string tmp = make_temp_dir("nnet-ck");
  auto first = run_nnet(run_args(data) + " --epochs 1 --checkpoint " + tmp + "/c");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string before = slurp(checkpoint_file(tmp + "/c"));
  ASSERT_GT(before.size(), 64u * 1024);
  // With SIGXFSZ ignored, writes past the file-size limit fail with EFBIG: a full disk, as far
  // as the writer can tell. 32 blocks (16-32 KiB) is far below the checkpoint's size.
  auto r = run_command("trap '' XFSZ; ulimit -f 32 && exec '" + std::string(NNET_BINARY) +
                       "' train --resume " + tmp + "/c --epochs 2 -q");
  EXPECT_EQ(r.exit_code, 74) << r.err;
  EXPECT_NE(r.err.find("cannot write"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(checkpoint_file(tmp + "/c")), before);
  const auto entries = std::distance(fs::directory_iterator(tmp + "/c"), fs::directory_iterator());
  EXPECT_EQ(entries, 1) << "a temp file was left behind";
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace nnet

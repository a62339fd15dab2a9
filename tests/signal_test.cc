// Signals and crashes mid-training: SIGINT saves and exits 130, --resume continues bit for bit;
// SIGKILL at arbitrary moments never leaves an unloadable checkpoint.
// Budget: ~20 s in Release (16 killed runs plus a few complete ones on 2000 images).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "nnet/checkpoint.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace nnet {
namespace {

using testing::make_temp_dir;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A running `nnet` with its stdout on a pipe (read line by line) and stderr in a file.
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::string& err_file) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      const int e = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(e, STDERR_FILENO);
      ::close(fds[0]);
      std::vector<char*> argv{const_cast<char*>(NNET_BINARY)};
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(NNET_BINARY, argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = ::fdopen(fds[0], "r");
  }
  ~Child() {
    if (out_) std::fclose(out_);
    if (pid_ > 0 && !waited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // Reads one line of stdout (with its newline); "" at end of file.
  std::string line() {
    char buf[4096];
    std::string s;
    while (std::fgets(buf, sizeof buf, out_)) {
      s += buf;
      if (!s.empty() && s.back() == '\n') break;
    }
    out_text_ += s;
    return s;
  }
  void signal(int sig) { ::kill(pid_, sig); }
  // Drains stdout and waits; returns the exit status (128 + signal when killed).
  int wait() {
    while (!line().empty()) {
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
    waited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  int kill_and_wait(int sig) {
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    waited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  const std::string& out() const { return out_text_; }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  std::string out_text_;
  bool waited_ = false;
};

std::vector<std::string> train_args(const std::string& data, int epochs) {
  return {"train",
          "--data",
          data,
          "--train-size",
          "2000",
          "--validation-size",
          "1000",
          "--eval",
          "validation",
          "--sizes",
          "784,30,10",
          "--batch",
          "10",
          "--eta",
          "3.0",
          "--momentum",
          "0.3",
          "--dropout",
          "0.1",
          "--epochs",
          std::to_string(epochs),
          "-q"};
}

std::vector<std::string> with(std::vector<std::string> v, const std::vector<std::string>& more) {
  v.insert(v.end(), more.begin(), more.end());
  return v;
}

TEST(Signal, SigintSavesExits130AndResumesBitIdentical) {
  NNET_REQUIRE_MNIST(data);
  const std::string tmp = make_temp_dir("nnet-sig");
  const int epochs = 20;
  Child ref(with(train_args(data, epochs), {"--checkpoint", tmp + "/ref"}), tmp + "/ref.err");
  ASSERT_EQ(ref.wait(), 0) << slurp(tmp + "/ref.err");

  Child run(with(train_args(data, epochs), {"--checkpoint", tmp + "/run"}), tmp + "/run.err");
  const std::string first = run.line();
  ASSERT_NE(first.find("Epoch 0"), std::string::npos) << first;
  run.signal(SIGINT);
  ASSERT_EQ(run.wait(), 130) << slurp(tmp + "/run.err");
  const std::string err = slurp(tmp + "/run.err");
  EXPECT_NE(err.find("nnet: interrupted at epoch "), std::string::npos) << err;
  EXPECT_NE(err.find(", mini-batch "), std::string::npos) << err;
  EXPECT_NE(err.find("; checkpoint saved in " + tmp + "/run; resume with --resume " + tmp + "/run"),
            std::string::npos)
      << err;
  Checkpoint at;
  ASSERT_TRUE(load_checkpoint(checkpoint_file(tmp + "/run"), &at).ok());
  EXPECT_LT(at.state.epoch, epochs);

  Child rest({"train", "--resume", tmp + "/run", "-q"}, tmp + "/rest.err");
  ASSERT_EQ(rest.wait(), 0) << slurp(tmp + "/rest.err");
  EXPECT_EQ(run.out() + rest.out(), ref.out());
  Checkpoint a, b;
  ASSERT_TRUE(load_checkpoint(checkpoint_file(tmp + "/ref"), &a).ok());
  ASSERT_TRUE(load_checkpoint(checkpoint_file(tmp + "/run"), &b).ok());
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.state.velocity, b.state.velocity);
  ASSERT_EQ(a.state.history.size(), b.state.history.size());
  for (size_t i = 0; i < a.state.history.size(); ++i)
    EXPECT_EQ(a.state.history[i].evaluation_correct, b.state.history[i].evaluation_correct);
  fs::remove_all(tmp);
}

TEST(Signal, SigtermWithoutCheckpointExits130Cleanly) {
  NNET_REQUIRE_MNIST(data);
  const std::string tmp = make_temp_dir("nnet-sig");
  Child run(train_args(data, 30), tmp + "/err");
  ASSERT_NE(run.line().find("Epoch 0"), std::string::npos);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(), 130);
  const std::string err = slurp(tmp + "/err");
  EXPECT_NE(err.find("interrupted at epoch"), std::string::npos) << err;
  EXPECT_NE(err.find("no checkpoint"), std::string::npos) << err;
  fs::remove_all(tmp);
}

TEST(Signal, SecondSignalExitsAtOnceAndTheCheckpointStillLoads) {
  NNET_REQUIRE_MNIST(data);
  const std::string tmp = make_temp_dir("nnet-sig");
  Child run(with(train_args(data, 30), {"--checkpoint", tmp + "/c", "--checkpoint-every", "3"}),
            tmp + "/err");
  ASSERT_NE(run.line().find("Epoch 0"), std::string::npos);
  run.signal(SIGINT);
  run.signal(SIGINT);
  EXPECT_EQ(run.wait(), 130);
  Checkpoint c;
  Status s = load_checkpoint(checkpoint_file(tmp + "/c"), &c);
  EXPECT_TRUE(s.ok()) << s.message();
  fs::remove_all(tmp);
}

// Fault injection: 16 runs killed with SIGKILL at pseudo-random moments, each resuming from
// whatever the previous one left. Each kill lands mid-training: after the run printed an epoch
// line, at a random point within the next epoch (scaled by the reference run's epoch time, so it
// holds on slow and fast machines). 40 epochs and ~1.5 epochs per try leave the chain unfinished
// after the 16 tries. Every checkpoint left behind loads, and the chain finishes with exactly the
// weights of an uninterrupted run.
TEST(Signal, SigkillAtRandomMomentsNeverBreaksTheCheckpoint) {
  NNET_REQUIRE_MNIST(data);
  const std::string tmp = make_temp_dir("nnet-kill");
  // Kills until 16 landed mid-training (at most 40 tries). On a busy machine a run can get
  // several epochs further than planned before the kill lands, so the chain is long (100 epochs)
  // and the count of landed kills, not of tries, is what the loop waits for.
  const int epochs = 100, tries = 40, wanted_kills = 16, min_mid_run_kills = 12;
  const auto base = with(train_args(data, epochs), {"--checkpoint-every", "20"});
  const auto t0 = std::chrono::steady_clock::now();
  Child ref(with(base, {"--checkpoint", tmp + "/ref"}), tmp + "/ref.err");
  ASSERT_EQ(ref.wait(), 0) << slurp(tmp + "/ref.err");
  const auto epoch_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count() /
      epochs;

  const std::string dir = tmp + "/c", file = checkpoint_file(dir);
  std::mt19937 rng(2024);  // fixed: the same kill schedule (in epochs) every time
  int killed = 0, resumed = 0, finished = 0;
  for (int i = 0; i < tries; ++i) {
    const bool have = fs::exists(file);
    Child run(have ? std::vector<std::string>{"train", "--resume", dir, "-q"}
                   : with(base, {"--checkpoint", dir}),
              tmp + "/err");
    resumed += have;
    // Training has started once an epoch line arrives; "" means the run ended on its own.
    const std::string first = run.line();
    if (!first.empty())
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % (epoch_us + 1)));
    const int rc = run.kill_and_wait(SIGKILL);
    ASSERT_TRUE(rc == 128 + SIGKILL || rc == 0) << "try " << i << ": exit " << rc << "\n"
                                                << slurp(tmp + "/err");
    killed += !first.empty() && rc == 128 + SIGKILL;
    finished += rc == 0;
    if (fs::exists(file)) {
      Checkpoint c;
      Status s = load_checkpoint(file, &c);
      ASSERT_TRUE(s.ok()) << "after kill " << i << ": " << s.message();
    }
    if (rc == 0) break;  // the chain finished before the kill landed
    if (killed >= wanted_kills) break;
  }
  std::printf("killed %d of %d runs mid-training (%d of them resumed runs), %d finished\n", killed,
              tries, resumed, finished);
  EXPECT_GE(killed, min_mid_run_kills) << "too few kills landed mid-run to test anything";
  Child last(fs::exists(file) ? std::vector<std::string>{"train", "--resume", dir, "-q"}
                              : with(base, {"--checkpoint", dir}),
             tmp + "/last.err");
  ASSERT_EQ(last.wait(), 0) << slurp(tmp + "/last.err");
  Checkpoint a, b;
  ASSERT_TRUE(load_checkpoint(checkpoint_file(tmp + "/ref"), &a).ok());
  ASSERT_TRUE(load_checkpoint(file, &b).ok());
  EXPECT_EQ(b.state.epoch, epochs);
  EXPECT_EQ(a.params, b.params);
  ASSERT_EQ(a.state.history.size(), b.state.history.size());
  for (size_t i = 0; i < a.state.history.size(); ++i)
    EXPECT_EQ(a.state.history[i].evaluation_correct, b.state.history[i].evaluation_correct);
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace nnet

// run_isolated: the child's result and Status come back unchanged; a child that crashes, hangs,
// runs out of its memory budget or sends too much becomes one DataError line, and the parent
// never pays for it. Runtime: ~1 s (one test waits for a 0.5 s deadline).
#include "io/isolate.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "test_util.h"

namespace nnet {
namespace {

void expect_one_line(const Status& s, const std::string& what) {
  EXPECT_EQ(s.code(), Code::kDataError) << s.message();
  EXPECT_EQ(s.message().rfind(what + ": ", 0), 0u) << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
}

TEST(Isolate, ReturnsTheChildsBytes) {
  const std::string sent("binary\0bytes\xff", 13);
  std::string got;
  Status s = run_isolated(
      "t", {},
      [&](std::string* out) {
        *out = sent;
        return Status::Ok();
      },
      &got);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(got, sent);
  // An empty result is a result too.
  s = run_isolated(
      "t", {}, [](std::string*) { return Status::Ok(); }, &got);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(got, "");
}

TEST(Isolate, ReturnsTheChildsStatus) {
  std::string got = "untouched";
  Status s = run_isolated(
      "t", {}, [](std::string*) { return NoInput("m.h5: no such file"); }, &got);
  EXPECT_EQ(s.code(), Code::kNoInput);
  EXPECT_EQ(s.message(), "m.h5: no such file");
  EXPECT_EQ(got, "untouched");
}

TEST(Isolate, CrashIsOneLine) {
  std::string got;
  Status s = run_isolated(
      "m.h5: reader", {}, [](std::string*) -> Status { std::abort(); }, &got);
  expect_one_line(s, "m.h5: reader");
  EXPECT_NE(s.message().find("crashed (signal 6"), std::string::npos) << s.message();
  // A segfault too (under ASan its handler reports and exits 1 instead).
  s = run_isolated(
      "m.h5: reader", {},
      [](std::string*) -> Status {
        volatile int* p = nullptr;
        *p = 1;
        return Status::Ok();
      },
      &got);
  expect_one_line(s, "m.h5: reader");
}

TEST(Isolate, HangIsStoppedAtTheDeadline) {
  IsolationLimits limits;
  limits.seconds = 0.5;
  std::string got;
  const auto t0 = std::chrono::steady_clock::now();
  Status s = run_isolated(
      "t", limits,
      [](std::string*) {
        for (;;) pause();
        return Status::Ok();
      },
      &got);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  expect_one_line(s, "t");
  EXPECT_NE(s.message().find("stopped after 0.5 s"), std::string::npos) << s.message();
  EXPECT_LT(took, 30.0);  // generous: only "it did stop", not a timing test
}

// 2 GiB touched page by page against a 64 MiB budget: the child fails, the parent's memory
// does not grow.
TEST(Isolate, MemoryBudgetHolds) {
  IsolationLimits limits;
  limits.extra_memory_bytes = size_t{64} << 20;
  std::string got;
  Status s = run_isolated(
      "t", limits,
      [](std::string*) {
        std::vector<char> big(size_t{2} << 30);
        for (size_t i = 0; i < big.size(); i += 4096) big[i] = 1;
        return Status::Ok();
      },
      &got);
  expect_one_line(s, "t");
  if (!testing::kAddressSanitizer)
    EXPECT_NE(s.message().find("ran out of its 64 MiB memory budget"), std::string::npos)
        << s.message();
  rusage children{};
  ASSERT_EQ(getrusage(RUSAGE_CHILDREN, &children), 0);
  EXPECT_LT(children.ru_maxrss, 1 << 20) << "KiB: the child grew past its budget";
  // A plain malloc that the budget forbids returns null instead.
  s = run_isolated(
      "t", limits,
      [](std::string*) {
        void* p = std::malloc(size_t{1} << 30);
        const bool null = p == nullptr;
        std::free(p);
        return null ? DataError("t: malloc refused") : Status::Ok();
      },
      &got);
  // Either way the 1 GiB never arrived: refused (glibc) or the child stopped (ASan aborts).
  expect_one_line(s, "t");
  if (!testing::kAddressSanitizer) EXPECT_EQ(s.message(), "t: malloc refused");
}

TEST(Isolate, ResultCapHolds) {
  IsolationLimits limits;
  limits.max_result_bytes = 1 << 20;
  std::string got;
  Status s = run_isolated(
      "t", limits,
      [](std::string* out) {
        out->assign(size_t{3} << 20, 'x');
        return Status::Ok();
      },
      &got);
  expect_one_line(s, "t");
  EXPECT_NE(s.message().find("result exceeds 1 MiB"), std::string::npos) << s.message();
  // Exactly at the cap is fine.
  s = run_isolated(
      "t", limits,
      [](std::string* out) {
        out->assign(size_t{1} << 20, 'x');
        return Status::Ok();
      },
      &got);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(got.size(), size_t{1} << 20);
}

// A child that sends a malformed error (unknown code, several lines) is not believed.
TEST(Isolate, MalformedErrorFromTheChildIsRefused) {
  std::string got;
  Status s = run_isolated(
      "t", {}, [](std::string*) { return Status::Error(Code::kDiverged, "line one\nline two"); },
      &got);
  expect_one_line(s, "t");
  EXPECT_NE(s.message().find("malformed error"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace nnet

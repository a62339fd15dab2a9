// Value: the JSON-shaped type the public headers use for what files record (nnet/value.h).
#include "nnet/value.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace nnet {
namespace {

Value parsed(const std::string& text) {
  Value v;
  const Status s = Value::parse(text, "t", &v);
  EXPECT_TRUE(s.ok()) << s.message();
  return v;
}

// Files must come out byte for byte as before Value existed: each number keeps its kind, so 3
// stays 3 and 3.0 stays 3.0, and unsigned integers past int64 survive.
TEST(Value, DumpKeepsEveryNumberKindAndSortsKeys) {
  const std::string text =
      R"({"a":3,"b":3.0,"c":-7,"d":18446744073709551615,"e":0.1,"f":null,"g":[true,"x",[]],"h":{}})";
  EXPECT_EQ(parsed(text).dump(), text);
  EXPECT_EQ(parsed(R"({"z":1,"a":2,"m":3})").dump(), R"({"a":2,"m":3,"z":1})");

  Value built;
  built["size"] = size_t{60000};
  built["eta"] = 3.0;
  built["seed"] = uint32_t{7};
  built["train_size"] = -1L;
  built["sizes"] = std::vector<int>{784, 30, 10};
  built["acts"] = std::vector<std::string>{"sigmoid"};
  built["name"] = "x";
  EXPECT_EQ(built.dump(),
            R"({"acts":["sigmoid"],"eta":3.0,"name":"x","seed":7,"size":60000,"sizes":[784,30,10],)"
            R"("train_size":-1})");
  EXPECT_EQ(built.find("size")->kind(), Value::Kind::kUnsigned);
  EXPECT_EQ(built.find("train_size")->kind(), Value::Kind::kInt);
  EXPECT_EQ(built.find("eta")->kind(), Value::Kind::kFloat);
}

// As JSON compares numbers (and as the resume check always has): by value, whatever the kind.
TEST(Value, NumbersCompareByValue) {
  EXPECT_EQ(Value(3), Value(3.0));
  EXPECT_EQ(Value(3), Value(uint64_t{3}));
  EXPECT_NE(Value(-1), Value(UINT64_MAX));
  EXPECT_NE(Value(3), Value(3.5));
  EXPECT_NE(Value(1), Value(true));
  EXPECT_NE(Value("3"), Value(3));
  EXPECT_EQ(parsed("[1,2.0]"), Value(std::vector<double>{1.0, 2.0}));
  EXPECT_NE(parsed(R"({"a":1})"), parsed(R"({"a":1,"b":2})"));
  EXPECT_EQ(Value(), Value(nullptr));
  EXPECT_NE(Value(), Value::object());
}

TEST(Value, GetIntegerIsExactAndInRange) {
  int64_t n = 0;
  EXPECT_TRUE(Value(42.0).get_integer(0, 100, &n));
  EXPECT_EQ(n, 42);
  EXPECT_FALSE(Value(42.5).get_integer(0, 100, &n));
  EXPECT_FALSE(Value(101).get_integer(0, 100, &n));
  EXPECT_FALSE(Value(-1).get_integer(0, 100, &n));
  EXPECT_FALSE(Value(UINT64_MAX).get_integer(0, INT64_MAX, &n));
  EXPECT_FALSE(Value(9.3e18).get_integer(INT64_MIN, INT64_MAX, &n));
  EXPECT_FALSE(Value("4").get_integer(0, 100, &n));
  EXPECT_TRUE(Value(INT64_MIN).get_integer(INT64_MIN, 0, &n));
  EXPECT_EQ(n, INT64_MIN);
}

TEST(Value, ObjectMembersInsertAndFind) {
  Value v;  // null becomes an object on first insertion
  EXPECT_EQ(v.find("a"), nullptr);
  v["b"] = 2;
  v["a"] = 1;
  v["b"] = "two";
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.as_object().size(), 2u);
  EXPECT_EQ(v.as_object()[0].first, "a");
  EXPECT_EQ(*v.find("b"), Value("two"));
  EXPECT_EQ(v.dump(), R"({"a":1,"b":"two"})");
  EXPECT_EQ(Value(3).find("a"), nullptr);  // not an object: nothing to find
}

// Parsers never trust their input: bad text and deep nesting are one clear error, not a crash.
TEST(Value, ParseRefusesBadTextAndDeepNesting) {
  Value v = Value(7);
  Status s = Value::parse("{\"a\":", "opts.json", &v);
  EXPECT_EQ(s.code(), Code::kDataError);
  EXPECT_EQ(s.message(), "opts.json: expected JSON text");
  EXPECT_EQ(v, Value(7));  // untouched
  const std::string ok(kMaxValueDepth, '['), ok_end(kMaxValueDepth, ']');
  EXPECT_TRUE(Value::parse(ok + ok_end, "t", &v).ok());
  s = Value::parse(ok + "[" + "]" + ok_end, "deep.json", &v);
  EXPECT_EQ(s.code(), Code::kDataError);
  EXPECT_NE(s.message().find("deep.json: expected at most 32 levels"), std::string::npos)
      << s.message();
  s = Value::parse(std::string(100000, '[') + std::string(100000, ']'), "deeper.json", &v);
  EXPECT_EQ(s.code(), Code::kDataError);
}

// A string that is not UTF-8 (a path from an odd file system) still dumps, replaced, never throws.
TEST(Value, DumpReplacesInvalidUtf8) {
  EXPECT_EQ(Value(std::string("a\xff")).dump(), "\"a\xef\xbf\xbd\"");
}

}  // namespace
}  // namespace nnet

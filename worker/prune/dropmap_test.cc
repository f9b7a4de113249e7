// Unit tests of the drop-map building blocks: Python-compatible JSON, CPython
// set/sort order, flag conversion, and the bad-input contract.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/prune/contrib_reader.h"
#include "worker/prune/dropmap.h"
#include "worker/prune/dropmap_pyset.h"
#include "worker/prune/pyjson_reader.h"
#include "worker/prune/pyjson_value.h"

namespace cohort::worker::prune {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

TEST(PyFloatReprTest, MatchesPythonRepr) {
  EXPECT_EQ(PyFloatRepr(2.0), "2.0");
  EXPECT_EQ(PyFloatRepr(0.1), "0.1");
  EXPECT_EQ(PyFloatRepr(-0.0), "-0.0");
  EXPECT_EQ(PyFloatRepr(1e16), "1e+16");
  EXPECT_EQ(PyFloatRepr(1234567890123456.0), "1234567890123456.0");
  EXPECT_EQ(PyFloatRepr(0.0001), "0.0001");
  EXPECT_EQ(PyFloatRepr(0.00001), "1e-05");
  EXPECT_EQ(PyFloatRepr(1.5e-7), "1.5e-07");
  EXPECT_EQ(PyFloatRepr(2.5e30), "2.5e+30");
  EXPECT_EQ(PyFloatRepr(1e100), "1e+100");
  EXPECT_EQ(PyFloatRepr(3.4128937007874014), "3.4128937007874014");
  EXPECT_EQ(PyFloatRepr(17.766666666666666), "17.766666666666666");
  EXPECT_EQ(PyFloatRepr(std::nan("")), "NaN");
  EXPECT_EQ(PyFloatRepr(-std::numeric_limits<double>::infinity()), "-Infinity");
}

TEST(DumpPyJsonTest, IndentOneLayout) {
  PyValue v = PyValue::Object();
  v.Set("a", PyValue::IntList({1, 2}));
  v.Set("e", PyValue::Array());
  v.Set("o", PyValue::Object());
  v.Set("s", PyValue::String("\xc3\xa9\"\n\xf0\x9f\x98\x80"));
  v.Set("n", PyValue::Null());
  v.Set("a", PyValue::Float(1.0));  // replaces in place, like a dict
  EXPECT_EQ(DumpPyJson(v),
            "{\n \"a\": 1.0,\n \"e\": [],\n \"o\": {},\n"
            " \"s\": \"\\u00e9\\\"\\n\\ud83d\\ude00\",\n \"n\": null\n}");
}

TEST(PyJsonReaderTest, RoundTripsPythonTokens) {
  auto reader = PyJsonReader::FromString(
      R"({"x": [NaN, Infinity, -Infinity, 1e400, -0, 12345678901234567890,)"
      R"( 0.5, "\ud83d\ude00\ud800"], "y": {"k": 1, "k": 2}})",
      "t.json");
  ASSERT_OK_AND_ASSIGN(PyValue v, reader->ReadValue());
  EXPECT_OK(reader->ExpectEnd());
  EXPECT_EQ(DumpPyJson(v),
            "{\n \"x\": [\n  NaN,\n  Infinity,\n  -Infinity,\n  Infinity,\n"
            "  0,\n  12345678901234567890,\n  0.5,\n"
            "  \"\\ud83d\\ude00\\ud800\"\n ],\n \"y\": {\n  \"k\": 2\n }\n}");
}

TEST(PyJsonReaderTest, RejectsMalformedJsonWithOffset) {
  for (const char* text : {"{\"a\": 01}", "{\"a\": [1,]}", "[1 2]",
                           "{\"a\": 1,}", "{\"a\": .5}", "[1] x"}) {
    auto reader = PyJsonReader::FromString(text, "bad.json");
    absl::Status status = reader->ReadValue().status();
    if (status.ok()) status = reader->ExpectEnd();
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("bad.json: byte ")))
        << text;
  }
}

TEST(PyJsonReaderTest, SkipsNestedValues) {
  auto reader = PyJsonReader::FromString(
      R"([[1, [2, "]"], {"a": "}\"["}], 7])", "t.json");
  ASSERT_OK(reader->BeginArray());
  bool first = true;
  ASSERT_OK_AND_ASSIGN(bool more, reader->NextElement(&first));
  ASSERT_TRUE(more);
  ASSERT_OK(reader->SkipValue());
  ASSERT_OK_AND_ASSIGN(more, reader->NextElement(&first));
  ASSERT_TRUE(more);
  ASSERT_OK_AND_ASSIGN(PyJsonNumber n, reader->ReadNumber());
  EXPECT_EQ(n.text, "7");
}

// Orders recorded from CPython 3.11 (list(s) after adding in this order).
TEST(PySetOrderTest, MatchesCPythonIterationOrder) {
  struct Case {
    std::vector<int64_t> inserts;
    std::vector<int64_t> order;
  };
  const std::vector<Case> cases = {
      {{82, 38, 101, 12, 18, 24, 93, 14, 54, 9, 22, 111, 107, 17, 61, 23, 108, 15},
       {101, 38, 9, 107, 12, 108, 14, 111, 15, 17, 82, 18, 61, 23, 54, 22, 24, 93}},
      {{31, 57, 15, 101, 12, 56, 11, 34, 74, 107, 36, 30},
       {34, 36, 101, 74, 11, 12, 107, 15, 56, 57, 30, 31}},
      {{584, 315, 573, 835, 698, 185, 105, 595, 584, 654, 192, 381, 99, 560, 729,
        64, 577, 61, 633, 210, 508, 696, 544, 437, 795, 321, 476, 599, 945, 464},
       {654, 795, 544, 560, 945, 437, 696, 185, 698, 315, 61, 573, 192, 64, 577,
        835, 321, 584, 464, 210, 595, 599, 729, 476, 99, 105, 633, 508, 381}},
      {{46, 38, 31, 23, 31}, {38, 23, 46, 31}},
  };
  for (const Case& c : cases) {
    PySetOrder set;
    for (int64_t k : c.inserts) set.Add(k);
    EXPECT_THAT(set.Items(), ElementsAreArray(c.order));
  }
}

TEST(PySetOrderTest, DiscardThenAddReusesDeletedSlots) {
  PySetOrder set;
  for (int64_t k : {1, 9, 17, 33, 2, 40}) set.Add(k);
  set.Discard(9);
  set.Add(41);
  set.Discard(1);
  set.Add(25);
  EXPECT_THAT(set.Items(), ElementsAre(2, 33, 40, 41, 17, 25));

  // Two deleted slots (9 and 11) on the probe path of 9: the later one wins.
  PySetOrder churn;
  for (int64_t k : {6, 3, 9, 10, 8, 4, 14, 11, 7, 5, 2}) churn.Add(k);
  for (int64_t k : {6, 8, 4, 11, 9}) churn.Discard(k);
  churn.Add(9);
  churn.Add(13);
  EXPECT_THAT(churn.Items(), ElementsAre(2, 3, 5, 7, 10, 9, 13, 14));
}

TEST(PySetOrderTest, DifferenceInsertsSurvivorsIntoAFreshTable) {
  const std::vector<int64_t> kept = {20, 26, 32, 41, 43, 49, 86, 104, 119, 120, 123};
  PySetOrder dropped;
  for (int64_t i = 0; i < 128; ++i) {
    if (std::find(kept.begin(), kept.end(), i) == kept.end()) dropped.Add(i);
  }
  EXPECT_THAT(PySetOrder::Range(128).Difference(dropped).Items(),
              ElementsAre(32, 104, 41, 43, 49, 20, 86, 119, 120, 26, 123));
}

TEST(PyStableSortByKeyTest, NanKeysFollowCPython) {
  const double nan = std::nan("");
  std::vector<double> keys = {5.0, 4.0, nan, 3.0, 1.0, 2.0};
  std::vector<int64_t> items = {0, 1, 2, 3, 4, 5};
  PyStableSortByKey(&items, [&](int64_t i) { return keys[i]; });
  EXPECT_THAT(items, ElementsAre(4, 5, 3, 1, 0, 2));
  keys = {3.0, nan, 1.0, 2.0, nan, 0.5, 2.0};
  items = {0, 1, 2, 3, 4, 5, 6};
  PyStableSortByKey(&items, [&](int64_t i) { return keys[i]; });
  EXPECT_THAT(items, ElementsAre(0, 1, 2, 3, 4, 5, 6));
}

TEST(DropMapFlagsTest, ConvertsLikeArgparse) {
  ASSERT_OK_AND_ASSIGN(
      DropMapOptions o,
      DropMapOptionsFromFlags({{"target", {" 9 "}},
                               {"output", {"out.json"}},
                               {"outlier-wnorm-thresh", {"1e4"}},
                               {"alpha", {"inf"}},
                               {"v4-floor-clamp", {"40", "60"}}}));
  EXPECT_EQ(o.target, 9);
  EXPECT_EQ(o.outlier_wnorm_thresh, 10000.0);
  EXPECT_TRUE(std::isinf(o.alpha));
  EXPECT_EQ(o.v4_floor_clamp->second, 60);
  EXPECT_THAT(DropMapOptionsFromFlags({{"target", {"x"}}, {"output", {"o"}}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--target")));
  EXPECT_THAT(DropMapOptionsFromFlags(
                  {{"target", {"1"}}, {"output", {"o"}}, {"strategy", {"p90"}}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--strategy: invalid choice")));
}

}  // namespace
}  // namespace cohort::worker::prune

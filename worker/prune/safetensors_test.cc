#include <string>
#include <vector>

#include "common/atomic_file.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "worker/prune/bf16.h"
#include "worker/prune/safetensors_index.h"
#include "worker/prune/safetensors_reader.h"
#include "worker/prune/safetensors_writer.h"

namespace cohort::worker::prune {
namespace {

using ::cohort::testing::StatusIs;
using ::cohort::testing::TempDir;
using ::testing::HasSubstr;

OutputTensor Bytes(const std::string& name, Dtype dtype,
                   std::vector<uint64_t> shape, std::string data) {
  OutputTensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.nbytes = data.size();
  t.write = [data](ShardSink& sink) { return sink.Append(data.data(), data.size()); };
  return t;
}

std::string Le64(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out;
}

// The reference's own serialization test: one F32 [1,2,3] tensor "attn.0".
TEST(SafetensorsWriterTest, MatchesReferenceSerialization) {
  std::vector<OutputTensor> tensors = {
      Bytes("attn.0", Dtype::kF32, {1, 2, 3}, std::string(24, '\0'))};
  std::string header = BuildSafetensorsHeader(std::nullopt, tensors);
  EXPECT_EQ(header.substr(0, 8), Le64(64));
  EXPECT_EQ(header.substr(8),
            "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],"
            "\"data_offsets\":[0,24]}}");
}

TEST(SafetensorsWriterTest, EmptyWithMetadataPadsWithSpaces) {
  std::string header = BuildSafetensorsHeader(
      ShardMetadata{{"framework", "pt"}}, {});
  EXPECT_EQ(header.substr(0, 8), Le64(40));
  EXPECT_EQ(header.substr(8), "{\"__metadata__\":{\"framework\":\"pt\"}}     ");
  EXPECT_EQ(BuildSafetensorsHeader(std::nullopt, {}).substr(8), "{}      ");
}

TEST(SafetensorsWriterTest, LayoutIsDtypeDescendingThenName) {
  std::vector<OutputTensor> tensors = {
      Bytes("b", Dtype::kBF16, {1}, "xx"), Bytes("a", Dtype::kBF16, {1}, "yy"),
      Bytes("z", Dtype::kU8, {1}, "u"), Bytes("c", Dtype::kF32, {1}, "ffff"),
      Bytes("q", Dtype::kF4, {2}, "4"), Bytes("d", Dtype::kC64, {1}, "cccccccc"),
      Bytes("e", Dtype::kF8E8M0, {1}, "8")};
  SortForLayout(tensors);
  std::vector<std::string> order;
  for (const auto& t : tensors) order.push_back(t.name);
  EXPECT_EQ(order, (std::vector<std::string>{"d", "c", "a", "b", "e", "z", "q"}));
}

TEST(SafetensorsRoundTripTest, WriteThenReadBack) {
  TempDir tmp;
  std::string path = tmp.Join("x.safetensors");
  ASSERT_OK(WriteSafetensorsFile(
      path, ShardMetadata{{"format", "pt"}},
      {Bytes("w", Dtype::kBF16, {2, 2}, "abcdefgh"),
       Bytes("s", Dtype::kF32, {}, "1234"),
       Bytes("n\"\n", Dtype::kF6E2M3, {4}, "666")}));
  ASSERT_OK_AND_ASSIGN(auto file, SafetensorsFile::Open(path));
  EXPECT_TRUE(file->header().has_metadata);
  ASSERT_EQ(file->header().tensors.size(), 3u);
  EXPECT_EQ(file->header().tensors[0].name, "s");
  const TensorInfo* w = file->Find("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(file->Data(*w), "abcdefgh");
  EXPECT_EQ(file->Data(*file->Find("n\"\n")), "666");
  EXPECT_EQ(file->Find("missing"), nullptr);
}

absl::Status Parse(const std::string& json, uint64_t data_size) {
  return ParseSafetensorsHeader(json, data_size, "f.safetensors").status();
}

TEST(SafetensorsHeaderTest, RejectsLyingHeaders) {
  const std::string ok =
      "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}";
  EXPECT_OK(Parse(ok, 2));
  EXPECT_THAT(Parse(ok, 1), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("truncated")));
  EXPECT_THAT(Parse(ok, 3), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("trailing")));
  EXPECT_THAT(Parse("{\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("tensor \"a\"")));
  EXPECT_THAT(Parse("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                    "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}", 3),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("overlap")));
  EXPECT_THAT(Parse("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", 4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("gap")));
  EXPECT_THAT(Parse("{\"a\":{\"dtype\":\"X9\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("X9")));
  EXPECT_THAT(Parse("{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("whole number of bytes")));
  EXPECT_THAT(Parse("{\"a\":{\"dtype\":\"U8\",\"shape\":[-2],\"data_offsets\":[0,2]}}", 2),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shape")));
  EXPECT_THAT(Parse(ok.substr(0, ok.size() - 1) + ",\"a\":{\"dtype\":\"U8\",\"shape\":[0],"
                    "\"data_offsets\":[2,2]}}", 2),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  EXPECT_THAT(Parse("{\"__metadata__\":{\"k\":1}}", 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("__metadata__")));
  EXPECT_THAT(Parse("[1]", 0), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("object")));
  EXPECT_THAT(Parse("{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,4294967296],"
                    "\"data_offsets\":[0,2]}}", 2),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("overflow")));
}

TEST(SafetensorsFileTest, SizeBoundsAndTruncation) {
  TempDir tmp;
  ASSERT_OK(WriteFileAtomically(tmp.Join("tiny"), "abc"));
  EXPECT_THAT(SafetensorsFile::Open(tmp.Join("tiny")).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too small")));
  ASSERT_OK(WriteFileAtomically(tmp.Join("huge"), Le64(200000000) + "{}"));
  EXPECT_THAT(SafetensorsFile::Open(tmp.Join("huge")).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("limit")));
  ASSERT_OK(WriteFileAtomically(tmp.Join("past"), Le64(100) + "{}"));
  EXPECT_THAT(SafetensorsFile::Open(tmp.Join("past")).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("past the end")));
  EXPECT_THAT(SafetensorsFile::Open(tmp.Join("absent")).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("absent")));
}

TEST(PyJsonTest, FloatReprMatchesPython) {
  EXPECT_EQ(PythonFloatRepr(1e-06), "1e-06");
  EXPECT_EQ(PythonFloatRepr(30.0), "30.0");
  EXPECT_EQ(PythonFloatRepr(0.0001), "0.0001");
  EXPECT_EQ(PythonFloatRepr(1e16), "1e+16");
  EXPECT_EQ(PythonFloatRepr(9999999999999998.0), "9999999999999998.0");
  EXPECT_EQ(PythonFloatRepr(-1.5), "-1.5");
  EXPECT_EQ(PythonFloatRepr(1.2), "1.2");
  EXPECT_EQ(PythonFloatRepr(123.456), "123.456");
  EXPECT_EQ(PythonFloatRepr(1.5e300), "1.5e+300");
  EXPECT_EQ(PythonFloatRepr(-0.0), "-0.0");
  EXPECT_EQ(PythonFloatRepr(5e-324), "5e-324");
}

TEST(PyJsonTest, DumpsLikePythonIndent2) {
  OrderedJson json = OrderedJson::parse(
      "{\"b\": [1, 2.5, \"\u00e9\\u0001\"], \"a\": {}, \"c\": [], \"d\": null}");
  EXPECT_EQ(PyJsonDumps(json, 2),
            "{\n  \"b\": [\n    1,\n    2.5,\n    \"\\u00e9\\u0001\"\n  ],\n"
            "  \"a\": {},\n  \"c\": [],\n  \"d\": null\n}");
  EXPECT_EQ(PyJsonDumps(json, -1),
            "{\"b\": [1, 2.5, \"\\u00e9\\u0001\"], \"a\": {}, \"c\": [], \"d\": null}");
}

TEST(Bf16Test, SpecialValuesFromTheGoldens) {
  const float alpha = static_cast<float>(1.2);
  EXPECT_EQ(ScaleBf16(0x0001, alpha), 0x0001);
  EXPECT_EQ(ScaleBf16(0x007F, alpha), 0x0098);
  EXPECT_EQ(ScaleBf16(0x7F7F, alpha), 0x7F80);
  EXPECT_EQ(ScaleBf16(0x7F4D, alpha), 0x7F76);
  EXPECT_EQ(ScaleBf16(0xFF80, alpha), 0xFF80);
  EXPECT_EQ(ScaleBf16(0x7FC0, alpha), 0xFFFF);
  EXPECT_EQ(ScaleBf16(0xFFC1, alpha), 0xFFFF);
  EXPECT_EQ(ScaleBf16(0x8000, alpha), 0x8000);
}

TEST(Bf16Test, HalfRoundTripsAndRounds) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    uint16_t v = static_cast<uint16_t>(h);
    if ((v & 0x7C00) == 0x7C00 && (v & 0x3FF) != 0) continue;  // NaN
    ASSERT_EQ(FloatToHalf(HalfToFloat(v)), v) << std::hex << h;
  }
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7C00);
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7BFF);
  EXPECT_EQ(FloatToHalf(1.0f + 1.0f / 2048), 0x3C00);  // tie to even
}

}  // namespace
}  // namespace cohort::worker::prune

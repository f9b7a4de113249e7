#include "worker/quant/gguf_reader.h"

#include <string>
#include <vector>

#include "common/atomic_file.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/quant/gguf_test_util.h"
#include "worker/quant/gguf_writer.h"

namespace cohort::worker::quant {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

void PutLe(std::string& bytes, size_t pos, uint64_t v, int size) {
  for (int i = 0; i < size; ++i)
    bytes[pos + i] = static_cast<char>(v >> (8 * i));
}

// Byte position of the tensor info fields that follow `name`.
struct InfoPos {
  size_t n_dims, dims, type, offset;
};
InfoPos FindInfo(const std::string& bytes, const std::string& name,
                 int n_dims) {
  size_t p = bytes.find(name + std::string(1, '\0'));
  if (p == std::string::npos) p = bytes.rfind(name);
  size_t after = p + name.size();
  return {after, after + 4, after + 4 + 8 * n_dims, after + 8 + 8 * n_dims};
}

// Two f32 [8] tensors (32 bytes each), one string key.
std::string TwoTensors() {
  GgufWriter w;
  w.SetString("general.architecture", "x");
  EXPECT_OK(w.AddTensor("first.weight", kGgmlF32, {8}));
  EXPECT_OK(w.AddTensor("second.weight", kGgmlF32, {8}));
  return *w.Serialize();
}

TEST(GgufReaderTest, ParsesEveryValueType) {
  ASSERT_OK_AND_ASSIGN(GgufContents g,
                       ParseGguf(testing::TinyMoeBytes(), "tiny.gguf"));
  EXPECT_EQ(g.version, 3u);
  EXPECT_EQ(*g.Find("general.architecture")->AsString(), "gemma4");
  EXPECT_EQ(*g.Find("gemma4.expert_count")->AsUint64(), 4u);
  EXPECT_EQ(*g.Find("test.u8")->AsUint64(), 200u);
  EXPECT_EQ(*g.Find("test.i8")->AsInt64(), -5);
  EXPECT_FALSE(g.Find("test.i8")->AsUint64().has_value());
  EXPECT_EQ(*g.Find("test.u16")->AsUint64(), 65535u);
  EXPECT_EQ(*g.Find("test.i16")->AsInt64(), -300);
  EXPECT_EQ(*g.Find("test.i32")->AsInt64(), -70000);
  EXPECT_EQ(*g.Find("test.u64")->AsUint64(), 1ull << 40);
  EXPECT_EQ(*g.Find("test.i64")->AsInt64(), -(1ll << 40));
  EXPECT_EQ(*g.Find("test.bool")->AsBool(), true);
  EXPECT_FLOAT_EQ(*g.Find("gemma4.rope.freq_base")->AsDouble(), 10000.0);
  EXPECT_DOUBLE_EQ(
      *g.Find("gemma4.attention.layer_norm_rms_epsilon")->AsDouble(), 1e-6);
  const GgufValue& tokens = *g.Find("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.is_array());
  EXPECT_EQ(tokens.element_type(), GgufType::kString);
  EXPECT_EQ(tokens.size(), 40u);
  EXPECT_EQ(*tokens.Element(39).AsString(), "tok39");
  EXPECT_FLOAT_EQ(*g.Find("tokenizer.ggml.scores")->Element(1).AsDouble(), -1);
  EXPECT_EQ(*g.Find("tokenizer.ggml.token_type")->Element(2).AsInt64(), 6);
  const GgufValue& nested = *g.Find("test.nested");
  EXPECT_EQ(nested.element_type(), GgufType::kArray);
  EXPECT_EQ(*nested.Element(0).Element(1).AsString(), "b");
  EXPECT_EQ(*nested.Element(1).Element(2).AsUint64(), 3u);
  EXPECT_EQ(g.Find("absent"), nullptr);
}

TEST(GgufReaderTest, TensorInfosAndLayout) {
  std::string bytes = testing::TinyMoeBytes(4);
  ASSERT_OK_AND_ASSIGN(GgufContents g, ParseGguf(bytes, "tiny.gguf"));
  ASSERT_EQ(g.tensors.size(), 6u);
  EXPECT_EQ(g.alignment, 32u);
  EXPECT_EQ(g.data_offset % 32, 0u);
  const GgufTensorInfo& down = *g.FindTensor("blk.0.ffn_down_exps.weight");
  EXPECT_THAT(down.dims, ElementsAre(256, 256, 4));
  EXPECT_STREQ(down.type_info->name, "q6_K");
  EXPECT_EQ(down.bytes, 210u * 256 * 4);
  EXPECT_EQ(down.offset % 32, 0u);
  uint64_t sum = 0;
  for (const GgufTensorInfo& t : g.tensors) sum += t.bytes;
  EXPECT_EQ(g.tensor_bytes, sum);
  EXPECT_GE(bytes.size(), g.data_offset + sum);
}

TEST(GgufReaderTest, Version2AndCustomAlignment) {
  GgufWriter w = testing::TinyMoeWriter(4, /*version=*/2);
  w.Set("general.alignment", GgufValue::U32(64));
  ASSERT_OK_AND_ASSIGN(std::string bytes, w.Serialize());
  ASSERT_OK_AND_ASSIGN(GgufContents g, ParseGguf(bytes, "v2.gguf"));
  EXPECT_EQ(g.version, 2u);
  EXPECT_EQ(g.alignment, 64u);
  EXPECT_EQ(g.data_offset % 64, 0u);
}

TEST(GgufReaderTest, NoTensors) {
  GgufWriter w;
  w.SetString("general.type", "vocab");
  ASSERT_OK_AND_ASSIGN(GgufContents g, ParseGguf(*w.Serialize(), "v.gguf"));
  EXPECT_TRUE(g.tensors.empty());
  EXPECT_EQ(g.data_offset, g.file_size);
}

TEST(GgufReaderTest, HeaderErrors) {
  EXPECT_THAT(ParseGguf("", "e.gguf"),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("e.gguf: byte 0: magic"),
                             HasSubstr("needs 4 bytes"))));
  std::string bytes = testing::TinyMoeBytes();
  std::string bad = bytes;
  bad[0] = 'X';
  EXPECT_THAT(ParseGguf(bad, "m.gguf"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a GGUF file")));
  for (uint32_t version : {0u, 1u, 4u, 0x03000000u}) {
    bad = bytes;
    PutLe(bad, 4, version, 4);
    EXPECT_THAT(ParseGguf(bad, "m.gguf"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("byte 4: version")))
        << version;
  }
  bad = bytes;
  PutLe(bad, 16, 1ull << 60, 8);  // metadata_kv_count
  EXPECT_THAT(
      ParseGguf(bad, "m.gguf"),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("metadata_kv_count")));
  bad = bytes;
  PutLe(bad, 8, 1ull << 40, 8);  // tensor_count
  EXPECT_THAT(ParseGguf(bad, "m.gguf"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("tensor_count")));
}

TEST(GgufReaderTest, MetadataErrors) {
  GgufWriter w;
  w.SetString("aaaa.x", "1");
  w.SetString("aaaa.y", "2");
  std::string bytes = *w.Serialize();
  std::string bad = bytes;
  bad[bytes.find("aaaa.y") + 5] = 'x';
  EXPECT_THAT(ParseGguf(bad, "m.gguf"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("metadata 'aaaa.x': duplicate key")));
  bad = bytes;
  size_t type_pos = bytes.find("aaaa.y") + 6;
  PutLe(bad, type_pos, 13, 4);
  EXPECT_THAT(ParseGguf(bad, "m.gguf"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("byte " + std::to_string(type_pos)),
                             HasSubstr("unknown value type 13"))));
  bad = bytes;
  PutLe(bad, type_pos + 4, 1ull << 50, 8);  // the string value's length
  EXPECT_THAT(ParseGguf(bad, "m.gguf"),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("string length 1125899906842624")));
  bad = bytes;
  PutLe(bad, bytes.find("aaaa.x") - 8, 0, 8);  // empty key
  EXPECT_THAT(ParseGguf(bad, "m.gguf"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("metadata key 0: empty key")));
}

TEST(GgufReaderTest, ArrayErrors) {
  GgufWriter w;
  w.Set("big", GgufValue::U32Array({1, 2, 3}));
  std::string bytes = *w.Serialize();
  std::string bad = bytes;
  PutLe(bad, bytes.find("big") + 3 + 4 + 4, 1ull << 61, 8);  // count
  EXPECT_THAT(
      ParseGguf(bad, "m.gguf"),
      StatusIs(absl::StatusCode::kDataLoss,
               AllOf(HasSubstr("metadata 'big'"),
                     HasSubstr("array of 2305843009213693952 uint32"))));
  // One element more than the bytes left could hold (a string takes 8 at
  // least) is refused before anything is reserved.
  GgufWriter names;
  names.Set("names", GgufValue::StringArray({"a", "b", "c"}));
  std::string text = *names.Serialize();
  size_t count_pos = text.find("names") + 5 + 4 + 4;
  uint64_t left = text.size() - (count_pos + 8);
  bad = text;
  PutLe(bad, count_pos, left / 8 + 1, 8);
  EXPECT_THAT(ParseGguf(bad, "n.gguf"),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr(absl::StrCat("exceeds the ", left, " bytes left"))));
  GgufValue deep = GgufValue::U32Array({7});
  for (int i = 0; i < kMaxArrayDepth; ++i) deep = GgufValue::Arrays({deep});
  GgufWriter d;
  d.Set("deep", deep);
  EXPECT_THAT(
      ParseGguf(*d.Serialize(), "d.gguf"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nested deeper")));
}

TEST(GgufReaderTest, AlignmentMustBeUint32PowerOfTwo) {
  for (GgufValue v :
       {GgufValue::U32(48), GgufValue::U32(0), GgufValue::U64(32)}) {
    GgufWriter w;
    w.Set("general.alignment", v);
    EXPECT_THAT(ParseGguf(*w.Serialize(), "a.gguf"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("power of two")));
  }
}

TEST(GgufReaderTest, TensorInfoErrors) {
  std::string bytes = TwoTensors();
  InfoPos first = FindInfo(bytes, "first.weight", 1);
  std::string bad = bytes;
  PutLe(bad, first.type, 99, 4);
  EXPECT_THAT(ParseGguf(bad, "t.gguf"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("byte " + std::to_string(first.type)),
                             HasSubstr("tensor 'first.weight'"),
                             HasSubstr("unknown or removed ggml type 99"))));
  bad = bytes;
  PutLe(bad, first.type, 8, 4);  // q8_0 with 8 elements per row
  EXPECT_THAT(ParseGguf(bad, "t.gguf"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a multiple of the q8_0 block size 32")));
  bad = bytes;
  PutLe(bad, first.n_dims, 5, 4);
  EXPECT_THAT(
      ParseGguf(bad, "t.gguf"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("5 dims")));
  bad = bytes;
  PutLe(bad, first.dims, 1ull << 62, 8);
  EXPECT_THAT(
      ParseGguf(bad, "t.gguf"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("overflow")));
}

TEST(GgufReaderTest, TensorNameRules) {
  GgufWriter w;
  ASSERT_OK(w.AddTensor(std::string(64, 'n'), kGgmlF32, {8}));
  EXPECT_THAT(ParseGguf(*w.Serialize(), "n.gguf"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("name length 64")));
  GgufWriter two;
  ASSERT_OK(two.AddTensor("aaaa.weight", kGgmlF32, {8}));
  ASSERT_OK(two.AddTensor("bbbb.weight", kGgmlF32, {8}));
  std::string bytes = *two.Serialize();
  bytes.replace(bytes.find("bbbb.weight"), 4, "aaaa");
  EXPECT_THAT(ParseGguf(bytes, "d.gguf"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("tensor 'aaaa.weight': duplicate")));
}

TEST(GgufReaderTest, OffsetErrors) {
  std::string bytes = TwoTensors();
  InfoPos first = FindInfo(bytes, "first.weight", 1);
  InfoPos second = FindInfo(bytes, "second.weight", 1);
  std::string bad = bytes;
  PutLe(bad, second.offset, 33, 8);
  EXPECT_THAT(ParseGguf(bad, "o.gguf"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("offset 33 is not a multiple of the "
                                 "alignment 32")));
  bad = bytes;
  PutLe(bad, second.offset, 0, 8);
  EXPECT_THAT(ParseGguf(bad, "o.gguf"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("overlaps tensor")));
  bad = bytes;
  PutLe(bad, second.offset, 64, 8);
  EXPECT_THAT(
      ParseGguf(bad, "o.gguf"),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("runs past the end")));
  bad = bytes;
  PutLe(bad, first.offset, 32, 8);
  PutLe(bad, second.offset, 0, 8);
  EXPECT_THAT(ParseGguf(bad, "o.gguf"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("packed in info order")));
  EXPECT_THAT(ParseGguf(bytes.substr(0, bytes.size() - 1), "o.gguf"),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("tensor 'second.weight'"),
                             HasSubstr("runs past the end"))));
}

TEST(GgufReaderTest, ReadGgufFile) {
  cohort::testing::TempDir dir;
  ASSERT_OK(testing::TinyMoeWriter().WriteFile(dir.Join("m.gguf")));
  ASSERT_OK_AND_ASSIGN(GgufContents g, ReadGgufFile(dir.Join("m.gguf")));
  EXPECT_EQ(g.tensors.size(), 6u);
  EXPECT_EQ(g.file, dir.Join("m.gguf"));
  ASSERT_OK(WriteFileAtomically(dir.Join("empty.gguf"), ""));
  EXPECT_THAT(ReadGgufFile(dir.Join("empty.gguf")),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("empty.gguf")));
  EXPECT_THAT(ReadGgufFile(dir.Join("missing.gguf")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.gguf")));
  EXPECT_THAT(ReadGgufFile(dir.path()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a regular file")));
}

}  // namespace
}  // namespace cohort::worker::quant

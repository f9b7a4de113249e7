#include "worker/quant/ggml_types.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::worker::quant {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;

TEST(GgmlTypesTest, BlockGeometryMatchesGgml) {
  struct Case {
    const char* name;
    uint32_t id, block, bytes;
  };
  for (const Case& c : std::vector<Case>{{"f32", 0, 1, 4},
                                         {"f16", 1, 1, 2},
                                         {"q4_0", 2, 32, 18},
                                         {"q8_0", 8, 32, 34},
                                         {"q2_K", 10, 256, 84},
                                         {"q3_K", 11, 256, 110},
                                         {"q4_K", 12, 256, 144},
                                         {"q5_K", 13, 256, 176},
                                         {"q6_K", 14, 256, 210},
                                         {"q8_K", 15, 256, 292},
                                         {"iq2_xxs", 16, 256, 66},
                                         {"iq4_xs", 23, 256, 136},
                                         {"iq1_m", 29, 256, 56},
                                         {"bf16", 30, 1, 2},
                                         {"tq1_0", 34, 256, 54},
                                         {"mxfp4", 39, 32, 17}}) {
    const GgmlTypeInfo* t = FindGgmlType(c.id);
    ASSERT_NE(t, nullptr) << c.name;
    EXPECT_STREQ(t->name, c.name);
    EXPECT_EQ(t->block_size, c.block) << c.name;
    EXPECT_EQ(t->type_size, c.bytes) << c.name;
    EXPECT_EQ(FindGgmlTypeByName(c.name), t);
  }
}

TEST(GgmlTypesTest, RemovedAndUnknownIdsAreUnknown) {
  for (uint32_t id : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 42u, 1000u}) {
    EXPECT_EQ(FindGgmlType(id), nullptr) << id;
  }
  EXPECT_EQ(FindGgmlTypeByName("q4_2"), nullptr);
}

TEST(GgmlTypesTest, TensorBytes) {
  const GgmlTypeInfo& q6 = *FindGgmlType(kGgmlQ6_K);
  // Gemma 4's pruned expert down projection: [704, 2816, 98] is not Q6_K-able
  // (704 % 256 != 0); the gate/up one is.
  EXPECT_THAT(TensorBytes(q6, {704, 2816, 98}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a multiple")));
  ASSERT_OK_AND_ASSIGN(uint64_t bytes, TensorBytes(q6, {2816, 1408, 98}));
  EXPECT_EQ(bytes, 2816ull / 256 * 210 * 1408 * 98);
  ASSERT_OK_AND_ASSIGN(uint64_t scalar, TensorBytes(*FindGgmlType(0), {}));
  EXPECT_EQ(scalar, 4u);
  ASSERT_OK_AND_ASSIGN(uint64_t empty, TensorBytes(*FindGgmlType(0), {0, 5}));
  EXPECT_EQ(empty, 0u);
}

TEST(GgmlTypesTest, TensorBytesOverflow) {
  const GgmlTypeInfo& f32 = *FindGgmlType(kGgmlF32);
  EXPECT_THAT(TensorBytes(f32, {1ull << 62, 4}),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("overflow")));
  EXPECT_THAT(TensorBytes(f32, {1ull << 61}),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("overflow")));
  EXPECT_THAT(TensorBytes(f32, {~0ull}),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("2^63")));
}

TEST(GgmlTypesTest, FileTypeNames) {
  EXPECT_EQ(LlamaFileTypeName(0), "ALL_F32");
  EXPECT_EQ(LlamaFileTypeName(18), "MOSTLY_Q6_K");
  EXPECT_EQ(LlamaFileTypeName(32), "MOSTLY_BF16");
  EXPECT_EQ(LlamaFileTypeName(38), "MOSTLY_MXFP4_MOE");
  EXPECT_EQ(LlamaFileTypeName(1024), "GUESSED");
  EXPECT_EQ(LlamaFileTypeName(999), "UNKNOWN_999");
}

TEST(GgmlTypesTest, FileTypeFromName) {
  EXPECT_EQ(*LlamaFileTypeFromName("Q6_K"), 18u);
  EXPECT_EQ(*LlamaFileTypeFromName("mostly_q6_k"), 18u);
  EXPECT_EQ(*LlamaFileTypeFromName("F32"), 0u);
  EXPECT_EQ(*LlamaFileTypeFromName("bf16"), 32u);
  EXPECT_EQ(*LlamaFileTypeFromName("Q4_K"), 15u);  // alias of Q4_K_M
  EXPECT_EQ(*LlamaFileTypeFromName("LLAMA_FTYPE_MOSTLY_Q8_0"), 7u);
  EXPECT_THAT(LlamaFileTypeFromName("Q7_K"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Q7_K")));
}

}  // namespace
}  // namespace cohort::worker::quant

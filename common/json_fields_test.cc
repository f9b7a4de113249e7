#include "common/json_fields.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort {
namespace {

using ::cohort::testing::IsOk;
using ::cohort::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;

TEST(JsonFieldsTest, ReadsEachTypeAndNamesThePathOfWhatIsWrong) {
  json j = json::parse(R"({"n": 3, "big": 18446744073709551615, "share": 0.5, "none": null,
                           "ok": true, "name": "x", "names": ["a", "b"], "weights": [1, 2.5],
                           "kinds": {"stop": 2}, "layers": [{"type": "q4_K"}, {"type": 4}]})");
  JsonFields f(j, "quant_map.json");
  ASSERT_THAT(f.CheckObject(), IsOk());
  int64_t n = 0;
  EXPECT_THAT(f.Int("n", &n), IsOk());
  EXPECT_EQ(n, 3);
  uint64_t big = 0;
  EXPECT_THAT(f.Uint("big", &big), IsOk());
  EXPECT_EQ(big, UINT64_MAX);
  EXPECT_THAT(f.Int("big", &n), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("quant_map.json.big is number")));
  EXPECT_THAT(f.Int("share", &n), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("share is number, not an integer")));
  std::optional<double> share = 7;
  EXPECT_THAT(f.NullableDouble("none", &share), IsOk());
  EXPECT_FALSE(share.has_value());
  EXPECT_THAT(f.NullableDouble("share", &share), IsOk());
  EXPECT_EQ(share, 0.5);
  bool ok = false;
  EXPECT_THAT(f.Bool("ok", &ok), IsOk());
  EXPECT_TRUE(ok);
  std::string name;
  EXPECT_THAT(f.String("n", &name), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("quant_map.json.n is number, not a string")));
  std::vector<std::string> names;
  EXPECT_THAT(f.Strings("names", &names), IsOk());
  EXPECT_THAT(names, ElementsAre("a", "b"));
  std::vector<double> weights;
  EXPECT_THAT(f.Doubles("weights", &weights), IsOk());
  EXPECT_THAT(weights, ElementsAre(1.0, 2.5));
  EXPECT_THAT(f.Strings("weights", &names),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("quant_map.json.weights[0] is number, not a string")));
  std::map<std::string, int64_t> kinds;
  EXPECT_THAT(f.Counts("kinds", &kinds), IsOk());
  EXPECT_EQ(kinds["stop"], 2);
  absl::StatusOr<std::vector<JsonFields>> layers = f.Elements("layers");
  ASSERT_THAT(layers.status(), IsOk());
  EXPECT_THAT((*layers)[1].String("type", &name),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("quant_map.json.layers[1].type is number")));
  EXPECT_THAT(f.Child("kinds").Int("length", &n),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("quant_map.json.kinds.length is missing")));
  EXPECT_THAT(f.Counts("absent", &kinds),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("absent is missing")));
}

TEST(JsonFieldsTest, ANonObjectIsAnErrorForEveryRead) {
  json list = json::array({1});
  JsonFields f(list, "summary");
  EXPECT_THAT(f.CheckObject(), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("summary is array, not an object")));
  int64_t n = 0;
  EXPECT_THAT(f.Int("n", &n), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("summary is array")));
  EXPECT_FALSE(f.Has("n"));
  EXPECT_TRUE(f.IsNull("n"));
}

}  // namespace
}  // namespace cohort

#include "server/service/convert.h"

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace cohort::server {
namespace {

TEST(ProgressJsonTest, CountsAreStoredAsNumbersAndReadBack) {
  v1::StepProgress progress;
  progress.set_done(90);
  progress.set_total(18446744073709551615ull);
  progress.set_passed(7);
  progress.set_unit("tensors");
  progress.set_message("[ 90/ 90] output.weight");
  const std::string json = ProgressToJson(progress);
  nlohmann::json parsed = nlohmann::json::parse(json);
  EXPECT_TRUE(parsed["done"].is_number_unsigned());
  EXPECT_TRUE(parsed["total"].is_number_unsigned());
  v1::StepProgress back = ProgressFromJson(json);
  EXPECT_EQ(back.done(), 90u);
  EXPECT_EQ(back.total(), 18446744073709551615ull);
  EXPECT_EQ(back.passed(), 7u);
  EXPECT_EQ(back.unit(), "tensors");
  EXPECT_EQ(back.message(), "[ 90/ 90] output.weight");
}

// Rows written by earlier versions hold protobuf JSON, whose uint64 fields
// are strings; reading one threw and made the whole campaign unreadable.
TEST(ProgressJsonTest, ProtobufJsonStringCountsAreRead) {
  v1::StepProgress back = ProgressFromJson(R"({"done":"90","total":"90","unit":"tensors"})");
  EXPECT_EQ(back.done(), 90u);
  EXPECT_EQ(back.total(), 90u);
  EXPECT_EQ(back.unit(), "tensors");
}

TEST(ProgressJsonTest, MalformedRowsReadAsEmptyInsteadOfThrowing) {
  for (const char* bad : {"", "not json", "[1,2]", R"({"done":{},"total":[1],"unit":5})",
                          R"({"done":"-3","total":-4,"passed":1.5,"message":null})",
                          R"({"done":"99999999999999999999999"})"}) {
    v1::StepProgress back = ProgressFromJson(bad);
    EXPECT_EQ(back.done(), 0u) << bad;
    EXPECT_EQ(back.total(), 0u) << bad;
    EXPECT_EQ(back.unit(), "") << bad;
    EXPECT_EQ(back.message(), "") << bad;
  }
}

TEST(ProgressJsonTest, InvalidUtf8InTheMessageDoesNotThrow) {
  v1::StepProgress progress;
  progress.set_message(std::string("bad \xff\xfe bytes"));
  v1::StepProgress back = ProgressFromJson(ProgressToJson(progress));
  EXPECT_NE(back.message().find("bad "), std::string::npos);
}

// A step record with a malformed progress row still converts, with the rest
// of the step intact.
TEST(ProgressJsonTest, StepWithMalformedProgressStillConverts) {
  StepRecord step;
  step.key = "k";
  step.progress_json = R"({"done":"x"})";
  v1::Step out;
  StepToProto(step, &out);
  EXPECT_EQ(out.key(), "k");
  EXPECT_EQ(out.progress().done(), 0u);
}

}  // namespace
}  // namespace cohort::server

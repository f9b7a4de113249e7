// The expected numbers are worked out by hand from the fixture.
#include "client/report/plots.h"

#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "common/subprocess.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::client::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Row R(const std::string& model, const std::string& suite, const std::string& id, Verdict v,
      uint64_t tokens, const std::string& finish = "stop") {
  Row r;
  r.model = model;
  r.suite = suite;
  r.problem_id = id;
  r.verdict = v;
  r.completion_tokens = tokens;
  r.finish_reason = finish;
  return r;
}

std::vector<Row> Fixture() {
  const Verdict P = Verdict::kPass, F = Verdict::kFail;
  return {R("A", "math500", "p1", P, 100), R("A", "math500", "p2", P, 200),
          R("A", "math500", "p3", F, 300), R("A", "math500", "p4", F, 12288, "length"),
          R("ref", "math500", "p1", P, 50), R("ref", "math500", "p2", F, 60),
          R("ref", "math500", "p3", Verdict::kError, 0), R("ref", "gsm8k", "g1", P, 70)};
}

int Count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(PlotsTest, LengthsShowEachProblemAndTheLaneNumbers) {
  std::string svg = LengthsSvg(Fixture(), "math500", {"A", "ref", "absent"}, 12000);
  // One dot per measured problem: A 2 passed + 2 failed, ref 1 + 1 (its
  // server error is counted, not drawn).
  EXPECT_EQ(Count(svg, "<circle"), 6 + 2);  // + the legend's two
  EXPECT_EQ(Count(svg, "fill=\"#2e7d32\" fill-opacity"), 3);
  EXPECT_EQ(Count(svg, "fill=\"#c62828\" fill-opacity"), 3);
  // A: tokens 100 200 300 12288: p50 rank 2 = 200, p90 rank 4 = 12288; the
  // 12288 answer is saturated and failed; pass mean 150, fail mean 6294.
  EXPECT_THAT(svg, HasSubstr("p50 200 · p90 12,288 · sat 1 (1 failed)"));
  EXPECT_THAT(svg, HasSubstr("mean pass 150 · fail 6,294"));
  EXPECT_THAT(svg, HasSubstr("mean pass 50 · fail 60 · 1 server errors"));
  EXPECT_THAT(svg, HasSubstr("saturation 12,000"));
  EXPECT_THAT(svg, Not(HasSubstr(">absent<")));  // no rows on the suite: no lane
}

TEST(PlotsTest, ScoreboardBarsAndDeltas) {
  Scoreboard board = BuildScoreboard(Fixture(), {"A"}, {"ref"});
  std::string svg = ScoreboardSvg(board);
  // A on math500: 2 of 4 = 50.0%; ref: 1 of 3 (its error stays in n) = 33.3%.
  EXPECT_THAT(svg, HasSubstr("50.0% (n=4)  Δ +16.7"));
  EXPECT_THAT(svg, HasSubstr("33.3% (n=3)<"));
  // Bars are proportional: the plot area is 760 - 110 - 170 = 480 px.
  EXPECT_THAT(svg, HasSubstr("width=\"240.0\""));
  EXPECT_THAT(svg, HasSubstr("width=\"160.0\""));
  EXPECT_THAT(svg, HasSubstr("Δ in points against ref"));
}

TEST(PlotsTest, NamesAreEscapedAndFileNamesSafe) {
  std::vector<Row> rows = {R("<script>alert(1)</script>", "a/b", "p", Verdict::kPass, 5),
                           R("m", "a_b", "p", Verdict::kFail, 5)};
  Scoreboard board = BuildScoreboard(rows, {}, {});
  std::vector<PlotFile> files = RenderPlots(rows, board, 12000);
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].name, "scoreboard.svg");
  EXPECT_EQ(files[1].name, "lengths-a_b.svg");
  EXPECT_EQ(files[2].name, "lengths-a_b-2.svg");
  for (const PlotFile& f : files) {
    EXPECT_THAT(f.svg, Not(HasSubstr("<script>"))) << f.name;
  }
  EXPECT_THAT(files[0].svg, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_EQ(XmlEscape("a&\"'\x01"), "a&amp;&quot;&apos; ");
}

// A real SVG renderer (librsvg's rsvg-convert, installed by
// deploy/install-deps.sh) reads every plot and draws it at its size.
TEST(PlotsTest, LibrsvgRendersEveryPlot) {
  cohort::testing::TempDir dir;
  std::vector<Row> rows = Fixture();
  rows.push_back(R("naïve «model» & co", "ifeval", "x", Verdict::kPass, 900));
  Scoreboard board = BuildScoreboard(rows, {"A"}, {"ref"});
  for (const PlotFile& f : RenderPlots(rows, board, 12000)) {
    std::string svg_path = dir.Join(f.name);
    std::ofstream(svg_path) << f.svg;
    SubprocessOptions options;
    options.argv = {"rsvg-convert", "-f", "png", "-o", svg_path + ".png", svg_path};
    absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
    ASSERT_TRUE(r.ok()) << r.status() << " (apt install librsvg2-bin)";
    EXPECT_TRUE(r->Succeeded()) << f.name << ": " << r->Describe();
    std::ifstream png(svg_path + ".png", std::ios::binary);
    char magic[8] = {};
    png.read(magic, 8);
    EXPECT_EQ(std::string(magic + 1, 3), "PNG") << f.name;
  }
}

}  // namespace
}  // namespace cohort::client::report

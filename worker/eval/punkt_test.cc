#include "worker/eval/punkt.h"

#include <fstream>
#include <string>
#include <vector>

#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::worker::eval {
namespace {

// A small model of our own (not NLTK's English one, which is not in Debian)
// and the sentences NLTK 3.8's PunktSentenceTokenizer (Debian python3-nltk)
// gives with the same parameters: tests/data/reference_verdicts/README.md,
// "Punkt", has the script.
void WriteModel(const cohort::testing::TempDir& dir) {
  std::ofstream(dir.Join("abbrev_types.txt")) << "dr\nmr\nmrs\nu.s\netc\ne.g\ni.e\nvs\ninc\njan\nsec\n";
  std::ofstream(dir.Join("collocations.tab")) << "j\tsmith\n##number##\tmillion\n";
  std::ofstream(dir.Join("sent_starters.txt")) << "the\nbut\nhowever\nin\nit\n";
  std::ofstream(dir.Join("ortho_context.tab"))
      << "smith\t4\nthe\t34\nhe\t34\nthen\t34\nand\t32\nred\t32\nbut\t2\nnobody\t32\narmy\t4\n"
         "second\t32\nfirst\t32\nyes\t2\nline\t2\nthird\t32\nok\t2\ncafé\t4\nótimo\t2\nça\t2\n";
}

TEST(PunktTest, SentencesEqualNltks) {
  cohort::testing::TempDir dir;
  WriteModel(dir);
  absl::StatusOr<PunktTokenizer> punkt = PunktTokenizer::Load(dir.path());
  ASSERT_TRUE(punkt.ok()) << punkt.status();
  struct Case {
    std::string text;
    std::vector<std::string> sentences;
  };
  const Case cases[] = {
      {"Dr. Smith went home. He was tired.", {"Dr. Smith went home.", "He was tired."}},
      {"It costs $5.5 million. But nobody paid.", {"It costs $5.5 million.", "But nobody paid."}},
      {"It cost 5. million dollars. the end.", {"It cost 5. million dollars.", "the end."}},
      {"J. Smith arrived. Then he left.", {"J. Smith arrived.", "Then he left."}},
      {"Wait... what? Really!", {"Wait... what?", "Really!"}},
      {"He said \"Stop.\" Then he left.", {"He said \"Stop.\"", "Then he left."}},
      {"(See Sec. 3.) The end.", {"(See Sec.", "3.)", "The end."}},
      {"I like apples, e.g. red ones. and pears.", {"I like apples, e.g. red ones.", "and pears."}},
      {"The U.S. Army is big. The U.S. is too.", {"The U.S. Army is big.", "The U.S. is too."}},
      {"No punctuation at all", {"No punctuation at all"}},
      {"Line one.\n\nLine two.\nthird line without stop", {"Line one.", "Line two.", "third line without stop"}},
      {"Numbers: 1. First item. 2. Second item.", {"Numbers: 1.", "First item.", "2.", "Second item."}},
      {"Ellipsis.. odd. And -- dashes -- here. Ok?!? Yes.", {"Ellipsis.. odd.", "And -- dashes -- here.", "Ok?!?", "Yes."}},
      {"Café é bom. Ótimo!  Ça va.", {"Café é bom.", "Ótimo!", "Ça va."}},
      {"a.b.c. d", {"a.b.c.", "d"}},
      {"", {}},
      {"   \n  ", {}},
      {"Mr. and Mrs. Jones vs. the U.S. Inc. Fine. However, no.", {"Mr. and Mrs. Jones vs. the U.S. Inc. Fine.", "However, no."}},
      {"End with quote.\" Next one.", {"End with quote.\"", "Next one."}},
      {"He left.) And came back. [Really.] Yes.", {"He left.)", "And came back.", "[Really.]", "Yes."}},
      {"x. Y. z. W.", {"x. Y. z. W."}},
      {"It is 3 p.m. The meeting ends.", {"It is 3 p.m.", "The meeting ends."}},
      {"A sentence.   Another sentence.\tThird one.", {"A sentence.", "Another sentence.", "Third one."}},
      {"Tab\tseparated. Words here!", {"Tab\tseparated.", "Words here!"}},
      {"... leading dots. Then text.", {"... leading dots.", "Then text."}},
      {"Q: what? A: nothing.", {"Q: what?", "A: nothing."}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(punkt->Tokenize(c.text), c.sentences) << c.text;
  }
}

TEST(PunktTest, BadModelFilesAreNamed) {
  cohort::testing::TempDir dir;
  WriteModel(dir);
  std::ofstream(dir.Join("ortho_context.tab")) << "word\tnot-a-number\n";
  absl::StatusOr<PunktTokenizer> bad = PunktTokenizer::Load(dir.path());
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("ortho_context.tab:1"));
  cohort::testing::TempDir empty;
  EXPECT_EQ(PunktTokenizer::Load(empty.path()).status().code(), absl::StatusCode::kNotFound);
}

TEST(PunktTest, TotalOnHostileInput) {
  cohort::testing::TempDir dir;
  WriteModel(dir);
  absl::StatusOr<PunktTokenizer> punkt = PunktTokenizer::Load(dir.path());
  ASSERT_TRUE(punkt.ok());
  for (const std::string& unit : {std::string(". "), std::string("\xff."), std::string("...\n"),
                                  std::string("\")"), std::string("a. ")}) {
    std::string text;
    while (text.size() < 20000) text += unit;
    std::vector<std::string> sentences = punkt->Tokenize(text);
    EXPECT_LE(sentences.size(), text.size()) << unit;
  }
}

}  // namespace
}  // namespace cohort::worker::eval

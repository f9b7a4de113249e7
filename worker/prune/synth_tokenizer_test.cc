// The synthetic tokenizer: every token is text, the files agree with each
// other and with config.json, and tokenizer.model is a ModelProto that
// parses back with the ids the config names.
#include "worker/prune/synth_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "common/atomic_file.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sentencepiece/model.pb.h"
#include "worker/prune/safetensors_index.h"
#include "worker/prune/expert_drop_plan.h"
#include "worker/prune/safetensors_reader.h"
#include "worker/prune/synth_model.h"

namespace cohort::worker::prune {
namespace {

using ::cohort::testing::StatusIs;
using ::cohort::testing::TempDir;
using ::testing::HasSubstr;
using json = nlohmann::json;

// A strict UTF-8 check: no lone continuation bytes, no overlong forms, no
// surrogates, nothing above U+10FFFF.
bool IsValidUtf8(const std::string& s) {
  static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      len = 1, cp = c;
    } else if ((c >> 5) == 6) {
      len = 2, cp = c & 0x1F;
    } else if ((c >> 4) == 14) {
      len = 3, cp = c & 0x0F;
    } else if ((c >> 3) == 30) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

TEST(SynthUtf8CheckTest, RejectsBrokenSequences) {
  EXPECT_TRUE(IsValidUtf8("a\xE2\x96\x81"));
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_FALSE(IsValidUtf8("\xE2\x96"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));
}

class SynthTokenizerTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SynthTokenizerTest, EveryTokenButTheSilentBytesDecodesToText) {
  for (int vocab : {MinSynthVocab(GetParam()), 512, 1000}) {
    ASSERT_OK_AND_ASSIGN(SynthTokenizer t, BuildSynthTokenizer(GetParam(), vocab));
    ASSERT_EQ(t.tokens.size(), static_cast<size_t>(vocab));
    std::set<std::string> seen;
    std::set<int> bytes;  // every byte has a token
    for (int id = 0; id < vocab; ++id) {
      const SynthToken& token = t.tokens[id];
      EXPECT_FALSE(token.text.empty());
      EXPECT_TRUE(IsValidUtf8(token.text)) << token.text;
      EXPECT_TRUE(seen.insert(token.text).second) << "duplicate " << token.text;
      std::string decoded = DecodeToken(t, id);
      bool silent = id >= t.silent_begin && id < t.silent_end;
      if (silent) {
        ASSERT_EQ(decoded.size(), 1u) << id;
        EXPECT_GE(static_cast<unsigned char>(decoded[0]), 0x80) << id;
      } else {
        EXPECT_TRUE(IsValidUtf8(decoded)) << id << " " << token.text;
      }
      if (decoded.size() == 1 && token.kind != SynthToken::Kind::kControl) {
        bytes.insert(static_cast<unsigned char>(decoded[0]));
      }
    }
    EXPECT_EQ(t.silent_end - t.silent_begin, 128);
    for (int b = 0; b < 256; ++b) {
      if (b != ' ') {
        EXPECT_TRUE(bytes.count(b)) << "no token for byte " << b;
      }
    }
    EXPECT_EQ(DecodeToken(t, t.newline_id), "\n");
    ASSERT_GE(t.newline_id, 0);
    ASSERT_GE(t.eos_id, 0);
    EXPECT_EQ(t.tokens[t.eos_id].kind, SynthToken::Kind::kControl);
  }
}

TEST_P(SynthTokenizerTest, EveryMergeBuildsAnEntryFromTwoEntries) {
  ASSERT_OK_AND_ASSIGN(SynthTokenizer t, BuildSynthTokenizer(GetParam(), 500));
  std::set<std::string> vocab;
  for (const SynthToken& token : t.tokens) vocab.insert(token.text);
  ASSERT_FALSE(t.merges.empty());
  for (const auto& [left, right] : t.merges) {
    EXPECT_TRUE(vocab.count(left)) << left;
    EXPECT_TRUE(vocab.count(right)) << right;
    EXPECT_TRUE(vocab.count(left + right)) << left << right;
  }
}

TEST_P(SynthTokenizerTest, TooSmallAVocabularyIsRefused) {
  EXPECT_THAT(BuildSynthTokenizer(GetParam(), MinSynthVocab(GetParam()) - 1).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too small")));
}

TEST_P(SynthTokenizerTest, TokenizerJsonListsEveryTokenOnce) {
  ASSERT_OK_AND_ASSIGN(SynthTokenizer t, BuildSynthTokenizer(GetParam(), 500));
  json j = json::parse(TokenizerJson(t));
  const json& vocab = j["model"]["vocab"];
  EXPECT_EQ(vocab.size(), 500u);
  for (const json& added : j["added_tokens"]) {
    int id = added["id"];
    EXPECT_EQ(added["content"], t.tokens[id].text);
  }
  json config = json::parse(TokenizerConfigJson(t));
  EXPECT_EQ(config["eos_token"], t.eos_token);
}

INSTANTIATE_TEST_SUITE_P(Layouts, SynthTokenizerTest,
                         ::testing::Values("gemma4", "mixtral", "qwen3moe", "deepseekv3",
                                           "gptoss", "llama4"));

TEST(SynthTokenizerTest, SentencePieceModelParsesBackWithTheConfigIds) {
  ASSERT_OK_AND_ASSIGN(SynthTokenizer t, BuildSynthTokenizer("mixtral", 512));
  spm::ModelProto model;
  ASSERT_TRUE(model.ParseFromString(SentencePieceModel(t)));
  ASSERT_EQ(model.pieces_size(), 512);
  EXPECT_EQ(model.pieces(0).piece(), "<unk>");
  EXPECT_EQ(model.pieces(0).type(), spm::ModelProto::SentencePiece::UNKNOWN);
  EXPECT_EQ(model.pieces(1).type(), spm::ModelProto::SentencePiece::CONTROL);
  EXPECT_EQ(model.pieces(t.newline_id).piece(), "<0x0A>");
  EXPECT_EQ(model.pieces(t.newline_id).type(), spm::ModelProto::SentencePiece::BYTE);
  EXPECT_EQ(model.trainer_spec().unk_id(), 0);
  EXPECT_EQ(model.trainer_spec().bos_id(), 1);
  EXPECT_EQ(model.trainer_spec().eos_id(), 2);
  EXPECT_TRUE(model.trainer_spec().byte_fallback());
  // Normal pieces score by rank, so SentencePiece prefers the longer words.
  EXPECT_GT(model.pieces(270).score(), model.pieces(500).score());
}

TEST(SynthModelFilesTest, MixtralCheckpointCarriesAConsistentTokenizer) {
  TempDir tmp;
  SynthOptions o;
  o.layout = "mixtral";
  o.output_dir = tmp.Join("m");
  o.vocab = 600;
  o.intermediate = 48;
  o.moe_intermediate = 32;
  ASSERT_OK(SynthesizeModel(o).status());
  json config = json::parse(*ReadFileToString(o.output_dir + "/config.json"));
  EXPECT_EQ(config["vocab_size"], 600);
  EXPECT_EQ(config["bos_token_id"], 1);
  EXPECT_EQ(config["eos_token_id"], 2);
  EXPECT_EQ(config["max_position_embeddings"], 32768);
  // One FFN width in a Mixtral config, and it is the experts'.
  EXPECT_EQ(config["intermediate_size"], 32);
  EXPECT_FALSE(config.contains("moe_intermediate_size"));
  spm::ModelProto model;
  ASSERT_TRUE(model.ParseFromString(*ReadFileToString(o.output_dir + "/tokenizer.model")));
  EXPECT_EQ(model.pieces_size(), 600);
  std::string chat = *ReadFileToString(o.output_dir + "/chat_template.jinja");
  EXPECT_THAT(chat, HasSubstr("bos_token"));
  EXPECT_TRUE(json::parse(*ReadFileToString(o.output_dir + "/tokenizer.json")).is_object());
}

// The output rows of the bytes 0x80..0xFF are zero (a greedy model never
// emits a lone high byte); the other rows are not.
TEST(SynthModelFilesTest, HighByteTokensHaveSilentOutputRows) {
  TempDir tmp;
  SynthOptions o;
  o.layout = "mixtral";
  o.output_dir = tmp.Join("m");
  o.hidden = 64;
  ASSERT_OK(SynthesizeModel(o).status());
  ASSERT_OK_AND_ASSIGN(SynthTokenizer t, BuildSynthTokenizer("mixtral", o.vocab));
  ASSERT_OK_AND_ASSIGN(ModelIndex index, ReadModelIndex(o.output_dir));
  ASSERT_OK_AND_ASSIGN(OpenShards shards, OpenIndexShards(o.output_dir, index));
  const SafetensorsFile* file = nullptr;
  for (const auto& [name, shard] : index.weight_map) {
    if (name == "lm_head.weight") file = shards.at(shard).get();
  }
  ASSERT_NE(file, nullptr);
  absl::string_view data = file->Data(*file->Find("lm_head.weight"));
  const size_t row = static_cast<size_t>(o.hidden) * 2;  // bf16
  auto zero = [&](int id) {
    absl::string_view r = data.substr(static_cast<size_t>(id) * row, row);
    return std::all_of(r.begin(), r.end(), [](char c) { return c == 0; });
  };
  ASSERT_EQ(t.silent_end - t.silent_begin, 128);
  for (int id = t.silent_begin; id < t.silent_end; ++id) EXPECT_TRUE(zero(id)) << id;
  EXPECT_FALSE(zero(t.silent_begin - 1));
  EXPECT_FALSE(zero(t.silent_end));
  EXPECT_FALSE(zero(t.newline_id));
}

TEST(SynthModelFilesTest, ByteLevelFamiliesWriteVocabAndMerges) {
  TempDir tmp;
  SynthOptions o;
  o.layout = "qwen3moe";
  o.output_dir = tmp.Join("q");
  ASSERT_OK(SynthesizeModel(o).status());
  json vocab = json::parse(*ReadFileToString(o.output_dir + "/vocab.json"));
  EXPECT_EQ(vocab.size(), 512u);
  ASSERT_OK_AND_ASSIGN(std::string merges, ReadFileToString(o.output_dir + "/merges.txt"));
  EXPECT_EQ(merges.rfind("#version", 0), 0u);
  EXPECT_FALSE(std::filesystem::exists(o.output_dir + "/tokenizer.model"));
  json config = json::parse(*ReadFileToString(o.output_dir + "/config.json"));
  EXPECT_EQ(config["eos_token_id"], vocab["<|im_end|>"]);
}

TEST(SynthModelFilesTest, TooSmallAVocabularyWritesNothing) {
  TempDir tmp;
  SynthOptions o;
  o.layout = "mixtral";
  o.output_dir = tmp.Join("m");
  o.vocab = 16;
  EXPECT_THAT(SynthesizeModel(o).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--vocab 16")));
  EXPECT_FALSE(std::filesystem::exists(o.output_dir));
}

}  // namespace
}  // namespace cohort::worker::prune

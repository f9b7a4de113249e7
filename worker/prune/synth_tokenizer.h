// File: synth_tokenizer.h
//
// The tokenizer of a synthetic checkpoint, written by the project itself so
// that real tools load it: tokenizer.json (Hugging Face tokenizers format)
// for every family, tokenizer.model (a SentencePiece ModelProto) where the
// family uses SentencePiece, tokenizer_config.json with the special tokens,
// and a chat template llama.cpp's Jinja engine renders.
//
// Any text tokenizes: like the real vocabularies, every byte has a token
// (SentencePiece "<0xNN>" byte pieces; the 256 byte-level characters of
// GPT-2 style BPE), because llama.cpp's tokenizers throw on a byte they
// cannot map ("unordered_map::at", an HTTP 400 for the whole request).
// Every other token is complete UTF-8 text (ASCII, plus U+2581 for the word
// boundary), "\n" has a token of its own, and the tokens of the bytes
// 0x80..0xFF (a lone one is not UTF-8) are listed in `silent` so synth-model
// gives them all-zero output rows: a random model's greedy output is then
// valid text, which llama-server returns with HTTP 200 instead of "output
// does not match the expected format".
#ifndef COHORT_WORKER_PRUNE_SYNTH_TOKENIZER_H_
#define COHORT_WORKER_PRUNE_SYNTH_TOKENIZER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cohort::worker::prune {

enum class TokenizerFamily {
  kSentencePiece,  // Llama/Mistral/Gemma: "▁" marks a word start
  kByteLevelBpe,   // GPT-2 style: "Ġ" marks a space, "Ċ" a newline
};

struct SynthToken {
  enum class Kind { kNormal, kUnknown, kControl, kUserDefined, kByte };
  std::string text;  // as the vocabulary spells it
  float score = 0;
  Kind kind = Kind::kNormal;
};

struct SynthTokenizer {
  TokenizerFamily family = TokenizerFamily::kSentencePiece;
  std::vector<SynthToken> tokens;  // index = token id
  // BPE merges (byte-level family): each builds one vocabulary entry.
  std::vector<std::pair<std::string, std::string>> merges;
  // Token ids a greedy model must never emit (byte tokens >= 0x80), a
  // contiguous range [silent_begin, silent_end).
  int silent_begin = 0;
  int silent_end = 0;
  int unk_id = -1;
  int bos_id = -1;
  int eos_id = -1;
  int pad_id = -1;
  int newline_id = -1;
  std::string bos_token, eos_token, pad_token, unk_token;
  std::string chat_template;
};

// The tokenizer of `layout` (synth_model.h) with exactly `vocab` tokens.
// kInvalidArgument when vocab cannot hold the special tokens, the newline and
// the printable ASCII characters (a vocabulary that small could not encode
// the benchmark prompts).
absl::StatusOr<SynthTokenizer> BuildSynthTokenizer(const std::string& layout,
                                                   int vocab);

// The smallest vocab BuildSynthTokenizer accepts for `layout`.
int MinSynthVocab(const std::string& layout);

// The bytes token `id` stands for when decoded (byte pieces and byte-level
// characters map back to their byte, U+2581 to a space).
std::string DecodeToken(const SynthTokenizer& t, int id);

// File contents.
std::string TokenizerJson(const SynthTokenizer& t);
std::string TokenizerConfigJson(const SynthTokenizer& t);
// A serialized SentencePiece ModelProto (SentencePiece family only).
std::string SentencePieceModel(const SynthTokenizer& t);
// vocab.json and merges.txt, as GPT-2 style checkpoints also publish them.
std::string VocabJson(const SynthTokenizer& t);
std::string MergesTxt(const SynthTokenizer& t);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_SYNTH_TOKENIZER_H_

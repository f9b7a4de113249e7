#include "worker/prune/synth_tokenizer.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "sentencepiece/model.pb.h"

namespace cohort::worker::prune {
namespace {

using OrderedJson = nlohmann::ordered_json;
using Kind = SynthToken::Kind;

constexpr char kWordStart[] = "\xE2\x96\x81";  // U+2581, SentencePiece
constexpr char kByteSpace[] = "\xC4\xA0";       // U+0120 "Ġ", byte-level 0x20
constexpr char kByteNewline[] = "\xC4\x8A";     // U+010A "Ċ", byte-level 0x0A

// Words a model answering the benchmarks would write, most useful first; the
// vocabulary takes as many as fit.
constexpr const char* kWords[] = {
    "the", "answer", "is", "of", "and", "to", "a", "in", "that", "for", "it",
    "we", "so", "be", "number", "total", "each", "how", "many", "what", "step",
    "first", "then", "therefore", "final", "boxed", "let", "equal", "sum",
    "times", "minus", "plus", "def", "return", "print", "int", "if", "else",
    "while", "True", "False", "None", "import", "class", "self", "with", "as",
    "not", "this", "are", "or", "from", "at", "which", "but", "have", "an",
    "has", "was", "were", "one", "two", "three", "four", "five", "ten",
    "all", "can", "will", "would", "there", "been", "more", "when", "who",
    "no", "yes", "option", "correct", "value", "result", "string", "list",
    "len", "range", "fn", "let", "mut", "public", "static", "void", "const",
    "function", "var", "new", "main", "Solution", "input", "output",
};

struct Family {
  TokenizerFamily kind;
  std::vector<SynthToken> specials;  // ids 0.., in this order
  std::string bos, eos, pad, unk;
  std::string chat_template;
};

// Mixtral-Instruct's shape: [INST] ... [/INST] turns after <s>.
constexpr char kMistralTemplate[] =
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'user' %}"
    "{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}"
    "{{ message['content'] + eos_token }}"
    "{% else %}{{ message['content'] + '\\n\\n' }}{% endif %}"
    "{% endfor %}";

constexpr char kGemmaTemplate[] =
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}{% set role = 'model' %}"
    "{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\\n' + message['content'] + "
    "'<end_of_turn>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}";

constexpr char kChatMlTemplate[] =
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

Family FamilyOf(const std::string& layout) {
  if (layout == "mixtral") {
    return {TokenizerFamily::kSentencePiece,
            {{"<unk>", 0, Kind::kUnknown},
             {"<s>", 0, Kind::kControl},
             {"</s>", 0, Kind::kControl}},
            "<s>", "</s>", "", "<unk>", kMistralTemplate};
  }
  if (layout == "gemma4") {
    return {TokenizerFamily::kSentencePiece,
            {{"<pad>", 0, Kind::kControl},
             {"<eos>", 0, Kind::kControl},
             {"<bos>", 0, Kind::kControl},
             {"<unk>", 0, Kind::kUnknown},
             {"<start_of_turn>", 0, Kind::kControl},
             {"<end_of_turn>", 0, Kind::kControl}},
            "<bos>", "<eos>", "<pad>", "<unk>", kGemmaTemplate};
  }
  return {TokenizerFamily::kByteLevelBpe,
          {{"<|endoftext|>", 0, Kind::kControl},
           {"<|im_start|>", 0, Kind::kControl},
           {"<|im_end|>", 0, Kind::kControl}},
          "<|endoftext|>", "<|im_end|>", "<|endoftext|>", "", kChatMlTemplate};
}

// GPT-2's byte-level alphabet: bytes that are printable Latin-1 stand for
// themselves, the others for U+0100 onwards, in byte order.
std::string ByteLevelChar(int byte) {
  auto printable = [](int b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  };
  int code = byte;
  if (!printable(byte)) {
    code = 256;
    for (int b = 0; b < byte; ++b) code += printable(b) ? 0 : 1;
  }
  std::string out;
  if (code < 0x80) {
    out.push_back(static_cast<char>(code));
  } else {
    out.push_back(static_cast<char>(0xC0 | (code >> 6)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
  return out;
}

std::string BytePiece(int byte) {
  static const char kHex[] = "0123456789ABCDEF";
  return absl::StrCat("<0x", std::string(1, kHex[byte >> 4]), std::string(1, kHex[byte & 15]),
                      ">");
}

// The single characters every vocabulary holds as text, spelled as the
// family does.
std::vector<std::string> Alphabet(TokenizerFamily family) {
  std::vector<std::string> out;
  if (family == TokenizerFamily::kSentencePiece) {
    out.push_back(kWordStart);
    for (char c = 0x21; c <= 0x7E; ++c) out.push_back(std::string(1, c));
  } else {
    for (int b = 0; b < 0x80; ++b) out.push_back(ByteLevelChar(b));
  }
  return out;
}

class VocabBuilder {
 public:
  VocabBuilder(SynthTokenizer& out, int size) : out_(out), size_(size) {}

  bool full() const { return static_cast<int>(out_.tokens.size()) >= size_; }

  void Add(const std::string& text, Kind kind) {
    if (full() || !seen_.insert(text).second) return;
    float score = kind == Kind::kNormal ? -static_cast<float>(normal_++) : 0.0f;
    out_.tokens.push_back({text, score, kind});
  }

  int size() const { return static_cast<int>(out_.tokens.size()); }

  // Adds `prefix + word` through its chain of prefixes, so a BPE tokenizer
  // can build each entry from two that exist (the merge is recorded).
  void AddWord(const std::string& prefix, const std::string& word) {
    std::string built = prefix + word.substr(0, 1);
    if (!seen_.count(built)) {
      if (full()) return;
      out_.merges.emplace_back(prefix, word.substr(0, 1));
      Add(built, Kind::kNormal);
    }
    for (size_t i = 1; i < word.size() && !full(); ++i) {
      std::string next = built + word[i];
      if (!seen_.count(next)) {
        out_.merges.emplace_back(built, std::string(1, word[i]));
        Add(next, Kind::kNormal);
      }
      built = next;
    }
  }

 private:
  SynthTokenizer& out_;
  const int size_;
  std::set<std::string> seen_;
  int normal_ = 0;
};

int IdOf(const SynthTokenizer& t, const std::string& text) {
  if (text.empty()) return -1;
  for (size_t i = 0; i < t.tokens.size(); ++i) {
    if (t.tokens[i].text == text) return static_cast<int>(i);
  }
  return -1;
}

// The n-th string of lowercase letters in bijective base 26 (1 -> "a",
// 26 -> "z", 27 -> "aa"), so the fill never runs out.
std::string LetterString(uint64_t n) {
  std::string out;
  for (; n > 0; n = (n - 1) / 26) out.insert(out.begin(), char('a' + (n - 1) % 26));
  return out;
}

std::string WordPrefix(TokenizerFamily family) {
  return family == TokenizerFamily::kSentencePiece ? kWordStart : kByteSpace;
}

}  // namespace

int MinSynthVocab(const std::string& layout) {
  Family f = FamilyOf(layout);
  // SentencePiece: "\n" and the 256 byte pieces; byte-level: bytes >= 0x80.
  int extra = f.kind == TokenizerFamily::kSentencePiece ? 1 + 256 : 128;
  return static_cast<int>(f.specials.size() + Alphabet(f.kind).size()) + extra;
}

absl::StatusOr<SynthTokenizer> BuildSynthTokenizer(const std::string& layout,
                                                   int vocab) {
  if (vocab < MinSynthVocab(layout)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "synth-model: --vocab ", vocab, " is too small for a ", layout,
        " tokenizer (special tokens, newline, printable ASCII and a token per byte need ",
        MinSynthVocab(layout), ")"));
  }
  Family f = FamilyOf(layout);
  SynthTokenizer t;
  t.family = f.kind;
  t.chat_template = f.chat_template;
  VocabBuilder b(t, vocab);
  for (const SynthToken& s : f.specials) b.Add(s.text, s.kind);
  if (f.kind == TokenizerFamily::kSentencePiece) {
    // Byte pieces in byte order, as Llama's; 0x0A is the newline llama.cpp
    // looks up, and decodes to "\n".
    for (int byte = 0; byte < 0x80; ++byte) b.Add(BytePiece(byte), Kind::kByte);
    t.silent_begin = b.size();
    for (int byte = 0x80; byte < 0x100; ++byte) b.Add(BytePiece(byte), Kind::kByte);
    t.silent_end = b.size();
    // "\n" as text too: a tokenizer without byte pieces finds it.
    b.Add("\n", Kind::kUserDefined);
  }
  for (const std::string& c : Alphabet(f.kind)) b.Add(c, Kind::kNormal);
  if (f.kind == TokenizerFamily::kByteLevelBpe) {
    t.silent_begin = b.size();
    for (int byte = 0x80; byte < 0x100; ++byte) b.Add(ByteLevelChar(byte), Kind::kNormal);
    t.silent_end = b.size();
  }
  const std::string prefix = WordPrefix(f.kind);
  for (const char* word : kWords) b.AddWord(prefix, word);
  // Fill the rest with letter strings as word starts: "▁a".."▁z", "▁aa"...
  for (uint64_t n = 1; !b.full(); ++n) b.AddWord(prefix, LetterString(n));
  t.bos_token = f.bos;
  t.eos_token = f.eos;
  t.pad_token = f.pad;
  t.unk_token = f.unk;
  t.bos_id = IdOf(t, f.bos);
  t.eos_id = IdOf(t, f.eos);
  t.pad_id = IdOf(t, f.pad);
  t.unk_id = IdOf(t, f.unk);
  t.newline_id = IdOf(t, f.kind == TokenizerFamily::kSentencePiece ? "<0x0A>" : kByteNewline);
  return t;
}

std::string DecodeToken(const SynthTokenizer& t, int id) {
  const SynthToken& token = t.tokens.at(static_cast<size_t>(id));
  if (t.family == TokenizerFamily::kSentencePiece) {
    if (token.kind == Kind::kByte) {
      return std::string(1, static_cast<char>(std::stoi(token.text.substr(3, 2), nullptr, 16)));
    }
    std::string out = token.text;
    for (size_t at; (at = out.find(kWordStart)) != std::string::npos;) out.replace(at, 3, " ");
    return out;
  }
  if (token.kind != Kind::kNormal) return token.text;  // added tokens: verbatim
  static const std::map<std::string, char> kBytes = [] {
    std::map<std::string, char> m;
    for (int b = 0; b < 256; ++b) m[ByteLevelChar(b)] = static_cast<char>(b);
    return m;
  }();
  std::string out;
  for (size_t i = 0; i < token.text.size();) {
    size_t len = (static_cast<unsigned char>(token.text[i]) < 0x80) ? 1 : 2;
    out.push_back(kBytes.at(token.text.substr(i, len)));
    i += len;
  }
  return out;
}

namespace {

// Specials and user-defined tokens: listed apart (added_tokens,
// added_tokens_decoder) in the Hugging Face files.
bool IsAddedToken(const SynthToken& token) {
  return token.kind != Kind::kNormal && token.kind != Kind::kByte;
}

// {text: id} of every token (vocab.json, and a BPE tokenizer.json's model).
OrderedJson VocabById(const SynthTokenizer& t) {
  OrderedJson vocab = OrderedJson::object();
  for (size_t i = 0; i < t.tokens.size(); ++i) vocab[t.tokens[i].text] = i;
  return vocab;
}

spm::ModelProto::SentencePiece::Type PieceType(Kind kind) {
  switch (kind) {
    case Kind::kUnknown:
      return spm::ModelProto::SentencePiece::UNKNOWN;
    case Kind::kControl:
      return spm::ModelProto::SentencePiece::CONTROL;
    case Kind::kUserDefined:
      return spm::ModelProto::SentencePiece::USER_DEFINED;
    case Kind::kByte:
      return spm::ModelProto::SentencePiece::BYTE;
    case Kind::kNormal:
      break;
  }
  return spm::ModelProto::SentencePiece::NORMAL;
}

OrderedJson AddedToken(int id, const SynthToken& token) {
  return {{"id", id},           {"content", token.text}, {"single_word", false},
          {"lstrip", false},    {"rstrip", false},       {"normalized", false},
          {"special", token.kind != Kind::kUserDefined}};
}

OrderedJson SentencePieceModelJson(const SynthTokenizer& t) {
  OrderedJson vocab = OrderedJson::array();
  for (const SynthToken& token : t.tokens) vocab.push_back({token.text, token.score});
  return {{"type", "Unigram"},
          {"unk_id", t.unk_id},
          {"vocab", vocab},
          {"byte_fallback", true}};
}

OrderedJson ByteLevelModelJson(const SynthTokenizer& t) {
  OrderedJson merges = OrderedJson::array();
  for (const auto& [left, right] : t.merges) merges.push_back(left + " " + right);
  return {{"type", "BPE"},          {"dropout", nullptr},
          {"unk_token", nullptr},   {"continuing_subword_prefix", nullptr},
          {"end_of_word_suffix", nullptr}, {"fuse_unk", false},
          {"byte_fallback", false}, {"ignore_merges", false},
          {"vocab", VocabById(t)},  {"merges", merges}};
}

}  // namespace

std::string TokenizerJson(const SynthTokenizer& t) {
  OrderedJson j = OrderedJson::object();
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  OrderedJson added = OrderedJson::array();
  for (size_t i = 0; i < t.tokens.size(); ++i) {
    if (IsAddedToken(t.tokens[i])) {
      added.push_back(AddedToken(static_cast<int>(i), t.tokens[i]));
    }
  }
  j["added_tokens"] = added;
  if (t.family == TokenizerFamily::kSentencePiece) {
    j["normalizer"] = {
        {"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", kWordStart}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kWordStart}}}}};
    j["pre_tokenizer"] = nullptr;
    j["post_processor"] = nullptr;
    j["decoder"] = {
        {"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", kWordStart}}}, {"content", " "}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
    j["model"] = SentencePieceModelJson(t);
  } else {
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = {{"type", "ByteLevel"},
                          {"add_prefix_space", false},
                          {"trim_offsets", true},
                          {"use_regex", true}};
    j["post_processor"] = nullptr;
    j["decoder"] = {{"type", "ByteLevel"},
                    {"add_prefix_space", true},
                    {"trim_offsets", true},
                    {"use_regex", true}};
    j["model"] = ByteLevelModelJson(t);
  }
  return j.dump(2) + "\n";
}

std::string TokenizerConfigJson(const SynthTokenizer& t) {
  OrderedJson j = OrderedJson::object();
  const bool spm = t.family == TokenizerFamily::kSentencePiece;
  j["add_bos_token"] = spm;
  j["add_eos_token"] = false;
  OrderedJson decoder = OrderedJson::object();
  for (size_t i = 0; i < t.tokens.size(); ++i) {
    if (!IsAddedToken(t.tokens[i])) continue;
    OrderedJson entry = AddedToken(static_cast<int>(i), t.tokens[i]);
    entry.erase("id");
    decoder[std::to_string(i)] = entry;
  }
  j["added_tokens_decoder"] = decoder;
  auto token_or_null = [](const std::string& s) -> OrderedJson {
    return s.empty() ? OrderedJson(nullptr) : OrderedJson(s);
  };
  j["bos_token"] = token_or_null(t.bos_token);
  j["eos_token"] = token_or_null(t.eos_token);
  j["pad_token"] = token_or_null(t.pad_token);
  j["unk_token"] = token_or_null(t.unk_token);
  j["clean_up_tokenization_spaces"] = false;
  j["model_max_length"] = 4096;
  j["tokenizer_class"] = spm ? "LlamaTokenizer" : "PreTrainedTokenizerFast";
  return j.dump(2) + "\n";
}

std::string SentencePieceModel(const SynthTokenizer& t) {
  spm::ModelProto model;
  for (const SynthToken& token : t.tokens) {
    spm::ModelProto::SentencePiece* piece = model.add_pieces();
    piece->set_piece(token.text);
    piece->set_score(token.score);
    piece->set_type(PieceType(token.kind));
  }
  spm::TrainerSpec* trainer = model.mutable_trainer_spec();
  trainer->set_model_type(spm::TrainerSpec::BPE);
  trainer->set_vocab_size(static_cast<int>(t.tokens.size()));
  trainer->set_byte_fallback(true);
  trainer->set_unk_id(t.unk_id);
  trainer->set_bos_id(t.bos_id);
  trainer->set_eos_id(t.eos_id);
  trainer->set_pad_id(t.pad_id);
  spm::NormalizerSpec* normalizer = model.mutable_normalizer_spec();
  normalizer->set_name("identity");
  normalizer->set_add_dummy_prefix(true);
  normalizer->set_remove_extra_whitespaces(false);
  normalizer->set_escape_whitespaces(true);
  return model.SerializeAsString();
}

std::string VocabJson(const SynthTokenizer& t) { return VocabById(t).dump() + "\n"; }

std::string MergesTxt(const SynthTokenizer& t) {
  std::string out = "#version: 0.2\n";
  for (const auto& [left, right] : t.merges) absl::StrAppend(&out, left, " ", right, "\n");
  return out;
}

}  // namespace cohort::worker::prune

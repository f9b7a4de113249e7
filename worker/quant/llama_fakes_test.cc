// Runs the fakes of llama.cpp's tools (tests/fakes) on a tiny checkpoint and
// reads what they write with the GGUF reader: the fakes must produce files
// cohort accepts, and fail in the ways their switches promise, or the
// pipeline tests built on them prove nothing.
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/subprocess.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "worker/prune/synth_tokenizer.h"
#include "worker/quant/gguf_reader.h"
#include "worker/quant/gguf_summary.h"

namespace cohort::worker::quant {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kPython[] = "/usr/bin/python3";
constexpr int kHidden = 256, kMoeInter = 128, kVocab = 512, kLayers = 2;

std::string FakesDir() { return COHORT_FAKES_DIR; }

using Shapes = std::vector<std::pair<std::string, std::vector<int64_t>>>;

// A safetensors file of zeros: 8-byte header length, JSON header, data.
void WriteSafetensors(const std::string& path, const Shapes& tensors) {
  nlohmann::json header = nlohmann::json::object();
  int64_t offset = 0;
  for (const auto& [name, shape] : tensors) {
    int64_t bytes = 2;
    for (int64_t d : shape) bytes *= d;
    header[name] = {{"dtype", "BF16"},
                    {"shape", shape},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json = header.dump();
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i)
    file[i] = static_cast<char>(json.size() >> (8 * i));
  file += json;
  file.append(offset, '\0');
  ASSERT_OK(WriteFileAtomically(path, file));
}

// The tokenizer files synth-model writes for `layout`: the fake converter,
// like the real one, refuses a folder without them.
void WriteTokenizer(const std::string& dir, const std::string& layout, int vocab) {
  absl::StatusOr<prune::SynthTokenizer> t = prune::BuildSynthTokenizer(layout, vocab);
  ASSERT_OK(t.status());
  ASSERT_OK(WriteFileAtomically(dir + "/tokenizer.json", prune::TokenizerJson(*t)));
  if (t->family == prune::TokenizerFamily::kSentencePiece) {
    ASSERT_OK(WriteFileAtomically(dir + "/tokenizer.model", prune::SentencePieceModel(*t)));
  }
  ASSERT_OK(WriteFileAtomically(dir + "/chat_template.jinja", t->chat_template));
}

// Gemma 4 layout (docs/pruning.md §3.2) with `experts` experts per layer.
void MakeGemma4(const std::string& dir, int experts) {
  nlohmann::json config = {
      {"architectures", {"Gemma4ForConditionalGeneration"}},
      {"text_config",
       {{"num_hidden_layers", kLayers},
        {"num_experts", experts},
        {"top_k_experts", 2},
        {"hidden_size", kHidden},
        {"moe_intermediate_size", kMoeInter},
        {"intermediate_size", kHidden},
        {"vocab_size", kVocab},
        {"num_attention_heads", 2},
        {"num_key_value_heads", 1}}}};
  ASSERT_OK(WriteFileAtomically(dir + "/config.json", config.dump(2)));
  const int64_t h = kHidden, i = kMoeInter, e = experts;
  Shapes shapes = {{"model.language_model.embed_tokens.weight", {kVocab, h}},
                   {"model.language_model.norm.weight", {h}},
                   {"model.vision_tower.encoder.proj.weight", {8, 8}}};
  for (int l = 0; l < kLayers; ++l) {
    std::string p = absl::StrCat("model.language_model.layers.", l, ".");
    Shapes layer = {{p + "input_layernorm.weight", {h}},
                    {p + "self_attn.q_proj.weight", {h, h}},
                    {p + "self_attn.o_proj.weight", {h, h}},
                    {p + "router.proj.weight", {e, h}},
                    {p + "router.per_expert_scale", {e}},
                    {p + "experts.gate_up_proj", {e, 2 * i, h}},
                    {p + "experts.down_proj", {e, h, i}},
                    {p + "mlp.down_proj.weight", {h, h}}};
    shapes.insert(shapes.end(), layer.begin(), layer.end());
  }
  WriteSafetensors(dir + "/model.safetensors", shapes);
  WriteTokenizer(dir, "gemma4", kVocab);
}

class LlamaFakesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_dir_ = dir_.Join("gemma-tiny");
    ASSERT_EQ(mkdir(model_dir_.c_str(), 0755), 0);
    MakeGemma4(model_dir_, 6);
  }

  SubprocessResult Run(std::vector<std::string> argv,
                       std::map<std::string, std::string> env = {},
                       absl::Duration timeout = absl::Seconds(60)) {
    SubprocessOptions options;
    options.argv = std::move(argv);
    // Never inherit a switch from the environment running the tests.
    options.extra_env = {{"COHORT_FAKE_FAIL", ""},
                         {"COHORT_FAKE_FAIL_ONLY", ""}};
    for (auto& [k, v] : env) options.extra_env[k] = v;
    options.timeout = timeout;
    options.kill_grace = absl::Milliseconds(200);
    absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
    EXPECT_OK(r.status());
    return r.ok() ? *r : SubprocessResult();
  }

  SubprocessResult Convert(const std::string& out,
                           std::map<std::string, std::string> env = {}) {
    return Run({kPython, FakesDir() + "/convert_hf_to_gguf.py", model_dir_,
                "--outfile", out, "--outtype", "bf16"},
               std::move(env));
  }

  SubprocessResult Quantize(std::vector<std::string> args,
                            std::map<std::string, std::string> env = {},
                            absl::Duration timeout = absl::Seconds(60)) {
    args.insert(args.begin(), FakesDir() + "/llama-quantize");
    return Run(std::move(args), std::move(env), timeout);
  }

  std::string ConvertedModel() {
    std::string out = dir_.Join("model-bf16.gguf");
    SubprocessResult r = Convert(out);
    EXPECT_TRUE(r.Succeeded()) << r.Describe();
    return out;
  }

  GgufSummary Summary(const std::string& path) {
    absl::StatusOr<GgufContents> g = ReadGgufFile(path);
    EXPECT_OK(g.status());
    if (!g.ok()) return GgufSummary();
    absl::StatusOr<GgufSummary> s = SummarizeGguf(*g);
    EXPECT_OK(s.status());
    return s.ok() ? *s : GgufSummary();
  }

  cohort::testing::TempDir dir_;
  std::string model_dir_;
};

GgufExpectations Gemma4(uint64_t experts, const std::string& file_type) {
  GgufExpectations want;
  want.architecture = "gemma4";
  want.expert_count = experts;
  want.expert_count_source = "config.json";
  want.file_type = file_type;
  return want;
}

TEST_F(LlamaFakesTest, ConvertWritesTheConvertersGguf) {
  std::string out = dir_.Join("model-bf16.gguf");
  SubprocessResult r = Convert(out);
  ASSERT_TRUE(r.Succeeded()) << r.Describe();
  EXPECT_THAT(r.stderr_data, HasSubstr("INFO:hf-to-gguf:Model architecture: "
                                       "Gemma4ForConditionalGeneration"));
  EXPECT_THAT(r.stderr_data, HasSubstr("Model successfully exported to"));
  ASSERT_OK_AND_ASSIGN(GgufContents g, ReadGgufFile(out));
  ASSERT_OK_AND_ASSIGN(GgufSummary s, SummarizeGguf(g));
  EXPECT_OK(VerifyGguf(s, Gemma4(6, "BF16")));
  EXPECT_EQ(s.expert_used_count, 2u);
  EXPECT_EQ(s.block_count, 2u);
  // Vision tower left out; 2 globals + 8 per layer.
  EXPECT_EQ(s.tensor_count, 2u + 8u * kLayers);
  const GgufTensorInfo* up = g.FindTensor("blk.1.ffn_gate_up_exps.weight");
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(up->dims, (std::vector<uint64_t>{256, 256, 6}));
  EXPECT_STREQ(up->type_info->name, "bf16");
  EXPECT_STREQ(g.FindTensor("blk.0.ffn_gate_inp.weight")->type_info->name,
               "f32");
  EXPECT_STREQ(g.FindTensor("output_norm.weight")->type_info->name, "f32");
}

TEST_F(LlamaFakesTest, ConvertStacksPerExpertTensors) {
  nlohmann::json config = {{"architectures", {"Qwen3MoeForCausalLM"}},
                           {"num_hidden_layers", 1},
                           {"num_experts", 3},
                           {"num_experts_per_tok", 2},
                           {"hidden_size", 64},
                           {"moe_intermediate_size", 32},
                           {"vocab_size", 512}};
  std::string qwen = dir_.Join("qwen");
  ASSERT_EQ(mkdir(qwen.c_str(), 0755), 0);
  ASSERT_OK(WriteFileAtomically(qwen + "/config.json", config.dump()));
  WriteTokenizer(qwen, "qwen3moe", 512);
  Shapes shapes = {{"model.embed_tokens.weight", {512, 64}},
                   {"model.layers.0.mlp.gate.weight", {3, 64}}};
  for (int e = 0; e < 3; ++e) {
    std::string p = absl::StrCat("model.layers.0.mlp.experts.", e, ".");
    shapes.push_back({p + "gate_proj.weight", {32, 64}});
    shapes.push_back({p + "down_proj.weight", {64, 32}});
  }
  WriteSafetensors(qwen + "/model.safetensors", shapes);
  std::string out = dir_.Join("qwen.gguf");
  SubprocessResult r = Run({kPython, FakesDir() + "/convert_hf_to_gguf.py",
                            qwen, "--outfile", out, "--outtype", "q8_0"});
  ASSERT_TRUE(r.Succeeded()) << r.Describe();
  ASSERT_OK_AND_ASSIGN(GgufContents g, ReadGgufFile(out));
  ASSERT_OK_AND_ASSIGN(GgufSummary s, SummarizeGguf(g));
  EXPECT_EQ(s.architecture, "qwen3moe");
  EXPECT_EQ(s.expert_count, 3u);
  EXPECT_EQ(s.file_type_name, "MOSTLY_Q8_0");
  const GgufTensorInfo* gate = g.FindTensor("blk.0.ffn_gate_exps.weight");
  ASSERT_NE(gate, nullptr);
  EXPECT_EQ(gate->dims, (std::vector<uint64_t>{64, 32, 3}));
  EXPECT_STREQ(gate->type_info->name, "q8_0");
  EXPECT_EQ(g.FindTensor("blk.0.ffn_down_exps.weight")->dims,
            (std::vector<uint64_t>{32, 64, 3}));
}

TEST_F(LlamaFakesTest, ConvertWithoutConfigFailsLikeTheRealScript) {
  ASSERT_EQ(unlink((model_dir_ + "/config.json").c_str()), 0);
  SubprocessResult r = Convert(dir_.Join("x.gguf"));
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.stderr_data, HasSubstr("Traceback"));
  EXPECT_THAT(r.stderr_data, HasSubstr("FileNotFoundError"));
  EXPECT_THAT(r.stderr_data, HasSubstr("config.json"));
}

TEST_F(LlamaFakesTest, ConvertWithoutATokenizerFailsLikeTheRealScript) {
  for (const char* f : {"tokenizer.json", "tokenizer.model"}) {
    unlink((model_dir_ + "/" + f).c_str());
  }
  std::string out = dir_.Join("x.gguf");
  SubprocessResult r = Convert(out);
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.stderr_data, HasSubstr("Can't load tokenizer"));
  EXPECT_NE(access(out.c_str(), F_OK), 0) << "no GGUF without a vocabulary";
}

TEST_F(LlamaFakesTest, ConvertReadsTheSentencePieceModelItFinds) {
  std::string dir = dir_.Join("mixtral");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  nlohmann::json config = {{"architectures", {"MixtralForCausalLM"}},
                           {"num_hidden_layers", 1},
                           {"num_local_experts", 2},
                           {"num_experts_per_tok", 1},
                           {"hidden_size", 64},
                           {"intermediate_size", 32},
                           {"vocab_size", 400},
                           {"bos_token_id", 1},
                           {"eos_token_id", 2}};
  ASSERT_OK(WriteFileAtomically(dir + "/config.json", config.dump()));
  WriteSafetensors(dir + "/model.safetensors", {{"model.embed_tokens.weight", {400, 64}}});
  WriteTokenizer(dir, "mixtral", 380);  // the converter pads to vocab_size
  std::string out = dir_.Join("m.gguf");
  SubprocessResult r = Run({kPython, FakesDir() + "/convert_hf_to_gguf.py", dir,
                            "--outfile", out, "--outtype", "bf16"});
  ASSERT_TRUE(r.Succeeded()) << r.Describe();
  absl::StatusOr<GgufContents> g = ReadGgufFile(out);
  ASSERT_OK(g.status());
  EXPECT_EQ(*g->Find("tokenizer.ggml.model")->AsString(), "llama");
  const GgufValue& tokens = *g->Find("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 400u);
  EXPECT_EQ(*tokens.Element(0).AsString(), "<unk>");
  EXPECT_EQ(*tokens.Element(3).AsString(), "<0x00>");
  EXPECT_EQ(*tokens.Element(259).AsString(), "\n");
  EXPECT_EQ(*tokens.Element(399).AsString(), "[PAD399]");
  const GgufValue& types = *g->Find("tokenizer.ggml.token_type");
  EXPECT_EQ(*types.Element(3).AsInt64(), 6);    // byte
  EXPECT_EQ(*types.Element(259).AsInt64(), 4);  // user-defined
  EXPECT_EQ(*g->Find("tokenizer.ggml.eos_token_id")->AsInt64(), 2);
  EXPECT_THAT(*g->Find("tokenizer.chat_template")->AsString(), HasSubstr("[INST]"));
}

TEST_F(LlamaFakesTest, QuantizeToQ6K) {
  std::string in = ConvertedModel();
  std::string out = dir_.Join("model-Q6_K.gguf");
  SubprocessResult r = Quantize({in, out, "Q6_K", "2"});
  ASSERT_TRUE(r.Succeeded()) << r.Describe();
  EXPECT_THAT(r.stderr_data, HasSubstr("main: quantizing '" + in + "' to '" +
                                       out + "' as Q6_K using 2 threads"));
  EXPECT_THAT(r.stderr_data, HasSubstr("[   1/  18] token_embd.weight"));
  EXPECT_THAT(r.stderr_data, HasSubstr("converting to q6_K .. size = "));
  EXPECT_THAT(r.stderr_data, HasSubstr("quant size  = "));
  EXPECT_THAT(r.stdout_data, HasSubstr("main: quantize time = "));
  GgufSummary s = Summary(out);
  EXPECT_OK(VerifyGguf(s, Gemma4(6, "Q6_K")));
  EXPECT_GT(s.tensor_types["q6_K"], 0u);
  EXPECT_GT(s.tensor_types["f32"], 0u);
  EXPECT_EQ(s.tensor_types.count("bf16"), 0u);
  // down_exps rows (128) are not whole Q6_K blocks: the real fallback.
  EXPECT_GT(s.tensor_types["q8_0"], 0u);
}

TEST_F(LlamaFakesTest, QuantizeRefusesRequantizingUnlessAllowed) {
  std::string q6 = dir_.Join("q6.gguf");
  ASSERT_TRUE(Quantize({ConvertedModel(), q6, "Q6_K"}).Succeeded());
  SubprocessResult r = Quantize({q6, dir_.Join("q4.gguf"), "Q4_K_M"});
  EXPECT_EQ(r.exit_code, 1);
  // The first tensor whose type changes: blk.0.ffn_down_exps (q8_0, the
  // Q6_K fallback) going to q5_0 (the Q4_K fallback).
  EXPECT_THAT(r.stderr_data, HasSubstr("requantizing from type q8_0 is "
                                       "disabled"));
  r = Quantize({"--allow-requantize", q6, dir_.Join("q4.gguf"), "Q4_K_M"});
  ASSERT_TRUE(r.Succeeded()) << r.Describe();
  EXPECT_EQ(Summary(dir_.Join("q4.gguf")).file_type_name, "MOSTLY_Q4_K_M");
}

TEST_F(LlamaFakesTest, QuantizeBadArguments) {
  std::string in = ConvertedModel();
  EXPECT_EQ(Quantize({in, dir_.Join("o.gguf"), "Q7_X"}).exit_code, 1);
  EXPECT_EQ(Quantize({"--bogus", in, "Q6_K"}).exit_code, 1);
  SubprocessResult r =
      Quantize({dir_.Join("missing.gguf"), dir_.Join("o.gguf"), "Q6_K"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data, HasSubstr("main: failed to quantize model from"));
  r = Quantize({in, dir_.Join("o.gguf"), "IQ2_XXS"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data, HasSubstr("without an importance matrix"));
  // What the real llama-quantize prints for a bad --tensor-type (run on
  // unslothai/llama.cpp d32676d7): the reason on stdout, then the usage.
  r = Quantize({"--tensor-type", "ffn_down", in, dir_.Join("o.gguf"), "Q6_K"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stdout_data, HasSubstr("parse_tensor_type: malformed tensor type 'ffn_down'"));
  r = Quantize({"--tensor-type", "ffn_down=q9_9", in, dir_.Join("o.gguf"), "Q6_K"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stdout_data, HasSubstr("parse_tensor_type: invalid quantization type 'q9_9'"));
  EXPECT_THAT(r.stderr_data, HasSubstr("parse_ggml_type: invalid ggml_type 'q9_9'"));
}

TEST_F(LlamaFakesTest, ImatrixWritesTheGgufFormatAndQuantizeUsesIt) {
  std::string model = ConvertedModel();
  std::string calib = dir_.Join("calib.txt");
  ASSERT_OK(WriteFileAtomically(calib, std::string(4 * 512 * 4, 'a')));
  std::string imatrix = dir_.Join("imatrix.gguf");
  SubprocessResult r = Run({FakesDir() + "/llama-imatrix", "-m", model, "-f",
                            calib, "-o", imatrix, "--chunks", "3"});
  ASSERT_TRUE(r.Succeeded()) << r.Describe();
  EXPECT_THAT(r.stdout_data, HasSubstr("[1]"));
  EXPECT_THAT(r.stdout_data, HasSubstr(",[3]"));
  EXPECT_THAT(r.stderr_data, HasSubstr("computing over 3 chunks"));
  ASSERT_OK_AND_ASSIGN(GgufContents g, ReadGgufFile(imatrix));
  ASSERT_OK_AND_ASSIGN(GgufSummary s, SummarizeGguf(g));
  EXPECT_EQ(s.general_type, "imatrix");
  EXPECT_EQ(*g.Find("imatrix.chunk_count")->AsUint64(), 3u);
  EXPECT_EQ(*g.Find("imatrix.chunk_size")->AsUint64(), 512u);
  EXPECT_EQ(*g.Find("imatrix.datasets")->Element(0).AsString(), calib);
  const GgufTensorInfo* sums =
      g.FindTensor("blk.0.ffn_down_exps.weight.in_sum2");
  ASSERT_NE(sums, nullptr);
  EXPECT_EQ(sums->dims, (std::vector<uint64_t>{128, 6}));
  EXPECT_EQ(g.FindTensor("blk.0.ffn_down_exps.weight.counts")->dims,
            (std::vector<uint64_t>{1, 6}));
  EXPECT_EQ(g.FindTensor("token_embd.weight.in_sum2"), nullptr);

  std::string out = dir_.Join("iq2.gguf");
  r = Quantize({"--imatrix", imatrix, model, out, "IQ2_XXS"});
  ASSERT_TRUE(r.Succeeded()) << r.Describe();
  EXPECT_THAT(r.stdout_data, HasSubstr("load_imatrix: loaded"));
  ASSERT_OK_AND_ASSIGN(GgufContents q, ReadGgufFile(out));
  EXPECT_EQ(*q.Find("quantize.imatrix.file")->AsString(), imatrix);
  EXPECT_EQ(*q.Find("quantize.imatrix.chunks_count")->AsInt64(), 3);
}

TEST_F(LlamaFakesTest, ImatrixNeedsEnoughText) {
  std::string calib = dir_.Join("short.txt");
  ASSERT_OK(WriteFileAtomically(calib, "too short"));
  SubprocessResult r =
      Run({FakesDir() + "/llama-imatrix", "-m", ConvertedModel(), "-f", calib});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data, HasSubstr("you need at least 1024 tokens"));
}

TEST_F(LlamaFakesTest, WrongExpertCountIsCaughtByTheVerifier) {
  std::string in = ConvertedModel();
  std::string out = dir_.Join("model-Q6_K.gguf");
  SubprocessResult r =
      Quantize({in, out, "Q6_K"}, {{"COHORT_FAKE_FAIL", "wrong_expert_count"}});
  ASSERT_TRUE(r.Succeeded()) << r.Describe();
  EXPECT_THAT(VerifyGguf(Summary(out), Gemma4(6, "Q6_K")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "model-Q6_K.gguf: expert_count is 7, expected 6 "
                       "(config.json)"));
  r = Convert(dir_.Join("wrong.gguf"),
              {{"COHORT_FAKE_FAIL", "wrong_expert_count"}});
  ASSERT_TRUE(r.Succeeded()) << r.Describe();
  EXPECT_EQ(Summary(dir_.Join("wrong.gguf")).expert_count, 7u);
}

TEST_F(LlamaFakesTest, Exit1) {
  std::string in = ConvertedModel();
  SubprocessResult r = Quantize({in, dir_.Join("o.gguf"), "Q6_K"},
                                {{"COHORT_FAKE_FAIL", "exit1"}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_THAT(r.stderr_data, HasSubstr("failed to quantize"));
  r = Convert(dir_.Join("c.gguf"), {{"COHORT_FAKE_FAIL", "exit1"}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data, HasSubstr("RuntimeError"));
}

TEST_F(LlamaFakesTest, CrashLeavesAPartialFileTheReaderRefuses) {
  std::string in = ConvertedModel();
  std::string out = dir_.Join("o.gguf");
  SubprocessResult r =
      Quantize({in, out, "Q6_K"}, {{"COHORT_FAKE_FAIL", "crash"}});
  EXPECT_EQ(r.term_signal, SIGSEGV) << r.Describe();
  EXPECT_THAT(r.stderr_data, HasSubstr("[   1/  18]"));
  EXPECT_THAT(ReadGgufFile(out), StatusIs(absl::StatusCode::kDataLoss,
                                          HasSubstr("runs past the end")));
}

TEST_F(LlamaFakesTest, HangIsKilledByTheTimeout) {
  std::string in = ConvertedModel();
  SubprocessResult r =
      Quantize({in, dir_.Join("o.gguf"), "Q6_K"},
               {{"COHORT_FAKE_FAIL", "hang"}}, absl::Seconds(3));
  EXPECT_TRUE(r.timed_out) << r.Describe();
  EXPECT_FALSE(r.Succeeded());
}

TEST_F(LlamaFakesTest, SlowStillSucceeds) {
  std::string in = ConvertedModel();
  std::string out = dir_.Join("o.gguf");
  SubprocessResult r =
      Quantize({in, out, "Q8_0"},
               {{"COHORT_FAKE_FAIL", "slow"}, {"COHORT_FAKE_SLOW_MS", "40"}});
  ASSERT_TRUE(r.Succeeded()) << r.Describe();
  EXPECT_GE(r.wall_time, absl::Milliseconds(18 * 40));
  EXPECT_EQ(Summary(out).file_type_name, "MOSTLY_Q8_0");
}

TEST_F(LlamaFakesTest, FailOnlyTargetsOneTool) {
  std::string in = ConvertedModel();
  SubprocessResult r = Quantize({in, dir_.Join("o.gguf"), "Q6_K"},
                                {{"COHORT_FAKE_FAIL", "exit1"},
                                 {"COHORT_FAKE_FAIL_ONLY", "llama-imatrix"}});
  EXPECT_TRUE(r.Succeeded()) << r.Describe();
}

}  // namespace
}  // namespace cohort::worker::quant

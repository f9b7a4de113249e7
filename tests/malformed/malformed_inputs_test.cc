// A corpus of malformed inputs across every kind of input cohort reads:
// safetensors headers, drop maps, contribution JSON (through the real
// `cohort-worker prune` / `dropmap` / `score` commands), GGUF files, specs and
// llama-server replies (through their parsers). Each case must fail with an
// error that names the file or the field and the problem, and a command must
// leave nothing behind: no output folder, no temporary file.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "client/spec/spec.h"
#include "common/atomic_file.h"
#include "common/subprocess.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "worker/llama/api.h"
#include "worker/quant/gguf_reader.h"

namespace cohort {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// One malformed input. Either a command (`argv`, run in a fresh folder that
// holds a valid synthetic model, contribution file and drop map, after
// `prepare` broke one of them) or a parser call (`parse`).
struct Case {
  std::string kind;  // safetensors, dropmap, contrib, completions, gguf, spec, llama
  std::string name;
  std::function<void(const std::string& dir)> prepare;
  std::vector<std::string> argv;  // "{dir}" is replaced by the folder
  std::function<absl::Status()> parse;
  std::vector<std::string> must_mention;  // every one appears in the error
  std::vector<std::string> must_not_exist;  // relative to the folder
};

std::string Bin() { return COHORT_BIN_DIR "/cohort-worker"; }

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// --- safetensors ------------------------------------------------------------

constexpr char kShard[] = "model-00001-of-00002.safetensors";

std::string U64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

// Rewrites the first shard of base/ through `edit` on (header JSON, data).
void EditShard(const std::string& dir,
               const std::function<void(json* header, std::string* data)>& edit) {
  std::string path = dir + "/base/" + kShard;
  std::string bytes = ReadBytes(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  json header = json::parse(bytes.substr(8, n));
  std::string data = bytes.substr(8 + n);
  edit(&header, &data);
  std::string text = header.dump();
  WriteBytes(path, U64(text.size()) + text + data);
}

// The name of the first tensor in the first shard that is not __metadata__.
std::string FirstTensor(const json& header) {
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() != "__metadata__") return it.key();
  }
  return "";
}

std::vector<std::string> PruneArgv() {
  return {Bin(), "prune", "--source-dir", "{dir}/base", "--drop-map", "{dir}/dm.json",
          "--output-dir", "{dir}/out"};
}

void AddSafetensorsCases(std::vector<Case>* cases) {
  auto raw = [](std::string bytes) {
    return [bytes](const std::string& dir) { WriteBytes(dir + "/base/" + kShard, bytes); };
  };
  auto edit = [](std::function<void(json*, std::string*)> f) {
    return [f](const std::string& dir) { EditShard(dir, f); };
  };
  auto tensor_edit = [](std::function<void(json*)> f) {
    return [f](const std::string& dir) {
      EditShard(dir, [f](json* h, std::string*) { f(&(*h)[FirstTensor(*h)]); });
    };
  };
  struct Row {
    std::string name;
    std::function<void(const std::string&)> prepare;
    std::vector<std::string> mention;
  };
  std::vector<Row> rows = {
      {"empty_file", raw(""), {kShard}},
      {"five_bytes", raw("\x01\x02\x03\x04\x05"), {kShard}},
      {"header_length_2_pow_63", raw(U64(1ull << 63) + "{}"), {kShard, "header"}},
      {"header_length_past_end", raw(U64(4096) + "{}"), {kShard, "header"}},
      {"header_length_zero", raw(U64(0) + std::string(64, '\0')), {kShard, "header"}},
      {"header_not_json", raw(U64(9) + "{not json"), {kShard}},
      {"header_is_array", raw(U64(2) + "[]"), {kShard}},
      {"header_invalid_utf8", raw(U64(8) + "{\"\xff\xfe\": 1}"), {kShard}},
      {"tensor_not_object", tensor_edit([](json* t) { *t = 5; }), {kShard}},
      {"missing_dtype", tensor_edit([](json* t) { t->erase("dtype"); }), {kShard, "dtype"}},
      {"unknown_dtype", tensor_edit([](json* t) { (*t)["dtype"] = "BF17"; }), {kShard, "BF17"}},
      {"dtype_number", tensor_edit([](json* t) { (*t)["dtype"] = 16; }), {kShard, "dtype"}},
      {"missing_shape", tensor_edit([](json* t) { t->erase("shape"); }), {kShard, "shape"}},
      {"negative_dim", tensor_edit([](json* t) { (*t)["shape"][0] = -256; }), {kShard, "shape"}},
      {"string_dim", tensor_edit([](json* t) { (*t)["shape"][0] = "256"; }), {kShard, "shape"}},
      {"overflowing_shape",
       tensor_edit([](json* t) { (*t)["shape"] = {1ull << 62, 1ull << 62, 16}; }),
       {kShard}},
      {"missing_offsets", tensor_edit([](json* t) { t->erase("data_offsets"); }),
       {kShard, "data_offsets"}},
      {"reversed_offsets",
       tensor_edit([](json* t) {
         (*t)["data_offsets"] = {(*t)["data_offsets"][1], (*t)["data_offsets"][0]};
       }),
       {kShard, "data_offsets"}},
      {"offsets_past_data",
       tensor_edit([](json* t) { (*t)["data_offsets"][1] = 1u << 30; }),
       {kShard}},
      {"offsets_disagree_with_shape",
       tensor_edit([](json* t) {
         (*t)["data_offsets"][1] = (*t)["data_offsets"][1].get<uint64_t>() - 2;
       }),
       {kShard}},
      {"three_offsets", tensor_edit([](json* t) { (*t)["data_offsets"].push_back(0); }),
       {kShard, "data_offsets"}},
      {"metadata_not_strings",
       edit([](json* h, std::string*) { (*h)["__metadata__"] = {{"format", 1}}; }),
       {kShard, "__metadata__"}},
      {"data_truncated", edit([](json*, std::string* d) { d->resize(d->size() / 2); }),
       {kShard}},
      {"tensor_missing_from_shard",
       edit([](json* h, std::string*) { h->erase(FirstTensor(*h)); }),
       {kShard}},
  };
  for (Row& row : rows) {
    cases->push_back({"safetensors", row.name, row.prepare, PruneArgv(), nullptr, row.mention,
                      {"out"}});
  }
}

// --- drop maps ----------------------------------------------------------------

void AddDropMapCases(std::vector<Case>* cases) {
  struct Row {
    std::string name, text;
    std::vector<std::string> mention;
  };
  std::vector<Row> rows = {
      {"empty", "", {"dm.json"}},
      {"not_json", "{\"0\": [1, 2", {"dm.json"}},
      {"array", "[[1, 2], [3, 4]]", {"dm.json"}},
      {"layer_not_a_number", R"({"x": [1, 2], "1": [3, 4]})", {"dm.json", "x"}},
      {"expert_out_of_range", R"({"0": [1, 8], "1": [3, 4]})", {"drop map", "layer 0", "8"}},
      {"negative_expert", R"({"0": [1, -1], "1": [3, 4]})", {"drop map", "layer 0", "-1"}},
      {"duplicate_expert", R"({"0": [1, 1], "1": [3, 4]})", {"drop map", "layer 0", "twice"}},
      {"string_expert", R"({"0": [1, "2"], "1": [3, 4]})", {"dm.json"}},
      {"fractional_expert", R"({"0": [1, 2.5], "1": [3, 4]})", {"dm.json"}},
      {"huge_expert", R"({"0": [1, 1e30], "1": [3, 4]})", {"dm.json"}},
      {"layer_beyond_model", R"({"0": [1, 2], "1": [3, 4], "7": [1, 2]})", {"drop map", "layer 7"}},
      {"drops_every_expert",
       R"({"0": [0, 1, 2, 3, 4, 5, 6, 7], "1": [0, 1, 2, 3, 4, 5, 6, 7]})",
       {"drop map", "every expert"}},
      {"uneven_drop_counts", R"({"0": [0, 1, 2], "1": [3, 4]})", {"drop map", "layer 1"}},
      {"value_not_list", R"({"0": 3, "1": [3, 4]})", {"dm.json", "0"}},
  };
  for (Row& row : rows) {
    std::string text = row.text;
    cases->push_back({"dropmap", row.name,
                      [text](const std::string& dir) { WriteBytes(dir + "/dm.json", text); },
                      PruneArgv(), nullptr, row.mention, {"out"}});
  }
}

// --- contribution JSON -------------------------------------------------------

void AddContribCases(std::vector<Case>* cases) {
  auto edit = [](std::function<void(json*)> f) {
    return [f](const std::string& dir) {
      json c = json::parse(ReadBytes(dir + "/contrib.json"));
      f(&c);
      WriteBytes(dir + "/contrib.json", c.dump());
    };
  };
  auto raw = [](std::string text) {
    return [text](const std::string& dir) { WriteBytes(dir + "/contrib.json", text); };
  };
  auto cell = [](const std::string& field, json value) {
    return [field, value](json* c) { (*c)["categories"]["generic_math"]["0"][0][field] = value; };
  };
  struct Row {
    std::string name;
    std::function<void(const std::string&)> prepare;
    std::vector<std::string> mention;
  };
  std::vector<Row> rows = {
      {"empty", raw(""), {"contrib.json"}},
      {"not_json", raw("{\"metadata\": {"), {"contrib.json"}},
      {"top_level_array", raw("[1, 2, 3]"), {"contrib.json"}},
      {"deep_nesting", raw(std::string(100000, '[') + std::string(100000, ']')),
       {"contrib.json"}},
      {"missing_metadata", edit([](json* c) { c->erase("metadata"); }),
       {"contrib.json", "metadata"}},
      {"missing_categories", edit([](json* c) { c->erase("categories"); }),
       {"contrib.json", "categories"}},
      {"num_layers_string", edit([](json* c) { (*c)["metadata"]["num_layers"] = "2"; }),
       {"contrib.json", "num_layers"}},
      {"num_experts_zero", edit([](json* c) { (*c)["metadata"]["num_experts"] = 0; }),
       {"contrib.json", "num_experts"}},
      {"layer_missing",
       edit([](json* c) { (*c)["categories"]["generic_math"].erase("1"); }),
       {"contrib.json", "generic_math"}},
      {"wnorm_string", edit(cell("wnorm", "big")), {"contrib.json", "wnorm"}},
      {"id_missing", edit([](json* c) {
         (*c)["categories"]["generic_math"]["0"][0].erase("id");
       }),
       {"contrib.json", "id"}},
      {"id_out_of_range", edit(cell("id", 99)), {"contrib.json", "99"}},
      {"wnorm_null", edit(cell("wnorm", nullptr)), {"contrib.json", "wnorm"}},
      {"wnorm_list", edit(cell("wnorm", json::array({1, 2}))), {"contrib.json", "wnorm"}},
      {"duplicate_id", edit(cell("id", 1)), {"contrib.json", "id"}},
      {"cell_missing",
       edit([](json* c) { (*c)["categories"]["generic_math"]["0"].erase(0); }),
       {"contrib.json", "generic_math"}},
      {"num_layers_more_than_data",
       edit([](json* c) { (*c)["metadata"]["num_layers"] = 3; }),
       {"contrib.json", "2"}},
      {"layer_not_list",
       edit([](json* c) { (*c)["categories"]["generic_math"]["0"] = {{"a", 1}}; }),
       {"contrib.json", "generic_math"}},
      {"categories_not_object", edit([](json* c) { (*c)["categories"] = 3; }),
       {"contrib.json", "categories"}},
  };
  for (Row& row : rows) {
    if (row.mention.empty()) continue;
    cases->push_back({"contrib", row.name, row.prepare,
                      {Bin(), "dropmap", "--data", "{dir}/contrib.json", "--target", "6",
                       "--output", "{dir}/out/drop_map.json"},
                      nullptr, row.mention, {"out/drop_map.json", "out/drop_map.json.summary.json"}});
  }
}

// --- completions JSONL (offline scoring) --------------------------------------

void AddCompletionsCases(std::vector<Case>* cases) {
  struct Row {
    std::string name, text;
    std::vector<std::string> mention;
  };
  std::vector<Row> rows = {
      {"not_json", "{\"id\": 0, \"completion\": \"The answer is 18\"\nnot json\n",
       {"completions.jsonl", ":1"}},
      {"line_is_array", "[0, \"The answer is 18\"]\n", {"completions.jsonl", ":1"}},
      {"missing_id", "{\"completion\": \"The answer is 18\"}\n", {"completions.jsonl", ":1"}},
      {"missing_completion", "{\"id\": 0}\n", {"completions.jsonl", ":1"}},
      {"completion_number", "{\"id\": 0, \"completion\": 18}\n",
       {"completions.jsonl", ":1", "completion"}},
      {"unknown_problem", "{\"id\": 999999, \"completion\": \"18\"}\n",
       {"completions.jsonl", "999999"}},
      {"binary_garbage", std::string("\x00\xff\x13\x37\n", 5), {"completions.jsonl", ":1"}},
      {"truncated_line", "{\"id\": 0, \"completion\": \"The ans", {"completions.jsonl", ":1"}},
  };
  for (Row& row : rows) {
    std::string text = row.text;
    cases->push_back(
        {"completions", row.name,
         [text](const std::string& dir) { WriteBytes(dir + "/completions.jsonl", text); },
         {Bin(), "score", "--bench", "gsm8k", "--dataset",
          cohort::testing::DatasetsDir() + "/gsm8k/test.jsonl", "--completions",
          "{dir}/completions.jsonl", "--out", "{dir}/scores.jsonl"},
         nullptr, row.mention, {"scores.jsonl"}});
  }
}

// --- GGUF ---------------------------------------------------------------------

std::string U32(uint32_t v) { return U64(v).substr(0, 4); }
std::string Str(const std::string& s) { return U64(s.size()) + s; }

// A valid little GGUF v3 unless a field is overridden: two key/values
// (general.architecture, general.alignment = 32) and one F32 tensor [8, 2].
struct GgufParts {
  std::string magic = "GGUF";
  uint32_t version = 3;
  std::optional<uint64_t> tensor_count, kv_count;
  std::vector<std::string> kvs = {Str("general.architecture") + U32(8) + Str("llama"),
                                  Str("general.alignment") + U32(4) + U32(32)};
  std::vector<std::string> tensors = {Str("t") + U32(2) + U64(8) + U64(2) + U32(0) + U64(0)};
  uint64_t data_bytes = 64;
  std::size_t truncate_to = 0;  // 0: keep all

  std::string Bytes() const {
    std::string out = magic + U32(version) + U64(tensor_count.value_or(tensors.size())) +
                      U64(kv_count.value_or(kvs.size()));
    for (const std::string& kv : kvs) out += kv;
    for (const std::string& t : tensors) out += t;
    out.resize((out.size() + 31) / 32 * 32, '\0');
    out += std::string(data_bytes, '\0');
    if (truncate_to > 0) out.resize(truncate_to);
    return out;
  }
};

void AddGgufCases(std::vector<Case>* cases) {
  struct Row {
    std::string name;
    std::function<void(GgufParts*)> edit;
    std::vector<std::string> mention;
  };
  std::vector<Row> rows = {
      {"empty", [](GgufParts* g) { g->truncate_to = 1; g->magic = ""; g->version = 0; },
       {"bad.gguf"}},
      {"bad_magic", [](GgufParts* g) { g->magic = "GGUX"; }, {"bad.gguf", "magic"}},
      {"version_1", [](GgufParts* g) { g->version = 1; }, {"bad.gguf", "version"}},
      {"version_4", [](GgufParts* g) { g->version = 4; }, {"bad.gguf", "version"}},
      {"truncated_in_counts", [](GgufParts* g) { g->truncate_to = 13; }, {"bad.gguf"}},
      {"tensor_count_huge", [](GgufParts* g) { g->tensor_count = 1ull << 60; },
       {"bad.gguf", "tensor"}},
      {"kv_count_huge", [](GgufParts* g) { g->kv_count = 1ull << 60; }, {"bad.gguf"}},
      {"key_length_huge",
       [](GgufParts* g) { g->kvs[0] = U64(1ull << 62) + "general"; }, {"bad.gguf"}},
      {"empty_key", [](GgufParts* g) { g->kvs[0] = Str("") + U32(8) + Str("llama"); },
       {"bad.gguf", "key"}},
      {"unknown_value_type",
       [](GgufParts* g) { g->kvs[0] = Str("general.architecture") + U32(99) + Str("x"); },
       {"bad.gguf", "type"}},
      {"string_length_huge",
       [](GgufParts* g) { g->kvs[0] = Str("general.architecture") + U32(8) + U64(1ull << 40); },
       {"bad.gguf"}},
      {"array_of_unknown_type",
       [](GgufParts* g) { g->kvs.push_back(Str("x.list") + U32(9) + U32(77) + U64(1)); },
       {"bad.gguf", "type"}},
      {"array_length_huge",
       [](GgufParts* g) { g->kvs.push_back(Str("x.list") + U32(9) + U32(0) + U64(1ull << 61)); },
       {"bad.gguf"}},
      {"alignment_three",
       [](GgufParts* g) { g->kvs[1] = Str("general.alignment") + U32(4) + U32(3); },
       {"bad.gguf", "alignment"}},
      {"duplicate_key", [](GgufParts* g) { g->kvs.push_back(g->kvs[0]); },
       {"bad.gguf", "general.architecture"}},
      {"five_dims",
       [](GgufParts* g) {
         g->tensors[0] = Str("t") + U32(5) + U64(1) + U64(1) + U64(1) + U64(1) + U64(1) + U32(0) +
                         U64(0);
       },
       {"bad.gguf", "t"}},
      {"unknown_ggml_type",
       [](GgufParts* g) { g->tensors[0] = Str("t") + U32(2) + U64(8) + U64(2) + U32(99) + U64(0); },
       {"bad.gguf", "type"}},
      {"unaligned_offset",
       [](GgufParts* g) { g->tensors[0] = Str("t") + U32(2) + U64(8) + U64(2) + U32(0) + U64(4); },
       {"bad.gguf", "offset"}},
      {"data_past_end", [](GgufParts* g) { g->data_bytes = 16; }, {"bad.gguf", "t"}},
      {"empty_tensor_name",
       [](GgufParts* g) { g->tensors[0] = Str("") + U32(2) + U64(8) + U64(2) + U32(0) + U64(0); },
       {"bad.gguf", "name"}},
      {"dim_2_pow_63",
       [](GgufParts* g) {
         g->tensors[0] = Str("t") + U32(2) + U64(1ull << 63) + U64(2) + U32(0) + U64(0);
       },
       {"bad.gguf", "t"}},
      {"duplicate_tensor",
       [](GgufParts* g) {
         g->tensors.push_back(Str("t") + U32(2) + U64(8) + U64(2) + U32(0) + U64(64));
         g->data_bytes = 128;
       },
       {"bad.gguf", "t"}},
  };
  for (Row& row : rows) {
    GgufParts parts;
    row.edit(&parts);
    std::string bytes = parts.Bytes();
    cases->push_back({"gguf", row.name, nullptr, {}, [bytes] {
                        return worker::quant::ParseGguf(bytes, "bad.gguf").status();
                      },
                      row.mention, {}});
  }
}

// --- specs ----------------------------------------------------------------------

constexpr char kDigest[] =
    "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

std::string Sweep(const std::string& recipe = "  dropmap: {target: 12, protect_top: 2}\n",
                  const std::string& grid = "  upweight.alpha: [1.0, 1.2]\n",
                  const std::string& suite = "    - {bench: gsm8k, dataset: DIGEST, limit: 5}\n",
                  const std::string& head = "kind: sweep\nname: demo\n") {
  std::string text = head + "base_model: DIGEST\ncontrib: DIGEST\nrecipe:\n" + recipe +
                     "grid:\n" + grid + "eval:\n  profile: omk-card-2026-07\n  suites:\n" + suite;
  return absl::StrReplaceAll(text, {{"DIGEST", kDigest}});
}

void AddSpecCases(std::vector<Case>* cases) {
  struct Row {
    std::string name, text;
    std::vector<std::string> mention;
  };
  std::vector<Row> rows = {
      {"empty", "", {"s.yaml"}},
      {"unclosed_flow", "kind: [sweep\nname: x\n", {"s.yaml"}},
      {"top_level_list", "- kind: sweep\n- name: x\n", {"s.yaml"}},
      {"unknown_kind", Sweep("  dropmap: {target: 12}\n", "  upweight.alpha: [1.0]\n",
                             "    - {bench: gsm8k, dataset: DIGEST}\n", "kind: swoop\nname: d\n"),
       {"s.yaml", "kind", "sweep"}},
      {"missing_name", Sweep("  dropmap: {target: 12}\n", "  upweight.alpha: [1.0]\n",
                             "    - {bench: gsm8k, dataset: DIGEST}\n", "kind: sweep\n"),
       {"s.yaml", "name"}},
      {"bad_digest",
       absl::StrReplaceAll(Sweep(), {{std::string("base_model: ") + kDigest,
                                      "base_model: sha256:xyz"}}),
       {"s.yaml", "base_model"}},
      {"unknown_recipe_key", Sweep("  dropmap: {target: 12, protect_tap: 2}\n"),
       {"s.yaml", "protect_tap"}},
      {"target_string", Sweep("  dropmap: {target: twelve}\n"), {"s.yaml", "target"}},
      {"unknown_grid_key", Sweep("  dropmap: {target: 12}\n", "  dropmap.nonsense: [1, 2]\n"),
       {"s.yaml", "dropmap.nonsense"}},
      {"empty_grid_axis", Sweep("  dropmap: {target: 12}\n", "  upweight.alpha: []\n"),
       {"s.yaml", "upweight.alpha"}},
      {"alpha_string", Sweep("  dropmap: {target: 12}\n", "  upweight.alpha: [abc]\n"),
       {"s.yaml", "alpha"}},
      {"unknown_bench", Sweep("  dropmap: {target: 12}\n", "  upweight.alpha: [1.0]\n",
                              "    - {bench: gsm9k, dataset: DIGEST}\n"),
       {"s.yaml", "gsm9k"}},
      {"negative_limit", Sweep("  dropmap: {target: 12}\n", "  upweight.alpha: [1.0]\n",
                               "    - {bench: gsm8k, dataset: DIGEST, limit: -5}\n"),
       {"s.yaml", "limit"}},
      {"suites_not_list", Sweep("  dropmap: {target: 12}\n", "  upweight.alpha: [1.0]\n",
                                "    gsm8k\n"),
       {"s.yaml", "suites"}},
      {"tab_indentation", "kind: sweep\nname: x\nrecipe:\n\tdropmap: {target: 1}\n",
       {"s.yaml"}},
      {"empty_suites", Sweep("  dropmap: {target: 12}\n", "  upweight.alpha: [1.0]\n",
                             "    []\n"),
       {"s.yaml", "suites"}},
  };
  for (Row& row : rows) {
    std::string text = row.text;
    cases->push_back({"spec", row.name, nullptr, {}, [text] {
                        return client::ParseSpecText(text, "s.yaml", "/nonexistent-base")
                            .status();
                      },
                      row.mention, {}});
  }
}

// --- llama-server replies -------------------------------------------------------

void AddLlamaCases(std::vector<Case>* cases) {
  using worker::llama::ParseChatResponse;
  using worker::llama::ParseChatStream;
  struct Row {
    std::string name;
    std::function<absl::Status()> parse;
    std::vector<std::string> mention;
  };
  auto chat = [](std::string body) {
    return [body] { return ParseChatResponse(body).status(); };
  };
  auto stream = [](std::string body) {
    return [body] { return ParseChatStream(body).status(); };
  };
  std::vector<Row> rows = {
      {"chat_empty", chat(""), {"JSON"}},
      {"chat_not_json", chat("<html>502 Bad Gateway</html>"), {"JSON"}},
      {"chat_array", chat("[]"), {"choices"}},
      {"chat_no_choices", chat("{}"), {"choices"}},
      {"chat_empty_choices", chat(R"({"choices": []})"), {"choices"}},
      {"chat_no_message", chat(R"({"choices": [{"index": 0, "finish_reason": "stop"}]})"),
       {"message"}},
      {"chat_content_number",
       chat(R"({"choices": [{"message": {"content": 5}, "finish_reason": "stop"}]})"),
       {"content"}},
      {"chat_finish_reason_number",
       chat(R"({"choices": [{"message": {"content": "x"}, "finish_reason": 3}]})"),
       {"finish_reason"}},
      {"chat_reasoning_object",
       chat(R"({"choices": [{"message": {"content": "x", "reasoning_content": {"a": 1}},
                "finish_reason": "stop"}]})"),
       {"reasoning_content", "expected a string"}},
      {"chat_error_object",
       chat(R"({"error": {"code": 400, "message": "the request exceeds the available context size", "type": "exceed_context_size_error"}})"),
       {"exceeds the available context size"}},
      {"stream_bad_json", stream("data: {\"choices\": [\n\n"), {"JSON"}},
      {"stream_truncated",
       stream("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"),
       {"cut short"}},
      {"stream_array_chunk", stream("data: []\n\ndata: [DONE]\n\n"), {"finish reason"}},
      {"stream_delta_content_number",
       stream("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":7}}]}\n\n"
              "data: [DONE]\n\n"),
       {"content"}},
      {"stream_error_event",
       stream("data: {\"error\":{\"code\":500,\"message\":\"boom in the parser\"}}\n\n"),
       {"boom in the parser"}},
      {"props_empty",
       [] { return worker::llama::ParseProps("{}").status(); }, {"props"}},
      {"props_slots_string",
       [] {
         return worker::llama::ParseProps(R"({"total_slots": "four",
           "default_generation_settings": {"n_ctx": 4096}})").status();
       },
       {"total_slots"}},
      {"slots_not_array", [] { return worker::llama::ParseSlots("{}").status(); }, {"slots"}},
      {"native_content_number",
       [] { return worker::llama::ParseNativeCompletion(R"({"content": "x"})").status(); },
       {"stop:true"}},
      {"metrics_bad_value",
       [] { return worker::llama::ParseMetrics("llamacpp:tokens_predicted_total abc\n").status(); },
       {"abc"}},
      {"tokenize_not_list",
       [] { return worker::llama::ParseTokenizeCount(R"({"tokens": "x"})").status(); },
       {"tokens"}},
  };
  for (Row& row : rows) {
    cases->push_back({"llama", row.name, nullptr, {}, row.parse, row.mention, {}});
  }
}

// gtest prints parameters of failed cases: the name, not the bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.kind << "/" << c.name; }

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  AddSafetensorsCases(&cases);
  AddDropMapCases(&cases);
  AddContribCases(&cases);
  AddCompletionsCases(&cases);
  AddGgufCases(&cases);
  AddSpecCases(&cases);
  AddLlamaCases(&cases);
  return cases;
}

// Every file under `dir`, relative.
std::set<std::string> Listing(const std::string& dir) {
  std::set<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    files.insert(fs::relative(entry.path(), dir).string());
  }
  return files;
}

class MalformedInputTest : public ::testing::TestWithParam<Case> {
 protected:
  // The valid inputs a command case starts from (each case breaks one).
  void MakeValidInputs() {
    RunOk({Bin(), "synth-model", "--layout", "gemma4", "--output-dir", dir_.Join("base"),
           "--layers", "2", "--experts", "8"});
    RunOk({Bin(), "synth-contrib", "--layers", "2", "--experts", "8", "--output",
           dir_.Join("contrib.json")});
    WriteBytes(dir_.Join("dm.json"), R"({"0": [3, 4], "1": [6, 7]})");
    WriteBytes(dir_.Join("completions.jsonl"),
               "{\"id\": 0, \"completion\": \"The answer is 18\"}\n");
  }
  void RunOk(std::vector<std::string> argv) {
    SubprocessOptions options;
    options.argv = std::move(argv);
    absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
    ASSERT_TRUE(r.ok() && r->Succeeded()) << (r.ok() ? r->Describe() : r.status().ToString());
  }
  cohort::testing::TempDir dir_;
};

TEST_P(MalformedInputTest, FailsClearlyAndLeavesNothing) {
  const Case& c = GetParam();
  std::string error;
  if (c.parse) {
    absl::Status status = c.parse();
    ASSERT_FALSE(status.ok()) << "accepted";
    error = std::string(status.message());
  } else {
    ASSERT_NO_FATAL_FAILURE(MakeValidInputs());
    c.prepare(dir_.path());
    std::set<std::string> before = Listing(dir_.path());
    SubprocessOptions options;
    for (const std::string& arg : c.argv) {
      options.argv.push_back(absl::StrReplaceAll(arg, {{"{dir}", dir_.path()}}));
    }
    options.timeout = absl::Seconds(60);
    absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->term_signal, 0) << "crashed: " << r->Describe();
    EXPECT_FALSE(r->timed_out);
    EXPECT_NE(r->exit_code, 0) << "accepted: " << r->stdout_data;
    EXPECT_TRUE(r->exit_code == 1 || r->exit_code == 2) << r->Describe();
    error = r->stderr_data;
    for (const std::string& path : c.must_not_exist) {
      EXPECT_FALSE(fs::exists(dir_.Join(path))) << path << " was left behind";
    }
    std::set<std::string> after = Listing(dir_.path());
    std::vector<std::string> added;
    for (const std::string& f : after) {
      if (!before.count(f)) added.push_back(f);
    }
    EXPECT_THAT(added, ::testing::IsEmpty()) << "left behind: " << absl::StrJoin(added, ", ");
  }
  EXPECT_FALSE(error.empty());
  for (const std::string& want : c.must_mention) {
    EXPECT_THAT(error, ::testing::HasSubstr(want)) << "the error does not name " << want;
  }
  RecordProperty("error", error.substr(0, 300));
}

INSTANTIATE_TEST_SUITE_P(Corpus, MalformedInputTest, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.kind + "_" + info.param.name;
                         });

TEST(MalformedCorpusTest, CoversEveryInputKindWithAtLeast100Cases) {
  std::vector<Case> cases = AllCases();
  EXPECT_GE(cases.size(), 100u);
  std::set<std::string> kinds;
  for (const Case& c : cases) kinds.insert(c.kind);
  EXPECT_EQ(kinds, (std::set<std::string>{"safetensors", "dropmap", "contrib", "completions",
                                          "gguf", "spec", "llama"}));
}

}  // namespace
}  // namespace cohort

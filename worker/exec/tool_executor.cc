#include "worker/exec/tool_executor.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/atomic_file.h"
#include "common/canonical_json.h"
#include "common/endpoint_url.h"
#include "common/status_macros.h"
#include "common/subprocess.h"
#include "common/vllm_options.h"
#include "nlohmann/json.hpp"
#include "worker/exec/gate.h"
#include "worker/eval/summary.h"
#include "worker/exec/score_rows.h"
#include "worker/invocation/invocations.h"
#include "worker/quant/gguf_reader.h"
#include "worker/prune/dropmap_options.h"
#include "worker/quant/gguf_summary.h"
#include "worker/quant/quant_plan.h"
#include "worker/quant/tensor_type_map.h"

namespace cohort::worker {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

absl::StatusOr<std::string> Input(const StepTask& task, const std::string& name) {
  auto it = task.inputs.find(name);
  if (it == task.inputs.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("step ", task.key, " has no input '", name, "'"));
  }
  return it->second;
}

std::string OptionalInput(const StepTask& task, const std::string& name) {
  auto it = task.inputs.find(name);
  return it == task.inputs.end() ? std::string() : it->second;
}

// A folder artifact holding one file stands for that file where a tool wants
// a file; `preferred` wins when the folder holds several.
absl::StatusOr<std::string> AsFile(const std::string& path,
                                   const std::string& preferred) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return path;
  if (!preferred.empty() && fs::is_regular_file(fs::path(path) / preferred, ec)) {
    return (fs::path(path) / preferred).string();
  }
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    if (entry.is_regular_file()) files.push_back(entry.path().string());
  }
  if (files.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": expected one file", preferred.empty() ? "" : " or " + preferred,
        ", found ", files.size()));
  }
  return files.front();
}

// Links `path` as <output_root>/inputs/<name> and returns "inputs/<name>",
// for a tool run in output_root (RunTool's default working folder). Tools
// record the paths they are given (dropmap's summary, prune's metadata,
// convert's model name, imatrix's dataset), and a worker's paths differ from
// another's; with these names and relative output paths, an artifact's bytes
// depend on its inputs alone, so a rerun elsewhere reproduces its digest.
absl::StatusOr<std::string> StableInput(const StepTask& task, const std::string& name,
                                        const std::string& path) {
  fs::path dir = fs::path(task.output_root) / "inputs";
  std::error_code ec;
  fs::create_directories(dir, ec);
  fs::remove(dir / name, ec);
  fs::create_symlink(fs::absolute(path, ec), dir / name, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("linking input ", path, " as ", name, ": ",
                                            ec.message()));
  }
  return "inputs/" + name;
}

// "\ninputs/NAME is PATH" per input StableInput linked, so an error about
// "inputs/contrib.json" names the real file too.
std::string LinkedInputs(const StepTask& task) {
  std::string out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path(task.output_root) / "inputs", ec)) {
    fs::path target = fs::read_symlink(entry.path(), ec);
    if (!ec) absl::StrAppend(&out, "\ninputs/", entry.path().filename().string(), " is ",
                             target.string());
  }
  return out;
}

// The prune core writes the drop map's absolute, resolved path into
// expert_drop_metadata.json (as expert_drop.py does); on a worker that is a
// scratch folder, different on every run. The checkpoint names it by its
// stable input name instead, so the artifact's digest depends on its inputs.
absl::Status UnpinDropMapPath(const std::string& checkpoint, const std::string& stable_name) {
  std::string path = (fs::path(checkpoint) / "expert_drop_metadata.json").string();
  std::error_code ec;
  if (!fs::exists(path, ec)) return absl::OkStatus();
  COHORT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  const std::string key = "\"drop_map_file\": ";
  size_t at = text.find(key);
  if (at == std::string::npos) return absl::OkStatus();
  size_t begin = at + key.size();
  if (begin >= text.size() || text[begin] != '"') return absl::OkStatus();
  size_t end = begin + 1;  // past the closing quote of the JSON string
  while (end < text.size() && text[end] != '"') end += text[end] == '\\' ? 2 : 1;
  if (end >= text.size()) return absl::OkStatus();
  text.replace(begin, end + 1 - begin, json(stable_name).dump());
  return WriteFileAtomically(path, text);
}

absl::StatusOr<json> Params(const StepTask& task) {
  COHORT_ASSIGN_OR_RETURN(json params,
                          ParseJson(task.params_json, "params of " + task.key));
  if (!params.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("params of ", task.key,
                                                   " must be an object"));
  }
  return params;
}

// The type names the output file (model-<type>.gguf): letters, digits and
// '_' only (Q4_K_M, IQ2_XXS, BF16), so no parameter can steer that file out
// of the output folder.
absl::Status CheckQuantType(const std::string& type) {
  bool ok = type.size() <= 32;
  for (char c : type) ok = ok && (absl::ascii_isalnum(c) || c == '_');
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "quantize type '", absl::CHexEscape(type.substr(0, 40)),
      "' is not a llama.cpp type name (letters, digits and '_', e.g. Q4_K_M)"));
}

// A quantize step's per-tensor rules: params.tensor_types (["PATTERN=TYPE",
// ...], written by hand) first, so they win over a generated map (the
// `tensor_types` input: a quantmap output's tensor_types.txt, whitespace-
// separated as llama-quantize's --tensor-type-file reads it), whose rules
// follow. llama-quantize takes the first rule that matches a tensor.
absl::StatusOr<std::vector<quant::TensorTypeRule>> TensorTypeRules(const StepTask& task,
                                                                   const json& params) {
  std::vector<std::string> entries;
  auto it = params.find("tensor_types");
  if (it != params.end() && !it->is_null()) {
    if (!it->is_array()) {
      return absl::InvalidArgumentError("quantize params.tensor_types: a list of PATTERN=TYPE");
    }
    for (const json& entry : *it) {
      if (!entry.is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "quantize params.tensor_types: ", entry.dump(), " is not a PATTERN=TYPE string"));
      }
      entries.push_back(entry.get<std::string>());
    }
  }
  if (std::string map = OptionalInput(task, "tensor_types"); !map.empty()) {
    COHORT_ASSIGN_OR_RETURN(std::string file, AsFile(map, "tensor_types.txt"));
    COHORT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(file));
    if (text.size() > (1u << 20)) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": ", text.size(),
                                                     " bytes; a tensor-type map is under 1 MiB"));
    }
    for (absl::string_view rule : absl::StrSplit(text, absl::ByAnyChar(" \t\r\n"),
                                                 absl::SkipEmpty())) {
      entries.emplace_back(rule);
    }
  }
  absl::StatusOr<std::vector<quant::TensorTypeRule>> rules = quant::ParseTensorTypeMap(entries);
  if (!rules.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("quantize of ", task.key, ": ",
                                                   rules.status().message()));
  }
  return rules;
}

// What the report's tier table shows of a quantized model: the tier, its size
// on disk, parameters and bits per weight as llama.cpp counts them, how many
// tensors got each type, how many per-tensor rules applied and, for a
// generated map, its target (from the quantmap output's quant_map.json).
std::string QuantizeFacts(const StepTask& task, const std::string& type, uint64_t file_bytes,
                          const quant::GgufSummary& summary, size_t rules) {
  json types = json::object();
  for (const auto& [name, count] : summary.tensor_types) types[name] = count;
  json facts = {{"type", type},
                {"file_bytes", file_bytes},
                {"tensor_bytes", summary.tensor_bytes},
                {"parameters", summary.parameters},
                {"bits_per_weight", summary.BitsPerWeight()},
                {"tensor_types", types},
                {"tensor_rules", rules}};
  if (std::string map = OptionalInput(task, "tensor_types"); !map.empty()) {
    const std::string path = (fs::path(map) / "quant_map.json").string();
    absl::StatusOr<std::string> text = ReadFileToString(path);
    absl::StatusOr<quant::QuantMapSummary> plan =
        text.ok() ? quant::QuantMapSummaryFromJson(ParseJsonOrDiscarded(*text), path)
                  : absl::StatusOr<quant::QuantMapSummary>(text.status());
    if (plan.ok()) facts["quant_map_target_bpw"] = plan->target_bits_per_weight;
  }
  return facts.dump();
}

// A summary read back as its type (worker/eval/summary.h): `what` names the
// text in errors. The score and bench subcommands print one on stdout; a
// gate reads the one stored with the scores.
absl::StatusOr<eval::ScoreSummary> ReadSummary(const std::string& text, const std::string& what) {
  COHORT_ASSIGN_OR_RETURN(json parsed, ParseJson(text, what));
  absl::StatusOr<eval::ScoreSummary> summary = eval::ScoreSummaryFromJson(parsed);
  if (!summary.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", summary.status().message()));
  }
  return summary;
}

// The summary a subcommand printed, checked and written as summary.json.
absl::Status WriteSummary(const StepTask& task, const char* tool, const std::string& printed,
                          const std::string& dir) {
  COHORT_ASSIGN_OR_RETURN(
      eval::ScoreSummary summary,
      ReadSummary(printed, absl::StrCat("the summary `cohort-worker ", tool, "` printed for ",
                                        task.key)));
  return WriteFileAtomically((fs::path(dir) / "summary.json").string(),
                             eval::ScoreSummaryToText(summary));
}

// A generate step's params.endpoint (an OpenAI-compatible server) into
// `run`, when this worker's operator listed that server.
absl::Status UseEndpoint(const ToolConfig& config, const json& endpoint, BenchInvocation* run) {
  if (!endpoint.is_object() || !endpoint.contains("url") || !endpoint["url"].is_string() ||
      !endpoint.contains("model") || !endpoint["model"].is_string() ||
      !endpoint.contains("parallel") || !endpoint["parallel"].is_number_integer() ||
      endpoint["parallel"].get<int64_t>() < 1 || endpoint["parallel"].get<int64_t>() > 1024) {
    return absl::InvalidArgumentError(
        "generate params.endpoint needs a url, a model and a parallel of 1 to 1024");
  }
  const std::string url = endpoint["url"].get<std::string>();
  const std::string tool = EndpointTool(url);
  bool listed = false;
  for (const std::string& allowed : config.endpoints) listed |= EndpointTool(allowed) == tool;
  if (!listed) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this worker does not send requests to ", url,
        " (its operator lists the servers it may use: cohort-worker run --endpoint URL)"));
  }
  run->server_url = url;
  run->server_model = endpoint["model"].get<std::string>();
  run->concurrency = static_cast<int>(endpoint["parallel"].get<int64_t>());
  run->api_key_file = config.endpoint_key_file;
  return absl::OkStatus();
}

// A generate step's params.vllm (a checkpoint served by `vllm serve` here)
// into `run`: the settings checked again (a step need not come from a spec),
// the engine flags each one token, the context per request as llama-server's
// slot would get it unless the step sets max_model_len.
absl::Status UseVllm(const ToolConfig& config, const json& vllm, const std::string& checkpoint,
                     BenchInvocation* run) {
  COHORT_RETURN_IF_ERROR(CheckVllmSettings(vllm));
  if (config.vllm.empty()) {
    return absl::FailedPreconditionError(
        "this worker has no vLLM (its operator names one: cohort-worker run --vllm PATH)");
  }
  run->backend = "vllm";
  run->vllm = config.vllm;
  run->model = checkpoint;
  run->parallel = vllm["parallel"].get<int>();
  run->reasoning_parser = vllm.value("reasoning_parser", "");
  if (vllm.contains("max_model_len")) {
    run->ctx_size = static_cast<int>(vllm["max_model_len"].get<int64_t>() * run->parallel);
  }
  run->server_args = VllmEngineFlags(vllm);
  return absl::OkStatus();
}

// Removes what is inside `dir`, keeping `dir` (the agent's to remove).
void ClearFolder(const std::string& dir) {
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) return;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    std::error_code rm;
    fs::remove_all(entry.path(), rm);
  }
}

absl::StatusOr<std::string> OutputDir(const StepTask& task, const std::string& name) {
  fs::path dir = fs::path(task.output_root) / name;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(dir.string(), ": ", ec.message()));
  return dir.string();
}

// {"protect_top": 2, "class_weights": [1, 3]} -> --protect-top 2 --class-weights 1 3
// A dropmap flag's value as one argv token: a number, or a word that cannot
// be read as another flag or a path (argparse would take "--data=/x" as a
// flag; "/" and "=" are refused).
absl::StatusOr<std::string> FlagValue(const std::string& key, const json& v) {
  if (v.is_number()) return v.dump();
  if (v.is_string()) {
    const std::string& text = v.get_ref<const std::string&>();
    if (!text.empty() && text[0] != '-' &&
        std::all_of(text.begin(), text.end(), [](char c) {
          return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                 c == '.' || c == ':' || c == '-' || c == '+';
        })) {
      return text;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "dropmap params.flags.", key,
      ": values are numbers or plain words (letters, digits, _ . : + -, not first -), got ", v.dump()));
}

// params.flags of a dropmap step -> the generator's flags. Only the generator's own flags
// (prune::DropMapFlagSpecs) with typed values pass; flags that name files
// come from the step's inputs, never from params, so a submitter cannot
// point the tool at a file of the worker's machine.
absl::StatusOr<prune::DropMapFlags> FlagsFromParams(const json& flags) {
  static const std::set<std::string> kFromInputs = {
      "data", "v4-floor-data", "v4-floor-map", "baseline-drop-map", "output",
      "summary-output"};
  prune::DropMapFlags given;
  if (flags.is_null()) return given;
  if (!flags.is_object()) {
    return absl::InvalidArgumentError("dropmap params.flags must be an object");
  }
  for (const auto& [key, value] : flags.items()) {
    const std::string name = absl::StrReplaceAll(key, {{"_", "-"}});
    const auto& specs = prune::DropMapFlagSpecs();
    auto spec = std::find_if(specs.begin(), specs.end(),
                             [&](const prune::DropMapFlagSpec& s) { return name == s.name; });
    if (spec == specs.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("dropmap params.flags.", key, " is not a flag of the generator"));
    }
    if (kFromInputs.count(name) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "dropmap params.flags.", key, " names a file: it comes from the step's inputs"));
    }
    if (value.is_null() || (value.is_boolean() && !value.get<bool>())) continue;
    const std::vector<json> items =
        value.is_array() ? value.get<std::vector<json>>() : std::vector<json>{value};
    const size_t count = items.size();
    if (count == 0 || (spec->nargs > 0 && count != static_cast<size_t>(spec->nargs))) {
      return absl::InvalidArgumentError(absl::StrCat("dropmap params.flags.", key, " takes ",
                                                     spec->nargs < 0 ? "one or more"
                                                                     : std::to_string(spec->nargs),
                                                     " value(s)"));
    }
    std::vector<std::string>& tokens = given[spec->name];
    tokens.clear();  // "class_weights" and "class-weights" both given: the last wins
    for (const json& item : items) {
      COHORT_ASSIGN_OR_RETURN(std::string token, FlagValue(key, item));
      tokens.push_back(std::move(token));
    }
  }
  return given;
}

// Links every file of `from` into `to` (the store's files are immutable and
// the upweight replaces shards by rename, so links are safe); copies where a
// link is impossible (another filesystem).
absl::Status LinkTree(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  for (fs::recursive_directory_iterator it(from, ec), end; !ec && it != end;
       it.increment(ec)) {
    fs::path target = fs::path(to) / fs::relative(it->path(), from);
    if (it->is_directory()) {
      fs::create_directories(target, ec);
      continue;
    }
    fs::create_hard_link(it->path(), target, ec);
    if (ec) {
      ec.clear();
      fs::copy_file(it->path(), target, ec);
    }
    if (ec) return absl::InternalError(absl::StrCat("copying ", it->path().string(),
                                                    ": ", ec.message()));
  }
  if (ec) return absl::InternalError(absl::StrCat("reading ", from, ": ", ec.message()));
  return absl::OkStatus();
}

// The routed-expert count a checkpoint's config declares.
absl::StatusOr<uint64_t> ConfigExpertCount(const std::string& checkpoint) {
  std::string path = (fs::path(checkpoint) / "config.json").string();
  COHORT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  COHORT_ASSIGN_OR_RETURN(json config, ParseJson(text, path));
  for (const json* scope : {&config, config.contains("text_config")
                                         ? &config["text_config"]
                                         : &config}) {
    for (const char* key : {"num_experts", "num_local_experts", "n_routed_experts"}) {
      if (scope->contains(key) && (*scope)[key].is_number_unsigned()) {
        return (*scope)[key].get<uint64_t>();
      }
    }
  }
  return absl::FailedPreconditionError(
      absl::StrCat(path, ": no expert count (num_experts, num_local_experts, "
                         "n_routed_experts)"));
}

absl::StatusOr<quant::GgufSummary> Summarize(const std::string& path) {
  COHORT_ASSIGN_OR_RETURN(quant::GgufContents gguf, quant::ReadGgufFile(path));
  return quant::SummarizeGguf(gguf);
}

// The split few-shot exemplars are drawn from (GSM8K's train split: its
// exemplars are part of every prompt, so generate and score both read it),
// or "" when the step has none.
absl::StatusOr<std::string> FewshotFile(const StepTask& task) {
  std::string in = OptionalInput(task, "fewshot");
  if (in.empty()) return std::string();
  return AsFile(in, "");
}

}  // namespace

namespace {

// `cohort-worker bench`: "progress: 3/20 problems, 2 in flight, 812 tok/s,
// eta 1m35s" (worker/llama/generation_progress.h). The counts are typed; the
// rest of the line is the message.
bool ParseBenchProgress(absl::string_view line, TaskProgress* progress) {
  if (!absl::ConsumePrefix(&line, "progress: ")) return false;
  size_t slash = line.find('/');
  size_t space = line.find(' ');
  if (slash == absl::string_view::npos || space == absl::string_view::npos || space < slash) {
    return false;
  }
  uint64_t done = 0, total = 0;
  if (!absl::SimpleAtoi(line.substr(0, slash), &done) ||
      !absl::SimpleAtoi(line.substr(slash + 1, space - slash - 1), &total) || done > total) {
    return false;
  }
  absl::string_view rest = line.substr(space + 1);
  if (!absl::ConsumePrefix(&rest, "problems")) return false;
  absl::ConsumePrefix(&rest, ", ");
  progress->done = done;
  progress->total = total;
  progress->unit = "problems";
  progress->message = std::string(absl::StripAsciiWhitespace(rest));
  return true;
}

}  // namespace

bool ParseToolProgress(absl::string_view line, TaskProgress* progress) {
  if (ParseBenchProgress(line, progress)) return true;
  size_t open = line.find('[');
  size_t slash = line.find('/', open == absl::string_view::npos ? 0 : open);
  size_t close = line.find(']', slash == absl::string_view::npos ? 0 : slash);
  if (open == absl::string_view::npos || slash == absl::string_view::npos ||
      close == absl::string_view::npos || !(open < slash && slash < close)) {
    return false;
  }
  uint64_t done = 0, total = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(open + 1, slash - open - 1)), &done) ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(slash + 1, close - slash - 1)), &total) ||
      total == 0 || done > total) {
    return false;
  }
  progress->done = done;
  progress->total = total;
  progress->unit = "tensors";
  return true;
}

std::string FindLlamaTool(const std::string& llama_cpp_dir, const std::string& name) {
  std::error_code ec;
  if (!llama_cpp_dir.empty()) {
    for (const char* sub : {"", "bin", "build/bin"}) {
      fs::path candidate = fs::path(llama_cpp_dir) / sub / name;
      if (fs::is_regular_file(candidate, ec)) return candidate.string();
    }
  }
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "", ':')) {
    if (dir.empty()) continue;
    fs::path candidate = fs::path(std::string(dir)) / name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

std::vector<std::string> AvailableTools(const ToolConfig& config) {
  std::vector<std::string> tools;
  for (const char* name : {"convert_hf_to_gguf.py", "llama-quantize",
                           "llama-imatrix", "llama-server"}) {
    if (!FindLlamaTool(config.llama_cpp_dir, name).empty()) tools.push_back(name);
  }
  for (const std::string& url : config.endpoints) tools.push_back(EndpointTool(url));
  if (!config.vllm.empty()) tools.push_back("vllm");
  return tools;
}

absl::Status ToolExecutor::RunTool(const StepTask& task, std::vector<std::string> argv,
                                   const std::string& working_dir,
                                   std::string* stdout_capture) {
  // The GPUs the step holds go into the log line, as a shell would show them.
  std::string log = absl::StrCat(
      "$ ",
      task.visible_gpus.has_value() ? absl::StrCat("CUDA_VISIBLE_DEVICES=", *task.visible_gpus, " ")
                                    : "",
      absl::StrJoin(argv, " "), "\n");
  if (!task.log_path.empty()) {
    FILE* f = std::fopen(task.log_path.c_str(), "a");
    if (f != nullptr) {
      std::fputs(log.c_str(), f);
      std::fclose(f);
    }
  }
  SubprocessOptions options;
  options.argv = std::move(argv);
  options.working_dir = working_dir.empty() ? task.output_root : working_dir;
  options.timeout = config_.step_timeout;
  options.should_stop = task.should_stop;
  if (task.visible_gpus.has_value()) {
    options.extra_env["CUDA_VISIBLE_DEVICES"] = *task.visible_gpus;
  }
  // stderr (where llama.cpp's tools log, progress included) comes through
  // us to be parsed, and goes on to the log; stdout goes to the log directly
  // unless the caller keeps it.
  options.stdout_path = stdout_capture == nullptr ? task.log_path : "";
  std::string pending;
  std::string stderr_tail;  // the last few KiB, whether or not the log is writable
  FILE* log_file = task.log_path.empty() ? nullptr : std::fopen(task.log_path.c_str(), "a");
  options.on_stderr = [&](absl::string_view chunk) {
    if (log_file != nullptr) {
      std::fwrite(chunk.data(), 1, chunk.size(), log_file);
      std::fflush(log_file);
    }
    pending.append(chunk.data(), chunk.size());
    stderr_tail.append(chunk.data(), chunk.size());
    if (stderr_tail.size() > 8192) stderr_tail.erase(0, stderr_tail.size() - 4096);
    size_t end;
    while ((end = pending.find('\n')) != std::string::npos) {
      TaskProgress progress;
      if (task.on_progress &&
          ParseToolProgress(absl::string_view(pending).substr(0, end), &progress)) {
        task.on_progress(progress);
      }
      pending.erase(0, end + 1);
    }
  };
  options.output_limit = 1 << 20;  // the log file has it all
  if (stdout_capture != nullptr) options.output_limit = 64 << 20;
  absl::StatusOr<SubprocessResult> run = RunSubprocess(options);
  if (log_file != nullptr) std::fclose(log_file);
  COHORT_ASSIGN_OR_RETURN(SubprocessResult result, std::move(run));
  if (stdout_capture != nullptr) *stdout_capture = result.stdout_data;
  if (result.cancelled) return absl::CancelledError("step cancelled");
  if (result.Succeeded()) return absl::OkStatus();
  std::string tail;
  if (!task.log_path.empty()) {
    absl::StatusOr<std::string> text = ReadFileToString(task.log_path);
    if (text.ok()) tail = text->substr(text->size() > 1500 ? text->size() - 1500 : 0);
  }
  std::string message = absl::StrCat(options.argv[0], ": ", result.Describe(),
                                     tail.empty() ? "" : "\n", tail, LinkedInputs(task));
  // strerror(ENOSPC), as llama.cpp's tools and ours print it: say so first,
  // and as kResourceExhausted, retried once space frees.
  if (absl::StrContains(stderr_tail, "No space left on device") ||
      absl::StrContains(tail, "No space left on device")) {
    return absl::ResourceExhaustedError(
        absl::StrCat("no space left on device writing under ", task.output_root, ": ",
                     message));
  }
  // Exit code 2 is our tools' (and argparse's) "bad input": do not retry.
  if (!result.timed_out && result.term_signal == 0 && result.exit_code == 2) {
    return absl::InvalidArgumentError(message);
  }
  return absl::UnavailableError(message);
}

absl::StatusOr<StepResult> ToolExecutor::Execute(const StepTask& task) {
  absl::StatusOr<StepResult> result = DispatchCatching(task);
  if (!result.ok()) ClearFolder(task.output_root);
  return result;
}

// Step params come from the submitter. A value of the wrong type makes
// nlohmann throw deep inside a handler; that must fail this step for good
// (kInvalidArgument: a retry reads the same params) and never end the
// worker, which would lease the same step again after its restart.
absl::StatusOr<StepResult> ToolExecutor::DispatchCatching(const StepTask& task) {
  try {
    return Dispatch(task);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("step ", task.key, ": bad params: ", e.what()));
  }
}

absl::StatusOr<StepResult> ToolExecutor::Dispatch(const StepTask& task) {
  switch (task.kind) {
    case TaskKind::kDropmap: return Dropmap(task);
    case TaskKind::kPrune: return Prune(task);
    case TaskKind::kUpweight: return Upweight(task);
    case TaskKind::kConvert: return Convert(task);
    case TaskKind::kImatrix: return Imatrix(task);
    case TaskKind::kQuantmap: return Quantmap(task);
    case TaskKind::kQuantize: return Quantize(task);
    case TaskKind::kGate: return Gate(task);
    case TaskKind::kGenerate: return Generate(task);
    case TaskKind::kScore: return Score(task);
    default:
      return absl::UnimplementedError(absl::StrCat(
          "this worker cannot run steps of kind ", static_cast<int>(task.kind)));
  }
}

absl::StatusOr<StepResult> ToolExecutor::Dropmap(const StepTask& task) {
  COHORT_ASSIGN_OR_RETURN(json params, Params(task));
  COHORT_ASSIGN_OR_RETURN(std::string contrib_in, Input(task, "contrib"));
  COHORT_ASSIGN_OR_RETURN(std::string contrib, AsFile(contrib_in, ""));
  COHORT_ASSIGN_OR_RETURN(std::string out, OutputDir(task, "drop_map"));
  COHORT_ASSIGN_OR_RETURN(std::string data, StableInput(task, "contrib.json", contrib));
  DropmapInvocation dropmap;
  COHORT_ASSIGN_OR_RETURN(dropmap.flags, FlagsFromParams(params.value("flags", json())));
  dropmap.flags["data"] = {data};
  struct Optional { const char* input; const char* flag; };
  for (const Optional& o : {Optional{"v4_data", "v4-floor-data"},
                            Optional{"floor_map", "v4-floor-map"},
                            Optional{"baseline_drop_map", "baseline-drop-map"}}) {
    std::string path = OptionalInput(task, o.input);
    if (path.empty()) continue;
    COHORT_ASSIGN_OR_RETURN(std::string file, AsFile(path, ""));
    COHORT_ASSIGN_OR_RETURN(std::string stable,
                            StableInput(task, std::string(o.input) + ".json", file));
    dropmap.flags[o.flag] = {stable};
  }
  // Relative to output_root: the summary records these paths.
  std::string map = (fs::path(out).filename() / "drop_map.json").string();
  dropmap.flags["output"] = {map};
  dropmap.flags["summary-output"] = {map + ".summary.json"};
  std::vector<std::string> argv = {config_.self_binary, DropmapInvocation::kName};
  for (std::string& token : dropmap.ToArgv()) argv.push_back(std::move(token));
  COHORT_RETURN_IF_ERROR(RunTool(task, argv));
  return StepResult{{{"drop_map", out}}, false, ""};
}

absl::StatusOr<StepResult> ToolExecutor::Prune(const StepTask& task) {
  COHORT_ASSIGN_OR_RETURN(json params, Params(task));
  COHORT_ASSIGN_OR_RETURN(std::string checkpoint, Input(task, "checkpoint"));
  COHORT_ASSIGN_OR_RETURN(std::string map_in, Input(task, "drop_map"));
  COHORT_ASSIGN_OR_RETURN(std::string map_file, AsFile(map_in, "drop_map.json"));
  // The metadata the pruned checkpoint carries records the drop map's path.
  COHORT_ASSIGN_OR_RETURN(std::string map, StableInput(task, "drop_map.json", map_file));
  std::string out = (fs::path(task.output_root) / "checkpoint").string();
  PruneInvocation prune;
  prune.source_dir = checkpoint;
  prune.drop_map = map;
  prune.output_dir = out;
  prune.layout = params.value("layout", "");
  prune.suffix = params.value("suffix", "");
  prune.even_group_drop = params.value("even_group_drop", false);
  if (params.contains("upweight") && params["upweight"].is_object()) {
    const json& up = params["upweight"];
    if (!up.contains("alpha") || !up["alpha"].is_number() || !up.contains("target") ||
        !up["target"].is_string()) {
      return absl::InvalidArgumentError(
          "prune params.upweight needs a numeric alpha and a string target");
    }
    prune.upweight_alpha = up["alpha"].get<double>();
    prune.upweight_target = up["target"].get<std::string>();
  }
  COHORT_RETURN_IF_ERROR(RunTool(task, SelfCommand(prune)));
  COHORT_RETURN_IF_ERROR(UnpinDropMapPath(out, map));
  return StepResult{{{"checkpoint", out}}, false, ""};
}

absl::StatusOr<StepResult> ToolExecutor::Upweight(const StepTask& task) {
  COHORT_ASSIGN_OR_RETURN(json params, Params(task));
  COHORT_ASSIGN_OR_RETURN(std::string checkpoint, Input(task, "checkpoint"));
  if (!params.contains("alpha") || !params["alpha"].is_number() ||
      !params.contains("target") || !params["target"].is_string()) {
    return absl::InvalidArgumentError("upweight params need alpha and target");
  }
  std::string out = (fs::path(task.output_root) / "checkpoint").string();
  COHORT_RETURN_IF_ERROR(LinkTree(checkpoint, out));
  UpweightInvocation upweight;
  upweight.model_dir = out;
  upweight.alpha = params["alpha"].get<double>();
  upweight.target = params["target"].get<std::string>();
  COHORT_RETURN_IF_ERROR(RunTool(task, SelfCommand(upweight)));
  return StepResult{{{"checkpoint", out}}, false, ""};
}

absl::StatusOr<StepResult> ToolExecutor::Convert(const StepTask& task) {
  COHORT_ASSIGN_OR_RETURN(json params, Params(task));
  COHORT_ASSIGN_OR_RETURN(std::string checkpoint, Input(task, "checkpoint"));
  if (!config_.converter_problem.empty()) {
    return absl::FailedPreconditionError(config_.converter_problem);
  }
  std::string script = FindLlamaTool(config_.llama_cpp_dir, "convert_hf_to_gguf.py");
  if (script.empty()) {
    return absl::FailedPreconditionError(
        "convert_hf_to_gguf.py not found (set --llama-cpp-dir or COHORT_LLAMA_CPP_DIR)");
  }
  COHORT_ASSIGN_OR_RETURN(std::string out, OutputDir(task, "gguf"));
  std::string model = (fs::path(out) / "model.gguf").string();
  // The converter names the model after its folder (general.name).
  COHORT_ASSIGN_OR_RETURN(std::string source, StableInput(task, "model", checkpoint));
  COHORT_RETURN_IF_ERROR(RunTool(task, {config_.python, script, source, "--outfile",
                                        model, "--outtype",
                                        params.value("outtype", "bf16")}));
  COHORT_ASSIGN_OR_RETURN(uint64_t experts, ConfigExpertCount(checkpoint));
  COHORT_ASSIGN_OR_RETURN(quant::GgufSummary summary, Summarize(model));
  quant::GgufExpectations expected;
  expected.architecture = summary.architecture.empty() ? "?" : summary.architecture;
  expected.expert_count = experts;
  expected.expert_count_source = "the checkpoint's config.json";
  COHORT_RETURN_IF_ERROR(quant::VerifyGguf(summary, expected));
  return StepResult{{{"gguf", out}}, false, ""};
}

absl::StatusOr<StepResult> ToolExecutor::Imatrix(const StepTask& task) {
  COHORT_ASSIGN_OR_RETURN(json params, Params(task));
  COHORT_ASSIGN_OR_RETURN(std::string gguf_in, Input(task, "gguf"));
  COHORT_ASSIGN_OR_RETURN(std::string gguf, AsFile(gguf_in, "model.gguf"));
  COHORT_ASSIGN_OR_RETURN(std::string calib_in, Input(task, "calibration"));
  COHORT_ASSIGN_OR_RETURN(std::string calib, AsFile(calib_in, ""));
  std::string tool = FindLlamaTool(config_.llama_cpp_dir, "llama-imatrix");
  if (tool.empty()) return absl::FailedPreconditionError("llama-imatrix not found");
  COHORT_ASSIGN_OR_RETURN(std::string out, OutputDir(task, "imatrix"));
  // The imatrix records its calibration file's path (imatrix.datasets).
  COHORT_ASSIGN_OR_RETURN(std::string stable_calib, StableInput(task, "calibration.txt", calib));
  std::vector<std::string> argv = {tool, "-m", gguf, "-f", stable_calib, "-o",
                                   (fs::path(out) / "imatrix.gguf").string()};
  if (int chunks = params.value("chunks", 0); chunks > 0) {
    argv.insert(argv.end(), {"--chunks", std::to_string(chunks)});
  }
  COHORT_RETURN_IF_ERROR(RunTool(task, argv));
  return StepResult{{{"imatrix", out}}, false, ""};
}

absl::StatusOr<StepResult> ToolExecutor::Quantmap(const StepTask& task) {
  COHORT_ASSIGN_OR_RETURN(json params, Params(task));
  auto target = params.find("target_bpw");
  if (target == params.end() || !target->is_number()) {
    return absl::InvalidArgumentError("quantmap params need a numeric target_bpw");
  }
  QuantmapInvocation quantmap;
  quantmap.target_bpw = target->get<double>();
  const std::pair<const char*, std::vector<std::string>*> lists[] = {
      {"types", &quantmap.types}, {"tensors", &quantmap.tensors}};
  for (const auto& [key, into] : lists) {
    auto list = params.find(key);
    if (list == params.end()) continue;
    if (!list->is_array()) {
      return absl::InvalidArgumentError(absl::StrCat("quantmap params.", key, ": a list"));
    }
    for (const json& item : *list) {
      if (!item.is_string() || item.get<std::string>().empty() ||
          item.get<std::string>()[0] == '-') {
        return absl::InvalidArgumentError(
            absl::StrCat("quantmap params.", key, ": ", item.dump(), " is not a name"));
      }
      into->push_back(item.get<std::string>());
    }
  }
  COHORT_ASSIGN_OR_RETURN(std::string contrib_in, Input(task, "contrib"));
  COHORT_ASSIGN_OR_RETURN(std::string contrib, AsFile(contrib_in, ""));
  COHORT_ASSIGN_OR_RETURN(std::string map_in, Input(task, "drop_map"));
  // The drop map's summary (classes and weights) sits beside it.
  COHORT_ASSIGN_OR_RETURN(std::string map, AsFile(map_in, "drop_map.json"));
  COHORT_ASSIGN_OR_RETURN(std::string gguf_in, Input(task, "gguf"));
  COHORT_ASSIGN_OR_RETURN(std::string gguf, AsFile(gguf_in, "model.gguf"));
  COHORT_ASSIGN_OR_RETURN(std::string out, OutputDir(task, "tensor_types"));
  quantmap.data = contrib;
  quantmap.drop_map = map;
  quantmap.gguf = gguf;
  quantmap.output = (fs::path(out) / "tensor_types.txt").string();
  quantmap.summary_output = (fs::path(out) / "quant_map.json").string();
  COHORT_RETURN_IF_ERROR(RunTool(task, SelfCommand(quantmap)));
  return StepResult{{{"tensor_types", out}}, false, ""};
}

absl::StatusOr<StepResult> ToolExecutor::Quantize(const StepTask& task) {
  COHORT_ASSIGN_OR_RETURN(json params, Params(task));
  std::string type = params.value("type", "");
  if (type.empty()) return absl::InvalidArgumentError("quantize params need a type");
  COHORT_RETURN_IF_ERROR(CheckQuantType(type));
  COHORT_ASSIGN_OR_RETURN(std::string gguf_in, Input(task, "gguf"));
  COHORT_ASSIGN_OR_RETURN(std::string gguf, AsFile(gguf_in, "model.gguf"));
  std::string tool = FindLlamaTool(config_.llama_cpp_dir, "llama-quantize");
  if (tool.empty()) return absl::FailedPreconditionError("llama-quantize not found");
  COHORT_ASSIGN_OR_RETURN(std::string out, OutputDir(task, "gguf"));
  std::string model = (fs::path(out) / absl::StrCat("model-", type, ".gguf")).string();
  std::vector<std::string> argv = {tool};
  if (std::string imatrix = OptionalInput(task, "imatrix"); !imatrix.empty()) {
    COHORT_ASSIGN_OR_RETURN(std::string file, AsFile(imatrix, "imatrix.gguf"));
    // The quantized model records the imatrix file's path.
    COHORT_ASSIGN_OR_RETURN(std::string stable, StableInput(task, "imatrix.gguf", file));
    argv.insert(argv.end(), {"--imatrix", stable});
  }
  COHORT_ASSIGN_OR_RETURN(std::vector<quant::TensorTypeRule> rules,
                          TensorTypeRules(task, params));
  for (const quant::TensorTypeRule& rule : rules) {
    argv.insert(argv.end(), {"--tensor-type", rule.ToArg()});
  }
  argv.insert(argv.end(), {gguf, model, type});
  COHORT_RETURN_IF_ERROR(RunTool(task, argv));
  COHORT_ASSIGN_OR_RETURN(quant::GgufContents source, quant::ReadGgufFile(gguf));
  COHORT_ASSIGN_OR_RETURN(quant::GgufContents quantized, quant::ReadGgufFile(model));
  COHORT_RETURN_IF_ERROR(quant::VerifyTensorTypes(source, quantized, rules));
  COHORT_ASSIGN_OR_RETURN(quant::GgufSummary before, quant::SummarizeGguf(source));
  COHORT_ASSIGN_OR_RETURN(quant::GgufSummary after, quant::SummarizeGguf(quantized));
  quant::GgufExpectations expected;
  expected.architecture = before.architecture.empty() ? "?" : before.architecture;
  expected.expert_count = before.expert_count.value_or(0);
  expected.expert_count_source = "the pruned count, from the input GGUF";
  expected.tensor_count = before.tensor_count;
  expected.file_type = type;
  COHORT_RETURN_IF_ERROR(quant::VerifyGguf(after, expected));
  return StepResult{{{"gguf", out}}, false, "",
                    QuantizeFacts(task, type, quantized.file_size, after, rules.size())};
}

absl::StatusOr<StepResult> ToolExecutor::Gate(const StepTask& task) {
  COHORT_ASSIGN_OR_RETURN(json params, Params(task));
  COHORT_ASSIGN_OR_RETURN(std::string scores_in, Input(task, "scores"));
  COHORT_ASSIGN_OR_RETURN(std::string summary_path, AsFile(scores_in, "summary.json"));
  COHORT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(summary_path));
  COHORT_ASSIGN_OR_RETURN(eval::ScoreSummary summary, ReadSummary(text, summary_path));
  COHORT_ASSIGN_OR_RETURN(GateDecision decision, EvaluateGate(params, summary));
  COHORT_ASSIGN_OR_RETURN(std::string out, OutputDir(task, "decision"));
  COHORT_RETURN_IF_ERROR(WriteFileAtomically(
      (fs::path(out) / "decision.json").string(),
      json{{"held", decision.held}, {"metric", decision.metric},
           {"value", decision.value}, {"reason", decision.reason}}
          .dump(1)));
  return StepResult{{{"decision", out}}, !decision.held, decision.reason};
}

absl::StatusOr<StepResult> ToolExecutor::Generate(const StepTask& task) {
  COHORT_ASSIGN_OR_RETURN(json params, Params(task));
  std::string bench = params.value("bench", "");
  if (bench.empty() || !params.contains("profile") || !params["profile"].is_object()) {
    return absl::InvalidArgumentError("generate params need a bench and a profile object");
  }
  COHORT_ASSIGN_OR_RETURN(std::string dataset_in, Input(task, "dataset"));
  COHORT_ASSIGN_OR_RETURN(std::string dataset, AsFile(dataset_in, ""));
  BenchInvocation run;
  if (params.contains("endpoint")) {
    COHORT_RETURN_IF_ERROR(UseEndpoint(config_, params["endpoint"], &run));
  } else if (params.contains("vllm")) {
    COHORT_ASSIGN_OR_RETURN(std::string checkpoint, Input(task, "checkpoint"));
    COHORT_RETURN_IF_ERROR(UseVllm(config_, params["vllm"], checkpoint, &run));
  } else {
    COHORT_ASSIGN_OR_RETURN(std::string gguf_in, Input(task, "gguf"));
    COHORT_ASSIGN_OR_RETURN(run.model, AsFile(gguf_in, ""));
    run.llama_server = FindLlamaTool(config_.llama_cpp_dir, "llama-server");
    if (run.llama_server.empty()) return absl::FailedPreconditionError("llama-server not found");
    json server_params = params.value("server", json::object());
    run.parallel = server_params.value("parallel", 2);
    run.ctx_size = std::max(server_params.value("ctx_size", 0), 0);
  }
  // The journal outlives a crash of this worker: a re-lease here resumes it.
  std::string work = task.work_dir.empty() ? task.output_root : task.work_dir;
  std::string profile = (fs::path(work) / "profile.json").string();
  COHORT_RETURN_IF_ERROR(WriteFileAtomically(profile, params["profile"].dump(1)));
  std::string journal = (fs::path(work) / "completions.jsonl").string();
  json shard = params.value("shard", json::object());
  run.bench = bench;
  run.dataset = dataset;
  run.out = journal;
  run.profile = profile;
  run.shard_index = shard.value("index", 0);
  run.shard_count = shard.value("count", 1);
  run.server_log = (fs::path(work) / (run.backend + ".log")).string();
  COHORT_ASSIGN_OR_RETURN(run.fewshot, FewshotFile(task));
  std::string summary;
  COHORT_RETURN_IF_ERROR(RunTool(task, SelfCommand(run), "", &summary));
  COHORT_ASSIGN_OR_RETURN(std::string out, OutputDir(task, "completions"));
  COHORT_ASSIGN_OR_RETURN(std::string lines, ReadFileToString(journal));
  COHORT_RETURN_IF_ERROR(
      WriteFileAtomically((fs::path(out) / "completions.jsonl").string(), lines));
  COHORT_RETURN_IF_ERROR(WriteSummary(task, BenchInvocation::kName, summary, out));
  return StepResult{{{"completions", out}}, false, ""};
}

absl::StatusOr<StepResult> ToolExecutor::Score(const StepTask& task) {
  COHORT_ASSIGN_OR_RETURN(json params, Params(task));
  std::string bench = params.value("bench", "");
  if (bench.empty() || !params.contains("profile") || !params["profile"].is_object()) {
    return absl::InvalidArgumentError("score params need a bench and a profile object");
  }
  COHORT_ASSIGN_OR_RETURN(std::string completions_in, Input(task, "completions"));
  COHORT_ASSIGN_OR_RETURN(std::string completions, AsFile(completions_in, "completions.jsonl"));
  COHORT_ASSIGN_OR_RETURN(std::string dataset_in, Input(task, "dataset"));
  COHORT_ASSIGN_OR_RETURN(std::string dataset, AsFile(dataset_in, ""));
  COHORT_ASSIGN_OR_RETURN(std::string out, OutputDir(task, "scores"));
  std::string profile = (fs::path(task.output_root) / "profile.json").string();
  COHORT_RETURN_IF_ERROR(WriteFileAtomically(profile, params["profile"].dump(1)));
  std::string scores = (fs::path(out) / "scores.jsonl").string();
  ScoreInvocation score;
  score.bench = bench;
  score.dataset = dataset;
  score.completions = completions;
  score.out = scores;
  score.profile = profile;
  COHORT_ASSIGN_OR_RETURN(score.fewshot, FewshotFile(task));
  std::string summary;
  COHORT_RETURN_IF_ERROR(RunTool(task, SelfCommand(score), "", &summary));
  COHORT_RETURN_IF_ERROR(WriteSummary(task, ScoreInvocation::kName, summary, out));
  COHORT_ASSIGN_OR_RETURN(std::vector<eval::ProblemResult> rows, ReadScoreRows(scores));
  if (task.on_result) {
    for (const eval::ProblemResult& row : rows) task.on_result(row);
  }
  return StepResult{{{"scores", out}}, false, ""};
}

}  // namespace cohort::worker

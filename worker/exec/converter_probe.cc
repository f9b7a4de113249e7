#include "worker/exec/converter_probe.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"

namespace cohort::worker {
namespace {

// Imports what convert_hf_to_gguf.py imports, in its order (torch before
// transformers: the test shim patches torch's float8 names), and prints one
// JSON line.
constexpr char kProbe[] = R"PY(
import importlib, json, sys
sys.path.insert(1, sys.argv[1])
missing, notes = [], []
for name in ("torch", "numpy", "sentencepiece", "transformers", "gguf"):
    try:
        importlib.import_module(name)
    except Exception as e:
        missing.append(name)
if "torch" not in missing:
    import torch
    notes.append("torch " + str(getattr(torch, "__version__", "?")))
    if not hasattr(torch, "float8_e4m3fn"):
        missing.append("float8 dtypes (torch >= 2.1)")
if "transformers" not in missing:
    import transformers
    if getattr(transformers, "SHIM", False):
        notes.append("transformers: the test shim (SentencePiece-tokenizer families only)")
    else:
        notes.append("transformers " + str(getattr(transformers, "__version__", "?")))
print(json.dumps({"python": sys.version.split()[0], "missing": missing, "notes": notes}))
)PY";

}  // namespace

std::string ConverterProbe::Summary() const {
  if (!usable) return problem;
  return absl::StrCat("python ", python_version,
                      notes.empty() ? "" : ", ", absl::StrJoin(notes, ", "));
}

namespace {

// The last non-empty line of a traceback ("ModuleNotFoundError: ...").
std::string LastLine(const std::string& text) {
  std::string last;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    last = std::string(absl::StripAsciiWhitespace(line));
  }
  return last;
}

// What the import check found; false when the Python gave no answer.
bool ImportCheck(const std::string& python, const std::string& script,
                 absl::Duration timeout, ConverterProbe& probe, std::string& why) {
  std::string gguf_py = (std::filesystem::path(script).parent_path() / "gguf-py").string();
  SubprocessOptions options;
  options.argv = {python, "-c", kProbe, gguf_py};
  options.timeout = timeout;
  absl::StatusOr<SubprocessResult> run = RunSubprocess(options);
  nlohmann::json out;
  if (run.ok() && run->Succeeded()) {
    out = nlohmann::json::parse(run->stdout_data, nullptr, /*allow_exceptions=*/false);
  }
  if (!out.is_object() || !out["missing"].is_array() || !out["notes"].is_array()) {
    why = run.ok() ? run->Describe() : std::string(run.status().message());
    return false;
  }
  probe.python_version = out.value("python", "?");
  for (const auto& m : out["missing"]) {
    if (m.is_string()) probe.missing.push_back(m.get<std::string>());
  }
  for (const auto& n : out["notes"]) {
    if (n.is_string()) probe.notes.push_back(n.get<std::string>());
  }
  return true;
}

}  // namespace

ConverterProbe ProbeConverterPython(const std::string& python, const std::string& script,
                                    absl::Duration timeout) {
  ConverterProbe probe;
  std::string why;
  if (!ImportCheck(python, script, timeout, probe, why)) {
    probe.problem = absl::StrCat("convert_hf_to_gguf.py cannot run: the converter's Python ",
                                 python, " did not answer an import check (", why,
                                 "); set --python or COHORT_PYTHON");
    return probe;
  }
  SubprocessOptions help;
  help.argv = {python, script, "--help"};
  help.timeout = timeout;
  absl::StatusOr<SubprocessResult> run = RunSubprocess(help);
  probe.usable = run.ok() && run->Succeeded();
  if (probe.usable) {
    // What the script did not need at start, it may need later.
    for (const std::string& m : probe.missing) {
      probe.notes.push_back(absl::StrCat("no ", m));
    }
    return probe;
  }
  std::string failure = run.ok() ? LastLine(run->stderr_data) : std::string(run.status().message());
  probe.problem = absl::StrCat(
      "convert_hf_to_gguf.py cannot run: ", python, " (python ", probe.python_version, ") ",
      probe.missing.empty() ? std::string("fails its --help")
                            : absl::StrCat("lacks ", absl::StrJoin(probe.missing, ", ")),
      failure.empty() ? "" : absl::StrCat(" (", failure, ")"),
      "; the converter needs torch >= 2.1, numpy, sentencepiece, transformers and llama.cpp's "
      "gguf-py (set --python or COHORT_PYTHON)");
  return probe;
}

}  // namespace cohort::worker

#include "worker/eval/multipl_e.h"

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "re2/re2.h"
#include "worker/eval/code_exec.h"
#include "worker/eval/jsonl.h"
#include "worker/sandbox/sandbox.h"
#include "worker/sandbox/toolchains.h"

namespace cohort::worker::eval {
namespace {

constexpr char kTemplate[] = "multipl_e_chat_v1";
constexpr char kExtractor[] = "multipl_e_chat_to_body";
constexpr size_t kRecordedOutput = 2048;

std::string LongestFence(absl::string_view text, std::string* rule) {
  static const re2::RE2* fence = new re2::RE2("(?s)```[a-zA-Z0-9_+-]*\\n(.*?)```");
  re2::StringPiece input(text.data(), text.size()), match;
  absl::string_view best;
  bool found = false;
  while (re2::RE2::FindAndConsume(&input, *fence, &match)) {
    if (!found || match.size() > best.size()) best = absl::string_view(match.data(), match.size());
    found = true;
  }
  *rule = found ? "fenced_block" : "raw";
  std::string code(found ? best : absl::StripAsciiWhitespace(text));
  if (found) {
    while (!code.empty() && code.front() == '\n') code.erase(0, 1);
    while (!code.empty() && code.back() == '\n') code.pop_back();
  }
  return code;
}

std::string LastNonBlankLine(const std::string& text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (!absl::StripAsciiWhitespace(*it).empty()) return std::string(*it);
  }
  return "";
}

// Drops the trailing run of '}' and the whitespace around them.
void DropClosingBraces(std::string* body) {
  size_t end = body->size();
  while (end > 0 && (absl::ascii_isspace((*body)[end - 1]) || (*body)[end - 1] == '}')) --end;
  body->resize(end);
}

absl::StatusOr<sandbox::SandboxResult> Step(const std::string& workdir,
                                            std::vector<std::string> argv, bool compile,
                                            const std::vector<std::string>& ro_paths) {
  sandbox::SandboxSpec spec;
  spec.argv = std::move(argv);
  spec.host_workdir = workdir;
  spec.workdir_writable = compile;
  spec.cwd = sandbox::kTaskDir;
  spec.ro_paths = ro_paths;
  spec.limits.cpu = absl::Seconds(compile ? 60 : 15);
  spec.limits.wall = absl::Seconds(compile ? 150 : 60);
  spec.limits.processes = 512;     // JVMs and rustc are multi-threaded
  spec.limits.address_space = 0;   // JVM and V8 reserve far more than they use
  spec.limits.memory = int64_t{4} << 30;
  // Enough for the marker after what a program prints; 2,048 bytes
  // (safe_subprocess's cap) are recorded.
  spec.limits.output_limit = 64 << 10;
  return sandbox::RunSandboxed(spec);
}

struct Plan {
  std::string file;
  std::vector<std::string> compile;
  std::vector<std::string> run;
  std::vector<std::string> ro_paths;
};

Plan PlanFor(const std::string& language) {
  if (language == "rs") {
    // rustc links through /usr/bin/cc, a symlink into /etc/alternatives.
    return {"main.rs", {sandbox::kRustc, "/task/main.rs", "-o", "/task/main"}, {"/task/main"},
            {"/etc/alternatives"}};
  }
  if (language == "java") {
    std::string jar = sandbox::kJavatuplesJar;
    return {"Problem.java",
            {sandbox::kJavac, "-J-Xmx1g", "-J-XX:+UseSerialGC", "-encoding", "UTF8", "-d",
             "/task/out", "-cp", jar, "/task/Problem.java"},
            {sandbox::kJava, "-Xmx1g", "-XX:+UseSerialGC", "-ea", "-cp", "/task/out:" + jar,
             "Problem"},
            sandbox::JavaReadOnlyPaths()};
  }
  return {"main.js", {}, {sandbox::kNode, "--max-old-space-size=1024", "/task/main.js"}, {}};
}

// The run's /task, shared by the compile and run steps; removed at the end.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp", "/cohort-mpe-XXXXXX");
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Verdict SandboxError(Verdict v, const absl::Status& status) {
  v.detail["status"] = "sandbox_error";
  v.detail["error"] = status.ToString();
  return v;
}

// The tests with `marker` printed after the last one: Rust's and Java's
// main() become a function main() calls before printing; JavaScript's
// top-level tests are followed by the print. Empty when the tests do not
// have the shape every MultiPL-E row has.
std::string TestsThenMarker(const std::string& language, const std::string& tests,
                            const std::string& marker) {
  std::string out = tests;
  if (language == "rs") {
    const std::string kMain = "fn main() {";
    size_t at = out.find(kMain);
    if (at == std::string::npos) return "";
    out.replace(at, kMain.size(), "fn cohort_tests() {");
    absl::StrAppend(&out, "\nfn main() {\n    cohort_tests();\n    println!(\"", marker,
                    "\");\n}\n");
  } else if (language == "java") {
    const std::string kMain = "public static void main(String[] args) {";
    size_t at = out.find(kMain);
    if (at == std::string::npos) return "";
    out.replace(at, kMain.size(),
                absl::StrCat(kMain, "\n        cohortTests(args);\n        System.out.println(\"",
                             marker,
                             "\");\n    }\n    public static void cohortTests(String[] args) {"));
  } else {
    absl::StrAppend(&out, "\nconsole.log(\"", marker, "\");\n");
  }
  return out;
}

// stdout as the program's own: without the marker line, at most
// safe_subprocess's 2,048 bytes.
std::string RemoveMarker(const std::string& out, const std::string& marker) {
  std::string text = absl::StrReplaceAll(out, {{marker + "\n", ""}});
  if (text.size() > kRecordedOutput) text.resize(kRecordedOutput);
  return text;
}

void Finish(const sandbox::SandboxResult& r, const std::string& status,
            const std::string& marker, Verdict* v) {
  v->detail["status"] = status;
  v->detail["exit_code"] = r.exit_code;
  v->detail["stdout"] = RemoveMarker(r.stdout_data, marker);
  v->passed = status == "OK";
}

// True when the last non-blank line of a complete stdout is the marker.
bool EndsWithMarker(const sandbox::SandboxResult& r, const std::string& marker) {
  return !r.stdout_truncated &&
         absl::StripAsciiWhitespace(LastNonBlankLine(r.stdout_data)) == marker;
}

}  // namespace

std::string MultiplEToolchain(const std::string& language) {
  if (language == "rs") return "rustc";
  if (language == "java") return "javac";
  return "node";
}

std::string MultiplEChatToBody(const std::string& prompt, absl::string_view completion,
                               const std::string& language, std::string* rule) {
  std::string code = LongestFence(completion, rule);
  std::string anchor = std::string(absl::StripAsciiWhitespace(LastNonBlankLine(prompt)));
  std::string body = code;
  size_t at = anchor.empty() ? std::string::npos : code.find(anchor);
  if (at != std::string::npos) {
    body = code.substr(at + anchor.size());
  } else {
    std::string bare(absl::StripAsciiWhitespace(absl::StripSuffix(anchor, "{")));
    size_t line_at = bare.empty() ? std::string::npos : code.find(bare);
    if (line_at != std::string::npos) {
      size_t eol = code.find('\n', line_at);
      body = eol == std::string::npos ? "" : code.substr(eol + 1);
    }
  }
  if (language != "js") DropClosingBraces(&body);
  if (body.empty() || body.back() != '\n') body.push_back('\n');
  return body;
}

absl::StatusOr<std::vector<Problem>> LoadMultiplE(const std::string& path,
                                                  const BenchSettings& settings) {
  COHORT_RETURN_IF_ERROR(CheckId("prompt_template", settings.prompt_template, {kTemplate}));
  COHORT_RETURN_IF_ERROR(CheckId("extractor", settings.extractor, {kExtractor}));
  COHORT_ASSIGN_OR_RETURN(std::vector<JsonLine> rows, ReadJsonLines(path));
  std::vector<Problem> problems;
  for (size_t i = 0; i < rows.size(); ++i) {
    Problem p;
    COHORT_ASSIGN_OR_RETURN(p.id, GetString(rows[i], "name", path));
    COHORT_ASSIGN_OR_RETURN(std::string language, GetString(rows[i], "language", path));
    COHORT_ASSIGN_OR_RETURN(std::string prompt, GetString(rows[i], "prompt", path));
    COHORT_ASSIGN_OR_RETURN(std::string tests, GetString(rows[i], "tests", path));
    if (language != "rs" && language != "java" && language != "js") {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", rows[i].line, ": unsupported language '", language, "'"));
    }
    p.index = static_cast<int>(i);
    p.prompt = absl::StrCat("Complete the following ", language,
                            " function. Reply with ONLY the complete function implementation "
                            "in a single Markdown code block \xE2\x80\x94 include the signature "
                            "exactly as given, write the full body, and do NOT add any "
                            "explanation, example usage, or test code.\n\n```",
                            language, "\n", prompt, "\n```");
    p.meta = {{"language", language}, {"source_prompt", prompt}, {"tests", tests}};
    problems.push_back(std::move(p));
  }
  return problems;
}

Verdict ScoreMultiplE(const Problem& problem, absl::string_view completion,
                      const BenchSettings&) {
  std::string language = problem.meta.value("language", "");
  std::string toolchain = MultiplEToolchain(language);
  if (!sandbox::FindToolchain(toolchain).present) return ToolchainMissing(toolchain);
  Verdict v;
  std::string prompt = problem.meta.value("source_prompt", "");
  v.extracted = MultiplEChatToBody(prompt, completion, language, &v.rule);
  Plan plan = PlanFor(language);
  ScratchDir dir;
  if (dir.path().empty()) return SandboxError(v, absl::InternalError("mkdtemp failed"));
  const std::string marker = absl::StrCat("cohort-tests-done-", SecureRandomHex(16));
  std::string tests = TestsThenMarker(language, problem.meta.value("tests", ""), marker);
  if (tests.empty()) {
    return SandboxError(v, absl::InvalidArgumentError(
                               "the tests have no main() to follow with the completion marker"));
  }
  std::ofstream(dir.path() + "/" + plan.file, std::ios::binary) << prompt << v.extracted << tests;
  v.detail["toolchain"] = sandbox::ToolchainPin(sandbox::FindToolchain(toolchain));
  if (!plan.compile.empty()) {
    absl::StatusOr<sandbox::SandboxResult> c = Step(dir.path(), plan.compile, true, plan.ro_paths);
    if (!c.ok()) return SandboxError(v, c.status());
    if (!c->Succeeded()) {
      Finish(*c, c->cpu_exceeded || c->timed_out ? "Timeout" : "SyntaxError", marker, &v);
      RecordRun(*c, toolchain, &v.detail);
      return v;
    }
  }
  absl::StatusOr<sandbox::SandboxResult> r = Step(dir.path(), plan.run, false, plan.ro_paths);
  if (!r.ok()) return SandboxError(v, r.status());
  std::string status = r->cpu_exceeded || r->timed_out      ? "Timeout"
                       : !r->Succeeded()                    ? "Exception"
                       : EndsWithMarker(*r, marker)         ? "OK"
                                                            : "TestsNotRun";
  Finish(*r, status, marker, &v);
  RecordRun(*r, language == "java" ? "java" : toolchain, &v.detail);
  return v;
}

}  // namespace cohort::worker::eval

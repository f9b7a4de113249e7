#include "worker/sandbox/toolchains.h"

#include <unistd.h>

#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "common/subprocess.h"

namespace cohort::worker::sandbox {
namespace {

std::string FirstLine(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  return lines.empty() ? "" : std::string(absl::StripAsciiWhitespace(lines[0]));
}

// Version probes run on the host (trusted binaries, fixed arguments).
Toolchain Probe(const std::string& name, const std::string& path, const std::string& flag) {
  Toolchain t{name, path, "", false};
  if (access(path.c_str(), X_OK) != 0) return t;
  SubprocessOptions options;
  options.argv = {path, flag};
  options.env = std::map<std::string, std::string>{{"PATH", "/usr/bin"}, {"HOME", "/tmp"}};
  options.timeout = absl::Seconds(30);
  absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
  if (!r.ok() || !r->Succeeded()) return t;
  // javac and java print their version on stderr.
  t.version = FirstLine(r->stdout_data.empty() ? r->stderr_data : r->stdout_data);
  t.present = !t.version.empty();
  return t;
}

}  // namespace

const std::vector<Toolchain>& DetectToolchains() {
  static const auto* all = new std::vector<Toolchain>{
      Probe("python3", kPython, "--version"), Probe("rustc", kRustc, "--version"),
      Probe("javac", kJavac, "-version"),     Probe("java", kJava, "-version"),
      Probe("node", kNode, "--version"),
  };
  return *all;
}

Toolchain FindToolchain(const std::string& name) {
  for (const Toolchain& t : DetectToolchains()) {
    if (t.name == name) return t;
  }
  return Toolchain{name, "", "", false};
}

nlohmann::json ToolchainPin(const Toolchain& toolchain) {
  return {{"path", toolchain.path}, {"version", toolchain.version}};
}

std::vector<std::string> JavaReadOnlyPaths() {
  std::vector<std::string> paths = {"/etc/alternatives"};
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/etc", ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("java-", 0) == 0) paths.push_back(entry.path().string());
  }
  return paths;
}

}  // namespace cohort::worker::sandbox

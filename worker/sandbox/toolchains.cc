#include "worker/sandbox/toolchains.h"

#include <unistd.h>

#include <filesystem>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
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

struct Known {
  const char* name;
  const char* path;
  const char* flag;
};
constexpr Known kKnown[] = {{"python3", kPython, "--version"}, {"rustc", kRustc, "--version"},
                            {"javac", kJavac, "-version"},     {"java", kJava, "-version"},
                            {"node", kNode, "--version"}};

// Each toolchain is probed once, on first use: a Python bench does not pay
// for starting a JVM to learn its version.
const Toolchain& Probed(const Known& known) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* cache = new std::map<std::string, Toolchain>();
  absl::MutexLock lock(&mu);
  auto it = cache->find(known.name);
  if (it == cache->end()) {
    it = cache->emplace(known.name, Probe(known.name, known.path, known.flag)).first;
  }
  return it->second;
}

}  // namespace

const std::vector<Toolchain>& DetectToolchains() {
  static const auto* all = [] {
    auto* list = new std::vector<Toolchain>();
    for (const Known& known : kKnown) list->push_back(Probed(known));
    return list;
  }();
  return *all;
}

Toolchain FindToolchain(const std::string& name) {
  for (const Known& known : kKnown) {
    if (name == known.name) return Probed(known);
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

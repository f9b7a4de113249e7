#include "worker/agent/capabilities.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/subprocess.h"
#include "worker/sandbox/toolchains.h"

namespace cohort::worker {

std::vector<GpuDescription> ParseNvidiaSmi(const std::string& text) {
  std::vector<GpuDescription> gpus;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    std::vector<std::string> fields = absl::StrSplit(line, ',');
    if (fields.size() != 3) continue;
    GpuDescription gpu;
    uint64_t mib = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(fields[0]), &gpu.index) ||
        !absl::SimpleAtoi(absl::StripAsciiWhitespace(fields[2]), &mib)) {
      continue;
    }
    gpu.model = std::string(absl::StripAsciiWhitespace(fields[1]));
    gpu.memory_bytes = mib << 20;
    gpus.push_back(std::move(gpu));
  }
  return gpus;
}

std::vector<GpuDescription> DetectGpus() {
  SubprocessOptions options;
  options.argv = {"nvidia-smi", "--query-gpu=index,name,memory.total",
                  "--format=csv,noheader,nounits"};
  options.timeout = absl::Seconds(20);
  absl::StatusOr<SubprocessResult> result = RunSubprocess(options);
  if (!result.ok() || !result->Succeeded()) return {};
  return ParseNvidiaSmi(result->stdout_data);
}

ToolCheck CheckTool(const std::string& path) {
  ToolCheck check;
  SubprocessOptions options;
  options.argv = {path, "--version"};
  options.timeout = absl::Seconds(20);
  absl::StatusOr<SubprocessResult> result = RunSubprocess(options);
  if (!result.ok()) {
    check.problem = absl::StrCat(path, " cannot be started: ", result.status().message());
    return check;
  }
  std::string output = result->stdout_data + "\n" + result->stderr_data;
  size_t at = output.find("error while loading shared libraries");
  if (result->exit_code == 126 || result->exit_code == 127 || at != std::string::npos ||
      result->exit_code < 0) {
    std::string line = at == std::string::npos ? result->Describe()
                                               : output.substr(at, output.find('\n', at) - at);
    check.problem = absl::StrCat(path, " does not start: ", absl::StripAsciiWhitespace(line));
    return check;
  }
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::StrContains(absl::AsciiStrToLower(line), "version")) {
      check.version = std::string(absl::StripAsciiWhitespace(line));
      break;
    }
  }
  return check;
}

std::map<std::string, std::string> DetectToolVersions(
    const std::map<std::string, std::string>& tool_paths) {
  std::map<std::string, std::string> versions;
  for (const sandbox::Toolchain& t : sandbox::DetectToolchains()) {
    if (t.present) versions[t.name] = t.version;
  }
  for (const auto& [name, path] : tool_paths) versions[name] = CheckTool(path).version;
  return versions;
}

uint64_t FreeDiskBytes(const std::string& dir) {
  struct statvfs s;
  if (statvfs(dir.c_str(), &s) != 0) return 0;
  return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
}

uint64_t TotalMemoryBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  while (in >> key >> kb) {
    if (key == "MemTotal:") return kb * 1024;
    in.ignore(1 << 10, '\n');
  }
  return 0;
}

std::string HostName() {
  char name[256] = {0};
  gethostname(name, sizeof(name) - 1);
  return name;
}

}  // namespace cohort::worker

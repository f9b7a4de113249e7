// File: capabilities.h
//
// What this machine offers, for the worker's registration: GPUs (from
// nvidia-smi when it is installed; flags override), code toolchains
// (worker/sandbox), the versions of the llama.cpp tools it found, memory,
// free disk and host name.
#ifndef COHORT_WORKER_AGENT_CAPABILITIES_H_
#define COHORT_WORKER_AGENT_CAPABILITIES_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace cohort::worker {

struct GpuDescription {
  uint32_t index = 0;
  std::string model;
  uint64_t memory_bytes = 0;
};

// Parses `nvidia-smi --query-gpu=index,name,memory.total
// --format=csv,noheader,nounits` output (memory in MiB). Lines that do not
// parse are skipped.
std::vector<GpuDescription> ParseNvidiaSmi(const std::string& text);

// Runs nvidia-smi if it is on PATH; empty when absent or failing.
std::vector<GpuDescription> DetectGpus();

// What `path --version` says, from one run: the first line mentioning
// "version" ("" if none), and, when the tool does not start, why: it cannot
// be executed, the loader is missing a shared library (exit 127, "error
// while loading shared libraries"), or it died of a signal. Any exit code of
// a tool that ran counts as starting (llama-quantize prints its usage and
// exits 1).
struct ToolCheck {
  std::string version;
  std::string problem;  // empty when the tool starts
};
ToolCheck CheckTool(const std::string& path);

// name -> version of every present code toolchain and of each given tool
// path (CheckTool's version).
std::map<std::string, std::string> DetectToolVersions(
    const std::map<std::string, std::string>& tool_paths);

// The bytes an unprivileged user may still write on `dir`'s filesystem; 0
// when it cannot be read.
uint64_t FreeDiskBytes(const std::string& dir);
// MemTotal of /proc/meminfo in bytes; 0 when absent.
uint64_t TotalMemoryBytes();
std::string HostName();

}  // namespace cohort::worker

#endif  // COHORT_WORKER_AGENT_CAPABILITIES_H_

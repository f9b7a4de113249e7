// File: capabilities.h
//
// What this machine offers, for the worker's registration: GPUs (from
// nvidia-smi when it is installed; flags override), code toolchains
// (worker/sandbox), and the versions of the llama.cpp tools it found.
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

// name -> version of every present code toolchain and of each given tool
// path (first line of `<tool> --version` mentioning "version", "" if none).
std::map<std::string, std::string> DetectToolVersions(
    const std::map<std::string, std::string>& tool_paths);

// Whether a llama.cpp tool binary starts here: empty when `path --version`
// ran (any exit code: llama-quantize prints its usage and exits 1), else why
// not: it cannot be executed, the loader is missing a shared library (exit
// 127, "error while loading shared libraries"), or it died of a signal.
std::string ToolStartProblem(const std::string& path);

}  // namespace cohort::worker

#endif  // COHORT_WORKER_AGENT_CAPABILITIES_H_

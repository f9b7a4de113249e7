// File: server_args.h
//
// llama-server's (or vLLM's) command line as data. ServerArgs holds the protocol's
// serving settings (docs/protocol.md 1.3); BuildServerArgv turns them into an
// argument vector and BuildServerEnv into the child's extra environment, so
// both are tested without starting a server.
//
//   ServerArgs args;
//   args.binary = "llama-server";
//   args.model = "model-Q6_K.gguf";
//   args.ctx_size = 32768;
//   args.parallel = 2;
//   args.thinking = true;
//   args.reasoning_budget = 12288;
//   args.port = 8123;
//   std::vector<std::string> argv = BuildServerArgv(args);
//   // llama-server -m model-Q6_K.gguf -c 32768 --parallel 2 -ngl 99
//   //   --no-warmup --cache-type-k q8_0 --cache-type-v q8_0 --jinja
//   //   --reasoning-format deepseek --reasoning-budget 12288 --metrics
//   //   --seed 1234 --host 127.0.0.1 --port 8123
//   args.backend = ServerBackend::kVllm;  args.binary = "vllm";
//   args.model = "checkpoints/gemma-nvfp4";
//   // vllm serve checkpoints/gemma-nvfp4 --host 127.0.0.1 --port 8123
//   //   --served-model-name cohort --max-model-len 16384 --max-num-seqs 2
//   //   --seed 1234 --generation-config vllm
#ifndef COHORT_WORKER_LLAMA_SERVER_ARGS_H_
#define COHORT_WORKER_LLAMA_SERVER_ARGS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cohort::worker::llama {

// What serves the model: llama-server (a GGUF) or vLLM's OpenAI-compatible
// server (`vllm serve`, a Hugging Face checkpoint folder).
enum class ServerBackend { kLlamaServer, kVllm };

const char* BackendName(ServerBackend backend);  // "llama-server", "vllm"
// kInvalidArgument naming the two for anything else.
absl::StatusOr<ServerBackend> ParseBackend(const std::string& name);

struct ServerArgs {
  ServerBackend backend = ServerBackend::kLlamaServer;
  std::string binary = "llama-server";  // a path, or a name looked up on PATH
  std::string model;                     // the GGUF (vLLM: the checkpoint folder)
  int ctx_size = 0;   // -c: total context; each slot gets ctx_size / parallel
  int parallel = 2;   // --parallel: slots (explicit, so the KV is not unified)
  // Thinking benches: --reasoning-format deepseek --reasoning-budget N.
  // Others: --reasoning off (docs/protocol.md 1.3: ARC and the code benches).
  bool thinking = true;
  std::string reasoning_format = "deepseek";
  int reasoning_budget = 12288;
  bool jinja = true;
  bool metrics = true;
  int64_t seed = 1234;
  int n_gpu_layers = 99;
  bool warmup = false;                 // the protocol passes --no-warmup
  std::string cache_type_k = "q8_0";   // "" leaves the server default
  std::string cache_type_v = "q8_0";
  std::string host = "127.0.0.1";
  int port = 0;  // REQUIRES: set before BuildServerArgv (see PickFreePort)
  std::vector<std::string> extra_args;  // appended last, verbatim
  // vLLM only. Its context is per request: --max-model-len is ctx_size /
  // parallel (what a llama-server slot gets) and --max-num-seqs parallel.
  // Requests name the model `served_model_name`. The thinking split needs
  // the model family's --reasoning-parser (deepseek_r1, qwen3, ...); vLLM has
  // no reasoning budget. --generation-config vllm: the checkpoint's
  // generation_config.json does not change the protocol's sampling.
  std::string served_model_name = "cohort";
  std::string reasoning_parser;
};

// kInvalidArgument for a missing model, ctx_size < parallel, parallel < 1, a
// thinking run without a budget, or port outside 1..65535.
absl::Status ValidateServerArgs(const ServerArgs& args);

std::vector<std::string> BuildServerArgv(const ServerArgs& args);

// CUDA_VISIBLE_DEVICES pinned to `gpu` (>= 0); nothing for gpu < 0 (CPU or
// the caller's own environment).
std::map<std::string, std::string> BuildServerEnv(int gpu);

// A port on 127.0.0.1 that was free a moment ago (bound to port 0, then
// closed). Another process can take it before the server binds it; the
// supervisor then sees the server exit and starts again on a fresh port.
absl::StatusOr<int> PickFreePort();

}  // namespace cohort::worker::llama

#endif  // COHORT_WORKER_LLAMA_SERVER_ARGS_H_

#include "worker/llama/server_args.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace cohort::worker::llama {

const char* BackendName(ServerBackend backend) {
  return backend == ServerBackend::kVllm ? "vllm" : "llama-server";
}

absl::StatusOr<ServerBackend> ParseBackend(const std::string& name) {
  if (name == "llama-server") return ServerBackend::kLlamaServer;
  if (name == "vllm") return ServerBackend::kVllm;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown server backend '", name, "' (llama-server or vllm)"));
}

absl::Status ValidateServerArgs(const ServerArgs& args) {
  const std::string who = BackendName(args.backend);
  if (args.model.empty()) return absl::InvalidArgumentError(who + ": no model");
  if (args.parallel < 1) return absl::InvalidArgumentError(who + ": --parallel must be >= 1");
  if (args.ctx_size < args.parallel) {
    return absl::InvalidArgumentError(absl::StrCat(
        who, ": a context of ", args.ctx_size, " is smaller than --parallel ", args.parallel));
  }
  if (args.backend == ServerBackend::kLlamaServer && args.thinking &&
      args.reasoning_budget < 0) {
    return absl::InvalidArgumentError("llama-server: thinking needs a --reasoning-budget");
  }
  if (args.port < 1 || args.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(who, ": bad port ", args.port));
  }
  return absl::OkStatus();
}

namespace {

std::vector<std::string> BuildVllmArgv(const ServerArgs& args) {
  std::vector<std::string> argv = {args.binary, "serve", args.model,
                                   "--host", args.host,
                                   "--port", absl::StrCat(args.port),
                                   "--served-model-name", args.served_model_name,
                                   "--max-model-len", absl::StrCat(args.ctx_size / args.parallel),
                                   "--max-num-seqs", absl::StrCat(args.parallel),
                                   "--seed", absl::StrCat(args.seed),
                                   "--generation-config", "vllm"};
  if (!args.reasoning_parser.empty()) {
    argv.insert(argv.end(), {"--reasoning-parser", args.reasoning_parser});
  }
  argv.insert(argv.end(), args.extra_args.begin(), args.extra_args.end());
  return argv;
}

}  // namespace

std::vector<std::string> BuildServerArgv(const ServerArgs& args) {
  if (args.backend == ServerBackend::kVllm) return BuildVllmArgv(args);
  std::vector<std::string> argv = {args.binary, "-m", args.model,
                                   "-c", absl::StrCat(args.ctx_size),
                                   "--parallel", absl::StrCat(args.parallel),
                                   "-ngl", absl::StrCat(args.n_gpu_layers)};
  if (!args.warmup) argv.push_back("--no-warmup");
  if (!args.cache_type_k.empty()) {
    argv.insert(argv.end(), {"--cache-type-k", args.cache_type_k});
  }
  if (!args.cache_type_v.empty()) {
    argv.insert(argv.end(), {"--cache-type-v", args.cache_type_v});
  }
  argv.push_back(args.jinja ? "--jinja" : "--no-jinja");
  if (args.thinking) {
    argv.insert(argv.end(), {"--reasoning-format", args.reasoning_format,
                             "--reasoning-budget", absl::StrCat(args.reasoning_budget)});
  } else {
    argv.insert(argv.end(), {"--reasoning", "off"});
  }
  if (args.metrics) argv.push_back("--metrics");
  argv.insert(argv.end(), {"--seed", absl::StrCat(args.seed), "--host", args.host,
                           "--port", absl::StrCat(args.port)});
  argv.insert(argv.end(), args.extra_args.begin(), args.extra_args.end());
  return argv;
}

std::map<std::string, std::string> BuildServerEnv(int gpu) {
  if (gpu < 0) return {};
  return {{"CUDA_VISIBLE_DEVICES", absl::StrCat(gpu)}};
}

absl::StatusOr<int> PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat("binding a free port: ", std::strerror(err)));
  }
  close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

}  // namespace cohort::worker::llama

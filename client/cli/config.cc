#include "client/cli/config.h"

#include <cstdlib>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/status_macros.h"
#include "yaml-cpp/yaml.h"

namespace cohort::client {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

absl::Status ReadConfigFile(const std::string& path, bool required, ClientConfig* config) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    if (!required && !std::filesystem::exists(path)) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot read config: ", text.status().message()));
  }
  config->source = path;
  // yaml-cpp reports errors by exception; they stop here.
  try {
    YAML::Node root = YAML::Load(*text);
    if (root.IsNull()) return absl::OkStatus();
    if (!root.IsMap()) return absl::InvalidArgumentError(path + ": expected a mapping");
    for (const auto& entry : root) {
      std::string key = entry.first.Scalar();
      std::string value = entry.second.Scalar();
      int line = entry.first.Mark().line + 1;
      if (key == "coordinator") {
        config->coordinator = value;
      } else if (key == "token") {
        config->token = value;
      } else if (key == "tls_ca") {
        config->tls_ca = value;
      } else if (key == "tls_cert") {
        config->tls_cert = value;
      } else if (key == "tls_key") {
        config->tls_key = value;
      } else if (key == "tls_server_name") {
        config->tls_server_name = value;
      } else if (key == "token_file") {
        absl::StatusOr<std::string> token = ReadFileToString(value);
        if (!token.ok()) {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ":", line, ": token_file: ", token.status().message()));
        }
        config->token = std::string(absl::StripAsciiWhitespace(*token));
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ":", line, ": unknown key '", key,
            "' (expected coordinator, token, token_file, tls_ca, tls_cert, tls_key, "
            "tls_server_name)"));
      }
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
  return absl::OkStatus();
}

}  // namespace

std::string DefaultConfigPath() {
  std::string base = Env("XDG_CONFIG_HOME");
  if (base.empty()) base = Env("HOME") + "/.config";
  return base + "/cohort/config.yaml";
}

absl::StatusOr<ClientConfig> ResolveConfig(const ConfigFlags& flags) {
  ClientConfig config;
  std::string file = flags.config_file;
  bool required = !file.empty();
  if (file.empty()) {
    file = Env("COHORT_CONFIG");
    required = !file.empty();
  }
  if (file.empty()) file = DefaultConfigPath();
  COHORT_RETURN_IF_ERROR(ReadConfigFile(file, required, &config));
  if (!Env("COHORT_COORDINATOR").empty()) config.coordinator = Env("COHORT_COORDINATOR");
  if (!Env("COHORT_TOKEN").empty()) config.token = Env("COHORT_TOKEN");
  if (!flags.coordinator.empty()) config.coordinator = flags.coordinator;
  if (!flags.token.empty()) config.token = flags.token;
  const std::pair<const char*, std::string ClientConfig::*> tls[] = {
      {"COHORT_TLS_CA", &ClientConfig::tls_ca},
      {"COHORT_TLS_CERT", &ClientConfig::tls_cert},
      {"COHORT_TLS_KEY", &ClientConfig::tls_key},
      {"COHORT_TLS_SERVER_NAME", &ClientConfig::tls_server_name}};
  for (const auto& [env, field] : tls) {
    if (!Env(env).empty()) config.*field = Env(env);
  }
  if (!flags.tls_ca.empty()) config.tls_ca = flags.tls_ca;
  if (!flags.tls_cert.empty()) config.tls_cert = flags.tls_cert;
  if (!flags.tls_key.empty()) config.tls_key = flags.tls_key;
  if (!flags.tls_server_name.empty()) config.tls_server_name = flags.tls_server_name;
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate needs both its file and its key: give --tls-cert and "
        "--tls-key (or COHORT_TLS_CERT and COHORT_TLS_KEY, or tls_cert and tls_key in " +
        (config.source.empty() ? DefaultConfigPath() : config.source) + ")");
  }
  return config;
}

std::string ConfigText(const std::string& coordinator, const std::string& token_file) {
  return absl::StrCat("# Written by `cohort up`.\ncoordinator: ", coordinator,
                      "\ntoken_file: ", token_file, "\n");
}

}  // namespace cohort::client

// File: config.h
//
// Where `cohort` finds its coordinator and token. Each setting is taken from
// the first of: the flag (--coordinator, --token), the environment
// (COHORT_COORDINATOR, COHORT_TOKEN), the config file, the default. The
// config file is --config, else $COHORT_CONFIG, else
// ~/.config/cohort/config.yaml; a missing default file is not an error.
//
//   coordinator: 127.0.0.1:7400
//   token_file: /path/to/client.token     # or token: cht_client_...
//   tls_ca: /path/to/ca.pem               # optional: TLS to cohortd
#ifndef COHORT_CLIENT_CLI_CONFIG_H_
#define COHORT_CLIENT_CLI_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"

namespace cohort::client {

struct ClientConfig {
  std::string coordinator = "127.0.0.1:7400";
  std::string token;
  std::string tls_ca;  // empty: plaintext
  std::string source;  // the config file used, if any
};

struct ConfigFlags {
  std::string coordinator;
  std::string token;
  std::string config_file;
};

absl::StatusOr<ClientConfig> ResolveConfig(const ConfigFlags& flags);

// The default config file path (~/.config/cohort/config.yaml, honouring
// XDG_CONFIG_HOME).
std::string DefaultConfigPath();

// Text of a config file for `cohort up`.
std::string ConfigText(const std::string& coordinator, const std::string& token_file);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_CLI_CONFIG_H_

// File: config.h
//
// Where `cohort` finds its coordinator, token and TLS files. Each setting is
// taken from the first of: the flag (--coordinator, --token, --tls-ca,
// --tls-cert, --tls-key, --tls-server-name), the environment
// (COHORT_COORDINATOR, COHORT_TOKEN, COHORT_TLS_CA, COHORT_TLS_CERT,
// COHORT_TLS_KEY, COHORT_TLS_SERVER_NAME), the config file, the
// default. The
// config file is --config, else $COHORT_CONFIG, else
// ~/.config/cohort/config.yaml; a missing default file is not an error.
//
//   coordinator: 127.0.0.1:7400
//   token_file: /path/to/client.token     # or token: cht_client_...
//   tls_ca: /path/to/ca.pem               # optional: TLS to cohortd
//   tls_cert: /path/to/client.crt         # optional: a client certificate
//   tls_key: /path/to/client.key          #   and its key (mTLS)
//   tls_server_name: cohortd.cohort       # optional: the name cohortd's
//                                         # certificate must carry (default:
//                                         # the coordinator's host)
#ifndef COHORT_CLIENT_CLI_CONFIG_H_
#define COHORT_CLIENT_CLI_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"

namespace cohort::client {

struct ClientConfig {
  std::string coordinator = "127.0.0.1:7400";
  std::string token;
  std::string tls_ca;    // empty: plaintext (unless a client certificate is set)
  std::string tls_cert;  // client certificate chain (PEM), presented to cohortd
  std::string tls_key;   // its private key (PEM)
  // The name cohortd's certificate must carry; empty: the host dialled. A
  // role name only cohortd's certificate carries keeps a worker's
  // certificate (same CA) from standing in for cohortd.
  std::string tls_server_name;
  std::string source;    // the config file used, if any
};

struct ConfigFlags {
  std::string coordinator;
  std::string token;
  std::string config_file;
  std::string tls_ca, tls_cert, tls_key, tls_server_name;
};

absl::StatusOr<ClientConfig> ResolveConfig(const ConfigFlags& flags);

// The default config file path (~/.config/cohort/config.yaml, honouring
// XDG_CONFIG_HOME).
std::string DefaultConfigPath();

// Text of a config file for `cohort up`.
std::string ConfigText(const std::string& coordinator, const std::string& token_file);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_CLI_CONFIG_H_

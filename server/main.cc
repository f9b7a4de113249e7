// cohortd: the coordinator daemon. Wiring only: flags, logging, the store,
// the coordinator, the gRPC server, and a wait for SIGTERM/SIGINT.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "common/atomic_file.h"
#include "common/grpc_logging.h"
#include "common/human_duration.h"
#include "common/logging.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "common/tls_inspect.h"
#include "common/version.h"
#include "server/coordinator/coordinator.h"
#include "server/dashboard/dashboard.h"
#include "server/dashboard/http_server.h"
#include "server/metrics/metrics.h"
#include "server/service/server.h"
#include "spdlog/spdlog.h"

namespace {

struct Flags {
  cohort::server::ServerOptions server;
  std::string state_dir = "cohort-state";
  std::string port_file;
  std::string dashboard_port_file;
  std::string metrics_listen;  // empty: no /metrics
  std::string dashboard_listen;  // empty: no dashboard
  std::string log_format = "human";
  std::string log_level = "info";
  int max_request_mb = cohort::server::kDefaultMaxRequestBytes >> 20;
  double lease_seconds = 30;
  double heartbeat_seconds = 5;
  absl::Duration forget_workers_after = absl::Hours(24);
  int tls_reload_seconds = 60;
  std::string forget_workers_after_text;
  bool durability_normal = false;
  // token create
  std::string role;
  std::string token_name;  // empty: the token is its own identity ("token <id>")
  std::string token_worker_id;
  std::string ttl;  // empty: never expires
  // token revoke
  std::string revoke_id;
  std::string revoke_name;
};

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "cohortd: %s\n", std::string(status.message()).c_str());
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

absl::StatusOr<std::unique_ptr<cohort::server::Coordinator>> OpenCoordinator(
    const Flags& flags) {
  std::error_code ec;
  std::filesystem::create_directories(flags.state_dir, ec);
  if (ec) {
    return absl::InvalidArgumentError("cannot create state dir " + flags.state_dir +
                                      ": " + ec.message());
  }
  cohort::server::DatabaseOptions db;
  db.durability = flags.durability_normal ? cohort::server::Durability::kNormal
                                          : cohort::server::Durability::kFull;
  auto store = cohort::server::CoordinatorStore::Open(
      flags.state_dir + "/cohort.db", db);
  if (!store.ok()) return store.status();
  cohort::server::CoordinatorOptions options;
  options.lease_duration = absl::Seconds(flags.lease_seconds);
  options.heartbeat_interval = absl::Seconds(flags.heartbeat_seconds);
  options.restart_grace = options.lease_duration;
  options.forget_workers_after = flags.forget_workers_after;
  return cohort::server::Coordinator::Create(std::move(*store),
                                             cohort::RealClock(), options);
}

// A token that outlives ten years is one that should not expire: say so
// with no --ttl rather than store a date past what the columns hold.
constexpr absl::Duration kMaxTtl = absl::Hours(24 * 3650);

int CreateToken(const Flags& flags) {
  std::optional<absl::Duration> ttl;
  if (!flags.ttl.empty()) {
    absl::StatusOr<absl::Duration> parsed = cohort::ParseHumanDuration(flags.ttl);
    if (!parsed.ok()) return Fail(parsed.status());
    if (*parsed > kMaxTtl) {
      return Fail(absl::InvalidArgumentError(
          "--ttl " + flags.ttl + " is over ten years; leave --ttl out for a token "
          "that never expires"));
    }
    ttl = *parsed;
  }
  auto coordinator = OpenCoordinator(flags);
  if (!coordinator.ok()) return Fail(coordinator.status());
  auto token =
      (*coordinator)->CreateToken(flags.role, flags.token_name, ttl, flags.token_worker_id);
  if (!token.ok()) return Fail(token.status());
  std::printf("%s\n", token->c_str());
  return 0;
}

absl::StatusOr<std::unique_ptr<cohort::server::CoordinatorStore>> OpenStore(
    const Flags& flags) {
  std::string path = flags.state_dir + "/cohort.db";
  if (!std::filesystem::exists(path)) {
    return absl::NotFoundError("no coordinator database at " + path);
  }
  return cohort::server::CoordinatorStore::Open(path, {});
}

std::string FormatExpiry(const cohort::server::TokenRecord& token, absl::Time now) {
  if (!token.expires.has_value()) return "never";
  std::string when =
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *token.expires, absl::UTCTimeZone());
  return *token.expires <= now ? when + " (expired)" : when;
}

// One line per token: its id (the first 12 hex digits of its hash, which
// `token revoke` takes), role, name, creation and expiry.
int ListTokens(const Flags& flags) {
  auto store = OpenStore(flags);
  if (!store.ok()) return Fail(store.status());
  auto tokens = (*store)->ListTokens();
  if (!tokens.ok()) return Fail(tokens.status());
  absl::Time now = absl::Now();
  std::printf("%-12s  %-6s  %-20s  %-20s  %s\n", "ID", "ROLE", "NAME", "CREATED", "EXPIRES");
  for (const cohort::server::TokenRecord& t : *tokens) {
    std::printf("%-12s  %-6s  %-20s  %-20s  %s\n", t.hash.substr(0, 12).c_str(),
                t.role.c_str(), t.name.c_str(),
                absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t.created, absl::UTCTimeZone()).c_str(),
                FormatExpiry(t, now).c_str());
  }
  return 0;
}

int RevokeTokens(const Flags& flags) {
  if (flags.revoke_id.empty() == flags.revoke_name.empty()) {
    return Fail(absl::InvalidArgumentError("token revoke needs exactly one of ID or --name"));
  }
  auto store = OpenStore(flags);
  if (!store.ok()) return Fail(store.status());
  auto revoked = (*store)->RevokeTokens(flags.revoke_id, flags.revoke_name);
  if (!revoked.ok()) return Fail(revoked.status());
  for (const cohort::server::TokenRecord& t : *revoked) {
    std::printf("revoked %s (%s, %s)\n", t.hash.substr(0, 12).c_str(), t.role.c_str(),
                t.name.c_str());
  }
  return 0;
}

// cohortd's artifact-transfer secret (common/transfer_capability.h), kept in
// the state folder so capabilities and workers' keys survive a restart.
absl::StatusOr<std::string> TransferSecret(const Flags& flags) {
  const std::string path = flags.state_dir + "/transfer.secret";
  absl::StatusOr<std::string> text = cohort::ReadFileToString(path);
  if (text.ok()) {
    std::string secret(absl::StripAsciiWhitespace(*text));
    if (secret.size() == 64) return secret;
    return absl::DataLossError(path + ": not a 64-hex-digit secret; remove it to make a new one");
  }
  std::string secret = cohort::SecureRandomHex(32);
  COHORT_RETURN_IF_ERROR(cohort::WriteFileAtomically(path, secret + "\n"));
  return secret;
}

// Renewed TLS files, served to new connections within a second when they
// check out; a refusal is logged once per reason (the previous files stay).
void ReloadCertificates(cohort::server::CohortServer& server, const Flags& flags,
                        bool on_sighup, std::string* last_error) {
  const char* why = on_sighup ? "SIGHUP" : "TLS files";
  absl::StatusOr<bool> changed = server.ReloadCertificates();
  if (!changed.ok()) {
    std::string error(changed.status().message());
    if (error != *last_error) {
      spdlog::warn("{}: {}; the previous certificate is still served", why, error);
    }
    *last_error = error;
    return;
  }
  last_error->clear();
  absl::StatusOr<cohort::CertificateInfo> info =
      cohort::ReadCertificateFile(flags.server.tls_cert_file);
  if (*changed) {
    spdlog::info("{}: serving {} ({}, expires {}) to new connections", why,
                 flags.server.tls_cert_file, info.ok() ? info->subject : "?",
                 info.ok() ? cohort::FormatCertificateTime(info->not_after) : "?");
  } else if (on_sighup) {
    spdlog::info("SIGHUP: {} is already served (unchanged)", flags.server.tls_cert_file);
  }
}

// Waits for SIGTERM or SIGINT (returned); on SIGHUP, and every
// --tls-reload-seconds, serves renewed TLS files.
int WaitForStop(const sigset_t& signals, const Flags& flags,
                cohort::server::CohortServer& server) {
  const bool tls = !flags.server.tls_cert_file.empty();
  std::string last_error;
  timespec interval = {static_cast<time_t>(std::max(1, flags.tls_reload_seconds)), 0};
  while (true) {
    int signal_number = sigtimedwait(&signals, nullptr, &interval);
    if (signal_number < 0) {
      if (errno == EAGAIN && tls) ReloadCertificates(server, flags, false, &last_error);
      continue;  // EAGAIN (the interval) or EINTR
    }
    if (signal_number != SIGHUP) return signal_number;
    if (!tls) {
      spdlog::info("SIGHUP: no TLS certificate to reload");
      continue;
    }
    last_error.clear();  // an operator's SIGHUP always hears the verdict
    ReloadCertificates(server, flags, true, &last_error);
  }
}

int Serve(const Flags& flags) {
  // Block the signals before any thread starts so that only sigwait sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto coordinator = OpenCoordinator(flags);
  if (!coordinator.ok()) return Fail(coordinator.status());
  cohort::server::ServerOptions server_options = flags.server;
  server_options.max_request_bytes = flags.max_request_mb << 20;
  server_options.tls_served_dir = flags.state_dir + "/tls-served";
  absl::StatusOr<std::string> secret = TransferSecret(flags);
  if (!secret.ok()) return Fail(secret.status());
  server_options.transfer_secret = *secret;
  std::unique_ptr<cohort::server::CohortMetrics> metrics;
  if (!flags.metrics_listen.empty()) {
    metrics = std::make_unique<cohort::server::CohortMetrics>(**coordinator,
                                                              cohort::RealClock());
    if (!server_options.tls_cert_file.empty()) {
      metrics->WatchCertificate("server", server_options.tls_cert_file);
    }
    if (!server_options.tls_client_ca_file.empty()) {
      metrics->WatchCertificate("client-ca", server_options.tls_client_ca_file);
    }
    absl::StatusOr<int> port = metrics->Serve(flags.metrics_listen);
    if (!port.ok()) return Fail(port.status());
    spdlog::info("metrics on port {} (/metrics)", *port);
    server_options.on_rpc_done = [m = metrics.get()](const std::string& method,
                                                     int code, absl::Duration d) {
      m->ObserveRpc(method, code, d);
    };
    server_options.on_refused_unread = [m = metrics.get()](const std::string& method,
                                                           int code) {
      m->ObserveRefusedUnread(method, code);
    };
  }
  cohort::server::CohortServer server(**coordinator, server_options);
  if (absl::Status s = server.Start(); !s.ok()) return Fail(s);
  std::unique_ptr<cohort::server::dashboard::Dashboard> dashboard;
  std::unique_ptr<cohort::server::dashboard::DashboardServer> dashboard_server;
  if (!flags.dashboard_listen.empty()) {
    dashboard = std::make_unique<cohort::server::dashboard::Dashboard>(**coordinator,
                                                                       cohort::RealClock());
    cohort::server::dashboard::HttpServerOptions http;
    http.listen = flags.dashboard_listen;
    http.tls_cert_file = server_options.tls_cert_file;
    http.tls_key_file = server_options.tls_key_file;
    http.tls_client_ca_file = server_options.tls_client_ca_file;
    http.insecure_plaintext = server_options.insecure_plaintext;
    dashboard_server = std::make_unique<cohort::server::dashboard::DashboardServer>(
        *dashboard, **coordinator, http);
    absl::StatusOr<int> port = dashboard_server->Start();
    if (!port.ok()) {
      server.Shutdown(absl::Seconds(1));
      return Fail(port.status());
    }
    spdlog::info("dashboard on port {} ({})", *port, dashboard_server->Describe());
    if (!flags.dashboard_port_file.empty()) {
      absl::Status s = cohort::WriteFileAtomically(flags.dashboard_port_file,
                                                   std::to_string(*port) + "\n");
      if (!s.ok()) return Fail(s);
    }
  }
  if (!flags.port_file.empty()) {
    absl::Status s = cohort::WriteFileAtomically(
        flags.port_file, std::to_string(server.port()) + "\n");
    if (!s.ok()) return Fail(s);
  }
  const int signal_number = WaitForStop(signals, flags, server);
  spdlog::info("signal {}: shutting down", signal_number);
  if (dashboard_server) dashboard_server->Stop();
  server.Shutdown(absl::Seconds(10));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // cohort.db (tokens' hashes, every result), its WAL and the port file are
  // this user's alone from the moment they are created.
  umask(077);
  CLI::App app{
      "cohortd: the cohort coordinator. Owns the SQLite job graph and results "
      "cache of prune-and-eval campaigns and dispatches their steps to "
      "cohort-worker processes over gRPC."};
  app.set_version_flag("--version", std::string("cohortd ") + COHORT_VERSION);
  Flags flags;
  app.add_option("--listen", flags.server.listen, "host:port to serve gRPC on (port 0: any)")
      ->capture_default_str();
  app.add_option("--state-dir", flags.state_dir,
                 "folder for the SQLite database")
      ->capture_default_str();
  app.add_option("--port-file", flags.port_file,
                 "write the bound port here once serving");
  app.add_option("--metrics-listen", flags.metrics_listen,
                 "host:port to serve Prometheus /metrics on (default: off)");
  app.add_option("--dashboard-listen", flags.dashboard_listen,
                 "host:port to serve the read-only web dashboard on (default: off); HTTPS "
                 "with --tls-cert/--tls-key, else loopback only unless --insecure-plaintext");
  app.add_option("--dashboard-port-file", flags.dashboard_port_file,
                 "write the dashboard's bound port here once serving");
  app.add_option("--shared-root", flags.server.shared_roots,
                 "a folder (repeatable) under which clients may register shared-path inputs; "
                 "none: only admin tokens may");
  app.add_option("--tls-cert", flags.server.tls_cert_file, "server certificate (PEM)");
  app.add_option("--tls-key", flags.server.tls_key_file, "server private key (PEM)");
  app.add_flag("--insecure-plaintext", flags.server.insecure_plaintext,
               "serve plaintext on a non-loopback --listen (tokens and results in the clear)");
  app.add_option("--tls-client-ca", flags.server.tls_client_ca_file,
                 "require client certificates signed by this CA (mTLS)");
  app.add_option("--max-request-mb", flags.max_request_mb,
                 "refuse gRPC requests larger than this (RESOURCE_EXHAUSTED)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--lease-seconds", flags.lease_seconds, "lease duration")
      ->capture_default_str();
  app.add_option("--heartbeat-seconds", flags.heartbeat_seconds,
                 "heartbeat interval told to workers")
      ->capture_default_str();
  app.add_option("--tls-reload-seconds", flags.tls_reload_seconds,
                 "how often the certificate, key and client CA files are checked for a "
                 "renewal, served to new connections without a restart")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_option("--forget-workers-after", flags.forget_workers_after_text,
                 "leave workers silent this long out of the worker list (90s, 12h, 7d; "
                 "default 24h)");
  app.add_flag("--durability-normal", flags.durability_normal,
               "synchronous=NORMAL: survives kill -9, may lose the last "
               "commits on power loss (default FULL)");
  app.add_option("--log-format", flags.log_format, "human or json")->capture_default_str();
  app.add_option("--log-level", flags.log_level, "trace|debug|info|warn|error")
      ->capture_default_str();
  CLI::App* token = app.add_subcommand("token", "manage bearer tokens");
  CLI::App* create = token->add_subcommand("create", "create a token and print it once");
  create->add_option("--role", flags.role, "client, worker or admin")->required();
  create->add_option("--name", flags.token_name, "a label for the token");
  create->add_option("--worker-id", flags.token_worker_id,
                     "worker tokens: the one worker id this token may act as");
  create->add_option("--ttl", flags.ttl,
                     "expire after this long: 90s, 15m, 12h, 30d, 2w, 1d12h "
                     "(default: the token never expires)");
  CLI::App* list = token->add_subcommand(
      "list", "list tokens: id, role, name, created, expires (never the token itself)");
  CLI::App* revoke = token->add_subcommand(
      "revoke", "delete a token (by the id `token list` shows) or every token of a name");
  revoke->add_option("id", flags.revoke_id, "the token's id (at least 8 hex digits)");
  revoke->add_option("--name", flags.revoke_name, "revoke every token with this name");
  token->require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  cohort::LogOptions log_options;
  log_options.program = "cohortd";
  log_options.level = flags.log_level;
  absl::Status s = cohort::ParseLogFormat(flags.log_format, &log_options.format);
  if (s.ok()) s = cohort::InitLogging(log_options);
  if (!s.ok()) return Fail(s);
  cohort::RouteGrpcLogsToSpdlog();
  if (!flags.forget_workers_after_text.empty()) {
    absl::StatusOr<absl::Duration> forget =
        cohort::ParseHumanDuration(flags.forget_workers_after_text);
    if (!forget.ok()) {
      return Fail(absl::InvalidArgumentError("--forget-workers-after: " +
                                             std::string(forget.status().message())));
    }
    flags.forget_workers_after = *forget;
  }
  if (create->parsed()) return CreateToken(flags);
  if (list->parsed()) return ListTokens(flags);
  if (revoke->parsed()) return RevokeTokens(flags);
  return Serve(flags);
}

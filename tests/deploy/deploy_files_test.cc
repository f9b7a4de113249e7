// Checks the deployment files in deploy/ (Kubernetes manifests, systemd
// units, the Slurm batch script, the Dockerfiles): they parse, carry the
// fields a cluster needs (kinds, GPU requests, volume claims, secret and
// config references that resolve, probes, TLS on every listener, client
// certificates required by cohortd and held by its clients), and every
// flag they pass exists in the binaries' --help.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/atomic_file.h"
#include "common/subprocess.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace cohort {
namespace {

namespace fs = std::filesystem;

std::string DeployDir() { return cohort::testing::SourceDir() + "/deploy"; }

std::string Read(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.value_or("");
}

// --- Kubernetes -------------------------------------------------------------

struct Manifest {
  std::string file;
  YAML::Node node;
};

std::vector<Manifest> LoadManifests() {
  std::vector<Manifest> out;
  for (const auto& entry : fs::directory_iterator(DeployDir() + "/kubernetes")) {
    if (entry.path().extension() != ".yaml") continue;
    for (const YAML::Node& doc : YAML::LoadAllFromFile(entry.path().string())) {
      if (doc.IsNull()) continue;
      out.push_back({entry.path().filename().string(), doc});
    }
  }
  return out;
}

std::string Str(const YAML::Node& node) {
  return node && node.IsScalar() ? node.as<std::string>() : "";
}

const Manifest* Find(const std::vector<Manifest>& all, const std::string& kind,
                     const std::string& name) {
  for (const Manifest& m : all) {
    if (Str(m.node["kind"]) == kind && Str(m.node["metadata"]["name"]) == name) return &m;
  }
  return nullptr;
}

// Flags of a container's args ("--a=b" or "--a", "b"), value "" for a switch.
std::map<std::string, std::string> ArgFlags(const YAML::Node& container) {
  std::map<std::string, std::string> flags;
  const YAML::Node args = container["args"];
  for (std::size_t i = 0; args && i < args.size(); ++i) {
    std::string arg = Str(args[i]);
    if (!absl::StartsWith(arg, "--")) continue;
    std::size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      flags[arg.substr(0, eq)] = arg.substr(eq + 1);
    } else if (i + 1 < args.size() && !absl::StartsWith(Str(args[i + 1]), "--")) {
      flags[arg] = Str(args[++i]);
    } else {
      flags[arg] = "";
    }
  }
  return flags;
}

YAML::Node OnlyContainer(const Manifest& workload) {
  const YAML::Node containers = workload.node["spec"]["template"]["spec"]["containers"];
  EXPECT_TRUE(containers && containers.IsSequence() && containers.size() == 1)
      << workload.file << ": one container expected";
  return containers && containers.size() > 0 ? containers[0] : YAML::Node();
}

// The mount path of the named volume in `container`, or "".
std::string MountOf(const YAML::Node& container, const std::string& volume) {
  for (const YAML::Node& m : container["volumeMounts"]) {
    if (Str(m["name"]) == volume) return Str(m["mountPath"]);
  }
  return "";
}

// Asserts that `path` is a file the pod sees: under a mounted Secret volume
// whose items include the file name, and that the Secret defines that key.
void ExpectSecretFile(const std::vector<Manifest>& all, const Manifest& workload,
                      const std::string& path) {
  YAML::Node container = OnlyContainer(workload);
  bool found = false;
  for (const YAML::Node& volume : workload.node["spec"]["template"]["spec"]["volumes"]) {
    if (!volume["secret"]) continue;
    std::string mount = MountOf(container, Str(volume["name"]));
    if (mount.empty() || !absl::StartsWith(path, mount + "/")) continue;
    std::string file = path.substr(mount.size() + 1);
    std::string secret_name = Str(volume["secret"]["secretName"]);
    const Manifest* secret = Find(all, "Secret", secret_name);
    ASSERT_NE(secret, nullptr) << workload.file << ": no Secret " << secret_name;
    for (const YAML::Node& item : volume["secret"]["items"]) {
      if (Str(item["path"]) != file) continue;
      std::string key = Str(item["key"]);
      EXPECT_TRUE(secret->node["stringData"][key] || secret->node["data"][key])
          << "Secret " << secret_name << " has no key " << key;
      found = true;
    }
  }
  EXPECT_TRUE(found) << workload.file << ": " << path << " is not a mounted Secret file";
}

TEST(KubernetesTest, EveryDocumentHasKindNameAndNamespace) {
  std::vector<Manifest> all = LoadManifests();
  ASSERT_GE(all.size(), 8u);
  for (const Manifest& m : all) {
    SCOPED_TRACE(m.file);
    EXPECT_FALSE(Str(m.node["apiVersion"]).empty());
    std::string kind = Str(m.node["kind"]);
    EXPECT_FALSE(kind.empty());
    if (kind == "Kustomization") continue;
    EXPECT_FALSE(Str(m.node["metadata"]["name"]).empty());
    if (kind != "Namespace") {
      EXPECT_EQ(Str(m.node["metadata"]["namespace"]), "cohort");
    }
  }
  for (const auto& [kind, name] : std::vector<std::pair<std::string, std::string>>{
           {"Namespace", "cohort"}, {"ConfigMap", "cohort-config"},
           {"Secret", "cohort-tokens"}, {"Secret", "cohort-tls"},
           {"StatefulSet", "cohortd"}, {"Service", "cohortd"},
           {"StatefulSet", "cohort-worker"}, {"Service", "cohort-worker"}}) {
    EXPECT_NE(Find(all, kind, name), nullptr) << "missing " << kind << " " << name;
  }
}

// The Kubernetes API schema itself (k8s_schema_check.py: the field names,
// types and required fields of python3-kubernetes' models, which are
// generated from Kubernetes' OpenAPI document): what kubectl checks against
// a cluster, with no cluster. A copy with a misspelt field, a string where
// an integer is due and a kind its apiVersion does not serve must fail, so
// the check is known to bite.
absl::StatusOr<SubprocessResult> CheckSchema(const std::vector<std::string>& files) {
  SubprocessOptions options;
  options.argv = {"/usr/bin/python3", cohort::testing::SourceDir() +
                                          "/tests/deploy/k8s_schema_check.py"};
  options.argv.insert(options.argv.end(), files.begin(), files.end());
  options.timeout = absl::Minutes(1);
  return RunSubprocess(options);
}

TEST(KubernetesTest, EveryDocumentFollowsTheKubernetesApiSchema) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(DeployDir() + "/kubernetes")) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path().string());
  }
  absl::StatusOr<SubprocessResult> ok = CheckSchema(files);
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_NE(ok->exit_code, 2) << ok->stdout_data << " (install-deps.sh --tests)";
  EXPECT_TRUE(ok->Succeeded()) << ok->Describe() << ok->stdout_data;
  EXPECT_THAT(ok->stdout_data, ::testing::HasSubstr(" 0 problems"));

  cohort::testing::TempDir dir;
  std::string text = Read(DeployDir() + "/kubernetes/cohortd.yaml");
  text = std::regex_replace(text, std::regex("resources:"), "resource:",
                            std::regex_constants::format_first_only);
  text = std::regex_replace(text, std::regex("replicas: 1"), "replicas: \"1\"");
  text = std::regex_replace(text, std::regex("apiVersion: apps/v1"), "apiVersion: batch/v1");
  std::ofstream(dir.Join("broken.yaml")) << text;
  absl::StatusOr<SubprocessResult> bad = CheckSchema({dir.Join("broken.yaml")});
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->exit_code, 1) << bad->stdout_data;
  EXPECT_THAT(bad->stdout_data, ::testing::HasSubstr("batch/v1 serves no kind StatefulSet"));

  text = Read(DeployDir() + "/kubernetes/cohortd.yaml");
  text = std::regex_replace(text, std::regex("resources:"), "resource:",
                            std::regex_constants::format_first_only);
  text = std::regex_replace(text, std::regex("replicas: 1"), "replicas: \"1\"");
  std::ofstream(dir.Join("typos.yaml")) << text;
  bad = CheckSchema({dir.Join("typos.yaml")});
  ASSERT_TRUE(bad.ok());
  EXPECT_THAT(bad->stdout_data, ::testing::HasSubstr("containers[0].resource: not a field of "
                                                     "Container"));
  EXPECT_THAT(bad->stdout_data, ::testing::HasSubstr("spec.replicas: an integer is due"));
}

// kubectl itself, with no cluster: `kubectl kustomize` parses every
// manifest the kustomization lists and builds the set an `apply -k` would
// send, each document in the cohort namespace. A kustomization naming a file
// that is not there is refused by it.
absl::StatusOr<SubprocessResult> Kustomize(const std::string& dir) {
  SubprocessOptions options;
  options.argv = {"kubectl", "kustomize", dir};
  options.timeout = absl::Minutes(1);
  return RunSubprocess(options);
}

TEST(KubernetesTest, KubectlBuildsTheKustomization) {
  absl::StatusOr<SubprocessResult> built = Kustomize(DeployDir() + "/kubernetes");
  ASSERT_TRUE(built.ok()) << built.status() << " (install-deps.sh --tests: kubernetes-client)";
  ASSERT_TRUE(built->Succeeded()) << built->Describe();
  std::vector<YAML::Node> docs = YAML::LoadAll(built->stdout_data);
  size_t expected = 0;  // what the kustomization lists
  YAML::Node k = YAML::LoadFile(DeployDir() + "/kubernetes/kustomization.yaml");
  for (const YAML::Node& r : k["resources"]) {
    for (const YAML::Node& doc : YAML::LoadAllFromFile(DeployDir() + "/kubernetes/" + Str(r))) {
      expected += doc.IsNull() ? 0 : 1;
    }
  }
  EXPECT_EQ(docs.size(), expected) << built->stdout_data;
  for (const YAML::Node& doc : docs) {
    if (Str(doc["kind"]) == "Namespace") continue;
    EXPECT_EQ(Str(doc["metadata"]["namespace"]), "cohort") << Str(doc["metadata"]["name"]);
  }

  cohort::testing::TempDir dir;
  fs::copy(DeployDir() + "/kubernetes", dir.path(), fs::copy_options::recursive);
  fs::remove(dir.Join("configmap.yaml"));
  absl::StatusOr<SubprocessResult> broken = Kustomize(dir.path());
  ASSERT_TRUE(broken.ok());
  EXPECT_FALSE(broken->Succeeded());
  EXPECT_THAT(broken->stderr_data, ::testing::HasSubstr("configmap.yaml"));
}

TEST(KubernetesTest, KustomizationListsExistingFiles) {
  YAML::Node k = YAML::LoadFile(DeployDir() + "/kubernetes/kustomization.yaml");
  ASSERT_TRUE(k["resources"].IsSequence());
  for (const YAML::Node& r : k["resources"]) {
    EXPECT_TRUE(fs::exists(DeployDir() + "/kubernetes/" + Str(r))) << Str(r);
  }
}

TEST(KubernetesTest, CohortdIsOneReplicaStatefulSetWithVolumeServiceAndTls) {
  std::vector<Manifest> all = LoadManifests();
  const Manifest* sts = Find(all, "StatefulSet", "cohortd");
  ASSERT_NE(sts, nullptr);
  EXPECT_EQ(sts->node["spec"]["replicas"].as<int>(), 1) << "SQLite has one writer";
  YAML::Node container = OnlyContainer(*sts);
  std::map<std::string, std::string> flags = ArgFlags(container);
  for (const char* flag : {"--listen", "--state-dir", "--tls-cert", "--tls-key",
                           "--tls-client-ca", "--lease-seconds", "--heartbeat-seconds",
                           "--log-format"}) {
    EXPECT_TRUE(flags.count(flag)) << "cohortd args lack " << flag;
  }
  EXPECT_EQ(flags["--log-format"], "json");
  // The state folder is the volume claim template's mount.
  const YAML::Node claims = sts->node["spec"]["volumeClaimTemplates"];
  ASSERT_TRUE(claims && claims.size() == 1);
  std::string claim = Str(claims[0]["metadata"]["name"]);
  EXPECT_EQ(MountOf(container, claim), flags["--state-dir"]);
  EXPECT_FALSE(Str(claims[0]["spec"]["resources"]["requests"]["storage"]).empty());
  EXPECT_EQ(Str(claims[0]["spec"]["accessModes"][0]), "ReadWriteOnce");
  ExpectSecretFile(all, *sts, flags["--tls-cert"]);
  ExpectSecretFile(all, *sts, flags["--tls-key"]);
  ExpectSecretFile(all, *sts, flags["--tls-client-ca"]);
  // The Service selects the pods and targets the port cohortd listens on.
  const Manifest* svc = Find(all, "Service", "cohortd");
  ASSERT_NE(svc, nullptr);
  for (const auto& kv : svc->node["spec"]["selector"]) {
    EXPECT_EQ(Str(sts->node["spec"]["template"]["metadata"]["labels"][kv.first.as<std::string>()]),
              Str(kv.second));
  }
  std::string listen_port = flags["--listen"].substr(flags["--listen"].rfind(':') + 1);
  const YAML::Node port = svc->node["spec"]["ports"][0];
  std::string target = Str(port["targetPort"]);
  bool matched = false;
  for (const YAML::Node& p : container["ports"]) {
    if (Str(p["name"]) == target || Str(p["containerPort"]) == target) {
      EXPECT_EQ(Str(p["containerPort"]), listen_port);
      matched = true;
    }
  }
  EXPECT_TRUE(matched) << "Service targetPort " << target << " is no container port";
  EXPECT_EQ(sts->node["spec"]["serviceName"].as<std::string>(), "cohortd");
}

TEST(KubernetesTest, WorkersRequestGpusAndUseTlsAndTheWorkerToken) {
  std::vector<Manifest> all = LoadManifests();
  const Manifest* sts = Find(all, "StatefulSet", "cohort-worker");
  ASSERT_NE(sts, nullptr);
  YAML::Node container = OnlyContainer(*sts);
  EXPECT_EQ(Str(container["args"][0]), "run");
  for (const char* side : {"requests", "limits"}) {
    EXPECT_GE(container["resources"][side]["nvidia.com/gpu"].as<int>(0), 1)
        << "no nvidia.com/gpu " << side;
  }
  const YAML::Node pod = sts->node["spec"]["template"]["spec"];
  EXPECT_TRUE(pod["nodeSelector"] || pod["affinity"]) << "not pinned to GPU nodes";
  std::map<std::string, std::string> flags = ArgFlags(container);
  for (const char* flag : {"--coordinator", "--token-file", "--state-dir", "--worker-id",
                           "--artifact-listen", "--artifact-advertise-host", "--tls-ca",
                           "--tls-cert", "--tls-key", "--log-format"}) {
    EXPECT_TRUE(flags.count(flag)) << "worker args lack " << flag;
  }
  ExpectSecretFile(all, *sts, flags["--token-file"]);
  EXPECT_THAT(flags["--token-file"], ::testing::HasSubstr("worker"));
  for (const char* flag : {"--tls-ca", "--tls-cert", "--tls-key"}) {
    ExpectSecretFile(all, *sts, flags[flag]);
  }
  const YAML::Node claims = sts->node["spec"]["volumeClaimTemplates"];
  ASSERT_TRUE(claims && claims.size() == 1) << "the spool must outlive the pod";
  EXPECT_EQ(MountOf(container, Str(claims[0]["metadata"]["name"])), flags["--state-dir"]);
  // The advertised host is the pod's name under the headless Service.
  const Manifest* svc = Find(all, "Service", "cohort-worker");
  ASSERT_NE(svc, nullptr);
  EXPECT_EQ(Str(svc->node["spec"]["clusterIP"]), "None");
  EXPECT_THAT(flags["--artifact-advertise-host"],
              ::testing::HasSubstr("." + Str(sts->node["spec"]["serviceName"]) + "."));
  // Draining needs more grace than --drain-seconds.
  EXPECT_GT(pod["terminationGracePeriodSeconds"].as<double>(0),
            std::stod(flags["--drain-seconds"]));
}

// The Secret key a mounted file of `workload` comes from ("cohort-tls/ca.crt").
std::string SecretKeyOf(const Manifest& workload, const std::string& path) {
  YAML::Node container = OnlyContainer(workload);
  for (const YAML::Node& volume : workload.node["spec"]["template"]["spec"]["volumes"]) {
    if (!volume["secret"]) continue;
    std::string mount = MountOf(container, Str(volume["name"]));
    if (mount.empty() || !absl::StartsWith(path, mount + "/")) continue;
    for (const YAML::Node& item : volume["secret"]["items"]) {
      if (Str(item["path"]) == path.substr(mount.size() + 1)) {
        return Str(volume["secret"]["secretName"]) + "/" + Str(item["key"]);
      }
    }
  }
  return "";
}

// mTLS: cohortd requires client certificates signed by the same CA the
// workers verify cohortd with (so the workers' certificates pass), and the
// CLI's config presents one from the same Secret.
TEST(KubernetesTest, CohortdRequiresClientCertificatesItsClientsHave) {
  std::vector<Manifest> all = LoadManifests();
  const Manifest* cohortd = Find(all, "StatefulSet", "cohortd");
  const Manifest* worker = Find(all, "StatefulSet", "cohort-worker");
  ASSERT_NE(cohortd, nullptr);
  ASSERT_NE(worker, nullptr);
  std::map<std::string, std::string> server = ArgFlags(OnlyContainer(*cohortd));
  std::map<std::string, std::string> client = ArgFlags(OnlyContainer(*worker));
  std::string client_ca = SecretKeyOf(*cohortd, server["--tls-client-ca"]);
  EXPECT_EQ(client_ca, "cohort-tls/ca.crt");
  EXPECT_EQ(SecretKeyOf(*worker, client["--tls-ca"]), client_ca);
  EXPECT_EQ(SecretKeyOf(*worker, client["--tls-cert"]), "cohort-tls/worker.crt");
  const Manifest* config = Find(all, "ConfigMap", "cohort-config");
  ASSERT_NE(config, nullptr);
  YAML::Node cli = YAML::Load(Str(config->node["data"]["config.yaml"]));
  for (const char* key : {"coordinator", "token_file", "tls_ca", "tls_cert", "tls_key"}) {
    EXPECT_FALSE(Str(cli[key]).empty()) << "CLI config.yaml lacks " << key;
  }
  const Manifest* tls = Find(all, "Secret", "cohort-tls");
  ASSERT_NE(tls, nullptr);
  for (const char* key : {"client.crt", "client.key"}) {
    EXPECT_TRUE(tls->node["stringData"][key]) << "cohort-tls has no " << key;
    // The CLI's files are that Secret's keys mounted at /etc/cohort/tls.
    EXPECT_THAT(Str(cli[std::string("tls_") + (std::string(key) == "client.crt" ? "cert" : "key")]),
                ::testing::EndsWith(std::string("/") + key));
  }
}

TEST(KubernetesTest, EveryReferenceResolvesAndEveryContainerHasProbesAndResources) {
  std::vector<Manifest> all = LoadManifests();
  int workloads = 0;
  for (const Manifest& m : all) {
    if (Str(m.node["kind"]) != "StatefulSet" && Str(m.node["kind"]) != "Deployment") continue;
    ++workloads;
    SCOPED_TRACE(m.file + " " + Str(m.node["metadata"]["name"]));
    // Selector matches the template labels.
    for (const auto& kv : m.node["spec"]["selector"]["matchLabels"]) {
      EXPECT_EQ(Str(m.node["spec"]["template"]["metadata"]["labels"][kv.first.as<std::string>()]),
                Str(kv.second));
    }
    const YAML::Node pod = m.node["spec"]["template"]["spec"];
    std::set<std::string> volumes;
    for (const YAML::Node& v : pod["volumes"]) {
      volumes.insert(Str(v["name"]));
      if (v["secret"]) {
        EXPECT_NE(Find(all, "Secret", Str(v["secret"]["secretName"])), nullptr);
      }
    }
    for (const YAML::Node& c : m.node["spec"]["volumeClaimTemplates"]) {
      volumes.insert(Str(c["metadata"]["name"]));
    }
    for (const YAML::Node& container : pod["containers"]) {
      EXPECT_FALSE(Str(container["image"]).empty());
      for (const char* probe : {"readinessProbe", "livenessProbe"}) {
        EXPECT_TRUE(container[probe].IsMap()) << "no " << probe;
      }
      EXPECT_FALSE(Str(container["resources"]["requests"]["cpu"]).empty());
      EXPECT_FALSE(Str(container["resources"]["requests"]["memory"]).empty());
      EXPECT_FALSE(Str(container["resources"]["limits"]["memory"]).empty());
      for (const YAML::Node& mount : container["volumeMounts"]) {
        EXPECT_TRUE(volumes.count(Str(mount["name"]))) << "mount of unknown volume "
                                                       << Str(mount["name"]);
      }
      // Every probe's named port exists.
      std::set<std::string> ports;
      for (const YAML::Node& p : container["ports"]) ports.insert(Str(p["name"]));
      for (const char* probe : {"startupProbe", "readinessProbe", "livenessProbe"}) {
        if (!container[probe]) continue;
        std::string port = Str(container[probe]["tcpSocket"]["port"]);
        if (!port.empty()) {
          EXPECT_TRUE(ports.count(port)) << probe << " port " << port;
        }
      }
      // $(VAR) in args are env entries; configMapKeyRef / secretKeyRef resolve.
      std::set<std::string> env;
      for (const YAML::Node& e : container["env"]) {
        env.insert(Str(e["name"]));
        const YAML::Node from = e["valueFrom"];
        if (from && from["configMapKeyRef"]) {
          const Manifest* cm = Find(all, "ConfigMap", Str(from["configMapKeyRef"]["name"]));
          ASSERT_NE(cm, nullptr);
          EXPECT_TRUE(cm->node["data"][Str(from["configMapKeyRef"]["key"])])
              << "ConfigMap key " << Str(from["configMapKeyRef"]["key"]);
        }
        if (from && from["secretKeyRef"]) {
          const Manifest* s = Find(all, "Secret", Str(from["secretKeyRef"]["name"]));
          ASSERT_NE(s, nullptr);
          EXPECT_TRUE(s->node["stringData"][Str(from["secretKeyRef"]["key"])]);
        }
      }
      std::regex var(R"(\$\(([A-Z_][A-Z0-9_]*)\))");
      for (const YAML::Node& arg : container["args"]) {
        std::string text = Str(arg);
        for (std::sregex_iterator it(text.begin(), text.end(), var), end; it != end; ++it) {
          EXPECT_TRUE(env.count((*it)[1].str())) << "args use undefined $(" << (*it)[1] << ")";
        }
      }
    }
  }
  EXPECT_EQ(workloads, 2);
}

// --- systemd ----------------------------------------------------------------

using Unit = std::map<std::string, std::map<std::string, std::string>>;

Unit ParseUnit(const std::string& path) {
  Unit unit;
  std::string section, pending;
  std::istringstream in(Read(path));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::EndsWith(line, "\\")) {
      pending += line.substr(0, line.size() - 1) + " ";
      continue;
    }
    line = pending + line;
    pending.clear();
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text[0] == '#' || text[0] == ';') continue;
    if (text.front() == '[' && text.back() == ']') {
      section = std::string(text.substr(1, text.size() - 2));
      continue;
    }
    std::size_t eq = text.find('=');
    EXPECT_NE(eq, absl::string_view::npos) << path << ": bad line " << text;
    EXPECT_FALSE(section.empty()) << path << ": key outside a section";
    if (eq == absl::string_view::npos) continue;
    unit[section][std::string(absl::StripAsciiWhitespace(text.substr(0, eq)))] =
        std::string(absl::StripAsciiWhitespace(text.substr(eq + 1)));
  }
  return unit;
}

// "--flag" words of a command line.
std::set<std::string> CommandFlags(const std::string& command) {
  std::set<std::string> flags;
  for (absl::string_view word : absl::StrSplit(command, absl::ByAnyChar(" \t\n"),
                                               absl::SkipEmpty())) {
    if (!absl::StartsWith(word, "--")) continue;
    flags.insert(std::string(word.substr(0, word.find('='))));
  }
  return flags;
}

TEST(SystemdTest, UnitsHaveTheirSectionsRestartAndTls) {
  for (const char* name : {"cohortd.service", "cohort-worker.service"}) {
    SCOPED_TRACE(name);
    Unit unit = ParseUnit(DeployDir() + "/systemd/" + name);
    EXPECT_FALSE(unit["Unit"]["Description"].empty());
    EXPECT_EQ(unit["Unit"]["After"], "network-online.target");
    EXPECT_EQ(unit["Service"]["Restart"], "always");
    EXPECT_EQ(unit["Service"]["User"], "cohort");
    EXPECT_EQ(unit["Service"]["KillSignal"], "SIGTERM");
    EXPECT_EQ(unit["Install"]["WantedBy"], "multi-user.target");
    EXPECT_FALSE(unit["Service"]["EnvironmentFile"].empty());
    std::string exec = unit["Service"]["ExecStart"];
    ASSERT_FALSE(exec.empty());
    EXPECT_TRUE(absl::StartsWith(exec, "/")) << "systemd wants an absolute ExecStart";
    std::set<std::string> flags = CommandFlags(exec);
    EXPECT_TRUE(flags.count("--tls-cert") && flags.count("--tls-key")) << exec;
    EXPECT_TRUE(flags.count("--state-dir"));
    EXPECT_TRUE(flags.count("--log-format"));
    // Every ${VAR} of ExecStart is set in the shipped environment file.
    std::string env_file = absl::StrContains(name, "worker") ? "worker.env" : "cohortd.env";
    std::string env = Read(DeployDir() + "/systemd/" + env_file);
    std::regex var(R"(\$\{([A-Z_][A-Z0-9_]*)\})");
    for (std::sregex_iterator it(exec.begin(), exec.end(), var), end; it != end; ++it) {
      EXPECT_TRUE(absl::StrContains(env, (*it)[1].str() + "="))
          << env_file << " does not set " << (*it)[1];
    }
  }
  Unit worker = ParseUnit(DeployDir() + "/systemd/cohort-worker.service");
  EXPECT_TRUE(CommandFlags(worker["Service"]["ExecStart"]).count("--tls-ca"));
  // mTLS: cohortd requires client certificates signed by the CA the workers
  // verify it with; the workers present theirs.
  Unit coordinator = ParseUnit(DeployDir() + "/systemd/cohortd.service");
  std::smatch ca;
  std::string server_exec = coordinator["Service"]["ExecStart"];
  std::string worker_exec = worker["Service"]["ExecStart"];
  ASSERT_TRUE(std::regex_search(server_exec, ca, std::regex(R"(--tls-client-ca[ =](\S+))")))
      << server_exec;
  EXPECT_THAT(worker_exec, ::testing::HasSubstr("--tls-ca " + ca[1].str()));
  EXPECT_TRUE(CommandFlags(worker_exec).count("--tls-cert"));
  // Stopping waits for the drain.
  double drain = 0;
  std::smatch m;
  std::string exec = worker["Service"]["ExecStart"];
  ASSERT_TRUE(std::regex_search(exec, m, std::regex(R"(--drain-seconds[ =](\d+))")));
  drain = std::stod(m[1]);
  EXPECT_GT(std::stod(worker["Service"]["TimeoutStopSec"]), drain);
}

// systemd's own parser: `systemd-analyze verify` loads each unit as systemd
// would (unknown directives, bad values, a missing or non-executable
// ExecStart binary). The units are copied with ExecStart pointing at the
// built binaries; a unit with a misspelt directive must be refused, so the
// check is known to bite.
absl::StatusOr<SubprocessResult> VerifyUnits(const std::vector<std::string>& paths) {
  SubprocessOptions options;
  options.argv = {"systemd-analyze", "verify", "--man=no", "--generators=no"};
  options.argv.insert(options.argv.end(), paths.begin(), paths.end());
  options.timeout = absl::Minutes(1);
  return RunSubprocess(options);
}

TEST(SystemdTest, SystemdAnalyzeVerifiesTheUnits) {
  cohort::testing::TempDir dir;
  std::vector<std::string> units;
  for (const char* name : {"cohortd.service", "cohort-worker.service"}) {
    std::string text = Read(DeployDir() + "/systemd/" + name);
    text = std::regex_replace(text, std::regex("/usr/local/bin/"), std::string(COHORT_BIN_DIR) + "/");
    units.push_back(dir.Join(name));
    std::ofstream(units.back()) << text;
  }
  absl::StatusOr<SubprocessResult> ok = VerifyUnits(units);
  ASSERT_TRUE(ok.ok()) << ok.status() << " (Debian package systemd)";
  EXPECT_TRUE(ok->Succeeded()) << ok->Describe();
  EXPECT_EQ(ok->stderr_data + ok->stdout_data, "");

  std::string broken = Read(units[0]);
  broken = std::regex_replace(broken, std::regex("Restart=always"), "Restart=allways\nRestartSecs=5");
  std::ofstream(dir.Join("broken.service")) << broken;
  absl::StatusOr<SubprocessResult> bad = VerifyUnits({dir.Join("broken.service")});
  ASSERT_TRUE(bad.ok());
  EXPECT_THAT(bad->stderr_data, ::testing::HasSubstr("RestartSecs"));
  EXPECT_THAT(bad->stderr_data, ::testing::HasSubstr("allways"));
}

// --- Slurm ------------------------------------------------------------------

TEST(SlurmTest, BatchScriptIsAnArrayJobWithGpuGresAndValidBash) {
  std::string path = DeployDir() + "/slurm/cohort-worker.sbatch";
  std::string text = Read(path);
  std::map<std::string, std::string> sbatch;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, "#SBATCH ")) continue;
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    sbatch[kv.first] = kv.second;
  }
  EXPECT_THAT(sbatch["--array"], ::testing::MatchesRegex("[0-9]+-[0-9]+(%[0-9]+)?"));
  EXPECT_THAT(sbatch["--gres"], ::testing::StartsWith("gpu"));
  EXPECT_THAT(sbatch["--signal"], ::testing::StartsWith("B:TERM@"));
  EXPECT_TRUE(sbatch.count("--requeue"));
  EXPECT_TRUE(absl::StartsWith(text, "#!/usr/bin/env bash\n"));
  std::set<std::string> flags = CommandFlags(text.substr(text.rfind("\nexec ")));
  for (const char* flag : {"--coordinator", "--token-file", "--state-dir", "--worker-id",
                           "--tls-ca", "--tls-cert", "--tls-key", "--artifact-listen"}) {
    EXPECT_TRUE(flags.count(flag)) << flag;
  }
  EXPECT_THAT(text, ::testing::HasSubstr("SLURM_ARRAY_TASK_ID"));
  SubprocessOptions options;
  options.argv = {"bash", "-n", path};
  absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->Succeeded()) << r->Describe();
}

// --- Dockerfiles ------------------------------------------------------------

TEST(DockerTest, CoordinatorAndWorkerImages) {
  std::string coordinator = Read(DeployDir() + "/docker/cohortd.Dockerfile");
  std::string worker = Read(DeployDir() + "/docker/cohort-worker.Dockerfile");
  for (const std::string* file : {&coordinator, &worker}) {
    EXPECT_THAT(*file, ::testing::HasSubstr("FROM debian:12 AS build"));
    EXPECT_THAT(*file, ::testing::HasSubstr("deploy/install-deps.sh"));
    EXPECT_THAT(*file, ::testing::ContainsRegex("\nUSER cohort\n"));
    EXPECT_THAT(*file, ::testing::ContainsRegex("\nENTRYPOINT \\[\"/usr/local/bin/cohort"));
  }
  EXPECT_THAT(coordinator, ::testing::HasSubstr("--tls-cert"));
  EXPECT_THAT(coordinator, ::testing::HasSubstr("\"--tls-client-ca\""));
  // The worker image builds llama.cpp for CUDA in its own stage.
  EXPECT_THAT(worker, ::testing::ContainsRegex("FROM nvidia/cuda:[^ ]*-devel[^ ]* AS llama"));
  EXPECT_THAT(worker, ::testing::HasSubstr("-DGGML_CUDA=ON"));
  EXPECT_THAT(worker, ::testing::HasSubstr("COPY --from=llama /opt/llama.cpp"));
  for (const char* tool : {"llama-server", "llama-quantize", "llama-imatrix",
                           "convert_hf_to_gguf.py"}) {
    EXPECT_THAT(worker, ::testing::HasSubstr(tool));
  }
}

// --- Flags against the binaries ---------------------------------------------

std::set<std::string> HelpFlags(std::vector<std::string> argv) {
  SubprocessOptions options;
  options.argv = std::move(argv);
  absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
  EXPECT_TRUE(r.ok() && r->Succeeded()) << (r.ok() ? r->Describe() : r.status().ToString());
  std::set<std::string> flags;
  if (!r.ok()) return flags;
  std::regex flag(R"(--[a-z0-9][a-z0-9-]*)");
  for (std::sregex_iterator it(r->stdout_data.begin(), r->stdout_data.end(), flag), end;
       it != end; ++it) {
    flags.insert(it->str());
  }
  return flags;
}

struct UsedFlags {
  std::map<std::string, std::set<std::string>> cohortd, worker;  // flag -> files
};

UsedFlags CollectUsedFlags() {
  UsedFlags used;
  for (const Manifest& m : LoadManifests()) {
    if (Str(m.node["kind"]) != "StatefulSet") continue;
    YAML::Node container = OnlyContainer(m);
    bool is_worker = Str(container["args"][0]) == "run";
    for (const auto& [flag, value] : ArgFlags(container)) {
      (is_worker ? used.worker : used.cohortd)[flag].insert(m.file);
    }
  }
  for (const char* name : {"cohortd.service", "cohort-worker.service"}) {
    Unit unit = ParseUnit(DeployDir() + "/systemd/" + name);
    bool is_worker = absl::StrContains(name, "worker");
    for (const std::string& flag : CommandFlags(unit["Service"]["ExecStart"])) {
      (is_worker ? used.worker : used.cohortd)[flag].insert(name);
    }
  }
  std::string sbatch = Read(DeployDir() + "/slurm/cohort-worker.sbatch");
  for (const std::string& flag : CommandFlags(sbatch.substr(sbatch.rfind("\nexec ")))) {
    used.worker[flag].insert("cohort-worker.sbatch");
  }
  return used;
}

TEST(FlagsTest, EveryFlagInTheDeployFilesExists) {
  std::set<std::string> cohortd = HelpFlags({COHORT_BIN_DIR "/cohortd", "--help"});
  std::set<std::string> worker = HelpFlags({COHORT_BIN_DIR "/cohort-worker", "run", "--help"});
  ASSERT_TRUE(cohortd.count("--tls-cert"));
  ASSERT_TRUE(worker.count("--coordinator"));
  UsedFlags used = CollectUsedFlags();
  ASSERT_GE(used.cohortd.size(), 6u);
  ASSERT_GE(used.worker.size(), 8u);
  for (const auto& [flag, files] : used.cohortd) {
    EXPECT_TRUE(cohortd.count(flag)) << "cohortd has no " << flag << " (used in "
                                     << *files.begin() << ")";
  }
  for (const auto& [flag, files] : used.worker) {
    EXPECT_TRUE(worker.count(flag))
        << "cohort-worker run has no " << flag << " (used in " << *files.begin() << ")";
  }
}

TEST(FlagsTest, EveryListenerHasTls) {
  UsedFlags used = CollectUsedFlags();
  // Each file that starts cohortd gives it a certificate and key; each file
  // that starts a worker (which serves artifacts) gives it CA, cert and key.
  for (const auto& [flag, files] : used.cohortd) {
    if (flag != "--listen") continue;
    for (const std::string& f : files) {
      EXPECT_TRUE(used.cohortd["--tls-cert"].count(f) && used.cohortd["--tls-key"].count(f))
          << f;
      EXPECT_TRUE(used.cohortd["--tls-client-ca"].count(f)) << f << " does not require mTLS";
    }
  }
  for (const std::string& f : used.worker["--coordinator"]) {
    for (const char* flag : {"--tls-ca", "--tls-cert", "--tls-key"}) {
      EXPECT_TRUE(used.worker[flag].count(f)) << f << " lacks " << flag;
    }
  }
}

}  // namespace
}  // namespace cohort

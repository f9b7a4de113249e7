// File: toolchains.h
//
// The interpreters and compilers the code benches run, at pinned absolute
// paths (never looked up on PATH: on a developer machine PATH often puts a
// pyenv shim or rustup first):
//   python3  /usr/bin/python3  (Debian's)
//   rustc    /usr/bin/rustc    (Debian's 1.63, not rustup's)
//   javac    /usr/bin/javac, java /usr/bin/java (run with -ea)
//   node     /usr/bin/node
// plus the javatuples jar MultiPL-E's Java tests import
// (/usr/share/java/javatuples.jar, Debian libjavatuples-java). Each
// verdict records the path and version it used; DetectToolchains() is what
// a worker reports as its capabilities.
#ifndef COHORT_WORKER_SANDBOX_TOOLCHAINS_H_
#define COHORT_WORKER_SANDBOX_TOOLCHAINS_H_

#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace cohort::worker::sandbox {

struct Toolchain {
  std::string name;     // "python3", "rustc", "javac", "java", "node"
  std::string path;     // the pinned absolute path
  std::string version;  // first line of its version output; "" if absent
  bool present = false;
};

inline constexpr char kPython[] = "/usr/bin/python3";
inline constexpr char kRustc[] = "/usr/bin/rustc";
inline constexpr char kJavac[] = "/usr/bin/javac";
inline constexpr char kJava[] = "/usr/bin/java";
inline constexpr char kNode[] = "/usr/bin/node";
inline constexpr char kJavatuplesJar[] = "/usr/share/java/javatuples.jar";

// Every known toolchain, present or not, probed once (cached; thread-safe).
const std::vector<Toolchain>& DetectToolchains();

// The entry for `name`; a non-present placeholder for an unknown name.
Toolchain FindToolchain(const std::string& name);

// {"path": ..., "version": ...}: the pin recorded in each verdict.
nlohmann::json ToolchainPin(const Toolchain& toolchain);

// Host paths a JVM needs beside /usr (its /etc configuration, reached
// through /etc/alternatives symlinks), bound read-only into the sandbox.
std::vector<std::string> JavaReadOnlyPaths();

}  // namespace cohort::worker::sandbox

#endif  // COHORT_WORKER_SANDBOX_TOOLCHAINS_H_

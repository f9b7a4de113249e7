// cohort: the researcher's command line. Wiring only.
#include <string>

#include "CLI/CLI.hpp"
#include "common/version.h"

int main(int argc, char** argv) {
  CLI::App app{
      "cohort: submit, watch, resume and report prune-and-eval sweeps of "
      "Mixture-of-Experts models run by a cohortd coordinator."};
  app.set_version_flag("--version", std::string("cohort ") + COHORT_VERSION);
  std::string coordinator = "127.0.0.1:7400";
  app.add_option("--coordinator", coordinator,
                 "cohortd address (env COHORT_COORDINATOR)")
      ->envname("COHORT_COORDINATOR")
      ->capture_default_str();
  app.require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return 0;
}

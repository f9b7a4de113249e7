// cohort: the researcher's command line. Wiring only; the commands live in
// client/cli.
#include "client/cli/app.h"

int main(int argc, char** argv) { return cohort::client::RunCli(argc, argv); }

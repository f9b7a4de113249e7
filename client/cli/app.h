// File: app.h
//
// The `cohort` command line: every subcommand, its flags and --help, wired
// to the Run* functions of commands.h.
#ifndef COHORT_CLIENT_CLI_APP_H_
#define COHORT_CLIENT_CLI_APP_H_

namespace cohort::client {

// Parses argv and runs the chosen command; returns the exit code (2 for a
// usage error).
int RunCli(int argc, char** argv);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_CLI_APP_H_

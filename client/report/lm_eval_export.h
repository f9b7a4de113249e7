// File: lm_eval_export.h
//
// `cohort export`: a campaign's scored results as the files lm-eval writes
// with --output_path --log_samples, one folder per model:
//
//   <model>/results_<date>.json              lm-eval's aggregated layout
//   <model>/samples_<task>_<date>.jsonl      one record per scored problem
//
// Each sample is rebuilt from the suite's dataset and protocol profile
// (worker/eval/lm_eval.h: the doc as the Hugging Face dataset has it, the
// target, the request's chat messages and lm-eval's three hashes) plus what
// the worker stored (the scored response, the extracted answer, the
// verdict), with cohort's own fields under "cohort". The rebuilt request is
// checked against the stored prompt digest: a row generated from another
// rendering is reported, not silently relabelled.
#ifndef COHORT_CLIENT_REPORT_LM_EVAL_EXPORT_H_
#define COHORT_CLIENT_REPORT_LM_EVAL_EXPORT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/report/report.h"
#include "worker/eval/profile.h"

namespace cohort::client::report {

// Where a suite's documents come from.
struct LmEvalSuite {
  std::string bench;
  worker::eval::BenchSettings settings;  // the profile's, fewshot_path set
  std::string dataset_path;
  std::string dataset_digest;  // "sha256:<hex>"; checked when not empty
};

struct LmEvalRun {
  std::string campaign;
  std::string profile_name;
  std::string date_id;  // lm-eval's file stamp: ISO time with ':' as '-'
  double date = 0;      // seconds since the epoch
};

struct ExportFile {
  std::string relative_path;
  std::string contents;
};

struct LmEvalExport {
  std::vector<ExportFile> files;
  // Rows whose stored prompt digest differs from the rebuilt request, per
  // model and suite ("q8 gsm8k-3: 2 of 3 ..."); the rows are still written.
  std::vector<std::string> warnings;
};

// kNotFound naming the suite and file when a dataset is missing,
// kFailedPrecondition when its digest is not the campaign's.
absl::StatusOr<LmEvalExport> BuildLmEvalExport(
    const std::vector<Row>& rows, const std::map<std::string, LmEvalSuite>& suites,
    const LmEvalRun& run);

// A name safe as one path component: [A-Za-z0-9._-], others as '_'.
std::string SafeFileName(std::string name);

}  // namespace cohort::client::report

#endif  // COHORT_CLIENT_REPORT_LM_EVAL_EXPORT_H_

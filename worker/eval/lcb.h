// File: lcb.h
//
// LiveCodeBench code generation (HF livecodebench/code_generation_lite, files
// test.jsonl ... test6.jsonl in their published schema; no data ships with
// cohort). Problem id `lcb/<platform>/<question_id>` (the protocol's task id;
// LCB-medium-55 = the first 55 ids of lcb_medium_100_taskids.json: the
// profile's `task_ids` file and `first` select those problems, in the list's
// order, and an id missing from the dataset is an error naming it). Prompt
// `lcb_omk_instruct_v1` (docs/protocol.md 2.9). Extractor `lcb_last_fence`: the
// lines strictly between the last two lines that contain ``` (fewer than two:
// no code, the problem fails). Grading follows LCB's testing_util
// (docs/protocol.md 2.9): public then private tests; call-based
// (metadata.func_name; `class Solution` instantiated, one JSON value per input
// line, tuple -> list, ==) or stdin/stdout (the program wrapped into a
// function, stdin mocked, lines stripped and compared exactly or as Decimals);
// 6 s per test as CPU time; the first failure stops. Result codes: True, -2
// wrong answer, -3 time limit, -4 runtime/compile error, -1 the whole process
// died.
//
// private_test_cases is a JSON string, or base64 -> zlib -> JSON, or
// base64 -> zlib -> pickle -> JSON. The pickle is never run: a restricted
// decoder accepts only the opcodes that build one plain str (PROTO, FRAME,
// the unicode opcodes, MEMOIZE/PUT, STOP) and refuses everything else.
#ifndef COHORT_WORKER_EVAL_LCB_H_
#define COHORT_WORKER_EVAL_LCB_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "worker/eval/bench.h"

namespace cohort::worker::eval {

inline constexpr char kLcbScorerVersion[] = "lcb-testing-util-2";

absl::StatusOr<std::vector<Problem>> LoadLcb(const std::string& path,
                                             const BenchSettings& settings);
Verdict ScoreLcb(const Problem& problem, absl::string_view completion,
                 const BenchSettings& settings);

// The str a pickle holds; kInvalidArgument for any other pickle.
absl::StatusOr<std::string> DecodePickledString(absl::string_view pickle);

// The test list of a private_test_cases field (see the file comment).
absl::StatusOr<nlohmann::json> DecodePrivateTests(const std::string& field);

// LCB's extraction rule; sets *found to false when there are < 2 fences.
std::string LcbExtractCode(absl::string_view completion, bool* found);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_LCB_H_

#!/usr/bin/python3
"""Mutation check of the pure cores: does a plausible bug make a test fail?

Each mutant below is one small edit of production code (a flipped bound, a
dropped condition, a wrong operator) that a real bug could be. For each, the
runner applies it, rebuilds the test target that covers that code, runs the
named tests, and restores the file. A mutant is *killed* when a test fails,
*survived* when every test passes (a gap: a test should be written), and
*not built* when the edit does not compile (not counted). The score is
killed / (killed + survived).

  bash tests/mutation/run.sh            # all mutants (README; ~10 min on 2 cores)
  python3 tests/mutation/mutate.py --build build -k gguf   # those whose id contains "gguf"

Files are always restored, and the touched targets rebuilt from the clean
sources at the end. A mutant whose `old` text no longer occurs exactly once
is reported as stale (the code moved on): update the list.
"""

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# id, file, old, new, build target, ctest regex
MUTANTS = [
    ("dropmap-weight-op", "worker/prune/dropmap_score.cc",
     "x[c] = r[c] * weights[c];", "x[c] = r[c] + weights[c];",
     "worker_prune_test", "DropMap|Dropmap"),
    ("expert-id-bound", "worker/prune/expert_drop_plan.cc",
     "if (id < 0 || id >= experts) {", "if (id < 0 || id > experts) {",
     "worker_prune_test", "Prune|LayoutDrop|ExpertDrop|DropMap"),
    ("gguf-array-depth", "worker/quant/gguf_reader.cc",
     "if (depth >= kMaxArrayDepth) {", "if (depth > kMaxArrayDepth + 8) {",
     "worker_quant_test", "Gguf"),
    ("gguf-count-bound", "worker/quant/gguf_reader.cc",
     "if (count > in.remaining() / min_size) {", "if (count > in.remaining() * min_size) {",
     "worker_quant_test", "Gguf"),
    ("utf8-space-class", "worker/eval/text_util.cc",
     "if (cp == ' ' || (cp >= '\\t' && cp <= '\\r')) return true;",
     "if (cp == ' ') return true;",
     "worker_eval_test", "TextUtil|Gsm8k|IfEval|Ifeval"),
    ("gsm8k-fewshot-short", "worker/eval/gsm8k.cc",
     "if (static_cast<int>(train.size()) < settings.num_fewshot) {",
     "if (static_cast<int>(train.size()) < 0) {",
     "worker_eval_test", "Gsm8k"),
    ("retry-503", "worker/llama/errors.cc",
     "http_status == 429 || http_status == 502 || http_status == 503 || http_status == 504",
     "http_status == 429 || http_status == 502 || http_status == 504",
     "worker_llama_test", "Errors|Driver"),
    ("json-depth", "common/canonical_json.cc",
     "if (++depth > max_depth) {", "if (++depth > max_depth + 1) {",
     "common_test", "Json|Canonical"),
    ("step-key-inputs", "server/jobgraph/plan.cc",
     "      COHORT_RETURN_IF_ERROR(AppendJsonString(in.source_step_key, &doc));\n",
     "      COHORT_RETURN_IF_ERROR(AppendJsonString(\"\", &doc));\n",
     "server_jobgraph_test", "Plan"),
    ("lifecycle-one-attempt-more", "server/jobgraph/lifecycle.cc",
     "const bool attempts_left = facts.attempts < facts.max_attempts;",
     "const bool attempts_left = facts.attempts <= facts.max_attempts;",
     "server_jobgraph_test", "Lifecycle"),
    ("lifecycle-retry-bad-input", "server/jobgraph/lifecycle.cc",
     "      return IsRetryable(facts.code) && attempts_left;",
     "      return attempts_left;",
     "server_jobgraph_test", "Lifecycle"),
    ("lifecycle-cancelled-parent", "server/jobgraph/lifecycle.h",
     "inline constexpr StepState kFailedLikeStates[] = {StepState::kFailed, StepState::kBlocked,\n"
     "                                                  StepState::kCancelled};",
     "inline constexpr StepState kFailedLikeStates[] = {StepState::kFailed, StepState::kBlocked,\n"
     "                                                  StepState::kFailed};",
     "server_jobgraph_test", "Lifecycle"),
    ("lifecycle-expiry-fails", "server/jobgraph/lifecycle.cc",
     "    {S::kLeased, E::kLeaseExpired, Guard::kAttemptsLeft, S::kReady},",
     "    {S::kLeased, E::kLeaseExpired, Guard::kAttemptsLeft, S::kFailed},",
     "server_jobgraph_test", "Lifecycle"),
    ("step-key-dup-name", "server/jobgraph/plan.cc",
     "if (i + 1 < sorted.size() && sorted[i + 1]->name == in.name) continue;",
     "if (false) continue;",
     "server_jobgraph_test", "Plan"),
    ("synth-high-bytes", "worker/prune/synth_tokenizer.cc",
     "for (int byte = 0x80; byte < 0x100; ++byte) b.Add(BytePiece(byte), Kind::kByte);",
     "for (int byte = 0x80; byte < 0xFF; ++byte) b.Add(BytePiece(byte), Kind::kByte);",
     "worker_prune_test", "Synth"),
    ("synth-silent-rows", "worker/prune/synth_model.cc",
     "if (from < to) std::memset(chunk.data() + (from - done), 0, to - from);",
     "(void)from; (void)to;",
     "worker_prune_test", "Synth"),
    ("slots-busy-only", "worker/llama/generation_progress.cc",
     "if (!slot.is_object() || !slot.value(\"is_processing\", false)) continue;",
     "if (!slot.is_object()) continue;",
     "worker_llama_test", "GenerationProgress"),
    ("probe-help-exit", "worker/exec/converter_probe.cc",
     "probe.usable = run.ok() && run->Succeeded();", "probe.usable = run.ok();",
     "worker_exec_test", "ConverterProbe"),
    ("bench-progress-bound", "worker/exec/tool_executor.cc",
     "!absl::SimpleAtoi(line.substr(slash + 1, space - slash - 1), &total) || done > total) {",
     "!absl::SimpleAtoi(line.substr(slash + 1, space - slash - 1), &total)) {",
     "worker_exec_test", "ToolProgress"),
    ("server-error-share", "worker/llama/bench_run.cc",
     "double limit = options.max_server_error_share >= 0 ? options.max_server_error_share",
     "double limit = options.max_server_error_share >= 0 ? 1.0",
     "worker_llama_test", "BenchRun"),
    # A suite's length rows in one cluster (schema 14).
    ("lengths-no-cluster", "server/store/store_results.cc",
     '"ON ls.suite = cs.suite WHERE cs.step_id = ?1), 0)) RETURNING cluster");',
     '"ON ls.suite = cs.suite WHERE cs.step_id = ?1 AND 0), 0)) RETURNING cluster");',
     "server_store_test", "Store"),
    # The score summary as a type (worker/eval/summary.cc) and the gate on it.
    ("gate-saturated-of-n", "worker/exec/gate.cc",
     "static_cast<double>(budget.at_or_over)", "static_cast<double>(summary.n)",
     "worker_exec_test", "Gate"),
    ("summary-drops-a-field", "worker/eval/summary.cc",
     'COHORT_RETURN_IF_ERROR(b.Int("at_or_over", &out->budget.at_or_over));',
     "(void)b;",
     "worker_eval_test", "Summary"),
    ("summary-share-of-saturated", "worker/eval/summary.cc",
     "out.budget.share_saturated_and_failed = Share(saturated_failed, at_budget);",
     "out.budget.share_saturated_and_failed = Share(saturated_failed, static_cast<int64_t>(results.size()));",
     "worker_eval_test", "Summary|Score"),
    # Whose TLS handshake cohortd refused (server/service/handshake_witness.cc).
    ("witness-accepted-after-line", "server/service/handshake_witness.cc",
     "(taken[i] || closed[i].accepted > failure.at)", "(taken[i])",
     "server_service_test", "HandshakeWitness"),
    ("witness-called-blamed", "server/service/handshake_witness.cc",
     "  watched_.erase(absl::StrReplaceAll(", "  (void)(absl::StrReplaceAll(",
     "server_service_test", "HandshakeWitness"),
    ("client-cert-any-purpose", "common/tls_inspect.cc",
     '  X509_STORE_CTX_set_default(verify.get(), "ssl_client");\n', "",
     "common_test", "ClientCertificate"),
    ("client-cert-no-security-level", "common/tls_inspect.cc",
     "  X509_VERIFY_PARAM_set_auth_level(param, TlsSecurityLevel());\n", "",
     "common_test", "ClientCertificate"),
    ("client-cert-clock-time", "common/tls_inspect.cc",
     "X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(now));",
     "X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(absl::Now() + (now - now)));",
     "common_test", "ClientCertificate"),
    ("result-row-drops-passed", "worker/eval/result.cc",
     'flags[] = {{"passed", &r.passed},', "flags[] = {",
     "worker_eval_test", "Score"),
    # Per-layer quant maps (worker/quant/quant_plan.cc, cohort-worker quantmap).
    ("quantplan-any-rank-governed", "worker/quant/quant_plan.cc",
     "if (tensor.dims.size() != (expert ? 3u : 2u)) {", "if (expert && tensor.dims.size() != 3u) {",
     "worker_quant_test", "QuantPlan"),
    ("quantplan-dropped-count", "worker/quant/quant_plan.cc",
     "if (kept[l][e]) kept_mass[l] += m;", "kept_mass[l] += m;",
     "worker_quant_test", "QuantPlan"),
    ("quantplan-class-share", "worker/quant/quant_plan.cc",
     "class_weights[c] * (kept_mass[l] / total);", "class_weights[c] * kept_mass[l];",
     "worker_quant_test", "QuantPlan"),
    ("quantplan-over-budget", "worker/quant/quant_plan.cc",
     "if (bits + cost > budget) continue;", "(void)budget;",
     "worker_quant_test", "QuantPlan"),
    ("quantplan-loose-rule", "worker/quant/quant_plan.cc",
     '"^blk\\\\.", choice.tensors.layer, "\\\\.", names,', '"blk\\\\.", choice.tensors.layer, names,',
     "worker_quant_test", "QuantPlan"),
    ("quantmap-expert-check", "worker/tools/quantmap_command.cc",
     "if (layer.experts != kept) {", "if (false) {",
     "worker_tools_test", "QuantmapCommand"),
    # vLLM 0.11.1 sends the reasoning twice; it must be read once.
    ("vllm-reasoning-twice", "worker/llama/api.cc",
     'for (const char* key : {"content", has_legacy ? "reasoning_content" : "reasoning"}) {',
     'for (const char* key : {"content", has_legacy ? "reasoning_content" : "reasoning", "reasoning"}) {',
     "worker_llama_test", "Vllm"),
    # The four bugs issue 22 planted and saw survive, and bf16 ties.
    ("compare-no-losses", "client/report/report.cc",
     "if (!pa && pb) f.losses.push_back(id);", "if (false) f.losses.push_back(id);",
     "client_report_test", "Compare|Report"),
    ("math-tolerance-loose", "worker/eval/math_expr.cc",
     "return std::abs(a - b) <= (loose ? 1e-6 : 1e-9) * scale;",
     "return std::abs(a - b) <= (loose ? 1e-3 : 1e-3) * scale;",
     "worker_eval_test", "Math|Equivalent"),
    ("lease-stale-results", "server/store/store_leases.cc",
     "  if (!step.has_value() || step->state != StepState::kLeased ||\n"
     "      step->lease_epoch != lease.epoch) {",
     "  if (!step.has_value()) {",
     "server_store_test", "Store|Lease"),
    ("bf16-ties-away", "worker/prune/bf16.h",
     "u += 0x7FFFu + ((u >> 16) & 1u);", "u += 0x8000u;",
     "worker_prune_test", "Bf16|Upweight"),
    # This session: a TLS refusal gRPC makes by closing, vLLM's settings
    # allow-list and context, the API key on every llama-server request.
    ("tls-close-not-named", "common/tls_inspect.cc",
     "        reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {\n"
     "      return ClosedAfterHandshake(probe);\n    }\n  }\n  return \"\";",
     "        reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {\n"
     "      return \"\";\n    }\n  }\n  return \"\";",
     "tls_integration_test", "TlsIntegrationTest"),
    ("vllm-value-flag", "common/vllm_options.cc",
     "if (text.empty() || text.size() > 64 || text[0] == '-') return false;",
     "if (text.empty() || text.size() > 64) return false;",
     "common_test", "VllmSettings"),
    ("vllm-context-total", "worker/llama/server_args.cc",
     '"--max-model-len", absl::StrCat(args.ctx_size / args.parallel),',
     '"--max-model-len", absl::StrCat(args.ctx_size),',
     "worker_llama_test", "ServerArgs|Vllm"),
    ("props-without-key", "worker/llama/supervisor.cc",
     'FetchOk(absl::StrCat(base_url, "/props"), "", headers));',
     'FetchOk(absl::StrCat(base_url, "/props"), "",\n'
     '                                  headers.empty() ? headers : std::vector<std::string>{}));',
     "worker_llama_test", "ApiKey"),
    # A rotation caught half done must not be served.
    ("tls-half-rotation", "server/service/served_certificates.cc",
     "  COHORT_RETURN_IF_ERROR(CheckKeyMatchesCertificatePem(cert, key, sources_.cert, sources_.key));\n",
     "",
     "server_service_test", "ServedCertificates"),
    # A damaged spool row must not be sent half-parsed.
    ("outbox-half-parsed", "worker/agent/outbox.cc",
     "parsed = batch.ParseFromString(entry.payload);",
     "batch.ParseFromString(entry.payload);\n    parsed = true;",
     "worker_agent_test", "Outbox"),
]


def run(cmd, timeout=900, env=None):
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def run_tests(build_dir, target, tests):
    """The mutated target's own binary, filtered to the named tests. Only
    that binary: another target may still hold an earlier mutant (targets are
    rebuilt clean at the end), and ctest -R would run its tests too and
    credit that mutant's failure to this one. Returns (ran, failed names)."""
    binary = Path(build_dir) / "tests" / target
    if not binary.is_absolute():
        binary = ROOT / binary
    gtest_filter = ":".join(f"*{part}*" for part in tests.split("|"))
    env = dict(os.environ, COHORT_SOURCE_DIR=str(ROOT))
    try:
        r = run([str(binary), f"--gtest_filter={gtest_filter}"], timeout=300, env=env)
    except subprocess.TimeoutExpired:
        return True, ["(timed out)"]
    ran = not re.search(r"\[=+\] 0 tests from", r.stdout)
    # "[  FAILED  ] Suite.Name (5 ms)", "[  FAILED  ] P/Suite.Name/0, where
    # GetParam() = ...", not the "[  FAILED  ] 2 tests, listed below" summary.
    failed = re.findall(r"^\[  FAILED  \] ([A-Za-z_][\w/.]*)", r.stdout, re.M)
    if r.returncode != 0 and not failed:
        failed = [f"(exit {r.returncode})"]
    return ran, failed


def build(build_dir, target):
    return run(["cmake", "--build", build_dir, "--target", target, "--", "-j2"]).returncode == 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default="build", help="a configured build folder")
    p.add_argument("-k", action="append", default=[],
                   help="only mutants whose id contains this (repeatable: any of them)")
    args = p.parse_args()
    chosen = [m for m in MUTANTS if not args.k or any(k in m[0] for k in args.k)]
    results = []
    touched = set()
    start = time.monotonic()
    for mid, rel, old, new, target, tests in chosen:
        path = ROOT / rel
        text = path.read_text()
        if text.count(old) != 1:
            results.append((mid, "stale", f"{rel}: the text occurs {text.count(old)} times"))
            print(f"{'stale':>9}  {mid}: {results[-1][2]}", flush=True)
            continue
        touched.add(target)
        try:
            path.write_text(text.replace(old, new, 1))
            if not build(args.build, target):
                results.append((mid, "not built", f"{rel} (fix the mutant)"))
                continue
            ran, failed = run_tests(args.build, target, tests)
            if not ran:
                results.append((mid, "stale", f"no test of {target} matches {tests}"))
            elif failed:
                results.append((mid, "killed", f"by {failed[0]}"))
            else:
                results.append((mid, "SURVIVED", f"{rel}: every test of /{tests}/ passed"))
        finally:
            path.write_text(text)
            print(f"{results[-1][1]:>9}  {mid}: {results[-1][2]}", flush=True)
    for target in sorted(touched):
        build(args.build, target)
    killed = sum(1 for r in results if r[1] == "killed")
    survived = sum(1 for r in results if r[1] == "SURVIVED")
    stale = sum(1 for r in results if r[1] == "stale")
    counted = killed + survived
    score = killed / counted if counted else 0.0
    print(f"mutation score: {killed}/{counted} killed ({100 * score:.0f}%), "
          f"{stale} stale, {len(results) - counted - stale} not built, "
          f"{time.monotonic() - start:.0f} s")
    return 0 if survived == 0 and stale == 0 and counted == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())

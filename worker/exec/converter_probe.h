// File: converter_probe.h
//
// Whether llama.cpp's convert_hf_to_gguf.py can run under the worker's
// Python, checked once at start. The converter imports torch (>= 2.1: it
// names the float8 dtypes at import), numpy, transformers and its own gguf-py
// before it parses its arguments (and sentencepiece when it reads a
// SentencePiece vocabulary); a Python without one of them fails every convert
// step late, with a traceback. The probe runs the script's own `--help` (its
// imports are the truth, whatever script is installed) and an import check
// that names every missing package. A worker whose probe fails does not offer the
// converter (the coordinator leases convert steps elsewhere), says why in one
// log line and in its capabilities, and refuses a convert step with that
// message.
#ifndef COHORT_WORKER_EXEC_CONVERTER_PROBE_H_
#define COHORT_WORKER_EXEC_CONVERTER_PROBE_H_

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace cohort::worker {

struct ConverterProbe {
  bool usable = false;
  std::vector<std::string> missing;  // "transformers", "float8 dtypes (torch >= 2.1)"
  std::vector<std::string> notes;    // "torch 2.4.0", "transformers: test shim ..."
  std::string python_version;
  std::string problem;  // one line when !usable: names the Python and what it lacks
  std::string Summary() const;  // one line either way, for logs and capabilities
};

// Runs `python script --help`, then `python` on an import check with
// `script`'s gguf-py folder on its path. Usable when --help exits 0; a
// package the script did not need at start (sentencepiece) is a note.
// Never fails: a Python that cannot run at all is a problem too.
ConverterProbe ProbeConverterPython(const std::string& python, const std::string& script,
                                    absl::Duration timeout = absl::Seconds(60));

}  // namespace cohort::worker

#endif  // COHORT_WORKER_EXEC_CONVERTER_PROBE_H_

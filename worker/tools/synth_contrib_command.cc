// `cohort-worker synth-contrib`: deterministic synthetic v5 contribution data
// (the schema of the drop-map generator's --data file) for tests, the demo and
// benchmarks. Real files come from a profiling run over a GPU; this one has
// the same shape and the same statistical texture: a skewed popularity per
// expert that differs by class, zero cells (tc = 0 -> wnorm 0), and a
// neuron_act array per cell that dominates the file size as in real data.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/atomic_file.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "worker/tools/commands.h"

namespace cohort::worker {
namespace {

struct SynthContribOptions {
  int layers = 4;
  int experts = 16;
  int neuron_act = 4;
  uint64_t seed = 1;
  std::vector<std::string> classes = {
      "generic_math",      "generic_logic",          "generic_code",
      "generic_science",   "generic_creative",       "targeted_humaneval",
      "targeted_humanevalplus", "targeted_lcb_medium_55"};
  std::string output;
};

// splitmix64: tiny, fast and the same on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double Uniform() { return (Next() >> 11) * (1.0 / 9007199254740992.0); }

 private:
  uint64_t state_;
};

// A double as Python's json.dump would write it (shortest round trip).
std::string Num(double v) { return nlohmann::json(v).dump(); }

class BufferedOut {
 public:
  explicit BufferedOut(AtomicFileWriter& writer) : writer_(writer) {}
  absl::Status Add(absl::string_view text) {
    buffer_.append(text.data(), text.size());
    return buffer_.size() >= (4 << 20) ? Flush() : absl::OkStatus();
  }
  absl::Status Flush() {
    absl::Status s = writer_.Append(buffer_);
    buffer_.clear();
    return s;
  }

 private:
  AtomicFileWriter& writer_;
  std::string buffer_;
};

std::string Cell(int id, double popularity, double norm, int neuron_act,
                 Rng& rng) {
  double expected = popularity * 400.0;
  int tc = rng.Uniform() < 0.15 ? 0
                                : static_cast<int>(expected * (0.5 + rng.Uniform()));
  double wnorm = tc == 0 ? 0.0 : tc * norm * (0.8 + 0.4 * rng.Uniform());
  std::string cell = absl::StrCat(
      "{\"id\": ", id, ", \"wnorm\": ", Num(wnorm), ", \"tc\": ", tc,
      ", \"rnorm\": ", Num(0.37 * wnorm), ", \"wnsq\": ",
      Num(wnorm * wnorm / std::max(tc, 1)), ", \"rnsq\": ",
      Num(0.37 * 0.37 * wnorm * wnorm / std::max(tc, 1)), ", \"wsum\": ",
      Num(0.011 * wnorm), ", \"cc\": ", tc / 3, ", \"neuron_act\": [");
  for (int k = 0; k < neuron_act; ++k) {
    absl::StrAppend(&cell, k ? ", " : "", Num(std::round(rng.Uniform() * 1e6) / 1e6));
  }
  absl::StrAppend(&cell, "]}");
  return cell;
}

absl::Status WriteContrib(const SynthContribOptions& o) {
  if (o.layers < 1 || o.experts < 2 || o.neuron_act < 0 || o.classes.empty()) {
    return absl::InvalidArgumentError(
        "synth-contrib: need --layers >= 1, --experts >= 2, --neuron-act >= 0 "
        "and at least one class");
  }
  AtomicFileWriter writer;
  COHORT_RETURN_IF_ERROR(writer.Open(o.output));
  BufferedOut out(writer);
  nlohmann::json metadata = {
      {"num_layers", o.layers},       {"num_experts", o.experts},
      {"intermediate_size", o.neuron_act}, {"hidden_size", 2816},
      {"categories", o.classes},      {"variant", "synthetic"},
      {"model", "cohort-synth"},      {"seed", o.seed}};
  COHORT_RETURN_IF_ERROR(out.Add(absl::StrCat(
      "{\"metadata\": ", metadata.dump(-1, ' ', false), ", \"categories\": {")));
  Rng rng(o.seed);
  // A base popularity per (layer, expert), tilted per class: some experts
  // matter for code, others for math, as in real routing statistics.
  std::vector<double> base(static_cast<size_t>(o.layers) * o.experts);
  for (double& b : base) b = std::exp(2.0 * rng.Uniform() - 1.0);
  for (size_t c = 0; c < o.classes.size(); ++c) {
    COHORT_RETURN_IF_ERROR(out.Add(absl::StrCat(
        c ? ", " : "", nlohmann::json(o.classes[c]).dump(), ": {")));
    for (int l = 0; l < o.layers; ++l) {
      COHORT_RETURN_IF_ERROR(out.Add(absl::StrCat(l ? ", " : "", "\"", l, "\": [")));
      double norm = 3.0 - 2.2 * l / std::max(1, o.layers - 1);
      for (int e = 0; e < o.experts; ++e) {
        double tilt = std::exp(1.5 * rng.Uniform() - 0.75);
        double popularity = base[static_cast<size_t>(l) * o.experts + e] * tilt;
        COHORT_RETURN_IF_ERROR(out.Add(absl::StrCat(
            e ? ", " : "", Cell(e, popularity, norm, o.neuron_act, rng))));
      }
      COHORT_RETURN_IF_ERROR(out.Add("]"));
    }
    COHORT_RETURN_IF_ERROR(out.Add("}"));
  }
  COHORT_RETURN_IF_ERROR(out.Add("}}"));
  COHORT_RETURN_IF_ERROR(out.Flush());
  return writer.Commit();
}

}  // namespace

void AddSynthContribCommand(CLI::App& app, CommandFn* selected) {
  auto options = std::make_shared<SynthContribOptions>();
  CLI::App* cmd = app.add_subcommand(
      "synth-contrib",
      "Write deterministic synthetic v5 contribution data (dropmap --data)");
  cmd->add_option("--layers", options->layers, "MoE layers")->capture_default_str();
  cmd->add_option("--experts", options->experts, "experts per layer")
      ->capture_default_str();
  cmd->add_option("--neuron-act", options->neuron_act,
                  "floats per cell in neuron_act (704 for Gemma 4)")
      ->capture_default_str();
  cmd->add_option("--seed", options->seed, "random seed")->capture_default_str();
  cmd->add_option("--classes", options->classes, "class names, in order");
  cmd->add_option("--output", options->output, "output JSON file")->required();
  cmd->callback([options, selected] {
    *selected = [options] {
      return ReportStatus("synth-contrib", WriteContrib(*options));
    };
  });
}

}  // namespace cohort::worker

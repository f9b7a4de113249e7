// `cohort-worker gguf-info FILE`: the header of a GGUF file (version,
// alignment, every metadata key/value, every tensor info, and cohort's
// summary: architecture, file type, expert counts, tensor inventory) as JSON
// on stdout. Long arrays (tokenizer tables) are abbreviated to their length
// and first elements. A damaged or foreign file exits 2 with the reader's
// message (file, byte offset, field) on stderr.
#include <cstdio>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "common/status_macros.h"
#include "worker/quant/gguf_json.h"
#include "worker/quant/gguf_reader.h"
#include "worker/quant/gguf_summary.h"
#include "worker/tools/commands.h"

namespace cohort::worker {
namespace {

struct GgufInfoOptions {
  std::string file;
  uint64_t max_array_items = 16;
  bool no_tensors = false;
};

absl::Status PrintGgufInfo(const GgufInfoOptions& o) {
  COHORT_ASSIGN_OR_RETURN(quant::GgufContents gguf,
                          quant::ReadGgufFile(o.file));
  COHORT_ASSIGN_OR_RETURN(quant::GgufSummary summary,
                          quant::SummarizeGguf(gguf));
  quant::GgufJsonOptions options;
  options.max_array_items = o.max_array_items;
  options.include_tensors = !o.no_tensors;
  std::string text = quant::GgufJsonText(gguf, summary, options);
  text.push_back('\n');
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
      std::fflush(stdout) != 0) {
    return absl::UnavailableError("gguf-info: writing to stdout failed");
  }
  return absl::OkStatus();
}

int RunGgufInfo(const GgufInfoOptions& o) {
  absl::Status status = PrintGgufInfo(o);
  // A truncated file is bad input to this command (exit 2), though the
  // reader reports it as kDataLoss so a step driver can tell it from a
  // malformed one.
  if (status.code() == absl::StatusCode::kDataLoss) {
    status = absl::InvalidArgumentError(status.message());
  }
  return ReportStatus("gguf-info", status);
}

}  // namespace

void AddGgufInfoCommand(CLI::App& app, CommandFn* selected) {
  auto options = std::make_shared<GgufInfoOptions>();
  CLI::App* cmd = app.add_subcommand(
      "gguf-info", "Print a GGUF file's header, metadata and tensors as JSON");
  cmd->add_option("file", options->file, "GGUF file")->required();
  cmd->add_option("--max-array-items", options->max_array_items,
                  "arrays longer than this are abbreviated")
      ->capture_default_str();
  cmd->add_flag("--no-tensors", options->no_tensors,
                "leave out the tensor infos");
  cmd->callback([options, selected] {
    *selected = [options] { return RunGgufInfo(*options); };
  });
}

}  // namespace cohort::worker

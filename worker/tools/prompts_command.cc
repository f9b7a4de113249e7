// `cohort-worker prompts`: the requests a bench run sends, without a server.
//   cohort-worker prompts --bench NAME --dataset PATH [--fewshot FILE]
//                         [--profile NAME|FILE]
// One JSON line per problem of the profile's subset, in run order: id, index
// (lm-eval's doc_id), messages (every chat message, few-shot turns first) and
// prompt_hash (sha256 of the messages as lm-eval logs them: its own
// prompt_hash, and the prompt_digest of generated rows). Bad input is exit 2
// naming the file and the problem.
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/eval/bench.h"
#include "worker/tools/commands.h"

namespace cohort::worker {
namespace {

struct PromptsOptions {
  std::string bench;
  std::string dataset;
  std::string fewshot;
  std::string profile = eval::kDefaultProfile;
};

absl::StatusOr<std::string> RenderPrompts(const PromptsOptions& options) {
  COHORT_ASSIGN_OR_RETURN(eval::BenchSetup setup,
                          eval::SetUpBench(options.bench, options.profile, options.fewshot));
  COHORT_ASSIGN_OR_RETURN(std::vector<eval::Problem> problems,
                          setup.bench->load(options.dataset, setup.settings));
  eval::ApplyLimit(setup.settings, &problems);
  std::string out;
  for (const eval::Problem& p : problems) {
    nlohmann::json messages = nlohmann::json::array();
    for (const eval::ChatTurn& m : eval::ChatMessages(p)) {
      messages.push_back({{"role", m.role}, {"content", m.content}});
    }
    nlohmann::json line = {{"id", p.id}, {"index", p.index}, {"messages", messages},
                           {"prompt_hash", eval::PromptDigest(p)}};
    absl::StrAppend(&out, line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                    "\n");
  }
  return out;
}

}  // namespace

void AddPromptsCommand(CLI::App& app, CommandFn* selected) {
  auto options = std::make_shared<PromptsOptions>();
  CLI::App* cmd = app.add_subcommand(
      "prompts", "Print the chat messages a bench run sends, one JSON line per problem.");
  cmd->add_option("--bench", options->bench, "a bench of the profile (as for score)")
      ->required();
  cmd->add_option("--dataset", options->dataset, "the bench's published data file")
      ->required();
  cmd->add_option("--fewshot", options->fewshot,
                  "the split few-shot exemplars are drawn from (default: train.jsonl beside "
                  "the dataset)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--profile", options->profile, "built-in profile name or profile JSON file")
      ->capture_default_str();
  cmd->callback([options, selected] {
    *selected = [options] {
      absl::StatusOr<std::string> lines = RenderPrompts(*options);
      if (!lines.ok()) return ReportStatus("prompts", lines.status());
      std::fwrite(lines->data(), 1, lines->size(), stdout);
      return kExitOk;
    };
  });
}

}  // namespace cohort::worker

// End-to-end `cohort-worker dropmap`: every golden case's argv, parsed by the
// real CLI11 command and run in a scratch copy of the case folder (the
// reference resolves paths against its working directory), must write
// byte-identical drop_map.json and summary files.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "worker/tools/commands.h"

namespace cohort::worker {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `cohort-worker dropmap <argv>` in `dir` as main() would.
int RunDropmapIn(const std::string& dir, const std::vector<std::string>& argv) {
  std::vector<std::string> full = {"cohort-worker", "dropmap"};
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<const char*> c_argv;
  for (const std::string& a : full) c_argv.push_back(a.c_str());
  CLI::App app;
  CommandFn selected;
  AddDropmapCommand(app, &selected);
  try {
    app.parse(static_cast<int>(c_argv.size()), c_argv.data());
  } catch (const CLI::ParseError&) {
    return kExitBadInput;
  }
  const fs::path before = fs::current_path();
  fs::current_path(dir);
  const int code = selected ? selected() : kExitBadInput;
  fs::current_path(before);
  return code;
}

// Copies a case's inputs (not its expected outputs) into a writable folder.
void CopyInputs(const std::string& from, const std::string& to) {
  for (const auto& entry : fs::directory_iterator(from)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("drop_map.json", 0) == 0) continue;
    const fs::path target = fs::path(to) / name;
    fs::copy_file(entry.path(), target);
    fs::permissions(target, fs::perms::owner_write, fs::perm_options::add);
  }
}

TEST(DropmapCommandTest, EveryGoldenCaseIsByteIdentical) {
  const std::string goldens = cohort::testing::TestDataDir() + "/goldens/dropmap";
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(goldens)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || name[0] != 's') continue;
    ++cases;
    cohort::testing::TempDir work;
    CopyInputs(entry.path().string(), work.path());
    const nlohmann::json args =
        nlohmann::json::parse(ReadAll(entry.path().string() + "/args.json"));
    EXPECT_EQ(RunDropmapIn(work.path(),
                           args["argv"].get<std::vector<std::string>>()),
              kExitOk)
        << name;
    for (const char* out : {"drop_map.json", "drop_map.json.summary.json"}) {
      EXPECT_EQ(ReadAll(work.Join(out)),
                ReadAll(entry.path().string() + "/" + out))
          << name << " " << out;
    }
  }
  EXPECT_EQ(cases, 20);
}

TEST(DropmapCommandTest, BadInputExitsTwoAndWritesNothing) {
  const std::string goldens = cohort::testing::TestDataDir() + "/goldens/dropmap";
  cohort::testing::TempDir work;
  CopyInputs(goldens + "/s01_tiny_max_rank_ties_shuffled", work.path());
  EXPECT_EQ(RunDropmapIn(work.path(), {"--data", "contrib_v5.json", "--target",
                                       "9", "--output", "out/drop_map.json"}),
            kExitBadInput);
  EXPECT_EQ(RunDropmapIn(work.path(),
                         {"--data", "contrib_v5.json", "--target", "6",
                          "--class-weights", "1", "2", "--output",
                          "out/drop_map.json"}),
            kExitBadInput);
  EXPECT_EQ(RunDropmapIn(work.path(), {"--data", "contrib_v5.json", "--target",
                                       "6", "--strategy", "p90", "--output",
                                       "out/drop_map.json"}),
            kExitBadInput);
  EXPECT_FALSE(fs::exists(work.Join("out")));
}

}  // namespace
}  // namespace cohort::worker

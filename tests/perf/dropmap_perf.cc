// Card-size drop-map benchmark (built, not run by ctest):
//   dropmap_perf [folder]
// Writes a synthetic contribution file of the card's shape (30 layers x 128
// experts x 8 classes, each cell with a 704-float neuron_act array, some NaN
// wnorm) into `folder` (default: a fresh folder under $TMPDIR), runs the
// card's configuration through GenerateDropMap, and in the same run the
// baseline: `cp` of that contribution file, then fdatasync of the copy (the
// cheapest thing that reads every input byte and writes a file) and `cat` of
// it to /dev/null (reading alone). Prints the times and ratios, three
// rounds; exits 1 only on an error.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "worker/prune/dropmap.h"

namespace {

using cohort::worker::prune::DropMapOptions;

// Seconds for `cat PATH > /dev/null` (reading every byte, writing nothing);
// -1 on an error.
double ReadAll(const std::string& path) {
  const auto start = std::chrono::steady_clock::now();
  std::string command = "cat '" + path + "' > /dev/null";
  if (std::system(command.c_str()) != 0) return -1;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Seconds for `cp SRC DST` and an fdatasync of DST (the page cache is warm
// for both sides: the file was just written); -1 on an error.
double CopyAndSync(const std::string& src, const std::string& dst) {
  const auto start = std::chrono::steady_clock::now();
  std::string command = "cp '" + src + "' '" + dst + "'";
  if (std::system(command.c_str()) != 0) {
    std::fprintf(stderr, "%s failed\n", command.c_str());
    return -1;
  }
  int fd = open(dst.c_str(), O_RDONLY);
  if (fd < 0 || fdatasync(fd) != 0) {
    std::fprintf(stderr, "fdatasync %s failed\n", dst.c_str());
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

constexpr int kLayers = 30;
constexpr int kExperts = 128;
constexpr int kActs = 704;
const char* const kClasses[] = {
    "generic_math",     "generic_logic",      "generic_code",
    "generic_science",  "generic_creative",   "targeted_humaneval",
    "targeted_humanevalplus", "targeted_lcb_medium_55"};

uint64_t Next(uint64_t* s) {  // xorshift64*
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 2685821657736338717ULL;
}

double Uniform(uint64_t* s) { return (Next(s) >> 11) * 0x1.0p-53; }

std::string ActsText(uint64_t* s) {
  std::string out;
  char buf[40];
  for (int i = 0; i < kActs; ++i) {
    std::snprintf(buf, sizeof(buf), "%s%.17g", i ? ", " : "", Uniform(s) * 1e-5);
    out += buf;
  }
  return out;
}

bool WriteContrib(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  uint64_t seed = 0x9E3779B97F4A7C15ULL;
  std::vector<std::string> acts;
  for (int i = 0; i < 16; ++i) acts.push_back(ActsText(&seed));
  std::fprintf(f, "{\"metadata\": {\"num_layers\": %d, \"num_experts\": %d, "
                  "\"intermediate_size\": %d, \"categories\": [",
               kLayers, kExperts, kActs);
  for (int c = 0; c < 8; ++c) std::fprintf(f, "%s\"%s\"", c ? ", " : "", kClasses[c]);
  std::fprintf(f, "]}, \"categories\": {");
  for (int c = 0; c < 8; ++c) {
    std::fprintf(f, "%s\"%s\": {", c ? ", " : "", kClasses[c]);
    for (int l = 0; l < kLayers; ++l) {
      std::fprintf(f, "%s\"%d\": [", l ? ", " : "", l);
      for (int e = 0; e < kExperts; ++e) {
        const int tc = static_cast<int>(Next(&seed) % 500);
        const double wnorm = tc * (0.5 + 2.5 * Uniform(&seed));
        char w[32];
        if (Next(&seed) % 100 == 0) {
          std::snprintf(w, sizeof(w), "NaN");
        } else {
          std::snprintf(w, sizeof(w), "%.17g", wnorm);
        }
        std::fprintf(f,
                     "%s{\"id\": %d, \"wnorm\": %s, \"rnorm\": 1.5, "
                     "\"wnsq\": 2.25, \"rnsq\": 1.0, \"wsum\": 0.5, \"tc\": %d, "
                     "\"cc\": %d, \"neuron_act\": [%s]}",
                     e ? ", " : "", e, w, tc, tc / 3, acts[(e + l) % 16].c_str());
      }
      std::fprintf(f, "]");
    }
    std::fprintf(f, "}");
  }
  std::fprintf(f, "}}");
  return std::fclose(f) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  if (argc > 1) {
    dir = argv[1];
  } else {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp ? tmp : "/tmp") + "/dropmap-perf-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) return 1;
    dir = pattern;
  }
  const std::string data = dir + "/contrib_v5.json";
  if (!WriteContrib(data)) {
    std::fprintf(stderr, "cannot write %s\n", data.c_str());
    return 1;
  }
  DropMapOptions options;
  options.data = data;
  options.target = 98;
  options.class_weights =
      std::vector<std::string>{"1", "1", "3", "1", "1", "0", "0", "2"};
  options.breadth_bonus = 0.5;
  options.outlier_mode = "median";
  options.outlier_wnorm_thresh = 10000.0;
  options.baseline_drop_map = "";
  options.output = dir + "/drop_map.json";
  for (int round = 1; round <= 3; ++round) {
    double baseline = CopyAndSync(data, dir + "/contrib_copy.json");
    if (baseline < 0) return 1;
    const auto start = std::chrono::steady_clock::now();
    auto result = cohort::worker::prune::GenerateDropMap(options, "");
    const double seconds = std::chrono::duration<double>(
                               std::chrono::steady_clock::now() - start)
                               .count();
    if (!result.ok()) {
      std::fprintf(stderr, "%s\n", result.status().ToString().c_str());
      return 1;
    }
    double read_only = ReadAll(data);
    if (read_only < 0) return 1;
    std::printf("round %d: dropmap %.3f s; cp + fdatasync %.3f s (dropmap / cp %.2f); "
                "cat > /dev/null %.3f s (dropmap / cat %.2f)\n",
                round, seconds, baseline, seconds / baseline, read_only, seconds / read_only);
  }
  return 0;
}

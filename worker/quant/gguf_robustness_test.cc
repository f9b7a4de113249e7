// Nothing from outside is trusted (docs/RELIABILITY.md, "Malformed-input
// corpus"): the reader must answer every damaged file with a status, never a
// crash, a hang or a huge allocation. These tests feed it truncated prefixes
// and random byte flips of a valid file, and render whatever parses.
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "worker/quant/gguf_json.h"
#include "worker/quant/gguf_reader.h"
#include "worker/quant/gguf_summary.h"
#include "worker/quant/gguf_test_util.h"

namespace cohort::worker::quant {
namespace {

// Parses `bytes` and, when that succeeds, summarizes and renders it.
// Returns the parse status; fails the test on an unexpected status code.
absl::Status Exercise(const std::string& bytes) {
  absl::StatusOr<GgufContents> parsed = ParseGguf(bytes, "fuzz.gguf");
  if (!parsed.ok()) {
    absl::StatusCode code = parsed.status().code();
    EXPECT_TRUE(code == absl::StatusCode::kDataLoss ||
                code == absl::StatusCode::kInvalidArgument)
        << parsed.status();
    EXPECT_NE(parsed.status().message().find("fuzz.gguf"), std::string::npos)
        << parsed.status();
    return parsed.status();
  }
  absl::StatusOr<GgufSummary> summary = SummarizeGguf(*parsed);
  if (summary.ok()) {
    std::string json = GgufJsonText(*parsed, *summary);
    EXPECT_FALSE(json.empty());
  } else {
    EXPECT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument);
  }
  return absl::OkStatus();
}

uint64_t HeaderEnd(const std::string& bytes) {
  return ParseGguf(bytes, "x")->data_offset;
}

TEST(GgufRobustnessTest, EveryTruncatedPrefixOfTheHeaderFails) {
  std::string bytes = testing::TinyMoeBytes();
  uint64_t header_end = HeaderEnd(bytes);
  for (uint64_t n = 0; n <= header_end; ++n) {
    absl::Status s = Exercise(bytes.substr(0, n));
    EXPECT_FALSE(s.ok()) << "prefix of " << n << " bytes parsed";
  }
}

TEST(GgufRobustnessTest, TruncatedDataIsDataLoss) {
  std::string bytes = testing::TinyMoeBytes();
  GgufContents g = *ParseGguf(bytes, "x");
  const GgufTensorInfo& last = g.tensors.back();
  uint64_t data_end = g.data_offset + last.offset + last.bytes;
  for (uint64_t n = HeaderEnd(bytes) + 1; n < bytes.size(); n += 97) {
    absl::Status s = Exercise(bytes.substr(0, n));
    if (n < data_end) {
      EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << n;
    }
  }
  // Only the last tensor's padding missing: every byte of data is there.
  EXPECT_TRUE(Exercise(bytes.substr(0, data_end)).ok());
}

TEST(GgufRobustnessTest, RandomByteFlipsInTheHeader) {
  std::string bytes = testing::TinyMoeBytes();
  uint64_t header_end = HeaderEnd(bytes);
  std::mt19937_64 rng(20240611);
  int failures = 0;
  for (int iteration = 0; iteration < 4000; ++iteration) {
    std::string damaged = bytes;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      size_t pos = rng() % header_end;
      // Half the time a random byte, half a single bit: both kinds of rot.
      if (rng() % 2 == 0) {
        damaged[pos] = static_cast<char>(rng() & 0xff);
      } else {
        damaged[pos] ^= static_cast<char>(1 << (rng() % 8));
      }
    }
    if (!Exercise(damaged).ok()) ++failures;
  }
  // Most flips land in a length, a count, a type or a name check.
  EXPECT_GT(failures, 500);
}

TEST(GgufRobustnessTest, RandomBytesAfterTheMagic) {
  std::mt19937_64 rng(7);
  for (int iteration = 0; iteration < 2000; ++iteration) {
    std::string bytes = "GGUF";
    bytes += (iteration % 2 == 0) ? std::string("\x03\0\0\0", 4)
                                  : std::string("\x02\0\0\0", 4);
    size_t n = rng() % 200;
    for (size_t i = 0; i < n; ++i) {
      // Small values make plausible counts and lengths.
      bytes.push_back(
          static_cast<char>(rng() % 4 == 0 ? rng() & 0xff : rng() % 3));
    }
    Exercise(bytes).IgnoreError();
  }
}

}  // namespace
}  // namespace cohort::worker::quant

#include "client/hub/hub_protocol.h"

#include "client/hub/progress.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::client::hub {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

HubFile File() { return {"https://huggingface.co", "Idavidrein/gpqa", "main", "gpqa_diamond.csv"}; }

TEST(HubProtocolTest, Urls) {
  EXPECT_EQ(ResolveUrl(File()),
            "https://huggingface.co/datasets/Idavidrein/gpqa/resolve/main/gpqa_diamond.csv");
  HubFile f{"http://127.0.0.1:8080", "o/n", "refs/pr/1", "dir/a b.jsonl"};
  EXPECT_EQ(ResolveUrl(f),
            "http://127.0.0.1:8080/datasets/o/n/resolve/refs%2Fpr%2F1/dir/a%20b.jsonl");
  EXPECT_EQ(RepoPage(f), "http://127.0.0.1:8080/datasets/o/n");
  EXPECT_EQ(EndpointOrDefault(""), "https://huggingface.co");
  EXPECT_EQ(EndpointOrDefault("http://mirror:1/"), "http://mirror:1");
}

TEST(HubProtocolTest, Headers) {
  std::string name, value;
  ASSERT_TRUE(ParseHeaderLine("X-Linked-Etag:  \"abc\"\r\n", &name, &value));
  EXPECT_EQ(name, "x-linked-etag");
  EXPECT_EQ(value, "\"abc\"");
  EXPECT_FALSE(ParseHeaderLine("HTTP/1.1 302 Found\r\n", &name, &value));
  EXPECT_FALSE(ParseHeaderLine("\r\n", &name, &value));
  EXPECT_EQ(NormalizeEtag("W/\"abc\""), "abc");
  const std::string sha(64, 'e');
  EXPECT_EQ(AnnouncedSha256("\"" + sha + "\"", "\"other\""), sha);
  EXPECT_EQ(AnnouncedSha256("", "\"" + sha + "\""), sha);
  // A git blob id (a small file the Hub serves itself) is no sha256.
  EXPECT_EQ(AnnouncedSha256("", "\"" + std::string(40, 'a') + "\""), "");
}

TEST(HubProtocolTest, GatedMessagesSayWhatToDo) {
  absl::Status s = HttpError(File(), HttpFailure{401, "GatedRepo", "", "u", false, true});
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied,
                          HasSubstr("gated dataset: accept its terms at "
                                    "https://huggingface.co/datasets/Idavidrein/gpqa and set "
                                    "HF_TOKEN")));
  EXPECT_THAT(s.message(), Not(HasSubstr("refused")));
  absl::Status refused = HttpError(File(), HttpFailure{403, "", "", "u", true, true});
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kPermissionDenied,
                                HasSubstr("the HF_TOKEN sent was refused")));
}

TEST(HubProtocolTest, NotFoundNamesRepoRevisionAndFile) {
  EXPECT_THAT(HttpError(File(), HttpFailure{404, "EntryNotFound", "", "u", false, true}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("not found on the Hub: datasets/Idavidrein/gpqa at revision "
                                 "main has no file gpqa_diamond.csv (HTTP 404 EntryNotFound")));
  EXPECT_THAT(HttpError(File(), HttpFailure{404, "RevisionNotFound", "", "u", false, true}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("has no revision main")));
  // The Hub answers 401 for a repository it does not show to anonymous callers.
  EXPECT_THAT(HttpError(File(), HttpFailure{401, "RepoNotFound", "", "u", false, true}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("no dataset repository Idavidrein/gpqa (or it is private")));
}

TEST(HubProtocolTest, OtherFailures) {
  EXPECT_THAT(HttpError(File(), HttpFailure{503, "", "", "u", false, true}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("try again later")));
  EXPECT_THAT(HttpError(File(), HttpFailure{403, "", "", "cdn", false, false}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("refused the pre-signed link")));
  EXPECT_THAT(TransportError(TransportFailure::kNoConnection, File(), "huggingface.co:443",
                             "Could not connect", 0, std::nullopt),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("cannot reach huggingface.co:443 (no network?)")));
  EXPECT_THAT(TransportError(TransportFailure::kInterrupted, File(), "cdn:443", "reset",
                             1536, uint64_t{4096}),
              StatusIs(absl::StatusCode::kAborted,
                       HasSubstr("broke off after 1.5 KiB of 4.0 KiB (reset); the partial "
                                 "file is kept: run the same command again to resume")));
}

TEST(ProgressTest, TextBarFillsItsShare) {
  EXPECT_EQ(TextBar(0, 10, 10), "[----------]");
  EXPECT_EQ(TextBar(5, 10, 10), "[#####-----]");
  EXPECT_EQ(TextBar(12, 10, 10), "[##########]");  // past the total: full, no overflow
  EXPECT_EQ(TextBar(3, 0, 4), "[----]");           // unknown total
}

TEST(ProgressTest, Lines) {
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(3 << 20), "3.0 MiB");
  EXPECT_EQ(ProgressPlainLine("a.jsonl", 1 << 20, uint64_t{4} << 20, 2 << 20),
            "a.jsonl: 1.0 MiB of 4.0 MiB (25%), 2.0 MiB/s");
  EXPECT_EQ(ProgressPlainLine("a.jsonl", 10, std::nullopt, 0), "a.jsonl: 10 B");
  std::string bar = ProgressBarLine("a.jsonl", 1 << 20, uint64_t{4} << 20, 1 << 20);
  EXPECT_THAT(bar, HasSubstr("[######------------------]  25%"));
  EXPECT_THAT(bar, HasSubstr("0:03 left"));
}

}  // namespace
}  // namespace cohort::client::hub

// Peer artifact transfer with hostile names, both ways: a peer asking this
// worker's ArtifactService for paths outside an artifact, and a peer whose
// manifest names paths outside the fetching worker's incoming folder. Real
// gRPC on loopback ports, real stores on disk.
#include "worker/agent/artifact_transfer.h"

#include <filesystem>
#include <fstream>

#include "absl/time/clock.h"
#include "common/testing/status_matchers.h"
#include "common/transfer_capability.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace cohort::worker {
namespace {

namespace fs = std::filesystem;
using ::cohort::testing::StatusIs;
using ::cohort::testing::TempDir;
using ::testing::HasSubstr;

constexpr char kKey[] = "0123456789abcdef0123456789abcdef";  // the holder's transfer key

std::string CapabilityFor(const std::string& digest) {
  return IssueCapability(kKey, digest, absl::Now() + absl::Minutes(5));
}

void WriteFile(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::unique_ptr<grpc::Server> Serve(grpc::Service* service, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), port);
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

std::unique_ptr<grpc::ClientContext> Context(const std::string& authorization) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", authorization);
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  return context;
}

class ArtifactServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A secret beside the store, and one inside it but outside any artifact.
    WriteFile(dir_.Join("secret.txt"), "outside the store");
    store_ = ArtifactStore::Open(dir_.Join("store"), 0).value();
    WriteFile(dir_.Join("store/objects/not-an-artifact.txt"), "inside the store");
    WriteFile(dir_.Join("out/sub/model.gguf"), "GGUF bytes");
    artifact_ = store_->Adopt(dir_.Join("out")).value();
    service_ = std::make_unique<ArtifactServiceImpl>(*store_);
    service_->SetTransferKey(kKey);
    server_ = Serve(service_.get(), &port_);
    ASSERT_NE(server_, nullptr);
    stub_ = v1::ArtifactService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  // Every chunk of one fetch, and its final status.
  grpc::Status Fetch(const std::string& digest, const std::string& path, std::string* data,
                     std::string authorization = "") {
    v1::FetchArtifactRequest request;
    request.set_digest(digest);
    request.set_relative_path(path);
    if (authorization.empty()) authorization = "Capability " + CapabilityFor(digest);
    auto context = Context(authorization);
    auto reader = stub_->FetchArtifact(context.get(), request);
    v1::ArtifactChunk chunk;
    while (reader->Read(&chunk)) data->append(chunk.data());
    return reader->Finish();
  }

  TempDir dir_;
  std::unique_ptr<ArtifactStore> store_;
  StoredArtifact artifact_;
  std::unique_ptr<ArtifactServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::unique_ptr<v1::ArtifactService::Stub> stub_;
};

TEST_F(ArtifactServiceTest, ServesAFileOfTheArtifact) {
  std::string data;
  grpc::Status status = Fetch(artifact_.digest, "sub/model.gguf", &data);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(data, "GGUF bytes");
}

// The fleet's long-lived token is no key here: only a capability cohortd
// issued for this digest on this worker, unexpired.
TEST_F(ArtifactServiceTest, ServesOnlyWithACapabilityForThatArtifact) {
  const std::string other = "sha256:" + std::string(64, 'd');
  const std::string wrong_key =
      IssueCapability("another worker's key", artifact_.digest, absl::Now() + absl::Minutes(5));
  const std::string expired =
      IssueCapability(kKey, artifact_.digest, absl::Now() - absl::Seconds(1));
  for (const std::string& authorization :
       {std::string("Bearer cht_worker_shared"), std::string("Capability "),
        "Capability " + CapabilityFor(other), "Capability " + wrong_key,
        "Capability " + expired}) {
    std::string data;
    grpc::Status status = Fetch(artifact_.digest, "sub/model.gguf", &data, authorization);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << authorization;
    EXPECT_EQ(data, "") << authorization;
  }
  // Before registration gave it a key, nothing is served.
  ArtifactServiceImpl unregistered(*store_);
  int port = 0;
  std::unique_ptr<grpc::Server> server = Serve(&unregistered, &port);
  auto stub = v1::ArtifactService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  v1::StatArtifactRequest request;
  request.set_digest(artifact_.digest);
  v1::StatArtifactResponse response;
  EXPECT_EQ(stub->StatArtifact(Context("Capability " + CapabilityFor(artifact_.digest)).get(),
                               request, &response)
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  server->Shutdown();
}

TEST_F(ArtifactServiceTest, RefusesPathsOutsideTheArtifactNamingTheProblem) {
  struct Case {
    std::string path;
    const char* why;
  };
  const Case cases[] = {
      {"../../../secret.txt", "'..' component"},
      {"sub/../../not-an-artifact.txt", "'..' component"},
      {dir_.Join("secret.txt"), "absolute"},
      {"/etc/passwd", "absolute"},
      {std::string("sub/model.gguf\0/../../secret.txt", 32), "NUL"},
      {"", "empty"},
  };
  for (const Case& c : cases) {
    std::string data;
    grpc::Status status = Fetch(artifact_.digest, c.path, &data);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.path;
    EXPECT_THAT(status.error_message(), HasSubstr("relative_path")) << c.path;
    EXPECT_THAT(status.error_message(), HasSubstr(c.why)) << c.path;
    EXPECT_EQ(data, "") << c.path;
  }
  // A well-formed path the manifest does not list is refused too.
  std::string data;
  EXPECT_EQ(Fetch(artifact_.digest, "other.gguf", &data).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ArtifactServiceTest, RefusesDigestsThatAreNotDigests) {
  for (const std::string& digest :
       {std::string("../secret.txt"), std::string("sha256:../../secret"),
        std::string("sha256:") + std::string(64, 'A'), std::string()}) {
    std::string data;
    grpc::Status fetch = Fetch(digest, "sub/model.gguf", &data);
    EXPECT_EQ(fetch.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << digest;
    EXPECT_THAT(fetch.error_message(), HasSubstr("not sha256:")) << digest;
    v1::StatArtifactRequest request;
    request.set_digest(digest);
    v1::StatArtifactResponse response;
    grpc::Status stat =
        stub_->StatArtifact(Context("Capability " + CapabilityFor(digest)).get(), request,
                            &response);
    EXPECT_EQ(stat.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << digest;
  }
}

// A peer that lists whatever manifest the test gives it and serves any
// file of it with fixed bytes.
class HostilePeer final : public v1::ArtifactService::CallbackService {
 public:
  // Announces each of `paths` as 5 bytes; serves `data` at `offset`.
  explicit HostilePeer(std::vector<std::string> paths, std::string data = "owned",
                       uint64_t offset = 0)
      : paths_(std::move(paths)), data_(std::move(data)), offset_(offset) {}
  grpc::ServerUnaryReactor* StatArtifact(grpc::CallbackServerContext* context,
                                         const v1::StatArtifactRequest* request,
                                         v1::StatArtifactResponse* response) override {
    response->mutable_artifact()->set_digest(request->digest());
    for (const std::string& path : paths_) {
      v1::ManifestEntry* entry = response->add_files();
      entry->set_relative_path(path);
      entry->set_size_bytes(5);
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  grpc::ServerWriteReactor<v1::ArtifactChunk>* FetchArtifact(
      grpc::CallbackServerContext*, const v1::FetchArtifactRequest*) override {
    class Writer final : public grpc::ServerWriteReactor<v1::ArtifactChunk> {
     public:
      Writer(const std::string& data, uint64_t offset) {
        chunk_.set_data(data);
        chunk_.set_offset(offset);
        chunk_.set_last(true);
        StartWrite(&chunk_);
      }
      void OnWriteDone(bool) override { Finish(grpc::Status::OK); }
      void OnDone() override { delete this; }

     private:
      v1::ArtifactChunk chunk_;
    };
    return new Writer(data_, offset_);
  }

 private:
  std::vector<std::string> paths_;
  std::string data_;
  uint64_t offset_;
};

TEST(FetchFromPeerTest, RefusesAManifestThatLeavesTheIncomingFolder) {
  TempDir dir;
  const std::string digest = "sha256:" + std::string(64, 'c');
  for (const std::string& bad : {std::string("../../../escaped.txt"),
                                 std::string("ok.txt\0/../escaped.txt", 22),
                                 std::string("/tmp/escaped.txt"), std::string()}) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<ArtifactStore> store,
                         ArtifactStore::Open(dir.Join("store"), 0));
    // The safe entry first: nothing may be written before every name is checked.
    HostilePeer peer({"ok.txt", bad});
    int port = 0;
    std::unique_ptr<grpc::Server> server = Serve(&peer, &port);
    ASSERT_NE(server, nullptr);
    absl::StatusOr<StoredArtifact> fetched =
        FetchFromPeer(*store, "127.0.0.1:" + std::to_string(port), CapabilityFor(digest),
                      digest, 0, grpc::InsecureChannelCredentials());
    EXPECT_THAT(fetched, StatusIs(absl::StatusCode::kInvalidArgument,
                                  HasSubstr("unsafe manifest")))
        << bad;
    server->Shutdown();
    EXPECT_FALSE(fs::exists(dir.Join("escaped.txt")));
    EXPECT_FALSE(fs::exists(dir.Join("store/escaped.txt")));
    EXPECT_FALSE(fs::exists(dir.Join("store/incoming/" + digest.substr(7) + "/ok.txt")));
    EXPECT_FALSE(store->Find(digest).has_value());
  }
}

}  // namespace
}  // namespace cohort::worker

namespace cohort::worker {
namespace {

// The disk-filling probes: a peer that writes far more than it announced,
// or at an offset far past the file's end (a sparse 4 GiB file), or whose
// manifest does not add up to the registered size. The fetch fails and
// the incoming file never grows past the announced 5 bytes.
TEST(FetchFromPeerTest, APeerCannotWriteMoreOrElsewhereThanItAnnounced) {
  const std::string digest = "sha256:" + std::string(64, 'e');
  struct Case {
    std::string data;
    uint64_t offset;
    uint64_t expected_size;
    const char* why;
  };
  const Case cases[] = {
      {std::string(1 << 20, 'x'), 0, 0, "where 0..5 at most were due"},
      {"abc", uint64_t{4} << 30, 0, "where 0..5 at most were due"},
      {"owned", 0, 4, "announced 5 bytes"},
  };
  for (const Case& c : cases) {
    TempDir dir;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<ArtifactStore> store,
                         ArtifactStore::Open(dir.Join("store"), 0));
    HostilePeer peer({"model.gguf"}, c.data, c.offset);
    int port = 0;
    std::unique_ptr<grpc::Server> server = Serve(&peer, &port);
    ASSERT_NE(server, nullptr);
    absl::StatusOr<StoredArtifact> fetched =
        FetchFromPeer(*store, "127.0.0.1:" + std::to_string(port), CapabilityFor(digest),
                      digest, c.expected_size, grpc::InsecureChannelCredentials());
    EXPECT_THAT(fetched, StatusIs(absl::StatusCode::kDataLoss, HasSubstr(c.why))) << c.why;
    server->Shutdown();
    std::error_code ec;
    const std::string file = dir.Join("store/incoming/" + digest.substr(7) + "/model.gguf");
    uint64_t size = fs::exists(file, ec) ? fs::file_size(file, ec) : 0;
    EXPECT_LE(size, 5u) << c.why;
    EXPECT_FALSE(store->Find(digest).has_value());
  }
}

}  // namespace
}  // namespace cohort::worker

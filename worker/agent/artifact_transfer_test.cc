// Peer artifact transfer with hostile names, both ways: a peer asking this
// worker's ArtifactService for paths outside an artifact, and a peer whose
// manifest names paths outside the fetching worker's incoming folder. Real
// gRPC on loopback ports, real stores on disk.
#include "worker/agent/artifact_transfer.h"

#include <filesystem>
#include <fstream>

#include "absl/time/clock.h"
#include "common/testing/status_matchers.h"
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

constexpr char kToken[] = "cht_worker_test";

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

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", std::string("Bearer ") + kToken);
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
    service_ = std::make_unique<ArtifactServiceImpl>(*store_, kToken);
    server_ = Serve(service_.get(), &port_);
    ASSERT_NE(server_, nullptr);
    stub_ = v1::ArtifactService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  // Every chunk of one fetch, and its final status.
  grpc::Status Fetch(const std::string& digest, const std::string& path, std::string* data) {
    v1::FetchArtifactRequest request;
    request.set_digest(digest);
    request.set_relative_path(path);
    auto context = Context();
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
    grpc::Status stat = stub_->StatArtifact(Context().get(), request, &response);
    EXPECT_EQ(stat.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << digest;
  }
}

// A peer that lists whatever manifest the test gives it and serves any
// file of it with fixed bytes.
class HostilePeer final : public v1::ArtifactService::CallbackService {
 public:
  explicit HostilePeer(std::vector<std::string> paths) : paths_(std::move(paths)) {}
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
      Writer() {
        chunk_.set_data("owned");
        chunk_.set_last(true);
        StartWrite(&chunk_);
      }
      void OnWriteDone(bool) override { Finish(grpc::Status::OK); }
      void OnDone() override { delete this; }

     private:
      v1::ArtifactChunk chunk_;
    };
    return new Writer();
  }

 private:
  std::vector<std::string> paths_;
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
        FetchFromPeer(*store, "127.0.0.1:" + std::to_string(port), kToken, digest,
                      grpc::InsecureChannelCredentials());
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

#include "worker/agent/artifact_transfer.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/errno_status.h"
#include "common/safe_path.h"
#include "common/sha256.h"
#include "common/transfer_capability.h"
#include "grpcpp/grpcpp.h"

namespace cohort::worker {
namespace {

namespace fs = std::filesystem;
constexpr uint32_t kDefaultChunk = 1 << 20;

grpc::Status ToGrpc(const absl::Status& s) {
  return s.ok() ? grpc::Status::OK
                : grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                               std::string(s.message()));
}

absl::Status FromGrpc(const grpc::Status& s, const std::string& context) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(context, ": ", s.error_message()));
}

// Streams one file from an offset; reads happen on the reaction thread in
// chunk-sized pieces (a local disk read of 1 MiB is far below a network
// write's cost).
class FileStreamer final : public grpc::ServerWriteReactor<v1::ArtifactChunk> {
 public:
  FileStreamer(const std::string& path, uint64_t offset, uint32_t chunk)
      : offset_(offset), chunk_(chunk == 0 ? kDefaultChunk : std::min(chunk, 4u << 20)) {
    fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      Finish(ToGrpc(ErrnoToStatus(errno, "opening artifact file")));
      return;
    }
    Next();
  }
  ~FileStreamer() override {
    if (fd_ >= 0) close(fd_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok || last_) {
      Finish(ok ? grpc::Status::OK : grpc::Status(grpc::StatusCode::UNAVAILABLE, "write"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    std::string data(chunk_, '\0');
    ssize_t n = pread(fd_, data.data(), data.size(), static_cast<off_t>(offset_));
    if (n < 0) {
      Finish(ToGrpc(ErrnoToStatus(errno, "reading artifact file")));
      return;
    }
    data.resize(static_cast<size_t>(n));
    chunk_msg_.set_offset(offset_);
    offset_ += static_cast<uint64_t>(n);
    last_ = static_cast<uint32_t>(n) < chunk_;
    chunk_msg_.set_last(last_);
    *chunk_msg_.mutable_data() = std::move(data);
    StartWrite(&chunk_msg_);
  }
  int fd_ = -1;
  uint64_t offset_;
  uint32_t chunk_;
  bool last_ = false;
  v1::ArtifactChunk chunk_msg_;
};

class Refused final : public grpc::ServerWriteReactor<v1::ArtifactChunk> {
 public:
  explicit Refused(const absl::Status& s) { Finish(ToGrpc(s)); }
  void OnDone() override { delete this; }
};

absl::Status CheckDigest(const std::string& digest) {
  if (IsDigest(digest)) return absl::OkStatus();
  std::string shown = digest.size() > 80 ? digest.substr(0, 80) + "..." : digest;
  return absl::InvalidArgumentError(absl::StrCat("digest '", absl::CHexEscape(shown),
                                                 "' is not sha256:<64 lowercase hex>"));
}

// At least this rate, or a transfer is cut: a peer trickling bytes cannot
// hold a step forever.
constexpr double kMinBytesPerSecond = 8 << 20;

absl::Duration TransferDeadline(uint64_t bytes) {
  return absl::Seconds(60) + absl::Seconds(static_cast<double>(bytes) / kMinBytesPerSecond);
}

std::unique_ptr<grpc::ClientContext> Context(const std::string& capability,
                                             absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", "Capability " + capability);
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

absl::Status FetchFile(v1::ArtifactService::Stub& stub, const std::string& capability,
                       const std::string& digest, const v1::ManifestEntry& entry,
                       const std::string& incoming) {
  fs::path target = fs::path(incoming) / entry.relative_path();
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  uint64_t have = fs::exists(target, ec) ? fs::file_size(target, ec) : 0;
  if (have > entry.size_bytes()) {
    fs::remove(target, ec);  // not a prefix of this file: start over
    have = 0;
  }
  if (have == entry.size_bytes() && have > 0) return absl::OkStatus();
  int fd = open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("creating ", target.string()));
  v1::FetchArtifactRequest request;
  request.set_digest(digest);
  request.set_relative_path(entry.relative_path());
  request.set_offset(have);
  auto context = Context(capability, TransferDeadline(entry.size_bytes() - have));
  auto reader = stub.FetchArtifact(context.get(), request);
  v1::ArtifactChunk chunk;
  absl::Status status;
  uint64_t next = have;
  while (reader->Read(&chunk)) {
    // Only the next bytes of the file, and none past its announced size: a
    // peer cannot write elsewhere (a sparse 4 GiB file) or more (512 MiB
    // for 10 bytes).
    if (chunk.offset() != next || chunk.data().size() > entry.size_bytes() - next) {
      status = absl::DataLossError(absl::StrCat(
          "peer sent bytes ", chunk.offset(), "..", chunk.offset() + chunk.data().size(),
          " of ", entry.relative_path(), " where ", next, "..", entry.size_bytes(),
          " at most were due"));
      context->TryCancel();
      break;
    }
    next += chunk.data().size();
    if (pwrite(fd, chunk.data().data(), chunk.data().size(),
               static_cast<off_t>(chunk.offset())) !=
        static_cast<ssize_t>(chunk.data().size())) {
      status = ErrnoToStatus(errno, absl::StrCat("writing ", target.string()));
      context->TryCancel();
      break;
    }
  }
  grpc::Status finished = reader->Finish();
  close(fd);
  if (!status.ok()) return status;
  return FromGrpc(finished, absl::StrCat("fetching ", entry.relative_path(), " of ", digest));
}

}  // namespace

void ArtifactServiceImpl::SetTransferKey(const std::string& key) {
  absl::MutexLock lock(&mu_);
  transfer_key_ = key;
}

absl::Status ArtifactServiceImpl::Authorize(const grpc::CallbackServerContext* context,
                                            const std::string& digest) const {
  std::string key;
  {
    absl::MutexLock lock(&mu_);
    key = transfer_key_;
  }
  if (key.empty()) return absl::UnavailableError("this worker has not registered yet");
  constexpr absl::string_view kScheme = "Capability ";
  auto it = context->client_metadata().find("authorization");
  absl::string_view presented;
  if (it != context->client_metadata().end()) {
    presented = absl::string_view(it->second.data(), it->second.size());
  }
  if (!absl::ConsumePrefix(&presented, kScheme)) presented = "";
  return CheckCapability(key, presented, digest, absl::Now());
}

grpc::ServerUnaryReactor* ArtifactServiceImpl::StatArtifact(
    grpc::CallbackServerContext* context, const v1::StatArtifactRequest* request,
    v1::StatArtifactResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status s = CheckDigest(request->digest()); !s.ok()) {
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  if (absl::Status s = Authorize(context, request->digest()); !s.ok()) {
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  std::optional<StoredArtifact> stored = store_.Find(request->digest());
  if (!stored.has_value()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                 "artifact " + request->digest() + " is not here"));
    return reactor;
  }
  absl::StatusOr<std::vector<ManifestEntry>> manifest = BuildManifest(stored->path);
  if (!manifest.ok()) {
    reactor->Finish(ToGrpc(manifest.status()));
    return reactor;
  }
  response->mutable_artifact()->set_digest(stored->digest);
  response->mutable_artifact()->set_size_bytes(stored->size_bytes);
  response->mutable_artifact()->set_is_folder(true);
  for (const ManifestEntry& e : *manifest) {
    v1::ManifestEntry* out = response->add_files();
    out->set_relative_path(e.relative_path);
    out->set_size_bytes(e.size);
    out->set_sha256(e.sha256);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<v1::ArtifactChunk>* ArtifactServiceImpl::FetchArtifact(
    grpc::CallbackServerContext* context, const v1::FetchArtifactRequest* request) {
  if (absl::Status s = CheckDigest(request->digest()); !s.ok()) return new Refused(s);
  if (absl::Status s = Authorize(context, request->digest()); !s.ok()) return new Refused(s);
  // Refuse a path that could leave the artifact with the reason, before any
  // lookup; the manifest match below is the second line of defence.
  if (absl::Status s = CheckRelativePath(request->relative_path(), "relative_path");
      !s.ok()) {
    return new Refused(s);
  }
  std::optional<StoredArtifact> stored = store_.Find(request->digest());
  if (!stored.has_value()) {
    return new Refused(absl::NotFoundError("artifact " + request->digest() + " is not here"));
  }
  // Serve only names the manifest lists.
  absl::StatusOr<std::vector<ManifestEntry>> manifest = BuildManifest(stored->path);
  if (!manifest.ok()) return new Refused(manifest.status());
  for (const ManifestEntry& e : *manifest) {
    if (e.relative_path == request->relative_path()) {
      return new FileStreamer((fs::path(stored->path) / e.relative_path).string(),
                              request->offset(), request->chunk_bytes());
    }
  }
  return new Refused(absl::InvalidArgumentError(
      absl::StrCat("'", request->relative_path(), "' is not a file of ", request->digest())));
}

absl::StatusOr<StoredArtifact> FetchFromPeer(
    ArtifactStore& store, const std::string& endpoint, const std::string& capability,
    const std::string& digest, uint64_t expected_size,
    std::shared_ptr<grpc::ChannelCredentials> credentials) {
  if (std::optional<StoredArtifact> have = store.Find(digest)) return *have;
  auto channel = grpc::CreateChannel(endpoint, std::move(credentials));
  auto stub = v1::ArtifactService::NewStub(channel);
  v1::StatArtifactRequest stat_request;
  stat_request.set_digest(digest);
  v1::StatArtifactResponse manifest;
  auto context = Context(capability, absl::Seconds(30));
  grpc::Status stat = stub->StatArtifact(context.get(), stat_request, &manifest);
  if (!stat.ok()) {
    return FromGrpc(stat, absl::StrCat("asking ", endpoint, " for ", digest));
  }
  absl::StatusOr<std::string> incoming = store.IncomingDir(digest);
  if (!incoming.ok()) return incoming.status();
  // Check every name and the sizes the peer sent before writing anything.
  uint64_t announced = 0;
  for (const v1::ManifestEntry& entry : manifest.files()) {
    if (entry.size_bytes() > (uint64_t{1} << 50) - announced) {
      return absl::DataLossError(absl::StrCat("peer ", endpoint, " announced an absurd size"));
    }
    announced += entry.size_bytes();
  }
  if (expected_size != 0 && announced != expected_size) {
    return absl::DataLossError(absl::StrCat("peer ", endpoint, " announced ", announced,
                                            " bytes for ", digest, ", registered with ",
                                            expected_size));
  }
  for (const v1::ManifestEntry& entry : manifest.files()) {
    if (absl::Status s = CheckRelativePath(entry.relative_path(), "relative_path");
        !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("peer ", endpoint, " sent an unsafe manifest for ", digest, ": ",
                       s.message()));
    }
  }
  for (const v1::ManifestEntry& entry : manifest.files()) {
    absl::Status s = FetchFile(*stub, capability, digest, entry, *incoming);
    if (!s.ok()) return s;
  }
  return store.CommitIncoming(digest);
}

}  // namespace cohort::worker

// File: perf_support.h
//
// What the benchmarks against a real cohortd share (coordinator_perf,
// dashboard_perf): simulated workers, many worker ids on a few gRPC
// channels driven by one heartbeat thread and asynchronous lease polls (so
// 1,000 of them cost the client little), and cohortd's CPU time.
#ifndef COHORT_TESTS_PERF_PERF_SUPPORT_H_
#define COHORT_TESTS_PERF_PERF_SUPPORT_H_

#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "cohort/v1/worker.grpc.pb.h"
#include "common/atomic_file.h"
#include "tests/integration/cohortd_process.h"

namespace cohort {

// CPU seconds (user + system) used so far by the process whose command line
// mentions `needle` and starts with cohortd; -1 when not found.
inline double CohortdCpuSeconds(const std::string& needle) {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return -1;
  double seconds = -1;
  while (dirent* entry = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    // "" for a process that ended meanwhile.
    std::string cmdline =
        ReadFileToString(absl::StrCat("/proc/", pid, "/cmdline")).value_or("");
    if (cmdline.find("cohortd") == std::string::npos ||
        cmdline.find(needle) == std::string::npos ||
        cmdline.find("token") != std::string::npos) {
      continue;
    }
    std::string text = ReadFileToString(absl::StrCat("/proc/", pid, "/stat")).value_or("");
    size_t paren = text.rfind(')');
    if (paren == std::string::npos || paren + 2 > text.size()) continue;
    std::vector<std::string> fields = absl::StrSplit(text.substr(paren + 2), ' ');
    // fields[0] is the state (field 3); utime and stime are fields 14, 15.
    double utime = 0, stime = 0;
    if (fields.size() > 13 && absl::SimpleAtod(fields[11], &utime) &&
        absl::SimpleAtod(fields[12], &stime)) {
      seconds = (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
  }
  closedir(proc);
  return seconds;
}

// 1,000 simulated workers: heartbeats every `interval` spread evenly, and one
// parked lease poll each, re-issued as soon as it returns empty. A worker
// that receives a lease stays busy with it (polls no more) and, with
// ReportProgress, says in each heartbeat how far it got (one more problem
// done each time), as a worker running a bench does.
class WorkerSwarm {
 public:
  WorkerSwarm(std::vector<std::shared_ptr<grpc::Channel>> channels,
              std::string token, int workers)
      : token_(std::move(token)), workers_(workers) {
    for (auto& c : channels) stubs_.push_back(v1::WorkerGateway::NewStub(c));
  }
  ~WorkerSwarm() { Stop(); }

  static std::string Id(int i) { return absl::StrCat("sim-", i); }

  void Register() {
    for (int i = 0; i < workers_; ++i) {
      v1::RegisterRequest request;
      request.mutable_worker()->set_id(Id(i));
      request.mutable_worker()->set_hostname("sim");
      v1::RegisterResponse response;
      grpc::Status s = Stub(i).Register(testing::CohortdProcess::Context(token_).get(),
                                        request, &response);
      if (!s.ok()) std::fprintf(stderr, "register: %s\n", s.error_message().c_str());
    }
  }

  void StartPolling() {
    for (int i = 0; i < workers_; ++i) Poll(i);
  }

  void StartHeartbeats(absl::Duration interval) {
    heartbeats_ = std::thread([this, interval] {
      absl::Duration gap = interval / workers_;
      absl::Time next = absl::Now();
      for (int i = 0; !stopping_.load(); i = (i + 1) % workers_) {
        next += gap;
        absl::SleepFor(next - absl::Now());
        Heartbeat(i);
      }
    });
  }

  // Called (on a gRPC thread) with the lease a waiting worker received.
  void OnLease(std::function<void(const v1::Lease&)> fn) {
    absl::MutexLock lock(&mu_);
    on_lease_ = std::move(fn);
  }

  void Stop() {
    if (stopping_.exchange(true)) return;
    if (heartbeats_.joinable()) heartbeats_.join();
    // Cancel every parked poll and wait for the callbacks.
    {
      absl::MutexLock lock(&mu_);
      for (grpc::ClientContext* c : polls_) c->TryCancel();
      mu_.Await(absl::Condition(
          +[](int* n) { return *n == 0; }, &in_flight_));
    }
  }

  std::vector<double> TakeHeartbeatMillis() {
    absl::MutexLock lock(&mu_);
    return std::move(heartbeat_ms_);
  }
  std::vector<v1::Lease> Leases() {
    absl::MutexLock lock(&mu_);
    return leases_;
  }
  int parked() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(polls_.size());
  }
  int errors() { return errors_.load(); }
  void ReportProgress(bool on) { report_progress_.store(on); }

 private:
  v1::WorkerGateway::Stub& Stub(int i) { return *stubs_[i % stubs_.size()]; }

  struct PollCall {
    std::unique_ptr<grpc::ClientContext> context;
    v1::LeaseRequest request;
    v1::LeaseResponse response;
  };

  void Poll(int i) {
    if (stopping_.load()) return;
    auto* call = new PollCall;
    call->context = testing::CohortdProcess::Context(token_, absl::Seconds(25));
    call->request.set_worker_id(Id(i));
    call->request.set_free_slots(1);
    call->request.set_free_disk_bytes(1ull << 40);
    call->request.set_wait_ms(20000);
    {
      absl::MutexLock lock(&mu_);
      polls_.insert(call->context.get());
      ++in_flight_;
    }
    Stub(i).async()->Lease(call->context.get(), &call->request, &call->response,
                           [this, i, call](grpc::Status s) {
                             std::function<void(const v1::Lease&)> fn;
                             {
                               absl::MutexLock lock(&mu_);
                               polls_.erase(call->context.get());
                               fn = on_lease_;
                               for (const v1::Lease& l : call->response.leases()) {
                                 leases_.push_back(l);
                                 held_[i] = l;
                               }
                             }
                             if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED) {
                               ++errors_;
                             }
                             for (const v1::Lease& l : call->response.leases()) {
                               if (fn) fn(l);
                             }
                             // A worker that got a lease is busy running
                             // it; an idle one polls again at once.
                             bool again = s.ok() && call->response.leases_size() == 0;
                             delete call;
                             if (again) Poll(i);
                             absl::MutexLock lock(&mu_);
                             --in_flight_;
                           });
  }

  struct HeartbeatCall {
    std::unique_ptr<grpc::ClientContext> context;
    v1::HeartbeatRequest request;
    v1::HeartbeatResponse response;
    absl::Time start;
  };

  void Heartbeat(int i) {
    auto* call = new HeartbeatCall;
    call->context = testing::CohortdProcess::Context(token_, absl::Seconds(5));
    call->request.set_worker_id(Id(i));
    call->request.set_free_disk_bytes(1ull << 40);
    call->start = absl::Now();
    {
      absl::MutexLock lock(&mu_);
      ++in_flight_;
      auto held = held_.find(i);
      if (report_progress_.load() && held != held_.end()) {
        v1::LeaseStatus* status = call->request.add_leases();
        status->set_lease_id(held->second.lease_id());
        status->set_epoch(held->second.epoch());
        v1::StepProgress* progress = status->mutable_progress();
        progress->set_done(++done_[i]);
        progress->set_total(1000000);
        progress->set_unit("problems");
      }
    }
    Stub(i).async()->Heartbeat(call->context.get(), &call->request, &call->response,
                               [this, call](grpc::Status s) {
                                 double ms = absl::ToDoubleMilliseconds(absl::Now() -
                                                                        call->start);
                                 if (!s.ok()) ++errors_;
                                 delete call;
                                 absl::MutexLock lock(&mu_);
                                 if (s.ok()) heartbeat_ms_.push_back(ms);
                                 --in_flight_;
                               });
  }

  std::string token_;
  int workers_;
  std::vector<std::unique_ptr<v1::WorkerGateway::Stub>> stubs_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> errors_{0};
  std::atomic<bool> report_progress_{false};
  std::thread heartbeats_;
  absl::Mutex mu_;
  std::set<grpc::ClientContext*> polls_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<double> heartbeat_ms_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::Lease> leases_ ABSL_GUARDED_BY(mu_);
  std::function<void(const v1::Lease&)> on_lease_ ABSL_GUARDED_BY(mu_);
  std::map<int, v1::Lease> held_ ABSL_GUARDED_BY(mu_);   // worker -> its lease
  std::map<int, uint64_t> done_ ABSL_GUARDED_BY(mu_);    // worker -> problems done
};

}  // namespace cohort

#endif  // COHORT_TESTS_PERF_PERF_SUPPORT_H_

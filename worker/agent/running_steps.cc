#include "worker/agent/running_steps.h"

#include <optional>
#include <utility>

#include "common/utf8.h"
#include "spdlog/spdlog.h"

namespace cohort::worker {

RunningSteps::~RunningSteps() {
  CancelAll();
  WaitAllFinished(absl::InfiniteFuture());
  Reap();
}

RunningSteps::Step* RunningSteps::Launch(const v1::Lease& lease,
                                         std::function<void(Step*)> run) {
  absl::MutexLock lock(&mu_);
  if (steps_.count(lease.lease_id()) != 0) {
    // Replacing the entry would destroy a step whose thread still runs.
    spdlog::warn("lease {} granted twice: the second grant is ignored", lease.lease_id());
    return nullptr;
  }
  auto step = std::make_unique<Step>();
  step->lease = lease;
  uint32_t wanted = lease.step().requirements().gpus();
  if (std::optional<std::vector<uint32_t>> gpus = gpu_slots_.Acquire(wanted)) {
    step->gpus = *std::move(gpus);
  } else {
    // Run it without a card of its own rather than on another step's.
    spdlog::warn("{} asks for {} GPU(s), {} free: it runs with none",
                 lease.step().display_name(), wanted, gpu_slots_.free());
  }
  Step* raw = step.get();
  steps_[lease.lease_id()].step = std::move(step);
  // Started under the lock: `run` may call back at once and then waits for it.
  raw->thread = std::thread([run = std::move(run), raw] { run(raw); });
  return raw;
}

void RunningSteps::Finish(Step* step) {
  absl::MutexLock lock(&mu_);
  auto it = steps_.find(step->lease.lease_id());
  if (it == steps_.end() || it->second.finished) return;
  it->second.finished = true;
  gpu_slots_.Release(step->gpus);
}

void RunningSteps::Reap() {
  std::vector<std::unique_ptr<Step>> finished;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = steps_.begin(); it != steps_.end();) {
      if (it->second.finished) {
        finished.push_back(std::move(it->second.step));
        it = steps_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& step : finished) {
    if (step->thread.joinable()) step->thread.join();
  }
}

void RunningSteps::SetProgress(const Step* step, const TaskProgress& progress) {
  absl::MutexLock lock(&mu_);
  auto it = steps_.find(step->lease.lease_id());
  if (it != steps_.end()) it->second.progress = progress;
}

void RunningSteps::AddStatuses(v1::HeartbeatRequest* request) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, entry] : steps_) {
    if (entry.finished) continue;
    v1::LeaseStatus* lease = request->add_leases();
    lease->set_lease_id(id);
    lease->set_epoch(entry.step->lease.epoch());
    v1::StepProgress* progress = lease->mutable_progress();
    progress->set_done(entry.progress.done);
    progress->set_total(entry.progress.total);
    progress->set_passed(entry.progress.passed);
    progress->set_unit(entry.progress.unit);
    // Bounded: cohortd refuses a heartbeat carrying longer texts.
    progress->set_message(Utf8Prefix(ValidUtf8(entry.progress.message), 1024));
    for (uint32_t gpu : entry.step->gpus) progress->add_gpus(gpu);
  }
}

void RunningSteps::Revoke(const std::vector<std::string>& lease_ids) {
  absl::MutexLock lock(&mu_);
  for (const std::string& id : lease_ids) {
    auto it = steps_.find(id);
    if (it == steps_.end() || it->second.finished) continue;
    spdlog::warn("lease {} revoked; stopping its step", id);
    it->second.step->cancel.store(true);
  }
}

bool RunningSteps::Holds(const std::string& lease_id) const {
  absl::MutexLock lock(&mu_);
  return steps_.count(lease_id) != 0;
}

uint32_t RunningSteps::Unfinished() const {
  absl::MutexLock lock(&mu_);
  return UnfinishedLocked();
}

uint32_t RunningSteps::UnfinishedLocked() const {
  uint32_t n = 0;
  for (const auto& [id, entry] : steps_) n += entry.finished ? 0 : 1;
  return n;
}

uint32_t RunningSteps::FreeGpus() const {
  absl::MutexLock lock(&mu_);
  return gpu_slots_.free();
}

bool RunningSteps::IsEarlierAttempt(const Entry& entry, const Step* step) {
  // Only earlier epochs: two attempts never wait for each other.
  return entry.step.get() != step && !entry.finished &&
         entry.step->lease.step().key() == step->lease.step().key() &&
         entry.step->lease.epoch() < step->lease.epoch();
}

void RunningSteps::StopEarlierAttempts(const Step* step) {
  absl::MutexLock lock(&mu_);
  for (auto& [id, entry] : steps_) {
    if (IsEarlierAttempt(entry, step)) entry.step->cancel.store(true);
  }
  // Re-evaluated whenever the mutex is released, so each Finish wakes it.
  auto none = [this, step]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& [id, entry] : steps_) {
      if (IsEarlierAttempt(entry, step)) return false;
    }
    return true;
  };
  mu_.Await(absl::Condition(&none));
}

bool RunningSteps::WaitForFreeSlot(uint32_t slots) {
  absl::MutexLock lock(&mu_);
  auto ready = [this, slots]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return draining_ || UnfinishedLocked() < slots;
  };
  mu_.Await(absl::Condition(&ready));
  return !draining_;
}

bool RunningSteps::PauseUnlessDraining(absl::Duration pause) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&draining_), pause);
  return draining_;
}

void RunningSteps::BeginDrain() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
}

bool RunningSteps::WaitAllFinished(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto none = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return UnfinishedLocked() == 0; };
  return mu_.AwaitWithDeadline(absl::Condition(&none), deadline);
}

std::vector<v1::Lease> RunningSteps::CancelAll() {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Lease> cancelled;
  for (auto& [id, entry] : steps_) {
    if (entry.finished) continue;
    entry.step->cancel.store(true);
    cancelled.push_back(entry.step->lease);
  }
  return cancelled;
}

}  // namespace cohort::worker

// File: pool.h
//
// The parallel execution pool of the code benches: runs fn(0..n-1) on up
// to `workers` threads, each index exactly once, and returns when all are
// done. Each call to fn typically starts one sandbox, so the useful size is
// the number of cores (DefaultWorkers). Verdicts do not depend on the pool
// size: time limits are CPU-time limits (sandbox.h).
#ifndef COHORT_WORKER_SANDBOX_POOL_H_
#define COHORT_WORKER_SANDBOX_POOL_H_

#include <cstddef>
#include <functional>

namespace cohort::worker::sandbox {

// std::thread::hardware_concurrency(), at least 1; the environment variable
// COHORT_SANDBOX_WORKERS overrides it.
int DefaultWorkers();

void ParallelFor(size_t n, int workers, const std::function<void(size_t)>& fn);

}  // namespace cohort::worker::sandbox

#endif  // COHORT_WORKER_SANDBOX_POOL_H_

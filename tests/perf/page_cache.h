// File: page_cache.h
//
// Cold reads for the benchmarks (prune_perf, dashboard_perf): writes files
// back and evicts them from the kernel's page cache (posix_fadvise; this VM
// refuses /proc/sys/vm/drop_caches even to root), and measures how much of
// them is resident (mincore), so a table can say "0% resident" instead of
// assuming it. A path is a file or a folder (every regular file under it).
#ifndef COHORT_TESTS_PERF_PAGE_CACHE_H_
#define COHORT_TESTS_PERF_PAGE_CACHE_H_

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace cohort {

namespace page_cache_internal {

inline void ForEachFile(const std::string& path,
                        const std::function<void(const std::filesystem::path&)>& fn) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    fn(path);
    return;
  }
  for (const auto& e : fs::recursive_directory_iterator(path, ec)) {
    if (e.is_regular_file()) fn(e.path());
  }
}

}  // namespace page_cache_internal

// Writes back and evicts `path` (a file, or every file under a folder).
inline void EvictFromCache(const std::string& path) {
  page_cache_internal::ForEachFile(path, [](const std::filesystem::path& file) {
    int fd = open(file.c_str(), O_RDONLY);
    if (fd < 0) return;
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
  });
}

// Fraction of the pages of `path` resident in the page cache.
inline double ResidentFraction(const std::string& path) {
  uint64_t pages = 0, resident = 0;
  const long page = sysconf(_SC_PAGESIZE);
  page_cache_internal::ForEachFile(path, [&](const std::filesystem::path& file) {
    std::error_code ec;
    const uintmax_t size = std::filesystem::file_size(file, ec);
    if (ec || size == 0) return;
    int fd = open(file.c_str(), O_RDONLY);
    if (fd < 0) return;
    void* map = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return;
    std::vector<unsigned char> vec((size + page - 1) / page);
    if (mincore(map, size, vec.data()) == 0) {
      for (unsigned char v : vec) resident += v & 1;
      pages += vec.size();
    }
    munmap(map, size);
  });
  return pages == 0 ? 0 : static_cast<double>(resident) / static_cast<double>(pages);
}

}  // namespace cohort

#endif  // COHORT_TESTS_PERF_PAGE_CACHE_H_

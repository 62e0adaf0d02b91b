//===- Weights.cpp - mapping the weights appended to the executable -------===//

#include "tern/Runtime/Weights.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

// The region the code addresses, and its size (absent in other programs).
extern "C" char tern_weights_region[] __attribute__((weak));
extern "C" const uint64_t tern_weights_region_size __attribute__((weak));
// Weights the linker placed (objects and libraries keep them in a section).
extern "C" char __start_tern_weights[] __attribute__((weak));
extern "C" char __stop_tern_weights[] __attribute__((weak));

using tern::kHugePage;

namespace {

uint64_t readLE64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = v << 8 | p[i];
  return v;
}

void prefault(const char *begin, const char *end) {
  if (!begin || end <= begin)
    return;
  uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  uintptr_t first = uintptr_t(begin) & ~(page - 1);
  if (madvise(reinterpret_cast<void *>(first), uintptr_t(end) - first,
              MADV_POPULATE_READ) == 0)
    return;
  volatile char sink = 0; // older kernels: touch one byte per page
  for (uintptr_t p = first; p < uintptr_t(end); p += page)
    sink = sink + *reinterpret_cast<const char *>(p);
}

/// Whether Linux backs anonymous memory with huge pages where asked
/// (transparent_hugepage "always" or "madvise"): without them a copy would
/// only double the memory.
bool hugePagesLent() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  std::getline(in, mode);
  return mode.find("[always]") != std::string::npos ||
         mode.find("[madvise]") != std::string::npos;
}

/// Replaces the mapping at `region` (huge-page aligned) by a copy of its
/// bytes in huge pages. False, the mapping unchanged, where that fails.
bool copyToHugePages(char *region, uint64_t size) {
  if (uintptr_t(region) % kHugePage || size < kHugePage || !hugePagesLent())
    return false;
  // A huge-page aligned block of fresh memory: over-allocate, trim. Memory
  // the system will not commit is refused here (the mapping stays), not
  // when the copy touches it.
  uint64_t span = size + kHugePage;
  void *raw = mmap(nullptr, span, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED)
    return false;
  uintptr_t start = uintptr_t(raw),
            aligned = (start + kHugePage - 1) & ~uintptr_t(kHugePage - 1);
  if (aligned > start)
    munmap(raw, aligned - start);
  if (start + span > aligned + size)
    munmap(reinterpret_cast<void *>(aligned + size),
           start + span - (aligned + size));
  char *copy = reinterpret_cast<char *>(aligned);
  madvise(copy, size, MADV_HUGEPAGE);
  // The copy runs at memory speed on several threads (the source pages
  // fault in from the page cache or the disk as they are read).
  unsigned threads = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  uint64_t share = (size / threads + kHugePage - 1) & ~(kHugePage - 1);
  std::vector<std::thread> team;
  for (uint64_t from = 0; from < size; from += share)
    team.emplace_back([=] {
      std::memcpy(copy + from, region + from, std::min(share, size - from));
    });
  for (std::thread &t : team)
    t.join();
  // Over the mapped image, atomically; then the file's pages are only
  // page cache, which the system may reclaim.
  if (mprotect(copy, size, PROT_READ) != 0 ||
      mremap(copy, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, region) ==
          MAP_FAILED) {
    munmap(copy, size);
    return false;
  }
  return true;
}

} // namespace

bool tern::rt::mapWeights(const char *argv0, std::string &error) {
  if (!tern_weights_region || !&tern_weights_region_size)
    return true;
  uint64_t size = tern_weights_region_size;
  auto broken = [&](const std::string &what) {
    error = std::string(argv0 ? argv0 : "this executable") + ": " + what;
    return false;
  };
  // The running file itself, wherever it was started from.
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return broken(std::string("cannot open the executable to map its "
                              "weights: ") +
                  std::strerror(errno));
  struct stat st;
  unsigned char trailer[kWeightsTrailerSize];
  bool found =
      fstat(fd, &st) == 0 && uint64_t(st.st_size) >= sizeof(trailer) &&
      pread(fd, trailer, sizeof(trailer), st.st_size - sizeof(trailer)) ==
          ssize_t(sizeof(trailer)) &&
      std::memcmp(trailer, kWeightsMagic, 8) == 0;
  if (!found) {
    close(fd);
    return broken("the model's weights are missing from the end of the "
                  "executable (was it truncated, or stripped? strip removes "
                  "the weights ternc appends after linking)");
  }
  uint64_t offset = readLE64(trailer + 8), stored = readLE64(trailer + 16);
  uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  if (stored != size || offset % page != 0 ||
      uintptr_t(tern_weights_region) % page != 0 ||
      offset + size + sizeof(trailer) != uint64_t(st.st_size)) {
    close(fd);
    return broken("the weights appended to the executable do not match its "
                  "code (" +
                  std::to_string(stored) + " bytes at offset " +
                  std::to_string(offset) + "; the code expects " +
                  std::to_string(size) + ")");
  }
  void *mapped = mmap(tern_weights_region, size, PROT_READ,
                      MAP_PRIVATE | MAP_FIXED, fd, off_t(offset));
  int mapErrno = errno;
  close(fd);
  if (mapped == MAP_FAILED)
    return broken(std::string("cannot map the model's weights: ") +
                  std::strerror(mapErrno));
  return true;
}

bool tern::rt::loadWeights(bool copy) {
  prefault(__start_tern_weights, __stop_tern_weights);
  if (!tern_weights_region || !&tern_weights_region_size)
    return false;
  char *begin = tern_weights_region;
  uint64_t size = tern_weights_region_size;
  if (!copy || !copyToHugePages(begin, size)) {
    prefault(begin, begin + size);
    return false;
  }
  return true;
}

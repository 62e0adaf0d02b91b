//===- Cuda.h - The CUDA driver API, opened at run time ---------*- C++ -*-===//
//
// Executables for NVIDIA GPUs load libcuda.so.1 with dlopen when they start:
// building them, and shipping them, needs no CUDA toolkit, and on a machine
// without the driver or a GPU they stop with one line saying which.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_RUNTIME_CUDA_H
#define TERN_RUNTIME_CUDA_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tern::rt {

class CudaDriver {
public:
  ~CudaDriver();

  /// Opens `library`, initializes the driver and makes the primary context
  /// of device 0 current. On failure returns null and sets `error` to one
  /// line: no driver (the library is missing or lacks the API), no device,
  /// or the driver's own error.
  static std::unique_ptr<CudaDriver> open(std::string &error,
                                          const char *library = "libcuda.so.1");

  const std::string &deviceName() const { return name; }
  /// Compute capability as in sm_XY: 10 * major + minor.
  int computeCapability() const { return capability; }

  /// Loads a PTX or cubin image; false with `error` on failure (a PTX the
  /// driver cannot JIT for this GPU, a cubin for another architecture).
  bool loadModule(const void *image, std::string &error);
  /// A kernel of the loaded module, or null with `error`.
  void *kernel(const char *name, std::string &error);
  /// Launches `kernel` on grid x block threads with `args` (pointers to the
  /// argument values) on the default stream, whose work runs in order;
  /// `wait` also waits for it to finish.
  bool launch(void *kernel, unsigned gridX, unsigned gridY, unsigned blockX,
              void **args, std::string &error, bool wait = true);
  /// Device memory.
  uint64_t alloc(size_t bytes, std::string &error);
  bool copyToDevice(uint64_t to, const void *from, size_t bytes,
                    std::string &error);
  bool copyToHost(void *to, uint64_t from, size_t bytes, std::string &error);
  /// A copy in any direction (unified addressing tells host from device
  /// pointers); it waits for the kernels launched before it.
  bool copy(void *to, const void *from, size_t bytes, std::string &error);
  void free(uint64_t pointer);

  /// CUDA graphs (driver 11.4 or newer): false where the driver lacks them.
  bool hasGraphs() const;
  struct Launch {
    void *kernel;
    unsigned gridX, gridY, blockX;
    void **args;
  };
  /// An executable graph of `launches`, each after the one before; null
  /// with `error` on failure.
  void *buildGraph(const std::vector<Launch> &launches, std::string &error);
  bool launchGraph(void *graph, std::string &error);
  void destroyGraph(void *graph);

private:
  struct Api;
  CudaDriver() = default;
  bool check(int result, const char *call, std::string &error) const;

  void *handle = nullptr;
  std::unique_ptr<Api> api;
  void *context = nullptr, *module = nullptr;
  int device = 0, capability = 0;
  std::string name;
};

} // namespace tern::rt

#endif // TERN_RUNTIME_CUDA_H

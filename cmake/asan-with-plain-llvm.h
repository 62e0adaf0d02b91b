/*===- asan-with-plain-llvm.h - ASan code on uninstrumented LLVM ----------===
 *
 * Force-included (-include) into every C++ file of a TERN_SANITIZE build.
 * Debian's LLVM and MLIR libraries are not built with AddressSanitizer, but
 * LLVM's headers see -fsanitize=address in our files and switch their
 * allocators (BumpPtrAllocator, Recycler, json::Value) to poison the memory
 * they hand out until it is allocated; the library half of the same
 * allocator then returns poisoned memory, and ASan reports a
 * use-after-poison inside MLIR. Our files see the allocators the libraries
 * were built with: no poisoning, no red zones. (ASan still checks every
 * access our code makes to heap, stack and globals.)
 *===----------------------------------------------------------------------===*/
#if defined(__has_feature)
#if __has_feature(address_sanitizer) /* not in -fno-sanitize=all files */
#include "llvm/Support/Compiler.h"
#include <sanitizer/asan_interface.h>
#undef LLVM_ADDRESS_SANITIZER_BUILD
#define LLVM_ADDRESS_SANITIZER_BUILD 0
#define __asan_poison_memory_region(p, size) ((void)(p), (void)(size))
#define __asan_unpoison_memory_region(p, size) ((void)(p), (void)(size))
#endif
#endif

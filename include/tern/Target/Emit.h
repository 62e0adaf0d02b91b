//===- Emit.h - LLVM IR, objects, executables and libraries -----*- C++ -*-===//

#ifndef TERN_TARGET_EMIT_H
#define TERN_TARGET_EMIT_H

#include "tern/Runtime/Weights.h"
#include "tern/Target/Target.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

#include <vector>

namespace mlir::tern {

/// Name of the object-file section that holds the packed weights. A C
/// identifier, so that the linker defines __start_tern_weights and
/// __stop_tern_weights for the runtime.
inline constexpr const char *kWeightsSection = "tern_weights";

using ::tern::kRegionAlign;
using ::tern::kWeightsMagic;
using ::tern::kWeightsRegion;
using ::tern::kWeightsRegionSize;
using ::tern::kWeightsTrailerSize;
using ::tern::regionAlignFor;

/// Each weight's alignment, in kWeightsSection and in kWeightsRegion.
inline constexpr uint64_t kWeightAlign = 64;

/// An executable's weights, kept out of LLVM and the link and appended to
/// the executable afterwards in the form tern/Runtime/Weights.h describes.
struct WeightImage {
  struct Piece {
    uint64_t offset;      // in the region
    ArrayRef<char> bytes; // the weight's blob, alive until released
    Attribute value;      // that blob's attribute, to release after writing
  };
  std::vector<Piece> pieces;
  uint64_t regionSize = 0;

  /// Takes every weight global whose data is a blob out of `module` (LLVM
  /// dialect), pointing its uses into kWeightsRegion instead.
  static WeightImage detach(ModuleOp module);

  /// Appends the region's image and the trailer to the executable at `path`.
  llvm::Error appendTo(llvm::StringRef path) const;
};

/// Translates a module in the LLVM dialect to LLVM IR for `target`, places the
/// weight globals in kWeightsSection and runs LLVM's -O pipeline.
llvm::Expected<std::unique_ptr<llvm::Module>>
translateAndOptimize(mlir::ModuleOp module, llvm::LLVMContext &context,
                     const ResolvedTarget &target, unsigned optLevel);

/// Writes assembly (`assembly` = true) or an object file for `module`.
llvm::Error emitMachineCode(llvm::Module &module, const ResolvedTarget &target,
                            bool assembly, llvm::raw_pwrite_stream &os);

/// Links `objectPath` with the Tern runtime into an executable at `output`:
/// for the host, or for AArch64 Linux with Debian's cross sysroot;
/// `staticLink` links libc statically too; `tsanRuntime` links the host
/// runtime built with ThreadSanitizer (libTernRuntimeTsan.a).
llvm::Error linkExecutable(llvm::StringRef objectPath, llvm::StringRef output,
                           const ResolvedTarget &target, llvm::StringRef argv0,
                           bool staticLink = false, bool tsanRuntime = false);

/// Writes a static library at `archivePath` holding `objectPath` and the
/// runtime parts it calls (the thread team; with `gpu`, the NVIDIA runtime),
/// then the C header declaring the model entry points at `headerPath`.
llvm::Error writeLibrary(llvm::StringRef objectPath,
                         llvm::StringRef archivePath,
                         llvm::StringRef headerPath,
                         const ResolvedTarget &target, llvm::StringRef argv0,
                         bool gpu = false);

} // namespace mlir::tern

#endif // TERN_TARGET_EMIT_H

//===- KernelFamilies.h - the registry of kernel families -------*- C++ -*-===//
//
// One table names every family of kernels Tern generates. `--kernels`,
// `--list-targets`, `--help`, the CPU feature checks, `tern-set-target` and
// the kernel lowering all read it: a new family is one row here plus its
// code in lib/Target/<Target>/.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_TARGET_KERNELFAMILIES_H
#define TERN_TARGET_KERNELFAMILIES_H

#include "Tern/IR/TernOps.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Triple.h"

#include <string>

namespace mlir::tern {

struct ResolvedTarget;

/// The architecture a family's instructions belong to.
enum class KernelArch {
  Any,     ///< portable code: every CPU target
  X86,     ///< lib/Target/X86
  AArch64, ///< lib/Target/AArch64
  NVPTX,   ///< lib/Target/NVPTX
};

/// How the kernel lowering generates a family's code.
enum class KernelMode {
  CPU,         ///< kernel functions run on the CPU's thread team
  GPUArith,    ///< CPU kernels whose ternary matmuls compute the NVIDIA
               ///< kernels' arithmetic on gpu_w2 weights (a test aid)
  GPU,         ///< every op an NVIDIA kernel, launched by host code
  GPUEmulated, ///< the NVIDIA kernels and launches run on the CPU, each
               ///< block's threads as loops (a test aid)
};

struct KernelFamily {
  /// As `--kernels`, `#tern.target<kernels = ...>` and
  /// `tern-lower-to-kernels{variant=...}` spell it.
  llvm::StringRef name;
  KernelArch arch;
  /// What its instructions need beyond the architecture's baseline, as
  /// LLVM spells features ("+avx2,+avxvnni").
  llvm::StringRef features;
  /// The layout of the ternary weights it reads.
  PackedLayout layout;
  /// `--kernels=auto` takes the family of lowest rank the target can run;
  /// 0: never chosen automatically.
  unsigned autoRank;
  KernelMode mode;
  /// One line for --help and --list-targets.
  llvm::StringRef summary;

  /// NVIDIA device code: on the GPU, or emulated on the CPU.
  bool isDeviceCode() const {
    return mode == KernelMode::GPU || mode == KernelMode::GPUEmulated;
  }
  bool isTestAid() const {
    return mode == KernelMode::GPUArith || mode == KernelMode::GPUEmulated;
  }
  /// Whether the family's code can run on `triple`'s architecture (features
  /// aside).
  bool runsOn(const llvm::Triple &triple) const;
};

/// Every family, in the order help texts and errors list them.
llvm::ArrayRef<KernelFamily> kernelFamilies();

/// The family named `name`, or null.
const KernelFamily *lookupKernelFamily(llvm::StringRef name);

/// "scalar, vector, ...": every family, or only those `--kernels` accepts
/// for CPU targets (the NVIDIA family is chosen by --target=nvptx).
std::string kernelFamilyNames(bool cpuOnly);

/// Picks the kernel family for `requested` ("auto", or a
/// family's name). A family needs the CPU features it uses: when the target
/// lacks them, the best family it has is used instead and `notes` says why
/// (never one whose instructions the CPU cannot run). Unknown names are an
/// error. NVIDIA targets get the gpu-host family ("gpu" names it too).
llvm::Expected<const KernelFamily *> selectKernels(const ResolvedTarget &target,
                                                   llvm::StringRef requested,
                                                   llvm::raw_ostream &notes);

/// "x86", "AArch64", ... for messages.
llvm::StringRef kernelArchName(KernelArch arch);

} // namespace mlir::tern

#endif // TERN_TARGET_KERNELFAMILIES_H

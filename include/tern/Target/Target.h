//===- Target.h - Resolving --target / --mcpu / --mattr ---------*- C++ -*-===//

#ifndef TERN_TARGET_TARGET_H
#define TERN_TARGET_TARGET_H

#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <string>

namespace mlir::tern {

/// What the user asked for, as spelled on the command line.
struct TargetOptions {
  std::string triple = "host"; ///< a triple, or "host"
  std::string cpu;             ///< "", "host", "generic" or an LLVM CPU name
  std::string features;        ///< "+avx2,-avx512f" style
  unsigned optLevel = 2;       ///< -O0 .. -O3
  std::string sysroot;         ///< --sysroot: an arm64 root to link against
};

/// A validated target and a TargetMachine for it.
struct ResolvedTarget {
  std::string triple, cpu, features;
  std::string sysroot; ///< AArch64 executables: "" for Debian's cross files
  bool isHost = false;
  std::unique_ptr<llvm::TargetMachine> machine;
};

/// Registers the LLVM targets Tern emits code for (X86, AArch64, NVPTX).
void initializeLLVMTargets();

/// Validates `options` and builds a TargetMachine. Unknown triples, CPUs and
/// features are one-line errors; a non-host target without a CPU gets a
/// warning on `warnings` that shows the exact flag to add.
llvm::Expected<ResolvedTarget> resolveTarget(const TargetOptions &options,
                                             llvm::raw_ostream &warnings);

/// Prints the targets Tern supports and what the host is (--list-targets).
void printTargets(llvm::raw_ostream &os);

} // namespace mlir::tern

#endif // TERN_TARGET_TARGET_H

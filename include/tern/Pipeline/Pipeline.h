//===- Pipeline.h - Tern's phases and pass pipeline -------------*- C++ -*-===//
//
// One phase enum drives --compile-to, --emit and --dump-phases-to. The
// pipeline is a list of stages, each a populate function that adds the
// passes taking the IR from one phase to the next.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_PIPELINE_PIPELINE_H
#define TERN_PIPELINE_PIPELINE_H

#include "tern/Frontend/Import.h"
#include "tern/Target/Target.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Pass/PassManager.h"

#include <optional>
#include <string>

namespace mlir::tern {

/// Ordered: "compile up to X" is a comparison.
enum class Phase {
  Import,    ///< the input as read by a frontend
  Tern,      ///< model-level tern ops, verified and simplified
  Quantized, ///< act_quant + ternary_matmul, weights ternary, fusions done
  Packed,    ///< weights re-encoded in the layout the kernels read
  Kernels,   ///< loops on memrefs (scf/arith/math)
  LLVM,      ///< LLVM dialect
  LLVMIR,    ///< LLVM IR (.ll)
  Asm,       ///< target assembly (.s)
  Obj,       ///< object file (.o)
  Exe,       ///< standalone executable
  Lib,       ///< static library + C header
};

llvm::StringRef phaseName(Phase phase);
std::optional<Phase> parsePhase(llvm::StringRef name);
/// Comma-separated list of every phase name, for help and errors.
std::string phaseNames();
/// True for phases whose output is MLIR.
inline bool isMLIRPhase(Phase phase) { return phase <= Phase::LLVM; }

struct PipelineOptions {
  /// The target tern-set-target records: an LLVM triple, CPU and features,
  /// and a kernel family (KernelFamilies.h), which picks the weight layout.
  std::string triple, cpu, features;
  std::string kernels = "scalar";
  /// NVIDIA targets up to --emit=asm: the llvm phase lowers the device code
  /// alone (its PTX is the output); executables lower the host code too.
  bool deviceCodeOnly = false;
  bool floatWeights = false; ///< --weights=bf16: the float baseline
  bool fuse = true;          ///< false: --no-fusion
  bool lmHeadInt8 = false;   ///< --lm-head=int8
  bool lmHeadPlain = false;  ///< --lm-head=plain: no #tern.packed_bf16
  bool mcaMarkers = false;   ///< --mca-markers (bench/mca.sh)
};

// Stages: each takes the IR from the phase before it to its own phase.
void populateTernPasses(mlir::OpPassManager &pm);
void populateQuantizedPasses(mlir::OpPassManager &pm,
                             const PipelineOptions &options);
void populatePackedPasses(mlir::OpPassManager &pm,
                          const PipelineOptions &options);
void populateKernelsPasses(mlir::OpPassManager &pm,
                           const PipelineOptions &options);
void populateLLVMPasses(mlir::OpPassManager &pm,
                        const PipelineOptions &options);

/// Adds the stage that produces `phase` (Tern .. LLVM) to `pm`.
void populatePhasePasses(mlir::OpPassManager &pm, Phase phase,
                         const PipelineOptions &options);

/// Everything the driver needs besides the input module.
struct CompileOptions {
  Phase compileTo = Phase::Exe;
  std::string output;    ///< "-" for stdout (text phases only)
  std::string dumpDir;   ///< --dump-phases-to, empty for none
  bool quiet = false;    ///< no progress lines
  std::string inputName; ///< for progress lines
  std::string argv0;     ///< to find the runtime library
  TargetOptions target;
  std::string kernels = "auto"; ///< --kernels: auto or a variant
  bool floatWeights = false;    ///< --weights=bf16
  bool fuse = true;             ///< false: --no-fusion
  bool lmHeadInt8 = false;      ///< --lm-head=int8
  bool lmHeadPlain = false;     ///< --lm-head=plain
  bool mcaMarkers = false;      ///< --mca-markers
  std::string tokenizer;        ///< --tokenizer: "" (the model's), none, path
  std::string chatFormat = "auto"; ///< --chat-format
  ImportOptions import;            ///< --i2s-layout
  /// --static; default: dynamic for the host, static for other targets.
  std::optional<bool> staticLink;
  /// --tsan-runtime (for Tern's own tests): link the runtime built with
  /// ThreadSanitizer.
  bool tsanRuntime = false;
};

/// Imports options.inputName, runs the phases up to options.compileTo and
/// writes the output. Errors are reported as diagnostics or on stderr; no
/// output file is left behind on failure.
mlir::LogicalResult compileFile(mlir::MLIRContext &context,
                                const CompileOptions &options);

/// Registers every dialect, pass and translation Tern's tools use.
void registerAllTernDialects(mlir::DialectRegistry &registry);
void registerAllTernPasses();

} // namespace mlir::tern

#endif // TERN_PIPELINE_PIPELINE_H

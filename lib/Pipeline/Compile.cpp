//===- Compile.cpp - the ternc driver as a library ------------------------===//
//
// Reads a model, runs one pass manager per phase (so that every phase can be
// dumped and timed), then translates, generates code and links. Progress
// lines go to stderr; outputs are written to temporary files and renamed
// into place only on success.
//
//===----------------------------------------------------------------------===//

#include "tern/Frontend/Import.h"
#include "tern/Frontend/Tokenizer.h"
#include "tern/Pipeline/Pipeline.h"
#include "tern/Target/Emit.h"
#include "tern/Target/KernelFamilies.h"
#include "tern/Target/NVPTX/DeviceCode.h"

#include "Tern/IR/WeightData.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/ToolOutputFile.h"

#include <chrono>
#include <map>

using namespace mlir;
using namespace mlir::tern;

namespace {

/// One-line descriptions of what each phase does, for progress lines.
StringRef describePhase(Phase phase) {
  switch (phase) {
  case Phase::Import:
    return "read the model";
  case Phase::Tern:
    return "verify and simplify model ops";
  case Phase::Quantized:
    return "quantize weights, split BitLinear, share and fuse activation "
           "quantization";
  case Phase::Packed:
    return "pack ternary weights";
  case Phase::Kernels:
    return "lower to kernels";
  case Phase::LLVM:
    return "lower to the LLVM dialect";
  case Phase::LLVMIR:
    return "translate to LLVM IR and optimize";
  case Phase::Asm:
    return "generate assembly";
  case Phase::Obj:
    return "generate machine code";
  case Phase::Exe:
    return "link the executable and append the weights";
  case Phase::Lib:
    return "write the static library and C header";
  }
  llvm_unreachable("unknown phase");
}

/// Prints "[i/n] phase  what (0.12 s)" lines unless quiet.
class Progress {
public:
  Progress(bool quiet, int total) : quiet(quiet), total(total) {}
  template <typename Fn> auto run(Phase phase, Fn &&fn) {
    auto start = std::chrono::steady_clock::now();
    auto result = fn();
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    ++done;
    if (!quiet && ok(result)) {
      std::string what = describePhase(phase).str();
      if (auto it = details.find(phase); it != details.end())
        what += " (" + it->second + ")";
      llvm::errs() << llvm::format("[%d/%d] %-9s %s (%.2f s)\n", done, total,
                                   phaseName(phase).str().c_str(), what.c_str(),
                                   seconds);
    }
    return result;
  }
  /// Extra words for a phase's line, e.g. the chosen layout.
  void detail(Phase phase, std::string text) { details[phase] = text; }

private:
  static bool ok(LogicalResult result) { return succeeded(result); }
  static bool ok(llvm::Error &error) { return !error; }
  template <typename T> static bool ok(llvm::Expected<T> &value) {
    return bool(value);
  }
  static bool ok(OwningOpRef<ModuleOp> &module) { return bool(module); }
  bool quiet;
  int total, done = 0;
  std::map<Phase, std::string> details;
};

std::string defaultOutput(const CompileOptions &options) {
  // A checkpoint directory keeps its whole name (bitnet-b1.58-2B-4T has no
  // extension to strip); files lose theirs.
  StringRef input = options.inputName;
  while (input.size() > 1 && llvm::sys::path::is_separator(input.back()))
    input = input.drop_back();
  SmallString<128> stem(llvm::sys::fs::is_directory(input)
                            ? llvm::sys::path::filename(input)
                            : llvm::sys::path::stem(input));
  if (stem.empty() || stem == "-")
    stem = "model";
  switch (options.compileTo) {
  case Phase::Exe:
    return stem.str().str();
  case Phase::Lib:
    return (stem + ".a").str();
  case Phase::LLVMIR:
    return (stem + ".ll").str();
  case Phase::Asm:
    return (stem + ".s").str();
  case Phase::Obj:
    return (stem + ".o").str();
  default:
    return (stem + "." + phaseName(options.compileTo) + ".mlir").str();
  }
}

LogicalResult reportError(llvm::Error error) {
  llvm::errs() << "error: " << llvm::toString(std::move(error)) << "\n";
  return failure();
}

/// Writes `print` into `path` atomically ("-" is stdout).
LogicalResult writeText(StringRef path,
                        llvm::function_ref<void(llvm::raw_ostream &)> print) {
  std::string error;
  std::unique_ptr<llvm::ToolOutputFile> file = openOutputFile(path, &error);
  if (!file) {
    llvm::errs() << "error: " << error << "\n";
    return failure();
  }
  print(file->os());
  file->keep();
  return success();
}

/// The dump file of `phase` in `dir`: 03-packed.mlir, 06-llvm-ir.ll, ...
std::string dumpPath(StringRef dir, Phase phase, StringRef extension) {
  SmallString<128> path(dir);
  llvm::sys::path::append(path, llvm::formatv("{0:02}-{1}.{2}",
                                              static_cast<int>(phase),
                                              phaseName(phase), extension)
                                    .str());
  return path.str().str();
}

} // namespace

LogicalResult mlir::tern::compileFile(MLIRContext &context,
                                      const CompileOptions &options) {
  // Resolve the target first: a bad flag should fail before any work.
  llvm::Expected<ResolvedTarget> target =
      resolveTarget(options.target, llvm::errs());
  if (!target)
    return reportError(target.takeError());
  llvm::Expected<const KernelFamily *> kernels =
      selectKernels(*target, options.kernels, llvm::errs());
  if (!kernels)
    return reportError(kernels.takeError());
  const KernelFamily &family = **kernels;
  // NVIDIA targets: up to asm, the kernels' PTX; objects, executables and
  // libraries are host code for this machine that launches them (the PTX
  // embedded), so they get a second, host target.
  bool gpu = family.arch == KernelArch::NVPTX;
  bool gpuHost = gpu && options.compileTo > Phase::Asm;
  std::optional<ResolvedTarget> host;
  if (gpuHost) {
    TargetOptions hostOptions;
    hostOptions.optLevel = options.target.optLevel;
    llvm::Expected<ResolvedTarget> resolved =
        resolveTarget(hostOptions, llvm::errs());
    if (!resolved)
      return reportError(resolved.takeError());
    host = std::move(*resolved);
  }
  ResolvedTarget &hostTarget = host ? *host : *target;
  PipelineOptions pipeline;
  pipeline.triple = target->triple;
  pipeline.cpu = target->cpu;
  pipeline.features = target->features;
  pipeline.kernels = family.name.str();
  pipeline.deviceCodeOnly = gpu && !gpuHost;
  pipeline.floatWeights = options.floatWeights;
  pipeline.fuse = options.fuse;
  pipeline.lmHeadInt8 = options.lmHeadInt8;
  pipeline.lmHeadPlain = options.lmHeadPlain;
  pipeline.mcaMarkers = options.mcaMarkers;

  Phase last = options.compileTo;
  std::string output =
      options.output.empty() ? defaultOutput(options) : options.output;
  // Check the output's directory before any work, so that a typo in -o does
  // not surface as an error about a temporary file after a long compile.
  StringRef outputDir = llvm::sys::path::parent_path(output);
  if (output != "-" && !outputDir.empty() &&
      !llvm::sys::fs::is_directory(outputDir)) {
    llvm::errs() << "error: cannot write " << output << ": directory '"
                 << outputDir << "' does not exist\n";
    return failure();
  }
  // Steps: import, each MLIR phase, then llvm-ir, codegen, link/archive.
  int total = 1 + static_cast<int>(std::min(last, Phase::LLVM));
  if (last >= Phase::LLVMIR)
    total += 1;
  if (last >= Phase::Asm)
    total += 1;
  if (last >= Phase::Exe)
    total += 1;
  Progress progress(options.quiet, total);
  progress.detail(Phase::Packed, (stringifyPackedLayout(family.layout) +
                                  " for " + family.name + " kernels")
                                     .str());

  if (!options.dumpDir.empty())
    if (std::error_code ec =
            llvm::sys::fs::create_directories(options.dumpDir)) {
      llvm::errs() << "error: cannot create --dump-phases-to directory '"
                   << options.dumpDir << "': " << ec.message() << "\n";
      return failure();
    }
  auto dumpMLIR = [&](ModuleOp module, Phase phase) {
    if (options.dumpDir.empty())
      return success();
    return writeText(dumpPath(options.dumpDir, phase, "mlir"),
                     [&](llvm::raw_ostream &os) { module.print(os); });
  };

  // Diagnostics of every phase quote the input file where they can.
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  OwningOpRef<ModuleOp> module = progress.run(Phase::Import, [&] {
    // The frontends' diagnostics name the model file in their text and have
    // no line to quote (the SourceMgr handler would print "FILE:0:0:").
    ScopedDiagnosticHandler modelFileDiagnostics(&context, [](Diagnostic &d) {
      if (!isModelFileLoc(d.getLocation()))
        return failure();
      const char *kind = d.getSeverity() == DiagnosticSeverity::Error ? "error"
                         : d.getSeverity() == DiagnosticSeverity::Warning
                             ? "warning"
                             : "note";
      llvm::errs() << kind << ": " << d.str() << "\n";
      return success();
    });
    OwningOpRef<ModuleOp> imported =
        importModel(options.inputName, context, sourceMgr, options.import);
    if (imported)
      if (llvm::Error e =
              addModelTokenizer(*imported, options.inputName, options.tokenizer,
                                options.chatFormat)) {
        llvm::errs() << "error: " << llvm::toString(std::move(e)) << "\n";
        return OwningOpRef<ModuleOp>();
      }
    return imported;
  });
  if (!module || failed(dumpMLIR(*module, Phase::Import)))
    return failure();
  nvptx::DeviceCode device; // NVIDIA executables: the kernels
  DefaultTimingManager timing;
  applyDefaultTimingManagerCLOptions(timing);
  TimingScope rootTimer = timing.getRootScope();

  for (int p = static_cast<int>(Phase::Tern);
       p <= static_cast<int>(std::min(last, Phase::LLVM)); ++p) {
    Phase phase = static_cast<Phase>(p);
    PassManager pm(&context);
    if (failed(applyPassManagerCLOptions(pm)))
      return failure();
    TimingScope phaseTimer = rootTimer.nest(phaseName(phase));
    pm.enableTiming(phaseTimer);
    populatePhasePasses(pm, phase, pipeline);
    // NVIDIA executables: the device kernels go to LLVM on their own (as
    // for --emit=asm), the rest is host code.
    if (gpuHost && phase == Phase::LLVM) {
      llvm::Expected<nvptx::DeviceCode> code =
          nvptx::compileDeviceCode(*module, *target, options.target.optLevel);
      if (!code)
        return reportError(code.takeError());
      device = std::move(*code);
    }
    if (failed(progress.run(phase, [&] { return pm.run(*module); })) ||
        failed(dumpMLIR(*module, phase)))
      return failure();
  }

  if (isMLIRPhase(last))
    return writeText(output, [&](llvm::raw_ostream &os) { module->print(os); });

  // The host code carries the kernels for the runtime to load.
  if (gpuHost)
    nvptx::embedDeviceCode(*module, std::move(device), *target);

  // NVIDIA --emit=asm: the device code is what LLVM compiles (gpu.module
  // @tern_gpu's functions, in a module of their own).
  if (gpu && !gpuHost)
    module = nvptx::deviceFunctions(*module);

  // An executable's weights are appended after linking: take them out of
  // the module before LLVM would copy them.
  WeightImage weights;
  if (last == Phase::Exe)
    weights = WeightImage::detach(*module);
  auto releaseWeights = llvm::make_scope_exit([&] {
    for (const WeightImage::Piece &piece : weights.pieces)
      releaseWeightData(piece.value);
  });

  // LLVM IR.
  llvm::LLVMContext llvmContext;
  auto llvmModule = progress.run(Phase::LLVMIR, [&] {
    return translateAndOptimize(*module, llvmContext, hostTarget,
                                options.target.optLevel);
  });
  if (!llvmModule)
    return reportError(llvmModule.takeError());
  // LLVM has its own copy of the weights now: free the MLIR one (and with
  // it the input file's mapping) before code generation makes a third.
  module->walk([](LLVM::GlobalOp global) {
    if (std::optional<Attribute> value = global.getValue())
      releaseWeightData(*value);
  });
  module = nullptr;
  auto printIR = [&](llvm::raw_ostream &os) {
    (*llvmModule)->print(os, nullptr);
  };
  if (!options.dumpDir.empty() &&
      failed(
          writeText(dumpPath(options.dumpDir, Phase::LLVMIR, "ll"), printIR)))
    return failure();
  if (last == Phase::LLVMIR)
    return writeText(output, printIR);

  // Assembly goes straight to the output; objects go to a temporary file
  // when they are only a step towards an executable or a library.
  if (last == Phase::Asm || last == Phase::Obj) {
    std::string error;
    auto file = openOutputFile(output, &error);
    if (!file) {
      llvm::errs() << "error: " << error << "\n";
      return failure();
    }
    llvm::Error emitted = progress.run(last, [&] {
      return emitMachineCode(**llvmModule, hostTarget, last == Phase::Asm,
                             file->os());
    });
    if (emitted)
      return reportError(std::move(emitted));
    file->keep();
    return success();
  }

  SmallString<128> objectPath;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("tern-model", "o", objectPath)) {
    llvm::errs() << "error: cannot create a temporary object file: "
                 << ec.message() << "\n";
    return failure();
  }
  llvm::FileRemover removeObject(objectPath);
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(objectPath, ec);
    if (ec) {
      llvm::errs() << "error: cannot write " << objectPath << ": "
                   << ec.message() << "\n";
      return failure();
    }
    if (llvm::Error error = progress.run(Phase::Obj, [&] {
          return emitMachineCode(**llvmModule, hostTarget, false, os);
        }))
      return reportError(std::move(error));
  }

  // Link into a temporary name beside the output, then rename: a failed or
  // interrupted link never leaves a half-written executable.
  std::string staging = output + ".tern-partial";
  llvm::FileRemover removeStaging(staging);
  // ... nor, killed by a signal (Ctrl-C, SIGTERM), the partial file.
  llvm::sys::RemoveFileOnSignal(staging);
  SmallString<128> header(output);
  llvm::sys::path::replace_extension(header, "h");
  llvm::Error linked = progress.run(last, [&]() -> llvm::Error {
    if (last == Phase::Lib)
      return writeLibrary(objectPath, staging, header, hostTarget,
                          options.argv0, gpuHost);
    if (llvm::Error error =
            linkExecutable(objectPath, staging, hostTarget, options.argv0,
                           options.staticLink.value_or(!hostTarget.isHost),
                           options.tsanRuntime))
      return error;
    return weights.appendTo(staging);
  });
  if (linked)
    return reportError(std::move(linked));
  if (std::error_code ec = llvm::sys::fs::rename(staging, output)) {
    llvm::errs() << "error: cannot write " << output << ": " << ec.message()
                 << "\n";
    return failure();
  }
  llvm::sys::DontRemoveFileOnSignal(staging);
  return success();
}

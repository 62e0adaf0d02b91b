//===- ternc.cpp - the Tern compiler driver -------------------------------===//
//
// Parses flags and calls lib/Pipeline; no compiler logic lives here.
//
//===----------------------------------------------------------------------===//

#include "tern/Pipeline/Pipeline.h"
#include "tern/Target/KernelFamilies.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"

using namespace llvm;
namespace tern = mlir::tern;

namespace {

/// cl::opt's enum parser, with a one-line error naming the known values,
/// "error: unknown --FLAG 'x' (known: a, b)", for the flags whose values
/// --help lists.
template <typename T> class KnownValues : public cl::parser<T> {
public:
  using cl::parser<T>::parser;
  bool parse(cl::Option &o, StringRef flag, StringRef arg, T &value) {
    SmallVector<StringRef> names;
    for (unsigned i = 0, e = this->getNumOptions(); i != e; ++i) {
      if (this->getOption(i) == arg)
        return cl::parser<T>::parse(o, flag, arg, value);
      names.push_back(this->getOption(i));
    }
    errs() << "error: unknown --" << flag << " '" << arg
           << "' (known: " << join(names, ", ") << ")\n";
    return true;
  }
};

enum class Weights { Ternary, BF16 };
enum class LMHead { Exact, Plain, Int8 };
enum class I2SLayout { X86, Arm };

cl::OptionCategory phaseCategory("Phases and outputs");
cl::OptionCategory targetCategory("Target selection");
cl::OptionCategory mlirCategory("MLIR pass manager, IR printing and timing");

cl::opt<std::string> inputPath(cl::Positional, cl::desc("<model>"),
                               cl::init("-"));
cl::opt<std::string> outputPath("o",
                                cl::desc("Output file (default: from the "
                                         "input name and phase)"),
                                cl::value_desc("path"), cl::cat(phaseCategory));
cl::opt<std::string> compileTo(
    "compile-to",
    cl::desc("Stop after this phase: import, tern, quantized, packed, "
             "kernels, llvm, llvm-ir, asm, obj, exe (default) or lib"),
    cl::value_desc("phase"), cl::cat(phaseCategory));
cl::opt<std::string>
    emit("emit",
         cl::desc("Output kind: mlir (at --compile-to, default the llvm "
                  "phase), llvm-ir, asm, obj, exe (default) or lib"),
         cl::value_desc("kind"), cl::cat(phaseCategory));
cl::opt<std::string> dumpPhasesTo(
    "dump-phases-to",
    cl::desc("Write the IR after every phase into DIR as NN-phase.mlir"),
    cl::value_desc("dir"), cl::cat(phaseCategory));
cl::opt<bool> quiet("q", cl::desc("Do not print progress lines"),
                    cl::cat(phaseCategory));

cl::opt<std::string> targetTriple("target",
                                  cl::desc("Target triple, or 'host'"),
                                  cl::value_desc("triple"), cl::init("host"),
                                  cl::cat(targetCategory));
cl::opt<std::string>
    mcpu("mcpu", cl::desc("Target CPU: host, generic or any LLVM CPU name"),
         cl::value_desc("cpu"), cl::cat(targetCategory));
cl::opt<std::string>
    gpuArch("gpu-arch",
            cl::desc("GPU architecture for --target=nvptx, e.g. sm_90 (the "
                     "--mcpu of NVIDIA targets)"),
            cl::value_desc("sm_XX"), cl::cat(targetCategory));
cl::opt<std::string> mattr("mattr",
                           cl::desc("Target features, e.g. +avx2,-avx512f"),
                           cl::value_desc("features"), cl::cat(targetCategory));
cl::opt<std::string>
    sysroot("sysroot",
            cl::desc("AArch64 executables: link against this arm64 root file "
                     "system (e.g. made by debootstrap --arch=arm64) instead "
                     "of Debian's cross packages"),
            cl::value_desc("dir"), cl::cat(targetCategory));
cl::opt<unsigned> optLevel("O", cl::desc("Optimization level (0-3)"),
                           cl::Prefix, cl::init(2), cl::cat(targetCategory));
/// --kernels' help, from the registry of kernel families.
const std::string &kernelsHelp() {
  static const std::string help =
      "Kernel family: auto (the best the target CPU runs), " +
      tern::kernelFamilyNames(/*cpuOnly=*/true) +
      " (--list-targets says what each needs; gpu-emulation and "
      "gpu-device-emulation are test aids that run the NVIDIA kernels on "
      "the CPU)";
  return help;
}
cl::opt<std::string> kernels("kernels", cl::desc(kernelsHelp()),
                             cl::init("auto"), cl::value_desc("family"),
                             cl::cat(targetCategory));
cl::opt<Weights, false, KnownValues<Weights>> weights(
    "weights", cl::desc("Weights of the BitLinear layers"),
    cl::values(clEnumValN(Weights::Ternary, "ternary", "ternary (default)"),
               clEnumValN(Weights::BF16, "bf16",
                          "the float baseline: every BitLinear a bf16 linear "
                          "layer, for speed and size comparisons")),
    cl::init(Weights::Ternary), cl::value_desc("kind"),
    cl::cat(targetCategory));
cl::opt<LMHead, false, KnownValues<LMHead>> lmHead(
    "lm-head", cl::desc("LM head precision"),
    cl::values(clEnumValN(LMHead::Exact, "exact",
                          "the stored values (default); SIMD CPU kernels "
                          "read a bf16 table packed losslessly in 3/4 of "
                          "its bytes"),
               clEnumValN(LMHead::Plain, "plain",
                          "the stored table as it is (same logits)"),
               clEnumValN(LMHead::Int8, "int8",
                          "per-row scales: half the bytes per token of a bf16 "
                          "head, slightly different logits (see README)")),
    cl::init(LMHead::Exact), cl::value_desc("kind"), cl::cat(targetCategory));
cl::opt<bool> noFusion(
    "no-fusion",
    cl::desc("Keep rms_norm, glu and act_quant as separate kernels (the "
             "fused kernels compute the same values; for checking them)"),
    cl::cat(targetCategory));
cl::opt<std::string> tokenizer(
    "tokenizer",
    cl::desc("Tokenizer to embed: tokenizer.json, tokenizer.model, a .gguf "
             "file or a directory; 'none' for none (default: the model's "
             "own, beside a checkpoint or inside a GGUF file)"),
    cl::value_desc("path"), cl::cat(phaseCategory));
cl::opt<std::string> chatFormat(
    "chat-format",
    cl::desc("Chat template of the executable's --chat: auto (the model's "
             "own chat_template), bitnet (2B4T's), llama3 (LLaMA-3 "
             "Instruct's) or none"),
    cl::init("auto"), cl::value_desc("format"), cl::cat(phaseCategory));
cl::opt<I2SLayout, false, KnownValues<I2SLayout>> i2sLayout(
    "i2s-layout",
    cl::desc("Block layout of I2_S weights in GGUF files (the file does not "
             "record it)"),
    cl::values(clEnumValN(I2SLayout::X86, "x86",
                          "128-element blocks (default)"),
               clEnumValN(I2SLayout::Arm, "arm",
                          "64-element blocks, written by bitnet.cpp on ARM "
                          "since 2025-11")),
    cl::init(I2SLayout::X86), cl::value_desc("layout"), cl::cat(phaseCategory));
cl::list<std::string> dims(
    "dim",
    cl::desc("Size of a symbolic dimension of an ONNX graph's inputs, e.g. "
             "--dim features=64 (repeatable); the probe run also uses it"),
    cl::value_desc("name=value"), cl::cat(phaseCategory));
cl::opt<cl::boolOrDefault> staticLink(
    "static",
    cl::desc("Link the executable statically: the default for other targets "
             "than the host (qemu-aarch64 runs them without a sysroot, and "
             "7.2 hangs starting threads of dynamic ones); --static=false "
             "links dynamically"),
    cl::cat(targetCategory));
cl::opt<bool> tsanRuntime(
    "tsan-runtime",
    cl::desc("Link the runtime built with ThreadSanitizer (Tern's own tests "
             "of the thread team and the server)"),
    cl::Hidden, cl::cat(targetCategory));
cl::opt<bool> mcaMarkers(
    "mca-markers",
    cl::desc("Mark the ternary matmul tiles' inner loops for llvm-mca in "
             "--emit=asm output (bench/mca.sh)"),
    cl::Hidden, cl::cat(targetCategory));
cl::opt<bool> listTargets("list-targets",
                          cl::desc("List supported targets and the host CPU"),
                          cl::cat(targetCategory));

/// Turns --compile-to and --emit into one final phase.
std::optional<tern::Phase> finalPhase() {
  std::optional<tern::Phase> to;
  if (!compileTo.empty() && !(to = tern::parsePhase(compileTo))) {
    errs() << "error: unknown phase '" << compileTo
           << "' for --compile-to (phases: " << tern::phaseNames() << ")\n";
    return std::nullopt;
  }
  if (emit.empty())
    return to.value_or(tern::Phase::Exe);
  if (emit == "mlir") {
    if (to && !tern::isMLIRPhase(*to)) {
      errs() << "error: --emit=mlir needs an MLIR phase for --compile-to "
                "(import .. llvm), not '"
             << compileTo << "'\n";
      return std::nullopt;
    }
    return to.value_or(tern::Phase::LLVM);
  }
  std::optional<tern::Phase> kind = tern::parsePhase(emit);
  if (!kind || tern::isMLIRPhase(*kind)) {
    errs() << "error: unknown --emit kind '" << emit
           << "' (kinds: mlir, llvm-ir, asm, obj, exe, lib)\n";
    return std::nullopt;
  }
  if (to && *to != *kind) {
    errs() << "error: --emit=" << emit
           << " contradicts --compile-to=" << compileTo << "\n";
    return std::nullopt;
  }
  return kind;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  // Passes first: --mlir-print-ir-after=PASS looks names up when the pass
  // manager's options are registered.
  tern::registerAllTernPasses();
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  mlir::registerDefaultTimingManagerCLOptions();
  // MLIR's own flags (--mlir-print-ir-after-all, --mlir-timing, ...) get a
  // group of their own; LLVM's internal flags stay out of --help.
  for (auto &entry : cl::getRegisteredOptions())
    if (entry.getKey().starts_with("mlir-"))
      entry.getValue()->addCategory(mlirCategory);
  cl::HideUnrelatedOptions({&phaseCategory, &targetCategory, &mlirCategory},
                           cl::SubCommand::getTopLevel());
  cl::ParseCommandLineOptions(
      argc, argv,
      "ternc: compile a ternary (BitNet b1.58) model to a native executable\n\n"
      "  ternc model.mlir -o model          # executable for this machine\n"
      "  ternc model.mlir --emit=mlir --compile-to=packed\n"
      "  ternc model.mlir --dump-phases-to=ir/\n");

  if (listTargets) {
    tern::printTargets(outs());
    return 0;
  }
  std::optional<tern::Phase> last = finalPhase();
  if (!last)
    return 1;

  tern::CompileOptions options;
  options.compileTo = *last;
  options.output = outputPath;
  options.dumpDir = dumpPhasesTo;
  options.quiet = quiet;
  options.inputName = inputPath;
  options.argv0 = argv[0];
  options.target.triple = targetTriple;
  options.target.cpu = mcpu;
  if (!gpuArch.empty()) {
    llvm::StringRef t = targetTriple;
    if (!t.starts_with("nvptx") && t != "cuda") {
      llvm::errs() << "error: --gpu-arch needs --target=nvptx\n";
      return 1;
    }
    if (!mcpu.empty() && mcpu != gpuArch) {
      llvm::errs() << "error: --gpu-arch=" << gpuArch << " and --mcpu=" << mcpu
                   << " disagree; give one\n";
      return 1;
    }
    options.target.cpu = gpuArch;
  }
  options.target.features = mattr;
  options.target.optLevel = optLevel;
  options.target.sysroot = sysroot;
  options.kernels = kernels;
  options.floatWeights = weights == Weights::BF16;
  options.fuse = !noFusion;
  options.lmHeadInt8 = lmHead == LMHead::Int8;
  options.lmHeadPlain = lmHead == LMHead::Plain;
  options.import.i2sArmLayout = i2sLayout == I2SLayout::Arm;
  for (const std::string &d : dims) {
    auto [name, value] = llvm::StringRef(d).split('=');
    int64_t size = 0;
    if (name.empty() || value.getAsInteger(10, size) || size <= 0) {
      llvm::errs() << "error: --dim '" << d
                   << "' is not NAME=VALUE with a positive VALUE\n";
      return 1;
    }
    options.import.dims[name.str()] = size;
  }
  options.tokenizer = tokenizer;
  options.mcaMarkers = mcaMarkers;
  if (staticLink != cl::BOU_UNSET)
    options.staticLink = staticLink == cl::BOU_TRUE;
  options.tsanRuntime = tsanRuntime;
  options.chatFormat = chatFormat;

  mlir::DialectRegistry registry;
  tern::registerAllTernDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  return mlir::failed(tern::compileFile(context, options)) ? 1 : 0;
}

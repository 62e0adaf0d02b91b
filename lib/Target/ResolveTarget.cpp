//===- ResolveTarget.cpp - --target / --mcpu / --mattr resolution ---------===//
//
// LLVM aborts ("Cannot select") or silently ignores bad CPU and feature
// strings, so every name is checked here against the target's own tables
// before a TargetMachine is made (TOOLCHAIN.md pitfall 7).
//
//===----------------------------------------------------------------------===//

#include "tern/Target/KernelFamilies.h"
#include "tern/Target/Target.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

using namespace llvm;
using mlir::tern::KernelArch;
using mlir::tern::kernelArchName;
using mlir::tern::kernelFamilies;
using mlir::tern::KernelFamily;
using mlir::tern::kernelFamilyNames;
using mlir::tern::lookupKernelFamily;

extern "C" {
#define TERN_TARGET(T)                                                         \
  void LLVMInitialize##T##TargetInfo();                                        \
  void LLVMInitialize##T##Target();                                            \
  void LLVMInitialize##T##TargetMC();                                          \
  void LLVMInitialize##T##AsmPrinter();
TERN_TARGET(X86)
TERN_TARGET(AArch64)
TERN_TARGET(NVPTX)
#undef TERN_TARGET
void LLVMInitializeX86AsmParser();
void LLVMInitializeAArch64AsmParser();
}

void mlir::tern::initializeLLVMTargets() {
  static bool done = [] {
#define TERN_TARGET(T)                                                         \
  LLVMInitialize##T##TargetInfo();                                             \
  LLVMInitialize##T##Target();                                                 \
  LLVMInitialize##T##TargetMC();                                               \
  LLVMInitialize##T##AsmPrinter();
    TERN_TARGET(X86)
    TERN_TARGET(AArch64)
    TERN_TARGET(NVPTX)
#undef TERN_TARGET
    LLVMInitializeX86AsmParser();
    LLVMInitializeAArch64AsmParser();
    return true;
  }();
  (void)done;
}

namespace {

Error fail(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

/// The closest name in `names` to `name`, for "did you mean" hints.
template <typename Range>
std::string closest(StringRef name, const Range &names) {
  std::string best;
  unsigned bestDistance = 4;
  for (const auto &kv : names) {
    unsigned d = name.edit_distance(kv.Key, true, bestDistance);
    if (d < bestDistance) {
      bestDistance = d;
      best = kv.Key;
    }
  }
  return best.empty() ? "" : "; did you mean '" + best + "'?";
}

std::string hostFeatures() {
  SmallVector<std::string> list;
  for (const auto &kv : sys::getHostCPUFeatures())
    list.push_back((kv.getValue() ? "+" : "-") + kv.getKey().str());
  llvm::sort(list);
  return join(list, ",");
}

} // namespace

Expected<mlir::tern::ResolvedTarget>
mlir::tern::resolveTarget(const TargetOptions &options, raw_ostream &warnings) {
  initializeLLVMTargets();
  ResolvedTarget out;
  out.isHost = options.triple.empty() || options.triple == "host";
  // "nvptx" and "cuda" name the one NVIDIA target.
  StringRef spelled = options.triple;
  if (spelled == "nvptx" || spelled == "nvptx64" || spelled == "cuda")
    spelled = "nvptx64-nvidia-cuda";
  out.triple =
      out.isHost ? sys::getDefaultTargetTriple() : Triple::normalize(spelled);
  std::string error;
  const Target *target = TargetRegistry::lookupTarget(out.triple, error);
  if (!target)
    return fail("unknown or unsupported target triple '" + options.triple +
                "' (Tern targets x86_64, aarch64 and nvptx64; see "
                "--list-targets)");
  // Weights go in a named ELF section, and executables are linked for Linux.
  Triple triple(out.triple);
  if (!triple.isNVPTX() && !triple.isOSBinFormatELF())
    return fail("target '" + options.triple + "' writes " +
                (triple.isOSBinFormatMachO()  ? "Mach-O"
                 : triple.isOSBinFormatCOFF() ? "COFF"
                                              : "non-ELF") +
                " objects; Tern emits ELF for Linux (e.g. --target=" +
                Triple::getArchTypeName(triple.getArch()) + "-linux-gnu)");

  // CPU: host / generic / a name the target knows.
  if (options.cpu == "host") {
    if (!out.isHost)
      return fail("--mcpu=host only makes sense with --target=host; name the "
                  "CPU of " +
                  out.triple + " instead (e.g. --mcpu=generic)");
    out.cpu = sys::getHostCPUName().str();
    out.features = hostFeatures();
  } else if (options.cpu.empty() && triple.isNVPTX()) {
    out.cpu = "sm_80";
    warnings << "warning: no GPU architecture chosen; generating code for "
                "sm_80, which newer GPUs also run. Add --gpu-arch=<sm_XX> to "
                "tune it (e.g. --gpu-arch=sm_90).\n";
  } else if (options.cpu.empty()) {
    if (out.isHost) {
      out.cpu = sys::getHostCPUName().str();
      out.features = hostFeatures();
    } else {
      // NVPTX has no "generic" CPU; an empty name gives its default.
      out.cpu = Triple(out.triple).isNVPTX() ? "" : "generic";
      warnings << "warning: no CPU chosen for target " << out.triple
               << "; generating code for a generic CPU. Add --mcpu=<cpu> to "
                  "tune it (e.g. --mcpu="
               << (Triple(out.triple).isAArch64() ? "neoverse-n1"
                   : Triple(out.triple).isNVPTX() ? "sm_90"
                                                  : "x86-64-v3")
               << "), or --mcpu=generic to silence this warning.\n";
    }
  } else {
    out.cpu = options.cpu;
  }

  std::unique_ptr<MCSubtargetInfo> sti(
      target->createMCSubtargetInfo(out.triple, "", ""));
  if (triple.isNVPTX()) {
    // Tern's GPU kernels use int8 dot products and need sm_80 or newer.
    SmallVector<std::string> archs;
    for (const SubtargetSubTypeKV &kv : sti->getAllProcessorDescriptions()) {
      unsigned version = 0;
      StringRef key(kv.Key);
      if (key.consume_front("sm_") &&
          !key.take_while(isDigit).getAsInteger(10, version) && version >= 80 &&
          !llvm::is_contained(archs, kv.Key))
        archs.push_back(kv.Key);
    }
    if (!llvm::is_contained(archs, out.cpu))
      return fail("GPU architecture '" + out.cpu +
                  "' is not supported; Tern's kernels need sm_80 or newer "
                  "(LLVM 19 knows " +
                  join(archs, ", ") + ")");
  } else if (!out.cpu.empty() && !sti->isCPUStringValid(out.cpu)) {
    return fail("unknown CPU '" + out.cpu + "' for target " + out.triple +
                closest(out.cpu, sti->getAllProcessorDescriptions()));
  }

  // Features: a comma-separated list of +name / -name the target knows.
  SmallVector<StringRef> requested;
  StringRef(options.features).split(requested, ',', -1, false);
  for (StringRef f : requested) {
    f = f.trim();
    if (f.size() < 2 || (f[0] != '+' && f[0] != '-'))
      return fail("--mattr entry '" + f +
                  "' must be +feature or -feature (e.g. --mattr=+avx2)");
    StringRef name = f.drop_front();
    bool known = llvm::any_of(
        sti->getAllProcessorFeatures(),
        [&](const SubtargetFeatureKV &kv) { return name == kv.Key; });
    if (!known)
      return fail("unknown feature '" + name + "' for target " + out.triple +
                  closest(name, sti->getAllProcessorFeatures()));
  }
  if (!options.features.empty())
    out.features = out.features.empty() ? options.features
                                        : out.features + "," + options.features;

  if (!options.sysroot.empty()) {
    if (!triple.isAArch64())
      return fail("--sysroot applies to AArch64 targets (the host links "
                  "against this machine's libraries)");
    if (!sys::fs::is_directory(options.sysroot))
      return fail("--sysroot '" + options.sysroot + "' is not a directory");
    out.sysroot = options.sysroot;
  }
  if (options.optLevel > 3)
    return fail("-O" + Twine(options.optLevel) +
                " is not an optimization "
                "level; use -O0, -O1, -O2 or -O3");
  CodeGenOptLevel level = static_cast<CodeGenOptLevel>(options.optLevel);
  llvm::TargetOptions targetOptions;
  out.machine.reset(target->createTargetMachine(
      out.triple, out.cpu, out.features, targetOptions, Reloc::PIC_,
      std::nullopt, level));
  if (!out.machine)
    return fail("LLVM could not create a target machine for " + out.triple);
  return out;
}

void mlir::tern::printTargets(raw_ostream &os) {
  initializeLLVMTargets();
  os << "Targets (--target=TRIPLE, or host):\n"
     << "  x86_64-linux-gnu    x86-64 CPUs (scalar, AVX2, AVX-512/VNNI)\n"
     << "  aarch64-linux-gnu   AArch64 CPUs (NEON, dotprod, i8mm)\n"
     << "  nvptx64-nvidia-cuda NVIDIA GPUs, --target=nvptx --gpu-arch=sm_XX "
        "(sm_80 or newer)\n"
     << "\nHost:\n"
     << "  triple   " << sys::getDefaultTargetTriple() << "\n"
     << "  cpu      " << sys::getHostCPUName() << "\n";
  SmallVector<std::string> simd;
  for (const auto &kv : sys::getHostCPUFeatures()) {
    StringRef name = kv.getKey();
    if (kv.getValue() &&
        (name.starts_with("avx") || name == "fma" || name == "f16c" ||
         name.starts_with("neon") || name == "dotprod" || name == "i8mm"))
      simd.push_back(name.str());
  }
  llvm::sort(simd);
  os << "  simd     " << join(simd, " ") << "\n";
  // What --kernels=auto gives the host.
  std::string ignored;
  raw_string_ostream quiet(ignored);
  StringRef hostKernels;
  if (Expected<ResolvedTarget> host = resolveTarget(TargetOptions(), quiet)) {
    if (Expected<const KernelFamily *> family =
            selectKernels(*host, "auto", quiet))
      hostKernels = (*family)->name;
    else
      consumeError(family.takeError());
  } else {
    consumeError(host.takeError());
  }
  os << "  kernels  " << hostKernels << " (--kernels=auto)\n"
     << "\nKernel families (--kernels=NAME; for a CPU, auto picks the first "
        "one it runs):\n";
  SmallVector<const KernelFamily *> families;
  for (const KernelFamily &family : kernelFamilies())
    families.push_back(&family);
  // The CPU families in auto's order, the NVIDIA one, then the test aids.
  auto order = [](const KernelFamily *f) {
    return std::make_tuple(f->isTestAid(), f->arch == KernelArch::NVPTX,
                           f->autoRank ? f->autoRank : 1000u);
  };
  llvm::stable_sort(families,
                    [&](const KernelFamily *a, const KernelFamily *b) {
                      return order(a) < order(b);
                    });
  for (const KernelFamily *family : families) {
    std::string needs =
        family->features.empty()
            ? kernelArchName(family->arch).str()
            : (kernelArchName(family->arch) + " " + family->features).str();
    os << format("  %-21s %-8s %-37s %s\n", family->name.str().c_str(),
                 stringifyPackedLayout(family->layout).str().c_str(),
                 needs.c_str(), family->summary.str().c_str());
  }
  os << "\n--mcpu: host, generic, or any CPU LLVM knows for the target\n"
     << "(llc-19 -mtriple=TRIPLE -mcpu=help lists them).\n";
}

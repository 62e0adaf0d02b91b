//===- KernelFamilies.cpp - the registry of kernel families ---------------===//
//
// Which families exist, what each needs, and which one a target gets
// (selectKernels: --kernels=auto, and the fallback when the CPU lacks what a
// requested family needs).
//
//===----------------------------------------------------------------------===//

#include "tern/Target/KernelFamilies.h"
#include "tern/Target/Target.h"

#include "llvm/MC/MCSubtargetInfo.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

using namespace llvm;
using namespace mlir::tern;

ArrayRef<KernelFamily> mlir::tern::kernelFamilies() {
  // Auto ranks: AMX tiles first (prefill 2.5-3x AVX-512 VNNI on a Xeon,
  // bit-identical; the kernels fall back to VNNI where the OS refuses the
  // tiles), VNNI before AVX2 (one instruction per 4 bytes instead of two);
  // dotprod before i8mm, because llvm-mca rates smmla's 2 x 2 blocks no faster
  // than sdot once their operands are interleaved (bench/mca.py); vector is the
  // CPUs' fallback.
  static const KernelFamily families[] = {
      {"scalar", KernelArch::Any, "", PackedLayout::I2, 0, KernelMode::CPU,
       "the reference: one multiply-add per weight, on i2 weights"},
      {"vector", KernelArch::Any, "", PackedLayout::I2K64, 100, KernelMode::CPU,
       "portable vector code, LLVM picks the instructions"},
      {"avx2", KernelArch::X86, "+avx2", PackedLayout::I2K64, 4,
       KernelMode::CPU, "pmaddubsw + pmaddwd"},
      {"avxvnni", KernelArch::X86, "+avx2,+avxvnni", PackedLayout::I2K64, 3,
       KernelMode::CPU, "256-bit VEX vpdpbusd (AVX-VNNI without AVX-512)"},
      {"avx512vnni", KernelArch::X86, "+avx512f,+avx512bw,+avx512vnni",
       PackedLayout::I2K64, 2, KernelMode::CPU, "512-bit vpdpbusd"},
      {"amx", KernelArch::X86,
       "+avx512f,+avx512bw,+avx512vnni,+amx-tile,+amx-int8,+amx-bf16",
       PackedLayout::I2K64, 1, KernelMode::CPU,
       "AMX tdpbsud tiles for prefill (2+ tokens), else 512-bit vpdpbusd; "
       "the bf16 LM head in tdpbf16ps tiles"},
      {"neon", KernelArch::AArch64, "+neon", PackedLayout::I2K64, 7,
       KernelMode::CPU, "smull + sadalp"},
      {"dotprod", KernelArch::AArch64, "+neon,+dotprod", PackedLayout::I2K64, 5,
       KernelMode::CPU, "sdot"},
      {"i8mm", KernelArch::AArch64, "+neon,+dotprod,+i8mm", PackedLayout::I2K64,
       6, KernelMode::CPU,
       "smmla for 2 x 2 row/token blocks of prefill tiles, else sdot"},
      {"gpu-emulation", KernelArch::Any, "", PackedLayout::GpuW2, 0,
       KernelMode::GPUArith,
       "test aid: the NVIDIA matmul kernels' arithmetic on the CPU"},
      {"gpu-host", KernelArch::NVPTX, "", PackedLayout::GpuW2, 1,
       KernelMode::GPU,
       "every op an NVIDIA kernel (dp4a matmuls), launched by host code"},
      {"gpu-device-emulation", KernelArch::Any, "", PackedLayout::GpuW2, 0,
       KernelMode::GPUEmulated,
       "test aid: every NVIDIA kernel and launch run on the CPU"},
  };
  return families;
}

const KernelFamily *mlir::tern::lookupKernelFamily(StringRef name) {
  for (const KernelFamily &family : kernelFamilies())
    if (family.name == name)
      return &family;
  return nullptr;
}

std::string mlir::tern::kernelFamilyNames(bool cpuOnly) {
  SmallVector<StringRef> names;
  for (const KernelFamily &family : kernelFamilies())
    if (!cpuOnly || family.arch != KernelArch::NVPTX)
      names.push_back(family.name);
  return join(names, ", ");
}

bool KernelFamily::runsOn(const Triple &triple) const {
  switch (arch) {
  case KernelArch::Any:
    return !triple.isNVPTX();
  case KernelArch::X86:
    return triple.isX86();
  case KernelArch::AArch64:
    return triple.isAArch64();
  case KernelArch::NVPTX:
    return triple.isNVPTX();
  }
  return false;
}

Expected<const KernelFamily *>
mlir::tern::selectKernels(const ResolvedTarget &target, StringRef requested,
                          raw_ostream &notes) {
  Triple triple(target.triple);
  if (triple.isNVPTX()) {
    if (requested != "auto" && requested != "gpu" && requested != "gpu-host")
      return createStringError(
          inconvertibleErrorCode(),
          "--kernels=" + requested +
              " is a CPU variant; NVIDIA targets get the gpu kernels");
    return lookupKernelFamily("gpu-host");
  }
  const KernelFamily *asked = nullptr;
  if (requested != "auto") {
    asked = lookupKernelFamily(requested);
    if (!asked || asked->arch == KernelArch::NVPTX)
      return createStringError(inconvertibleErrorCode(),
                               "unknown --kernels '" + requested +
                                   "' (known: auto, " +
                                   kernelFamilyNames(/*cpuOnly=*/true) + ")");
  }
  const MCSubtargetInfo *sti = target.machine->getMCSubtargetInfo();
  auto runs = [&](const KernelFamily &family) {
    return family.runsOn(triple) &&
           (family.features.empty() || sti->checkFeatures(family.features));
  };
  // The family of lowest rank the CPU runs (vector runs on every one).
  const KernelFamily *best = nullptr;
  for (const KernelFamily &family : kernelFamilies())
    if (family.autoRank && runs(family) &&
        (!best || family.autoRank < best->autoRank))
      best = &family;
  if (!asked)
    return best;
  if (!runs(*asked)) {
    notes << "note: --kernels=" << asked->name << " needs "
          << kernelArchName(asked->arch) << " " << asked->features << ", which "
          << target.triple << " --mcpu=" << target.cpu << " lacks; using the "
          << best->name << " kernels\n";
    return best;
  }
  return asked;
}

StringRef mlir::tern::kernelArchName(KernelArch arch) {
  switch (arch) {
  case KernelArch::Any:
    return "CPU";
  case KernelArch::X86:
    return "x86";
  case KernelArch::AArch64:
    return "AArch64";
  case KernelArch::NVPTX:
    return "NVIDIA";
  }
  return "";
}

//===- KernelFamilies.cpp - the registry of kernel families ---------------===//

#include "tern/Target/KernelFamilies.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

using namespace llvm;
using namespace mlir::tern;

ArrayRef<KernelFamily> mlir::tern::kernelFamilies() {
  // Auto ranks: VNNI before AVX2 (one instruction per 4 bytes instead of
  // two); dotprod before i8mm, because llvm-mca rates smmla's 2 x 2 blocks
  // no faster than sdot once their operands are interleaved (bench/mca.py);
  // vector is the CPUs' fallback.
  static const KernelFamily families[] = {
      {"scalar", KernelArch::Any, "", PackedLayout::I2, 0, KernelMode::CPU,
       "the reference: one multiply-add per weight, on i2 weights"},
      {"vector", KernelArch::Any, "", PackedLayout::I2K64, 100, KernelMode::CPU,
       "portable vector code, LLVM picks the instructions"},
      {"avx2", KernelArch::X86, "+avx2", PackedLayout::I2K64, 3,
       KernelMode::CPU, "pmaddubsw + pmaddwd"},
      {"avxvnni", KernelArch::X86, "+avx2,+avxvnni", PackedLayout::I2K64, 2,
       KernelMode::CPU, "256-bit VEX vpdpbusd (AVX-VNNI without AVX-512)"},
      {"avx512vnni", KernelArch::X86, "+avx512f,+avx512bw,+avx512vnni",
       PackedLayout::I2K64, 1, KernelMode::CPU, "512-bit vpdpbusd"},
      {"neon", KernelArch::AArch64, "+neon", PackedLayout::I2K64, 6,
       KernelMode::CPU, "smull + sadalp"},
      {"dotprod", KernelArch::AArch64, "+neon,+dotprod", PackedLayout::I2K64, 4,
       KernelMode::CPU, "sdot"},
      {"i8mm", KernelArch::AArch64, "+neon,+dotprod,+i8mm", PackedLayout::I2K64,
       5, KernelMode::CPU,
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

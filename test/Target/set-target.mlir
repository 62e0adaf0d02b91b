// RUN: tern-opt %s -tern-set-target='triple=x86_64-linux-gnu cpu=x86-64-v3 features=+avx2 kernels=avx2' | FileCheck %s
// RUN: tern-opt %s -tern-set-target='triple=aarch64-linux-gnu cpu=neoverse-n1 kernels=dotprod' | FileCheck %s --check-prefix=ARM
// RUN: tern-opt %s -tern-set-target='triple=nvptx64-nvidia-cuda cpu=sm_90 kernels=gpu-host' | FileCheck %s --check-prefix=GPU
// RUN: tern-opt %s -tern-set-target='kernels=scalar' | FileCheck %s --check-prefix=HOST
// RUN: not tern-opt %s -tern-set-target='kernels=sse9' 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// RUN: not tern-opt %s -tern-set-target='triple=x86_64-linux-gnu kernels=dotprod' 2>&1 | FileCheck %s --check-prefix=ARCH
// RUN: not tern-opt %s -tern-set-target='triple=x86_64-linux-gnu kernels=gpu-host' 2>&1 | FileCheck %s --check-prefix=GPUARCH
// RUN: not tern-opt %s -tern-set-target='triple=nvptx64-nvidia-cuda kernels=vector' 2>&1 | FileCheck %s --check-prefix=CPUONGPU

// The family's layout comes from the registry of kernel families.
// CHECK: module attributes {tern.target = #tern.target<triple = "x86_64-unknown-linux-gnu", cpu = "x86-64-v3", features = "+avx2", kernels = "avx2", ternary_layout = i2_k64>}
// ARM: #tern.target<triple = "aarch64-unknown-linux-gnu", cpu = "neoverse-n1", features = "", kernels = "dotprod", ternary_layout = i2_k64>
// GPU: #tern.target<triple = "nvptx64-nvidia-cuda", cpu = "sm_90", features = "", kernels = "gpu-host", ternary_layout = gpu_w2>
// HOST: #tern.target<triple = "{{.+}}", cpu = "", features = "", kernels = "scalar", ternary_layout = i2>
// UNKNOWN: error: tern-set-target: unknown kernels 'sse9' (known: scalar, vector, avx2, avxvnni, avx512vnni, amx, neon, dotprod, i8mm, gpu-emulation, gpu-host, gpu-device-emulation)
// ARCH: error: tern-set-target: the dotprod kernels are AArch64 code; they cannot run on x86_64-unknown-linux-gnu
// GPUARCH: error: tern-set-target: the gpu-host kernels are NVIDIA code; they cannot run on x86_64-unknown-linux-gnu
// CPUONGPU: error: tern-set-target: the vector kernels are CPU code; they cannot run on nvptx64-nvidia-cuda
module {
}

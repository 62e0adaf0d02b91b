// RUN: tern-opt %s -split-input-file -tern-lower-to-gpu -verify-diagnostics | FileCheck %s

// NVIDIA's lowering: every op a kernel in gpu.module @tern_gpu, launched
// by the host code of @tern_forward.
// CHECK: func.func @tern_forward
// CHECK: gpu.launch_func  @tern_gpu::@tern_gpu_embedding_64
// CHECK: gpu.launch_func  @tern_gpu::@tern_gpu_float_matmul_f32_n16_k64
// CHECK: gpu.module @tern_gpu
// CHECK: gpu.func @tern_gpu_embedding_64({{.*}}) kernel
module attributes {tern.target = #tern.target<triple = "nvptx64-nvidia-cuda", cpu = "sm_90", features = "", kernels = "gpu-host", ternary_layout = gpu_w2>} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x16xf32> {
    %e = tern.weight "embed" = dense<0.5> : tensor<16x64xf32> -> tensor<16x64xf32>
    %h = tern.embedding %e[%ids] : tensor<16x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
    %l = tern.lm_head %h, %e : tensor<?x64xf32>, tensor<16x64xf32> -> tensor<?x16xf32>
    return %l : tensor<?x16xf32>
  }
}

// -----

// A CPU family's module is tern-lower-to-kernels' to lower.
// expected-error @+1 {{tern-lower-to-gpu: the module's #tern.target names 'avx2', not an NVIDIA family (run tern-set-target{kernels=gpu-host}, or tern-lower-to-kernels for CPU families)}}
module attributes {tern.target = #tern.target<triple = "x86_64-unknown-linux-gnu", cpu = "x86-64-v3", features = "", kernels = "avx2", ternary_layout = i2_k64>} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x16xf32> {
    %e = tern.weight "embed" = dense<0.5> : tensor<16x64xf32> -> tensor<16x64xf32>
    %h = tern.embedding %e[%ids] : tensor<16x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
    %l = tern.lm_head %h, %e : tensor<?x64xf32>, tensor<16x64xf32> -> tensor<?x16xf32>
    return %l : tensor<?x16xf32>
  }
}

// -----

// The packed head table is for CPU kernels (ternc packs it only for them).
module attributes {tern.target = #tern.target<triple = "nvptx64-nvidia-cuda", cpu = "sm_90", features = "", kernels = "gpu-host", ternary_layout = gpu_w2>} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x2xf32> {
    // expected-error @+1 {{weight 't' is a #tern.packed_bf16 table, which only CPU kernels read (ternc packs the head only for them)}}
    %t = tern.weight "t" = dense<0> : tensor<224xi8> -> tensor<2x64xbf16, #tern.packed_bf16<base = 56, escapes = 0>>
    %h = tern.embedding %t[%ids] : tensor<2x64xbf16, #tern.packed_bf16<base = 56, escapes = 0>>, tensor<?xi32> -> tensor<?x64xf32>
    %l = tern.lm_head %h, %t : tensor<?x64xf32>, tensor<2x64xbf16, #tern.packed_bf16<base = 56, escapes = 0>> -> tensor<?x2xf32>
    return %l : tensor<?x2xf32>
  }
}

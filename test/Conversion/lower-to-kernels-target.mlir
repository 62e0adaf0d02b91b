// RUN: tern-opt %s -tern-lower-to-kernels | FileCheck %s

// The kernel family comes from the module's #tern.target: avx2's dot
// product (pmaddubsw + pmaddwd) on i2_k64 weights.
// CHECK-LABEL: func.func private @tern_kernel_ternary_matmul
// The tiles' scratch (each token's activation sum) is the caller's.
// CHECK-SAME: f32, %{{.*}}: memref<?xi32>)
// CHECK-NOT: memref.alloc
// CHECK: llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"
// CHECK: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"
module attributes {tern.target = #tern.target<triple = "x86_64-unknown-linux-gnu", cpu = "x86-64-v3", features = "", kernels = "avx2", ternary_layout = i2_k64>} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x16xf32> {
    %e = tern.weight "embed" = dense<0.5> : tensor<16x64xf32> -> tensor<16x64xf32>
    %w = tern.weight "w" = dense<85> : tensor<128xi8> -> tensor<8x64x!tern.trit, #tern.packed<i2_k64>>
    %h = tern.embedding %e[%ids] : tensor<16x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
    %q, %s = tern.act_quant %h : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
    %y = tern.ternary_matmul %q, %s, %w {scales = array<f32: 1.0>} : tensor<?x64xi8>, tensor<?xf32>, tensor<8x64x!tern.trit, #tern.packed<i2_k64>> -> tensor<?x8xf32>
    %t = tern.weight "head" = dense<0.5> : tensor<16x8xf32> -> tensor<16x8xf32>
    %l = tern.lm_head %y, %t : tensor<?x8xf32>, tensor<16x8xf32> -> tensor<?x16xf32>
    return %l : tensor<?x16xf32>
  }
}

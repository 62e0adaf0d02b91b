// RUN: tern-opt %s -tern-pack-weights=layout=gpu_w2 | not tern-opt -tern-lower-to-kernels=variant=avx2 2>&1 | FileCheck %s

// Weights packed for another family's kernels are an error naming both, not
// a silent emulation: here gpu_w2 weights for the avx2 kernels.
// CHECK: error: 'tern.ternary_matmul' op has a weight of type 'tensor<2x16x!tern.trit, #tern.packed<gpu_w2>>'; avx2 kernels read #tern.packed<i2_k64>
func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x16xf32> {
  %e = tern.weight "embed" = dense<0.5> : tensor<16x16xf32> -> tensor<16x16xf32>
  %w = tern.weight "w" = dense<[[1, 0, -1, 1, 0, 0, 1, -1, 1, 0, -1, 1, 0, 0, 1, -1], [1, 0, -1, 1, 0, 0, 1, -1, 1, 0, -1, 1, 0, 0, 1, -1]]> : tensor<2x16xi8> -> tensor<2x16x!tern.trit>
  %h = tern.embedding %e[%ids] : tensor<16x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %q, %s = tern.act_quant %h : tensor<?x16xf32> -> tensor<?x16xi8>, tensor<?xf32>
  %y = tern.ternary_matmul %q, %s, %w {scales = array<f32: 1.0>} : tensor<?x16xi8>, tensor<?xf32>, tensor<2x16x!tern.trit> -> tensor<?x2xf32>
  %t = tern.weight "head" = dense<0.5> : tensor<16x2xf32> -> tensor<16x2xf32>
  %l = tern.lm_head %y, %t : tensor<?x2xf32>, tensor<16x2xf32> -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// RUN: not tern-opt %s -tern-lower-to-kernels=variant=sse9 2>&1 | FileCheck %s

// CHECK: error: tern-lower-to-kernels: unknown variant 'sse9' (known: scalar, vector, avx2, avxvnni, avx512vnni, amx, neon, dotprod, i8mm, gpu-emulation, gpu-host, gpu-device-emulation)
func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x16xf32> {
  %e = tern.weight "embed" = dense<0.5> : tensor<16x8xf32> -> tensor<16x8xf32>
  %h = tern.embedding %e[%ids] : tensor<16x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  %l = tern.lm_head %h, %e : tensor<?x8xf32>, tensor<16x8xf32> -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

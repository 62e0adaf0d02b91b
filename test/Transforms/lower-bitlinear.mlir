// RUN: tern-opt %s -tern-lower-bitlinear -split-input-file -verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @split
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>, %[[W:.*]]: tensor<4x8x!tern.trit>)
// CHECK: %[[Q:.*]], %[[S:.*]] = tern.act_quant %[[X]] : tensor<?x8xf32> -> tensor<?x8xi8>, tensor<?xf32>
// CHECK: %[[Y:.*]] = tern.ternary_matmul %[[Q]], %[[S]], %[[W]] {scales = array<f32: 2.500000e-01>}
// CHECK-SAME: -> tensor<?x4xf32>
// CHECK: return %[[Y]]
// CHECK-NOT: tern.bitlinear
func.func @split(%x: tensor<?x8xf32>, %w: tensor<4x8x!tern.trit>) -> tensor<?x4xf32> {
  %y = tern.bitlinear %x, %w {scale = 0.25 : f32} : tensor<?x8xf32>, tensor<4x8x!tern.trit> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

func.func @latent(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{weight is still latent float; run tern-quantize-weights first}}
  %y = tern.bitlinear %x, %w : tensor<?x8xf32>, tensor<4x8xf32> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

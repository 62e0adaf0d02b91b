// RUN: tern-opt %s -tern-float-weights -split-input-file | FileCheck %s

// Ternary weights become T * scale in bf16: 0.5 -> 0x3F00, -0.5 -> 0xBF00.
// CHECK-LABEL: func.func @ternary
// CHECK: %[[W:.*]] = tern.weight "w" = dense_resource<w> : tensor<2x2xbf16> -> tensor<2x2xbf16>
// CHECK: tern.linear %{{.*}}, %[[W]] : tensor<?x2xf32>, tensor<2x2xbf16> -> tensor<?x2xf32>
// CHECK-NOT: tern.bitlinear
// CHECK: w: "0x40000000003F000000BF003F"
func.func @ternary(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w = tern.weight "w" = dense<[[1, 0], [-1, 1]]> : tensor<2x2xi8> -> tensor<2x2x!tern.trit>
  %y = tern.bitlinear %x, %w {scale = 0.5 : f32} : tensor<?x2xf32>, tensor<2x2x!tern.trit> -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Latent f32 weights are rounded to bf16 (to nearest even): 1.0 -> 0x3F80,
// 1.00390625 (halfway, even below) -> 0x3F80, 1.01171875 -> 0x3F82.
// CHECK-LABEL: func.func @latent
// CHECK: tern.linear
// CHECK: l: "0x40000000803F803F823F0000"
func.func @latent(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w = tern.weight "l" = dense<[[1.0, 1.00390625], [1.01171875, 0.0]]> : tensor<2x2xf32> -> tensor<2x2xf32>
  %y = tern.bitlinear %x, %w : tensor<?x2xf32>, tensor<2x2xf32> -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

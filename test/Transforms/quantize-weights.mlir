// RUN: tern-opt %s -tern-quantize-weights -split-input-file -verify-diagnostics | FileCheck %s

// mean|W| = 1.16 / 8 = 0.145; W / 0.145 rounds to [1 -1 0 1; 0 0 1 -1].
// CHECK-LABEL: func.func @absmean
// CHECK: %[[W:.*]] = tern.weight "w" = dense_resource<w> : tensor<2x4xi8> -> tensor<2x4x!tern.trit>
// CHECK: tern.bitlinear %{{.*}}, %[[W]] {scale = 0.145000011 : f32}
// CHECK-NOT: tensor<2x4xf32> -> tensor<2x4xf32>
// CHECK: w: "0x4000000001FF0001000001FF"
func.func @absmean(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %w = tern.weight "w" = dense<[[0.1, -0.2, 0.0, 0.3], [0.05, -0.01, 0.2, -0.3]]> : tensor<2x4xf32> -> tensor<2x4xf32>
  %y = tern.bitlinear %x, %w : tensor<?x4xf32>, tensor<2x4xf32> -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Halfway values round to even; bf16 latent weights are read as floats.
// mean|W| = 1, so W itself is rounded: 0.5 -> 0, 1.5 -> 2 -> clamped to 1.
// CHECK-LABEL: func.func @bf16_ties
// CHECK: tern.bitlinear %{{.*}}, %{{.*}} {scale = 1.000000e+00 : f32}
// CHECK: w: "0x40000000000101FF"
func.func @bf16_ties(%x: tensor<?x4xf32>) -> tensor<?x1xf32> {
  %w = tern.weight "w" = dense<[[0.5, 1.5, 1.0, -1.0]]> : tensor<1x4xbf16> -> tensor<1x4xbf16>
  %y = tern.bitlinear %x, %w : tensor<?x4xf32>, tensor<1x4xbf16> -> tensor<?x1xf32>
  return %y : tensor<?x1xf32>
}

// -----

// A weight shared by two layers is quantized once.
// CHECK-LABEL: func.func @shared
// CHECK-COUNT-1: tern.weight
// CHECK-NOT: tern.weight
func.func @shared(%x: tensor<?x4xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>) {
  %w = tern.weight "w" = dense<[[0.1, -0.2, 0.0, 0.3], [0.05, -0.01, 0.2, -0.3]]> : tensor<2x4xf32> -> tensor<2x4xf32>
  %a = tern.bitlinear %x, %w : tensor<?x4xf32>, tensor<2x4xf32> -> tensor<?x2xf32>
  %b = tern.bitlinear %x, %w : tensor<?x4xf32>, tensor<2x4xf32> -> tensor<?x2xf32>
  return %a, %b : tensor<?x2xf32>, tensor<?x2xf32>
}

// -----

func.func @not_a_weight(%x: tensor<?x4xf32>, %w: tensor<2x4xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{latent weight must come from tern.weight to be quantized at compile time}}
  %y = tern.bitlinear %x, %w : tensor<?x4xf32>, tensor<2x4xf32> -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

func.func @non_finite(%x: tensor<?x2xf32>) -> tensor<?x1xf32> {
  // expected-error @+1 {{weight 'bad' contains a non-finite value; cannot quantize it}}
  %w = tern.weight "bad" = dense<[[0x7FC00000, 1.0]]> : tensor<1x2xf32> -> tensor<1x2xf32>
  %y = tern.bitlinear %x, %w : tensor<?x2xf32>, tensor<1x2xf32> -> tensor<?x1xf32>
  return %y : tensor<?x1xf32>
}

// -----

func.func @splat(%x: tensor<?x2xf32>) -> tensor<?x1xf32> {
  // expected-error @+1 {{weight 'flat': splat constants are not supported, use a full dense or resource value}}
  %w = tern.weight "flat" = dense<1.0> : tensor<1x2xf32> -> tensor<1x2xf32>
  %y = tern.bitlinear %x, %w : tensor<?x2xf32>, tensor<1x2xf32> -> tensor<?x1xf32>
  return %y : tensor<?x1xf32>
}

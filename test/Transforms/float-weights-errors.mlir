// RUN: tern-opt %s -tern-float-weights -split-input-file -verify-diagnostics

func.func @kernel_layout(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %w = tern.weight "p" = dense<[85, 0]> : tensor<2xi8> -> tensor<2x4x!tern.trit, #tern.packed<i2>>
  // expected-error @+1 {{cannot read weight 'p' packed as #tern.packed<i2>}}
  %y = tern.bitlinear %x, %w {scale = 1.0 : f32} : tensor<?x4xf32>, tensor<2x4x!tern.trit, #tern.packed<i2>> -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

func.func @not_a_weight(%x: tensor<?x2xf32>, %w: tensor<2x2xbf16>) -> tensor<?x2xf32> {
  // expected-error @+1 {{weight must come from tern.weight}}
  %y = tern.bitlinear %x, %w : tensor<?x2xf32>, tensor<2x2xbf16> -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

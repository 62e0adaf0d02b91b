// RUN: tern-opt %s -tern-pack-weights | FileCheck %s
// RUN: tern-opt %s -tern-pack-weights=layout=i2_k64 | FileCheck %s
// RUN: not tern-opt %s -tern-pack-weights=layout=i2 2>&1 | FileCheck %s --check-prefix=DISAGREE

// The module's #tern.target names the layout: its kernels' (i2_k64 for avx2).
// CHECK: tern.weight "w" = dense_resource<w> : tensor<128xi8> -> tensor<2x5x!tern.trit, #tern.packed<i2_k64>>
// An explicit layout must agree with the target.
// DISAGREE: error: tern-pack-weights: layout=i2 disagrees with the module's target, whose avx2 kernels read i2_k64
module attributes {tern.target = #tern.target<triple = "x86_64-unknown-linux-gnu", cpu = "x86-64-v3", features = "", kernels = "avx2", ternary_layout = i2_k64>} {
  func.func @f(%q: tensor<?x5xi8>, %s: tensor<?xf32>) -> tensor<?x2xf32> {
    %w = tern.weight "w" = dense<[[1, 0, -1, 1, 0], [-1, -1, -1, -1, 0]]> : tensor<2x5xi8> -> tensor<2x5x!tern.trit>
    %y = tern.ternary_matmul %q, %s, %w {scales = array<f32: 1.0>} : tensor<?x5xi8>, tensor<?xf32>, tensor<2x5x!tern.trit> -> tensor<?x2xf32>
    return %y : tensor<?x2xf32>
  }
}

// RUN: tern-opt %s --tern-fuse-residual | FileCheck %s

// h + o_proj(x) and down(x) + h both become the matmul's residual; a matmul
// with two weights, or whose result is used again, keeps its add.
// CHECK-LABEL: func.func @residuals
func.func @residuals(%q: tensor<?x8xi8>, %s: tensor<?xf32>, %h: tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>) {
  %w = tern.weight "w" = dense<1> : tensor<4x8xi8> -> tensor<4x8x!tern.trit>
  // CHECK: %[[A:.*]] = tern.ternary_matmul %arg0, %arg1, %{{.*}} residual %arg2 {scales = array<f32: 5.000000e-01>}
  %y = tern.ternary_matmul %q, %s, %w {scales = array<f32: 0.5>} : tensor<?x8xi8>, tensor<?xf32>, tensor<4x8x!tern.trit> -> tensor<?x4xf32>
  %a = tern.add %h, %y : tensor<?x4xf32>
  // CHECK: %[[B:.*]] = tern.ternary_matmul %arg0, %arg1, %{{.*}} residual %[[A]] {scales = array<f32: 2.500000e-01>}
  %y2 = tern.ternary_matmul %q, %s, %w {scales = array<f32: 0.25>} : tensor<?x8xi8>, tensor<?xf32>, tensor<4x8x!tern.trit> -> tensor<?x4xf32>
  %b = tern.add %y2, %a : tensor<?x4xf32>
  // CHECK: %[[P:.*]]:2 = tern.ternary_matmul %arg0, %arg1, %{{.*}}, %{{.*}} {
  // CHECK: tern.add %[[P]]#0, %arg2
  %p:2 = tern.ternary_matmul %q, %s, %w, %w {scales = array<f32: 1.0, 1.0>} : tensor<?x8xi8>, tensor<?xf32>, tensor<4x8x!tern.trit>, tensor<4x8x!tern.trit> -> tensor<?x4xf32>, tensor<?x4xf32>
  %c = tern.add %p#0, %h : tensor<?x4xf32>
  // CHECK: %[[U:.*]] = tern.ternary_matmul %arg0, %arg1, %{{.*}} {
  // CHECK: tern.add %[[U]], %arg2
  %u = tern.ternary_matmul %q, %s, %w {scales = array<f32: 1.0>} : tensor<?x8xi8>, tensor<?xf32>, tensor<4x8x!tern.trit> -> tensor<?x4xf32>
  %d = tern.add %u, %h : tensor<?x4xf32>
  return %b, %c, %d, %u : tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>
}

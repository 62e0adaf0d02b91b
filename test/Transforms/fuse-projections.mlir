// RUN: tern-opt %s -tern-lower-bitlinear -cse -tern-fuse-projections | FileCheck %s

// q, k and v read one normalized input: one act_quant, one matmul, three
// scales in order; o reads another input and stays on its own.
// CHECK-LABEL: func.func @qkv
// CHECK: tern.act_quant %arg0
// CHECK-NOT: tern.act_quant
// CHECK: %[[QKV:.*]]:3 = tern.ternary_matmul %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {scales = array<f32: 1.000000e+00, 2.000000e+00, 3.000000e+00>}
// CHECK-SAME: -> tensor<?x8xf32>, tensor<?x4xf32>, tensor<?x4xf32>
// CHECK: tern.act_quant %arg1
// CHECK-NOT: tern.act_quant
// CHECK: tern.ternary_matmul %{{.*}}, %{{.*}}, %{{.*}} {scales = array<f32: 4.000000e+00>}
// CHECK: return %[[QKV]]#0, %[[QKV]]#1, %[[QKV]]#2
func.func @qkv(%x: tensor<?x8xf32>, %z: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x8xf32>) {
  %wq = tern.weight "q" = dense<1> : tensor<8x8xi8> -> tensor<8x8x!tern.trit>
  %q = tern.bitlinear %x, %wq {scale = 1.0 : f32} : tensor<?x8xf32>, tensor<8x8x!tern.trit> -> tensor<?x8xf32>
  %wk = tern.weight "k" = dense<0> : tensor<4x8xi8> -> tensor<4x8x!tern.trit>
  %k = tern.bitlinear %x, %wk {scale = 2.0 : f32} : tensor<?x8xf32>, tensor<4x8x!tern.trit> -> tensor<?x4xf32>
  %wo = tern.weight "o" = dense<-1> : tensor<8x8xi8> -> tensor<8x8x!tern.trit>
  %o = tern.bitlinear %z, %wo {scale = 4.0 : f32} : tensor<?x8xf32>, tensor<8x8x!tern.trit> -> tensor<?x8xf32>
  // The v weight is defined after the first matmul: fusion moves it up.
  %wv = tern.weight "v" = dense<1> : tensor<4x8xi8> -> tensor<4x8x!tern.trit>
  %v = tern.bitlinear %x, %wv {scale = 3.0 : f32} : tensor<?x8xf32>, tensor<4x8x!tern.trit> -> tensor<?x4xf32>
  return %q, %k, %v, %o : tensor<?x8xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x8xf32>
}

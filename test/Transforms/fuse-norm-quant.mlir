// RUN: tern-opt %s --tern-fuse-norm-quant | FileCheck %s

// An input norm and a down projection's sub-norm after a glu: both fuse.
// CHECK-LABEL: func.func @layer
func.func @layer(%x: tensor<?x8xf32>, %g: tensor<8xf32>, %gate: tensor<?x8xf32>, %up: tensor<?x8xf32>) -> (tensor<?x8xi8>, tensor<?xf32>, tensor<?x8xi8>, tensor<?xf32>) {
  // CHECK: tern.norm_quant(%arg0), %arg1 {epsilon = 9.99999974E-6 : f32}
  %n = tern.rms_norm %x, %g {epsilon = 1.0e-05 : f32} : tensor<?x8xf32>, tensor<8xf32>
  %q, %s = tern.act_quant %n : tensor<?x8xf32> -> tensor<?x8xi8>, tensor<?xf32>
  // CHECK: tern.norm_quant(%arg2, %arg3), %arg1 {activation = #tern.activation<relu2>, epsilon = 9.99999974E-6 : f32}
  %m = tern.glu %gate, %up {activation = #tern.activation<relu2>} : tensor<?x8xf32>
  %n2 = tern.rms_norm %m, %g {epsilon = 1.0e-05 : f32} : tensor<?x8xf32>, tensor<8xf32>
  %q2, %s2 = tern.act_quant %n2 : tensor<?x8xf32> -> tensor<?x8xi8>, tensor<?xf32>
  // CHECK-NOT: tern.rms_norm
  // CHECK-NOT: tern.act_quant
  // CHECK-NOT: tern.glu
  return %q, %s, %q2, %s2 : tensor<?x8xi8>, tensor<?xf32>, tensor<?x8xi8>, tensor<?xf32>
}

// A normalized row used elsewhere too stays; so does a glu used elsewhere
// (the norm after it still fuses).
// CHECK-LABEL: func.func @shared
func.func @shared(%x: tensor<?x8xf32>, %g: tensor<8xf32>, %gate: tensor<?x8xf32>, %up: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xi8>, tensor<?x8xf32>, tensor<?x8xi8>) {
  // CHECK: %[[N:.*]] = tern.rms_norm %arg0
  // CHECK: tern.act_quant %[[N]]
  %n = tern.rms_norm %x, %g {epsilon = 1.0e-05 : f32} : tensor<?x8xf32>, tensor<8xf32>
  %q, %s = tern.act_quant %n : tensor<?x8xf32> -> tensor<?x8xi8>, tensor<?xf32>
  // CHECK: %[[M:.*]] = tern.glu
  // CHECK: tern.norm_quant(%[[M]]), %arg1
  %m = tern.glu %gate, %up {activation = #tern.activation<silu>} : tensor<?x8xf32>
  %n2 = tern.rms_norm %m, %g {epsilon = 1.0e-05 : f32} : tensor<?x8xf32>, tensor<8xf32>
  %q2, %s2 = tern.act_quant %n2 : tensor<?x8xf32> -> tensor<?x8xi8>, tensor<?xf32>
  return %n, %q, %m, %q2 : tensor<?x8xf32>, tensor<?x8xi8>, tensor<?x8xf32>, tensor<?x8xi8>
}

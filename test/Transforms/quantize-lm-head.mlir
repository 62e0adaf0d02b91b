// RUN: tern-opt %s --tern-quantize-lm-head | FileCheck %s

// Per row: s = max|row| / 127, q = round(row / s). Row 0: s = 1/127,
// q = [127, -32] (0x7F, 0xE0); row 1 (all zero): s = 1, q = 0; row 2:
// s = 2/127, q = [32, -127] (0x20, 0x81). Scales are f32 (1/127 =
// 0x3C010204, 1.0 = 0x3F800000, 2/127 = 0x3C810204), little-endian.
// The table is no longer used, so it goes.
// CHECK-LABEL: func.func @head
// CHECK-NOT: tern.weight "t" =
// CHECK: %[[Q:.*]] = tern.weight "t.int8" = dense_resource<t.int8> : tensor<3x2xi8> -> tensor<3x2xi8>
// CHECK: %[[S:.*]] = tern.weight "t.int8_scale" = dense_resource<t.int8_scale> : tensor<3xf32> -> tensor<3xf32>
// CHECK: tern.lm_head %arg0, %[[Q]] scales %[[S]] : tensor<?x2xf32>, tensor<3x2xi8>, tensor<3xf32> -> tensor<?x3xf32>
// CHECK: t.int8: "0x{{[0-9A-F]*}}7FE000002081"
// CHECK: t.int8_scale: "0x{{[0-9A-F]*}}0402013C0000803F0402813C"
func.func @head(%x: tensor<?x2xf32>) -> tensor<?x3xf32> {
  %t = tern.weight "t" = dense<[[1.0, -0.25], [0.0, 0.0], [0.5, -2.0]]> : tensor<3x2xf32> -> tensor<3x2xf32>
  %l = tern.lm_head %x, %t : tensor<?x2xf32>, tensor<3x2xf32> -> tensor<?x3xf32>
  return %l : tensor<?x3xf32>
}

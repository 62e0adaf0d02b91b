// RUN: tern-opt %s -tern-pack-weights -split-input-file -verify-diagnostics | FileCheck %s
// RUN: tern-opt %s -tern-pack-weights=layout=i2_k64 -split-input-file -verify-diagnostics | FileCheck %s --check-prefix=K64
// RUN: not tern-opt %s -tern-pack-weights=layout=i7 2>&1 | FileCheck %s --check-prefix=LAYOUT

// Row 0 codes (t+1) 2 1 0 2 | 1 -> bytes 0x86 0x01; row 1: 0 0 0 0 | 1 -> 0x00 0x01.
// CHECK-LABEL: func.func @i2
// CHECK: %[[W:.*]] = tern.weight "w" = dense_resource<w> : tensor<4xi8> -> tensor<2x5x!tern.trit, #tern.packed<i2>>
// CHECK: tern.ternary_matmul %{{.*}}, %{{.*}}, %[[W]]
// CHECK: w: "0x4000000086010001"
// i2_k64: one 16-byte block per row (K = 5 is padded to 64 with trit 0, code
// 1): byte j holds k = j, j+16, j+32, j+48 at bits 1:0, 3:2, 5:4, 7:6.
// Row 0 codes 2 1 0 2 1 then padding: 0x56 0x55 0x54 0x56 0x55, 11 x 0x55.
// K64-LABEL: func.func @i2
// Rows go in groups of 8 (6 trit-0 rows pad this one), blocks interleaved.
// K64: tern.weight "w" = dense_resource<w> : tensor<128xi8> -> tensor<2x5x!tern.trit, #tern.packed<i2_k64>>
// Row 1 codes 0 0 0 0 1: 0x54 x 4, 0x55, then padding.
// K64: w: "0x400000005655545655555555555555555555555554545454555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555"
func.func @i2(%q: tensor<?x5xi8>, %s: tensor<?xf32>) -> tensor<?x2xf32> {
  %w = tern.weight "w" = dense<[[1, 0, -1, 1, 0], [-1, -1, -1, -1, 0]]> : tensor<2x5xi8> -> tensor<2x5x!tern.trit>
  %y = tern.ternary_matmul %q, %s, %w {scales = array<f32: 1.0>} : tensor<?x5xi8>, tensor<?xf32>, tensor<2x5x!tern.trit> -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// hf_rows (checkpoint packing) is re-encoded as i2. Trits by row:
// [1, 0], [-1, 1], [0, 0], [1, -1]; hf_rows byte k holds rows 0..3 of column k
// at bits 1:0, 3:2, 5:4, 7:6: 0x92 (-110) and 0x19 (25).
// CHECK-LABEL: func.func @from_hf_rows
// CHECK: tern.weight "h" = dense_resource<h> : tensor<4xi8> -> tensor<4x2x!tern.trit, #tern.packed<i2>>
// CHECK: h: "0x4000000006080502"
func.func @from_hf_rows(%q: tensor<?x2xi8>, %s: tensor<?xf32>) -> tensor<?x4xf32> {
  %w = tern.weight "h" = dense<[-110, 25]> : tensor<2xi8> -> tensor<4x2x!tern.trit, #tern.packed<hf_rows>>
  %y = tern.ternary_matmul %q, %s, %w {scales = array<f32: 1.0>} : tensor<?x2xi8>, tensor<?xf32>, tensor<4x2x!tern.trit, #tern.packed<hf_rows>> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

func.func @not_ternary() {
  // expected-error @+1 {{weight 'bad' element 3 is 2, not a ternary value (-1, 0 or +1)}}
  %w = tern.weight "bad" = dense<[[1, 0, -1, 2]]> : tensor<1x4xi8> -> tensor<1x4x!tern.trit>
  return
}

// -----

func.func @code_three() {
  // expected-error @+1 {{weight 'c3' element 0 is 2, not a ternary value (-1, 0 or +1)}}
  %w = tern.weight "c3" = dense<[3, 0]> : tensor<2xi8> -> tensor<4x2x!tern.trit, #tern.packed<hf_rows>>
  return
}

// LAYOUT: error: tern-pack-weights: 'i7' is not a kernel layout (known: i2, i2_k64, gpu_w2)

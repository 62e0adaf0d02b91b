// RUN: tern-opt %s --tern-pack-lm-head | FileCheck %s

// Row 0 alternates 1.0 (0x3F80) and -1.0 (0xBF80): exponent pair 63, both
// signs. Row 1 starts with 0.0, whose pair (0) is outside every window that
// holds 63, so its block escapes. The first window holding pair 63 is
// 56..63: 1.0 is code 7, -1.0 code 15 (0xF). Row 0: a zero header, 64 low
// bytes 0x80, codes 0x77 and 0xFF (values j and j + 32 share a byte). Row 1:
// mask 1 (block 0 escapes), first escape 0, low bytes 0x00 then 0x80, codes
// zero. Then the escaped block's 64 high bytes: 0x00, then 0x3F.
// CHECK-LABEL: func.func @head
// CHECK: %[[T:.*]] = tern.weight "t" = dense_resource<t> : tensor<288xi8> -> tensor<2x64xbf16, #tern.packed_bf16<base = 56, escapes = 1>>
// CHECK: tern.embedding %[[T]][%arg1] : tensor<2x64xbf16, #tern.packed_bf16<base = 56, escapes = 1>>
// CHECK: tern.lm_head %arg0, %[[T]] : tensor<?x64xf32>, tensor<2x64xbf16, #tern.packed_bf16<base = 56, escapes = 1>> -> tensor<?x2xf32>
// An embedding's own table (untied, or beside an int8 head) is packed too;
// the i8 head table is not a bf16 one.
// CHECK-LABEL: func.func @untied
// CHECK: tern.embedding %{{.*}}[%arg1] : tensor<2x64xbf16, #tern.packed_bf16<base = 56, escapes = 0>>
// CHECK: tern.lm_head %arg0, %{{.*}} scales %{{.*}} : tensor<?x64xf32>, tensor<2x64xi8>, tensor<2xf32>
// A table whose rows are not whole blocks of 64 stays as it is.
// CHECK-LABEL: func.func @tail
// CHECK: tern.lm_head %arg0, %{{.*}} : tensor<?x32xf32>, tensor<2x32xbf16> -> tensor<?x2xf32>
// CHECK: t: "0x40000000000000000000000000000000000000008080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808077FF77FF77FF77FF77FF77FF77FF77FF77FF77FF77FF77FF77FF77FF77FF77FF01000000000000000000000000000000008080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080800000000000000000000000000000000000000000000000000000000000000000003F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F"
func.func @head(%x: tensor<?x64xf32>, %ids: tensor<?xi32>) -> (tensor<?x64xf32>, tensor<?x2xf32>) {
  %t = tern.weight "t" = dense<[[1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0,1.0, -1.0], [0.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0]]> : tensor<2x64xbf16> -> tensor<2x64xbf16>
  %e = tern.embedding %t[%ids] : tensor<2x64xbf16>, tensor<?xi32> -> tensor<?x64xf32>
  %l = tern.lm_head %x, %t : tensor<?x64xf32>, tensor<2x64xbf16> -> tensor<?x2xf32>
  return %e, %l : tensor<?x64xf32>, tensor<?x2xf32>
}

func.func @untied(%x: tensor<?x64xf32>, %ids: tensor<?xi32>) -> (tensor<?x64xf32>, tensor<?x2xf32>) {
  %t = tern.weight "e" = dense<[[1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5], [1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5]]> : tensor<2x64xbf16> -> tensor<2x64xbf16>
  %e = tern.embedding %t[%ids] : tensor<2x64xbf16>, tensor<?xi32> -> tensor<?x64xf32>
  %q = tern.weight "q" = dense<1> : tensor<2x64xi8> -> tensor<2x64xi8>
  %s = tern.weight "s" = dense<1.0> : tensor<2xf32> -> tensor<2xf32>
  %l = tern.lm_head %x, %q scales %s : tensor<?x64xf32>, tensor<2x64xi8>, tensor<2xf32> -> tensor<?x2xf32>
  return %e, %l : tensor<?x64xf32>, tensor<?x2xf32>
}

func.func @tail(%x: tensor<?x32xf32>) -> tensor<?x2xf32> {
  %t = tern.weight "u" = dense<1.0> : tensor<2x32xbf16> -> tensor<2x32xbf16>
  %l = tern.lm_head %x, %t : tensor<?x32xf32>, tensor<2x32xbf16> -> tensor<?x2xf32>
  return %l : tensor<?x2xf32>
}

// RUN: tern-opt %s | FileCheck %s
// RUN: tern-opt %s | tern-opt | FileCheck %s
// RUN: tern-opt -mlir-print-op-generic %s | tern-opt | FileCheck %s

// CHECK-LABEL: func.func @model_level
func.func @model_level(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x16xf32> {
  // CHECK: %[[E:.*]] = tern.weight "embed" = dense<{{.*}}> : tensor<16x8xf32> -> tensor<16x8xf32>
  %e = tern.weight "embed" = dense<0.5> : tensor<16x8xf32> -> tensor<16x8xf32>
  %g = tern.weight "norm" = dense<1.0> : tensor<8xf32> -> tensor<8xf32>
  %wq = tern.weight "q" = dense<1> : tensor<8x8xi8> -> tensor<8x8x!tern.trit>
  %wk = tern.weight "k" = dense<0> : tensor<4x8xi8> -> tensor<4x8x!tern.trit>
  %wl = tern.weight "latent" = dense<0.02> : tensor<8x8xbf16> -> tensor<8x8xbf16>
  // CHECK: tern.embedding %[[E]][%{{.*}}] : tensor<16x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  %h = tern.embedding %e[%ids] : tensor<16x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  // CHECK: tern.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32} : tensor<?x8xf32>, tensor<8xf32>
  %x = tern.rms_norm %h, %g {epsilon = 1.0e-05 : f32} : tensor<?x8xf32>, tensor<8xf32>
  // CHECK: tern.bitlinear %{{.*}}, %{{.*}} {scale = 5.000000e-01 : f32} : tensor<?x8xf32>, tensor<8x8x!tern.trit> -> tensor<?x8xf32>
  %q = tern.bitlinear %x, %wq {scale = 0.5 : f32} : tensor<?x8xf32>, tensor<8x8x!tern.trit> -> tensor<?x8xf32>
  %k = tern.bitlinear %x, %wk {scale = 0.25 : f32} : tensor<?x8xf32>, tensor<4x8x!tern.trit> -> tensor<?x4xf32>
  // CHECK: tern.bitlinear %{{.*}}, %{{.*}} : tensor<?x8xf32>, tensor<8x8xbf16> -> tensor<?x8xf32>
  %l = tern.bitlinear %x, %wl : tensor<?x8xf32>, tensor<8x8xbf16> -> tensor<?x8xf32>
  // CHECK: tern.rope %{{.*}}, %{{.*}} {head_dim = 4 : i64, style = #tern.rope_style<half_split>, theta = 1.000000e+04 : f32}
  %qr = tern.rope %q, %pos {head_dim = 4 : i64, style = #tern.rope_style<half_split>, theta = 1.0e+04 : f32} : tensor<?x8xf32>, tensor<?xi32>
  // CHECK: #tern.rope_style<interleaved>
  %kr = tern.rope %k, %pos {head_dim = 4 : i64, style = #tern.rope_style<interleaved>, theta = 5.0e+05 : f32} : tensor<?x4xf32>, tensor<?xi32>
  // CHECK: scaling = #tern.rope_llama3<factor = 8.000000e+00 : f32, low_freq_factor = 1.000000e+00 : f32, high_freq_factor = 4.000000e+00 : f32, original_context = 8192>
  %ks = tern.rope %k, %pos {head_dim = 4 : i64, style = #tern.rope_style<half_split>, theta = 5.0e+05 : f32, scaling = #tern.rope_llama3<factor = 8.0 : f32, low_freq_factor = 1.0 : f32, high_freq_factor = 4.0 : f32, original_context = 8192>} : tensor<?x4xf32>, tensor<?xi32>
  // CHECK: tern.attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {head_dim = 4 : i64, layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64}
  %o = tern.attention %qr, %kr, %k, %pos {head_dim = 4 : i64, layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64} : tensor<?x8xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<?xi32> -> tensor<?x8xf32>
  // CHECK: tern.glu %{{.*}}, %{{.*}} {activation = #tern.activation<silu>} : tensor<?x8xf32>
  %m = tern.glu %o, %l {activation = #tern.activation<silu>} : tensor<?x8xf32>
  // CHECK: tern.add %{{.*}}, %{{.*}} : tensor<?x8xf32>
  %r = tern.add %h, %m : tensor<?x8xf32>
  // CHECK: tern.lm_head %{{.*}}, %[[E]] : tensor<?x8xf32>, tensor<16x8xf32> -> tensor<?x16xf32>
  %logits = tern.lm_head %r, %e : tensor<?x8xf32>, tensor<16x8xf32> -> tensor<?x16xf32>
  return %logits : tensor<?x16xf32>
}

// CHECK-LABEL: func.func @float_linear
func.func @float_linear(%x: tensor<?x8xf32>, %w: tensor<4x8xbf16>) -> tensor<?x4xf32> {
  // CHECK: tern.linear %{{.*}}, %{{.*}} : tensor<?x8xf32>, tensor<4x8xbf16> -> tensor<?x4xf32>
  %y = tern.linear %x, %w : tensor<?x8xf32>, tensor<4x8xbf16> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// CHECK-LABEL: func.func @quantized_level
func.func @quantized_level(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x4xf32>) {
  %w0 = tern.weight "a" = dense<1> : tensor<8x8xi8> -> tensor<8x8x!tern.trit>
  // CHECK: tern.weight "b" = dense<{{.*}}> : tensor<8xi8> -> tensor<4x8x!tern.trit, #tern.packed<i2>>
  %w1 = tern.weight "b" = dense<85> : tensor<8xi8> -> tensor<4x8x!tern.trit, #tern.packed<i2>>
  // CHECK: %[[Q:.*]], %[[S:.*]] = tern.act_quant %{{.*}} : tensor<?x8xf32> -> tensor<?x8xi8>, tensor<?xf32>
  %q, %s = tern.act_quant %x : tensor<?x8xf32> -> tensor<?x8xi8>, tensor<?xf32>
  // CHECK: tern.ternary_matmul %[[Q]], %[[S]], %{{.*}}, %{{.*}} {scales = array<f32: 5.000000e-01, 2.500000e-01>}
  // CHECK-SAME: : tensor<?x8xi8>, tensor<?xf32>, tensor<8x8x!tern.trit>, tensor<4x8x!tern.trit, #tern.packed<i2>> -> tensor<?x8xf32>, tensor<?x4xf32>
  %y0, %y1 = tern.ternary_matmul %q, %s, %w0, %w1 {scales = array<f32: 0.5, 0.25>} : tensor<?x8xi8>, tensor<?xf32>, tensor<8x8x!tern.trit>, tensor<4x8x!tern.trit, #tern.packed<i2>> -> tensor<?x8xf32>, tensor<?x4xf32>
  return %y0, %y1 : tensor<?x8xf32>, tensor<?x4xf32>
}

// CHECK-LABEL: func.func @norm_quant
func.func @norm_quant(%x: tensor<?x8xf32>, %u: tensor<?x8xf32>, %g: tensor<8xf32>) -> (tensor<?x8xi8>, tensor<?xf32>, tensor<?x8xi8>, tensor<?xf32>) {
  // CHECK: tern.norm_quant(%{{.*}}), %{{.*}} {epsilon = 9.99999974E-6 : f32} : (tensor<?x8xf32>), tensor<8xf32> -> tensor<?x8xi8>, tensor<?xf32>
  %q, %s = tern.norm_quant(%x), %g {epsilon = 1.0e-05 : f32} : (tensor<?x8xf32>), tensor<8xf32> -> tensor<?x8xi8>, tensor<?xf32>
  // CHECK: tern.norm_quant(%{{.*}}, %{{.*}}), %{{.*}} {activation = #tern.activation<silu>, epsilon = 9.99999974E-6 : f32} : (tensor<?x8xf32>, tensor<?x8xf32>), tensor<8xf32> -> tensor<?x8xi8>, tensor<?xf32>
  %q2, %s2 = tern.norm_quant(%x, %u), %g {activation = #tern.activation<silu>, epsilon = 1.0e-05 : f32} : (tensor<?x8xf32>, tensor<?x8xf32>), tensor<8xf32> -> tensor<?x8xi8>, tensor<?xf32>
  return %q, %s, %q2, %s2 : tensor<?x8xi8>, tensor<?xf32>, tensor<?x8xi8>, tensor<?xf32>
}

// CHECK-LABEL: func.func @lm_head_int8
func.func @lm_head_int8(%x: tensor<?x8xf32>, %t: tensor<16x8xi8>, %s: tensor<16xf32>) -> tensor<?x16xf32> {
  // CHECK: tern.lm_head %{{.*}}, %{{.*}} scales %{{.*}} : tensor<?x8xf32>, tensor<16x8xi8>, tensor<16xf32> -> tensor<?x16xf32>
  %l = tern.lm_head %x, %t scales %s : tensor<?x8xf32>, tensor<16x8xi8>, tensor<16xf32> -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// CHECK-LABEL: func.func @matmul_residual
func.func @matmul_residual(%q: tensor<?x8xi8>, %s: tensor<?xf32>, %h: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %w = tern.weight "w" = dense<1> : tensor<4x8xi8> -> tensor<4x8x!tern.trit>
  // CHECK: tern.ternary_matmul %{{.*}}, %{{.*}}, %{{.*}} residual %{{.*}} {scales = array<f32: 5.000000e-01>} : tensor<?x8xi8>, tensor<?xf32>, tensor<4x8x!tern.trit> residual tensor<?x4xf32> -> tensor<?x4xf32>
  %y = tern.ternary_matmul %q, %s, %w residual %h {scales = array<f32: 0.5>} : tensor<?x8xi8>, tensor<?xf32>, tensor<4x8x!tern.trit> residual tensor<?x4xf32> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// CHECK-LABEL: func.func @resource_weight
func.func @resource_weight() -> tensor<2x2xf32> {
  // CHECK: tern.weight "r" = dense_resource<blob> : tensor<2x2xf32> -> tensor<2x2xf32>
  %w = tern.weight "r" = dense_resource<blob> : tensor<2x2xf32> -> tensor<2x2xf32>
  return %w : tensor<2x2xf32>
}

{-#
  dialect_resources: {
    builtin: {
      blob: "0x040000000000803F0000004000004040000080C0"
    }
  }
#-}

// Generic graphs (the ONNX frontend's row-wise path).
// CHECK-LABEL: func.func @generic
func.func @generic(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %b = tern.weight "bias" = dense<0.5> : tensor<8xf32> -> tensor<8xf32>
  %c = tern.weight "c" = dense<2.0> : tensor<1xf32> -> tensor<1xf32>
  // CHECK: tern.unary %{{.*}} {fn = #tern.unary<sigmoid>} : tensor<?x8xf32>
  %s = tern.unary %x {fn = #tern.unary<sigmoid>} : tensor<?x8xf32>
  // CHECK: tern.binary %{{.*}}, %{{.*}} {fn = #tern.binary<add>} : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x8xf32>
  %y = tern.binary %s, %b {fn = #tern.binary<add>} : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x8xf32>
  // CHECK: tern.binary %{{.*}}, %{{.*}} {fn = #tern.binary<div>} : tensor<1xf32>, tensor<?x8xf32> -> tensor<?x8xf32>
  %z = tern.binary %c, %y {fn = #tern.binary<div>} : tensor<1xf32>, tensor<?x8xf32> -> tensor<?x8xf32>
  // CHECK: tern.reduce %{{.*}} {fn = #tern.reduce<max>} : tensor<?x8xf32> -> tensor<?x1xf32>
  %m = tern.reduce %z {fn = #tern.reduce<max>} : tensor<?x8xf32> -> tensor<?x1xf32>
  // CHECK: tern.binary %{{.*}}, %{{.*}} {fn = #tern.binary<sub>} : tensor<?x8xf32>, tensor<?x1xf32> -> tensor<?x8xf32>
  %w = tern.binary %z, %m {fn = #tern.binary<sub>} : tensor<?x8xf32>, tensor<?x1xf32> -> tensor<?x8xf32>
  return %w : tensor<?x8xf32>
}

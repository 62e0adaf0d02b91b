// RUN: tern-opt %s -split-input-file -verify-diagnostics

func.func @weight_dynamic() {
  // expected-error @+1 {{weight 'w' must have a static shape, got 'tensor<?x4xf32>'}}
  %w = tern.weight "w" = dense<1.0> : tensor<4x4xf32> -> tensor<?x4xf32>
  return
}

// -----

func.func @weight_wrong_data() {
  // expected-error @+1 {{weight 'w' of type 'tensor<4x4xf32>' cannot hold data of type 'tensor<4x4xf16>'}}
  %w = tern.weight "w" = dense<1.0> : tensor<4x4xf16> -> tensor<4x4xf32>
  return
}

// -----

func.func @weight_trit_storage() {
  // expected-error @+1 {{weight 't' of type 'tensor<4x4x!tern.trit>' cannot hold data of type 'tensor<4x4xi32>'}}
  %w = tern.weight "t" = dense<1> : tensor<4x4xi32> -> tensor<4x4x!tern.trit>
  return
}

// -----

func.func @weight_blob_size() {
  // expected-error @+1 {{weight 'short': resource 'short' holds 4 bytes, but 'tensor<2x2xf32>' needs 16}}
  %w = tern.weight "short" = dense_resource<short> : tensor<2x2xf32> -> tensor<2x2xf32>
  return
}

{-#
  dialect_resources: {
    builtin: {
      short: "0x0400000000000000"
    }
  }
#-}

// -----

func.func @weight_packed_size() {
  // expected-error @+1 {{weight 'p': layout i2 needs tensor<8xi8> of packed bytes, got 'tensor<16xi8>'}}
  %w = tern.weight "p" = dense<0> : tensor<16xi8> -> tensor<4x8x!tern.trit, #tern.packed<i2>>
  return
}

// -----

func.func @weight_hf_rows_count() {
  // expected-error @+1 {{weight 'h': layout hf_rows needs a row count divisible by 4, got 'tensor<6x8x!tern.trit, #tern.packed<hf_rows>>'}}
  %w = tern.weight "h" = dense<0> : tensor<16xi8> -> tensor<6x8x!tern.trit, #tern.packed<hf_rows>>
  return
}

// -----

func.func @weight_packed_float() {
  // expected-error @+1 {{weight 'p': a packed encoding needs a 2-D !tern.trit tensor, got 'tensor<4x8xf32, #tern.packed<i2>>'}}
  %w = tern.weight "p" = dense<0> : tensor<8xi8> -> tensor<4x8xf32, #tern.packed<i2>>
  return
}

// -----

func.func @weight_packed_bf16_type() {
  // expected-error @+1 {{weight 't': #tern.packed_bf16 needs a 2-D bf16 tensor whose rows are 64 to 4096 values, a multiple of 64; got 'tensor<2x32xbf16, #tern.packed_bf16<base = 56, escapes = 0>>'}}
  %t = tern.weight "t" = dense<0> : tensor<128xi8> -> tensor<2x32xbf16, #tern.packed_bf16<base = 56, escapes = 0>>
  return
}

// -----

func.func @weight_packed_bf16_size() {
  // expected-error @+1 {{weight 't': #tern.packed_bf16<base = 56, escapes = 1> needs tensor<288xi8> of packed bytes, got 'tensor<224xi8>'}}
  %t = tern.weight "t" = dense<0> : tensor<224xi8> -> tensor<2x64xbf16, #tern.packed_bf16<base = 56, escapes = 1>>
  return
}

// -----

func.func @weight_packed_bf16_range() {
  // expected-error @+1 {{weight 't': #tern.packed_bf16<base = 121, escapes = 0> is out of range (base 0 to 120, escapes at most the table's blocks)}}
  %t = tern.weight "t" = dense<0> : tensor<224xi8> -> tensor<2x64xbf16, #tern.packed_bf16<base = 121, escapes = 0>>
  return
}

// -----

func.func @weight_unknown_encoding() {
  // expected-error @+1 {{weight 'e' has an unknown encoding "foo"}}
  %w = tern.weight "e" = dense<1.0> : tensor<4xf32> -> tensor<4xf32, "foo">
  return
}

// -----

func.func @embedding_tokens(%t: tensor<8x4xf32>, %ids: tensor<3xi32>) {
  // expected-error @+1 {{result has 2 tokens but there are 3 ids}}
  %h = tern.embedding %t[%ids] : tensor<8x4xf32>, tensor<3xi32> -> tensor<2x4xf32>
  return
}

// -----

func.func @embedding_width(%ids: tensor<?xi32>) {
  %t = tern.weight "embed" = dense<1.0> : tensor<8x4xf32> -> tensor<8x4xf32>
  // expected-error @+1 {{result has 5 features but table (weight 'embed') rows have 4}}
  %h = tern.embedding %t[%ids] : tensor<8x4xf32>, tensor<?xi32> -> tensor<?x5xf32>
  return
}

// -----

func.func @rms_norm_gamma(%x: tensor<?x8xf32>) {
  %g = tern.weight "norm" = dense<1.0> : tensor<4xf32> -> tensor<4xf32>
  // expected-error @+1 {{gamma (weight 'norm') has 4 elements but the input has 8 features}}
  %y = tern.rms_norm %x, %g {epsilon = 1.0e-05 : f32} : tensor<?x8xf32>, tensor<4xf32>
  return
}

// -----

func.func @rms_norm_eps(%x: tensor<?x4xf32>, %g: tensor<4xf32>) {
  // expected-error @+1 {{epsilon must be positive, got 0}}
  %y = tern.rms_norm %x, %g {epsilon = 0.0 : f32} : tensor<?x4xf32>, tensor<4xf32>
  return
}

// -----

func.func @bitlinear_k(%x: tensor<?x8xf32>) {
  %w = tern.weight "q_proj" = dense<1> : tensor<4x6xi8> -> tensor<4x6x!tern.trit>
  // expected-error @+1 {{weight (weight 'q_proj') has 6 input features but the input has 8}}
  %y = tern.bitlinear %x, %w {scale = 1.0 : f32} : tensor<?x8xf32>, tensor<4x6x!tern.trit> -> tensor<?x4xf32>
  return
}

// -----

func.func @bitlinear_n(%x: tensor<?x8xf32>, %w: tensor<4x8x!tern.trit>) {
  // expected-error @+1 {{result has 5 features but the weight gives 4}}
  %y = tern.bitlinear %x, %w {scale = 1.0 : f32} : tensor<?x8xf32>, tensor<4x8x!tern.trit> -> tensor<?x5xf32>
  return
}

// -----

func.func @bitlinear_tokens(%x: tensor<3x8xf32>, %w: tensor<4x8x!tern.trit>) {
  // expected-error @+1 {{result has 2 tokens but the input has 3}}
  %y = tern.bitlinear %x, %w {scale = 1.0 : f32} : tensor<3x8xf32>, tensor<4x8x!tern.trit> -> tensor<2x4xf32>
  return
}

// -----

func.func @bitlinear_missing_scale(%x: tensor<?x8xf32>, %w: tensor<4x8x!tern.trit>) {
  // expected-error @+1 {{ternary weight needs a 'scale'}}
  %y = tern.bitlinear %x, %w : tensor<?x8xf32>, tensor<4x8x!tern.trit> -> tensor<?x4xf32>
  return
}

// -----

func.func @bitlinear_latent_scale(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>) {
  // expected-error @+1 {{latent float weight must not have a 'scale' (tern-quantize-weights computes it)}}
  %y = tern.bitlinear %x, %w {scale = 1.0 : f32} : tensor<?x8xf32>, tensor<4x8xf32> -> tensor<?x4xf32>
  return
}

// -----

func.func @bitlinear_bad_scale(%x: tensor<?x8xf32>, %w: tensor<4x8x!tern.trit>) {
  // expected-error @+1 {{scale of weight must be positive and finite, got -1}}
  %y = tern.bitlinear %x, %w {scale = -1.0 : f32} : tensor<?x8xf32>, tensor<4x8x!tern.trit> -> tensor<?x4xf32>
  return
}

// -----

func.func @bitlinear_type(%x: tensor<?x8xf32>, %w: tensor<4x8xi8>) {
  // expected-error @+1 {{operand #1 must be 2D tensor of 32-bit float or 16-bit float or bfloat16 type or ternary values}}
  %y = tern.bitlinear %x, %w : tensor<?x8xf32>, tensor<4x8xi8> -> tensor<?x4xf32>
  return
}

// -----

func.func @rope_head_dim(%x: tensor<?x8xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{head_dim must be positive and even, got 3}}
  %y = tern.rope %x, %p {head_dim = 3 : i64, style = #tern.rope_style<half_split>, theta = 1.0e+04 : f32} : tensor<?x8xf32>, tensor<?xi32>
  return
}

// -----

func.func @rope_multiple(%x: tensor<?x12xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{input has 12 features, not a multiple of head_dim 8}}
  %y = tern.rope %x, %p {head_dim = 8 : i64, style = #tern.rope_style<half_split>, theta = 1.0e+04 : f32} : tensor<?x12xf32>, tensor<?xi32>
  return
}

// -----

func.func @rope_tokens(%x: tensor<3x8xf32>, %p: tensor<2xi32>) {
  // expected-error @+1 {{positions and input disagree on the token count}}
  %y = tern.rope %x, %p {head_dim = 8 : i64, style = #tern.rope_style<half_split>, theta = 1.0e+04 : f32} : tensor<3x8xf32>, tensor<2xi32>
  return
}

// -----

func.func @rope_theta(%x: tensor<?x8xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{theta must be positive, got 0}}
  %y = tern.rope %x, %p {head_dim = 8 : i64, style = #tern.rope_style<half_split>, theta = 0.0 : f32} : tensor<?x8xf32>, tensor<?xi32>
  return
}

// -----

func.func @rope_freq_factors(%x: tensor<?x8xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{has 3 freq_factors for head_dim 8 (one per frequency: head_dim / 2)}}
  %y = tern.rope %x, %p {head_dim = 8 : i64, style = #tern.rope_style<half_split>, theta = 1.0e+04 : f32, freq_factors = array<f32: 1.0, 2.0, 4.0>} : tensor<?x8xf32>, tensor<?xi32>
  return
}

// -----

func.func @rope_llama3(%x: tensor<?x8xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{llama3 scaling needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_context > 0}}
  %y = tern.rope %x, %p {head_dim = 8 : i64, style = #tern.rope_style<half_split>, theta = 1.0e+04 : f32, scaling = #tern.rope_llama3<factor = 8.0 : f32, low_freq_factor = 4.0 : f32, high_freq_factor = 1.0 : f32, original_context = 8192>} : tensor<?x8xf32>, tensor<?xi32>
  return
}

// -----

func.func @attention_gqa(%q: tensor<?x12xf32>, %k: tensor<?x8xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{num_heads 3 is not a multiple of num_kv_heads 2}}
  %o = tern.attention %q, %k, %k, %p {head_dim = 4 : i64, layer = 0 : i64, num_heads = 3 : i64, num_kv_heads = 2 : i64} : tensor<?x12xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?xi32> -> tensor<?x12xf32>
  return
}

// -----

func.func @attention_positive(%q: tensor<?x8xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{num_heads (0), num_kv_heads (1) and head_dim (4) must be positive}}
  %o = tern.attention %q, %q, %q, %p {head_dim = 4 : i64, layer = 0 : i64, num_heads = 0 : i64, num_kv_heads = 1 : i64} : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  return
}

// -----

func.func @attention_layer(%q: tensor<?x8xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{layer must be non-negative, got -1}}
  %o = tern.attention %q, %q, %q, %p {head_dim = 4 : i64, layer = -1 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64} : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  return
}

// -----

func.func @attention_key_width(%q: tensor<?x8xf32>, %k: tensor<?x6xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{key has 6 features, expected 1 heads x 4 = 4}}
  %o = tern.attention %q, %k, %k, %p {head_dim = 4 : i64, layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64} : tensor<?x8xf32>, tensor<?x6xf32>, tensor<?x6xf32>, tensor<?xi32> -> tensor<?x8xf32>
  return
}

// -----

func.func @attention_tokens(%q: tensor<3x8xf32>, %k: tensor<2x8xf32>, %p: tensor<3xi32>) {
  // expected-error @+1 {{key and query disagree on the token count}}
  %o = tern.attention %q, %k, %k, %p {head_dim = 4 : i64, layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64} : tensor<3x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<3xi32> -> tensor<3x8xf32>
  return
}

// -----

func.func @glu_types(%g: tensor<?x8xf32>, %u: tensor<?x4xf32>) {
  // expected-error @+1 {{all of {gate, up, result} have same type}}
  %m = "tern.glu"(%g, %u) {activation = #tern.activation<relu2>} : (tensor<?x8xf32>, tensor<?x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @add_types(%a: tensor<?x8xf32>, %b: tensor<?x4xf32>) {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %r = "tern.add"(%a, %b) : (tensor<?x8xf32>, tensor<?x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @lm_head_vocab(%x: tensor<?x8xf32>) {
  %e = tern.weight "embed" = dense<1.0> : tensor<16x8xf32> -> tensor<16x8xf32>
  // expected-error @+1 {{result has 15 features but the table (weight 'embed') gives 16}}
  %l = tern.lm_head %x, %e : tensor<?x8xf32>, tensor<16x8xf32> -> tensor<?x15xf32>
  return
}

// -----

func.func @linear_width(%x: tensor<?x8xf32>, %w: tensor<16x4xbf16>) {
  // expected-error @+1 {{weight has 4 input features but the input has 8}}
  %y = tern.linear %x, %w : tensor<?x8xf32>, tensor<16x4xbf16> -> tensor<?x16xf32>
  return
}

// -----

func.func @lm_head_width(%x: tensor<?x8xf32>, %e: tensor<16x4xf32>) {
  // expected-error @+1 {{table has 4 input features but the input has 8}}
  %l = tern.lm_head %x, %e : tensor<?x8xf32>, tensor<16x4xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @act_quant_shape(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{quantized result 'tensor<?x4xi8>' does not match the input shape 'tensor<?x8xf32>'}}
  %q, %s = tern.act_quant %x : tensor<?x8xf32> -> tensor<?x4xi8>, tensor<?xf32>
  return
}

// -----

func.func @act_quant_scale(%x: tensor<3x8xf32>) {
  // expected-error @+1 {{scale has 2 entries for 3 tokens}}
  %q, %s = tern.act_quant %x : tensor<3x8xf32> -> tensor<3x8xi8>, tensor<2xf32>
  return
}

// -----

func.func @matmul_counts(%q: tensor<?x8xi8>, %s: tensor<?xf32>, %w: tensor<4x8x!tern.trit>) {
  // expected-error @+1 {{has 1 weights, 1 results and 2 scales; the three counts must match}}
  %y = tern.ternary_matmul %q, %s, %w {scales = array<f32: 1.0, 2.0>} : tensor<?x8xi8>, tensor<?xf32>, tensor<4x8x!tern.trit> -> tensor<?x4xf32>
  return
}

// -----

func.func @matmul_none(%q: tensor<?x8xi8>, %s: tensor<?xf32>) {
  // expected-error @+1 {{needs at least one weight}}
  "tern.ternary_matmul"(%q, %s) {operandSegmentSizes = array<i32: 1, 1, 0, 0>, scales = array<f32>} : (tensor<?x8xi8>, tensor<?xf32>) -> ()
  return
}

// -----

func.func @matmul_k(%q: tensor<?x8xi8>, %s: tensor<?xf32>) {
  %w = tern.weight "down" = dense<85> : tensor<8xi8> -> tensor<4x6x!tern.trit, #tern.packed<i2>>
  // expected-error @+1 {{weight #0 (weight 'down') has 6 input features but the input has 8}}
  %y = tern.ternary_matmul %q, %s, %w {scales = array<f32: 1.0>} : tensor<?x8xi8>, tensor<?xf32>, tensor<4x6x!tern.trit, #tern.packed<i2>> -> tensor<?x4xf32>
  return
}

// -----

func.func @matmul_scale(%q: tensor<?x8xi8>, %s: tensor<?xf32>, %w: tensor<4x8x!tern.trit>) {
  // expected-error @+1 {{scale of weight #0 must be positive and finite, got 0}}
  %y = tern.ternary_matmul %q, %s, %w {scales = array<f32: 0.0>} : tensor<?x8xi8>, tensor<?xf32>, tensor<4x8x!tern.trit> -> tensor<?x4xf32>
  return
}

// -----

func.func @matmul_tokens(%q: tensor<3x8xi8>, %s: tensor<2xf32>, %w: tensor<4x8x!tern.trit>) {
  // expected-error @+1 {{scale and input disagree on the token count}}
  %y = tern.ternary_matmul %q, %s, %w {scales = array<f32: 1.0>} : tensor<3x8xi8>, tensor<2xf32>, tensor<4x8x!tern.trit> -> tensor<3x4xf32>
  return
}

// -----

// expected-error @+2 {{expected ::mlir::tern::PackedLayout to be one of: i2}}
// expected-error @+1 {{failed to parse Tern_PackedAttr parameter 'layout'}}
func.func @bad_layout(%w: tensor<4x8x!tern.trit, #tern.packed<i3>>) {
  return
}

// -----

func.func @norm_quant_three_inputs(%x: tensor<?x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{takes one input, or a gate and an up input; got 3}}
  %q, %s = tern.norm_quant(%x, %x, %x), %g {epsilon = 1.0e-05 : f32} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>), tensor<8xf32> -> tensor<?x8xi8>, tensor<?xf32>
  return
}

// -----

func.func @norm_quant_gate_without_activation(%x: tensor<?x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{gate and up inputs need an activation}}
  %q, %s = tern.norm_quant(%x, %x), %g {epsilon = 1.0e-05 : f32} : (tensor<?x8xf32>, tensor<?x8xf32>), tensor<8xf32> -> tensor<?x8xi8>, tensor<?xf32>
  return
}

// -----

func.func @norm_quant_activation_without_gate(%x: tensor<?x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{an activation needs gate and up inputs}}
  %q, %s = tern.norm_quant(%x), %g {activation = #tern.activation<relu2>, epsilon = 1.0e-05 : f32} : (tensor<?x8xf32>), tensor<8xf32> -> tensor<?x8xi8>, tensor<?xf32>
  return
}

// -----

func.func @norm_quant_gate_up_differ(%x: tensor<?x8xf32>, %u: tensor<4x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{gate 'tensor<?x8xf32>' and up 'tensor<4x8xf32>' differ}}
  %q, %s = tern.norm_quant(%x, %u), %g {activation = #tern.activation<silu>, epsilon = 1.0e-05 : f32} : (tensor<?x8xf32>, tensor<4x8xf32>), tensor<8xf32> -> tensor<?x8xi8>, tensor<?xf32>
  return
}

// -----

func.func @norm_quant_gamma(%x: tensor<?x8xf32>, %g: tensor<6xf32>) {
  // expected-error @+1 {{has 6 elements but the input has 8 features}}
  %q, %s = tern.norm_quant(%x), %g {epsilon = 1.0e-05 : f32} : (tensor<?x8xf32>), tensor<6xf32> -> tensor<?x8xi8>, tensor<?xf32>
  return
}

// -----

func.func @norm_quant_epsilon(%x: tensor<?x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{epsilon must be positive, got 0}}
  %q, %s = tern.norm_quant(%x), %g {epsilon = 0.0 : f32} : (tensor<?x8xf32>), tensor<8xf32> -> tensor<?x8xi8>, tensor<?xf32>
  return
}

// -----

func.func @norm_quant_result(%x: tensor<?x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{quantized result 'tensor<?x4xi8>' does not match the input shape 'tensor<?x8xf32>'}}
  %q, %s = tern.norm_quant(%x), %g {epsilon = 1.0e-05 : f32} : (tensor<?x8xf32>), tensor<8xf32> -> tensor<?x4xi8>, tensor<?xf32>
  return
}

// -----

func.func @norm_quant_scale(%x: tensor<3x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{scale has 2 entries for 3 tokens}}
  %q, %s = tern.norm_quant(%x), %g {epsilon = 1.0e-05 : f32} : (tensor<3x8xf32>), tensor<8xf32> -> tensor<3x8xi8>, tensor<2xf32>
  return
}

// -----

func.func @lm_head_int8_without_scales(%x: tensor<?x8xf32>, %t: tensor<16x8xi8>) {
  // expected-error @+1 {{an i8 table needs per-row scales}}
  %l = tern.lm_head %x, %t : tensor<?x8xf32>, tensor<16x8xi8> -> tensor<?x16xf32>
  return
}

// -----

func.func @lm_head_scales_float_table(%x: tensor<?x8xf32>, %t: tensor<16x8xbf16>, %s: tensor<16xf32>) {
  // expected-error @+1 {{scales need an i8 table}}
  %l = tern.lm_head %x, %t scales %s : tensor<?x8xf32>, tensor<16x8xbf16>, tensor<16xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @lm_head_scale_count(%x: tensor<?x8xf32>, %t: tensor<16x8xi8>, %s: tensor<12xf32>) {
  // expected-error @+1 {{has 12 scales for 16 table rows}}
  %l = tern.lm_head %x, %t scales %s : tensor<?x8xf32>, tensor<16x8xi8>, tensor<12xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @matmul_residual_two_weights(%q: tensor<?x8xi8>, %s: tensor<?xf32>, %h: tensor<?x4xf32>) {
  %w = tern.weight "w" = dense<1> : tensor<4x8xi8> -> tensor<4x8x!tern.trit>
  // expected-error @+1 {{a residual needs exactly one weight, got 2}}
  %y:2 = tern.ternary_matmul %q, %s, %w, %w residual %h {scales = array<f32: 1.0, 1.0>} : tensor<?x8xi8>, tensor<?xf32>, tensor<4x8x!tern.trit>, tensor<4x8x!tern.trit> residual tensor<?x4xf32> -> tensor<?x4xf32>, tensor<?x4xf32>
  return
}

// -----

func.func @matmul_residual_type(%q: tensor<?x8xi8>, %s: tensor<?xf32>, %h: tensor<?x6xf32>) {
  %w = tern.weight "w" = dense<1> : tensor<4x8xi8> -> tensor<4x8x!tern.trit>
  // expected-error @+1 {{residual 'tensor<?x6xf32>' does not match the result 'tensor<?x4xf32>'}}
  %y = tern.ternary_matmul %q, %s, %w residual %h {scales = array<f32: 1.0>} : tensor<?x8xi8>, tensor<?xf32>, tensor<4x8x!tern.trit> residual tensor<?x6xf32> -> tensor<?x4xf32>
  return
}

// -----

func.func @binary_vector_size(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %b = tern.weight "b" = dense<1.0> : tensor<4xf32> -> tensor<4xf32>
  // expected-error @+1 {{vector operand 'tensor<4xf32>' must have 1 or 8 elements}}
  %y = tern.binary %x, %b {fn = #tern.binary<add>} : tensor<?x8xf32>, tensor<4xf32> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @binary_no_rows() -> tensor<?x8xf32> {
  %b = tern.weight "b" = dense<1.0> : tensor<8xf32> -> tensor<8xf32>
  // expected-error @+1 {{needs an operand of the result's type}}
  %y = tern.binary %b, %b {fn = #tern.binary<mul>} : tensor<8xf32>, tensor<8xf32> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @binary_rows_differ(%x: tensor<?x8xf32>, %z: tensor<?x4xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{operand 'tensor<?x4xf32>' differs from the result 'tensor<?x8xf32>' (and is not one column)}}
  %y = tern.binary %x, %z {fn = #tern.binary<sub>} : tensor<?x8xf32>, tensor<?x4xf32> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @reduce_columns(%x: tensor<?x8xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{result 'tensor<?x2xf32>' must have one column}}
  %y = tern.reduce %x {fn = #tern.reduce<sum>} : tensor<?x8xf32> -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

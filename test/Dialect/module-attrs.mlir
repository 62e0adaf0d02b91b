// RUN: tern-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// The module attributes the dialect declares round-trip.
// CHECK: module attributes {tern.context_length = 64 : i64, tern.eos_token_ids = array<i64: 2, 7>, tern.target = #tern.target<triple = "x86_64-unknown-linux-gnu", cpu = "x86-64-v3", features = "+avx2", kernels = "avx2", ternary_layout = i2_k64>}
// CHECK: tern.weight "w" {{.*}}#tern.packed<i2_k64>
module attributes {tern.context_length = 64 : i64, tern.eos_token_ids = array<i64: 2, 7>, tern.target = #tern.target<triple = "x86_64-unknown-linux-gnu", cpu = "x86-64-v3", features = "+avx2", kernels = "avx2", ternary_layout = i2_k64>} {
  func.func @f() -> tensor<2x5x!tern.trit, #tern.packed<i2_k64>> {
    %w = tern.weight "w" = dense<85> : tensor<128xi8> -> tensor<2x5x!tern.trit, #tern.packed<i2_k64>>
    return %w : tensor<2x5x!tern.trit, #tern.packed<i2_k64>>
  }
}

// -----

// Unpacked weights and the checkpoints' hf_rows are not packed for kernels
// yet: any target accepts them.
module attributes {tern.target = #tern.target<triple = "x86_64-unknown-linux-gnu", cpu = "generic", features = "", kernels = "scalar", ternary_layout = i2>} {
  func.func @f() -> (tensor<2x5x!tern.trit>, tensor<4x2x!tern.trit, #tern.packed<hf_rows>>) {
    %a = tern.weight "a" = dense<0> : tensor<2x5xi8> -> tensor<2x5x!tern.trit>
    %h = tern.weight "h" = dense<85> : tensor<2xi8> -> tensor<4x2x!tern.trit, #tern.packed<hf_rows>>
    return %a, %h : tensor<2x5x!tern.trit>, tensor<4x2x!tern.trit, #tern.packed<hf_rows>>
  }
}

// -----

// A layout the target's kernels do not read: the pair cannot drift apart.
module attributes {tern.target = #tern.target<triple = "x86_64-unknown-linux-gnu", cpu = "x86-64-v3", features = "", kernels = "avx2", ternary_layout = i2_k64>} {
  func.func @f() -> tensor<16x8x!tern.trit, #tern.packed<gpu_w2>> {
    // expected-error @+1 {{weight 'w' is packed as #tern.packed<gpu_w2>, but the module's target reads #tern.packed<i2_k64> (avx2 kernels)}}
    %w = tern.weight "w" = dense<85> : tensor<64xi8> -> tensor<16x8x!tern.trit, #tern.packed<gpu_w2>>
    return %w : tensor<16x8x!tern.trit, #tern.packed<gpu_w2>>
  }
}

// -----

// expected-error @+1 {{'tern.context_length' must be a positive integer (the model's positions), got 0 : i64}}
module attributes {tern.context_length = 0 : i64} {}

// -----

// expected-error @+1 {{'tern.eos_token_ids' must be an array<i64> of token ids, got 2 : i64}}
module attributes {tern.eos_token_ids = 2 : i64} {}

// -----

// expected-error @+1 {{'tern.target' must be a #tern.target, got "avx2"}}
module attributes {tern.target = "avx2"} {}

// -----

// expected-error @+1 {{'tern.graph' must be a string (the graph's signature), got 3 : i64}}
module attributes {tern.graph = 3 : i64} {}

// -----

// expected-error @+1 {{'tern.tokenizer' must be a dense_resource of i8 (the serialized tokenizer), got "bpe"}}
module attributes {tern.tokenizer = "bpe"} {}

// -----

// expected-error @+1 {{unknown module attribute 'tern.context' (known: tern.target, tern.context_length, tern.eos_token_ids, tern.tokenizer, tern.graph)}}
module attributes {tern.context = 64 : i64} {}

// -----

func.func @f() {
  // expected-error @+1 {{'tern.context_length' is a module attribute}}
  func.call @f() {tern.context_length = 64 : i64} : () -> ()
  return
}

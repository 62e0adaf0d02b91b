// RUN: tern-opt %s -tern-lower-to-kernels -split-input-file -verify-diagnostics | FileCheck %s

// Each op becomes a call to a kernel function, one per distinct signature;
// kernels are internal and never inlined. Weights are globals.
// CHECK: memref.global "private" constant @tern_weight_embed : memref<16x8xf32> = dense<{{.*}}> {alignment = 64 : i64}
// CHECK: memref.global "private" constant @tern_weight_w : memref<16xi8> = dense<{{.*}}> {alignment = 64 : i64}
// embedding: one row per id
// CHECK-LABEL: func.func private @tern_kernel_embedding
// CHECK-SAME: attributes {llvm.linkage = #llvm.linkage<internal>, passthrough = ["noinline"]}
// CHECK: scf.for
// CHECK: arith.index_cast
// act_quant: absmax, 127 / amax, round half to even, clamp, i8
// CHECK-LABEL: func.func private @tern_kernel_act_quant
// CHECK: math.absf
// CHECK: arith.divf
// CHECK: math.roundeven
// CHECK: arith.fptosi %{{.*}} : f32 to i8
// ternary_matmul on i2 codes: shift, mask, minus one, i32 multiply-add; the
// weight scale is an argument, so layers of one shape share the kernel.
// CHECK-LABEL: func.func private @tern_kernel_ternary_matmul
// CHECK-SAME: %[[WSCALE:[a-z0-9]+]]: f32)
// CHECK: arith.shrui
// CHECK: arith.andi
// CHECK: arith.subi
// CHECK: arith.muli %{{.*}} : i32
// CHECK: arith.sitofp
// CHECK: arith.mulf %{{.*}}, %[[WSCALE]]
// The LM head computes the rows the caller asks for: out[r] from x[rows[r]].
// CHECK-LABEL: func.func private @tern_kernel_lm_head
// CHECK-SAME: %[[LROWS:[a-z0-9]+]]: memref<?xi32>)
// CHECK: memref.load %[[LROWS]]
// CHECK: arith.index_cast
// The model on a batch of tokens: ids, positions, each token's KV pool slot,
// the pool, the positions a slot holds, the rows whose logits are wanted.
// CHECK-LABEL: func.func @tern_forward_batch
// CHECK-SAME: (%[[IDS:.*]]: memref<?xi32>, %[[POS:.*]]: memref<?xi32>, %[[SLOTS:.*]]: memref<?xi32>, %[[KV:.*]]: memref<?xf32>, %[[CTX:.*]]: index, %[[ROWS:.*]]: memref<?xi32>, %[[OUT:.*]]: memref<?x16xf32>)
// CHECK-SAME: attributes {llvm.emit_c_interface}
// CHECK: %[[T:.*]] = memref.dim %[[IDS]]
// CHECK: %[[E:.*]] = memref.get_global @tern_weight_embed
// CHECK: %[[H:.*]] = memref.alloc(%[[T]]) {alignment = 64 : i64} : memref<?x8xf32>
// CHECK: call @tern_kernel_embedding(%[[E]], %[[IDS]], %[[H]])
// CHECK: call @tern_kernel_act_quant(%[[H]],
// CHECK: call @tern_kernel_ternary_matmul({{.*}}, %cst{{.*}}) : ({{.*}}, f32) -> ()
// CHECK: call @tern_kernel_ternary_matmul({{.*}}, %cst{{.*}}) : ({{.*}}, f32) -> ()
// The LM head writes into the caller's logits buffer.
// CHECK: call @tern_kernel_lm_head(%{{.*}}, %[[E]], %[[OUT]], %[[ROWS]])
// CHECK-NOT: memref.copy
// CHECK: memref.dealloc
// CHECK: return
// One sequence: its tokens all in slot 0, the logits of its last rows, the
// context from the cache's size (0 without attention).
// CHECK-LABEL: func.func @tern_forward
// CHECK-SAME: (%[[IDS1:.*]]: memref<?xi32>, %[[POS1:.*]]: memref<?xi32>, %[[KV1:.*]]: memref<?xf32>, %[[OUT1:.*]]: memref<?x16xf32>)
// CHECK-SAME: attributes {llvm.emit_c_interface}
// CHECK: %[[N:.*]] = memref.dim %[[IDS1]]
// CHECK: %[[R:.*]] = memref.dim %[[OUT1]]
// CHECK: %[[S:.*]] = memref.alloc(%[[N]]) : memref<?xi32>
// CHECK: %[[RS:.*]] = memref.alloc(%[[R]]) : memref<?xi32>
// CHECK: %[[FIRST:.*]] = arith.subi %[[N]], %[[R]]
// CHECK: arith.addi %[[FIRST]]
// CHECK: call @tern_forward_batch(%[[IDS1]], %[[POS1]], %[[S]], %[[KV1]], %c0{{.*}}, %[[RS]], %[[OUT1]])
// CHECK: memref.dealloc %[[S]]
// CHECK: memref.dealloc %[[RS]]
// CHECK-LABEL: func.func @tern_vocab_size() -> i64
// CHECK: arith.constant 16 : i64
// Without attention the KV cache is empty.
// CHECK-LABEL: func.func @tern_kv_floats_per_position() -> i64
// CHECK: arith.constant 0 : i64
// CHECK-LABEL: func.func @tern_context_length() -> i64
// CHECK: arith.constant 128 : i64
// CHECK-NOT: @forward
module attributes {tern.context_length = 128 : i64} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x16xf32> {
    %e = tern.weight "embed" = dense<0.5> : tensor<16x8xf32> -> tensor<16x8xf32>
    %w = tern.weight "w" = dense<85> : tensor<16xi8> -> tensor<8x8x!tern.trit, #tern.packed<i2>>
    %h = tern.embedding %e[%ids] : tensor<16x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
    %q, %s = tern.act_quant %h : tensor<?x8xf32> -> tensor<?x8xi8>, tensor<?xf32>
    %y = tern.ternary_matmul %q, %s, %w {scales = array<f32: 1.0>} : tensor<?x8xi8>, tensor<?xf32>, tensor<8x8x!tern.trit, #tern.packed<i2>> -> tensor<?x8xf32>
    %q2, %s2 = tern.act_quant %y : tensor<?x8xf32> -> tensor<?x8xi8>, tensor<?xf32>
    %y2 = tern.ternary_matmul %q2, %s2, %w {scales = array<f32: 2.0>} : tensor<?x8xi8>, tensor<?xf32>, tensor<8x8x!tern.trit, #tern.packed<i2>> -> tensor<?x8xf32>
    %l = tern.lm_head %y2, %e : tensor<?x8xf32>, tensor<16x8xf32> -> tensor<?x16xf32>
    return %l : tensor<?x16xf32>
  }
}

// -----

// Without the attribute the context length defaults to 2048.
// CHECK-LABEL: func.func @tern_context_length() -> i64
// CHECK: arith.constant 2048 : i64
func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x16xf32> {
  %e = tern.weight "embed" = dense<0.5> : tensor<16x8xf32> -> tensor<16x8xf32>
  %h = tern.embedding %e[%ids] : tensor<16x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  %l = tern.lm_head %h, %e : tensor<?x8xf32>, tensor<16x8xf32> -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// -----

// expected-error @+1 {{no model function: expected func.func @forward}}
module {
  func.func @other() {
    return
  }
}

// -----

// expected-error @+1 {{model function must be (tensor<?xi32> ids, tensor<?xi32> positions) -> tensor<?xVxf32> logits, got '(tensor<?xi32>) -> tensor<?x16xf32>'}}
func.func @forward(%ids: tensor<?xi32>) -> tensor<?x16xf32> {
  %e = tern.weight "embed" = dense<0.5> : tensor<16x8xf32> -> tensor<16x8xf32>
  %h = tern.embedding %e[%ids] : tensor<16x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  %l = tern.lm_head %h, %e : tensor<?x8xf32>, tensor<16x8xf32> -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// -----

// Attention: the kernel takes the KV pool, the layer, each token's slot and
// the positions a slot holds; a token's rows start at slot x context x
// (2 layers x K,V x 8 floats), a kv head's rows of a layer together
// ([layer][k, v][kv head][position][4]). It appends this call's rows, then
// runs softmax(q.K * 4^-0.5) . V with query heads 0,1 reading KV head 0 and
// 2,3 reading KV head 1: in parallel over (kv head, token), both heads of
// the group per item, for 4 tokens or more; over (head, token) for fewer.
// An item's scores (a row per head) are its own.
// CHECK-LABEL: func.func private @tern_kernel_attention
// CHECK-SAME: %[[KV:[a-z0-9]+]]: memref<?xf32>, %[[LAYER:[a-z0-9]+]]: index, %[[SLOTS:[a-z0-9]+]]: memref<?xi32>, %[[CTX:[a-z0-9]+]]: index)
// CHECK: memref.load %[[SLOTS]]
// CHECK: arith.muli %[[CTX]], %c32
// CHECK: arith.muli %[[LAYER]], %c2
// CHECK: memref.store %{{.*}}, %[[KV]]
// CHECK: arith.constant 5.000000e-01 : f32
// CHECK: %[[GROUPED:.*]] = arith.cmpi uge, %{{.*}}, %c4
// CHECK: scf.if %[[GROUPED]]
// CHECK: scf.parallel (%[[I:.*]]) =
// CHECK: %[[T:.*]] = arith.remui %[[I]], %[[N:.*]] : index
// CHECK: arith.divui %[[I]], %[[N]]
// CHECK: memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<2x?xf32>
// CHECK: arith.constant 0xFF800000 : f32
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: memref.dealloc %{{.*}} : memref<2x?xf32>
// CHECK: } else {
// CHECK: scf.parallel
// CHECK: memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<1x?xf32>
// CHECK: memref.dealloc %{{.*}} : memref<1x?xf32>
// CHECK-LABEL: func.func @tern_forward_batch
// CHECK-SAME: %[[SLOTS:[a-z0-9]+]]: memref<?xi32>, %[[CACHE:[a-z0-9]+]]: memref<?xf32>, %[[CTX:[a-z0-9]+]]: index
// CHECK: %[[ONE:.*]] = arith.constant 1 : index
// CHECK: call @tern_kernel_attention({{.*}}, %[[CACHE]], %[[ONE]], %[[SLOTS]], %[[CTX]])
// A sequence's cache holds size / 32 positions.
// CHECK-LABEL: func.func @tern_forward
// CHECK-SAME: %[[CACHE1:[a-z0-9]+]]: memref<?xf32>, %{{.*}}: memref<?x16xf32>)
// CHECK: %[[SIZE:.*]] = memref.dim %[[CACHE1]]
// CHECK: %[[CTX1:.*]] = arith.divui %[[SIZE]], %c32
// CHECK: call @tern_forward_batch({{.*}}, %[[CACHE1]], %[[CTX1]],
// CHECK-LABEL: func.func @tern_kv_floats_per_position() -> i64
// CHECK: arith.constant 32 : i64
func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x16xf32> {
  %e = tern.weight "embed" = dense<0.5> : tensor<16x16xf32> -> tensor<16x16xf32>
  %h = tern.embedding %e[%ids] : tensor<16x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %kv = tern.weight "kv" = dense<0.25> : tensor<16x8xf32> -> tensor<16x8xf32>
  %k = tern.embedding %kv[%ids] : tensor<16x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  %o = tern.attention %h, %k, %k, %pos {head_dim = 4 : i64, layer = 1 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64} : tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %l = tern.lm_head %o, %e : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// -----

// The logits must come from the LM head: it computes only the rows asked for.
func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x8xf32> {
  %e = tern.weight "embed" = dense<0.5> : tensor<16x8xf32> -> tensor<16x8xf32>
  %h = tern.embedding %e[%ids] : tensor<16x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  // expected-error @+1 {{model function's logits must come from tern.lm_head (it computes only the rows the caller asks for)}}
  return %h : tensor<?x8xf32>
}

// -----

func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x4xf32> {
  %e = tern.weight "embed" = dense<0.5> : tensor<16x8xf32> -> tensor<16x8xf32>
  %w = tern.weight "w" = dense<1> : tensor<4x8xi8> -> tensor<4x8x!tern.trit>
  %h = tern.embedding %e[%ids] : tensor<16x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  // expected-error @+1 {{must be lowered to act_quant + ternary_matmul before kernels (run tern-lower-bitlinear)}}
  %y = tern.bitlinear %h, %w {scale = 1.0 : f32} : tensor<?x8xf32>, tensor<4x8x!tern.trit> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x16xf32> {
  %e = tern.weight "embed" = dense<0.5> : tensor<16x8xf32> -> tensor<16x8xf32>
  // expected-error @+1 {{result type 'tensor<?x?xf32>' has a dynamic feature dimension; kernels need static sizes for every dimension but the tokens}}
  %h = tern.embedding %e[%ids] : tensor<16x8xf32>, tensor<?xi32> -> tensor<?x?xf32>
  %l = tern.lm_head %h, %e : tensor<?x?xf32>, tensor<16x8xf32> -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

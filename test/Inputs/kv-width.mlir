// Two attention layers whose KV rows differ in width: one KV cache cannot
// hold both, so kernel lowering rejects the model.
func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x16xf32> {
  %e = tern.weight "embed" = dense<0.5> : tensor<16x8xf32> -> tensor<16x8xf32>
  %h = tern.embedding %e[%ids] : tensor<16x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  %a = tern.attention %h, %h, %h, %pos {head_dim = 4 : i64, layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64} : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  %w = tern.weight "k" = dense<[[1, 0, -1, 0, 1, 0, -1, 0], [0, 1, 0, -1, 0, 1, 0, -1], [1, 1, 0, 0, -1, -1, 0, 0], [0, 0, 1, 1, 0, 0, -1, -1]]> : tensor<4x8xi8> -> tensor<4x8x!tern.trit>
  %k = tern.bitlinear %a, %w {scale = 1.0 : f32} : tensor<?x8xf32>, tensor<4x8x!tern.trit> -> tensor<?x4xf32>
  %b = tern.attention %a, %k, %k, %pos {head_dim = 4 : i64, layer = 1 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64} : tensor<?x8xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<?xi32> -> tensor<?x8xf32>
  %l = tern.lm_head %b, %e : tensor<?x8xf32>, tensor<16x8xf32> -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}

// A model that uses an op without a kernel lowering yet.
func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x16xf32> {
  %e = tern.weight "embed" = dense_resource<e> : tensor<16x8xf32> -> tensor<16x8xf32>
  %h = tern.embedding %e[%ids] : tensor<16x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  %o = tern.attention %h, %h, %h, %pos {head_dim = 4 : i64, layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64} : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  %l = tern.lm_head %o, %e : tensor<?x8xf32>, tensor<16x8xf32> -> tensor<?x16xf32>
  return %l : tensor<?x16xf32>
}
{-#
  dialect_resources: {
    builtin: {
      e: "0x04000000"
    }
  }
#-}

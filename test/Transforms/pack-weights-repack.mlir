// RUN: tern-opt %s -tern-pack-weights=layout=i2_k64 -verify-diagnostics

// Only unpacked and checkpoint-packed (hf_rows) weights can be re-encoded.
func.func @already_packed() {
  // expected-error @+1 {{weight 'p' is already packed as #tern.packed<i2>; cannot repack it}}
  %w = tern.weight "p" = dense<[85, 0]> : tensor<2xi8> -> tensor<2x4x!tern.trit, #tern.packed<i2>>
  return
}

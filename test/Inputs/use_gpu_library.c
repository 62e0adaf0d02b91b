/* A C program running a model from a library written by `ternc
 * --target=nvptx --emit=lib -o libmodel.a` (gpu.test): one forward call on
 * three tokens, then the logits' first value. */
#include "libmodel.h"
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  int32_t ids[3] = {1, 2, 3}, positions[3] = {0, 1, 2};
  int64_t vocab = tern_vocab_size(), context = 8;
  int64_t kv = tern_kv_floats_per_position() * context;
  float *cache = calloc((size_t)(kv ? kv : 1), sizeof(float));
  float *logits = calloc((size_t)vocab, sizeof(float));
  tern_i32_vector idv = {ids, ids, 0, {3}, {1}};
  tern_i32_vector posv = {positions, positions, 0, {3}, {1}};
  tern_f32_vector cachev = {cache, cache, 0, {kv}, {1}};
  tern_f32_matrix out = {logits, logits, 0, {1, vocab}, {vocab, 1}};
  _mlir_ciface_tern_forward(&idv, &posv, &cachev, &out);
  printf("vocab %ld, logit %g\n", (long)vocab, logits[0]);
  return 0;
}

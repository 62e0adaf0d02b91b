/* A host program that uses OpenMP itself (libomp) and links a library
 * written by `ternc --emit=lib` (openmp-host.test): the model's thread team
 * has its own symbols, so both run. It prints the prompt's last logits as
 * computed with OpenMP threads busy and with 1 and 2 model threads. */
#include "libtiny.h"
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

static void forward(float *logits, int64_t vocab) {
  int32_t ids[3] = {1, 5, 7}, positions[3] = {0, 1, 2};
  int64_t kvFloats = tern_kv_floats_per_position() * 8;
  float *kv = calloc((size_t)kvFloats, sizeof(float));
  tern_i32_vector idv = {ids, ids, 0, {3}, {1}};
  tern_i32_vector posv = {positions, positions, 0, {3}, {1}};
  tern_f32_vector kvv = {kv, kv, 0, {kvFloats}, {1}};
  tern_f32_matrix out = {logits, logits, 0, {1, vocab}, {vocab, 1}};
  _mlir_ciface_tern_forward(&idv, &posv, &kvv, &out);
  free(kv);
}

int main(void) {
  int64_t vocab = tern_vocab_size();
  float *a = calloc((size_t)vocab, sizeof(float));
  float *b = calloc((size_t)vocab, sizeof(float));
  long sum = 0;
  /* libomp's own team. */
#pragma omp parallel for reduction(+ : sum) num_threads(2)
  for (int i = 0; i < 1000; ++i)
    sum += i;
  tern_set_num_threads(1);
  forward(a, vocab);
  tern_set_num_threads(2);
  forward(b, vocab);
  int same = 1;
  for (int64_t v = 0; v < vocab; ++v)
    same &= a[v] == b[v];
  printf("openmp sum %ld, omp threads %d, logits equal across threads: %s\n",
         sum, omp_get_max_threads() > 0, same ? "yes" : "no");
  free(a);
  free(b);
  return 0;
}

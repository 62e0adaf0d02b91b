/* Sequences batched together give what each gives alone (batch.test).
 *
 * Four prompts are run greedily, each alone through tern_forward with its
 * own cache, and then together through tern_forward_batch on one KV pool,
 * as a server schedules them: sequences join at different steps, long
 * prompts go in chunks, and a step mixes prompt chunks of some sequences
 * with decode tokens of others. Each sequence's logits must be the same,
 * bit for bit, and so its tokens. Usage: batch_library THREADS. */
#include "libmodel.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kSeqs = 4, kContext = 48, kSteps = 6, kChunk = 16, kMaxBatch = 64 };

/* Sequence 2's prompt, 29 tokens, is written by main(): two chunks, the
 * first of them with two decode tokens fills a whole prefill tile group. */
static int32_t kPrompts[kSeqs][32] = {
    {1, 20, 300, 4, 50}, {7}, {0}, {1000, 3, 77}};
static const int kLengths[kSeqs] = {5, 1, 29, 3};
/* Pool slots out of order, and the step each sequence arrives at. */
static const int kSlot[kSeqs] = {2, 0, 3, 1};
static const int kJoin[kSeqs] = {0, 0, 1, 2};

static int32_t argmax(const float *row, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (row[i] > row[best])
      best = i;
  return (int32_t)best;
}

int main(int argc, char **argv) {
  tern_set_num_threads(argc > 1 ? atoi(argv[1]) : 1);
  for (int i = 0; i < kLengths[2]; ++i)
    kPrompts[2][i] = (i * 37 + 5) % 2000 + 2;
  int64_t vocab = tern_vocab_size();
  int64_t perSlot = tern_kv_floats_per_position() * kContext;
  /* alone[s][k]: sequence s's logits after its prompt (k = 0) and after
   * its k-th generated token. */
  float *alone = calloc((size_t)(kSeqs * kSteps * vocab), sizeof(float));
  for (int s = 0; s < kSeqs; ++s) {
    float *cache = calloc((size_t)perSlot, sizeof(float));
    int32_t ids[32], positions[32];
    int64_t n = kLengths[s];
    memcpy(ids, kPrompts[s], sizeof(int32_t) * (size_t)n);
    for (int64_t i = 0; i < n; ++i)
      positions[i] = (int32_t)i;
    for (int k = 0; k < kSteps; ++k) {
      float *out = alone + (s * kSteps + k) * vocab;
      tern_i32_vector idv = {ids, ids, 0, {n}, {1}};
      tern_i32_vector posv = {positions, positions, 0, {n}, {1}};
      tern_f32_vector kv = {cache, cache, 0, {perSlot}, {1}};
      tern_f32_matrix logits = {out, out, 0, {1, vocab}, {vocab, 1}};
      _mlir_ciface_tern_forward(&idv, &posv, &kv, &logits);
      ids[0] = argmax(out, vocab);
      positions[0] = positions[n - 1] + 1;
      n = 1;
    }
    free(cache);
  }

  float *pool = calloc((size_t)(kSeqs * perSlot), sizeof(float));
  float *out = calloc((size_t)(kSeqs * vocab), sizeof(float));
  int fed[kSeqs] = {0}, done[kSeqs] = {0}, mismatches[kSeqs] = {0};
  int32_t next[kSeqs] = {0};
  int maxBatch = 0, mixed = 0;
  for (int step = 0;; ++step) {
    int32_t ids[kMaxBatch], positions[kMaxBatch], slots[kMaxBatch], rows[kSeqs];
    int owner[kSeqs], n = 0, r = 0, decoding = 0, prompting = 0;
    for (int s = 0; s < kSeqs; ++s) {
      if (step < kJoin[s] || done[s] == kSteps)
        continue;
      if (fed[s] < kLengths[s]) { /* the next chunk of the prompt */
        int take =
            kLengths[s] - fed[s] < kChunk ? kLengths[s] - fed[s] : kChunk;
        for (int i = 0; i < take; ++i, ++n) {
          ids[n] = kPrompts[s][fed[s] + i];
          positions[n] = fed[s] + i;
          slots[n] = kSlot[s];
        }
        fed[s] += take;
        prompting = 1;
        if (fed[s] < kLengths[s])
          continue; /* no logits until the prompt's last token */
      } else {      /* the token generated last */
        ids[n] = next[s];
        positions[n] = kLengths[s] + done[s] - 1;
        slots[n++] = kSlot[s];
        decoding = 1;
      }
      owner[r] = s;
      rows[r++] = n - 1;
    }
    if (n == 0)
      break;
    mixed |= decoding && prompting;
    maxBatch = n > maxBatch ? n : maxBatch;
    tern_i32_vector idv = {ids, ids, 0, {n}, {1}};
    tern_i32_vector posv = {positions, positions, 0, {n}, {1}};
    tern_i32_vector slotv = {slots, slots, 0, {n}, {1}};
    tern_f32_vector kv = {pool, pool, 0, {kSeqs * perSlot}, {1}};
    tern_i32_vector rowv = {rows, rows, 0, {r}, {1}};
    tern_f32_matrix logits = {out, out, 0, {r, vocab}, {vocab, 1}};
    _mlir_ciface_tern_forward_batch(&idv, &posv, &slotv, &kv, kContext, &rowv,
                                    &logits);
    for (int i = 0; i < r; ++i) {
      int s = owner[i];
      const float *want = alone + (s * kSteps + done[s]) * vocab;
      if (memcmp(out + i * vocab, want, sizeof(float) * (size_t)vocab) != 0)
        ++mismatches[s];
      next[s] = argmax(out + i * vocab, vocab);
      ++done[s];
    }
  }
  /* A step whose tokens end no prompt asks for no logits: none are
   * written (a null buffer would crash otherwise). Slot 0 has room. */
  {
    int32_t ids[3] = {4, 5, 6}, positions[3] = {40, 41, 42}, slots[3] = {0};
    tern_i32_vector idv = {ids, ids, 0, {3}, {1}};
    tern_i32_vector posv = {positions, positions, 0, {3}, {1}};
    tern_i32_vector slotv = {slots, slots, 0, {3}, {1}};
    tern_f32_vector kv = {pool, pool, 0, {kSeqs * perSlot}, {1}};
    tern_i32_vector rowv = {NULL, NULL, 0, {0}, {1}};
    tern_f32_matrix none = {NULL, NULL, 0, {0, vocab}, {vocab, 1}};
    _mlir_ciface_tern_forward_batch(&idv, &posv, &slotv, &kv, kContext, &rowv,
                                    &none);
  }
  printf("largest batch %d tokens, prompts and decode mixed: %s\n", maxBatch,
         mixed ? "yes" : "no");
  for (int s = 0; s < kSeqs; ++s)
    printf("sequence %d: %d steps, logits bit-identical to alone: %s\n", s,
           done[s], mismatches[s] ? "no" : "yes");
  free(alone);
  free(pool);
  free(out);
  return 0;
}

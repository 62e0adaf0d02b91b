/*===- tern_model.h - C interface of a model compiled by Tern -------------===*
 *
 * Link with the library written by `ternc --emit=lib`. Buffers follow MLIR's
 * memref descriptor layout: base pointers, offset, sizes, strides.
 *
 *===----------------------------------------------------------------------===*/

#ifndef TERN_MODEL_H
#define TERN_MODEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A vector of token ids or positions. */
typedef struct {
  int32_t *allocated;
  int32_t *aligned;
  int64_t offset;
  int64_t sizes[1];
  int64_t strides[1];
} tern_i32_vector;

/* A flat buffer of floats (the KV cache). */
typedef struct {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[1];
  int64_t strides[1];
} tern_f32_vector;

/* A flat buffer of f16 values (an f16 KV cache), as their bits. */
typedef struct {
  uint16_t *allocated;
  uint16_t *aligned;
  int64_t offset;
  int64_t sizes[1];
  int64_t strides[1];
} tern_f16_vector;

/* A flat buffer of bytes (a generic graph's inputs or outputs). */
typedef struct {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[1];
  int64_t strides[1];
} tern_bytes;

/* A row-major [tokens, vocab] matrix of logits. */
typedef struct {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
} tern_f32_matrix;

/* Runs the model on `ids` at `positions` (same length n) and writes the
 * logits of the last r tokens into `logits` ([r, tern_vocab_size()], r <= n;
 * r = 1 for generation, r = n for every prompt position). `kv_cache` holds
 * tern_kv_floats_per_position() * C floats for a context of C positions
 * (every position < C), zero-initialized before the first call; calls append
 * the keys and values of their positions to it. Libraries for NVIDIA GPUs
 * keep the cache in device memory, one per kv_cache buffer: the host buffer
 * names it and is not read or written. */
void _mlir_ciface_tern_forward(tern_i32_vector *ids, tern_i32_vector *positions,
                               tern_f32_vector *kv_cache,
                               tern_f32_matrix *logits);

/* Runs the model on a batch of n tokens from several sequences (a server's
 * step: prompt chunks and decode tokens together). Token i is ids[i] at
 * positions[i] of the sequence in KV pool slot slots[i]. `kv_pool` holds
 * S slots of kv_context positions each, slot after slot:
 * S * kv_context * tern_kv_floats_per_position() floats (a slot is one
 * sequence's cache, laid out as tern_forward's). A token attends to the
 * positions <= its own of its own slot, after this call's keys and values
 * are appended, so a slot needs no clearing before a new sequence uses it;
 * a sequence's tokens in one call must have distinct positions
 * < kv_context, and its earlier positions must have been fed before.
 * `rows` (r entries)
 * names the tokens whose logits are written to `logits` [r, vocab], in that
 * order. A sequence's logits do not depend on the other tokens in the
 * batch: they equal, bit for bit, what tern_forward gives for the sequence
 * alone. */
void _mlir_ciface_tern_forward_batch(tern_i32_vector *ids,
                                     tern_i32_vector *positions,
                                     tern_i32_vector *slots,
                                     tern_f32_vector *kv_pool,
                                     int64_t kv_context, tern_i32_vector *rows,
                                     tern_f32_matrix *logits);

/* tern_forward and tern_forward_batch over an f16 KV cache (same layout,
 * 2 bytes per value; the math stays f32, keys and values are rounded to
 * f16 when stored). CPU libraries only. */
void _mlir_ciface_tern_forward_f16(tern_i32_vector *ids,
                                   tern_i32_vector *positions,
                                   tern_f16_vector *kv_cache,
                                   tern_f32_matrix *logits);
void _mlir_ciface_tern_forward_batch_f16(
    tern_i32_vector *ids, tern_i32_vector *positions, tern_i32_vector *slots,
    tern_f16_vector *kv_pool, int64_t kv_context, tern_i32_vector *rows,
    tern_f32_matrix *logits);

/* Number of logits per token. */
int64_t tern_vocab_size(void);

/* Threads the model's kernels use (the library's own team; default 1).
 * Call it outside tern_forward. */
void tern_set_num_threads(int threads);

/* Floats the KV cache needs per position of context (0: no attention). */
int64_t tern_kv_floats_per_position(void);

/* Largest position the model supports (its context length). */
int64_t tern_context_length(void);

/* 1 if generating `id` ends the text (the model's end-of-sequence ids),
 * else 0. */
int64_t tern_is_eos(int64_t id);

/* --- Generic graphs (ONNX graphs other than language models) ---
 *
 * A row-wise graph maps float inputs [rows, features] to float outputs
 * [rows, features] with the same rows. `inputs` holds every input's f32
 * rows one input after the other, in the order of tern_graph_signature
 * (sizes[0] in bytes); `outputs` receives the outputs likewise (sized by
 * the caller). */
void _mlir_ciface_tern_graph(tern_bytes *inputs, tern_bytes *outputs);

/* The graph's inputs and outputs, one per line: "in|out NAME RANK DIM...",
 * -1 for a free (leading) dimension; the last is the features. */
extern const char tern_graph_signature[];

#ifdef __cplusplus
}
#endif

#endif /* TERN_MODEL_H */

//===- Sampling.h - choosing the next token from logits ---------*- C++ -*-===//
//
// As llama.cpp's default chain: repetition penalty, then top-k, top-p and
// min-p on the softmax of the logits, then temperature, then a draw.
// Temperature 0 is greedy (argmax after the penalty).
//
//===----------------------------------------------------------------------===//

#ifndef TERN_RUNTIME_SAMPLING_H
#define TERN_RUNTIME_SAMPLING_H

#include <cstdint>
#include <random>
#include <vector>

namespace tern::rt {

struct SamplingParams {
  float temperature = 0.8f;   ///< 0 = greedy
  int topK = 40;              ///< 0 = off
  float topP = 0.95f;         ///< 1 = off
  float minP = 0.05f;         ///< 0 = off
  float repeatPenalty = 1.0f; ///< 1 = off
  int repeatLastN = 64;       ///< tokens the penalty looks back on
};

/// The next token from `logits` [vocab], given the tokens so far (prompt
/// and generated) for the repetition penalty.
int32_t sampleToken(const float *logits, int64_t vocab,
                    const std::vector<int32_t> &history,
                    const SamplingParams &params, std::mt19937_64 &rng);

} // namespace tern::rt

#endif // TERN_RUNTIME_SAMPLING_H

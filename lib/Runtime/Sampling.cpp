//===- Sampling.cpp - choosing the next token from logits -----------------===//

#include "tern/Runtime/Sampling.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

using namespace tern::rt;

int32_t tern::rt::sampleToken(const float *logits, int64_t vocab,
                              const std::vector<int32_t> &history,
                              const SamplingParams &p, std::mt19937_64 &rng) {
  // Read in place; a copy only for the penalty (a server step samples a
  // row of 128K logits per sequence on the model's thread).
  const float *l = logits;
  std::vector<float> penalized;
  // Repetition penalty (CTRL-style, as llama.cpp): recent tokens' positive
  // logits are divided by it, negative ones multiplied, once per token.
  if (p.repeatPenalty != 1.0f && p.repeatLastN != 0) {
    penalized.assign(logits, logits + vocab);
    size_t n = p.repeatLastN < 0
                   ? history.size()
                   : std::min(history.size(), size_t(p.repeatLastN));
    std::unordered_set<int32_t> seen(history.end() - n, history.end());
    for (int32_t id : seen)
      if (id >= 0 && id < vocab)
        penalized[id] = penalized[id] > 0 ? penalized[id] / p.repeatPenalty
                                          : penalized[id] * p.repeatPenalty;
    l = penalized.data();
  }
  if (p.temperature <= 0)
    return int32_t(std::max_element(l, l + vocab) - l);

  // Candidates by logit, the top k of them.
  std::vector<int32_t> order(vocab);
  for (int64_t i = 0; i < vocab; ++i)
    order[i] = int32_t(i);
  int64_t k = (p.topK > 0 && p.topK < vocab) ? p.topK : vocab;
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int32_t a, int32_t b) { return l[a] > l[b]; });
  order.resize(k);

  // top-p and min-p on the softmax at temperature 1.
  double top = l[order[0]], total = 0;
  std::vector<double> prob(k);
  for (int64_t i = 0; i < k; ++i)
    total += prob[i] = std::exp(double(l[order[i]]) - top);
  int64_t keep = k;
  if (p.topP < 1.0f) {
    double cumulative = 0;
    for (int64_t i = 0; i < k; ++i) {
      cumulative += prob[i] / total;
      if (cumulative >= p.topP) {
        keep = i + 1;
        break;
      }
    }
  }
  if (p.minP > 0.0f) // prob[0] is the largest
    while (keep > 1 && prob[keep - 1] < p.minP * prob[0])
      --keep;

  std::vector<double> weights(keep);
  for (int64_t i = 0; i < keep; ++i)
    weights[i] = std::exp((double(l[order[i]]) - top) / p.temperature);
  std::discrete_distribution<int64_t> pick(weights.begin(), weights.end());
  return order[pick(rng)];
}

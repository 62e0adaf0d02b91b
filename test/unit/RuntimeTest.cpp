//===- RuntimeTest.cpp - pieces of the runtime linked into executables ----===//

#include "tern/Runtime/Npy.h"
#include "tern/Runtime/Options.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>

namespace {

using tern::rt::Options;
using tern::rt::sampleToken;
using tern::rt::SamplingParams;

bool parse(std::vector<const char *> args, Options &o, std::string &error) {
  args.insert(args.begin(), "model");
  bool help = false;
  return tern::rt::parseOptions(
      int(args.size()), const_cast<char **>(args.data()), o, help, error);
}

TEST(RuntimeOptions, ParsesFlags) {
  Options o;
  std::string error;
  ASSERT_TRUE(parse({"--tokens", "1,22,333", "-n", "7", "--greedy", "--seed",
                     "9", "-t", "2", "--dump-logits", "x.npy"},
                    o, error))
      << error;
  EXPECT_EQ(o.prompt, (std::vector<int32_t>{1, 22, 333}));
  EXPECT_EQ(o.generate, 7);
  EXPECT_EQ(o.sampling.temperature, 0.0f);
  EXPECT_TRUE(o.seedSet);
  EXPECT_EQ(o.seed, 9u);
  EXPECT_EQ(o.threads, 2);
  EXPECT_EQ(o.dumpLogits, "x.npy");
}

TEST(RuntimeOptions, RejectsBadValues) {
  for (std::vector<const char *> bad :
       {std::vector<const char *>{"--tokens", "1,,2"},
        {"-n", "-3"},
        {"-c", "0"},
        {"--temp", "nan"},
        {"--top-k", "x"},
        {"--top-p", "1.5"},
        {"--min-p", "-0.1"},
        {"--repeat-penalty", "0"},
        {"--repeat-last-n", "-2"},
        {"-t", "0"},
        {"--bogus"},
        {"-n"}}) {
    Options o;
    std::string error;
    EXPECT_FALSE(parse(bad, o, error)) << bad[0];
    EXPECT_FALSE(error.empty());
  }
}

TEST(RuntimeOptions, ParsesTextFlags) {
  Options o;
  std::string error;
  ASSERT_TRUE(
      parse({"-p", "Hello", "--chat", "--system", "Be brief.",
             "--verbose-prompt", "--no-display-prompt", "-f", "prompt.txt"},
            o, error))
      << error;
  EXPECT_EQ(o.text, "Hello");
  EXPECT_EQ(o.promptFile, "prompt.txt");
  EXPECT_EQ(o.system, "Be brief.");
  EXPECT_TRUE(o.chat && o.verbosePrompt && !o.displayPrompt);
  EXPECT_FALSE(o.generateSet);
  ASSERT_TRUE(parse({"--prompt", "x", "-n", "0"}, o, error)) << error;
  EXPECT_TRUE(o.generateSet);
  EXPECT_EQ(o.generate, 0);
}

TEST(RuntimeOptions, ParsesSampling) {
  Options o;
  std::string error;
  ASSERT_TRUE(parse({"--tokens", "1", "--temp", "0.5", "--top-k", "7",
                     "--top-p", "0.9", "--min-p", "0.1", "--repeat-penalty",
                     "1.3", "--repeat-last-n", "-1"},
                    o, error))
      << error;
  EXPECT_EQ(o.sampling.temperature, 0.5f);
  EXPECT_EQ(o.sampling.topK, 7);
  EXPECT_EQ(o.sampling.topP, 0.9f);
  EXPECT_EQ(o.sampling.minP, 0.1f);
  EXPECT_EQ(o.sampling.repeatPenalty, 1.3f);
  EXPECT_EQ(o.sampling.repeatLastN, -1);
}

// Logits of five tokens: 2 is the most likely, then 4, then 0.
const std::vector<float> kLogits = {1.0f, -2.0f, 3.0f, -1.0f, 2.0f};

int32_t draw(const SamplingParams &p, std::vector<int32_t> history = {},
             uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  return sampleToken(kLogits.data(), int64_t(kLogits.size()), history, p, rng);
}

TEST(RuntimeSampling, GreedyAndTruncation) {
  SamplingParams p;
  p.temperature = 0;
  EXPECT_EQ(draw(p), 2);
  // Each truncation alone down to one candidate leaves the argmax.
  SamplingParams k1;
  k1.topK = 1;
  SamplingParams p0;
  p0.topP = 0.01f;
  SamplingParams m1;
  m1.minP = 1.0f;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    EXPECT_EQ(draw(k1, {}, seed), 2);
    EXPECT_EQ(draw(p0, {}, seed), 2);
    EXPECT_EQ(draw(m1, {}, seed), 2);
  }
}

TEST(RuntimeSampling, TopKAndMinPBoundTheCandidates) {
  SamplingParams p; // top-k 2: only tokens 2 and 4
  p.topK = 2;
  p.topP = 1;
  p.minP = 0;
  p.temperature = 5; // flat enough to see both
  std::vector<int> seen(5);
  for (uint64_t seed = 0; seed < 400; ++seed)
    ++seen[draw(p, {}, seed)];
  EXPECT_GT(seen[2], 0);
  EXPECT_GT(seen[4], 0);
  EXPECT_EQ(seen[0] + seen[1] + seen[3], 0);
  // min-p 0.3: p(4)/p(2) = e^-1 = 0.37 stays, p(0)/p(2) = e^-2 = 0.14 goes.
  SamplingParams m;
  m.topK = 0;
  m.topP = 1;
  m.minP = 0.3f;
  m.temperature = 5;
  std::fill(seen.begin(), seen.end(), 0);
  for (uint64_t seed = 0; seed < 400; ++seed)
    ++seen[draw(m, {}, seed)];
  EXPECT_EQ(seen[0] + seen[1] + seen[3], 0);
  EXPECT_GT(seen[4], 0);
}

TEST(RuntimeSampling, RepeatPenaltyAndSeeds) {
  SamplingParams p;
  p.temperature = 0;
  p.repeatPenalty = 2.0f; // 3 / 2 < 2: token 4 wins once 2 was seen
  EXPECT_EQ(draw(p, {2}), 4);
  p.repeatLastN = 1; // only the last token counts
  EXPECT_EQ(draw(p, {2, 0}), 2);
  SamplingParams s; // same seed, same draw
  EXPECT_EQ(draw(s, {}, 7), draw(s, {}, 7));
}

TEST(RuntimeNpy, WritesHeaderAndData) {
  std::string path = ::testing::TempDir() + "tern_npy_test.npy";
  const float data[6] = {1, 2, 3, 4, 5, 6};
  std::string error;
  ASSERT_TRUE(tern::rt::writeNpyF32(path, data, 2, 3, error)) << error;
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(1, 5), "NUMPY");
  size_t headerLen = uint8_t(bytes[8]) | (uint8_t(bytes[9]) << 8);
  EXPECT_EQ((10 + headerLen) % 64, 0u);
  EXPECT_NE(bytes.find("'shape': (2, 3)"), std::string::npos);
  EXPECT_EQ(bytes.size(), 10 + headerLen + sizeof(data));
  std::remove(path.c_str());
  EXPECT_FALSE(tern::rt::writeNpyF32("/no/such/dir/x.npy", data, 2, 3, error));
}

} // namespace

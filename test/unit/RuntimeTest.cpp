//===- RuntimeTest.cpp - pieces of the runtime linked into executables ----===//

#include "tern/Runtime/Npy.h"
#include "tern/Runtime/Options.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>

namespace {

using tern::rt::Options;

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
  EXPECT_EQ(o.temperature, 0.0f);
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
        {"-t", "0"},
        {"--bogus"},
        {"-n"}}) {
    Options o;
    std::string error;
    EXPECT_FALSE(parse(bad, o, error)) << bad[0];
    EXPECT_FALSE(error.empty());
  }
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

//===- LayoutsTest.cpp - each packed layout against its documented formula
//-===//
//
// The layouts' owners (dialects/Tern/IR/Layouts) encode what TernAttrs.td
// documents; these tests read the bytes back with the documented address
// formulas, written out independently here, for shapes with partial
// blocks, partial row groups and partial bytes.
//
//===----------------------------------------------------------------------===//

#include "Tern/IR/PackedLayouts.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace {

using mlir::tern::PackedLayout;
namespace layouts = mlir::tern::layouts;

std::vector<char> randomTrits(int64_t n, int64_t k, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<char> trits(n * k);
  for (char &t : trits)
    t = char(int(rng() % 3) - 1);
  return trits;
}

std::vector<char> encode(PackedLayout layout, const std::vector<char> &trits,
                         int64_t n, int64_t k) {
  std::vector<char> out(layouts::numBytes(layout, n, k));
  layouts::encode(layout, trits, n, k, out);
  return out;
}

int code(const std::vector<char> &bytes, int64_t byte, int shift) {
  return (uint8_t(bytes[byte]) >> shift) & 3;
}

const std::pair<int64_t, int64_t> kShapes[] = {{1, 1},  {3, 5},    {8, 64},
                                               {9, 65}, {16, 130}, {21, 200}};

TEST(Layouts, I2) {
  for (auto [n, k] : kShapes) {
    std::vector<char> trits = randomTrits(n, k, n * 31 + k);
    std::vector<char> bytes = encode(PackedLayout::I2, trits, n, k);
    ASSERT_EQ(int64_t(bytes.size()), n * ((k + 3) / 4));
    // W[r, c] at bits 2 (c % 4) of byte r * ceil(K / 4) + c / 4.
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < k; ++c)
        EXPECT_EQ(code(bytes, r * ((k + 3) / 4) + c / 4, 2 * (c % 4)),
                  trits[r * k + c] + 1);
  }
}

TEST(Layouts, I2K64) {
  for (auto [n, k] : kShapes) {
    std::vector<char> trits = randomTrits(n, k, n * 37 + k);
    std::vector<char> bytes = encode(PackedLayout::I2K64, trits, n, k);
    int64_t blocks = (k + 63) / 64, rows = (n + 7) / 8 * 8;
    ASSERT_EQ(int64_t(bytes.size()), rows * blocks * 16);
    // k = 64 b + j + 16 i of row r: bits 2i of byte j of block b, at
    // ((r / 8 * blocks + b) * 8 + r % 8) * 16; padding (K and rows) is
    // code 1.
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < blocks * 64; ++c) {
        int64_t b = c / 64, j = c % 16, i = (c % 64) / 16;
        int64_t at = ((r / 8 * blocks + b) * 8 + r % 8) * 16 + j;
        int expected = r < n && c < k ? trits[r * k + c] + 1 : 1;
        EXPECT_EQ(code(bytes, at, 2 * i), expected) << r << "," << c;
      }
  }
}

TEST(Layouts, GpuW2) {
  for (auto [n, k] : kShapes) {
    std::vector<char> trits = randomTrits(n, k, n * 41 + k);
    std::vector<char> bytes = encode(PackedLayout::GpuW2, trits, n, k);
    int64_t blocks = (k + 15) / 16;
    ASSERT_EQ(int64_t(bytes.size()), n * blocks * 4);
    // k = 16 b + j of row r: bits 2j of the little-endian word b * N + r;
    // padding is code 1.
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < blocks * 16; ++c) {
        int64_t word = (c / 16) * n + r, j = c % 16;
        int expected = c < k ? trits[r * k + c] + 1 : 1;
        EXPECT_EQ(code(bytes, word * 4 + j / 4, 2 * (j % 4)), expected);
      }
  }
}

TEST(Layouts, HFRowsDecodesAndEncodes) {
  // Rows r, N/4 + r, N/2 + r, 3N/4 + r at bits 1:0 .. 7:6 of byte [r, c].
  for (auto [n, k] : {std::pair<int64_t, int64_t>{4, 3}, {12, 7}, {64, 64}}) {
    std::vector<char> trits = randomTrits(n, k, n * 43 + k);
    std::vector<char> bytes(layouts::numBytes(PackedLayout::HFRows, n, k));
    ASSERT_EQ(int64_t(bytes.size()), n / 4 * k);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < k; ++c)
        bytes[(r % (n / 4)) * k + c] |=
            char((trits[r * k + c] + 1) << (2 * (r / (n / 4))));
    std::vector<char> decoded(n * k);
    layouts::hf_rows::decode(bytes, n, k, decoded);
    EXPECT_EQ(decoded, trits);
    std::vector<char> encoded(bytes.size());
    layouts::hf_rows::encode(trits, n, k, encoded);
    EXPECT_EQ(encoded, bytes);
  }
}

TEST(Layouts, PackedBF16RoundTrips) {
  // Every bit pattern survives: normal-like values (most in the window),
  // then every possible high byte somewhere, zeros of both signs, NaN and
  // infinity bits; rows of 1, 2 and 64 blocks.
  for (auto [v, d] :
       {std::pair<int64_t, int64_t>{3, 64}, {5, 128}, {70, 4096}}) {
    std::mt19937 rng(v * 31 + d);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<uint16_t> values(v * d);
    for (uint16_t &x : values) {
      float f = normal(rng);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      x = uint16_t(bits >> 16);
    }
    for (int64_t i = 0; i < 256 && i * 97 < v * d; ++i)
      values[i * 97] = uint16_t(i << 8 | (i * 13 & 0xff));
    values[1] = 0x8000;
    values.back() = 0x7fc0;
    namespace pb = layouts::packed_bf16;
    pb::Window window = pb::chooseWindow(values.data(), v, d);
    // Escapes counted independently: blocks with a high byte outside.
    int64_t escapes = 0;
    for (int64_t blk = 0; blk < v * d / 64; ++blk) {
      bool out = false;
      for (int64_t j = 0; j < 64; ++j) {
        int64_t pair = values[blk * 64 + j] >> 8 & 0x7f;
        out |= pair < window.base || pair >= window.base + 8;
      }
      escapes += out;
    }
    EXPECT_EQ(window.escapes, escapes);
    EXPECT_GT(window.escapes, 0);
    EXPECT_LT(window.escapes, v * d / 64 / 2 + 4);
    std::vector<char> bytes(pb::numBytes(v, d, window.escapes));
    ASSERT_EQ(int64_t(bytes.size()),
              v * (16 + d / 64 * 96) + 64 * window.escapes);
    pb::encode(values.data(), v, d, window, bytes);
    std::vector<uint16_t> row(d);
    for (int64_t r = 0; r < v; ++r) {
      pb::decodeRow(bytes, v, d, window.base, r, row.data());
      for (int64_t j = 0; j < d; ++j)
        ASSERT_EQ(row[j], values[r * d + j]) << "row " << r << " value " << j;
    }
  }
}

} // namespace

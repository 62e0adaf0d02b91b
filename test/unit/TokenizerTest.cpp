//===- TokenizerTest.cpp - the runtime tokenizer on hand-made vocabularies
//-===//
//
// The agreement with Hugging Face tokenizers and SentencePiece on real
// trained tokenizers is tested end to end (test/e2e/tokenizers.test); these
// cases pin the algorithm's corners on vocabularies small enough to reason
// about.
//
//===----------------------------------------------------------------------===//

#include "tern/Runtime/Tokenizer.h"

#include <gtest/gtest.h>

namespace {

using tern::rt::Tokenizer;
using tern::rt::TokenizerData;
using Ids = std::vector<int32_t>;

std::unique_ptr<Tokenizer> make(TokenizerData d) {
  std::string error;
  std::unique_ptr<Tokenizer> t = Tokenizer::create(std::move(d), error);
  EXPECT_TRUE(t) << error;
  return t;
}

/// Byte-level: "a", "b", " " (as U+0120 "Ġ"), merges a+b, then Ġ+ab.
TokenizerData byteLevel() {
  TokenizerData d;
  d.tokens = {"a",
              "b",
              "\xc4\xa0",
              "ab",
              "\xc4\xa0"
              "ab",
              "<|end|>"};
  d.types = {1, 1, 1, 1, 1, TokenizerData::Control};
  d.merges = {{0, 1, 3}, {2, 3, 4}};
  d.added = {{5}};
  d.patterns = {" ?\\p{L}+|\\s+"};
  d.bos = 5;
  return d;
}

TEST(Tokenizer, ByteLevelMergesByRank) {
  auto t = make(byteLevel());
  EXPECT_EQ(t->encode("ab ab", false), (Ids{3, 4}));
  EXPECT_EQ(t->encode("ba", false), (Ids{1, 0}));
  EXPECT_EQ(t->decode(4), " ab");
}

TEST(Tokenizer, AddedTokensSplitTheText) {
  auto t = make(byteLevel());
  EXPECT_EQ(t->encode("ab<|end|> ab", false), (Ids{3, 5, 4}));
  EXPECT_EQ(t->decode(5), ""); // control tokens are not printed
  // Not parsed: the added token's text is tokenized (here: '<' is unknown
  // and there is no <unk>, so only "end" letters... none are in the vocab).
  EXPECT_EQ(t->encode("ab<|end|>", false, /*parseSpecial=*/false), (Ids{3}));
}

TEST(Tokenizer, BosOnlyWhenTheTokenizerAddsIt) {
  TokenizerData d = byteLevel();
  d.addBos = true;
  auto t = make(d);
  EXPECT_EQ(t->encode("ab", true), (Ids{5, 3}));
  EXPECT_EQ(t->encode("ab", false), (Ids{3}));
}

/// SentencePiece: merges by the score of the merged piece, byte fallback.
TokenizerData sentencePiece() {
  TokenizerData d;
  d.kind = TokenizerData::Kind::SentencePieceBPE;
  d.tokens = {"<unk>", "<s>", "\xe2\x96\x81",   "h",
              "i",     "hi",  "\xe2\x96\x81hi", "<0x21>"};
  d.scores = {0, 0, -1, -2, -2, -3, -4, 0};
  d.types = {2, 3, 1, 1, 1, 1, 1, 6};
  d.unk = 0;
  d.bos = 1;
  d.byteFallback = true;
  d.prefix = TokenizerData::Prefix::Start;
  return d;
}

TEST(Tokenizer, SentencePieceMergesByScore) {
  auto t = make(sentencePiece());
  EXPECT_EQ(t->encode("hi hi", false), (Ids{6, 6}));
  EXPECT_EQ(t->encode("hi!", false), (Ids{6, 7})); // '!' falls back to a byte
  EXPECT_EQ(t->encode("x", false), (Ids{2, 0}));   // no byte token: <unk>
  EXPECT_EQ(t->decode(6, /*first=*/true), "hi");
  EXPECT_EQ(t->decode(6), " hi");
  EXPECT_EQ(t->decode(7), "!");
}

TEST(Tokenizer, SentencePieceRemovesExtraWhitespace) {
  TokenizerData d = sentencePiece();
  d.removeExtraWhitespaces = true;
  auto t = make(d);
  EXPECT_EQ(t->encode("  hi   hi ", false), (Ids{6, 6}));
}

TEST(Tokenizer, SerializationRoundTrips) {
  TokenizerData d = sentencePiece();
  d.added = {{1, true, false}};
  d.chatTemplate = "{{ bos_token }}";
  std::string bytes = d.serialize();
  TokenizerData back;
  std::string error;
  ASSERT_TRUE(
      TokenizerData::deserialize(bytes.data(), bytes.size(), back, error))
      << error;
  EXPECT_EQ(back.tokens, d.tokens);
  EXPECT_EQ(back.scores, d.scores);
  EXPECT_EQ(back.types, d.types);
  EXPECT_EQ(back.added.size(), 1u);
  EXPECT_TRUE(back.added[0].lstrip);
  EXPECT_EQ(back.chatTemplate, "{{ bos_token }}");
  EXPECT_EQ(back.serialize(), bytes);
  // Every truncation is rejected, none crashes.
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(TokenizerData::deserialize(bytes.data(), n, back, error));
}

TEST(Tokenizer, RejectsBadData) {
  std::string error;
  TokenizerData d = byteLevel();
  d.merges.push_back({0, 99, 3});
  EXPECT_FALSE(Tokenizer::create(d, error));
  EXPECT_NE(error.find("merge 2"), std::string::npos) << error;
  d = byteLevel();
  d.patterns = {"(unclosed"};
  EXPECT_FALSE(Tokenizer::create(d, error));
  EXPECT_NE(error.find("does not compile"), std::string::npos) << error;
  d = byteLevel();
  d.eos = 42;
  EXPECT_FALSE(Tokenizer::create(d, error));
  EXPECT_NE(error.find("EOS id 42"), std::string::npos) << error;
}

} // namespace

//===- Tokenizer.h - text <-> token ids inside emitted executables -*- C++ -*-//
//
// ternc reads a model's tokenizer (tokenizer.json, tokenizer.model or the
// tokenizer.ggml.* keys of a GGUF file) into TokenizerData and embeds its
// serialized bytes in the executable; the runtime rebuilds a Tokenizer from
// them. Two algorithms cover the BitNet family:
//   - byte-level BPE (GPT-2 / LLaMA-3): the text is split by the
//     pre-tokenizer's regexes (PCRE2, Unicode), each piece's bytes are mapped
//     to printable characters and merged by merge rank;
//   - SentencePiece BPE (LLaMA-2): spaces become U+2581, a prefix one is
//     added, and characters are merged by merge rank, or by the score of the
//     merged piece when the model has scores instead of merges; characters
//     left unknown fall back to <0xXX> byte tokens.
// Added (special) tokens are matched in the text first and never merged.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_RUNTIME_TOKENIZER_H
#define TERN_RUNTIME_TOKENIZER_H

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tern::rt {

/// SentencePiece's space, U+2581.
inline constexpr const char *kSentencePieceSpace = "\xe2\x96\x81";
/// Pre-tokenizer regexes by name: GPT-2's (Hugging Face ByteLevel with
/// use_regex, llama.cpp "gpt-2") and LLaMA-3's (SPEC 6.4, "llama-bpe").
inline constexpr const char *kGPT2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|"
    "\\s+(?!\\S)|\\s+";
inline constexpr const char *kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";

/// llama.cpp's LLAMA_VOCAB_PRE_TYPE_DEFAULT: what it splits a gpt2
/// vocabulary with when tokenizer.ggml.pre is missing, one after another.
inline constexpr const char *kLlamaCppDefaultPatterns[] = {
    "[\\p{P}\\$\\+<=>\\^~\\|]+",
    ("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|"
     "\\s+(?!\\S)"),
    "\\p{N}+",
    "[0-9][0-9][0-9]",
};

struct TokenizerData {
  enum class Kind : uint8_t { ByteLevelBPE = 0, SentencePieceBPE = 1 };
  /// As SentencePiece and GGUF's tokenizer.ggml.token_type number them.
  enum TokenType : uint8_t {
    Normal = 1,
    Unknown = 2,
    Control = 3,     ///< special tokens: never printed
    UserDefined = 4, ///< added tokens printed as their text
    Unused = 5,
    Byte = 6, ///< <0xXX>
  };
  /// Where a prefix space (U+2581, or ' ' before byte-level mapping) goes:
  /// Start: before the text (SentencePiece's add_dummy_prefix);
  /// EverySegment: before every stretch of text between added tokens
  /// (Hugging Face's Prepend normalizer); FirstIfMissing / EveryIfMissing:
  /// before the first / every stretch that does not start with one (the
  /// Metaspace pre-tokenizer's "first" / "always", ByteLevel's
  /// add_prefix_space).
  enum class Prefix : uint8_t {
    None = 0,
    Start = 1,
    EverySegment = 2,
    FirstIfMissing = 3,
    EveryIfMissing = 4,
  };
  struct AddedToken {
    int32_t id;
    bool lstrip = false, rstrip = false; ///< absorb whitespace around it
  };

  Kind kind = Kind::ByteLevelBPE;
  std::vector<std::string> tokens; ///< as stored: byte-level or U+2581 text
  std::vector<float> scores;       ///< SentencePiece scores (or empty)
  std::vector<uint8_t> types;      ///< TokenType per token
  /// A merge rule: tokens `left` and `right` next to each other become
  /// `result` (whose text is theirs joined; readers resolve it, so that
  /// executables do not look up strings at start-up).
  struct Merge {
    int32_t left, right, result;
  };
  /// Merge rules by rank; empty: merges by score.
  std::vector<Merge> merges;
  std::vector<AddedToken> added;     ///< matched in the text before BPE
  std::vector<std::string> patterns; ///< byte-level pre-tokenizer regexes
  int32_t bos = -1, eos = -1, unk = -1;
  bool addBos = false;
  bool byteFallback = false;
  bool ignoreMerges = false; ///< a piece that is a token is not split
  bool fuseUnknown = false;  ///< consecutive unknown characters: one <unk>
  bool removeExtraWhitespaces = false; ///< SentencePiece normalization
  bool splitWords = false; ///< SentencePiece style: BPE within U+2581 words
  Prefix prefix = Prefix::None;
  /// The chat template (Jinja, ChatTemplate.h) --chat renders
  /// conversations with; empty: none.
  std::string chatTemplate;

  std::string serialize() const;
  /// Rebuilds the data from serialize()'s bytes; false with a reason on
  /// malformed input.
  static bool deserialize(const void *bytes, size_t size, TokenizerData &out,
                          std::string &error);
};

class Tokenizer {
public:
  /// Checks the data (ids in range, regexes compile) and builds the lookup
  /// tables; nullptr with a reason when it cannot.
  static std::unique_ptr<Tokenizer> create(TokenizerData data,
                                           std::string &error);
  ~Tokenizer();

  /// Token ids of `text`, with BOS first when the tokenizer adds it and
  /// `addBos` is set. Added tokens written in the text are recognized when
  /// `parseSpecial` is set (chat templates), else tokenized as text.
  std::vector<int32_t> encode(std::string_view text, bool addBos,
                              bool parseSpecial = true) const;
  /// The bytes token `id` stands for; control tokens give "". With
  /// `first`, a SentencePiece prefix space is dropped.
  std::string decode(int32_t id, bool first = false) const;
  /// The id of the token spelled `text`, or -1.
  int32_t find(std::string_view text) const;
  /// Token `id` as the vocabulary spells it ("" outside it): what chat
  /// templates get as bos_token and eos_token.
  std::string spelling(int32_t id) const;
  /// The ids that end an assistant turn in chat: the tokenizer's EOS and
  /// LLaMA-3's <|eot_id|>, where the vocabulary has them.
  std::vector<int32_t> endOfTurnIds() const;

  const TokenizerData &data() const { return d; }
  size_t size() const { return d.tokens.size(); }

private:
  Tokenizer() = default;
  struct Impl;
  TokenizerData d;
  std::unique_ptr<Impl> impl;

  void encodeText(std::string_view text, bool atStart,
                  std::vector<int32_t> &out) const;
  void bpe(std::string_view word, std::vector<int32_t> &out) const;
};

} // namespace tern::rt

#endif // TERN_RUNTIME_TOKENIZER_H

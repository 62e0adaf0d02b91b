//===- Tokenizer.cpp - byte-level and SentencePiece BPE -------------------===//
//
// Follows Hugging Face tokenizers (added-token splitting, pre-tokenizer
// Split/ByteLevel/Metaspace, BPE with merge ranks) and SentencePiece's BPE
// (merging by piece score, byte fallback); tests compare ids with both
// libraries on the same tokenizer files.
//
//===----------------------------------------------------------------------===//

#include "tern/Runtime/Tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cstring>
#include <queue>
#include <unordered_map>

using namespace tern::rt;
using AddedToken = TokenizerData::AddedToken;
using Merge = TokenizerData::Merge;

namespace {

constexpr char kMagic[8] = {'T', 'E', 'R', 'N', 'T', 'O', 'K', '1'};
const std::string kSpace = kSentencePieceSpace;

// GPT-2's byte-to-character map: printable Latin-1 bytes stand for
// themselves, the others for U+0100 onwards in byte order.
uint32_t byteToCodePoint(uint8_t b) {
  if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)
    return b;
  uint32_t n = 0;
  for (uint32_t c = 0; c < b; ++c)
    if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174))
      ++n;
  return 256 + n;
}

void appendUtf8(std::string &s, uint32_t cp) {
  if (cp < 0x80) {
    s += char(cp);
  } else if (cp < 0x800) {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += char(0xE0 | (cp >> 12));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  } else {
    s += char(0xF0 | (cp >> 18));
    s += char(0x80 | ((cp >> 12) & 0x3F));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  }
}

/// Length of the UTF-8 character starting at s[i] (1 for a stray byte).
size_t charLength(std::string_view s, size_t i) {
  uint8_t c = uint8_t(s[i]);
  size_t n = c < 0x80         ? 1
             : (c >> 5) == 6  ? 2
             : (c >> 4) == 14 ? 3
             : (c >> 3) == 30 ? 4
                              : 1;
  if (i + n > s.size())
    return 1;
  for (size_t k = 1; k < n; ++k)
    if ((uint8_t(s[i + k]) & 0xC0) != 0x80)
      return 1;
  return n;
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

// Serialization: little-endian fields, strings as u32 length + bytes.
struct Writer {
  std::string out;
  void u32(uint32_t v) { out.append(reinterpret_cast<char *>(&v), 4); }
  void i32(int32_t v) { u32(uint32_t(v)); }
  void f32(float v) { out.append(reinterpret_cast<char *>(&v), 4); }
  void u8(uint8_t v) { out += char(v); }
  void str(const std::string &s) {
    u32(uint32_t(s.size()));
    out += s;
  }
};

struct Reader {
  const uint8_t *p, *end;
  bool ok = true;
  bool take(void *dst, size_t n) {
    if (!ok || size_t(end - p) < n)
      return ok = false;
    std::memcpy(dst, p, n);
    p += n;
    return true;
  }
  uint32_t u32() {
    uint32_t v = 0;
    take(&v, 4);
    return v;
  }
  int32_t i32() { return int32_t(u32()); }
  float f32() {
    float v = 0;
    take(&v, 4);
    return v;
  }
  uint8_t u8() {
    uint8_t v = 0;
    take(&v, 1);
    return v;
  }
  std::string str() {
    uint32_t n = u32();
    if (!ok || size_t(end - p) < n) {
      ok = false;
      return {};
    }
    std::string s(reinterpret_cast<const char *>(p), n);
    p += n;
    return s;
  }
  /// A count of items of at least `itemBytes` each that the rest can hold.
  uint32_t count(size_t itemBytes) {
    uint32_t n = u32();
    if (ok && n > size_t(end - p) / itemBytes)
      ok = false;
    return ok ? n : 0;
  }
};

/// The regex with \s and \S meaning Unicode White_Space, as in Oniguruma
/// (which Hugging Face tokenizers uses): PCRE2's \s also takes U+180E.
std::string whiteSpaceAsOniguruma(const std::string &re) {
  const std::string space = "\\p{Z}\\t\\n\\v\\f\\r\\x{85}";
  std::string out;
  bool inClass = false;
  for (size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      char e = re[++i];
      if (e == 's')
        out += inClass ? space : "[" + space + "]";
      else if (e == 'S' && !inClass)
        out += "[^" + space + "]";
      else
        out += std::string(1, c) + e;
      continue;
    }
    if (c == '[' && !inClass)
      inClass = true;
    else if (c == ']' && inClass && out.back() != '[' &&
             !(out.size() >= 2 && out.compare(out.size() - 2, 2, "[^") == 0))
      inClass = false;
    out += c;
  }
  return out;
}

uint64_t pairKey(int32_t a, int32_t b) {
  return (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
}

} // namespace

std::string TokenizerData::serialize() const {
  Writer w;
  w.out.append(kMagic, 8);
  w.u8(uint8_t(kind));
  w.u8(uint8_t(prefix));
  w.u8(addBos);
  w.u8(byteFallback);
  w.u8(ignoreMerges);
  w.u8(fuseUnknown);
  w.u8(removeExtraWhitespaces);
  w.u8(splitWords);
  w.i32(bos);
  w.i32(eos);
  w.i32(unk);
  w.u32(uint32_t(tokens.size()));
  for (size_t i = 0; i < tokens.size(); ++i) {
    w.str(tokens[i]);
    w.u8(i < types.size() ? types[i] : uint8_t(Normal));
  }
  w.u32(uint32_t(scores.size()));
  for (float s : scores)
    w.f32(s);
  w.u32(uint32_t(merges.size()));
  for (const Merge &m : merges) {
    w.i32(m.left);
    w.i32(m.right);
    w.i32(m.result);
  }
  w.u32(uint32_t(added.size()));
  for (const AddedToken &t : added) {
    w.i32(t.id);
    w.u8(t.lstrip);
    w.u8(t.rstrip);
  }
  w.u32(uint32_t(patterns.size()));
  for (const std::string &p : patterns)
    w.str(p);
  w.str(chatTemplate);
  return std::move(w.out);
}

bool TokenizerData::deserialize(const void *bytes, size_t size,
                                TokenizerData &d, std::string &error) {
  auto *p = static_cast<const uint8_t *>(bytes);
  Reader r{p, p + size};
  char magic[8];
  if (!r.take(magic, 8) || std::memcmp(magic, kMagic, 8) != 0) {
    error = "embedded tokenizer: unknown format";
    return false;
  }
  d = TokenizerData();
  d.kind = Kind(r.u8());
  d.prefix = Prefix(r.u8());
  d.addBos = r.u8();
  d.byteFallback = r.u8();
  d.ignoreMerges = r.u8();
  d.fuseUnknown = r.u8();
  d.removeExtraWhitespaces = r.u8();
  d.splitWords = r.u8();
  d.bos = r.i32();
  d.eos = r.i32();
  d.unk = r.i32();
  uint32_t n = r.count(5);
  d.tokens.reserve(n);
  d.types.reserve(n);
  for (uint32_t i = 0; i < n && r.ok; ++i) {
    d.tokens.push_back(r.str());
    d.types.push_back(r.u8());
  }
  d.scores.resize(r.count(4));
  for (float &s : d.scores)
    s = r.f32();
  d.merges.resize(r.count(12));
  for (Merge &m : d.merges) {
    m.left = r.i32();
    m.right = r.i32();
    m.result = r.i32();
  }
  d.added.resize(r.count(6));
  for (AddedToken &t : d.added) {
    t.id = r.i32();
    t.lstrip = r.u8();
    t.rstrip = r.u8();
  }
  d.patterns.resize(r.count(4));
  for (std::string &s : d.patterns)
    s = r.str();
  d.chatTemplate = r.str();
  if (!r.ok || r.p != r.end) {
    error = "embedded tokenizer: truncated or malformed data";
    return false;
  }
  return true;
}

struct Tokenizer::Impl {
  /// Token text -> id; the keys view Tokenizer::d.tokens.
  std::unordered_map<std::string_view, int32_t> vocab;
  /// (left id, right id) -> (rank, merged id).
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges;
  int32_t byteTokens[256];
  std::string byteChars[256];                       ///< byte-level map
  std::unordered_map<uint32_t, uint8_t> charToByte; ///< and its inverse
  std::vector<pcre2_code *> patterns;
  /// Added tokens by first byte, longest first.
  std::vector<const AddedToken *> addedByFirst[256];

  ~Impl() {
    for (pcre2_code *p : patterns)
      pcre2_code_free(p);
  }
};

Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::create(TokenizerData data,
                                             std::string &error) {
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->d = std::move(data);
  t->impl = std::make_unique<Impl>();
  TokenizerData &d = t->d;
  Impl &m = *t->impl;
  int32_t n = int32_t(d.tokens.size());
  if (n == 0) {
    error = "the tokenizer has no tokens";
    return nullptr;
  }
  d.types.resize(size_t(n), TokenizerData::Normal);
  if (!d.scores.empty() && d.scores.size() != size_t(n)) {
    error = "the tokenizer has " + std::to_string(d.scores.size()) +
            " scores for " + std::to_string(n) + " tokens";
    return nullptr;
  }
  auto inRange = [&](int32_t id) { return id >= 0 && id < n; };
  for (auto [what, id] : {std::pair<const char *, int32_t>{"BOS", d.bos},
                          {"EOS", d.eos},
                          {"unknown-token", d.unk}})
    if (id != -1 && !inRange(id)) {
      error = std::string("the tokenizer's ") + what + " id " +
              std::to_string(id) + " is not among its " + std::to_string(n) +
              " tokens";
      return nullptr;
    }
  m.vocab.reserve(size_t(n));
  for (int32_t i = 0; i < n; ++i)
    m.vocab.emplace(d.tokens[size_t(i)], i); // first id wins on duplicates
  m.merges.reserve(d.merges.size());
  for (size_t r = 0; r < d.merges.size(); ++r) {
    const Merge &g = d.merges[r];
    if (!inRange(g.left) || !inRange(g.right) || !inRange(g.result)) {
      error = "merge " + std::to_string(r) + " names a token id outside [0, " +
              std::to_string(n) + ")";
      return nullptr;
    }
    m.merges.emplace(pairKey(g.left, g.right),
                     std::make_pair(int32_t(r), g.result));
  }
  for (int b = 0; b < 256; ++b) {
    char name[7];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    auto it = m.vocab.find(name);
    m.byteTokens[b] = it == m.vocab.end() ? -1 : it->second;
    uint32_t cp = byteToCodePoint(uint8_t(b));
    appendUtf8(m.byteChars[b], cp);
    m.charToByte[cp] = uint8_t(b);
  }
  for (const AddedToken &a : d.added) {
    if (!inRange(a.id)) {
      error = "added token id " + std::to_string(a.id) + " is outside [0, " +
              std::to_string(n) + ")";
      return nullptr;
    }
    const std::string &text = d.tokens[size_t(a.id)];
    if (!text.empty())
      m.addedByFirst[uint8_t(text[0])].push_back(&a);
  }
  for (auto &bucket : m.addedByFirst)
    std::sort(bucket.begin(), bucket.end(), [&](auto *x, auto *y) {
      return d.tokens[size_t(x->id)].size() > d.tokens[size_t(y->id)].size();
    });
  for (const std::string &p : d.patterns) {
    int code;
    PCRE2_SIZE offset;
    std::string pattern = whiteSpaceAsOniguruma(p);
    pcre2_code *re = pcre2_compile(
        reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
        PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &code, &offset,
        nullptr);
    if (!re) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(code, message, sizeof message);
      error = "pre-tokenizer regex /" + p + "/ does not compile at offset " +
              std::to_string(offset) + ": " + reinterpret_cast<char *>(message);
      return nullptr;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); // else the interpreter runs
    m.patterns.push_back(re);
  }
  return t;
}

int32_t Tokenizer::find(std::string_view text) const {
  auto it = impl->vocab.find(text);
  return it == impl->vocab.end() ? -1 : it->second;
}

std::string Tokenizer::spelling(int32_t id) const {
  return id >= 0 && size_t(id) < d.tokens.size() ? d.tokens[size_t(id)]
                                                 : std::string();
}

std::vector<int32_t> Tokenizer::endOfTurnIds() const {
  std::vector<int32_t> ids;
  if (d.eos >= 0)
    ids.push_back(d.eos);
  if (int32_t eot = find("<|eot_id|>"); eot >= 0)
    ids.push_back(eot);
  return ids;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool addBos,
                                       bool parseSpecial) const {
  std::vector<int32_t> out;
  if (addBos && d.addBos && d.bos >= 0)
    out.push_back(d.bos);
  size_t start = 0, pos = 0;
  while (pos < text.size()) {
    const AddedToken *hit = nullptr;
    for (const AddedToken *a : impl->addedByFirst[uint8_t(text[pos])]) {
      const std::string &s = d.tokens[size_t(a->id)];
      if (!parseSpecial && d.types[size_t(a->id)] == TokenizerData::Control)
        continue;
      if (text.compare(pos, s.size(), s) == 0) {
        hit = a;
        break;
      }
    }
    if (!hit) {
      ++pos;
      continue;
    }
    size_t end = pos;
    if (hit->lstrip)
      while (end > start && isSpace(text[end - 1]))
        --end;
    encodeText(text.substr(start, end - start), start == 0, out);
    out.push_back(hit->id);
    pos += d.tokens[size_t(hit->id)].size();
    if (hit->rstrip)
      while (pos < text.size() && isSpace(text[pos]))
        ++pos;
    start = pos;
  }
  encodeText(text.substr(start), start == 0, out);
  return out;
}

void Tokenizer::encodeText(std::string_view text, bool atStart,
                           std::vector<int32_t> &out) const {
  if (text.empty())
    return;
  if (d.kind == TokenizerData::Kind::SentencePieceBPE) {
    std::string s;
    if (d.removeExtraWhitespaces) { // strip, and one space between words
      size_t i = 0;
      while (i < text.size() && text[i] == ' ')
        ++i;
      for (; i < text.size(); ++i)
        if (text[i] != ' ' || (i + 1 < text.size() && text[i + 1] != ' '))
          s += text[i];
      if (!s.empty() && s.back() == ' ')
        s.pop_back();
      if (s.empty())
        return;
    } else {
      s = text;
    }
    std::string escaped;
    for (char c : s)
      escaped += c == ' ' ? kSpace : std::string(1, c);
    bool startsWithSpace = escaped.compare(0, kSpace.size(), kSpace) == 0;
    using P = TokenizerData::Prefix;
    if ((d.prefix == P::Start && atStart) || d.prefix == P::EverySegment ||
        (d.prefix == P::FirstIfMissing && atStart && !startsWithSpace) ||
        (d.prefix == P::EveryIfMissing && !startsWithSpace))
      escaped = kSpace + escaped;
    if (!d.splitWords) {
      bpe(escaped, out);
      return;
    }
    size_t begin = 0; // each word starts at a U+2581
    for (size_t i = 1; i <= escaped.size(); ++i)
      if (i == escaped.size() ||
          escaped.compare(i, kSpace.size(), kSpace) == 0) {
        bpe(std::string_view(escaped).substr(begin, i - begin), out);
        begin = i;
      }
    return;
  }
  // Byte-level: each pattern splits the pieces further (matches and the
  // text between them both become pieces, Hugging Face's "Isolated").
  std::string prefixed;
  if (d.prefix == TokenizerData::Prefix::EveryIfMissing && text[0] != ' ') {
    prefixed = " " + std::string(text);
    text = prefixed;
  }
  std::vector<std::string_view> pieces = {text};
  for (pcre2_code *re : impl->patterns) {
    std::vector<std::string_view> next;
    pcre2_match_data *match = pcre2_match_data_create_from_pattern(re, nullptr);
    for (std::string_view piece : pieces) {
      auto *subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
      size_t offset = 0, last = 0;
      while (offset < piece.size()) {
        int rc =
            pcre2_match(re, subject, piece.size(), offset, 0, match, nullptr);
        if (rc < 0)
          break;
        PCRE2_SIZE *v = pcre2_get_ovector_pointer(match);
        if (v[1] == v[0]) { // empty match: try from the next character
          offset = v[0] + charLength(piece, v[0]);
          continue;
        }
        if (v[0] > last)
          next.push_back(piece.substr(last, v[0] - last));
        next.push_back(piece.substr(v[0], v[1] - v[0]));
        offset = last = v[1];
      }
      if (last < piece.size())
        next.push_back(piece.substr(last));
    }
    pcre2_match_data_free(match);
    pieces = std::move(next);
  }
  for (std::string_view piece : pieces) {
    std::string mapped;
    for (char c : piece)
      mapped += impl->byteChars[uint8_t(c)];
    bpe(mapped, out);
  }
}

void Tokenizer::bpe(std::string_view word, std::vector<int32_t> &out) const {
  const Impl &m = *impl;
  if (d.ignoreMerges) {
    auto it = m.vocab.find(word);
    if (it != m.vocab.end()) {
      out.push_back(it->second);
      return;
    }
  }
  // Symbols: the word's characters, merged in place; a doubly linked list
  // over their start offsets.
  struct Symbol {
    size_t start, length;
    int prev, next;
    int32_t id; ///< token id of the text, or -1
  };
  std::vector<Symbol> sym;
  auto idOf = [&](size_t start, size_t length) {
    auto it = m.vocab.find(word.substr(start, length));
    return it == m.vocab.end() ? -1 : it->second;
  };
  for (size_t i = 0; i < word.size();) {
    size_t n = charLength(word, i);
    int k = int(sym.size());
    sym.push_back({i, n, k - 1, k + 1, idOf(i, n)});
    i += n;
  }
  if (sym.empty())
    return;
  sym.back().next = -1;

  // Candidate merges, best first: the lowest rank (or highest score), then
  // the leftmost. An entry is stale once either side has changed.
  struct Candidate {
    double priority; ///< lower is better
    size_t start;
    int left, right;
    size_t length;
    int32_t merged;
    bool operator<(const Candidate &o) const {
      return priority != o.priority ? priority > o.priority : start > o.start;
    }
  };
  std::priority_queue<Candidate> queue;
  bool byScore = d.merges.empty();
  auto consider = [&](int left, int right) {
    if (left < 0 || right < 0)
      return;
    const Symbol &a = sym[size_t(left)], &b = sym[size_t(right)];
    size_t length = a.length + b.length;
    if (byScore) {
      int32_t id = idOf(a.start, length);
      if (id < 0 || d.types[size_t(id)] == TokenizerData::Control ||
          d.types[size_t(id)] == TokenizerData::Byte ||
          d.types[size_t(id)] == TokenizerData::Unknown ||
          d.types[size_t(id)] == TokenizerData::Unused)
        return;
      float score = d.scores.empty() ? 0.0f : d.scores[size_t(id)];
      queue.push({-double(score), a.start, left, right, length, id});
      return;
    }
    if (a.id < 0 || b.id < 0)
      return;
    auto it = m.merges.find(pairKey(a.id, b.id));
    if (it != m.merges.end())
      queue.push({double(it->second.first), a.start, left, right, length,
                  it->second.second});
  };
  for (size_t i = 0; i + 1 < sym.size(); ++i)
    consider(int(i), int(i + 1));
  while (!queue.empty()) {
    Candidate c = queue.top();
    queue.pop();
    Symbol &a = sym[size_t(c.left)], &b = sym[size_t(c.right)];
    if (a.length == 0 || b.length == 0 || a.next != c.right ||
        a.length + b.length != c.length)
      continue;
    a.length += b.length;
    a.id = c.merged;
    a.next = b.next;
    b.length = 0;
    if (b.next >= 0)
      sym[size_t(b.next)].prev = c.left;
    consider(a.prev, c.left);
    consider(c.left, a.next);
  }

  bool lastUnknown = false;
  for (int i = 0; i >= 0; i = sym[size_t(i)].next) {
    const Symbol &s = sym[size_t(i)];
    if (s.id >= 0) {
      out.push_back(s.id);
      lastUnknown = false;
      continue;
    }
    std::string_view text = word.substr(s.start, s.length);
    bool bytes = d.byteFallback;
    for (char c : text)
      bytes = bytes && m.byteTokens[uint8_t(c)] >= 0;
    if (bytes) {
      for (char c : text)
        out.push_back(m.byteTokens[uint8_t(c)]);
      lastUnknown = false;
    } else if (d.unk >= 0 && !(d.fuseUnknown && lastUnknown)) {
      out.push_back(d.unk);
      lastUnknown = true;
    }
  }
}

std::string Tokenizer::decode(int32_t id, bool first) const {
  if (id < 0 || size_t(id) >= d.tokens.size())
    return {};
  const std::string &text = d.tokens[size_t(id)];
  switch (d.types[size_t(id)]) {
  case TokenizerData::Control:
    return {};
  case TokenizerData::Byte:
    if (text.size() == 6 && text.compare(0, 3, "<0x") == 0)
      return std::string(1, char(std::strtol(text.c_str() + 3, nullptr, 16)));
    return text;
  case TokenizerData::UserDefined:
    return text;
  case TokenizerData::Unknown: // SentencePiece prints " \u2047 "
    return d.kind == TokenizerData::Kind::SentencePieceBPE ? " \xe2\x81\x87 "
                                                           : text;
  default:
    break;
  }
  std::string out;
  if (d.kind == TokenizerData::Kind::SentencePieceBPE) {
    for (size_t i = 0; i < text.size();)
      if (text.compare(i, kSpace.size(), kSpace) == 0) {
        out += ' ';
        i += kSpace.size();
      } else {
        out += text[i++];
      }
    if (first && d.prefix != TokenizerData::Prefix::None && !out.empty() &&
        out[0] == ' ')
      out.erase(0, 1);
    return out;
  }
  for (size_t i = 0; i < text.size();) {
    size_t n = charLength(text, i);
    uint32_t cp = uint8_t(text[i]);
    if (n > 1) {
      cp &= 0xFF >> (n + 1);
      for (size_t k = 1; k < n; ++k)
        cp = (cp << 6) | (uint8_t(text[i + k]) & 0x3F);
    }
    auto it = impl->charToByte.find(cp);
    if (it != impl->charToByte.end())
      out += char(it->second);
    else
      out.append(text, i, n);
    i += n;
  }
  return out;
}

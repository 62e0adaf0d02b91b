//===- tern-spm.cpp - tokenizer.model through libsentencepiece ------------===//
//
// usage: tern-spm MODEL OUT  (run by ternc and tern-tokenize)
//
// A separate program because libsentencepiece carries its own copy of
// protobuf-lite, whose symbols clash with libprotobuf's (which libonnx
// uses) in one process. It writes the serialized rt::TokenizerData to OUT,
// or one error line to stderr and exits 1.
//
// libsentencepiece loads and checks the model and lists its pieces, scores
// and types. Two settings of its normalizer are not in its API and are read
// off its behaviour (the dummy prefix, collapsing of spaces). The executable
// runs Tern's own BPE, so the reader finishes by encoding probe strings with
// both and refuses a model they disagree on: a unigram model, or a
// normalization other than LLaMA's "identity".
//
//===----------------------------------------------------------------------===//

#include "tern/Runtime/Tokenizer.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <sentencepiece_processor.h>

using namespace llvm;
using TokenizerData = ::tern::rt::TokenizerData;

namespace {

const char *kSpace = ::tern::rt::kSentencePieceSpace;

// Scripts, digits, punctuation, whitespace runs and bytes no vocabulary
// holds: enough to tell BPE from unigram and identity from NFKC.
const char *kProbes[] = {
    "Hello world! This is a test of the tokenizer.",
    "  two leading spaces, and  two  inside,   three at the end   ",
    "tabs\tand\nnew\r\nlines",
    "for (int i = 0; i < n; ++i) { sum += a[i] * 2; }",
    "12345 3.14159 1,000,000",
    "\xef\xac\x81le \xe2\x85\xa0\xe2\x85\xa1 \xef\xbc\xa1\xef\xbc\xa2", // ﬁ Ⅰ Ⅱ
    "\u00fcber caf\u00e9 na\u00efve",
    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0\xb8\xd1\x80",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe6\x96\x87",
    "\xf0\x9f\x8e\x89\xf0\x9f\x9a\x80 emoji",
};

} // namespace

namespace {

Expected<TokenizerData> readSentencePiece(StringRef path) {
  auto error = [&](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": " + message);
  };
  sentencepiece::SentencePieceProcessor sp;
  sentencepiece::util::Status status = sp.Load(path.str());
  if (!status.ok())
    return error("not a SentencePiece model: " + status.ToString());

  TokenizerData d;
  d.kind = TokenizerData::Kind::SentencePieceBPE;
  int n = sp.GetPieceSize();
  for (int i = 0; i < n; ++i) {
    d.tokens.push_back(sp.IdToPiece(i));
    d.scores.push_back(sp.GetScore(i));
    uint8_t type = sp.IsControl(i)   ? TokenizerData::Control
                   : sp.IsUnknown(i) ? TokenizerData::Unknown
                   : sp.IsUnused(i)  ? TokenizerData::Unused
                   : sp.IsByte(i)    ? TokenizerData::Byte
                                     : TokenizerData::Normal;
    d.types.push_back(type);
    d.byteFallback |= type == TokenizerData::Byte;
    if (type == TokenizerData::Control)
      d.added.push_back({i});
  }
  d.bos = sp.bos_id();
  d.eos = sp.eos_id();
  d.unk = sp.unk_id();
  d.addBos = d.bos >= 0; // as LLaMA's tokenizer
  d.fuseUnknown = true;  // SentencePiece merges runs of unknown pieces
  auto joined = [&](const char *text) {
    return llvm::join(sp.EncodeAsPieces(text), "");
  };
  d.prefix = StringRef(joined("a")).starts_with(kSpace)
                 ? TokenizerData::Prefix::Start
                 : TokenizerData::Prefix::None;
  d.removeExtraWhitespaces =
      !StringRef(joined("a  a")).contains(std::string(kSpace) + kSpace);

  std::string buildError;
  std::unique_ptr<::tern::rt::Tokenizer> ours =
      ::tern::rt::Tokenizer::create(d, buildError);
  if (!ours)
    return error(buildError);
  for (const char *probe : kProbes) {
    std::vector<int> expected = sp.EncodeAsIds(probe);
    std::vector<int32_t> got =
        ours->encode(probe, /*addBos=*/false, /*parseSpecial=*/false);
    if (std::vector<int32_t>(expected.begin(), expected.end()) == got)
      continue;
    std::string quoted;
    llvm::raw_string_ostream(quoted).write_escaped(probe,
                                                   /*UseHexEscapes=*/true);
    return error("Tern's SentencePiece BPE gives other ids than "
                 "libsentencepiece for \"" +
                 quoted +
                 "\": only BPE models with the identity normalization "
                 "(as LLaMA's) are supported, not unigram models or "
                 "NFKC normalization");
  }
  return std::move(d);
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  if (argc != 3) {
    errs() << "usage: tern-spm TOKENIZER.model OUT\n";
    return 2;
  }
  Expected<TokenizerData> data = readSentencePiece(argv[1]);
  if (!data) {
    errs() << toString(data.takeError()) << "\n";
    return 1;
  }
  std::error_code ec;
  ToolOutputFile out(argv[2], ec, sys::fs::OF_None);
  if (ec) {
    errs() << argv[2] << ": " << ec.message() << "\n";
    return 1;
  }
  out.os() << data->serialize();
  out.keep();
  return 0;
}

//===- Tokenizer.h - Reading tokenizers into executables --------*- C++ -*-===//
//
// A model's tokenizer travels through the pipeline as the module attribute
// `tern.tokenizer` (the serialized rt::TokenizerData, a dense resource of
// i8) and ends up as the executable's `tern_tokenizer` data.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_FRONTEND_TOKENIZER_H
#define TERN_FRONTEND_TOKENIZER_H

#include "tern/Frontend/Files.h"
#include "tern/Runtime/Tokenizer.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <optional>

namespace mlir::tern {

/// Reads a Hugging Face tokenizer.json (BPE: byte-level or SentencePiece
/// style), with tokenizer_config.json beside it when present (BOS, chat
/// template).
llvm::Expected<::tern::rt::TokenizerData>
readHFTokenizer(llvm::StringRef path,
                llvm::vfs::FileSystem &fs = realFileSystem());

/// Reads a SentencePiece tokenizer.model (BPE) with libsentencepiece.
llvm::Expected<::tern::rt::TokenizerData>
readSentencePiece(llvm::StringRef path);

/// Reads the tokenizer of a GGUF file (tokenizer.ggml.*: gpt2 or llama);
/// std::nullopt when the file has none (no tokenizer.ggml.model). What it
/// reads the way llama.cpp does but with a doubt (a gpt2 vocabulary without
/// tokenizer.ggml.pre) is added to `warnings`.
llvm::Expected<std::optional<::tern::rt::TokenizerData>>
readGGUFTokenizer(llvm::StringRef path,
                  std::vector<std::string> *warnings = nullptr,
                  llvm::vfs::FileSystem &fs = realFileSystem());

/// Reads the tokenizer at `path`: tokenizer.json, tokenizer.model, a .gguf
/// file, or a checkpoint directory holding one of the first two. A directory
/// without one, or a GGUF file without one, gives std::nullopt.
llvm::Expected<std::optional<::tern::rt::TokenizerData>>
readTokenizer(llvm::StringRef path,
              std::vector<std::string> *warnings = nullptr);

/// The chat template to embed for a tokenizer whose own is `chatTemplate`
/// (Jinja text, possibly empty): that one; for a LLaMA-3 vocabulary
/// without one, 2B4T's format (SPEC 6.4); else none ("").
std::string chatTemplateFor(llvm::StringRef chatTemplate,
                            const ::tern::rt::TokenizerData &data);

/// Built-in templates for ternc --chat-format: "bitnet" (2B4T, SPEC 6.4:
/// "User: ...<|eot_id|>Assistant: ") and "llama3" (LLaMA-3 Instruct's
/// header format); empty for other names.
llvm::StringRef builtinChatTemplate(llvm::StringRef format);

/// Checks `data` (it builds, its ids fit the model's `vocab`) and stores it
/// as the module's tern.tokenizer attribute. `origin` names the file for
/// errors.
llvm::Error attachTokenizer(ModuleOp module,
                            const ::tern::rt::TokenizerData &data,
                            int64_t vocab, llvm::StringRef origin);

/// Attaches the tokenizer ternc's --tokenizer chooses. `choice` empty: the
/// one that comes with the model at `input` (beside a checkpoint, inside a
/// GGUF file; a .mlir module keeps its own); "none": none; else a tokenizer
/// file or directory. `chatFormat` other than "auto" replaces the model's
/// chat template with a built-in one ("none" removes it). The template is
/// parsed here: one Tern cannot evaluate is an error naming the construct.
llvm::Error addModelTokenizer(ModuleOp module, llvm::StringRef input,
                              llvm::StringRef choice,
                              llvm::StringRef chatFormat);

/// The tokenizer stored in the module, if any.
std::optional<::tern::rt::TokenizerData> attachedTokenizer(ModuleOp module);

} // namespace mlir::tern

#endif // TERN_FRONTEND_TOKENIZER_H

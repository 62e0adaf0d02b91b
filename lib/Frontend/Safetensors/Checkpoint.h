//===- Checkpoint.h - Hugging Face BitNet checkpoints -----------*- C++ -*-===//

#ifndef TERN_FRONTEND_CHECKPOINT_H
#define TERN_FRONTEND_CHECKPOINT_H

#include "tern/Frontend/BitNetModel.h"
#include "tern/Frontend/Files.h"
#include "llvm/Support/Error.h"

namespace mlir::tern {

struct CheckpointConfig {
  BitNetConfig model;
  /// config.json states tie_word_embeddings (else the tensors decide).
  bool tiedKnown = false;
  /// Packed weights: weight_scale multiplies (autobitlinear) or divides.
  bool scaleMultiplies = false;
  /// The config's architecture, as checkpoints name it.
  std::string architecture;
};

/// Reads and checks config.json at `path`.
llvm::Expected<CheckpointConfig>
readConfig(llvm::StringRef path, llvm::vfs::FileSystem &fs = realFileSystem());

/// Adds the eos_token_id of the JSON file `path` (config.json or
/// generation_config.json; one id or a list) to `ids`. A missing file adds
/// nothing; a malformed one, or an id outside [0, vocab), is an error.
llvm::Error addEosIdsFrom(llvm::StringRef path, int64_t vocab,
                          std::vector<int64_t> &ids,
                          llvm::vfs::FileSystem &fs = realFileSystem());

} // namespace mlir::tern

#endif // TERN_FRONTEND_CHECKPOINT_H

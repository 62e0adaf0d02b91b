//===- Checkpoint.h - Hugging Face BitNet checkpoints -----------*- C++ -*-===//

#ifndef TERN_FRONTEND_CHECKPOINT_H
#define TERN_FRONTEND_CHECKPOINT_H

#include "tern/Frontend/BitNetModel.h"
#include "llvm/Support/Error.h"

namespace mlir::tern {

struct CheckpointConfig {
  BitNetConfig model;
  /// config.json states tie_word_embeddings (else the tensors decide).
  bool tiedKnown = false;
  /// Packed weights: weight_scale multiplies (autobitlinear) or divides.
  bool scaleMultiplies = false;
};

/// Reads and checks config.json at `path`.
llvm::Expected<CheckpointConfig> readConfig(llvm::StringRef path);

} // namespace mlir::tern

#endif // TERN_FRONTEND_CHECKPOINT_H

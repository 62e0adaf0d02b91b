//===- RuntimeABI.h - what the executable's runtime asks the model -*- C++
//-*-===//

#ifndef TERN_CONVERSION_RUNTIMEABI_H
#define TERN_CONVERSION_RUNTIMEABI_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::tern::kernels {

/// At b's insertion point: tern_vocab_size(), tern_kv_floats_per_position(),
/// tern_context_length() (module attribute tern.context_length, default
/// 2048), tern_is_eos(id) (tern.eos_token_ids) and, with tern.tokenizer,
/// the serialized tokenizer as tern_tokenizer / tern_tokenizer_size().
void emitModelABI(ImplicitLocOpBuilder &b, ModuleOp module, int64_t vocab,
                  int64_t kvFloatsPerPosition);

/// At b's insertion point: the generic graph's inputs and outputs, named and
/// shaped (module attribute tern.graph), as the public NUL-terminated
/// string tern_graph_signature.
void emitGraphABI(ImplicitLocOpBuilder &b, ModuleOp module);

} // namespace mlir::tern::kernels

#endif // TERN_CONVERSION_RUNTIMEABI_H

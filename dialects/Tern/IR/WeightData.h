//===- WeightData.h - Reading and writing tern.weight data ------*- C++ -*-===//
//
// Passes that re-encode weights (quantize, pack) read a weight's bytes in
// place and write the result into a new heap blob: never a dense attribute.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_IR_WEIGHTDATA_H
#define TERN_IR_WEIGHTDATA_H

#include "Tern/IR/TernOps.h"
#include "mlir/IR/Builders.h"

#include <memory>
#include <vector>

namespace mlir::tern {

/// The stored bytes of `op`'s data, viewed in place. Emits an error naming the
/// weight and fails when the data is not available as raw bytes.
FailureOr<ArrayRef<char>> getWeightBytes(WeightOp op);

/// An IEEE half (f16) as f32, exactly.
float halfToFloat(uint16_t h);

/// Converts `count` stored elements of float type `type` (f32, f16, bf16) at
/// `data` to f32.
void convertToF32(Type type, const char *data, size_t count, float *out);

/// Builds a tern.weight named `name` of `resultType` whose data, of shape and
/// element type `storageType`, is a new 64-byte aligned resource blob that
/// `fill` writes in place.
WeightOp createWeight(OpBuilder &builder, Location loc, StringRef name,
                      RankedTensorType resultType, RankedTensorType storageType,
                      function_ref<void(MutableArrayRef<char>)> fill);

/// Builds a tern.weight named `name` of `resultType` whose data, of shape and
/// element type `storageType`, views `bytes` in place (a mapped input file):
/// nothing is copied, and the blob holds `keepAlive` (the mapping) until
/// it is released. With `fileMapped` (the bytes are a read-only mapping of
/// a file), releasing the data also drops its pages from memory, so that
/// packing a model does not keep all of the input resident.
WeightOp createViewWeight(OpBuilder &builder, Location loc, StringRef name,
                          Type resultType, ShapedType storageType,
                          ArrayRef<char> bytes,
                          std::shared_ptr<const void> keepAlive,
                          bool fileMapped = false);

/// Drops the whole pages inside `bytes`, part of a read-only file mapping,
/// from memory: a later read faults them in again from the file. Frontends
/// call it once they have decoded a tensor into a blob of its own.
void dropMappedPages(ArrayRef<char> bytes);

/// Frees the data of a resource blob `value` (no-op for other attributes),
/// once LLVM holds its own copy. The blob's handle stays valid but empty.
void releaseWeightData(Attribute value);

/// Frees the blobs among `dropped` (data of erased weights) that no
/// tern.weight under `root` still uses, so that re-encoding weights does not
/// keep both encodings in memory.
void releaseUnusedWeightData(Operation *root, ArrayRef<Attribute> dropped);

} // namespace mlir::tern

#endif // TERN_IR_WEIGHTDATA_H

//===- WeightData.cpp - Reading and writing tern.weight data --------------===//

#include "Tern/IR/WeightData.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/MathExtras.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

using namespace mlir;
using namespace mlir::tern;

FailureOr<ArrayRef<char>> mlir::tern::getWeightBytes(WeightOp op) {
  Attribute value = op.getValue();
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(value)) {
    if (AsmResourceBlob *blob = resource.getRawHandle().getBlob())
      return blob->getData();
    return op.emitOpError()
           << "weight '" << op.getName() << "': its resource blob has no data";
  }
  if (auto dense = dyn_cast<DenseElementsAttr>(value)) {
    if (!dense.isSplat())
      return dense.getRawData();
    return op.emitOpError() << "weight '" << op.getName()
                            << "': splat constants are not supported, use a "
                               "full dense or resource value";
  }
  return op.emitOpError() << "weight '" << op.getName()
                          << "': unsupported data attribute " << value;
}

float mlir::tern::halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000 | (mant << 13); // inf / nan
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else { // subnormal half: renormalize
    exp = 113;
    while (!(mant & 0x400)) {
      mant <<= 1;
      --exp;
    }
    bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void mlir::tern::convertToF32(Type type, const char *data, size_t count,
                              float *out) {
  if (type.isF32()) {
    std::memcpy(out, data, count * 4);
    return;
  }
  for (size_t i = 0; i < count; ++i) {
    uint16_t h;
    std::memcpy(&h, data + 2 * i, 2);
    if (type.isBF16()) {
      uint32_t bits = uint32_t(h) << 16;
      std::memcpy(&out[i], &bits, 4);
    } else {
      out[i] = halfToFloat(h);
    }
  }
}

WeightOp
mlir::tern::createWeight(OpBuilder &builder, Location loc, StringRef name,
                         RankedTensorType resultType,
                         RankedTensorType storageType,
                         function_ref<void(MutableArrayRef<char>)> fill) {
  int64_t bits =
      storageType.getNumElements() * storageType.getElementTypeBitWidth();
  AsmResourceBlob blob = HeapAsmResourceBlob::allocate(bits / 8, /*align=*/64);
  fill(blob.getMutableData());
  auto value =
      DenseResourceElementsAttr::get(storageType, name, std::move(blob));
  return builder.create<WeightOp>(loc, resultType, builder.getStringAttr(name),
                                  value);
}

WeightOp mlir::tern::createViewWeight(OpBuilder &builder, Location loc,
                                      StringRef name, Type resultType,
                                      ShapedType storageType,
                                      ArrayRef<char> bytes,
                                      std::shared_ptr<const void> keepAlive,
                                      bool fileMapped) {
  // The blob's alignment is what the address gives, up to 64.
  uintptr_t addr = uintptr_t(bytes.data());
  size_t align = std::min<size_t>(64, addr ? (addr & (~addr + 1)) : 64);
  AsmResourceBlob blob(
      bytes, align,
      [keep = std::move(keepAlive), fileMapped](void *data, size_t size,
                                                size_t) {
        // Safe even if another view still needs the pages (a tied head):
        // they are read again from the file.
        if (fileMapped)
          dropMappedPages(ArrayRef<char>(static_cast<char *>(data), size));
      },
      /*dataIsMutable=*/false);
  auto value =
      DenseResourceElementsAttr::get(storageType, name, std::move(blob));
  return builder.create<WeightOp>(loc, resultType, builder.getStringAttr(name),
                                  value);
}

void mlir::tern::dropMappedPages(ArrayRef<char> bytes) {
  uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  uintptr_t begin = llvm::alignTo(uintptr_t(bytes.data()), page);
  uintptr_t end = (uintptr_t(bytes.data()) + bytes.size()) & ~(page - 1);
  if (end > begin)
    madvise(reinterpret_cast<void *>(begin), end - begin, MADV_DONTNEED);
}

void mlir::tern::releaseWeightData(Attribute value) {
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(value))
    resource.getRawHandle().getResource()->setBlob(AsmResourceBlob());
}

void mlir::tern::releaseUnusedWeightData(Operation *root,
                                         ArrayRef<Attribute> dropped) {
  llvm::DenseSet<void *> used;
  root->walk([&](WeightOp op) {
    if (auto r = dyn_cast<DenseResourceElementsAttr>(op.getValue()))
      used.insert(r.getRawHandle().getResource());
  });
  for (Attribute value : dropped)
    if (auto r = dyn_cast<DenseResourceElementsAttr>(value))
      if (!used.contains(r.getRawHandle().getResource()))
        releaseWeightData(r);
}

//===- Weights.cpp - weights appended to the executable -------------------===//
//
// An executable's weights never pass through LLVM or the linker: as LLVM
// constants they were copied once more in memory, and lld maps both its
// input and its output, so that a compile peaked at well over twice the
// model's size. Instead the code addresses one zero-filled region
// (`tern_weights_region`, page-aligned, in .bss or x86-64's .lbss: no bytes
// in the file and none touched at link time); after linking, the weights'
// bytes are appended to the executable, followed by a trailer, and the
// runtime maps them over the region at start-up (lib/Runtime/Main.cpp).
//
//===----------------------------------------------------------------------===//

#include "tern/Target/Emit.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::tern;

namespace {

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// The bytes of a weight global held as a blob (the large ones: every
/// frontend and packer stores weights that way), or nothing.
std::optional<ArrayRef<char>> blobBytes(LLVM::GlobalOp global) {
  if (!global.getSymName().starts_with("tern_weight_"))
    return std::nullopt;
  std::optional<Attribute> value = global.getValue();
  auto resource = value ? dyn_cast<DenseResourceElementsAttr>(*value) : nullptr;
  if (!resource)
    return std::nullopt;
  AsmResourceBlob *blob = resource.getRawHandle().getBlob();
  if (!blob)
    return std::nullopt;
  return blob->getData();
}

} // namespace

WeightImage WeightImage::detach(ModuleOp module) {
  WeightImage image;
  llvm::StringMap<uint64_t> offsets;
  SmallVector<LLVM::GlobalOp> detached;
  uint64_t end = 0;
  for (auto global : module.getOps<LLVM::GlobalOp>()) {
    std::optional<ArrayRef<char>> bytes = blobBytes(global);
    if (!bytes)
      continue;
    uint64_t offset = llvm::alignTo(end, kWeightAlign);
    offsets[global.getSymName()] = offset;
    image.pieces.push_back({offset, *bytes, *global.getValue()});
    end = offset + bytes->size();
    detached.push_back(global);
  }
  if (detached.empty())
    return image;
  image.regionSize = llvm::alignTo(std::max<uint64_t>(end, 1), kRegionAlign);

  MLIRContext *context = module.getContext();
  Location loc = module.getLoc();
  OpBuilder b(context);
  b.setInsertionPointToStart(module.getBody());
  auto i8 = IntegerType::get(context, 8);
  auto i64 = IntegerType::get(context, 64);
  auto regionType = LLVM::LLVMArrayType::get(i8, image.regionSize);
  auto region = b.create<LLVM::GlobalOp>(
      loc, regionType, /*isConstant=*/false, LLVM::Linkage::External,
      kWeightsRegion, Attribute(), regionAlignFor(image.regionSize));
  {
    // Zero-filled, so that it is .bss: the linker writes no bytes for it.
    OpBuilder::InsertionGuard guard(b);
    b.createBlock(&region.getInitializerRegion());
    b.create<LLVM::ReturnOp>(
        loc, b.create<LLVM::ZeroOp>(loc, regionType).getResult());
  }
  b.create<LLVM::GlobalOp>(loc, i64, /*isConstant=*/true,
                           LLVM::Linkage::External, kWeightsRegionSize,
                           b.getI64IntegerAttr(image.regionSize));

  // Every reference to a weight becomes the region's address plus the
  // weight's offset (LLVM folds it to a constant expression).
  module.walk([&](LLVM::AddressOfOp op) {
    auto found = offsets.find(op.getGlobalName());
    if (found == offsets.end())
      return;
    b.setInsertionPoint(op);
    auto ptrType = op.getType();
    Value base =
        b.create<LLVM::AddressOfOp>(op.getLoc(), ptrType, kWeightsRegion);
    Value offset = b.create<LLVM::ConstantOp>(
        op.getLoc(), i64, b.getI64IntegerAttr(int64_t(found->second)));
    Value address = b.create<LLVM::GEPOp>(op.getLoc(), ptrType, i8, base,
                                          ValueRange{offset},
                                          /*inbounds=*/true);
    op.replaceAllUsesWith(address);
    op.erase();
  });
  for (LLVM::GlobalOp global : detached)
    global.erase();
  return image;
}

llvm::Error WeightImage::appendTo(StringRef path) const {
  if (pieces.empty())
    return llvm::Error::success();
  uint64_t fileSize = 0;
  if (std::error_code ec = llvm::sys::fs::file_size(path, fileSize))
    return fail("cannot read " + path + ": " + ec.message());
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_Append);
  if (ec)
    return fail("cannot write " + path + ": " + ec.message());
  // The region is mapped straight from the file: its offset must be a
  // multiple of the page size (and congruent with its address modulo a huge
  // page, where the page cache may hold huge pages).
  uint64_t base = llvm::alignTo(fileSize, regionAlignFor(regionSize));
  os.write_zeros(base - fileSize);
  uint64_t at = 0;
  for (const Piece &piece : pieces) {
    os.write_zeros(piece.offset - at);
    os.write(piece.bytes.data(), piece.bytes.size());
    at = piece.offset + piece.bytes.size();
  }
  os.write_zeros(regionSize - at);
  char trailer[kWeightsTrailerSize];
  memcpy(trailer, kWeightsMagic, 8);
  llvm::support::endian::write64le(trailer + 8, base);
  llvm::support::endian::write64le(trailer + 16, regionSize);
  os.write(trailer, sizeof(trailer));
  os.close();
  if (os.has_error())
    return fail("cannot write " + path + ": " + os.error().message());
  return llvm::Error::success();
}

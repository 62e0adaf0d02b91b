//===- TernDialect.cpp - Tern dialect registration ------------------------===//

#include "Tern/IR/PackedLayouts.h"
#include "Tern/IR/TernOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::tern;

#include "Tern/IR/TernEnums.cpp.inc"
#include "Tern/IR/TernOpsDialect.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "Tern/IR/TernAttrs.cpp.inc"

void TernDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "Tern/IR/TernOps.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "Tern/IR/TernOpsTypes.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "Tern/IR/TernAttrs.cpp.inc"
      >();
}

int64_t PackedAttr::getNumBytes(int64_t n, int64_t k) const {
  return layouts::numBytes(getLayout(), n, k);
}

int64_t PackedBF16Attr::getNumBytes(int64_t v, int64_t d) const {
  return layouts::packed_bf16::numBytes(v, d, getEscapes());
}

//===----------------------------------------------------------------------===//
// Module attributes
//===----------------------------------------------------------------------===//

namespace {

/// Every packed ternary weight of `module` is in the layout its target's
/// kernels read (hf_rows, the frontends' layout, is not packed yet).
LogicalResult verifyWeightLayouts(ModuleOp module, TargetAttr target) {
  WalkResult walk = module.walk([&](WeightOp weight) {
    PackedAttr packed = getPackedEncoding(weight.getType());
    if (!packed || packed.getLayout() == PackedLayout::HFRows ||
        packed.getLayout() == target.getTernaryLayout())
      return WalkResult::advance();
    weight.emitOpError() << "weight '" << weight.getName() << "' is packed as "
                         << packed
                         << ", but the module's target reads #tern.packed<"
                         << stringifyPackedLayout(target.getTernaryLayout())
                         << "> (" << target.getKernels() << " kernels)";
    return WalkResult::interrupt();
  });
  return failure(walk.wasInterrupted());
}

} // namespace

LogicalResult TernDialect::verifyOperationAttribute(Operation *op,
                                                    NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  Attribute value = attr.getValue();
  auto module = dyn_cast<ModuleOp>(op);
  if (!module)
    return op->emitError() << "'" << name << "' is a module attribute";
  auto wrong = [&](StringRef what) -> LogicalResult {
    return op->emitError() << "'" << name << "' must be " << what << ", got "
                           << value;
  };
  if (name == TargetAttrHelper::getNameStr()) {
    auto target = dyn_cast<TargetAttr>(value);
    if (!target)
      return wrong("a #tern.target");
    return verifyWeightLayouts(module, target);
  }
  if (name == ContextLengthAttrHelper::getNameStr()) {
    auto length = dyn_cast<IntegerAttr>(value);
    if (!length || length.getValue().getSExtValue() <= 0)
      return wrong("a positive integer (the model's positions)");
    return success();
  }
  if (name == EosTokenIdsAttrHelper::getNameStr())
    return isa<DenseI64ArrayAttr>(value) ? success()
                                         : wrong("an array<i64> of token ids");
  if (name == TokenizerAttrHelper::getNameStr()) {
    auto blob = dyn_cast<DenseResourceElementsAttr>(value);
    if (!blob || !blob.getElementType().isInteger(8))
      return wrong("a dense_resource of i8 (the serialized tokenizer)");
    return success();
  }
  if (name == GraphAttrHelper::getNameStr())
    return isa<StringAttr>(value) ? success()
                                  : wrong("a string (the graph's signature)");
  return op->emitError() << "unknown module attribute '" << name
                         << "' (known: tern.target, tern.context_length, "
                            "tern.eos_token_ids, tern.tokenizer, tern.graph)";
}

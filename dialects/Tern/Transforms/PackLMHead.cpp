//===- PackLMHead.cpp - the head's bf16 table in about 12 bits per value --===//
//
// Decoding one token reads the whole LM head table: for the 2B4T shape
// (128256 x 2560 bf16, 656 MB) more bytes than all ternary weights. Its high
// bytes (sign and exponent) take few values, so #tern.packed_bf16 stores
// them as 4-bit codes: the same values in 3/4 of the bytes, and the same
// logits bit for bit. Embedding tables are packed too (a row per token is
// decoded): a quarter off the executable where they are not the head's. An
// f32 table of bf16 values is packed as the bf16 table it is.
//
//===----------------------------------------------------------------------===//

#include "Tern/IR/PackedLayouts.h"
#include "Tern/IR/WeightData.h"
#include "Tern/Transforms/Passes.h"

namespace mlir::tern {
#define GEN_PASS_DEF_TERNPACKLMHEAD
#include "Tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;
namespace packed_bf16 = mlir::tern::layouts::packed_bf16;

namespace {

struct PackLMHeadPass : mlir::tern::impl::TernPackLMHeadBase<PackLMHeadPass> {
  void runOnOperation() override {
    SmallVector<WeightOp> tables;
    // The head's table, and the embedding's where it is another (untied
    // models, or beside an int8 head): smaller executables, the same rows.
    auto add = [&](Value v) {
      auto table = v.getDefiningOp<WeightOp>();
      if (table && !llvm::is_contained(tables, table))
        tables.push_back(table);
    };
    getOperation().walk([&](Operation *op) {
      if (auto head = dyn_cast<LMHeadOp>(op))
        add(head.getTable());
      else if (auto embedding = dyn_cast<EmbeddingOp>(op))
        add(embedding.getTable());
    });
    SmallVector<Attribute> dropped;
    for (WeightOp table : tables) {
      auto type = cast<RankedTensorType>(table.getType());
      int64_t v = type.getDimSize(0), d = type.getDimSize(1);
      bool readable = llvm::all_of(table->getUsers(), [](Operation *user) {
        return isa<LMHeadOp, EmbeddingOp>(user);
      });
      Type element = type.getElementType();
      if (!(element.isBF16() || element.isF32()) || type.getEncoding() ||
          !packed_bf16::fits(d) || !readable)
        continue;
      FailureOr<ArrayRef<char>> bytes = getWeightBytes(table);
      if (failed(bytes))
        return signalPassFailure();
      auto values = reinterpret_cast<const uint16_t *>(bytes->data());
      // An f32 table whose values are all bf16 (a bf16 checkpoint's table
      // exported as f32: ONNX, GGUF) is that bf16 table, packed: the same
      // values in 3/8 of the bytes, and the bf16 kernels' logits.
      std::vector<uint16_t> narrowed;
      if (element.isF32()) {
        ArrayRef<uint32_t> words(
            reinterpret_cast<const uint32_t *>(bytes->data()), v * d);
        if (!llvm::all_of(words, [](uint32_t w) { return !(w & 0xffff); }))
          continue;
        narrowed.reserve(words.size());
        for (uint32_t w : words)
          narrowed.push_back(uint16_t(w >> 16));
        values = narrowed.data();
      }
      packed_bf16::Window window = packed_bf16::chooseWindow(values, v, d);
      auto attr =
          PackedBF16Attr::get(&getContext(), window.base, window.escapes);
      auto result = RankedTensorType::get(
          type.getShape(), BFloat16Type::get(&getContext()), attr);
      auto storage = RankedTensorType::get({attr.getNumBytes(v, d)},
                                           IntegerType::get(&getContext(), 8));
      OpBuilder builder(table);
      WeightOp packed =
          createWeight(builder, table.getLoc(), table.getName(), result,
                       storage, [&](MutableArrayRef<char> out) {
                         packed_bf16::encode(values, v, d, window, out);
                       });
      table.replaceAllUsesWith(packed.getResult());
      dropped.push_back(table.getValue());
      table.erase();
    }
    releaseUnusedWeightData(getOperation(), dropped);
  }
};

} // namespace

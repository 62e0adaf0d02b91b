//===- RuntimeABI.cpp - what the executable's runtime asks the model -----===//
//
// Besides tern_forward (or tern_graph) the runtime (lib/Runtime/Main.cpp,
// GraphMain.cpp) calls a few functions and reads a few globals that describe
// the model; they come from the module attributes the frontends set.
//
//===----------------------------------------------------------------------===//

#include "RuntimeABI.h"

#include "Tern/IR/TernOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace mlir::tern;

void mlir::tern::kernels::emitModelABI(ImplicitLocOpBuilder &b, ModuleOp module,
                                       int64_t vocab,
                                       int64_t kvFloatsPerPosition) {
  // () -> i64 functions returning a constant, one after the other.
  auto constantFn = [&](StringRef name, int64_t value) {
    auto fn =
        b.create<func::FuncOp>(name, b.getFunctionType({}, {b.getI64Type()}));
    b.setInsertionPointToStart(fn.addEntryBlock());
    b.create<func::ReturnOp>(
        ValueRange{b.create<arith::ConstantIntOp>(value, 64)});
    b.setInsertionPointAfter(fn);
  };
  // tern_vocab_size() lets the runtime size the logits buffer.
  constantFn("tern_vocab_size", vocab);
  constantFn("tern_kv_floats_per_position", kvFloatsPerPosition);
  // tern_context_length(): the model's largest position (module attribute
  // tern.context_length, set by the frontend from the model's config).
  int64_t context = 2048;
  if (auto attr = TernDialect::ContextLengthAttrHelper(module.getContext())
                      .getAttr(module))
    context = attr.getInt();
  constantFn("tern_context_length", context);

  // tern_is_eos(id): 1 for the ids that end a generation (module attribute
  // tern.eos_token_ids, from the model's config), else 0.
  auto eosFn = b.create<func::FuncOp>(
      "tern_is_eos", b.getFunctionType({b.getI64Type()}, {b.getI64Type()}));
  Block *eosEntry = eosFn.addEntryBlock();
  b.setInsertionPointToStart(eosEntry);
  Value isEos = b.create<arith::ConstantIntOp>(0, 1);
  if (auto ids = TernDialect::EosTokenIdsAttrHelper(module.getContext())
                     .getAttr(module))
    for (int64_t id : ids.asArrayRef())
      isEos = b.create<arith::OrIOp>(
          isEos, b.create<arith::CmpIOp>(
                     arith::CmpIPredicate::eq, eosEntry->getArgument(0),
                     b.create<arith::ConstantIntOp>(id, 64)));
  b.create<func::ReturnOp>(
      ValueRange{b.create<arith::ExtUIOp>(b.getI64Type(), isEos)});

  // The serialized tokenizer (module attribute tern.tokenizer), for the
  // runtime: the bytes as the public global tern_tokenizer, their number
  // from tern_tokenizer_size().
  if (auto tokenizer = TernDialect::TokenizerAttrHelper(module.getContext())
                           .getAttr(module)) {
    auto type = MemRefType::get(tokenizer.getType().getShape(), b.getI8Type());
    b.setInsertionPointAfter(eosFn);
    b.create<memref::GlobalOp>("tern_tokenizer", b.getStringAttr("public"),
                               type, tokenizer, /*constant=*/true,
                               b.getI64IntegerAttr(8));
    constantFn("tern_tokenizer_size", type.getNumElements());
  }
}

void mlir::tern::kernels::emitGraphABI(ImplicitLocOpBuilder &b,
                                       ModuleOp module) {
  // The graph's inputs and outputs, named and shaped (tern.graph), for the
  // runtime: the public NUL-terminated string tern_graph_signature.
  StringAttr signature =
      TernDialect::GraphAttrHelper(module.getContext()).getAttr(module);
  std::vector<char> text(signature.getValue().begin(),
                         signature.getValue().end());
  text.push_back(0);
  auto type = RankedTensorType::get({int64_t(text.size())}, b.getI8Type());
  b.create<memref::GlobalOp>("tern_graph_signature", b.getStringAttr("public"),
                             MemRefType::get(type.getShape(), b.getI8Type()),
                             DenseElementsAttr::get(type, ArrayRef<char>(text)),
                             /*constant=*/true, IntegerAttr());
}

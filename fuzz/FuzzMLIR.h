//===- FuzzMLIR.h - An MLIR context for the frontend fuzzers ----*- C++ -*-===//

#ifndef TERN_FUZZ_FUZZMLIR_H
#define TERN_FUZZ_FUZZMLIR_H

#include "Tern/IR/TernDialect.h"
#include "tern/Frontend/Import.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

namespace tern::fuzz {

/// A fresh context per input (a shared one would keep every input's
/// weights as resources), single-threaded, with the dialects the frontends
/// create and diagnostics swallowed: errors are the expected outcome.
struct FrontendContext {
  mlir::MLIRContext context{mlir::MLIRContext::Threading::DISABLED};
  mlir::ScopedDiagnosticHandler quiet{
      &context, [](mlir::Diagnostic &) { return mlir::success(); }};

  FrontendContext() {
    context.loadDialect<mlir::tern::TernDialect, mlir::func::FuncDialect>();
  }
};

/// What ternc's import phase does with the model at `path` in `fs`.
inline void importFrom(llvm::vfs::FileSystem &fs, llvm::StringRef path) {
  FrontendContext c;
  mlir::tern::ImportOptions options;
  options.fs = &fs;
  llvm::SourceMgr sourceMgr;
  (void)mlir::tern::importModel(path, c.context, sourceMgr, options);
}

} // namespace tern::fuzz

#endif // TERN_FUZZ_FUZZMLIR_H

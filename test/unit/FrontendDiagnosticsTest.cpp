//===- FrontendDiagnosticsTest.cpp - frontend errors reach a host ---------===//
//
// A program that embeds Tern's frontends captures their errors with an MLIR
// diagnostic handler instead of finding them on stderr.
//
//===----------------------------------------------------------------------===//

#include "tern/Frontend/Import.h"
#include "tern/Pipeline/Pipeline.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/SourceMgr.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

std::vector<std::string> importErrors(llvm::StringRef path,
                                      std::string *file = nullptr) {
  mlir::DialectRegistry registry;
  mlir::tern::registerAllTernDialects(registry);
  mlir::MLIRContext context(registry);
  std::vector<std::string> errors;
  mlir::ScopedDiagnosticHandler capture(&context, [&](mlir::Diagnostic &d) {
    if (d.getSeverity() == mlir::DiagnosticSeverity::Error)
      errors.push_back(d.str());
    // The location is the model file, without a line.
    auto loc = llvm::dyn_cast<mlir::FileLineColLoc>(d.getLocation());
    EXPECT_TRUE(loc && loc.getLine() == 0);
    EXPECT_TRUE(mlir::tern::isModelFileLoc(d.getLocation()));
    if (loc && file)
      *file = loc.getFilename().str();
    return mlir::success();
  });
  llvm::SourceMgr sourceMgr;
  EXPECT_FALSE(mlir::tern::importModel(path, context, sourceMgr));
  return errors;
}

TEST(FrontendDiagnostics, MissingFile) {
  std::string file;
  std::vector<std::string> errors =
      importErrors("/nonexistent/model.gguf", &file);
  EXPECT_EQ(file, "/nonexistent/model.gguf");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "/nonexistent/model.gguf: no such file or directory");
}

TEST(FrontendDiagnostics, CheckpointWithoutConfig) {
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("tern-ckpt", dir));
  std::string file;
  std::vector<std::string> errors = importErrors(dir, &file);
  llvm::sys::fs::remove(dir);
  EXPECT_EQ(file, std::string(dir));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("no config.json beside the weights"),
            std::string::npos)
      << errors[0];
}

} // namespace

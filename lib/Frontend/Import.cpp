//===- Import.cpp - frontend dispatch by input format ---------------------===//
//
// Tern IR files (.mlir, text or bytecode) are read as they are; checkpoint
// directories and .safetensors files go to the safetensors frontend, .gguf
// files to the GGUF frontend. The ONNX frontend plugs in here.
//
//===----------------------------------------------------------------------===//

#include "tern/Frontend/Import.h"

#include "Tern/IR/TernOps.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;

namespace {

OwningOpRef<ModuleOp> fail(MLIRContext &context, StringRef path,
                           const Twine &message) {
  tern::reportFrontendError(&context, path, message);
  return nullptr;
}

} // namespace

void mlir::tern::reportFrontendError(MLIRContext *context, StringRef file,
                                     const Twine &message) {
  emitError(FileLineColLoc::get(context, file, 0, 0))
      << file << ": " << message.str();
}

void mlir::tern::reportFrontendError(MLIRContext *context, StringRef file,
                                     llvm::Error error) {
  emitError(FileLineColLoc::get(context, file, 0, 0))
      << llvm::toString(std::move(error));
}

bool mlir::tern::isModelFileLoc(Location loc) {
  auto file = dyn_cast<FileLineColLoc>(loc);
  return file && file.getLine() == 0;
}

OwningOpRef<ModuleOp> mlir::tern::importModel(StringRef path,
                                              MLIRContext &context,
                                              llvm::SourceMgr &sourceMgr,
                                              const ImportOptions &options) {
  llvm::vfs::FileSystem &fs = options.files();
  if (path != "-" && !fs.exists(path))
    return fail(context, path, "no such file or directory");
  StringRef ext = llvm::sys::path::extension(path);
  if (isDirectory(fs, path) || ext == ".safetensors")
    return importCheckpoint(path, context, options);
  if (ext == ".gguf")
    return importGGUF(path, context, options);
  if (ext == ".onnx")
    return importONNX(path, context, options);
  if (path != "-" && ext != ".mlir" && ext != ".mlirbc")
    return fail(context, path,
                "unknown model format '" + ext +
                    "' (expected a checkpoint directory, a "
                    ".safetensors file, a .gguf file or a .mlir "
                    "file)");

  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> file;
  if (path == "-") {
    file = mlir::openInputFile(path, &error);
  } else if (auto read = readFile(fs, path, /*isText=*/true)) {
    file = std::move(*read);
  } else {
    error = read.getError().message();
  }
  if (!file)
    return fail(context, path, error);
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return nullptr;
  if (!module->lookupSymbol<func::FuncOp>("forward"))
    return fail(context, path,
                "no model function: expected func.func @forward");
  return module;
}

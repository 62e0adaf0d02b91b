//===- Import.h - Reading a model into tern IR ------------------*- C++ -*-===//

#ifndef TERN_FRONTEND_IMPORT_H
#define TERN_FRONTEND_IMPORT_H

#include "tern/Frontend/Files.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"

#include <map>
#include <string>

namespace mlir::tern {

/// Choices about input files that the files themselves do not record.
struct ImportOptions {
  /// bitnet.cpp writes I2_S in 64-element blocks when it runs on ARM (since
  /// 2025-11; SPEC 7.5) and in 128-element blocks on x86; the file does not
  /// say which. Default: the x86 layout.
  bool i2sArmLayout = false;
  /// Sizes of symbolic dimensions of ONNX graph inputs (--dim NAME=VALUE).
  std::map<std::string, int64_t> dims;
  /// Where files are read from (not owned); null: the real file system.
  llvm::vfs::FileSystem *fs = nullptr;

  llvm::vfs::FileSystem &files() const { return fs ? *fs : realFileSystem(); }
};

/// Reads the model at `path` with the frontend its format needs and returns
/// a module at the import phase. Text inputs are added to `sourceMgr`, so
/// that later diagnostics can quote them. Reports what is wrong (naming the
/// file) and returns null on failure.
mlir::OwningOpRef<mlir::ModuleOp>
importModel(llvm::StringRef path, mlir::MLIRContext &context,
            llvm::SourceMgr &sourceMgr, const ImportOptions &options = {});

/// Reads a Hugging Face BitNet checkpoint: a directory with config.json and
/// model.safetensors or sharded safetensors files with their index, or one
/// .safetensors file in such a directory.
mlir::OwningOpRef<mlir::ModuleOp>
importCheckpoint(llvm::StringRef path, mlir::MLIRContext &context,
                 const ImportOptions &options = {});

/// Reads an ONNX file: parses and checks it (opset, wiring, initializers,
/// external data, supported ops; every problem reported at once).
mlir::OwningOpRef<mlir::ModuleOp> importONNX(llvm::StringRef path,
                                             mlir::MLIRContext &context,
                                             const ImportOptions &options = {});

/// Reports an error in model file `file` through MLIR's diagnostics, so that
/// a library host captures it with a diagnostic handler. The message reads
/// "FILE: MESSAGE"; the location is `file` without a line (model files are
/// not text: FileLineColLoc(file, 0, 0)), which `isModelFileLoc` tells apart
/// and ternc prints as "error: FILE: MESSAGE".
void reportFrontendError(mlir::MLIRContext *context, llvm::StringRef file,
                         const llvm::Twine &message);
/// The same for an error whose text already names the file (and consumes it).
void reportFrontendError(mlir::MLIRContext *context, llvm::StringRef file,
                         llvm::Error error);
/// Whether `loc` is a model file's location (see reportFrontendError).
bool isModelFileLoc(mlir::Location loc);

/// Reads a BitNet b1.58 GGUF file (bitnet.cpp or llama.cpp).
mlir::OwningOpRef<mlir::ModuleOp> importGGUF(llvm::StringRef path,
                                             mlir::MLIRContext &context,
                                             const ImportOptions &options = {});

} // namespace mlir::tern

#endif // TERN_FRONTEND_IMPORT_H

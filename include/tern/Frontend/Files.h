//===- Files.h - Where the frontends read files -----------------*- C++ -*-===//
//
// Every frontend reads through an llvm::vfs::FileSystem: the real one for
// ternc, an in-memory one for the fuzzers (fuzz/), which thereby run the
// same code on inputs that never touch the disk.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_FRONTEND_FILES_H
#define TERN_FRONTEND_FILES_H

#include "llvm/Support/ErrorOr.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/VirtualFileSystem.h"

#include <memory>

namespace mlir::tern {

/// The real file system (the default everywhere).
inline llvm::vfs::FileSystem &realFileSystem() {
  static llvm::IntrusiveRefCntPtr<llvm::vfs::FileSystem> fs =
      llvm::vfs::getRealFileSystem();
  return *fs;
}

/// The contents of `path`: mapped where the file system can (model files
/// are large and need no NUL terminator), or read whole with one for text.
inline llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>>
readFile(llvm::vfs::FileSystem &fs, const llvm::Twine &path,
         bool isText = false) {
  return fs.getBufferForFile(path, /*FileSize=*/-1,
                             /*RequiresNullTerminator=*/isText);
}

inline bool isDirectory(llvm::vfs::FileSystem &fs, const llvm::Twine &path) {
  llvm::ErrorOr<llvm::vfs::Status> status = fs.status(path);
  return status && status->isDirectory();
}

} // namespace mlir::tern

#endif // TERN_FRONTEND_FILES_H

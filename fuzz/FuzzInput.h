//===- FuzzInput.h - What the fuzzers share ---------------------*- C++ -*-===//
//
// A fuzz input that stands for several files (a checkpoint directory, a
// tokenizer with its config) holds them one after another, separated by
// kSeparator (in every dictionary, so that libFuzzer inserts it). The files
// live in an llvm::vfs::InMemoryFileSystem: the frontends read them through
// the same code as ternc's real files, and nothing touches the disk.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_FUZZ_FUZZINPUT_H
#define TERN_FUZZ_FUZZINPUT_H

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/VirtualFileSystem.h"

#include <cstdint>

namespace tern::fuzz {

inline constexpr llvm::StringLiteral kSeparator = "--tern-next-file--";

/// The parts of an input, in order (at least one, possibly empty).
inline llvm::SmallVector<llvm::StringRef>
splitFiles(const uint8_t *data, size_t size, size_t maxParts) {
  llvm::StringRef rest(reinterpret_cast<const char *>(data), size);
  llvm::SmallVector<llvm::StringRef> parts;
  while (parts.size() + 1 < maxParts) {
    size_t at = rest.find(kSeparator);
    if (at == llvm::StringRef::npos)
      break;
    parts.push_back(rest.take_front(at));
    rest = rest.drop_front(at + kSeparator.size());
  }
  parts.push_back(rest);
  return parts;
}

/// A file system holding `files` ({path, contents}); the contents are
/// copied (the frontends may keep buffers past the call).
inline llvm::IntrusiveRefCntPtr<llvm::vfs::InMemoryFileSystem>
makeFiles(llvm::ArrayRef<std::pair<std::string, llvm::StringRef>> files) {
  auto fs = llvm::makeIntrusiveRefCnt<llvm::vfs::InMemoryFileSystem>();
  for (const auto &[path, contents] : files)
    fs->addFile(path, 0, llvm::MemoryBuffer::getMemBufferCopy(contents, path));
  return fs;
}

} // namespace tern::fuzz

#endif // TERN_FUZZ_FUZZINPUT_H

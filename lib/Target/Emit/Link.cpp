//===- Link.cpp - objects -> executables and static libraries -------------===//
//
// Executables are linked by clang-19 driving lld, which knows where the C
// runtime start files and libraries are; Tern adds its runtime archive.
//
//===----------------------------------------------------------------------===//

#include "tern/Target/Emit.h"

#include "llvm/Object/Archive.h"
#include "llvm/Object/ArchiveWriter.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <cstdlib>
#include <vector>

using namespace llvm;

#include "ModelHeader.inc"

namespace {

Error fail(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

/// A runtime archive next to ternc: <prefix>/bin/ternc -> <prefix>/lib/.
Expected<std::string> findRuntime(StringRef argv0,
                                  StringRef name = "libTernRuntime.a") {
  std::string exe = sys::fs::getMainExecutable(argv0.str().c_str(),
                                               reinterpret_cast<void *>(&fail));
  SmallString<256> path(sys::path::parent_path(sys::path::parent_path(exe)));
  sys::path::append(path, "lib", name);
  if (!sys::fs::exists(path))
    return fail("Tern runtime library not found at " + path +
                " (is this ternc from a complete build or install?)");
  return path.str().str();
}

Expected<std::string> findLinkerDriver() {
  for (StringRef name : {"clang++-19", "clang++"}) {
    ErrorOr<std::string> found = sys::findProgramByName(name);
    if (found)
      return *found;
  }
  if (sys::fs::exists("/usr/lib/llvm-19/bin/clang++"))
    return std::string("/usr/lib/llvm-19/bin/clang++");
  return fail("cannot link: clang++-19 not found on PATH (apt-get install "
              "clang-19 lld-19)");
}

/// The runtime archive of an executable for `target`, and the driver flags
/// it takes: the host's, or AArch64 Linux through Debian's cross sysroot.
struct RuntimeChoice {
  std::string archive;
  std::vector<std::string> flags;
};

Expected<RuntimeChoice> runtimeFor(const mlir::tern::ResolvedTarget &target,
                                   StringRef argv0,
                                   StringRef name = "TernRuntime") {
  Triple triple(target.triple);
  Triple host(sys::getDefaultTargetTriple());
  if (target.isHost || (triple.getArch() == host.getArch() &&
                        triple.isOSLinux() && host.isOSLinux())) {
    Expected<std::string> lib = findRuntime(argv0, ("lib" + name + ".a").str());
    if (!lib)
      return lib.takeError();
    return RuntimeChoice{*lib, {}};
  }
  if (triple.getArch() != Triple::aarch64 || !triple.isOSLinux())
    return fail("linking an executable for " + target.triple +
                " is not supported; use --emit=obj or --emit=asm");
  // Debian's cross packages, or an arm64 root file system named by
  // --sysroot (e.g. made by debootstrap --arch=arm64).
  std::vector<std::string> flags = {"--target=aarch64-linux-gnu"};
  if (!target.sysroot.empty()) {
    for (StringRef file : {"crt1.o", "libpcre2-8.a"}) {
      SmallString<256> path(target.sysroot);
      sys::path::append(path, "usr/lib/aarch64-linux-gnu", file);
      if (!sys::fs::exists(path))
        return fail("cannot link for " + target.triple + ": " + path +
                    " is missing (--sysroot must name an arm64 root with "
                    "libc6-dev, libstdc++-12-dev and libpcre2-dev)");
    }
    flags.push_back("--sysroot=" + target.sysroot);
  } else if (!sys::fs::exists("/usr/aarch64-linux-gnu/lib/crt1.o") ||
             !sys::fs::exists("/usr/lib/aarch64-linux-gnu/libpcre2-8.a")) {
    return fail("cannot link for " + target.triple +
                ": the AArch64 cross sysroot is missing (apt-get install "
                "libc6-dev-arm64-cross libstdc++-12-dev-arm64-cross "
                "libgcc-12-dev-arm64-cross, and libpcre2-dev:arm64 after "
                "dpkg --add-architecture arm64; scripts/setup.sh does both)");
  }
  Expected<std::string> lib =
      findRuntime(argv0, ("lib" + name + "-aarch64.a").str());
  if (!lib)
    return lib.takeError();
  return RuntimeChoice{*lib, flags};
}

} // namespace

Error mlir::tern::linkExecutable(StringRef objectPath, StringRef output,
                                 const ResolvedTarget &target, StringRef argv0,
                                 bool staticLink, bool tsanRuntime) {
  if (tsanRuntime && (!target.isHost || staticLink))
    return fail("--tsan-runtime links a dynamic executable for the host only");
  auto found = runtimeFor(target, argv0,
                          tsanRuntime ? "TernRuntimeTsan" : "TernRuntime");
  if (!found)
    return found.takeError();
  Expected<std::string> driver = findLinkerDriver();
  if (!driver)
    return driver.takeError();

  SmallString<128> log;
  if (std::error_code ec =
          sys::fs::createTemporaryFile("tern-link", "log", log))
    return fail("cannot create a temporary file: " + ec.message());
  FileRemover removeLog(log);
  std::string out = output.str();
  // The runtime's tokenizer matches regexes with PCRE2, linked statically
  // so that the executable runs where libpcre2 is not installed.
  SmallVector<StringRef> args = {*driver, "-fuse-ld=lld",    "-o",
                                 out,     objectPath,        found->archive,
                                 "-lm",   "-l:libpcre2-8.a", "-lpthread"};
  args.append(found->flags.begin(), found->flags.end());
#ifdef TERN_SANITIZE_LINK
  // A sanitizer build's host runtime is instrumented: link the sanitizers'
  // runtimes too (they cannot be linked statically).
  if (found->flags.empty()) {
    if (staticLink)
      return fail("--static is not available from a sanitizer build of "
                  "ternc (TERN_SANITIZE): AddressSanitizer needs a dynamic "
                  "executable");
    args.push_back(TERN_SANITIZE_LINK);
  }
#endif
  if (tsanRuntime)
    args.push_back("-fsanitize=thread");
  if (staticLink)
    args.push_back("-static");
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(log),
                                          StringRef(log)};
  std::string error;
  int rc =
      sys::ExecuteAndWait(*driver, args, std::nullopt, redirects, 0, 0, &error);
  if (rc != 0) {
    auto text = MemoryBuffer::getFile(log);
    return fail("link failed (" + *driver + "): " +
                (error.empty() && text ? (*text)->getBuffer().trim() : error));
  }
  return Error::success();
}

Error mlir::tern::writeLibrary(StringRef objectPath, StringRef archivePath,
                               StringRef headerPath,
                               const ResolvedTarget &target, StringRef argv0,
                               bool gpu) {
  Expected<NewArchiveMember> member =
      NewArchiveMember::getFile(objectPath, /*Deterministic=*/true);
  if (!member)
    return member.takeError();
  member->MemberName = "tern_model.o";
  std::vector<NewArchiveMember> members;
  members.push_back(std::move(*member));
  // The kernels call the thread team's entry points, NVIDIA host code the
  // GPU runtime's (mgpu*, the driver loader): ship them along. The
  // archives' buffers must outlive `members`, which refer to them.
  std::vector<std::unique_ptr<MemoryBuffer>> buffers;
  std::vector<std::unique_ptr<object::Archive>> archives;
  SmallVector<StringRef, 2> runtimes = {"TernParallel"};
  if (gpu)
    runtimes.push_back("TernGpu");
  for (StringRef name : runtimes) {
    auto found = runtimeFor(target, argv0, name);
    if (!found)
      return found.takeError();
    const std::string &path = found->archive;
    auto buffer = MemoryBuffer::getFile(path);
    if (!buffer)
      return fail("cannot read " + path + ": " + buffer.getError().message());
    Expected<std::unique_ptr<object::Archive>> archive =
        object::Archive::create((*buffer)->getMemBufferRef());
    if (!archive)
      return archive.takeError();
    Error childError = Error::success();
    for (const object::Archive::Child &child :
         (*archive)->children(childError)) {
      Expected<NewArchiveMember> copy =
          NewArchiveMember::getOldMember(child, /*Deterministic=*/true);
      if (!copy)
        return copy.takeError();
      members.push_back(std::move(*copy));
    }
    if (childError)
      return childError;
    buffers.push_back(std::move(*buffer));
    archives.push_back(std::move(*archive));
  }
  if (Error error =
          writeArchive(archivePath, members, SymtabWritingMode::NormalSymtab,
                       object::Archive::K_GNU,
                       /*Deterministic=*/true, /*Thin=*/false))
    return fail("cannot write " + archivePath + ": " +
                toString(std::move(error)));
  std::error_code ec;
  ToolOutputFile file(headerPath, ec, sys::fs::OF_Text);
  if (ec)
    return fail("cannot write " + headerPath + ": " + ec.message());
  file.os() << kModelHeader;
  file.keep();
  return Error::success();
}

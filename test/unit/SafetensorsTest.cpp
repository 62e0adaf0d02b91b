//===- SafetensorsTest.cpp - the safetensors reader on hand-made files ----===//

#include "Safetensors/SafetensorsFile.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/raw_ostream.h"
#include <gtest/gtest.h>

#include <cstring>

namespace {

using mlir::tern::SafetensorsDType;
using mlir::tern::SafetensorsFile;

/// Writes header + data to a temporary file; returns its path.
std::string writeFile(const std::string &header, const std::string &data) {
  llvm::SmallString<128> path;
  EXPECT_FALSE(
      llvm::sys::fs::createTemporaryFile("tern-test", "safetensors", path));
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  uint64_t n = header.size();
  char size[8];
  std::memcpy(size, &n, 8); // little-endian hosts only, like the format
  os.write(size, 8);
  os << header << data;
  return std::string(path);
}

TEST(Safetensors, ReadsTensorsInDataOrder) {
  std::string data("\x01\x02\x03\x04\x00\x00\x80\x3f", 8);
  std::string path =
      writeFile(R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                R"("a":{"dtype":"U8","shape":[2,2],"data_offsets":[0,4]},)"
                R"("__metadata__":{"format":"pt"}})",
                data);
  llvm::FileRemover remove(path);
  auto file = SafetensorsFile::open(path);
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  auto tensors = (*file)->getTensors();
  ASSERT_EQ(tensors.size(), 2u);
  EXPECT_EQ(tensors[0].name, "a");
  EXPECT_EQ(tensors[0].dtype, SafetensorsDType::U8);
  EXPECT_EQ(tensors[0].shapeString(), "[2, 2]");
  EXPECT_EQ(tensors[0].data[3], 4);
  EXPECT_EQ(tensors[1].name, "b");
  float one;
  std::memcpy(&one, tensors[1].data.data(), 4);
  EXPECT_EQ(one, 1.0f);
}

TEST(Safetensors, RejectsOverlapsAndShortData) {
  std::string overlap =
      writeFile(R"({"a":{"dtype":"I8","shape":[4],"data_offsets":[0,4]},)"
                R"("b":{"dtype":"I8","shape":[2],"data_offsets":[2,4]}})",
                "abcd");
  llvm::FileRemover remove1(overlap);
  auto file = SafetensorsFile::open(overlap);
  ASSERT_FALSE(bool(file));
  EXPECT_NE(llvm::toString(file.takeError())
                .find("tensor 'b': data overlaps tensor 'a'"),
            std::string::npos);

  std::string shortData = writeFile(
      R"({"a":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}})", "abcd");
  llvm::FileRemover remove2(shortData);
  file = SafetensorsFile::open(shortData);
  ASSERT_FALSE(bool(file));
  EXPECT_NE(llvm::toString(file.takeError())
                .find("runs past the end of the data section (4 bytes)"),
            std::string::npos);
}

} // namespace

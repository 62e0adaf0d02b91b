//===- TargetTest.cpp - --target / --mcpu / --mattr resolution ------------===//

#include "tern/Target/Target.h"

#include <gtest/gtest.h>

namespace {

using mlir::tern::resolveTarget;
using mlir::tern::TargetOptions;

std::string errorOf(const TargetOptions &options) {
  std::string warnings;
  llvm::raw_string_ostream os(warnings);
  auto target = resolveTarget(options, os);
  if (target)
    return "";
  return llvm::toString(target.takeError());
}

TEST(Target, HostByDefault) {
  std::string warnings;
  llvm::raw_string_ostream os(warnings);
  auto target = resolveTarget(TargetOptions(), os);
  ASSERT_TRUE(bool(target)) << llvm::toString(target.takeError());
  EXPECT_TRUE(target->isHost);
  EXPECT_NE(target->cpu, "");
  EXPECT_TRUE(warnings.empty());
}

TEST(Target, CrossWithoutCpuWarns) {
  TargetOptions options;
  options.triple = "aarch64-linux-gnu";
  std::string warnings;
  llvm::raw_string_ostream os(warnings);
  auto target = resolveTarget(options, os);
  ASSERT_TRUE(bool(target));
  EXPECT_EQ(target->cpu, "generic");
  EXPECT_NE(warnings.find("--mcpu="), std::string::npos);
}

TEST(Target, RejectsUnknownNames) {
  TargetOptions cpu;
  cpu.cpu = "pentium9";
  EXPECT_NE(errorOf(cpu).find("unknown CPU 'pentium9'"), std::string::npos);
  TargetOptions feature;
  feature.features = "+avx2,+nonsense";
  EXPECT_NE(errorOf(feature).find("unknown feature 'nonsense'"),
            std::string::npos);
  TargetOptions triple;
  triple.triple = "sparc-sun-solaris";
  EXPECT_NE(errorOf(triple).find("unsupported target triple"),
            std::string::npos);
  TargetOptions good;
  good.cpu = "x86-64-v3";
  good.features = "+avx2,-avx512f";
  EXPECT_EQ(errorOf(good), "");
}

} // namespace

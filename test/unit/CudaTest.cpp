//===- CudaTest.cpp - the CUDA driver loader's errors ---------------------===//
//
// Without a driver, and with a driver but no GPU (a stand-in library whose
// cuInit says so), opening CUDA is one line saying which is missing.
//
//===----------------------------------------------------------------------===//

#include "tern/Runtime/Cuda.h"

#include <gtest/gtest.h>

using tern::rt::CudaDriver;

TEST(Cuda, NoDriver) {
  std::string error;
  EXPECT_EQ(CudaDriver::open(error, "libcuda-not-here.so.1"), nullptr);
  EXPECT_EQ(error, "no CUDA driver: libcuda-not-here.so.1 is not installed "
                   "(install the NVIDIA driver; no CUDA toolkit is needed)");
}

TEST(Cuda, NoDevice) {
  std::string error;
  EXPECT_EQ(CudaDriver::open(error, TERN_FAKE_CUDA), nullptr);
  EXPECT_EQ(error,
            "no CUDA device: the NVIDIA driver is installed but finds no GPU");
}

TEST(Cuda, DriverTooOld) {
  // The C library is no CUDA driver: its first missing entry is named.
  std::string error;
  EXPECT_EQ(CudaDriver::open(error, "libc.so.6"), nullptr);
  EXPECT_EQ(error, "no usable CUDA driver: libc.so.6 lacks cuInit (the "
                   "NVIDIA driver is too old)");
}

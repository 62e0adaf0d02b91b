#!/usr/bin/env bash
# Configures (once) and builds Tern into build/ with clang-19, lld-19, ccache.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_TYPE=${TERN_BUILD_TYPE:-Release}
if [ ! -f build/build.ninja ]; then
  cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
    -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-19/build/utils/lit/lit.py \
    -DTERN_TEST_PYTHON="$PWD/.venv/bin/python" \
    -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
    -DLLVM_USE_LINKER=lld-19 \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache > /dev/null
fi
cmake --build build

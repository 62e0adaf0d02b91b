#!/usr/bin/env bash
# Configures (once) and builds Tern with clang-19, lld-19, ccache: into
# build/, or with --sanitize into build-sanitize/ (ASan + UBSan, and the
# fuzzers; see TERN_SANITIZE in CMakeLists.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_TYPE=${TERN_BUILD_TYPE:-Release}
DIR=build
EXTRA=()
if [ "${1:-}" = "--sanitize" ]; then
  shift
  DIR=build-sanitize
  # -O1: the sanitizers' usual trade of speed for compile time and reports.
  EXTRA=(-DTERN_SANITIZE=ON "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG"
         "-DCMAKE_C_FLAGS_RELEASE=-O1 -DNDEBUG")
fi
if [ ! -f $DIR/build.ninja ]; then
  cmake -G Ninja -S . -B $DIR -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
    -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-19/build/utils/lit/lit.py \
    -DTERN_TEST_PYTHON="$PWD/.venv/bin/python" \
    -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
    -DLLVM_USE_LINKER=lld-19 \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    "${EXTRA[@]}" > /dev/null
fi
cmake --build $DIR "$@"

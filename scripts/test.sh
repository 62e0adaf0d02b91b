#!/usr/bin/env bash
# Installs, builds, and runs every test suite with one summary each:
#   1. the ordinary build (build/): unit, lit and end-to-end tests;
#   2. the same suite on the AddressSanitizer + UndefinedBehaviorSanitizer
#      build (build-sanitize/: ternc, tern-opt, the runtime and the
#      executables ternc links there, the unit tests);
#   3. every fuzzer (fuzz/, scripts/fuzz.sh --ci): a fixed number of inputs
#      from a fixed seed, about 40 s each.
#
# usage: scripts/test.sh [--ordinary | --sanitize | --fuzz] [ctest args]
#   One of the flags runs that part alone; ctest args go to the suites.
set -euo pipefail
cd "$(dirname "$0")/.."
PART=all
case "${1:-}" in
  --ordinary | --sanitize | --fuzz) PART=${1#--}; shift ;;
esac
scripts/setup.sh

start=$SECONDS
elapsed() { echo "test: $1 took $(((SECONDS - start) / 60)) min $(((SECONDS - start) % 60)) s"; start=$SECONDS; }

if [ $PART = all ] || [ $PART = ordinary ]; then
  scripts/build.sh
  (cd build && ctest --output-on-failure "$@")
  elapsed "the ordinary build and suite"
fi
if [ $PART = all ] || [ $PART = sanitize ]; then
  scripts/build.sh --sanitize
  # Leaks are not errors here: LLVM's command-line options and MLIR's
  # contexts live until exit by design. The fuzzers check for leaks.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:abort_on_error=1}
  (cd build-sanitize && ctest --output-on-failure "$@")
  elapsed "the sanitizer build and suite"
fi
if [ $PART = all ] || [ $PART = fuzz ]; then
  scripts/fuzz.sh --ci
  elapsed "the fuzzers"
fi

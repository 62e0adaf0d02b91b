#!/usr/bin/env bash
# Installs, builds, and runs every test suite (unit, lit, end-to-end) with
# one summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd build
ctest --output-on-failure "$@"

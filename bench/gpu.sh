#!/usr/bin/env bash
# The GPU benchmark in one command (see bench/gpu.py); skips without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec .venv/bin/python bench/gpu.py "$@"

#!/usr/bin/env bash
# The benchmark in one command (see bench/run.py for what it measures).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec .venv/bin/python bench/run.py "$@"

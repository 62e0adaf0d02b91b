#!/usr/bin/env bash
# The main job: install, build, compile the default model with ternc into an
# executable, and run it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
mkdir -p build/example
# Until a trained example model ships, the default model is a synthetic
# BitNet-shaped one (attention-free) generated with a fixed seed.
.venv/bin/python scripts/gen_synthetic.py -o build/example/default.mlir \
  --vocab 1024 --hidden 256 --intermediate 512 --layers 4 --embed-std 0.02 --seed 0
build/bin/ternc build/example/default.mlir -o build/example/default
echo "+ build/example/default --tokens 1,2,3,4 -n 16 --seed 1"
build/example/default --tokens 1,2,3,4 -n 16 --seed 1

#!/usr/bin/env bash
# The main job: install, build, compile the default model with ternc into an
# executable, and run it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
mkdir -p build/example
# Until a trained example model ships, the default model is a synthetic
# checkpoint in the microsoft/bitnet-b1.58-2B-4T layout (packed weights, GQA,
# relu2), generated with a fixed seed.
.venv/bin/python scripts/gen_checkpoint.py -o build/example/bitnet-tiny \
  --layout 2b4t --vocab 1024 --hidden 256 --intermediate 512 --layers 4 \
  --heads 8 --kv-heads 2 --embed-std 0.1 --weight-std 0.1 --seed 0
build/bin/ternc build/example/bitnet-tiny -o build/example/default
echo "+ build/example/default --tokens 1,2,3,4 -n 16 --seed 1"
build/example/default --tokens 1,2,3,4 -n 16 --seed 1

#!/usr/bin/env bash
# The main job: install, build, compile the bundled example model with ternc
# into an executable, and run it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
mkdir -p build/example
# A 2.9M-parameter BitNet b1.58 trained from scratch on Debian's fortunes
# (examples/train-tiny-bitnet: the script, its log and perplexity), in the
# microsoft/bitnet-b1.58-2B-4T checkpoint layout, with its tokenizer.
build/bin/ternc examples/train-tiny-bitnet/model -o build/example/fortune
echo "+ build/example/fortune -p \"The best way to\" -n 64 --seed 1"
build/example/fortune -p "The best way to" -n 64 --seed 1

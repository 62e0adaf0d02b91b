#!/usr/bin/env bash
# Installs what Tern needs on Debian 12 (apt + a Python venv), idempotently
# and quietly when everything is already there. Run as root (or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  llvm-19-dev libmlir-19-dev mlir-19-tools llvm-19-tools clang-19 lld-19
  cmake ninja-build ccache libgtest-dev pkg-config
  libpcre2-dev libsentencepiece-dev libonnx-dev libprotobuf-dev protobuf-compiler
  libomp-19-dev libclang-rt-19-dev
  libboost1.74-dev nlohmann-json3-dev nginx-light
  python3-onnx
  qemu-user-static libc6-dev-arm64-cross libgcc-12-dev-arm64-cross
  libstdc++-12-dev-arm64-cross binutils-aarch64-linux-gnu libpcre2-dev:arm64
  python3 python3-venv python3-numpy python3-torch
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  # AArch64 executables link PCRE2 for arm64 (Debian multiarch).
  dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

# Test references run in a venv made from Debian's Python so that Debian's
# numpy and torch are visible (TOOLCHAIN.md).
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import numpy" 2>/dev/null; then
  echo "setup: creating .venv"
  rm -rf .venv
  /usr/bin/python3 -m venv --system-site-packages .venv
fi

# PyPI gguf: the GGUF tests check Tern's Q8_0/Q6_K decoding against its
# dequantizers. tokenizers and sentencepiece train the tokenizers the
# tokenizer tests compare Tern's ids with. onnxruntime is the reference for
# ONNX models (1.20.1 runs on Debian's numpy 1.24).
if ! .venv/bin/python -c "import gguf, tokenizers, sentencepiece, onnxruntime" 2>/dev/null; then
  echo "setup: installing gguf, tokenizers, sentencepiece and onnxruntime into .venv"
  .venv/bin/pip install -q "gguf==0.19.0" "tokenizers==0.23.3" "sentencepiece==0.2.3" "onnxruntime==1.20.1"
fi

# A current onnxruntime for ONNX files at opsets 22-23 (RMSNormalization,
# RotaryEmbedding, Attention), which 1.20.1 refuses; it needs numpy 2, so it
# has a venv of its own, without Debian's packages.
if ! .venv-ort/bin/python -c "import onnxruntime, onnx, numpy" 2>/dev/null; then
  echo "setup: creating .venv-ort (onnxruntime 1.32.0)"
  rm -rf .venv-ort
  /usr/bin/python3 -m venv .venv-ort
  .venv-ort/bin/pip install -q "onnxruntime==1.32.0" "onnx==1.23.2" "numpy==2.4.6"
fi

# transformers' apply_chat_template (with jinja2) is the reference for chat
# templates; it imports without torch (Debian's 1.13 is too old for its
# models, which the tests do not use).
if ! .venv/bin/python -c "import transformers, jinja2" 2>/dev/null; then
  echo "setup: installing transformers and jinja2 into .venv"
  .venv/bin/pip install -q "transformers==5.24.0" "jinja2==3.1.6"
fi

# The real OpenAI client is what the server tests talk to.
if ! .venv/bin/python -c "import openai" 2>/dev/null; then
  echo "setup: installing openai into .venv"
  .venv/bin/pip install -q "openai==3.57.0"
fi

for tool in clang++-19 ld.lld-19 /usr/lib/llvm-19/bin/FileCheck /usr/lib/llvm-19/build/utils/lit/lit.py qemu-aarch64-static /usr/aarch64-linux-gnu/lib/crt1.o /usr/lib/aarch64-linux-gnu/libpcre2-8.a /usr/include/boost/beast.hpp /usr/include/nlohmann/json.hpp /usr/sbin/nginx; do
  command -v "$tool" > /dev/null || [ -e "$tool" ] || { echo "setup: missing $tool after install" >&2; exit 1; }
done
.venv/bin/python -c "import numpy, torch, gguf, tokenizers, sentencepiece, onnx, onnxruntime, transformers, jinja2, openai" || { echo "setup: numpy, torch, gguf, tokenizers, sentencepiece, onnx, onnxruntime, transformers, jinja2 or openai is not importable in .venv" >&2; exit 1; }
.venv-ort/bin/python -c "import onnxruntime, onnx, numpy" || { echo "setup: onnxruntime, onnx or numpy is not importable in .venv-ort" >&2; exit 1; }

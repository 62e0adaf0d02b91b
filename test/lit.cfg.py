# -*- Python -*-
import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "TERN"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.tern_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "unit", "Inputs"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(("%scripts", os.path.join(config.tern_src_root, "scripts")))
config.substitutions.append(("%bench", os.path.join(config.tern_src_root, "bench")))
config.substitutions.append(("%inputs", os.path.join(config.tern_src_root, "test", "Inputs")))

# Host C programs that link what ternc emits: in a sanitizer build
# (TERN_SANITIZE) the runtime inside is instrumented, so they link the
# sanitizers' runtimes too.
cc = "clang-19 -fuse-ld=lld"
if config.tern_sanitize:
    config.available_features.add("sanitize")
    # (and UBSan's C++ part: the runtime is C++, the programs are C)
    cc += " -fsanitize=address,undefined -fsanitize-link-c++-runtime"
config.substitutions.append(("%cc", cc))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP",
                                     "ASAN_OPTIONS", "UBSAN_OPTIONS"])
llvm_config.use_default_substitutions()

tool_dirs = [config.tern_tools_dir, config.llvm_tools_dir]
llvm_config.add_tool_substitutions(["tern-opt", "ternc", "tern-tokenize"], tool_dirs)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.tern_tools_dir, append_path=True)

# The end-to-end tests need numpy; say how to get it rather than fail oddly.
if not os.path.exists(config.python_executable):
    lit_config.fatal(
        "test Python %s not found: run scripts/setup.sh (it makes .venv), "
        "then reconfigure" % config.python_executable)

# A current onnxruntime (its own venv, numpy 2) for opsets 22-23.
python_ort = os.path.join(config.tern_src_root, ".venv-ort", "bin", "python")
if not os.path.exists(python_ort):
    lit_config.fatal("%s not found: run scripts/setup.sh (it makes .venv-ort)"
                     % python_ort)
# Before %python, which is a prefix of it.
config.substitutions.insert(0, ("%python_ort", python_ort))

# Kernel variants run only where the host CPU has their instructions; tests
# for the others report UNSUPPORTED (the host lacks the feature).
try:
    with open("/proc/cpuinfo") as f:
        flags = next((l.split(":", 1)[1].split() for l in f if l.startswith("flags")), [])
except OSError:
    flags = []
if "avx2" in flags:
    config.available_features.add("host-avx2")
if {"avx2", "avx_vnni"} <= set(flags):
    config.available_features.add("host-avxvnni")
if {"avx512f", "avx512bw", "avx512_vnni"} <= set(flags):
    config.available_features.add("host-avx512vnni")
if {"avx512f", "avx512bw", "avx512_vnni", "amx_tile", "amx_int8", "amx_bf16"} <= set(flags):
    config.available_features.add("host-amx")

# Linux lends transparent huge pages to memory that asks (the runtime copies
# large weight images into them).
try:
    with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
        thp = f.read()
except OSError:
    thp = ""
if "[always]" in thp or "[madvise]" in thp:
    config.available_features.add("thp")

# AArch64 executables run under qemu-user where the cross toolchain and the
# AArch64 runtime are there (scripts/setup.sh installs them).
import shutil
if shutil.which("qemu-aarch64-static") and os.path.exists(
        os.path.join(config.tern_obj_root, "lib", "libTernRuntime-aarch64.a")):
    config.available_features.add("qemu-aarch64")

# The CUDA toolkit's ptxas checks the PTX Tern writes where it is installed
# (not needed to build or run Tern); tests that need it report UNSUPPORTED
# otherwise.
ptxas = shutil.which("ptxas") or ("/usr/local/cuda/bin/ptxas"
                                  if os.path.exists("/usr/local/cuda/bin/ptxas") else None)
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))

# A CUDA device (nvidia-smi lists one): the GPU end-to-end tests run;
# without one they report UNSUPPORTED.
import subprocess
if shutil.which("nvidia-smi"):
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True,
                                text=True, timeout=30)
        if listed.returncode == 0 and "GPU" in listed.stdout:
            config.available_features.add("cuda-device")
    except Exception:
        pass
# The stand-in libcuda.so.1 of the unit tests (cuInit finds no device).
# %fake_cuda_gpu first: a substitution must not be a prefix of one after it.
config.substitutions.append(
    ("%fake_cuda_gpu", os.path.join(config.tern_obj_root, "test", "unit",
                                    "libTernFakeCudaGpu.so")))
config.substitutions.append(
    ("%fake_cuda", os.path.join(config.tern_obj_root, "test", "unit",
                                "libTernFakeCuda.so")))

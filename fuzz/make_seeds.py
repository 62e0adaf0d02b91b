#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (fuzz/corpus/NAME/) and records the
versions of what wrote them (fuzz/corpus/VERSIONS.txt).

usage: make_seeds.py [OUT_DIR]   (default: fuzz/corpus beside this script)

Every seed is small and valid (Tern reads it), so that fuzzing starts from
deep inside each format: tiny checkpoints from scripts/gen_checkpoint.py
(single and sharded, BitNet and Llama layouts), GGUF files from
test/e2e/Inputs/hf_to_gguf.py (I2_S, TQ1_0, TQ2_0, Q8_0 and Q6_K tables,
tokenizers), ONNX files from test/Frontend/Inputs/make_onnx.py, tokenizers
trained by Hugging Face `tokenizers`, .npy files from numpy, command lines
and server request bodies. Run it from the project's .venv.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import tokenizers
from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SEP = b"--tern-next-file--"  # fuzz/FuzzInput.h
TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Ternary weights: -1, 0 and +1; 1.58 bits each.",
    "Hello, world! How are you today? I'm fine, thanks.",
    "def main():\n    return 42  # code, too\n",
    "Zürich, naïve café, 東京, 🙂 and tabs\tand  spaces.",
]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(out, name, data):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def run(*args):
    subprocess.run([sys.executable, *args], check=True,
                   stdout=subprocess.DEVNULL)


def byte_level_tokenizer(split):
    tok = tokenizers.Tokenizer(models.BPE())
    if split:  # LLaMA-3: a Split regex, then ByteLevel without its own
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(tokenizers.Regex(
                r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|"
                r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"),
                behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    else:  # GPT-2
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]
    tok.train_from_iterator(TEXTS * 4, trainers.BpeTrainer(
        vocab_size=300, special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok


def spm_tokenizer():
    tok = tokenizers.Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"),
                                           normalizers.Replace(" ", "\u2581")])
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "),
                                     decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    specials = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    tok.train_from_iterator(TEXTS * 4, trainers.BpeTrainer(
        vocab_size=320, special_tokens=specials))
    data = json.loads(tok.to_str())
    # Byte tokens are vocabulary entries in LLaMA-2's file, not added ones.
    data["added_tokens"] = [t for t in data["added_tokens"]
                            if not t["content"].startswith("<0x")]
    return json.dumps(data).encode()


def tokenizer_configs():
    chat = os.path.join(ROOT, "test", "e2e", "Inputs", "chat")
    return {
        "bitnet": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
                   "add_bos_token": True,
                   "chat_template": read(os.path.join(chat, "bitnet.jinja")).decode()},
        "llama3": {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>",
                   "chat_template": read(os.path.join(chat, "llama3.jinja")).decode()},
        "falcon3": {"chat_template": read(os.path.join(chat, "falcon3.jinja")).decode()},
        "spm": {"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": True},
    }


def checkpoint_seeds(tmp, out, tok_json, tok_config):
    layouts = [("bitnet", []), ("llama", ["--layout", "llama", "--act", "silu"]),
               ("1bitllm", ["--layout", "1bitllm", "--hidden", "32",
                            "--intermediate", "64"]),
               ("f32", ["--layout", "2b4t-bf16", "--dtype", "F32",
                        "--hidden", "32", "--intermediate", "64"]),
               ("untied", ["--untied"])]
    ckpts = {}
    for name, extra in layouts:
        d = os.path.join(tmp, "ck-" + name)
        run(os.path.join(ROOT, "scripts", "gen_checkpoint.py"), "-o", d,
            "--layers", "1", "--vocab", "300", *extra)
        write(out, name,
              read(os.path.join(d, "config.json")) + SEP +
              read(os.path.join(d, "model.safetensors")))
        ckpts[name] = d
    d = os.path.join(tmp, "ck-sharded")
    run(os.path.join(ROOT, "scripts", "gen_checkpoint.py"), "-o", d,
        "--layers", "1", "--vocab", "300", "--shards", "2")
    write(out, "sharded", SEP.join(read(os.path.join(d, f)) for f in [
        "config.json", "model.safetensors.index.json",
        "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]))
    # The tokenizer beside the BitNet checkpoint, for the GGUF seeds.
    with open(os.path.join(ckpts["bitnet"], "tokenizer.json"), "wb") as f:
        f.write(tok_json)
    with open(os.path.join(ckpts["bitnet"], "tokenizer_config.json"), "w") as f:
        json.dump(tok_config, f)
    return ckpts


def gguf_seeds(tmp, out, ckpts):
    convert = os.path.join(ROOT, "test", "e2e", "Inputs", "hf_to_gguf.py")
    cases = [("i2_s", "bitnet", ["--type", "i2_s"]),
             ("i2_s_arm", "bitnet", ["--type", "i2_s_arm", "--no-pre"]),
             ("tq1_0", "bitnet", ["--type", "tq1_0", "--embed", "q5_1"]),
             ("tq2_0", "bitnet", ["--type", "tq2_0", "--embed", "q8_0"]),
             ("q8_0", "bitnet", ["--type", "i2_s", "--fallback", "q8_0",
                                 "--scalar-scales"]),
             ("llama-tq2_0", "llama", ["--type", "tq2_0", "--arch", "llama"]),
             ("bf16", "bitnet", ["--type", "bf16", "--embed", "q4_0"])]
    for name, ck, extra in cases:
        path = os.path.join(tmp, name + ".gguf")
        run(convert, ckpts[ck], path, *extra)
        write(out, name, read(path))
    path = os.path.join(tmp, "tokenizer.gguf")
    run(convert, ckpts["bitnet"], path, "--tokenizer-only")
    write(out, "tokenizer-only", read(path))


def onnx_seeds(tmp, out):
    d = os.path.join(tmp, "onnx")
    run(os.path.join(ROOT, "test", "Frontend", "Inputs", "make_onnx.py"), d)
    for name in sorted(os.listdir(d)):
        if name.endswith(".onnx"):
            write(out, name[:-5], read(os.path.join(d, name)))
    ext = os.path.join(d, "ok", "external.onnx")
    model = onnx.load(ext, load_external_data=False)
    for e in model.graph.initializer[0].external_data:
        if e.key == "location":
            e.value = "d0"  # fuzz/onnx.cpp's name for the first data file
    write(out, "external", model.SerializeToString() + SEP +
          read(os.path.join(d, "ok", "weights.bin")))
    # A small language model as PyTorch's exporter writes it (the matcher).
    export = os.path.join(ROOT, "test", "e2e", "Inputs", "exports",
                          "hf-bitnet-dynamo23.onnx")
    write(out, "hf-bitnet-dynamo23", read(export))


def tokenizer_seeds(out, toks, configs):
    pairs = [("bytelevel-bitnet", "bytelevel", "bitnet"),
             ("llama3", "llama3", "llama3"),
             ("falcon3", "llama3", "falcon3"),
             ("spm", "spm", "spm"),
             ("bytelevel-noconfig", "bytelevel", None)]
    for i, (name, tok, config) in enumerate(pairs):
        text = (TEXTS[i % len(TEXTS)] + " <|eot_id|><s> \xff\xfe").encode(
            "utf-8", "surrogateescape")
        parts = [toks[tok], json.dumps(configs[config]).encode()
                 if config else b"{}", text]
        write(out, name, SEP.join(parts))


def npy_seeds(tmp, out):
    for name, array in [("f4-2d", np.arange(6, dtype=np.float32).reshape(2, 3)),
                        ("f4-scalar", np.float32(1.5)),
                        ("f4-3d", np.zeros((2, 1, 3), np.float32)),
                        ("f8", np.arange(3, dtype=np.float64)),
                        ("fortran", np.asfortranarray(np.ones((2, 2), np.float32)))]:
        path = os.path.join(tmp, name + ".npy")
        np.save(path, array)
        write(out, name, read(path))


def option_seeds(out):
    for name, args in [
            ("prompt", ["-p", "Hello", "-n", "16", "--temp", "0.7", "-t", "2"]),
            ("greedy", ["--greedy", "--seed", "7", "--top-k", "40",
                        "--top-p", "0.9", "--min-p", "0.05"]),
            ("chat", ["--chat", "--system", "Be brief.", "-c", "512"]),
            ("serve", ["--serve", "--host", "127.0.0.1", "--port", "8080",
                       "--parallel", "4", "--batch-size", "64",
                       "--prefill-chunk", "32", "--kv-type", "f16",
                       "--timeout", "5"]),
            ("bench", ["--bench", "--bench-prompt", "128", "--bench-gen", "32"]),
            ("graph", ["--input", "x=a.npy", "--output", "y=b.npy", "-q"])]:
        write(out, name, b"\0".join(a.encode() for a in args))


def request_seeds(out):
    chat = {"messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": "Hi there"}],
            "max_tokens": 8, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    completion = {"prompt": "Once upon a time", "max_tokens": 16,
                  "temperature": 0.8, "top_p": 0.9, "top_k": 40, "min_p": 0.05,
                  "repeat_penalty": 1.1, "seed": 42, "stop": ["\n", "."]}
    parts = {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
        "max_completion_tokens": 4, "n": 1, "response_format": {"type": "text"}}
    for name, chat_flag, body in [
            ("chat", 1, chat), ("completion", 0, completion),
            ("chat-parts", 1, parts),
            ("ids", 0, {"prompt": [1, 5, 9], "ignore_eos": True, "logprobs": None}),
            ("refused", 0, {"prompt": "x", "n": 2, "logprobs": 3, "tools": [1]})]:
        write(out, name, bytes([chat_flag]) + json.dumps(body).encode())


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    shutil.rmtree(out, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        toks = {"bytelevel": byte_level_tokenizer(False).to_str().encode(),
                "llama3": byte_level_tokenizer(True).to_str().encode(),
                "spm": spm_tokenizer()}
        configs = tokenizer_configs()
        ckpts = checkpoint_seeds(tmp, os.path.join(out, "checkpoint"),
                                 toks["llama3"], configs["bitnet"])
        gguf_seeds(tmp, os.path.join(out, "gguf"), ckpts)
        onnx_seeds(tmp, os.path.join(out, "onnx"))
        tokenizer_seeds(os.path.join(out, "tokenizer"), toks, configs)
        npy_seeds(tmp, os.path.join(out, "npy"))
        option_seeds(os.path.join(out, "options"))
        request_seeds(os.path.join(out, "requests"))
    with open(os.path.join(out, "VERSIONS.txt"), "w") as f:
        f.write(f"python {sys.version.split()[0]}, numpy {np.__version__}, "
                f"onnx {onnx.__version__}, tokenizers {tokenizers.__version__}\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes broken variants of a good checkpoint, one directory per case.

usage: bad_checkpoints.py GOOD_DIR GOOD_SHARDED_DIR OUT_DIR
Each case changes one thing (config key, header field, tensor) so that the
frontend's error for exactly that problem can be checked.
"""
import json
import os
import shutil
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    tensors = {}
    for name, e in header.items():
        if name != "__metadata__":
            b, end = e["data_offsets"]
            tensors[name] = (e["dtype"], e["shape"], body[b:end])
    return tensors


def write(path, tensors):
    """Writes tensors {name: (dtype, shape, bytes)} consistently."""
    header, offset = {}, 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    write_raw(path, header, b"".join(t[2] for t in tensors.values()))


def write_raw(path, header, body):
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + body)


def raw(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def main():
    good, sharded, out = sys.argv[1:4]
    cases = {}

    def case(name, source=good):
        d = os.path.join(out, name)
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(source, d)
        cases[name] = d
        return d

    def edit_config(name, change):
        d = case(name)
        path = os.path.join(d, "config.json")
        with open(path) as f:
            cfg = json.load(f)
        change(cfg)
        with open(path, "w") as f:
            json.dump(cfg, f)

    def edit_tensors(name, change):
        d = case(name)
        path = os.path.join(d, "model.safetensors")
        tensors = read(path)
        change(tensors)
        write(path, tensors)

    def edit_header(name, change):
        d = case(name)
        path = os.path.join(d, "model.safetensors")
        header, body = raw(path)
        body = change(header, body) or body
        write_raw(path, header, body)

    # config.json
    os.remove(os.path.join(case("no-config"), "config.json"))
    with open(os.path.join(case("config-json"), "config.json"), "w") as f:
        f.write('{"hidden_size": 64,\n "vocab_size": }\n')
    edit_config("missing-key", lambda c: c.pop("hidden_size"))
    edit_config("bad-type", lambda c: c.update(hidden_size="64"))
    edit_config("heads", lambda c: c.update(num_attention_heads=5))
    edit_config("kv-heads", lambda c: c.update(num_key_value_heads=3))
    edit_config("arch", lambda c: c.update(architectures=["MistralForCausalLM"]))
    # A plain float Llama: the class name alone is not a BitNet model.
    edit_config("float-llama", lambda c: c.update(
        architectures=["LlamaForCausalLM"]) or c.pop("quantization_config"))
    edit_config("quant-method", lambda c: c["quantization_config"].update(
        quant_method="gptq"))
    edit_config("bias", lambda c: c.update(attention_bias=True))
    edit_config("act", lambda c: c.update(hidden_act="gelu"))
    edit_config("rope-scaling", lambda c: c.update(rope_scaling={"type": "linear", "factor": 2.0}))
    edit_config("quant-mode", lambda c: c["quantization_config"].update(
        quantization_mode="qat"))
    edit_config("scaling-type", lambda c: c.update(rope_scaling=[2.0]))
    edit_config("llama3-order", lambda c: c.update(rope_scaling={
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 4.0,
        "high_freq_factor": 1.0, "original_max_position_embeddings": 64}))
    edit_config("llama3-scaling", lambda c: c.update(rope_scaling={
        "rope_type": "llama3", "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 64}))
    edit_config("eos", lambda c: c.update(eos_token_id=[2, "x"]))
    edit_config("linear-class", lambda c: c["quantization_config"].update(linear_class="fancy"))
    edit_config("vocab", lambda c: c.update(vocab_size=300))

    # The safetensors file itself.
    os.remove(os.path.join(case("no-weights"), "model.safetensors"))
    with open(os.path.join(case("short-file"), "model.safetensors"), "wb") as f:
        f.write(b"\x01\x02\x03")
    with open(os.path.join(case("header-length"), "model.safetensors"), "r+b") as f:
        f.write(struct.pack("<Q", 1 << 40))
    with open(os.path.join(case("header-json"), "model.safetensors"), "r+b") as f:
        f.seek(8)
        f.write(b"[not json")
    edit_header("dtype", lambda h, b: h["model.norm.weight"].update(dtype="F64"))
    edit_header("truncated", lambda h, b: b[:-100])
    edit_header("size-lie", lambda h, b: h["model.norm.weight"].update(shape=[65]))
    # 2^64 elements, whose byte count wraps to 0 if multiplied blindly.
    def huge(h, b):
        h["model.norm.weight"].update(shape=[1 << 32, 1 << 32], data_offsets=[0, 0])
    edit_header("huge-shape", huge)
    # A header over safetensors' 100 MB limit (the file is that long too).
    with open(os.path.join(case("huge-header"), "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", 100_000_001))
        f.truncate(8 + 100_000_001)  # sparse: no 100 MB written
    edit_config("big-vocab", lambda c: c.update(vocab_size=1 << 25))
    edit_config("big-context", lambda c: c.update(max_position_embeddings=1 << 25))
    def overlap(h, b):
        e = h["model.layers.0.input_layernorm.weight"]
        size = e["data_offsets"][1] - e["data_offsets"][0]
        start = h["model.norm.weight"]["data_offsets"][0]
        h["model.layers.1.input_layernorm.weight"]["data_offsets"] = [start, start + size]
    edit_header("overlap", overlap)
    edit_header("entry", lambda h, b: h["model.norm.weight"].pop("shape") and None)

    # Tensors against the config.
    edit_tensors("missing-tensor", lambda t: t.pop("model.layers.1.mlp.down_proj.weight"))
    edit_tensors("extra-tensor", lambda t: t.update(
        {"model.layers.0.self_attn.rotary_emb.inv_freq": ("F32", [8], bytes(32))}))
    def wrong_shape(t):
        dtype, shape, data = t["model.layers.0.self_attn.q_proj.weight"]
        t["model.layers.0.self_attn.q_proj.weight"] = (dtype, [shape[0], shape[1] // 2],
                                                       data[:len(data) // 2])
    edit_tensors("wrong-shape", wrong_shape)
    def wrong_dtype(t):
        dtype, shape, data = t["model.norm.weight"]
        t["model.norm.weight"] = ("I8", [len(data)], data)
    edit_tensors("wrong-dtype", wrong_dtype)
    edit_tensors("missing-scale", lambda t: t.pop("model.layers.0.mlp.up_proj.weight_scale"))
    edit_tensors("zero-scale", lambda t: t.update(
        {"model.layers.0.mlp.up_proj.weight_scale": ("BF16", [1], bytes(2))}))
    edit_tensors("latent-shape", lambda t: t.update(
        {"model.layers.0.mlp.up_proj.weight": ("BF16", [4, 4], bytes(32))}) or
        t.pop("model.layers.0.mlp.up_proj.weight_scale"))
    # Float weights beside a weight_scale are AutoBitLinear's unpacked
    # ternary values: 0.5 is not one.
    def not_ternary(t):
        half = bytes([0x00, 0x3f])  # bf16 0.5
        t["model.layers.0.mlp.up_proj.weight"] = ("BF16", [128, 64], half * (128 * 64))
    edit_tensors("not-ternary", not_ternary)

    # Sharded checkpoints and their index.
    d = case("missing-shard", sharded)
    os.remove(os.path.join(d, "model-00002-of-00002.safetensors"))
    d = case("index-lies", sharded)
    index = os.path.join(d, "model.safetensors.index.json")
    with open(index) as f:
        idx = json.load(f)
    idx["weight_map"]["model.norm.weight"] = "model-00001-of-00002.safetensors"
    with open(index, "w") as f:
        json.dump(idx, f)
    d = case("duplicate", sharded)
    first = os.path.join(d, "model-00001-of-00002.safetensors")
    second = os.path.join(d, "model-00002-of-00002.safetensors")
    t1, t2 = read(first), read(second)
    t2["model.embed_tokens.weight"] = t1["model.embed_tokens.weight"]
    write(second, t2)


if __name__ == "__main__":
    sys.exit(main())

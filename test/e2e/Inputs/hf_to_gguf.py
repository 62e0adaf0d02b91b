#!/usr/bin/env python3
"""Writes a synthetic Hugging Face BitNet checkpoint as a GGUF file.

The tests' own GGUF writer (SPEC 7): metadata as bitnet.cpp / llama.cpp
write it, ternary weights encoded from the checkpoint's trits and scales in
one of the formats Tern reads, the embedding in F16 or F32. Encoders follow
SPEC 7.5-7.7 independently of Tern's decoders.

  hf_to_gguf.py CKPT OUT.gguf [--type i2_s|tq2_0|tq1_0|f32] [--arch ...]

--arch llama writes a Llama-architecture BitNet checkpoint (gen_checkpoint
--layout llama) as bitnet.cpp's and llama.cpp's converters do: no sub-norms,
q/k rows permuted for ggml's interleaved RoPE (their `permute`), an untied
output.weight, attention.key_length when head_dim is not hidden / heads.
--fallback TYPE stores layer 0's BitLinears in a block format (Q4_0, ...),
quantized by PyPI gguf, as llama-quantize does where TQ1_0/TQ2_0 blocks do
not fit; --scalar-scales adds ik_llama.cpp's 0-dimension `.scale` tensors
(value 1) to a `bitnet` file; --no-pre leaves tokenizer.ggml.pre out, as
bitnet.cpp's 2B4T conversion does.
  hf_to_gguf.py --corrupt CASE OUT.gguf   malformed files for error tests
  hf_to_gguf.py CKPT OUT.gguf --drop NAME  a file missing one tensor
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts"))
from gen_checkpoint import to_bf16  # noqa: E402
from reference_torch import Model, read_checkpoint  # noqa: E402

TYPES = {"f32": 0, "f16": 1, "bf16": 30, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7,
         "q8_0": 8, "q4_k": 12, "q5_k": 13, "q6_k": 14, "tq1_0": 34,
         "tq2_0": 35, "i2_s": 36, "i2_s_arm": 36}


def llama3_rope_factors(base, dim, sc):
    """rope_freqs.weight as llama.cpp's convert_hf_to_gguf
    (LlamaModel.generate_extra_tensors) computes it: one divisor per
    frequency."""
    import math
    import torch
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    factor, low, high = sc["factor"], sc["low_freq_factor"], sc["high_freq_factor"]
    old = sc["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    out = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            out.append(1)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return torch.tensor(out, dtype=torch.float32).numpy()


def permute(w, n_head):
    """llama.cpp's convert_hf_to_gguf LlamaModel.permute of q/k rows."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def write_gguf(path, kv, tensors, alignment=32, version=3):
    """kv: [(key, 'u32'|'f32'|'bool'|'str'|'str[]'|'f32[]'|'i32[]', value)];
    tensors: [(name, ggml dims, type id, bytes)]."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kv)))
    for key, kind, value in kv:
        out += gguf_string(key)
        if kind == "u32":
            out += struct.pack("<II", 4, value)
        elif kind == "f32":
            out += struct.pack("<If", 6, value)
        elif kind == "bool":
            out += struct.pack("<IB", 7, int(value))
        elif kind == "str":
            out += struct.pack("<I", 8) + gguf_string(value)
        elif kind == "str[]":
            out += struct.pack("<IIQ", 9, 8, len(value))
            out += b"".join(gguf_string(v) for v in value)
        elif kind == "f32[]":
            out += struct.pack("<IIQ", 9, 6, len(value))
            out += struct.pack("<%df" % len(value), *value)
        elif kind == "i32[]":
            out += struct.pack("<IIQ", 9, 5, len(value))
            out += struct.pack("<%di" % len(value), *value)
        else:
            raise ValueError(kind)
    offset = 0
    for name, dims, type_id, data in tensors:
        out += gguf_string(name) + struct.pack("<I", len(dims))
        out += b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", type_id, offset)
        offset += (len(data) + alignment - 1) // alignment * alignment
    out += bytes(-len(out) % alignment)
    for _, _, _, data in tensors:
        out += data + bytes(-len(data) % alignment)
    with open(path, "wb") as f:
        f.write(out)


def encode_i2_s(trits, scale, lanes=32):
    """lanes 32: the x86 layout (128-element blocks); 16: bitnet.cpp's ARM
    layout (64-element blocks)."""
    c = (trits.reshape(-1) + 1).astype(np.uint8).reshape(-1, 4, lanes)
    packed = (c[:, 0] << 6) | (c[:, 1] << 4) | (c[:, 2] << 2) | c[:, 3]
    tail = struct.pack("<f", scale) + bytes(28)
    return packed.tobytes() + tail


def encode_tq2_0(trits, scale):
    out = bytearray()
    d = np.float16(scale).tobytes()
    for blk in (trits.reshape(-1, 256) + 1).astype(np.uint8):
        c = blk.reshape(2, 4, 32)  # [c][n][m]: element 128c + 32n + m
        qs = (c[:, 0] | (c[:, 1] << 2) | (c[:, 2] << 4) | (c[:, 3] << 6))
        out += qs.reshape(-1).tobytes() + d
    return bytes(out)


def encode_tq1_0(trits, scale):
    out = bytearray()
    d = np.float16(scale).tobytes()

    def pack(groups):  # groups [n][m], trit n most significant
        q = np.zeros(groups.shape[1], np.int64)
        for n in range(5):
            q = q * 3 + (groups[n] if n < len(groups) else 0)
        return ((q * 256 + 242) // 243).astype(np.uint8)

    for blk in (trits.reshape(-1, 256) + 1).astype(np.int64):
        qs0 = pack(blk[:160].reshape(5, 32))
        qs1 = pack(blk[160:240].reshape(5, 16))
        qh = pack(blk[240:256].reshape(4, 4))
        out += qs0.tobytes() + qs1.tobytes() + qh.tobytes() + d
    return bytes(out)


def tokenizer_kv(ckpt):
    """llama.cpp's tokenizer.ggml.* keys for the tokenizer beside a
    checkpoint: gpt2 from tokenizer.json, llama from tokenizer.model."""
    hf = os.path.join(ckpt, "tokenizer.json")
    sp_path = os.path.join(ckpt, "tokenizer.model")
    if os.path.exists(hf):
        with open(hf) as f:
            spec = json.load(f)
        vocab = dict(spec["model"]["vocab"])
        types = {}
        for t in spec["added_tokens"]:
            vocab[t["content"]] = t["id"]
            types[t["id"]] = 3 if t["special"] else 4
        tokens = [None] * (max(vocab.values()) + 1)
        for text, i in vocab.items():
            tokens[i] = text
        merges = [m if isinstance(m, str) else " ".join(m)
                  for m in spec["model"]["merges"]]
        kv = [("tokenizer.ggml.model", "str", "gpt2"),
              ("tokenizer.ggml.pre", "str", "llama-bpe"),
              ("tokenizer.ggml.tokens", "str[]", tokens),
              ("tokenizer.ggml.token_type", "i32[]",
               [types.get(i, 1) for i in range(len(tokens))]),
              ("tokenizer.ggml.merges", "str[]", merges),
              ("tokenizer.ggml.add_bos_token", "bool", True)]
        config = os.path.join(ckpt, "tokenizer_config.json")
        if os.path.exists(config):
            with open(config) as f:
                c = json.load(f)
            kv += [("tokenizer.ggml.bos_token_id", "u32", vocab[c["bos_token"]]),
                   ("tokenizer.chat_template", "str", c["chat_template"])]
        return kv
    if os.path.exists(sp_path):
        import sentencepiece as spm
        sp = spm.SentencePieceProcessor(model_file=sp_path)
        n = sp.get_piece_size()
        types = [2 if sp.is_unknown(i) else 3 if sp.is_control(i) else
                 5 if sp.is_unused(i) else 6 if sp.is_byte(i) else 1
                 for i in range(n)]
        return [("tokenizer.ggml.model", "str", "llama"),
                ("tokenizer.ggml.tokens", "str[]",
                 [sp.id_to_piece(i) for i in range(n)]),
                ("tokenizer.ggml.scores", "f32[]",
                 [sp.get_score(i) for i in range(n)]),
                ("tokenizer.ggml.token_type", "i32[]", types),
                ("tokenizer.ggml.bos_token_id", "u32", sp.bos_id()),
                ("tokenizer.ggml.unknown_token_id", "u32", sp.unk_id()),
                ("tokenizer.ggml.add_bos_token", "bool", True)]
    return []


def convert(a):
    if a.tokenizer_only:
        kv = [x for x in tokenizer_kv(a.ckpt)
              if not (a.no_pre and x[0] == "tokenizer.ggml.pre")]
        if a.pre:
            kv = [(k, t, a.pre if k == "tokenizer.ggml.pre" else v)
                  for k, t, v in kv]
        write_gguf(a.out, [("general.architecture", "str", a.arch)] + kv, [])
        return
    model = Model(a.ckpt)
    c = model.c
    arch = a.arch
    kv = [("general.architecture", "str", arch),
          ("general.name", "str", "tern-test"),
          (f"{arch}.vocab_size", "u32", model.embed.shape[0]),
          (f"{arch}.context_length", "u32", c["max_position_embeddings"]),
          (f"{arch}.embedding_length", "u32", model.D),
          (f"{arch}.block_count", "u32", model.L),
          (f"{arch}.feed_forward_length", "u32", c["intermediate_size"]),
          (f"{arch}.rope.dimension_count", "u32", model.hd),
          (f"{arch}.attention.head_count", "u32", model.H),
          (f"{arch}.attention.head_count_kv", "u32", model.Hkv),
          (f"{arch}.attention.layer_norm_rms_epsilon", "f32", model.eps),
          (f"{arch}.rope.freq_base", "f32", model.theta),
          ("tokenizer.ggml.eos_token_id", "u32", c["eos_token_id"])]
    if arch == "llama" and model.hd * model.H != model.D:
        kv += [(f"{arch}.attention.key_length", "u32", model.hd),
               (f"{arch}.attention.value_length", "u32", model.hd)]
    kv += [x for x in tokenizer_kv(a.ckpt)
           if not (a.no_pre and x[0] == "tokenizer.ggml.pre")]
    names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q",
             "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output",
             "self_attn.attn_sub_norm": "attn_sub_norm",
             "post_attention_layernorm": "ffn_norm",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down", "mlp.ffn_sub_norm": "ffn_sub_norm"}
    table, data = embed_table(model.embed.numpy().astype(np.float32), a.embed)
    tensors = [("token_embd.weight", [model.D, model.embed.shape[0]],
                TYPES[a.embed], data)]
    if a.emit_hf:  # the same model as a checkpoint with this table in F32
        write_hf(a.ckpt, a.emit_hf, table)
    for layer in range(model.L):
        for hf, gg in names.items():
            if f"model.layers.{layer}.{hf}.weight" not in model.t:
                continue  # the Llama layout has no sub-norms
            v = model.t[f"model.layers.{layer}.{hf}.weight"]
            name = f"blk.{layer}.{gg}.weight"
            if not isinstance(v, tuple):
                tensors.append((name, [v.shape[0]], 0,
                                v.numpy().astype(np.float32).tobytes()))
                continue
            trits, scale = v[0].numpy().astype(np.int8), float(v[1])
            n, k = trits.shape
            if arch == "llama" and gg in ("attn_q", "attn_k"):
                trits = permute(trits, model.H if gg == "attn_q" else model.Hkv)
            if a.fallback and layer == 0:
                import gguf
                from gguf import quants
                w = trits.astype(np.float32) * np.float32(scale)
                qtype = gguf.GGMLQuantizationType[a.fallback.upper()]
                tensors.append((name, [k, n], TYPES[a.fallback],
                                quants.quantize(w, qtype).tobytes()))
                continue
            if a.scalar_scales:
                tensors.append((name[:-len("weight")] + "scale", [], 0,
                                np.float32(1).tobytes()))
            if a.type in ("f32", "f16", "bf16"):
                # T * scale, as llama.cpp's convert_hf_to_gguf writes it.
                w = trits.astype(np.float32) * np.float32(scale)
                if a.spoil and name == "blk.0.attn_q.weight":
                    flat = w.reshape(-1)
                    flat[np.nonzero(flat)[0][0]] *= 0.5  # not a multiple of m
                data = (w.astype(np.float16).tobytes() if a.type == "f16" else
                        to_bf16(w).tobytes() if a.type == "bf16" else w.tobytes())
            else:
                data = {"i2_s": encode_i2_s, "tq2_0": encode_tq2_0,
                        "tq1_0": encode_tq1_0,
                        "i2_s_arm": lambda t, s: encode_i2_s(t, s, 16)
                        }[a.type](trits, scale)
                if a.spoil and name == "blk.0.attn_q.weight":
                    data = bytearray(data)
                    if a.type == "i2_s":
                        data[0] = 0xFF  # code 3 in every group
                    else:  # a second block with another d
                        block = 66 if a.type == "tq2_0" else 54
                        data[2 * block - 2:2 * block] = np.float16(scale * 2).tobytes()
                    data = bytes(data)
            tensors.append((name, [k, n], TYPES[a.type], data))
    tensors.append(("output_norm.weight", [model.D], 0,
                    model.t["model.norm.weight"].numpy().astype(np.float32).tobytes()))
    sc = model.scaling
    if arch == "llama" and sc and sc.get("rope_type", sc.get("type")) == "llama3":
        tensors.append(("rope_freqs.weight", [model.hd // 2], 0,
                        llama3_rope_factors(model.theta, model.hd, sc).tobytes()))
    if "lm_head.weight" in model.t:
        head = model.t["lm_head.weight"].numpy().astype(np.float32)
        tensors.append(("output.weight", [model.D, head.shape[0]], 0,
                        head.tobytes()))
    tensors = [t for t in tensors if t[0] != a.drop]
    write_gguf(a.out, kv, tensors)


def embed_table(table, kind):
    """(the table as Tern should read it, the GGUF bytes). Q4_0, Q4_1,
    Q5_0, Q5_1 and Q8_0 come from PyPI gguf's quantizers; the K-quants
    (gguf has no quantizer for them) are random blocks. All are read back
    with gguf's dequantizers."""
    import gguf
    from gguf import quants
    if kind in ("f16", "f32"):
        dtype = np.float16 if kind == "f16" else np.float32
        return table.astype(dtype).astype(np.float32), table.astype(dtype).tobytes()
    qtype = gguf.GGMLQuantizationType[kind.upper()]
    rng = np.random.default_rng(3)
    n = table.size // 256
    if kind in ("q4_0", "q4_1", "q5_0", "q5_1", "q8_0"):
        blocks = quants.quantize(table, qtype)
    elif kind == "q6_k":
        blocks = np.concatenate([
            rng.integers(0, 256, (n, 192), dtype=np.uint8),  # ql, qh
            rng.integers(-20, 21, (n, 16)).astype(np.int8).view(np.uint8),
            np.full((n, 1), 2e-4, np.float16).view(np.uint8)], axis=1)
        blocks = blocks.reshape(table.shape[0], -1)
    else:  # q4_k, q5_k: f16 d and dmin, 12 bytes of 6-bit scales and mins, q
        rest = 128 if kind == "q4_k" else 160  # (qh and) qs
        blocks = np.concatenate([
            np.full((n, 1), 3e-3, np.float16).view(np.uint8),
            np.full((n, 1), 1e-2, np.float16).view(np.uint8),
            rng.integers(0, 256, (n, 12 + rest), dtype=np.uint8)], axis=1)
        blocks = blocks.reshape(table.shape[0], -1)
    deq = quants.dequantize(blocks, qtype).reshape(table.shape)
    return deq.astype(np.float32), blocks.tobytes()


def write_hf(src, dst, table):
    """Copies checkpoint `src` to `dst` with every float tensor as F32 and
    the embedding replaced by `table`."""
    import json
    import shutil
    config, tensors = read_checkpoint(src)
    tensors["model.embed_tokens.weight"] = table
    os.makedirs(dst, exist_ok=True)
    shutil.copy(os.path.join(src, "config.json"), dst)
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.uint8): "U8",
                 np.dtype(np.int8): "I8"}.get(arr.dtype)
        if dtype is None:
            arr, dtype = arr.astype(np.float32), "F32"
        b = arr.tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(dst, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def corrupt(case, path):
    """Small malformed files, one defect each."""
    good_kv = [("general.architecture", "str", "bitnet-b1.58")]
    one = [("token_embd.weight", [8, 4], 0, bytes(128))]
    if case == "short":
        data = b"GGUF\x03\x00"
    elif case == "magic":
        data = b"GGML" + bytes(40)
    elif case == "version":
        data = b"GGUF" + struct.pack("<IQQ", 7, 0, 0)
    elif case == "counts":
        data = b"GGUF" + struct.pack("<IQQ", 3, 1 << 40, 0)
    elif case == "string":
        data = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 30) + b"x"
    elif case == "array":  # 2^27 u8 values claimed (Tern's limit: 2^26)
        data = (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gguf_string("k")
                + struct.pack("<IIQ", 9, 0, 1 << 27) + bytes(64))
    elif case == "kvtype":
        data = (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gguf_string("k")
                + struct.pack("<I", 99) + bytes(8))
    elif case in ("dims", "huge-tensor", "tensortype", "offset", "truncated", "alignment",
                  "duplicate", "nometa", "arch", "i2s-mainline", "iq2_bn",
                  "rope-freqs", "key-length"):
        tensors = list(one)
        kv = list(good_kv)
        if case == "dims":
            tensors = [("token_embd.weight", [1, 1, 1, 1, 1], 0, bytes(4))]
        elif case == "huge-tensor":  # 2^64 elements: 0 if multiplied blindly
            tensors = [("token_embd.weight", [1 << 32, 1 << 32, 1, 1], 0, bytes(4))]
        elif case == "tensortype":
            tensors = [("token_embd.weight", [8, 4], 77, bytes(128))]
        elif case == "duplicate":
            tensors = one + one
        elif case == "alignment":
            kv.append(("general.alignment", "u32", 24))
        elif case == "arch":
            kv = [("general.architecture", "str", "gpt2")]
        elif case in ("rope-freqs", "key-length"):  # a llama file's metadata
            kv = [("general.architecture", "str", "llama")] + [
                (f"llama.{k}", "u32", v) for k, v in (
                    ("embedding_length", 8), ("feed_forward_length", 16),
                    ("block_count", 1), ("attention.head_count", 2),
                    ("context_length", 32))] + [
                ("llama.attention.layer_norm_rms_epsilon", "f32", 1e-5)]
            if case == "key-length":
                kv += [("llama.attention.key_length", "u32", 8),
                       ("llama.attention.value_length", "u32", 4)]
            else:
                tensors = one + [("rope_freqs.weight", [3], 0, bytes(12))]
        elif case == "iq2_bn":  # ik_llama.cpp's BitNet type (id 135)
            tensors = [("blk.0.attn_q.weight", [128, 4], 135, bytes(160))]
        elif case == "i2s-mainline":
            # 288 bytes: the size of mainline's removed type 36
            # (IQ4_NL_4_4), not I2_S's 160.
            kv = [("general.architecture", "str", "bitnet")]
            tensors = [("blk.0.attn_q.weight", [128, 4], 36, bytes(288))]
        write_gguf(path, kv, tensors)
        with open(path, "rb") as f:
            data = bytearray(f.read())
        if case == "offset":  # the tensor's offset, the last 8 info bytes
            i = data.index(b"token_embd.weight") + len("token_embd.weight") + 4 + 16 + 4
            data[i:i + 8] = struct.pack("<Q", 4)
        elif case == "truncated":
            data = data[:-64]
    else:
        raise SystemExit(f"unknown case {case}")
    with open(path, "wb") as f:
        f.write(bytes(data))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ckpt", nargs="?")
    p.add_argument("out")
    p.add_argument("--type", default="i2_s",
                   choices=["i2_s", "i2_s_arm", "tq2_0", "tq1_0", "f32", "f16", "bf16"])
    p.add_argument("--arch", default="bitnet-b1.58")
    p.add_argument("--embed", default="f16",
                   choices=["f16", "f32", "q4_0", "q4_1", "q5_0", "q5_1",
                            "q8_0", "q4_k", "q5_k", "q6_k"])
    p.add_argument("--emit-hf", help="also write the model, with the table "
                   "as read back, as an F32 checkpoint here")
    p.add_argument("--tokenizer-only", action="store_true",
                   help="write only the tokenizer keys of the tokenizer in "
                   "CKPT (tokenizer.json or tokenizer.model)")
    p.add_argument("--corrupt")
    p.add_argument("--drop", help="leave this tensor out")
    p.add_argument("--spoil", action="store_true",
                   help="break blk.0.attn_q.weight's encoding (error tests)")
    p.add_argument("--fallback", choices=["q4_0", "q4_1", "q5_0", "q5_1", "q8_0"],
                   help="layer 0's BitLinears in this block format")
    p.add_argument("--scalar-scales", action="store_true",
                   help="0-dimension .scale tensors of 1.0 (ik_llama.cpp)")
    p.add_argument("--pre", help="tokenizer.ggml.pre's value (default "
                   "llama-bpe; falcon3 is what Falcon3's conversion writes)")
    p.add_argument("--no-pre", action="store_true",
                   help="no tokenizer.ggml.pre (bitnet.cpp's 2B4T file)")
    a = p.parse_args()
    if a.corrupt:
        corrupt(a.corrupt, a.out)
    else:
        convert(a)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Tern's x86 benchmark: prompt processing and generation on the 2B4T shape.

One command (bench/run.sh): writes the 2B4T-shape synthetic checkpoint once
(build/bench/), compiles it with ternc, then for 1 thread and for all
hardware threads measures the machine's read bandwidth with a small probe
(bench/bandwidth.c) and runs the executable:
  pp128  a 128-token prompt, prompt tokens/s
  tg128  128 generated tokens after a 1-token prompt, generation tokens/s
Each is the median of --reps runs (min and max shown). Bytes per generated
token are the executable's weight section (every weight, including the
tied embedding read by the LM head, is read once per token); the decode
roofline is bandwidth / bytes per token.

It also compiles the model with --lm-head=int8 (the opt-in int8 head) and
measures generation at all threads against the exact head.

The same model is also compiled with --weights=bf16 (every BitLinear a bf16
linear layer: same runtime, kernels and fusions otherwise) and measured at
all threads, for the ternary / float speed and size ratios (--no-float
skips it: the float executable is 4.8 GB and slow).

--peer NAME=LLAMA_BENCH:GGUF (repeatable) measures other engines in the same
run: for each thread count, every round runs Tern, then each peer's
llama-bench (one repetition, JSON output) on pp and tg, so all engines see
the same machine state; the table gives medians and Tern's ratio to each.
The GGUF must have the checkpoint's shape: bench/peer_gguf.py writes one
from it (I2_S, TQ1_0, TQ2_0; bitnet.cpp's I2_S files must not come
from a multi-threaded llama-quantize). Peers are built outside the
repository (README.md, Benchmark, says how). --int8-head adds Tern with
--lm-head=int8 to the same rounds, with its ratio to each peer. Each round
runs fresh copies of the executables and GGUFs (--no-fresh-copies: in
place): on VMs a file's page cache may sit in slower memory for every run.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, **kw)


def weight_bytes(exe):
    """The weights ternc appended to `exe`, from its trailer
    (include/tern/Runtime/Weights.h): magic, offset, size."""
    with open(exe, "rb") as f:
        f.seek(-24, os.SEEK_END)
        trailer = f.read(24)
    if trailer[:8] != b"TERNWTS1":
        raise SystemExit(f"{exe}: no weights appended (stripped?)")
    return struct.unpack("<QQ", trailer[8:])[1]


def rate(exe, args, which):
    err = run([exe] + args, capture_output=True).stderr
    m = re.search(which + r": (\d+) tokens in ([0-9.]+) s \(([0-9.]+) tokens/s\)", err)
    if not m:
        raise SystemExit(f"no {which} timing in:\n{err}")
    return float(m.group(3))


def summary(values):
    return statistics.median(values), min(values), max(values)


def tern_rate(exe, which, n, threads):
    """One run of Tern's executable: pp`n` (prompt) or tg`n` (generation)."""
    if which == "prompt":
        args = ["--tokens", ",".join(str(1000 + i) for i in range(n)), "-n", "1"]
    else:
        args = ["--tokens", "1000", "-n", str(n + 1)]
    return rate(exe, args + ["--greedy", "-t", str(threads)], which)


def measure(exe, threads, which, reps):
    """Median, min, max tokens/s of pp128 (prompt) or tg128 (generation)."""
    return summary([tern_rate(exe, which, 128, threads) for _ in range(reps)])


def peer_rate(spec, threads, which, tokens):
    """One llama-bench repetition of a peer: pp`tokens` or tg`tokens`."""
    bench, gguf = spec
    pp, tg = (tokens, 0) if which == "prompt" else (0, tokens)
    r = subprocess.run([bench, "-m", gguf, "-p", str(pp), "-n", str(tg), "-t",
                        str(threads), "-r", "1", "-o", "json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        tail = "\n".join(r.stderr.strip().splitlines()[-5:])
        raise SystemExit(f"{bench} failed on {gguf} (exit {r.returncode}):\n{tail}")
    out = r.stdout
    try:
        return float(json.loads(out)[0]["avg_ts"])
    except (ValueError, LookupError) as e:
        raise SystemExit(f"{bench}: no llama-bench JSON result ({e}):\n{out}")


def parse_peer(text):
    name, sep, rest = text.partition("=")
    bench, sep2, gguf = rest.partition(":")
    if not (sep and sep2 and name and bench and gguf):
        raise SystemExit(f"--peer {text}: expected NAME=LLAMA_BENCH:GGUF")
    for path in (bench, gguf):
        if not os.path.exists(path):
            raise SystemExit(f"--peer {name}: {path} does not exist")
    return name, (bench, gguf)


def fresh_copy(path):
    """A new copy of `path` beside it (mode kept), for one round."""
    copy = path + ".round"
    shutil.copy2(path, copy)
    return copy


def compare_peers(terns, peers, threads_list, prompt_lengths, reps,
                  fresh=True):
    """Tern's builds (name -> executable) and each peer, interleaved round by
    round. The ratio column is the first build's; each other build gets a
    line of its ratios to every peer."""
    first = next(iter(terns))
    print(f"\nside by side, median of {reps} interleaved rounds (min-max), "
          f"tokens/s; ratio = {first} / peer")
    tests = [("prompt", n) for n in prompt_lengths] + [("generation", 128)]
    for threads in threads_list:
        values = {(name, test): [] for name in list(terns) + list(peers)
                  for test in tests}
        for _ in range(reps):
            # Fresh copies of every file each round: on VMs, one file's page
            # cache can sit in slower host memory than another's, for every
            # run (a cp of the same executable decoded 1.5x faster), so a
            # round's files are copied together and the medians average it.
            copies = {}
            if fresh:
                for name, exe in terns.items():
                    copies[name] = fresh_copy(exe)
                for name, (bench, gguf) in peers.items():
                    copies[name] = fresh_copy(gguf)
            round_terns = {name: copies.get(name, exe)
                           for name, exe in terns.items()}
            round_peers = {name: (bench, copies.get(name, gguf))
                           for name, (bench, gguf) in peers.items()}
            try:
                for which, n in tests:
                    for name, exe in round_terns.items():
                        values[name, (which, n)].append(
                            tern_rate(exe, which, n, threads))
                    for name, spec in round_peers.items():
                        values[name, (which, n)].append(
                            peer_rate(spec, threads, which, n))
            finally:
                for path in copies.values():
                    os.remove(path)
        names = ["pp" + str(n) if w == "prompt" else "tg" + str(n)
                 for w, n in tests]
        print(f"  {threads} thread(s)")
        print(f"  {'engine':<28}" + "".join(f"{t:>26}" for t in names))
        for name in list(terns) + list(peers):
            row = f"  {name:<28}"
            for test in tests:
                m = summary(values[name, test])
                ratio = "" if name in terns else \
                    f" {summary(values[first, test])[0] / m[0]:.2f}x"
                row += f"{cell(m) + ratio:>26}"
            print(row, flush=True)
        for name in list(terns)[1:]:
            for peer in peers:
                ratios = [summary(values[name, t])[0] /
                          summary(values[peer, t])[0] for t in tests]
                print(f"  {name} / {peer}: " + ", ".join(
                    f"{n} {r:.2f}x" for n, r in zip(names, ratios)), flush=True)


def cpu_line():
    """The CPU model and the ISA extensions the kernels choose between."""
    model, flags = "unknown CPU", set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    isa = [x for x in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
           if x in flags]
    return f"CPU: {model}, {os.cpu_count()} threads, {' '.join(isa) or 'no AVX2'}"


def checkpoint(directory):
    """The 2B4T-shape synthetic checkpoint in `directory`, written once."""
    ckpt = os.path.join(directory, "bitnet-2b4t-shape")
    if not os.path.exists(os.path.join(ckpt, "config.json")):
        print("writing the 2B4T-shape synthetic checkpoint (1.2 GB, once)", flush=True)
        run([sys.executable, os.path.join(ROOT, "scripts", "gen_checkpoint.py"),
             "-o", ckpt, "--real-2b4t-shape"])
    return ckpt


def cell(m):
    return f"{m[0]:.1f} ({m[1]:.1f}-{m[2]:.1f})"


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--ternc", default=os.path.join(ROOT, "build", "bin", "ternc"))
    p.add_argument("--dir", default=os.path.join(ROOT, "build", "bench"))
    p.add_argument("--kernels", default="auto")
    p.add_argument("--mcpu", default="host",
                   help="ternc's --mcpu: e.g. x86-64-v3 measures the AVX2 "
                        "path as an AVX2-only CPU runs it, on any newer one")
    p.add_argument("--no-float", action="store_true",
                   help="skip the bf16-weights comparison")
    p.add_argument("--long", action="store_true",
                   help="also generation after 1k- and 4k-token prompts "
                        "(attention over long contexts), all threads")
    p.add_argument("--peer", action="append", default=[],
                   metavar="NAME=LLAMA_BENCH:GGUF",
                   help="another engine's llama-bench and a GGUF of the same "
                        "shape, measured beside Tern (repeatable)")
    p.add_argument("--prompt-lengths", default="128",
                   help="prompt lengths of the side-by-side run (e.g. 128,512)")
    p.add_argument("--peers-only", action="store_true",
                   help="only the side-by-side run")
    p.add_argument("--no-fresh-copies", action="store_true",
                   help="side by side: run the files in place instead of "
                        "fresh copies made each round")
    p.add_argument("--int8-head", action="store_true",
                   help="also Tern with --lm-head=int8 in the side-by-side "
                        "run (beside peers whose head is smaller than bf16)")
    a = p.parse_args()
    peers = dict(parse_peer(x) for x in a.peer)
    if a.peers_only and not peers:
        raise SystemExit("--peers-only needs at least one --peer")
    os.makedirs(a.dir, exist_ok=True)

    ckpt = checkpoint(a.dir)
    target = ["--kernels=" + a.kernels, "--mcpu=" + a.mcpu]
    exe = os.path.join(a.dir, "bitnet-2b4t-" + a.kernels +
                       ("" if a.mcpu == "host" else "-" + a.mcpu))
    run([a.ternc, "-q", ckpt, *target, "-o", exe])
    print(cpu_line())
    threads_list = sorted({1, os.cpu_count() or 1})
    if peers:
        lengths = [int(x) for x in a.prompt_lengths.split(",")]
        terns = {"Tern": exe}
        if a.int8_head:
            terns["Tern --lm-head=int8"] = exe + "-int8-head"
            run([a.ternc, "-q", ckpt, *target, "--lm-head=int8", "-o",
                 terns["Tern --lm-head=int8"]])
        compare_peers(terns, peers, threads_list, lengths, a.reps,
                      fresh=not a.no_fresh_copies)
        if a.peers_only:
            return
    probe = os.path.join(a.dir, "bandwidth")
    run(["clang-19", "-O2", "-march=native", "-pthread", "-o", probe,
         os.path.join(ROOT, "bench", "bandwidth.c")])

    weights = weight_bytes(exe)
    print(f"\nTern {a.kernels} kernels, 2B4T shape, median of {a.reps} (min-max)")
    print(f"  bytes per generated token: {weights / 1e9:.3f} GB")
    print(f"  {'threads':>7} {'GB/s':>7} {'roofline':>9} {'pp128 tokens/s':>22} "
          f"{'tg128 tokens/s':>22} {'tg/roofline':>11}")
    results, bandwidths = {}, {}
    for threads in threads_list:
        bandwidth = float(run([probe, "2048", str(threads)],
                              capture_output=True).stdout)
        roofline = bandwidth * 1e9 / weights
        pp = measure(exe, threads, "prompt", a.reps)
        tg = measure(exe, threads, "generation", a.reps)
        results[threads] = (pp, tg)
        bandwidths[threads] = bandwidth
        print(f"  {threads:>7} {bandwidth:7.1f} {roofline:9.1f} {cell(pp):>22} "
              f"{cell(tg):>22} {tg[0] / roofline:11.0%}")
    threads = max(results)
    int8 = os.path.join(a.dir, "bitnet-2b4t-int8-head")
    run([a.ternc, "-q", ckpt, *target, "--lm-head=int8",
         "-o", int8])
    # The exact bf16 table stays for the embedding, which reads one row.
    with open(os.path.join(ckpt, "config.json")) as f:
        config = json.load(f)
    iread = weight_bytes(int8) - 2 * config["vocab_size"] * config["hidden_size"]
    itg = measure(int8, threads, "generation", a.reps)
    iroof = bandwidths[threads] * 1e9 / iread
    print(f"\n--lm-head=int8, {threads} threads: {iread / 1e9:.3f} GB per token, "
          f"roofline {iroof:.1f}, tg128 {cell(itg)} tokens/s "
          f"({itg[0] / iroof:.0%} of roofline, "
          f"{itg[0] / results[threads][1][0]:.2f}x the exact head)")
    if a.long:
        print(f"\nlong contexts, {threads} threads (tg32 after the prompt)")
        for n in (1024, 4000):
            ids = ",".join(str(1000 + i % 5000) for i in range(n))
            args = ["--tokens", ids, "-n", "33", "--greedy", "-c", "4096",
                    "-t", str(threads)]
            tg = summary([rate(exe, args, "generation") for _ in range(3)])
            print(f"  positions {n:>5}  tg32 {cell(tg)} tokens/s")
    if a.no_float:
        return
    threads = max(results)
    floats = os.path.join(a.dir, "bitnet-2b4t-bf16")
    print(f"\nfloat baseline (--weights=bf16), {threads} threads", flush=True)
    run([a.ternc, "-q", ckpt, "--weights=bf16", "-o", floats])
    fweights = weight_bytes(floats)
    fpp = measure(floats, threads, "prompt", a.reps)
    ftg = measure(floats, threads, "generation", a.reps)
    pp, tg = results[threads]
    print(f"  weights       ternary {weights / 1e9:.2f} GB, bf16 "
          f"{fweights / 1e9:.2f} GB ({fweights / weights:.1f}x)")
    print(f"  pp128 tokens/s  ternary {cell(pp)}, bf16 {cell(fpp)}: "
          f"{pp[0] / fpp[0]:.2f}x")
    print(f"  tg128 tokens/s  ternary {cell(tg)}, bf16 {cell(ftg)}: "
          f"{tg[0] / ftg[0]:.2f}x")

if __name__ == "__main__":
    sys.exit(main())

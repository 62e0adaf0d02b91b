#!/usr/bin/env python3
"""Tern's serving benchmark: continuous batching on the 2B4T shape.

Compiles the benchmark checkpoint (bench/run.sh writes it to build/bench/)
with a synthetic byte-level tokenizer, starts its --serve with --parallel 16,
and for 1, 4, 8 and 16 concurrent streams sends that many streaming
completions at once through the openai client: each a 128-token prompt (its
own token ids) and 128 generated tokens (ignore_eos). Per concurrency it
prints aggregate generated tokens/s (all tokens / wall time of the round),
its ratio to 1 stream measured in the same run, p50/p99 time to first
token and inter-token latency (the time between streamed chunks; a chunk is
a token, except where the server holds back an incomplete UTF-8 character),
and the p99 inter-token latency's ratio to 1 stream's. --rounds N repeats
the concurrencies N times, interleaved, and ends with the rounds' median
rates and the percentiles of all their samples together.

  bench/serve.py [--threads 2] [--streams 1,4,8,16] [--batch-size 256]
                 [--prefill-chunk 32] [--kv-type f16|f32] [--rounds 1]
                 [--lm-head exact|plain|int8] [--kernels auto|amx|avx512vnni|...]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_gguf import byte_level_vocab  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def compile_model(ckpt, ternc, out, lm_head, kernels, vocab):
    tok = out + "-tokenizer.json"
    tokenizer = byte_level_vocab(vocab)
    tokenizer["model"]["type"] = "BPE"
    tokenizer["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False,
                                  "use_regex": True}
    tokenizer["decoder"] = {"type": "ByteLevel"}
    with open(tok, "w") as f:
        json.dump(tokenizer, f)
    # ternc links the executable with the runtime library beside it.
    lib = os.path.join(os.path.dirname(os.path.dirname(ternc)), "lib",
                       "libTernRuntime.a")
    newest = max(os.path.getmtime(p) for p in (ternc, lib) if os.path.exists(p))
    if not os.path.exists(out) or os.path.getmtime(out) < newest:
        print(f"compiling {ckpt} -> {out}", file=sys.stderr, flush=True)
        subprocess.run([ternc, "-q", ckpt, "--tokenizer=" + tok,
                        "--lm-head=" + lm_head, "--kernels=" + kernels,
                        "-o", out], check=True)


def run_round(client, streams, prompt_len, gen, vocab, seed):
    """One round of `streams` concurrent streams; their timings."""
    results = [None] * streams
    barrier = threading.Barrier(streams)

    def one(i):
        ids = [(seed * 7919 + i * 104729 + j * 31) % (vocab - 2) for j in
               range(prompt_len)]
        barrier.wait()
        start = time.perf_counter()
        times, tokens = [], 0
        for chunk in client.completions.create(
                model="m", prompt=ids, max_tokens=gen, temperature=0,
                stream=True, stream_options={"include_usage": True},
                extra_body={"ignore_eos": True}):
            if chunk.usage:
                tokens = chunk.usage.completion_tokens
            elif chunk.choices and chunk.choices[0].text:
                times.append(time.perf_counter())
        results[i] = (start, times, tokens)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default=os.path.join(ROOT, "build", "bench",
                                                   "bitnet-2b4t-shape"))
    ap.add_argument("--ternc", default=os.path.join(ROOT, "build", "bin", "ternc"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--streams", default="1,4,8,16")
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--generate", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--prefill-chunk", type=int, default=32)
    ap.add_argument("--kv-type", help="the server's --kv-type (default: its "
                    "default, f16)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run every concurrency this many times, interleaved")
    ap.add_argument("--lm-head", default="exact",
                    help="ternc's --lm-head (exact, plain, int8)")
    ap.add_argument("--kernels", default="auto", help="ternc's --kernels")
    ap.add_argument("--exe", help="serve this executable (compiled with "
                    "the tokenizer this script writes) instead of compiling")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(a.ckpt, "config.json")):
        raise SystemExit(f"{a.ckpt}: no config.json (run bench/run.sh once "
                         "to write the benchmark checkpoint)")
    import openai

    exe = os.path.join(ROOT, "build", "bench", "serve-model")
    if a.lm_head != "exact":
        exe += "-" + a.lm_head
    if a.kernels != "auto":
        exe += "-" + a.kernels
    with open(os.path.join(a.ckpt, "config.json")) as f:
        vocab = json.load(f)["vocab_size"]
    if a.exe:
        exe = a.exe
    else:
        compile_model(a.ckpt, a.ternc, exe, a.lm_head, a.kernels, vocab)
    counts = [int(c) for c in a.streams.split(",")]
    server = subprocess.Popen(
        [exe, "--serve", "--port", "0", "--parallel", str(max(counts)), "-t",
         str(a.threads), "-c", str(a.prompt + a.generate + 8), "--batch-size",
         str(a.batch_size), "--prefill-chunk", str(a.prefill_chunk)] +
        (["--kv-type", a.kv_type] if a.kv_type else []),
        stderr=subprocess.PIPE, text=True)
    banner = server.stderr.readline()
    port = int(re.search(r"http://127\.0\.0\.1:(\d+),", banner).group(1))
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"Model name:\s*(.*)", cpu)
    print(f"# {model.group(1) if model else 'CPU'}, {a.threads} threads, "
          f"{a.prompt}-token prompts, {a.generate} generated, "
          f"--batch-size {a.batch_size}, --prefill-chunk {a.prefill_chunk}, "
          f"--kv-type {a.kv_type or 'default'}")
    print(f"# server: {banner.strip()}")
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1",
                           api_key="none", max_retries=0, timeout=600)
    try:
        run_round(client, 1, 16, 4, vocab, 0)  # warm the weights
        print(f"{'streams':>7} {'tokens/s':>9} {'vs 1':>6} {'TTFT p50':>9} "
              f"{'TTFT p99':>9} {'ITL p50':>8} {'ITL p99':>8} {'vs 1':>6}")

        def line(n, rate, base, ttft, itl, base_p99):
            p99 = percentile(itl, 99)
            print(f"{n:>7} {rate:>9.1f} {rate / base:>5.2f}x "
                  f"{statistics.median(ttft):>8.2f}s {percentile(ttft, 99):>8.2f}s "
                  f"{statistics.median(itl) * 1e3:>6.0f}ms "
                  f"{p99 * 1e3:>6.0f}ms {p99 / (base_p99 or p99):>5.2f}x", flush=True)
            return p99

        pooled = {n: ([], [], []) for n in counts}  # rates, TTFTs, gaps
        for r in range(a.rounds):
            if a.rounds > 1:
                print(f"# round {r + 1}")
            base = base_p99 = None
            for n in counts:
                results = run_round(client, n, a.prompt, a.generate, vocab, n)
                start = min(res[0] for res in results)
                end = max(res[1][-1] for res in results)
                rate = sum(res[2] for res in results) / (end - start)
                base = base or rate
                ttft = [res[1][0] - res[0] for res in results]
                itl = [y - x for res in results for x, y in zip(res[1], res[1][1:])]
                p99 = line(n, rate, base, ttft, itl, base_p99)
                base_p99 = base_p99 or p99
                pooled[n][0].append(rate)
                pooled[n][1].extend(ttft)
                pooled[n][2].extend(itl)
        if a.rounds > 1:
            # Medians of the rounds' rates; percentiles of every round's
            # samples together (one stream's p99 from a single round is
            # nearly its second-largest gap).
            print(f"# all {a.rounds} rounds: median tokens/s, pooled latencies")
            base = statistics.median(pooled[counts[0]][0])
            base_p99 = None
            for n in counts:
                rates, ttft, itl = pooled[n]
                p99 = line(n, statistics.median(rates), base, ttft, itl,
                           base_p99)
                base_p99 = base_p99 or p99
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()

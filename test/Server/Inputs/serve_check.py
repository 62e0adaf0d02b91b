"""Checks an executable's --serve against the real OpenAI client and hostile
requests (server.test). Prints one line per check; exits 1 if any failed.

  serve_check.py EXE            completions, chat, 16 concurrent clients,
                                malformed requests, disconnects, metrics
  serve_check.py EXE --busy     a full queue answers 503 with Retry-After
  serve_check.py EXE --drain    SIGTERM finishes the requests in flight
  serve_check.py EXE --slow     a stalled client is dropped after --timeout
  serve_check.py EXE --basic --runner qemu-aarch64-static
                                completions, streamed and 4 concurrent, of
                                an executable run under RUNNER
"""
import argparse
import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import openai

failures = 0
runner = []  # a command the executable runs under (qemu)
extra = []  # flags for both the server and the CLI (--kv-type f32)


def cli_flags():
    """extra, and the server's default KV type where extra names none (the
    CLI's default is f32, the server's f16)."""
    return extra if "--kv-type" in extra else [*extra, "--kv-type", "f16"]


def check(name, ok, detail=""):
    global failures
    print(f"{name}: {'ok' if ok else 'FAIL ' + detail}", flush=True)
    failures += 0 if ok else 1


class Server:
    def __init__(self, exe, *args):
        self.proc = subprocess.Popen([*runner, exe, "--serve", "--port", "0",
                                      *extra, *args],
                                     stderr=subprocess.PIPE, text=True)
        self.banner = self.proc.stderr.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+),", self.banner)
        if not m:
            sys.exit(f"no server banner: {self.banner!r}")
        self.port = int(m.group(1))
        self.log = []
        threading.Thread(target=lambda: self.log.extend(self.proc.stderr),
                         daemon=True).start()
        self.client = openai.OpenAI(base_url=f"http://127.0.0.1:{self.port}/v1",
                                    api_key="none", max_retries=0)

    def request(self, method, path, body=None, headers=None):
        """(status, headers, body) of one raw request."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, dict(r.getheaders()), data

    def raw(self, data, read=True):
        """Sends bytes on a fresh socket; returns the first response line."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        s.sendall(data)
        line = s.makefile("rb").readline().decode() if read else ""
        s.close()
        return line

    def metric(self, name):
        _, _, text = self.request("GET", "/metrics")
        m = re.search(rf"^tern_{name} (\S+)$", text.decode(), re.M)
        return float(m.group(1))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=120)


def greedy_cli(exe, prompt, n, *flags):
    out = subprocess.run([*runner, exe, "-p", prompt, "-n", str(n), "--greedy", "-q",
                          "--no-display-prompt", *cli_flags(), *flags],
                         capture_output=True,
                         text=True, check=True).stdout
    return out[:-1] if out.endswith("\n") else out


def chat_cli(exe, message, n):
    out = subprocess.run([*runner, exe, "--chat", "-n", str(n), "--greedy", "-q",
                          *cli_flags()],
                         input=message + "\n", capture_output=True, text=True,
                         check=True).stdout
    return out[len("> "):out.index("\n> ")]


def completions(exe):
    s = Server(exe, "--parallel", "8", "-t", "2")
    prompt = "Once upon a time"
    want = greedy_cli(exe, prompt, 24)
    r = s.client.completions.create(model="m", prompt=prompt, max_tokens=24,
                                    temperature=0)
    check("completion equals the CLI's --greedy text", r.choices[0].text == want,
          f"{r.choices[0].text!r} vs {want!r}")
    check("completion usage", r.usage.prompt_tokens > 0 and
          r.usage.completion_tokens + r.usage.prompt_tokens == r.usage.total_tokens)
    pieces = [c.choices[0].text for c in s.client.completions.create(
        model="m", prompt=prompt, max_tokens=24, temperature=0, stream=True)]
    check("streamed completion equals the non-streamed one",
          "".join(pieces) == want and len(pieces) > 2, repr(pieces))

    message = "Tell me a story."
    want = chat_cli(exe, message, 20)
    r = s.client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": message}],
        max_tokens=20, temperature=0)
    got = r.choices[0].message.content
    check("chat equals the CLI's --chat turn", got == want, f"{got!r} vs {want!r}")
    chunks = list(s.client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": message}],
        max_tokens=20, temperature=0, stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    check("streamed chat equals the non-streamed one", text == want, repr(text))
    check("streamed usage", chunks[-1].usage is not None and
          chunks[-1].usage.completion_tokens == r.usage.completion_tokens)
    check("models lists the model", [m.id for m in s.client.models.list()] ==
          [re.search(r"server: (\S+) on", s.banner).group(1)])
    check("the KV pool is f16 by default", "(f16," in s.banner, s.banner)

    # 16 clients at once, 8 slots: each answer is its prompt's alone.
    prompts = [f"Story number {i}: the" + " very" * i for i in range(16)]
    wants = [greedy_cli(exe, p, 16) for p in prompts]

    def ask(i):
        if i % 2:
            return "".join(c.choices[0].text for c in s.client.completions.create(
                model="m", prompt=prompts[i], max_tokens=16, temperature=0,
                stream=True))
        return s.client.completions.create(model="m", prompt=prompts[i],
                                           max_tokens=16, temperature=0).choices[0].text

    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(ask, range(16)))
    same = sum(g == w for g, w in zip(got, wants))
    check(f"16 concurrent clients, each equal to its prompt alone ({same}/16)",
          same == 16)
    check("steps batched several sequences",
          s.metric("step_tokens_total") > s.metric("steps_total") * 1.5)
    check("every step's duration in the step histogram",
          s.metric("step_seconds_count") == s.metric("steps_total") and
          s.metric("step_seconds_sum") > 0)

    # Seeded sampling repeats itself.
    a, b = (s.client.completions.create(model="m", prompt=prompt, max_tokens=12,
                                        temperature=0.9, seed=7).choices[0].text
            for _ in range(2))
    check("a seed repeats a sampled completion", a == b)
    r = s.client.completions.create(model="m", prompt=prompt, max_tokens=30,
                                    temperature=0, stop=[" the"])
    check("stop string ends the text before it", " the" not in r.choices[0].text
          and r.choices[0].finish_reason == "stop", repr(r.choices[0].text))
    hostile(s)
    check("exit status 0 after SIGTERM", s.stop() == 0)


def slots_free(s):
    """Whether every slot is free within 5 s."""
    for _ in range(100):
        if s.metric("slots_busy") == 0:
            return True
        time.sleep(0.05)
    return False


def basic(exe):
    s = Server(exe, "--parallel", "4", "-t", "2")
    prompts = ["Once upon a time", "The cat", "In the morning", "She said"]
    wants = [greedy_cli(exe, p, 12) for p in prompts]
    r = s.client.completions.create(model="m", prompt=prompts[0], max_tokens=12,
                                    temperature=0)
    check("completion equals the CLI's --greedy text", r.choices[0].text == wants[0],
          f"{r.choices[0].text!r} vs {wants[0]!r}")
    text = "".join(c.choices[0].text for c in s.client.completions.create(
        model="m", prompt=prompts[0], max_tokens=12, temperature=0, stream=True))
    check("streamed completion equals the non-streamed one", text == wants[0])
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda p: s.client.completions.create(
            model="m", prompt=p, max_tokens=12, temperature=0).choices[0].text,
            prompts))
    check("4 concurrent clients, each equal to its prompt alone", got == wants)
    check("exit status 0 after SIGTERM", s.stop() == 0)


def hostile(s):
    ctx = 256
    long_prompt = "word " * (ctx * 2)
    cases = [
        ("POST", "/v1/completions", "{not json", 400),
        ("POST", "/v1/completions", "[1, 2]", 400),
        ("POST", "/v1/completions", {}, 400),
        ("POST", "/v1/completions", {"prompt": 5}, 400),
        ("POST", "/v1/completions", {"prompt": ""}, 400),
        ("POST", "/v1/completions", {"prompt": ["a", "b"]}, 400),
        ("POST", "/v1/completions", {"prompt": [1, 2, 10 ** 9]}, 400),
        ("POST", "/v1/completions", {"prompt": [1, -2]}, 400),
        ("POST", "/v1/completions", {"prompt": "hi", "max_tokens": -1}, 400),
        ("POST", "/v1/completions", {"prompt": "hi", "max_tokens": "5"}, 400),
        ("POST", "/v1/completions", {"prompt": "hi", "max_tokens": 1.5}, 400),
        ("POST", "/v1/completions", {"prompt": "hi", "max_tokens": 10 ** 30}, 400),
        ("POST", "/v1/completions", {"prompt": "hi", "temperature": -1}, 400),
        ("POST", "/v1/completions", {"prompt": "hi", "temperature": "hot"}, 400),
        ("POST", "/v1/completions", {"prompt": "hi", "top_p": 2}, 400),
        ("POST", "/v1/completions", {"prompt": "hi", "top_k": -1}, 400),
        ("POST", "/v1/completions", {"prompt": "hi", "n": 2}, 400),
        ("POST", "/v1/completions", {"prompt": "hi", "logprobs": 2}, 400),
        ("POST", "/v1/completions", {"prompt": "hi", "stop": 3}, 400),
        ("POST", "/v1/completions", {"prompt": "hi", "stop": [""]}, 400),
        ("POST", "/v1/completions", {"prompt": "hi", "stream": "yes"}, 400),
        ("POST", "/v1/completions", {"prompt": "hi", "seed": "x"}, 400),
        ("POST", "/v1/completions", {"prompt": long_prompt}, 400),
        ("POST", "/v1/completions", b'{"prompt": "\xff\xfe"}', 400),
        ("POST", "/v1/chat/completions", {"messages": []}, 400),
        ("POST", "/v1/chat/completions", {"prompt": "hi"}, 400),
        ("POST", "/v1/chat/completions", {"messages": [{"role": "robot", "content": "x"}]}, 400),
        ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": 7}]}, 400),
        # Found by fuzz/requests.cpp: a "type" that is not a string, or a
        # non-boolean include_usage, threw out of the connection's thread.
        ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": [{"type": 5}]}]}, 400),
        ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": 1}}, 400),
        ("POST", "/v1/completions", {"prompt": "hi", "stream": True, "stream_options": {"include_usage": "yes"}}, 400),
        ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}, 400),
        ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "frequency_penalty": 1}, 400),
        ("GET", "/v1/completions", None, 405),
        ("DELETE", "/health", None, 405),
        ("GET", "/v2/anything", None, 404),
        ("POST", "/v1/completions", {"prompt": "hi", "max_tokens": 0}, 200),
        ("POST", "/v1/completions", {"prompt": "hi", "max_tokens": 10 ** 9}, 200),
    ]
    bad = []
    for method, path, body, status in cases:
        got, headers, data = s.request(method, path, body)
        error_ok = status == 200 or "error" in json.loads(data)
        if got != status or not error_ok:
            bad.append((method, path, str(body)[:60], got, data[:120]))
    check(f"{len(cases)} malformed or hostile requests get their status and an "
          "error object", not bad, repr(bad))
    line = s.raw(b"\x16\x03\x01\x02\x00 not HTTP\r\n\r\n")
    check("malformed HTTP gets 400", line.startswith("HTTP/1.1 400"), line)
    line = s.raw(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Length: 17825792\r\n\r\n")
    check("a body over 16 MiB gets 413", line.startswith("HTTP/1.1 413"), line)
    line = s.raw(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
    check("a bad Content-Length gets 400", line.startswith("HTTP/1.1 400"), line)

    # A client that goes away mid-stream frees its slot at the next step.
    sock = socket.create_connection(("127.0.0.1", s.port))
    body = json.dumps({"prompt": "Once", "max_tokens": 200, "stream": True,
                       "temperature": 0})
    sock.sendall(f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 f"application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                 f"{body}".encode())
    sock.recv(200)
    sock.close()
    check("a client gone mid-stream frees its slot", slots_free(s))
    # ... and one gone while its whole answer was being made.
    sock = socket.create_connection(("127.0.0.1", s.port))
    body = json.dumps({"prompt": "Once", "max_tokens": 200, "temperature": 0})
    sock.sendall(f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: "
                 f"{len(body)}\r\n\r\n{body}".encode())
    time.sleep(0.05)
    sock.close()
    check("a client gone before its answer frees its slot", slots_free(s))
    status, _, data = s.request("GET", "/health")
    check("healthy after all of it", status == 200 and json.loads(data) ==
          {"status": "ok"})


def busy(exe):
    s = Server(exe, "--parallel", "1", "--queue", "1")
    body = {"prompt": "Once upon a time", "max_tokens": 150, "temperature": 0,
            "ignore_eos": True}
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: s.request("POST", "/v1/completions", body),
                                range(4)))
    statuses = sorted(r[0] for r in results)
    refused = [r for r in results if r[0] == 503]
    check(f"a full queue refuses the rest: statuses {statuses}",
          statuses.count(200) >= 2 and refused and all(
              r[1].get("Retry-After") == "1" for r in refused))
    check("rejections counted", s.metric("requests_rejected_total") == len(refused))
    check("exit status 0 after SIGTERM", s.stop() == 0)


def drain(exe):
    s = Server(exe, "--parallel", "2")
    result = {}

    def stream():
        result["text"] = "".join(c.choices[0].text for c in s.client.completions.create(
            model="m", prompt="Once upon a time", max_tokens=240, temperature=0,
            stream=True, extra_body={"ignore_eos": True}))

    t = threading.Thread(target=stream)
    t.start()
    while s.metric("generated_tokens_total") < 2:
        time.sleep(0.01)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.02)
    try:
        status = s.request("GET", "/health")[0]
    except OSError:
        status = "closed"
    t.join()
    code = s.proc.wait(timeout=120)
    check(f"while draining, new requests get 503 (got {status})",
          status in (503, "closed"))
    want = greedy_cli(exe, "Once upon a time", 240, "--ignore-eos")
    check("the request in flight finishes", result.get("text") == want)
    check("exit status 0 after draining", code == 0)
    check("drain is logged", any("finishing the requests in flight" in l
                                 for l in s.log))


def slow(exe):
    s = Server(exe, "--timeout", "1")
    sock = socket.create_connection(("127.0.0.1", s.port))
    sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Le")
    start = time.time()
    r = s.client.completions.create(model="m", prompt="Once", max_tokens=4,
                                    temperature=0)
    check("a stalled client does not hold up others",
          r.choices[0].finish_reason in ("stop", "length"))
    sock.settimeout(10)
    try:
        closed = sock.recv(100) == b""
    except OSError:
        closed = True
    waited = time.time() - start
    check("a client that stalls its request is dropped after --timeout 1",
          closed and waited < 5, f"{waited:.1f} s")
    check("exit status 0 after SIGTERM", s.stop() == 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("exe")
    ap.add_argument("--busy", action="store_true")
    ap.add_argument("--drain", action="store_true")
    ap.add_argument("--basic", action="store_true")
    ap.add_argument("--slow", action="store_true")
    ap.add_argument("--runner", default="")
    ap.add_argument("--flags", default="")
    a = ap.parse_args()
    runner.extend(a.runner.split())
    extra.extend(a.flags.split())
    (busy if a.busy else drain if a.drain else basic if a.basic else
     slow if a.slow else completions)(a.exe)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

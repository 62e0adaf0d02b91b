"""Two server replicas behind nginx (least_conn), as docs/Serving.md
describes (replicas.test): a bounded load through nginx is answered in full
and by both replicas; one replica is killed mid-run and the rest of the
requests are still answered (the client retries). Then a load test on one
replica: many short requests, 16 at a time, zero errors.

  replicas_check.py EXE NGINX WORKDIR
"""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import openai

sys.path.insert(0, os.path.dirname(__file__))
from serve_check import Server, check, greedy_cli  # noqa: E402
import serve_check  # noqa: E402

NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {work}/body;
  proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fastcgi;
  uwsgi_temp_path {work}/uwsgi;
  scgi_temp_path {work}/scgi;
  upstream tern {{
    least_conn;
    server 127.0.0.1:{p1} max_fails=1 fail_timeout=30s;
    server 127.0.0.1:{p2} max_fails=1 fail_timeout=30s;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://tern;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 120s;
    }}
  }}
}}
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    exe, nginx, work = sys.argv[1:4]
    a = Server(exe, "--parallel", "4", "-t", "1")
    b = Server(exe, "--parallel", "4", "-t", "1")
    port = free_port()
    with open(os.path.join(work, "nginx.conf"), "w") as f:
        f.write(NGINX_CONF.format(work=work, p1=a.port, p2=b.port, port=port))
    proxy = subprocess.Popen([nginx, "-p", work, "-c", "nginx.conf"],
                             stderr=subprocess.STDOUT, stdout=subprocess.PIPE)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            break
        except OSError:
            time.sleep(0.05)
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1",
                           api_key="none", max_retries=5, timeout=60)
    prompts = [f"Request {i} says" for i in range(8)]
    wants = {p: greedy_cli(exe, p, 12) for p in prompts}
    killed = threading.Event()
    done = [0]
    lock = threading.Lock()

    def ask(i):
        p = prompts[i % len(prompts)]
        text = client.completions.create(model="m", prompt=p, max_tokens=12,
                                         temperature=0).choices[0].text
        with lock:
            done[0] += 1
            if done[0] == 30 and not killed.is_set():
                killed.set()
                b.proc.send_signal(signal.SIGKILL)  # mid-run, no drain
        return text == wants[p]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(ask, range(60)))
    check(f"60 requests through nginx, one replica killed after 30: "
          f"{sum(results)} answered correctly", all(results) and killed.is_set())
    used_a = a.metric("requests_total")
    check("both replicas answered", used_a > 0 and used_a < 60, f"a: {used_a}")
    check("the killed replica is gone", b.proc.wait(timeout=10) == -signal.SIGKILL)
    proxy.send_signal(signal.SIGQUIT)
    proxy.wait(timeout=30)

    # Load: 200 short requests, 16 at a time, on the surviving replica.
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{a.port}/v1",
                           api_key="none", max_retries=0, timeout=60)
    start = time.time()
    errors = []

    def load(i):
        try:
            r = client.completions.create(model="m", prompt=prompts[i % 8],
                                          max_tokens=8, temperature=0)
            return r.choices[0].finish_reason in ("stop", "length")
        except Exception as e:  # noqa: BLE001 - every error counts
            errors.append(repr(e))
            return False

    with ThreadPoolExecutor(16) as pool:
        ok = sum(pool.map(load, range(200)))
    seconds = time.time() - start
    check("load: 200 requests, 16 concurrent, zero errors", ok == 200 and not
          errors, repr(errors[:3]))
    print(f"load took {seconds:.1f} s", file=sys.stderr)
    check("exit status 0 after SIGTERM", a.stop() == 0)
    sys.exit(1 if serve_check.failures else 0)


if __name__ == "__main__":
    main()

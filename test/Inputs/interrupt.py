#!/usr/bin/env python3
"""interrupt.py SIGNAL OUTPUT COMMAND...: runs COMMAND (a ternc writing
OUTPUT), sends SIGNAL (TERM or INT) the moment its partial file
OUTPUT.tern-partial appears, and checks that neither OUTPUT nor the partial
file is left. Tries up to 20 times (a compile may finish between two polls)."""
import os
import signal
import subprocess
import sys
import time

sig = getattr(signal, "SIG" + sys.argv[1])
output, command = sys.argv[2], sys.argv[3:]
partial = output + ".tern-partial"
for attempt in range(20):
    for path in (output, partial):
        if os.path.exists(path):
            os.remove(path)
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    caught = False
    while proc.poll() is None:
        if os.path.exists(partial):
            proc.send_signal(sig)
            caught = True
            break
        time.sleep(0.0002)
    proc.wait()
    if not caught:
        continue
    left = [p for p in (output, partial) if os.path.exists(p)]
    if left:
        sys.exit("interrupted while writing: left " + ", ".join(left))
    print("interrupted while writing: no output, no partial file")
    sys.exit(0)
sys.exit("the partial file never appeared while the compile ran")

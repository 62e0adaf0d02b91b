"""Runs MODEL [flags] --bench, and prints whether its memory holds huge pages
(AnonHugePages in /proc/PID/smaps_rollup) within its first 3 seconds."""
import subprocess
import sys
import time


def anon_huge_kb(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("AnonHugePages:"):
                return int(line.split()[1])
    return 0


proc = subprocess.Popen([sys.argv[1], "--bench", "--bench-pp", "64",
                         "--bench-tg", "64", "--bench-reps", "1000", "-t",
                         "1"] + sys.argv[2:],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    huge, deadline = 0, time.monotonic() + 3
    while proc.poll() is None and time.monotonic() < deadline:
        huge = anon_huge_kb(proc.pid)
        if huge >= 2048:
            break
        time.sleep(0.01)
    print("weights in huge pages:", "yes" if huge >= 2048 else "no")
finally:
    proc.kill()
    proc.wait()

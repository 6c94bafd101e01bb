"""Runs one command and prints its wall time, CPU time (user: the tool's
own code; sys: the kernel working for it, mostly page-cache reads and
writes) and peak RSS as JSON.

Usage: python3 measure.py LABEL -- CMD...   (CPU and RSS from wait4's rusage)
"""
import json
import os
import subprocess
import sys
import time

label = sys.argv[1]
cmd = sys.argv[sys.argv.index("--") + 1:]
start = time.perf_counter()
proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
out = proc.stdout.read()
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
code = os.waitstatus_to_exitcode(status)
print(json.dumps({"label": label, "exit": code, "wall_s": round(wall, 3),
                  "user_s": round(usage.ru_utime, 3), "sys_s": round(usage.ru_stime, 3),
                  "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
                  "output": out.decode().strip()}))
sys.exit(code)

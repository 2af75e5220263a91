#!/usr/bin/env python3
"""Trainers that behave and misbehave, for the command trainer's tests.

The first argument names the behaviour; GAHPO_CHECKPOINT_DIR receives the
pids of the processes started (pid, child), for the tests to check that
none outlives the training.
"""
import json
import math
import os
import signal
import subprocess
import sys
import time

mode = sys.argv[1]
ckpt = os.environ["GAHPO_CHECKPOINT_DIR"]


def report(epoch, **metrics):
    metrics["epoch"] = epoch
    print(json.dumps(metrics), flush=True)


def write_pids(child=None):
    with open(os.path.join(ckpt, "pids.tmp"), "w") as f:
        f.write("%d %d\n" % (os.getpid(), child.pid if child else 0))
    os.replace(os.path.join(ckpt, "pids.tmp"), os.path.join(ckpt, "pids"))


if mode == "ok":
    with open(os.environ["GAHPO_PARAMS"]) as f:
        params = json.load(f)
    print("params " + json.dumps(params, sort_keys=True))
    print("env epochs=%s seed=%s data=%s device=%s kind=%s test=%s extra=%s" % (
        os.environ.get("GAHPO_EPOCHS"), os.environ.get("GAHPO_SEED"), os.environ.get("GAHPO_DATA_DIR"),
        os.environ.get("CUDA_VISIBLE_DEVICES"), os.environ.get("GAHPO_KIND"), os.environ.get("GAHPO_TEST"),
        os.environ.get("EXTRA")))
    print("args " + " ".join(sys.argv[1:]))
    for e in (1, 2, 3):
        report(e, loss=params["x"] ** 2 + 1.0 / e, accuracy=0.5 + e / 10)
elif mode == "crash":
    report(1, loss=0.5)
    for i in range(30):
        print("noise line %d" % i, file=sys.stderr)
    print("Traceback (most recent call last):\nValueError: boom", file=sys.stderr)
    sys.exit(3)
elif mode == "none":
    print("I trained, honestly")
    report(1, other=1.0)
elif mode == "garbage":
    print("not json at all")
    print('{"epoch": 1, loss}')
    print("[1, 2, 3]")
    print('{"epoch": "one", "note": "text only"}')
    sys.stdout.flush()
    sys.stdout.buffer.write(b"\xff\xfe binary \x00 bytes\n" + b"x" * 1000 + b"\n")
    sys.stdout.flush()
    report(2, loss=0.25)
elif mode == "nan":
    report(1, loss=0.5)
    print(json.dumps({"epoch": 2, "loss": float("nan")}), flush=True)  # Python prints a bare NaN
    write_pids()
    time.sleep(600)
    report(3, loss=0.1)
elif mode == "sleep":
    report(1, loss=0.5)
    write_pids()
    time.sleep(600)
elif mode in ("hang", "stubborn"):
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen([sys.executable, "-c",
                                  "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
    else:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    report(1, loss=0.5)
    write_pids(child)
    time.sleep(600)
elif mode == "flood":
    line = b"y" * 99 + b"\n"
    chunk = line * 10000  # 1 MB
    out = sys.stdout.buffer
    for _ in range(20):
        out.write(chunk)
    out.write(b"z" * (5 << 20))  # one 5 MB line
    out.write(b"\n")
    out.flush()
    report(1, loss=0.75)
    for _ in range(3000):
        report(1, loss=0.75, pad=1.0)
elif mode == "long":
    # One metrics line of ~130 kB: longer than a metrics line may be.
    print(json.dumps({"epoch": 1, "hist": list(range(20000)), "loss": 0.5}), flush=True)
elif mode == "null":
    print('{"epoch": 1, "loss": 0.5}', flush=True)
    print('{"epoch": 2, "loss": null, "acc": 0.9}', flush=True)  # JSON.stringify's NaN
elif mode == "string":
    report(1, loss=0.7)
    print('{"epoch": 2, "loss": "0.5"}', flush=True)  # a number written as a string
    write_pids()
    time.sleep(600)  # stopped at once, as for a NaN
elif mode == "huge":
    print('{"epoch": 1, "loss": 1e400}', flush=True)  # beyond float64: +Inf
else:
    sys.exit("unknown mode " + mode)

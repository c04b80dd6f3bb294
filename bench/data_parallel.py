#!/usr/bin/env python3
"""Data parallelism on the CPU: bytes all-reduced per step and step time, BCD against full
training, one process against 2 ranks of the same global batch, all in one invocation.

Four runs of bcd-train on the same model, data and global batch (2·B windows per step):
  - mode bcd  and mode full, one process of batch 2·B (T threads),
  - mode bcd  and mode full, `mpirun -np 2` of batch B (T/2 threads per rank),
alternated over --repeat rounds. It prints, from the step records' comm_bytes and step_s:
  - bytes all-reduced per step, BCD / full (the active block's share of the parameters, averaged
    over a block cycle; the expectation printed beside it comes from the start record's blocks),
  - median step time, 2 ranks / 1 process, per mode (on one machine the ranks share its cores:
    this measures the cost of the reduction and the split, not a speed-up).

    /usr/bin/python3 bench/data_parallel.py --build build [--preset small] [--batch 2]
        [--seq 64] [--switch-every 2] [--threads 2] [--repeat 3]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
CORPUS = os.path.join(ROOT, "resources", "sample", "shakespeare-train.txt")
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe"]


def run(args, tmp, model_dir, mode, ranks, steps, tag):
    out_dir = os.path.join(tmp, tag)
    shutil.rmtree(out_dir, ignore_errors=True)
    cfg = {
        "model": {"path": model_dir},
        "data": {"train": CORPUS, "seq_len": args.seq},
        "optim": {"name": "adamw", "lr": 1e-3},
        "train": {"steps": steps, "batch_size": args.batch * 2 // ranks, "seed": 1},
        "bcd": {"mode": mode, "switch_every": args.switch_every},
        "device": {"kind": "cpu", "threads": max(1, args.threads // ranks)},
        "output": {"dir": out_dir, "log_every": 1},
    }
    path = os.path.join(tmp, tag + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    cmd = [os.path.join(args.build, "engine", "bcd-train"), "train", "--config", path]
    if ranks > 1:
        cmd = MPIRUN + ["-np", str(ranks)] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    recs = [json.loads(l) for l in open(os.path.join(out_dir, "metrics.jsonl"))]
    start = next(r for r in recs if r["t"] == "start")
    steps_rec = [r for r in recs if r["t"] == "step"]
    return {"step_s": [r["step_s"] for r in steps_rec[1:]],  # the first step warms up
            "comm": [r["comm_bytes"] for r in steps_rec], "blocks": start["blocks"],
            "active": [r["block"] for r in steps_rec], "params": start["params"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--preset", default="small")
    ap.add_argument("--batch", type=int, default=2, help="windows per rank (one process: 2x)")
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--switch-every", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="threads of the one process (ranks: half)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if shutil.which("mpirun") is None:
        sys.exit("mpirun not found: install openmpi-bin (scripts/install-deps.sh)")

    tmp = tempfile.mkdtemp(prefix="bench-dp-")
    model_dir = os.path.join(tmp, "model")
    subprocess.run([os.path.join(args.build, "engine", "bcd-train"), "init", "--preset", args.preset,
                    "--out", model_dir, "--seed", "1"], check=True, capture_output=True)
    probe = run(args, tmp, model_dir, "bcd", 1, 1, "probe")
    steps = len(probe["blocks"]) * args.switch_every  # one whole block cycle

    results = {}
    for rep in range(args.repeat):
        for mode in ("bcd", "full"):
            for ranks in ((1, 2) if rep % 2 == 0 else (2, 1)):
                r = run(args, tmp, model_dir, mode, ranks, steps, f"{mode}-{ranks}")
                key = (mode, ranks)
                results.setdefault(key, {"step_s": [], "comm": r["comm"], "blocks": r["blocks"],
                                         "active": r["active"], "params": r["params"]})
                results[key]["step_s"].append(statistics.median(r["step_s"]))

    bcd2, full2 = results[("bcd", 2)], results[("full", 2)]
    bytes_bcd = statistics.mean(bcd2["comm"])
    bytes_full = statistics.mean(full2["comm"])
    params = {b["id"]: b["params"] for b in bcd2["blocks"]}
    share = statistics.mean(params[b] for b in bcd2["active"]) / bcd2["params"]
    print(f"model: preset {args.preset}, {bcd2['params']} parameters, {len(params)} blocks; "
          f"global batch 2 x {args.batch} x {args.seq}; {steps} steps (one block cycle), "
          f"median of {args.repeat} alternated rounds")
    print(f"{'':28s}{'1 process':>12s}{'2 ranks':>12s}{'2 ranks / 1':>14s}")
    for mode in ("bcd", "full"):
        t1 = statistics.median(results[(mode, 1)]["step_s"])
        t2 = statistics.median(results[(mode, 2)]["step_s"])
        print(f"step time, {mode:5s} (s){'':12s}{t1:12.4f}{t2:12.4f}{t2 / t1:14.2f}")
    print(f"bytes all-reduced per step, bcd : {bytes_bcd:14.0f}")
    print(f"bytes all-reduced per step, full: {bytes_full:14.0f}")
    print(f"ratio bcd / full: {bytes_bcd / bytes_full:.4f}   "
          f"(mean active-block share of the parameters: {share:.4f})")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""BCD against full AdamW training on the same model, batch and data, and both against PyTorch.

One invocation measures, on this machine and in this run:
  - the engine in `mode: bcd` over one whole block cycle (every block trains switch_every steps),
  - the engine in `mode: full` for the same number of steps,
  - PyTorch full AdamW (HF LlamaForCausalLM where transformers is importable, else the plain-torch
    reference of tests/oracle) for the same number of steps,
and prints step time and peak memory as ratios: BCD / full and each engine mode / PyTorch.
Peak RSS is the child process's ru_maxrss; the engine's own accounting by category is the
maximum over the steps of each category of the step records' "mem".

    /usr/bin/python3 bench/bcd_vs_full.py --build build [--preset medium] [--batch 4] [--seq 256]
        [--switch-every 2] [--threads 2] [--recompute]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
CORPUS = os.path.join(ROOT, "resources", "sample", "shakespeare-train.txt")


def peak_rss_of(cmd, env=None):
    """Runs cmd in a child and returns (stdout, ru_maxrss bytes of that child alone)."""
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 2)
        out = os.open(env["BENCH_OUT"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.execvpe(cmd[0], cmd, env)
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{open(env['BENCH_OUT']).read()[-3000:]}")
    return open(env["BENCH_OUT"]).read(), usage.ru_maxrss * 1024


def engine_run(args, tmp, model_dir, mode, steps):
    out_dir = os.path.join(tmp, mode)
    if os.path.exists(out_dir):
        import shutil
        shutil.rmtree(out_dir)
    cfg = {
        "model": {"path": model_dir},
        "data": {"train": CORPUS, "seq_len": args.seq},
        "optim": {"name": "adamw", "lr": 1e-3, "weight_decay": 0.0},
        "train": {"steps": steps, "batch_size": args.batch, "seed": 1},
        "bcd": {"mode": mode, "switch_every": args.switch_every},
        "device": {"kind": "cpu", "threads": args.threads},
        "output": {"dir": out_dir, "log_every": 1},
    }
    if args.recompute:
        cfg["train"]["recompute"] = True
    path = os.path.join(tmp, f"{mode}.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    env = dict(os.environ, BENCH_OUT=os.path.join(tmp, f"{mode}.out"))
    _, rss = peak_rss_of([os.path.join(args.build, "engine", "bcd-train"), "train", "--config", path], env)
    steps_rec = [json.loads(l) for l in open(os.path.join(out_dir, "metrics.jsonl")) if '"t":"step"' in l]
    mem = {k: max(r["mem"][k] for r in steps_rec) for k in steps_rec[0]["mem"]}
    mem["total"] = max(r["mem_bytes"] for r in steps_rec)
    return {"step_s": [r["step_s"] for r in steps_rec], "peak_rss": rss, "mem": mem,
            "loss_first": steps_rec[0]["loss"], "loss_last": steps_rec[-1]["loss"]}


TORCH_WORKER = r"""
import json, os, sys, time, torch
sys.path.insert(0, os.path.join(sys.argv[1], "tests", "oracle"))
model_dir, batch, seq, steps, threads = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
torch.set_num_threads(threads)
data = torch.tensor(list(open(sys.argv[7], "rb").read()), dtype=torch.long)
try:
    import transformers
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32, attn_implementation="eager")
    params = list(model.parameters())
    impl = "transformers %s LlamaForCausalLM" % transformers.__version__
    def loss_of(x, y):
        logits = model(input_ids=x).logits
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
except ImportError:
    import llama_ref
    cfg, p = llama_ref.load_model(model_dir, dtype=torch.float32)
    params = list(p.values())
    impl = "plain-torch reference"
    def loss_of(x, y):
        return llama_ref.loss(llama_ref.forward(cfg, p, x), y)
opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0, foreach=False)
g = torch.Generator().manual_seed(1)
n = (len(data) - 1) // seq
times = []
for s in range(steps):
    idx = torch.randint(0, n, (batch,), generator=g) * seq
    x = torch.stack([data[i:i + seq] for i in idx]); y = torch.stack([data[i + 1:i + seq + 1] for i in idx])
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = loss_of(x, y)
    loss.backward()
    opt.step()
    times.append(time.perf_counter() - t0)
print(json.dumps({"impl": impl, "torch": torch.__version__, "step_s": times}))
"""


def torch_run(args, tmp, model_dir, steps):
    env = dict(os.environ, BENCH_OUT=os.path.join(tmp, "torch.out"))
    out, rss = peak_rss_of([sys.executable, "-c", TORCH_WORKER, ROOT, model_dir, str(args.batch),
                            str(args.seq), str(steps), str(args.threads), CORPUS], env)
    r = json.loads(out.strip().splitlines()[-1])
    r["peak_rss"] = rss
    return r


def mb(x):
    return f"{x / 2**20:8.1f} MiB"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--switch-every", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--recompute", action="store_true", help="engine recomputes activations above the active block")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each side N times, interleaved; report the median cycle time")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = os.path.join(tmp, "model")
        subprocess.run([os.path.join(args.build, "engine", "bcd-train"), "init", "--preset", args.preset,
                        "--out", model_dir, "--seed", "1"], check=True, capture_output=True)
        layers = json.load(open(os.path.join(model_dir, "config.json")))["num_hidden_layers"]
        blocks = layers + 2
        steps = blocks * args.switch_every  # one whole cycle: every block trains
        try:
            import torch  # noqa: F401
            have_torch = not args.no_torch
        except ImportError:
            print("PyTorch peer skipped: torch is not importable by", sys.executable)
            have_torch = False
        runs = {"bcd": [], "full": [], "torch": []}
        for _ in range(args.repeat):  # interleaved, so that a noisy moment hits every side alike
            runs["bcd"].append(engine_run(args, tmp, model_dir, "bcd", steps))
            runs["full"].append(engine_run(args, tmp, model_dir, "full", steps))
            if have_torch:
                runs["torch"].append(torch_run(args, tmp, model_dir, steps))

    def median_run(rs):
        return sorted(rs, key=lambda r: sum(r["step_s"]))[len(rs) // 2] if rs else None
    bcd, full, peer = median_run(runs["bcd"]), median_run(runs["full"]), median_run(runs["torch"])

    # The first step of each run pays one-off costs (page faults of fresh buffers, thread start);
    # they are in the totals, and the medians show the steady state.
    def total(r):
        return sum(r["step_s"])

    print(f"BCD vs full AdamW: {args.preset} ({layers} layers, {blocks} blocks), batch {args.batch} x seq "
          f"{args.seq}, {steps} steps = one block cycle (switch_every {args.switch_every}), "
          f"{args.threads} threads, fp32{', recompute' if args.recompute else ''}, median of {args.repeat}")
    print(f"{'':24}{'cycle time':>12}{'median step':>13}{'peak RSS':>14}")
    rows = [("engine BCD", bcd), ("engine full AdamW", full)] + ([("PyTorch full AdamW", peer)] if peer else [])
    for name, r in rows:
        print(f"  {name:22}{total(r):10.2f} s{statistics.median(r['step_s']):11.3f} s{mb(r['peak_rss']):>14}")
    print("  engine accounting (max over steps):")
    for k in ["weights", "gradients", "optimizer", "activations", "workspace", "total"]:
        print(f"    {k:12} BCD {mb(bcd['mem'][k])}   full {mb(full['mem'][k])}")
    ratios = {
        "bcd_over_full_time": total(bcd) / total(full),
        "bcd_over_full_peak_rss": bcd["peak_rss"] / full["peak_rss"],
        "bcd_over_full_engine_mem": bcd["mem"]["total"] / full["mem"]["total"],
    }
    if peer:
        ratios["engine_full_over_torch_time"] = total(full) / total(peer)
        ratios["engine_bcd_over_torch_time"] = total(bcd) / total(peer)
        ratios["engine_full_over_torch_peak_rss"] = full["peak_rss"] / peer["peak_rss"]
        ratios["engine_bcd_over_torch_peak_rss"] = bcd["peak_rss"] / peer["peak_rss"]
    print("ratios:")
    for k, v in ratios.items():
        print(f"  {k:34} {v:6.3f}")
    print(json.dumps({"bench": "bcd_vs_full", "preset": args.preset, "batch": args.batch, "seq": args.seq,
                      "steps": steps, "ratios": {k: round(v, 4) for k, v in ratios.items()},
                      "bcd": {k: bcd[k] for k in ("peak_rss", "mem")}, "full": {k: full[k] for k in ("peak_rss", "mem")},
                      "torch": {k: peer[k] for k in ("impl", "peak_rss")} if peer else None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

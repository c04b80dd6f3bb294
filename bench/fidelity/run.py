#!/usr/bin/env python3
"""BCD against full AdamW at equal cost: the fidelity bench (docs/training.md "BCD against full:
measured").

One command pre-trains the `small` preset on the Shakespeare sample (cached), fine-tunes it on a
different domain (the licence texts in /usr/share/common-licenses, 90/10 split) with full AdamW
and each BCD variant, and reports each variant's validation loss as a ratio to full's:

  - at equal wall time: full's steps × its time per step (the 20th percentile of step_s, so that
    other processes on a shared machine do not count; evaluation excluded), and
  - at equal executed FLOPs: full's steps × its FLOPs per step, the planner's FLOP model
    (`bcd-train plan --json`, flops_per_token × tokens per step) for each side,

each side at its best learning rate of the same grid (chosen separately for each budget), and the
same from scratch (pre-training on Shakespeare from the random initialisation, each method at its
best fine-tuning lr). A variant's run first trains to the FLOPs budget; the wall-time budget is
then reached by resuming it (bcd-train --resume with more steps: the constant schedule makes the
longer run the same run) or, when it is shorter, by a second run. Both values are final
evaluations over the whole validation text.

    /usr/bin/python3 bench/fidelity/run.py --build build [--quick] [--store FILE] [--out DIR]

writes OUT/table.md, OUT/results.json and OUT/fidelity.png (with python3-matplotlib). --store
re-runs each method's chosen run through `bcd-workbench --db FILE run launch --node local`, so that
the Compare page shows them as ordinary runs. --quick (the ctest `bench_fidelity_quick`) is the
same pipeline on the `tiny` preset, for a well-formed table in a minute or two: its numbers mean
nothing.
"""

import argparse
import glob
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SHAKESPEARE = os.path.join(ROOT, "resources", "sample", "shakespeare-train.txt")
SHAKESPEARE_VAL = os.path.join(ROOT, "resources", "sample", "shakespeare-val.txt")
LICENSES = "/usr/share/common-licenses"

# The methods: name -> the run config's bcd section. "full" is the peer every ratio is against.
# BAdam is the product's previous default (ascending, switch every 10 in this bench, reset).
METHODS = {
    "full": {"mode": "full"},
    "badam": {"order": "ascending", "switch_warmup_steps": 0},
    "badam+warmup": {"order": "ascending", "switch_warmup_steps": 3},
    "random+warmup": {"order": "random", "switch_warmup_steps": 3},
    "gamma2+warmup": {"order": "random", "active_blocks": 2, "switch_warmup_steps": 3},
    "lisa2": {"order": "lisa", "active_blocks": 2, "switch_warmup_steps": 0},
    "lisa2+warmup": {"order": "lisa", "active_blocks": 2, "switch_warmup_steps": 3},
    "importance+warmup": {"order": "importance", "switch_warmup_steps": 3},
}

DEFAULT_METHODS = ["badam", "badam+warmup", "gamma2+warmup", "lisa2+warmup", "importance+warmup"]

PROFILES = {
    # preset, seq, batch, pre-training steps and lr, full's fine-tuning steps, lr grid, K
    # Sized for ~10 min on 2 idle cores (what docs/training.md reports); --steps, --lrs, --seq,
    # --batch, --pre-steps and --methods make it larger.
    "default": {"preset": "small", "seq": 32, "batch": 4, "pre_steps": 150, "pre_lr": 1e-3,
                "steps": 30, "lrs": [5e-4, 1e-3, 3e-3], "switch_every": 10, "scratch_steps": 30,
                "val_bytes": 12000},
    "quick": {"preset": "tiny", "seq": 32, "batch": 4, "pre_steps": 30, "pre_lr": 3e-3,
              "steps": 16, "lrs": [1e-3, 3e-3], "switch_every": 2, "scratch_steps": 12,
              "val_bytes": 3000},
}


def find_engine(build):
    for p in (os.path.join(build, "engine", "bcd-train"), os.path.join(build, "bin", "bcd-train")):
        if os.access(p, os.X_OK):
            return os.path.abspath(p)
    hits = glob.glob(os.path.join(build, "**", "bcd-train"), recursive=True)
    hits = [h for h in hits if os.access(h, os.X_OK) and os.path.isfile(h)]
    if not hits:
        sys.exit(f"bench/fidelity: no bcd-train under {build} (build the target bcd-train)")
    return os.path.abspath(hits[0])


def sh(cmd, log):
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        # Passive OpenMP threads: on a shared machine, spinning threads of a descheduled team make a
        # step many times slower, which would turn the wall-time budget into a load measurement.
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    if r.returncode != 0:
        with open(log) as f:
            tail = f.read()[-3000:]
        sys.exit(f"bench/fidelity: failed ({r.returncode}): {' '.join(cmd)}\n{tail}")


def licence_split(cache, val_bytes):
    """The licence texts (each file once, names sorted), concatenated; the first 90 % train, the
    last 10 % validation, of which the first val_bytes are evaluated (an evaluation costs a
    forward over every validation token)."""
    seen, text = set(), b""
    for name in sorted(os.listdir(LICENSES)):
        p = os.path.realpath(os.path.join(LICENSES, name))
        if os.path.isfile(p) and p not in seen:
            seen.add(p)
            with open(p, "rb") as f:
                text += f.read()
    if len(text) < 20000:
        sys.exit(f"bench/fidelity: {LICENSES} holds only {len(text)} bytes of licence texts")
    cut = len(text) * 9 // 10
    train, val = os.path.join(cache, "licences-train.txt"), os.path.join(cache, "licences-val.txt")
    with open(train, "wb") as f:
        f.write(text[:cut])
    with open(val, "wb") as f:
        f.write(text[cut:cut + val_bytes])
    return train, val, len(text)


def metrics(run_dir):
    out = []
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        for line in f:
            if line.strip():
                out.append(json.loads(line))
    return out


def final_val(run_dir):
    ev = [r for r in metrics(run_dir) if r["t"] == "eval"]
    return ev[-1]["val_loss"], ev[-1]["step"]


def step_cost(run_dir):
    """Seconds per step: the 20th percentile of the step times (the first step excluded: it makes
    the buffers). Other processes on a shared machine only ever add time, so a low percentile
    estimates the step's own cost (as timeit's minimum does) where the mean measures the load."""
    s = sorted(r["step_s"] for r in metrics(run_dir) if r["t"] == "step" and r["step"] > 1)
    if not s:
        s = [r["step_s"] for r in metrics(run_dir) if r["t"] == "step"]
    return s[int(0.2 * (len(s) - 1))]


class Bench:
    def __init__(self, args, prof):
        self.args, self.p = args, prof
        self.engine = find_engine(args.build)
        self.cache = os.path.abspath(args.cache)
        self.runs = os.path.join(self.cache, "runs")
        os.makedirs(self.runs, exist_ok=True)
        self.log = os.path.join(self.cache, "bench.log")
        self.flops = {}

    def config(self, name, model, train, val, bcd, lr, steps):
        out = os.path.join(self.runs, name)
        bcd_full = {"switch_every": self.p["switch_every"], "reset_state_on_switch": True}
        bcd_full.update(bcd)
        cfg = {"model": {"path": model},
               "data": {"train": train, "val": val, "seq_len": self.p["seq"]},
               "optim": {"name": "adamw", "lr": lr, "weight_decay": 0.0, "schedule": "constant",
                         "grad_clip": 1.0},
               "train": {"steps": steps, "batch_size": self.p["batch"], "seed": self.args.seed},
               "bcd": bcd_full,
               "device": {"kind": "cpu", "threads": self.args.threads},
               "output": {"dir": out, "log_every": 1, "eval_every": 0, "checkpoint_every": 1000000,
                          "keep_checkpoints": 1}}
        path = os.path.join(self.runs, name + ".json")
        with open(path, "w") as f:
            json.dump(cfg, f, indent=1)
        return path, out, cfg

    def flops_per_step(self, cfg_path, mode):
        key = (cfg_path, mode)
        if key not in self.flops:
            r = subprocess.run([self.engine, "plan", "--config", cfg_path, "--json"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"bench/fidelity: bcd-train plan failed: {r.stderr.strip()}")
            j = json.loads(r.stdout)
            self.flops[key] = j["bcd" if mode != "full" else "full"]["flops_per_token"] * \
                self.p["seq"] * self.p["batch"]
        return self.flops[key]

    def train(self, cfg_path, out, resume=False):
        if not resume and os.path.exists(out):
            shutil.rmtree(out)
        sh([self.engine, "train", "--config", cfg_path] + (["--resume"] if resume else []), self.log)

    def pretrained(self):
        p = self.p
        key = hashlib.sha256(json.dumps([p["preset"], p["seq"], p["batch"], p["pre_steps"], p["pre_lr"],
                                         os.path.getsize(SHAKESPEARE)]).encode()).hexdigest()[:12]
        done = os.path.join(self.cache, f"pretrained-{key}")
        final = os.path.join(done, "run", "final")
        if os.path.exists(os.path.join(final, "model.safetensors")):
            print(f"pre-trained model (cached): {final}")
            return final
        shutil.rmtree(done, ignore_errors=True)
        os.makedirs(done)
        init = os.path.join(done, "init")
        sh([self.engine, "init", "--preset", p["preset"], "--out", init, "--seed", "1"], self.log)
        cfg = {"model": {"path": init}, "data": {"train": SHAKESPEARE, "seq_len": p["seq"]},
               "optim": {"lr": p["pre_lr"], "warmup_steps": max(1, p["pre_steps"] // 20),
                         "schedule": "cosine", "min_lr": p["pre_lr"] / 10, "weight_decay": 0.0},
               "train": {"steps": p["pre_steps"], "batch_size": p["batch"], "seed": 1},
               "bcd": {"mode": "full"}, "device": {"kind": "cpu", "threads": self.args.threads},
               "output": {"dir": os.path.join(done, "run"), "log_every": 10}}
        with open(os.path.join(done, "run.json"), "w") as f:
            json.dump(cfg, f, indent=1)
        t0 = time.time()
        self.train(os.path.join(done, "run.json"), os.path.join(done, "run"))
        print(f"pre-trained {p['preset']} for {p['pre_steps']} steps in {time.time() - t0:.0f} s")
        return final

    def compare(self, tag, model, train, val, lrs, steps, methods):
        """Full at each lr for `steps` steps, then each method to full's FLOPs and wall time."""
        res = {}
        full_time, full_flops = {}, None
        lrs_of = (lambda m: lrs[m]) if isinstance(lrs, dict) else (lambda m: lrs)
        for lr in lrs_of("full"):
            path, out, _ = self.config(f"{tag}-full-{lr:g}", model, train, val, METHODS["full"], lr, steps)
            self.train(path, out)
            secs = steps * step_cost(out)
            full_time[lr] = secs
            full_flops = self.flops_per_step(path, "full") * steps
            vl, _ = final_val(out)
            res.setdefault("full", []).append({"lr": lr, "time": {"val": vl, "steps": steps, "s": secs},
                                               "flops": {"val": vl, "steps": steps, "flops": full_flops},
                                               "config": path})
        # One wall-time budget for every method: full's mean over its lrs.
        budget_s = sum(full_time.values()) / len(full_time)
        for m in methods:
            if m == "full":
                continue
            for lr in lrs_of(m):
                name = f"{tag}-{m}-{lr:g}"
                path, out, _ = self.config(name, model, train, val, METHODS[m], lr, steps)
                fps = self.flops_per_step(path, "bcd")
                n_flops = max(1, int(round(full_flops / fps)))
                path, out, _ = self.config(name, model, train, val, METHODS[m], lr, n_flops)
                self.train(path, out)
                v_flops, _ = final_val(out)
                cost = step_cost(out)
                n_time = max(1, int(round(budget_s / cost)))
                if n_time > n_flops:
                    path_t, _, _ = self.config(name, model, train, val, METHODS[m], lr, n_time)
                    self.train(path_t, out, resume=True)
                    v_time, _ = final_val(out)
                    t_path = path_t
                elif n_time < n_flops:
                    path_t, out_t, _ = self.config(name + "-t", model, train, val, METHODS[m], lr, n_time)
                    self.train(path_t, out_t)
                    v_time, _ = final_val(out_t)
                    t_path = path_t
                else:
                    v_time, t_path = v_flops, path
                res.setdefault(m, []).append({
                    "lr": lr,
                    "time": {"val": v_time, "steps": n_time, "s": n_time * cost, "config": t_path},
                    "flops": {"val": v_flops, "steps": n_flops, "flops": n_flops * fps, "config": path},
                    "step_s": cost, "config": path})
                print(f"  {tag} {m:<18} lr {lr:<7g} equal FLOPs: {n_flops:>4} steps, val {v_flops:.4f}; "
                      f"equal time: {n_time:>4} steps, val {v_time:.4f}", flush=True)
        return res, budget_s, full_flops


def best(rows, budget):
    return min(rows, key=lambda r: r[budget]["val"])


def summarise(res):
    out = {}
    for m, rows in res.items():
        bt, bf = best(rows, "time"), best(rows, "flops")
        out[m] = {"time": {"lr": bt["lr"], "val": bt["time"]["val"], "steps": bt["time"]["steps"],
                           "config": bt["time"].get("config", bt["config"])},
                  "flops": {"lr": bf["lr"], "val": bf["flops"]["val"], "steps": bf["flops"]["steps"],
                            "config": bf["flops"].get("config", bf["config"])}}
    for m in out:
        for b in ("time", "flops"):
            out[m][b]["ratio"] = out[m][b]["val"] / out["full"][b]["val"]
    return out


def table(title, s, budget_s, grid):
    lines = [f"### {title}", "",
             f"Full: {s['full']['time']['steps']} steps ({budget_s:.1f} s of steps at the 20th-percentile step time); "
             f"lr grid {grid}.", "",
             "| method | equal wall time: val loss | / full | lr | steps | equal FLOPs: val loss | / full | lr | steps |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m, r in s.items():
        t, f = r["time"], r["flops"]
        lines.append(f"| {m} | {t['val']:.4f} | {t['ratio']:.3f} | {t['lr']:g} | {t['steps']} | "
                     f"{f['val']:.4f} | {f['ratio']:.3f} | {f['lr']:g} | {f['steps']} |")
    return "\n".join(lines) + "\n"


def plot(summaries, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        print(f"no plot: matplotlib is not installed ({e}); apt install python3-matplotlib")
        return False
    fig, axes = plt.subplots(1, len(summaries), figsize=(6 * len(summaries), 4.2), squeeze=False)
    for ax, (title, s) in zip(axes[0], summaries):
        names = [m for m in s if m != "full"]
        x = range(len(names))
        ax.bar([i - 0.2 for i in x], [s[m]["time"]["ratio"] for m in names], 0.4, label="equal wall time")
        ax.bar([i + 0.2 for i in x], [s[m]["flops"]["ratio"] for m in names], 0.4, label="equal FLOPs")
        ax.axhline(1.0, color="black", linewidth=1)
        ax.axhline(1.02, color="gray", linewidth=1, linestyle="--", label="full + 2 %")
        lo = min(min(s[m]["time"]["ratio"], s[m]["flops"]["ratio"]) for m in names)
        hi = max(max(s[m]["time"]["ratio"], s[m]["flops"]["ratio"]) for m in names)
        ax.set_ylim(min(0.98, lo - 0.01), max(1.05, hi + 0.01))
        ax.set_xticks(list(x))
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("validation loss / full AdamW's")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def store_runs(args, summaries_cfgs):
    wb = args.workbench or shutil.which("bcd-workbench")
    if not wb:
        cand = glob.glob(os.path.join(args.build, "**", "bcd-workbench"), recursive=True)
        wb = next((c for c in cand if os.access(c, os.X_OK) and os.path.isfile(c)), None)
    if not wb:
        sys.exit("bench/fidelity: --store needs bcd-workbench (build the workbench, or pass --workbench)")
    for name, cfg_path in summaries_cfgs:
        with open(cfg_path) as f:
            cfg = json.load(f)
        cfg["output"]["dir"] = cfg["output"]["dir"] + "-store"
        shutil.rmtree(cfg["output"]["dir"], ignore_errors=True)
        p = cfg_path.replace(".json", "-store.json")
        with open(p, "w") as f:
            json.dump(cfg, f, indent=1)
        r = subprocess.run([wb, "--db", args.store, "run", "launch", "--config", p, "--node", "local",
                            "--name", name, "--tag", "fidelity"], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"bench/fidelity: bcd-workbench run launch failed: {r.stderr.strip()[-2000:]}")
        print(f"stored {name}: run {r.stdout.strip().splitlines()[-1]}")


def check_output(out_dir, methods, scratch):
    """The table has one row per method per section with finite, positive numbers; results.json
    agrees with it; full's ratios are 1."""
    problems = []
    with open(os.path.join(out_dir, "table.md")) as f:
        lines = f.read().splitlines()
    sections = [i for i, l in enumerate(lines) if l.startswith("### ")]
    if len(sections) != (2 if scratch else 1):
        problems.append(f"table.md has {len(sections)} sections")
    with open(os.path.join(out_dir, "results.json")) as f:
        res = json.load(f)
    for i, key in zip(sections, ["fine_tune", "scratch"]):
        rows = []
        for l in lines[i + 1:]:
            if l.startswith("### "):
                break
            if l.startswith("| ") and not l.startswith("| method") and not l.startswith("|---"):
                rows.append([c.strip() for c in l.strip("|").split("|")])
        if [r[0] for r in rows] != methods:
            problems.append(f"{key}: rows {[r[0] for r in rows]}, expected {methods}")
        for r in rows:
            if len(r) != 9:
                problems.append(f"{key}: row {r} has {len(r)} cells, expected 9")
                continue
            try:
                nums = [float(x) for x in r[1:]]
            except ValueError:
                problems.append(f"{key}: row {r} holds a non-number")
                continue
            if not all(math.isfinite(x) and x > 0 for x in nums):
                problems.append(f"{key}: row {r} holds a non-finite or non-positive number")
            best_row = res[key]["best"].get(r[0])
            if best_row is None or abs(best_row["time"]["ratio"] - nums[1]) > 5e-4:
                problems.append(f"{key}: row {r[0]} disagrees with results.json")
        if rows and rows[0][0] == "full" and (rows[0][2] != "1.000" or rows[0][6] != "1.000"):
            problems.append(f"{key}: full's ratios are not 1")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--quick", action="store_true", help="tiny preset, few steps (CI)")
    ap.add_argument("--cache", default=None, help="runs and the pre-trained model (default BUILD/bench-fidelity[-quick])")
    ap.add_argument("--out", default=None, help="table.md, results.json, fidelity.png (default: the cache)")
    # One thread per run: on a shared machine a 2-thread OpenMP team that loses a core slows down
    # many times over, and the wall-time budget would measure the other users.
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--methods", default=None,
                    help=f"comma-separated, of {', '.join(METHODS)} (default: {', '.join(DEFAULT_METHODS)}; "
                         "--quick: all)")
    ap.add_argument("--steps", type=int, default=None, help="full's fine-tuning steps")
    ap.add_argument("--lrs", default=None, help="comma-separated lr grid")
    ap.add_argument("--no-scratch", action="store_true")
    ap.add_argument("--seed", type=int, default=1, help="train.seed of the compared runs (data order, "
                    "random block orders); the pre-training keeps seed 1")
    ap.add_argument("--preset", default=None)
    ap.add_argument("--seq", type=int, default=None)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--pre-steps", type=int, default=None, help="pre-training steps")
    ap.add_argument("--store", default=None, help="a workbench store (SQLite file) to launch the chosen runs into")
    ap.add_argument("--workbench", default=None, help="the bcd-workbench executable for --store")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless table.md and results.json are well formed (the ctest)")
    ap.add_argument("--replot", default=None, metavar="DIR",
                    help="only draw DIR/fidelity.png again from DIR/results.json")
    args = ap.parse_args()
    if args.replot:
        with open(os.path.join(args.replot, "results.json")) as f:
            r = json.load(f)
        pre = r["profile"]["preset"]
        summaries = [(f"fine-tuning ({pre}, pre-trained on Shakespeare, licence texts)", r["fine_tune"]["best"])]
        if "scratch" in r:
            summaries.append((f"from scratch ({pre}, Shakespeare)", r["scratch"]["best"]))
        sys.exit(0 if plot(summaries, os.path.join(args.replot, "fidelity.png")) else 1)
    prof = dict(PROFILES["quick" if args.quick else "default"])
    if args.steps:
        prof["steps"] = prof["scratch_steps"] = args.steps
    for k in ("preset", "seq", "batch", "pre_steps"):
        if getattr(args, k) is not None:
            prof[k] = getattr(args, k)
    if args.lrs:
        prof["lrs"] = [float(x) for x in args.lrs.split(",")]
    args.cache = args.cache or os.path.join(args.build, "bench-fidelity" + ("-quick" if args.quick else ""))
    out_dir = os.path.abspath(args.out or args.cache)
    os.makedirs(out_dir, exist_ok=True)
    chosen = args.methods.split(",") if args.methods else (list(METHODS) if args.quick else DEFAULT_METHODS)
    methods = ["full"] + [m for m in chosen if m != "full"]
    for m in methods:
        if m not in METHODS:
            sys.exit(f"bench/fidelity: unknown method {m!r} (expected one of {', '.join(METHODS)})")

    t0 = time.time()
    b = Bench(args, prof)
    os.makedirs(b.cache, exist_ok=True)
    train, val, nbytes = licence_split(b.cache, prof["val_bytes"])
    pre = b.pretrained()
    print(f"fine-tuning on the licence texts ({nbytes} bytes, 90/10), {prof['preset']}, batch "
          f"{prof['batch']} x {prof['seq']}, full {prof['steps']} steps, lrs {prof['lrs']}", flush=True)
    ft, ft_budget, _ = b.compare("ft", pre, train, val, prof["lrs"], prof["steps"], methods)
    ft_s = summarise(ft)
    results = {"profile": prof, "methods": {m: METHODS[m] for m in methods},
               "fine_tune": {"budget_s": ft_budget, "runs": ft, "best": ft_s}}
    summaries = [(f"fine-tuning ({prof['preset']}, pre-trained on Shakespeare, licence texts)", ft_s)]
    md = ["# BCD against full AdamW at equal cost", "",
          f"`{' '.join(['python3', 'bench/fidelity/run.py'] + sys.argv[1:])}` — CPU, {args.threads} threads; "
          f"ratio = the method's validation loss / full AdamW's at the same budget, each at its best lr.", "",
          table("Fine-tuning", ft_s, ft_budget, prof["lrs"])]
    def write(md_lines):
        with open(os.path.join(out_dir, "table.md"), "w") as f:
            f.write("\n".join(md_lines))
        with open(os.path.join(out_dir, "results.json"), "w") as f:
            json.dump(results, f, indent=1)

    write(md)  # the fine-tuning table stands on its own should the rest be interrupted
    if not args.no_scratch:
        # From scratch: pre-training on Shakespeare from the random initialisation, each method at
        # its best fine-tuning lr (the equal-time choice).
        init = os.path.join(os.path.dirname(os.path.dirname(pre)), "init")
        sval = os.path.join(b.cache, "shakespeare-val.txt")
        with open(SHAKESPEARE_VAL, "rb") as f, open(sval, "wb") as g:
            g.write(f.read(prof["val_bytes"]))
        lrs = {m: [ft_s[m]["time"]["lr"]] for m in methods}
        print(f"from scratch on Shakespeare, full {prof['scratch_steps']} steps", flush=True)
        sc, sc_budget, _ = b.compare("scratch", init, SHAKESPEARE, sval, lrs, prof["scratch_steps"], methods)
        sc_s = summarise(sc)
        results["scratch"] = {"budget_s": sc_budget, "runs": sc, "best": sc_s}
        summaries.append((f"from scratch ({prof['preset']}, Shakespeare)", sc_s))
        md.append(table("From scratch (pre-training), each method at its fine-tuning lr", sc_s, sc_budget,
                        "each method's best fine-tuning lr"))
    results["elapsed_s"] = time.time() - t0
    md.append(f"Bench time: {results['elapsed_s'] / 60:.1f} min.\n")
    write(md)
    plotted = plot(summaries, os.path.join(out_dir, "fidelity.png"))
    print("\n".join(md))
    print(f"wrote {out_dir}/table.md, results.json" + (", fidelity.png" if plotted else ""))
    if args.check:
        problems = check_output(out_dir, methods, not args.no_scratch)
        for p in problems:
            print(f"CHECK FAILED: {p}")
        if problems:
            sys.exit(1)
        print("check: table.md and results.json are well formed")
    if args.store:
        store_runs(args, [(f"fidelity {m} lr {ft_s[m]['time']['lr']:g}", ft_s[m]["time"]["config"])
                          for m in methods])


if __name__ == "__main__":
    main()

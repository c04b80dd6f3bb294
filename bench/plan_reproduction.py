#!/usr/bin/env python3
"""The planner's reproduction of the published setting (arXiv 2506.12037, Liu et al. 2025).

A 7B model with Llama-2 shapes on 8 x RTX 4090 and on 8 x A100-80GB (and 8 x A800-80GB), full
training against BCD, as `bcd-train plan` predicts it: whether full training fits and with what
sharding or offload, hours and dollars per billion tokens, and the BCD / full cost ratio beside
the paper's 33 % (A100/A800) and 2.6 % (RTX 4090). docs/planner.md#reproduction explains the
differences.

Three full-training baselines are planned for each cluster:
  best      the planner's choice: the fastest setting that fits (ZeRO stage, offload,
            micro-batch, recomputation searched);
  zero3+rc  ZeRO-3 with activation recomputation, as DeepSpeed recipes for 7B models commonly run;
  offload   ZeRO-3 with the optimizer state offloaded to host memory (ZeRO-Offload).
BCD is always the planner's choice.

    /usr/bin/python3 bench/plan_reproduction.py --build build [--seq 2048] [--batch 4] [--accum 8]
        [--efficiency 0.4] [--markdown]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")

# meta-llama/Llama-2-7b-hf's config.json (the shapes are what matter to the planner).
LLAMA2_7B = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 32000,
    "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 32, "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False,
    "torch_dtype": "float16", "bos_token_id": 1, "eos_token_id": 2,
}

CLUSTERS = [("8 x RTX 4090", "RTX 4090 x8", 0.026), ("8 x A100-80GB", "A100-80GB x8", 0.33),
            ("8 x A800-80GB", "A800-80GB x8", 0.33)]


def plan(exe, cfg, gpu, extra, env):
    out = subprocess.run([exe, "plan", "--config", cfg, "--gpu", gpu, "--json"] + extra,
                         check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out)


def setting(p):
    s = []
    if p["mode"] == "full":
        s.append("DDP" if p["sharding"] == "none" else p["sharding"].replace("zero", "ZeRO-"))
        if p["offload"] != "none":
            s.append("offload " + p["offload"])
    else:
        s.append("%s layer/block" % p["layers_per_block"])
    s.append("micro %d" % p["micro_batch"])
    if p["recompute"]:
        s.append("recompute")
    return ", ".join(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=4, help="windows per micro-batch per GPU")
    ap.add_argument("--accum", type=int, default=8, help="micro-batches per step")
    ap.add_argument("--efficiency", type=float, default=None, help="fraction of the dense peak (default: the planner's)")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = ap.parse_args()
    exe = os.path.join(args.build, "engine", "bcd-train")
    if not os.access(exe, os.X_OK):
        sys.exit("no bcd-train at %s (build first, or pass --build)" % exe)

    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "llama2-7b"))
        with open(os.path.join(tmp, "llama2-7b", "config.json"), "w") as f:
            json.dump(LLAMA2_7B, f)
        with open(os.path.join(tmp, "train.txt"), "w") as f:
            f.write("planning only\n")
        base = {"model": {"path": "llama2-7b"},
                "data": {"train": "train.txt", "seq_len": args.seq, "tokenizer": "byte"},
                "train": {"batch_size": args.batch, "grad_accum": args.accum, "precision": "bf16"},
                "bcd": {"layers_per_block": 1, "switch_every": 50},
                "output": {"dir": "run"}}
        cfg = os.path.join(tmp, "run.json")
        cfg_rc = os.path.join(tmp, "run-recompute.json")
        with open(cfg, "w") as f:
            json.dump(base, f)
        base["train"]["recompute"] = True
        with open(cfg_rc, "w") as f:
            json.dump(base, f)
        env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(tmp, "xdg"))  # the built-in tables only
        extra = ["--efficiency", str(args.efficiency)] if args.efficiency else []

        rows = []
        for label, gpu, paper in CLUSTERS:
            best = plan(exe, cfg, gpu, extra, env)
            bcd = best["bcd"]
            fulls = [("best", best["full"]),
                     ("zero3+rc", plan(exe, cfg_rc, gpu, extra + ["--sharding", "zero3"], env)["full"]),
                     ("offload", plan(exe, cfg, gpu, extra + ["--sharding", "zero3", "--offload", "optimizer"], env)["full"])]
            ddp = next(a for a in best["full"]["alternatives"] if a["sharding"] == "none" and a["offload"] == "none")
            for name, full in fulls:
                ratio = (bcd["usd_per_billion_tokens"] / full["usd_per_billion_tokens"]
                         if full["fits"] and bcd["fits"] else None)
                rows.append((label, name, full, bcd, ratio, paper, ddp))

    tokens_step = args.batch * args.accum * args.seq * 8
    print("7B (Llama-2 shapes), seq_len %d, %d x %d windows per GPU per step (%d tokens per step on 8 GPUs), "
          "bf16 mixed precision, AdamW; efficiency %s of the dense bf16 peak; prices of %s" %
          (args.seq, args.batch, args.accum, tokens_step, rows[0][2]["efficiency"],
           "the built-in table (resources/gpu-prices.json)"))
    header = ["cluster", "full baseline", "full fits (DDP?)", "full setting", "full h/1e9 tok", "full $/1e9 tok",
              "BCD setting", "BCD h/1e9 tok", "BCD $/1e9 tok", "BCD/full cost", "paper"]
    table = []
    for label, name, full, bcd, ratio, paper, ddp in rows:
        table.append([label, name,
                      ("yes" if full["fits"] else "no") + (" (DDP: %s)" % ("yes" if ddp["fits"] else "no")),
                      setting(full), "%.1f" % full["hours_per_billion_tokens"],
                      "%.0f" % full["usd_per_billion_tokens"], setting(bcd),
                      "%.1f" % bcd["hours_per_billion_tokens"], "%.0f" % bcd["usd_per_billion_tokens"],
                      "%.2f" % ratio if ratio is not None else "-", "%.3g" % paper])
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in table:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(header)]
        print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        for r in table:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    print("\npeak per GPU (GiB), planner's choice:")
    for label, name, full, bcd, ratio, paper, ddp in rows:
        if name == "best":
            print("  %-14s full %.2f of %.2f usable (DDP would need %.2f)   BCD %.2f (worst block %s)" %
                  (label, full["peak_bytes"] / 2**30, full["usable_bytes"] / 2**30, ddp["peak_bytes"] / 2**30,
                   bcd["peak_bytes"] / 2**30, bcd["worst_block"]["name"]))


if __name__ == "__main__":
    main()

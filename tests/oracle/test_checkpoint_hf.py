#!/usr/bin/env python3
"""Checkpoints and final models written by bcd-train load unchanged in HF transformers.

A tiny Llama (GQA, untied) and a tiny Qwen2 (biases, tied) are initialised by `bcd-train init` —
the Qwen2 one written in shards through model.safetensors.index.json — trained for a few steps
by `bcd-train train` with a checkpoint, and then the checkpoint and `final/` are loaded by
`transformers.AutoModelForCausalLM.from_pretrained` (which must report no missing or unexpected
weights) and must give the engine's logits (engine_dump) on the same tokens, relative error
<= 1e-4. Exit 0 pass, 1 fail, 77 skipped (transformers not importable).

    python test_checkpoint_hf.py --bcd-train PATH --engine-dump PATH --work-dir DIR
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import torch
    import transformers
except ImportError as e:
    print(f"SKIPPED: transformers not importable by {sys.executable} ({e}); PyPI unreachable or not installed")
    sys.exit(77)

transformers.utils.logging.disable_progress_bar()

import oracle_common as oc  # noqa: E402
import st_io  # noqa: E402


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"FAILED: {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return r.stdout


def engine_logits(dump, model_dir, tokens, work):
    tok_path = os.path.join(work, "tokens.json")
    with open(tok_path, "w") as f:
        json.dump({"inputs": tokens, "targets": tokens}, f)
    out = os.path.join(work, "dump.safetensors")
    run([dump, "--model", model_dir, "--tokens", tok_path, "--out", out])
    return st_io.load(out)["logits"].double()


def hf_logits(model_dir, tokens):
    model, info = transformers.AutoModelForCausalLM.from_pretrained(
        model_dir, torch_dtype=torch.float32, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    if bad:
        raise AssertionError(f"{model_dir}: transformers reports {bad}")
    with torch.no_grad():
        return model(input_ids=torch.tensor(tokens)).logits.double()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bcd-train", required=True)
    ap.add_argument("--engine-dump", required=True)
    ap.add_argument("--work-dir")
    args = ap.parse_args()
    work = args.work_dir or tempfile.mkdtemp(prefix="bcd-ckpt-hf-")
    os.makedirs(work, exist_ok=True)
    text = os.path.join(work, "train.txt")
    with open(os.path.join(HERE, "..", "..", "resources", "sample", "shakespeare-train.txt"), "rb") as f:
        data = f.read(40000)
    with open(text, "wb") as f:
        f.write(data)
    g = torch.Generator().manual_seed(7)
    tokens = torch.randint(0, 256, (2, 24), generator=g).tolist()
    failures = []
    for name in ["llama", "qwen2"]:
        case = os.path.join(work, name)
        model = os.path.join(case, "model")
        if os.path.exists(case):
            import shutil
            shutil.rmtree(case)
        os.makedirs(case)
        if name == "llama":
            # The engine's own writer, in shards: HF must read model.safetensors.index.json.
            run([args.bcd_train, "init", "--preset", "tiny", "--out", model, "--seed", "2",
                 "--shard-size", "60000"])
            shards = [f for f in os.listdir(model) if f.startswith("model-")]
            if len(shards) < 2:
                failures.append(f"{name}: --shard-size did not shard the model ({shards})")
            ours = engine_logits(args.engine_dump, model, tokens, case)
            theirs = hf_logits(model, tokens)
            err = ((ours - theirs).norm() / theirs.norm()).item()
            print(f"{name:6} {'init, ' + str(len(shards)) + ' shards':28} logits relative error {err:.2e}")
            if err > 1e-4:
                failures.append(f"{name} sharded init: {err:.2e}")
        else:
            # Qwen2 with q/k/v biases and tied embeddings, byte vocabulary.
            cfg = dict(oc.MODELS["qwen2"]["config"], vocab_size=256)
            oc.write_model_dir(model, cfg, 5)
        cfg_path = os.path.join(case, "run.json")
        json.dump({"model": {"path": model}, "data": {"train": text, "seq_len": 32},
                   "optim": {"lr": 1e-2}, "train": {"steps": 4, "batch_size": 2},
                   "bcd": {"mode": "full"}, "device": {"threads": 2},
                   "output": {"dir": os.path.join(case, "run"), "checkpoint_every": 2}}, open(cfg_path, "w"))
        run([args.bcd_train, "train", "--config", cfg_path])
        for folder in ["checkpoints/step-00000002", "final"]:
            d = os.path.join(case, "run", folder)
            try:
                ours = engine_logits(args.engine_dump, d, tokens, case)
                theirs = hf_logits(d, tokens)
                err = ((ours - theirs).norm() / theirs.norm()).item()
                status = "ok" if err <= 1e-4 else "FAIL"
                print(f"{name:6} {folder:28} logits relative error {err:.2e}  {status}")
                if err > 1e-4:
                    failures.append(f"{name} {folder}: {err:.2e}")
            except AssertionError as e:
                failures.append(str(e))
                print(f"{name:6} {folder:28} {e}")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())

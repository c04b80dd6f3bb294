#!/usr/bin/env python3
"""Forward + backward throughput of the engine against PyTorch on the same model, batch and threads.

Both sides run in this one invocation, on the same machine, so the printed ratio is meaningful
where absolute numbers are not. The PyTorch peer is Hugging Face's LlamaForCausalLM when
transformers is importable (what users would otherwise run), else the independent plain-torch
reference of tests/oracle/llama_ref.py. Both use fp32 and the same number of threads.

    /usr/bin/python3 bench/fwdbwd_vs_torch.py --build build [--preset small] [--batch 8] [--seq 256]
        [--threads 2] [--iters 5]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "oracle"))


def engine_run(args, model_dir):
    cmd = [os.path.join(args.build, "bench", "bench_fwdbwd"), "--model", model_dir,
           "--batch", str(args.batch), "--seq", str(args.seq), "--threads", str(args.threads),
           "--warmup", str(args.warmup), "--iters", str(args.iters)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def torch_model(model_dir):
    """(name, callable(inputs, targets) -> loss) of the PyTorch peer."""
    import torch
    try:
        import transformers
        model = transformers.AutoModelForCausalLM.from_pretrained(
            model_dir, torch_dtype=torch.float32, attn_implementation="eager")
        model.train()

        def step(inputs, targets):
            logits = model(input_ids=inputs).logits
            return torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        return f"transformers {transformers.__version__} LlamaForCausalLM (eager attention)", step, model.parameters
    except ImportError:
        import llama_ref
        cfg, params = llama_ref.load_model(model_dir, dtype=torch.float32)

        def step(inputs, targets):
            return llama_ref.loss(llama_ref.forward(cfg, params, inputs), targets)
        return "plain-torch reference (tests/oracle/llama_ref.py)", step, lambda: params.values()


def torch_run(args, model_dir):
    import torch
    torch.set_num_threads(args.threads)
    name, step, parameters = torch_model(model_dir)
    g = torch.Generator().manual_seed(1)
    vocab = json.load(open(os.path.join(model_dir, "config.json")))["vocab_size"]
    inputs = torch.randint(0, vocab, (args.batch, args.seq), generator=g)
    targets = torch.randint(0, vocab, (args.batch, args.seq), generator=g)
    times = []
    for i in range(args.warmup + args.iters):
        for p in parameters():
            p.grad = None
        t0 = time.perf_counter()
        loss = step(inputs, targets)
        loss.backward()
        dt = time.perf_counter() - t0
        if i >= args.warmup:
            times.append(dt)
    median = statistics.median(times)
    return {"impl": name, "step_s": median, "tok_s": args.batch * args.seq / median,
            "torch": torch.__version__}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--preset", default="small")
    ap.add_argument("--model", help="an existing model folder instead of --preset")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3,
                    help="alternate engine and PyTorch this many times; medians of the rounds")
    args = ap.parse_args()
    try:
        import torch  # noqa: F401
    except ImportError:
        print("SKIPPED: torch is not importable by", sys.executable)
        return 77

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model
        if not model_dir:
            model_dir = os.path.join(tmp, args.preset)
            subprocess.run([os.path.join(args.build, "engine", "bcd-train"), "init", "--preset",
                            args.preset, "--out", model_dir, "--seed", "1"], check=True,
                           capture_output=True)
        # Alternating rounds spread a noisy moment of the machine over both sides.
        ours_r, peer_r = [], []
        for _ in range(args.rounds):
            ours_r.append(engine_run(args, model_dir))
            peer_r.append(torch_run(args, model_dir))
        ours = sorted(ours_r, key=lambda r: r["step_s"])[len(ours_r) // 2]
        peer = sorted(peer_r, key=lambda r: r["step_s"])[len(peer_r) // 2]

    print(f"forward+backward, {args.preset if not args.model else args.model}, batch {args.batch} x seq "
          f"{args.seq}, {args.threads} threads, fp32, median of {args.rounds} rounds of {args.iters} steps")
    print(f"  bcd-engine (CPU backend)      {ours['step_s']:8.3f} s/step  {ours['tok_s']:9.1f} tok/s")
    print(f"  PyTorch {peer['torch']:<21} {peer['step_s']:8.3f} s/step  {peer['tok_s']:9.1f} tok/s"
          f"   [{peer['impl']}]")
    ratio = ours["tok_s"] / peer["tok_s"]
    print(f"  ratio engine / PyTorch tokens/s: {ratio:.2f}x")
    print(json.dumps({"bench": "fwdbwd_vs_torch", "ratio": round(ratio, 3), "engine": ours, "peer": peer}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

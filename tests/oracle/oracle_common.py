"""Shared helpers of the oracle tests: the test models, their folders and token files, running the
engine's dump tool, and comparing tensors.

Everything is seeded, so a failing model can be regenerated and inspected by hand (the test keeps
its work directory when given --work-dir).
"""

import json
import os
import subprocess

import torch

try:
    from . import llama_ref, st_io
except ImportError:
    import llama_ref
    import st_io

# Per-tensor tolerance of the engine (float32) against the reference: ||engine - ref|| / ||ref||.
REL_TOL = 1e-4

# The three test models.  Small enough for a fast float64 reference, but each exercises a different
# part of the contract: (a) GQA, untied head, Llama 3 RoPE scaling (all three frequency bands are hit:
# head_dim 12 gives wavelengths 6.3, 56, 499, ... against 64/4 and 64/1); (b) Qwen2 q/k/v biases, tied
# embedding, plain multi-head attention; (c) Mistral with GQA (group 4) and an explicit head_dim that
# differs from hidden/heads (48/8 = 6, head_dim 8), as in Mistral-Nemo.
MODELS = {
    "llama": {
        "config": {
            "architectures": ["LlamaForCausalLM"], "model_type": "llama",
            "vocab_size": 128, "hidden_size": 48, "intermediate_size": 96,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 12,
            "hidden_act": "silu", "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
            "rope_theta": 500000.0,
            "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
            "attention_bias": False, "mlp_bias": False, "tie_word_embeddings": False,
            "torch_dtype": "float32",
        },
        "batch": 2, "seq": 16, "seed": 101,
    },
    "qwen2": {
        "config": {
            "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
            "vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
            "hidden_act": "silu", "max_position_embeddings": 256, "rms_norm_eps": 1e-6,
            "rope_theta": 1000000.0, "use_sliding_window": False, "sliding_window": 4096,
            "max_window_layers": 2, "tie_word_embeddings": True, "torch_dtype": "float32",
        },
        "batch": 2, "seq": 12, "seed": 202,
    },
    "mistral": {
        "config": {
            "architectures": ["MistralForCausalLM"], "model_type": "mistral",
            "vocab_size": 256, "hidden_size": 48, "intermediate_size": 80,
            "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 8,
            "hidden_act": "silu", "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0, "sliding_window": None, "tie_word_embeddings": False,
            "torch_dtype": "float32",
        },
        "batch": 2, "seq": 10, "seed": 303,
    },
}


# ----------------------------------------------------------------------------- inputs

def random_weights(cfg, seed):
    """Seeded random weights for every parameter, float32.

    Matrices ~ normal(0, s) with s drawn in [0.1, 0.5] per tensor (different scales catch errors that
    a single scale hides); norm weights 1 + 0.1 randn (never exactly 1, so a skipped multiply shows);
    biases 0.1 randn (non-zero)."""
    gen = torch.Generator().manual_seed(seed)
    weights = {}
    for name, shape in llama_ref.param_shapes(cfg).items():
        if name.endswith("norm.weight"):
            w = 1 + 0.1 * torch.randn(shape, generator=gen)
        elif name.endswith(".bias"):
            w = 0.1 * torch.randn(shape, generator=gen)
        else:
            std = 0.1 + 0.4 * torch.rand((), generator=gen).item()
            w = std * torch.randn(shape, generator=gen)
        weights[name] = w.float()
    return weights


def write_model_dir(path, config, seed):
    """config.json + model.safetensors (F32, written by st_io) with seeded random weights."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    weights = random_weights(llama_ref.parse_config(config), seed)
    st_io.save(os.path.join(path, "model.safetensors"), weights)
    return weights


def random_tokens(vocab, batch, seq, seed):
    """(inputs, targets) as lists of lists: random ids; about a quarter of the targets are -100,
    including the first two positions of row 0 (as a masked prompt would be)."""
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randint(0, vocab, (batch, seq), generator=gen)
    targets = torch.randint(0, vocab, (batch, seq), generator=gen)
    targets[torch.rand(batch, seq, generator=gen) < 0.25] = -100
    targets[0, :2] = -100
    targets[-1, -1] = int(inputs[-1, -1])  # at least one counted target, whatever the draw
    return inputs.tolist(), targets.tolist()


def write_tokens(path, inputs, targets):
    with open(path, "w") as f:
        json.dump({"inputs": inputs, "targets": targets}, f)


def prepare(work_dir, name):
    """Write model `name`'s folder and token file under work_dir/name.

    Returns dict(model_dir, tokens, out, inputs, targets, config)."""
    spec = MODELS[name]
    base = os.path.join(work_dir, name)
    model_dir = os.path.join(base, "model")
    write_model_dir(model_dir, spec["config"], spec["seed"])
    inputs, targets = random_tokens(spec["config"]["vocab_size"], spec["batch"], spec["seq"], spec["seed"] + 1)
    tokens = os.path.join(base, "tokens.json")
    write_tokens(tokens, inputs, targets)
    return {"model_dir": model_dir, "tokens": tokens, "out": os.path.join(base, "engine_dump.safetensors"),
            "inputs": inputs, "targets": targets, "config": spec["config"]}


# ----------------------------------------------------------------------------- engine

def run_engine_dump(engine, case, threads=None, timeout=600):
    """Run the dump tool on a prepared case; returns (tensors, None) or (None, error message)."""
    cmd = [engine, "--model", case["model_dir"], "--tokens", case["tokens"], "--out", case["out"]]
    if threads:
        cmd += ["--threads", str(threads)]
    if os.path.exists(case["out"]):
        os.remove(case["out"])  # never read a stale dump from an earlier run
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"could not run {' '.join(cmd)}: {e}"
    if proc.returncode != 0:
        return None, (f"{' '.join(cmd)} exited {proc.returncode}\n"
                      f"stdout: {proc.stdout.strip()}\nstderr: {proc.stderr.strip()}")
    try:
        return st_io.load(case["out"]), None
    except (OSError, ValueError) as e:
        return None, f"cannot read the engine's dump {case['out']}: {e}"


def expected_names(cfg):
    """The exact set of tensors a dump must hold."""
    return {"logits", "loss", "input_grad"} | {"grad/" + n for n in llama_ref.param_shapes(cfg)}


# ----------------------------------------------------------------------------- comparison

def rel_err(got, ref):
    """||got - ref|| / ||ref|| in float64 (absolute norm when ref is all zeros)."""
    got, ref = got.double(), ref.double()
    diff = (got - ref).norm().item()
    scale = ref.norm().item()
    return diff / scale if scale > 0 else diff


def compare(got, ref, names=None, tol=REL_TOL, require_f32=True):
    """Compare dicts of tensors over `names` (default: ref's keys).

    Returns (errors: name -> rel err, failures: list of messages).  A shape mismatch, a missing
    tensor, a non-float32 dump tensor or a non-finite value is a failure of its own."""
    errors, failures = {}, []
    for name in sorted(names if names is not None else ref):
        if name not in got:
            failures.append(f"{name}: missing")
            continue
        g, r = got[name], ref[name]
        if require_f32 and g.dtype != torch.float32:
            failures.append(f"{name}: dtype {g.dtype}, expected float32 (F32)")
        if tuple(g.shape) != tuple(r.shape):
            failures.append(f"{name}: shape {tuple(g.shape)}, expected {tuple(r.shape)}")
            continue
        if not torch.isfinite(g).all():
            failures.append(f"{name}: contains NaN or Inf")
            continue
        errors[name] = e = rel_err(g, r)
        if not e <= tol:
            failures.append(f"{name}: relative error {e:.3e} > {tol:.0e}")
    return errors, failures


def check_name_set(got, expected):
    """Failures for tensors the dump lacks or should not have."""
    failures = [f"{n}: missing from the engine's dump" for n in sorted(expected - set(got))]
    failures += [f"{n}: unexpected tensor in the engine's dump" for n in sorted(set(got) - expected)]
    return failures


def worst(errors, prefix=""):
    """(name, err) of the largest error among names starting with prefix, or (None, nan)."""
    items = [(n, e) for n, e in errors.items() if n.startswith(prefix)]
    return max(items, key=lambda kv: kv[1]) if items else (None, float("nan"))


def print_table(rows, title):
    """rows: list of dicts model/logits/loss/input_grad/worst_grad/worst_name/status."""
    print(title)
    head = f"{'model':<9} {'logits':>10} {'loss':>10} {'input_grad':>10} {'worst grad':>10}  {'status':<6} worst gradient tensor"
    print(head)
    print("-" * len(head))
    fmt = lambda v: f"{v:10.2e}" if v == v else f"{'-':>10}"  # noqa: E731  (nan -> '-')
    for r in rows:
        print(f"{r['model']:<9} {fmt(r['logits'])} {fmt(r['loss'])} {fmt(r['input_grad'])} "
              f"{fmt(r['worst_grad'])}  {r['status']:<6} {r['worst_name'] or ''}")


def table_row(model, errors, ok):
    name, err = worst(errors, "grad/")
    nan = float("nan")
    return {"model": model, "logits": errors.get("logits", nan), "loss": errors.get("loss", nan),
            "input_grad": errors.get("input_grad", nan), "worst_grad": err, "worst_name": name,
            "status": "ok" if ok else "FAIL"}


def parse_args(description, argv=None):
    """Arguments shared by both tests: the engine's dump tool (positional or --engine-dump)."""
    import argparse
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("engine_pos", nargs="?", metavar="ENGINE_DUMP", help="path of the engine's dump tool")
    ap.add_argument("--engine-dump", help="path of the engine's dump tool (same as the positional)")
    ap.add_argument("--work-dir", help="where to write models, tokens and dumps (kept); default: a temp dir")
    ap.add_argument("--threads", type=int, help="passed to the dump tool as --threads N")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ",".join(MODELS))
    args = ap.parse_args(argv)
    args.engine = args.engine_dump or args.engine_pos
    if not args.engine:
        ap.error("the engine's dump tool is required (ENGINE_DUMP or --engine-dump PATH)")
    args.models = [m for m in args.models.split(",") if m]
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        ap.error(f"unknown models {unknown}; known: {list(MODELS)}")
    return args


def run_cases(args, work_dir, check_model, title):
    """Runs check_model(args, work_dir, name) -> (row, failures) for every model, prints the
    table titled `title` and the failures; returns the exit code (0 pass, 1 fail). A temporary
    work dir of a passing run is removed; an explicit --work-dir is always kept."""
    import shutil
    rows, all_failures = [], []
    for name in args.models:
        row, failures = check_model(args, work_dir, name)
        rows.append(row)
        all_failures += [f"model {name}: {f}" for f in failures]
    print()
    print_table(rows, title)
    if all_failures:
        print("\nFAILED:")
        for f in all_failures:
            print("  " + f)
        print(f"(inputs kept in {work_dir})")
        return 1
    print("\nPASS")
    if not args.work_dir:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0

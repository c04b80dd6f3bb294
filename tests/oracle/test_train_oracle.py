"""ctest: `bcd-train train` against an independent float64 PyTorch replay of the same run (train_ref).

    /usr/bin/python3 test_train_oracle.py --bcd-train PATH/TO/bcd-train [--work-dir DIR] [--cases a,b]

For each case below it writes a seeded random model (Llama with GQA and an untied head, or Qwen2
with q/k/v biases and a tied embedding), a deterministic English-like training text and RUN.json,
runs `bcd-train train --config RUN.json`, replays the run in float64 (docs/training.md: data order,
LR schedule, block schedule, clipping, AdamW / SGD on the active block) and requires:

  (a) every step record's loss within 1e-4 relative of the replay's (and tokens, lr, grad_norm);
  (b) the step records' "block" and the switch records equal the replay's schedule;
  (c) final/model.safetensors (F32) within 1e-4 relative of the replay's weights, per tensor;
  (d) tensors that were never in an active block bitwise equal to the initial weights;
plus the start record's blocks, the eval records (one case has data.val) and the end record.

Exit 0 pass, 1 fail, 77 skipped (no torch for this Python).
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

try:
    import torch
except ImportError as e:  # ctest: SKIP_RETURN_CODE 77
    print(f"SKIPPED: python3-torch not installed ({e}) for {sys.executable}")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402
import oracle_common as oc  # noqa: E402
import st_io  # noqa: E402
import train_ref  # noqa: E402

LOSS_TOL = 1e-4       # per-step loss, relative
WEIGHT_TOL = 1e-4     # per-tensor ||final - ref|| / ||ref||
GNORM_TOL = 1e-3      # grad_norm, relative (a norm of gradients, more sensitive than the loss)
LR_TOL = 1e-5         # lr as printed, relative
EVAL_TOL = 1e-4

# ----------------------------------------------------------------------------- models and data

MODELS = {
    # GQA (4 query heads on 2 key/value heads), untied lm_head
    "llama": {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": 256, "hidden_size": 32, "intermediate_size": 64,
        "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
        "hidden_act": "silu", "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "attention_bias": False, "mlp_bias": False,
        "tie_word_embeddings": False, "torch_dtype": "float32",
    },
    # q/k/v biases, tied embedding (the head block is the final norm alone), GQA 4 on 2.
    # rope_theta 100, not Qwen2's 1e6: with head_dim 8 the slowest rotary pair of 1e6 hardly turns
    # over a window, so the key bias of that pair has a nearly null gradient; Adam normalises
    # the float32 rounding noise of such a gradient into full-size steps.
    "qwen2": {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
        "vocab_size": 256, "hidden_size": 32, "intermediate_size": 48,
        "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
        "hidden_act": "silu", "max_position_embeddings": 128, "rms_norm_eps": 1e-6,
        "rope_theta": 100.0, "use_sliding_window": False, "sliding_window": 4096,
        "max_window_layers": 3, "tie_word_embeddings": True, "torch_dtype": "float32",
    },
}
MODEL_SEEDS = {"llama": 4101, "qwen2": 4202}

_WORDS = ("the a of and to in is it that was for on are with as his they be at one have this from "
          "or had by word but what some we can out other were all there when up use your how said an "
          "each she which do their time if will way about many then them write would like so these her "
          "long make thing see him two has look more day could go come did number sound no most people "
          "my over know water than call first who may down side been now find any new work part take "
          "get place made live where after back little only round man year came show every good me "
          "give our under name very through just form sentence great think say help low line differ "
          "turn cause much mean before move right boy old too same tell does set three want air well "
          "also play small end put home read hand port large spell add even land here must big high "
          "block descent coordinate gradient model layer train step loss rate").split()


def write_model(path, config, seed):
    """config.json + model.safetensors: seeded weights, matrices (the embedding too) ~ N(0, 1/fan_in),
    norms and biases as oc.random_weights (1 + 0.1 randn, 0.1 randn).

    Not oc.random_weights' matrices (std 0.1-0.5 whatever their size): they saturate the attention
    of a hidden-32 model, and training such a model with Adam amplifies float32 rounding beyond a
    1e-4 comparison within a few steps."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    cfg = llama_ref.parse_config(config)
    weights = oc.random_weights(cfg, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    for name, w in weights.items():
        if w.dim() == 2:
            weights[name] = 1 / math.sqrt(w.shape[1]) * torch.randn(w.shape, generator=gen)
    st_io.save(os.path.join(path, "model.safetensors"), weights)


def english_text(n_bytes, seed):
    """Deterministic English-like text of exactly n_bytes ASCII bytes (drawn with the engine's Rng)."""
    rng = train_ref.Rng(seed)
    out, sentence_len, line = [], 0, 0
    cap = True
    while sum(len(w) for w in out) < n_bytes:
        w = _WORDS[rng.below(len(_WORDS))]
        if cap:
            w = w.capitalize()
            cap = False
        sentence_len += 1
        if sentence_len > 4 and rng.below(6) == 0:
            w += "." if rng.below(5) else "?"
            sentence_len, cap = 0, True
        elif rng.below(9) == 0:
            w += ","
        line += len(w) + 1
        if line > 70:
            out.append(w + "\n")
            line = 0
        else:
            out.append(w + " ")
    return "".join(out).encode("ascii")[:n_bytes]


# ----------------------------------------------------------------------------- cases

def base_run():
    """Every key written explicitly, except start_block (absent = the start of cycle 0, which differs
    from start_block 0 for the descending, random and fixed orders).

    AdamW with eps 1e-5 and lr 2e-3: each reset makes the next step nearly sign(g)·lr, which turns
    an element's float32 rounding into a full step where |g| is small; eps 1e-5 damps that, and the
    lr keeps the float32 run within ~1e-5 of the float64 one (measured with torch float32, also with
    1e-4 relative noise added to every gradient element), while every trained tensor still moves by
    more than 3e-3 relative.  Weight decay 0.5 makes a decay on norms or frozen tensors visible."""
    return {
        "model": {"path": None},
        "data": {"train": None, "seq_len": 16, "format": "text", "tokenizer": "byte"},
        "optim": {"name": "adamw", "lr": 2e-3, "betas": [0.9, 0.95], "eps": 1e-5, "weight_decay": 0.5,
                  "momentum": 0.0, "schedule": "constant", "warmup_steps": 0, "min_lr": 0.0,
                  "grad_clip": 0.0},
        "train": {"steps": 24, "batch_size": 4, "grad_accum": 1, "seed": 7, "precision": "fp32"},
        "bcd": {"mode": "bcd", "layers_per_block": 1, "embed_block": True, "head_block": True,
                "blocks": None, "order": "ascending", "fixed_order": None, "switch_every": 3,
                "reset_state_on_switch": True, "offload_states": False, "active_blocks": 1,
                "switch_warmup_steps": 0},
        "device": {"kind": "cpu", "threads": 2},
        "output": {"dir": None, "log_every": 1, "eval_every": 0, "checkpoint_every": 0,
                   "keep_checkpoints": 2},
    }


# name -> (model, training text bytes, {section: {key: value}} overrides, description).
# Llama has 5 default blocks (embed, layers.0, layers.1, layers.2, head); so has Qwen2 (its head
# block is model.norm alone: the lm_head is the tied embedding, in the embed block).
CASES = {
    "bcd_ascending": ("llama", 4000, {"bcd": {"order": "ascending", "switch_every": 3},
                                      "train": {"steps": 24}},
                      "AdamW, reset at each switch, ascending 0..4 then 0..2"),
    "bcd_descending": ("llama", 4000, {"bcd": {"order": "descending", "switch_every": 2},
                                       "train": {"steps": 20, "seed": 11}, "data": {"seq_len": 24}},
                       "AdamW, reset, descending 4..0 twice"),
    "bcd_random": ("llama", 4000, {"bcd": {"order": "random", "switch_every": 2},
                                   "train": {"steps": 30, "seed": 3}},
                   "AdamW, reset, random order (3 cycles; a block repeats across a cycle boundary)"),
    "bcd_fixed": ("llama", 4000, {"bcd": {"order": "fixed", "fixed_order": [2, 0, 1, 4, 3],
                                          "switch_every": 3},
                                  "train": {"steps": 18, "batch_size": 3}},
                  "AdamW, reset, fixed_order [2,0,1,4,3]"),
    "bcd_start_block": ("llama", 4000, {"bcd": {"order": "ascending", "start_block": 2, "switch_every": 4},
                                        "train": {"steps": 12},
                                        "optim": {"schedule": "linear", "warmup_steps": 2, "min_lr": 1e-3}},
                        "AdamW, reset, start_block 2 (embed and layers.0 never trained), warmup + linear"),
    "bcd_no_reset": ("qwen2", 4000, {"bcd": {"order": "ascending", "switch_every": 2,
                                             "reset_state_on_switch": False},
                                     "train": {"steps": 30}, "optim": {"lr": 5e-3}},
                     "AdamW, persistent per-block state and step count (3 visits per block), Qwen2 tied"),
    "full_adamw": ("llama", 700, {"bcd": {"mode": "full"},
                                  "train": {"steps": 20, "batch_size": 2, "grad_accum": 2, "seed": 3},
                                  "data": {"seq_len": 32},
                                  "optim": {"lr": 1e-2, "weight_decay": 0.1, "schedule": "cosine", "warmup_steps": 3,
                                            "min_lr": 1e-3, "grad_clip": 0.5},
                                  "output": {"eval_every": 8}},
                   "full AdamW, wd, warmup + cosine, grad_clip 0.5, grad_accum 2, 4 epochs, val"),
    "full_sgd": ("qwen2", 600, {"bcd": {"mode": "full"},
                                "train": {"steps": 20, "batch_size": 3, "seed": 9},
                                "optim": {"name": "sgd", "lr": 0.2, "momentum": 0.9, "weight_decay": 0.01,
                                          "schedule": "linear", "min_lr": 0.02, "grad_clip": 2.0}},
                 "full SGD, momentum 0.9, wd (L2), linear, grad_clip 2.0, Qwen2 tied"),
    "bcd_lpb2_noembed": ("llama", 4000, {"bcd": {"layers_per_block": 2, "embed_block": False,
                                                 "order": "descending", "switch_every": 3},
                                         "train": {"steps": 15}},
                         "AdamW, reset, layers_per_block 2, embed frozen (layers.0-1, layers.2, head)"),
    "bcd_prefix_sgd": ("llama", 4000, {"bcd": {"blocks": [["model.embed_tokens", "lm_head"],
                                                          ["model.layers.0.", "model.layers.2."],
                                                          ["model.layers.1.", "model.norm"]],
                                               "order": "fixed", "fixed_order": [1, 2, 0],
                                               "switch_every": 2, "reset_state_on_switch": False},
                                       "train": {"steps": 16},
                                       "optim": {"name": "sgd", "lr": 0.3, "momentum": 0.8,
                                                 "weight_decay": 0.05}},
                       "SGD momentum, explicit prefix blocks, no reset (momentum kept per block)"),
}


def make_run(case, work_dir):
    """Write the case's model, texts and RUN.json under work_dir/case; return (run dict, run.json path)."""
    model, n_bytes, overrides, _ = CASES[case]
    base = os.path.join(work_dir, case)
    os.makedirs(base, exist_ok=True)
    model_dir = os.path.join(work_dir, "models", model)
    write_model(model_dir, MODELS[model], MODEL_SEEDS[model])  # seeded: the same bytes every time
    text = os.path.join(base, "train.txt")
    with open(text, "wb") as f:
        f.write(english_text(n_bytes, 1000 + n_bytes))
    run = base_run()
    for section, kv in overrides.items():
        run[section].update(kv)
    run["model"]["path"] = os.path.abspath(model_dir)
    run["data"]["train"] = os.path.abspath(text)
    run["output"]["dir"] = os.path.abspath(os.path.join(base, "out"))
    if run["output"]["eval_every"]:
        val = os.path.join(base, "val.txt")
        with open(val, "wb") as f:
            f.write(english_text(300, 77))
        run["data"]["val"] = os.path.abspath(val)
    path = os.path.join(base, "RUN.json")
    with open(path, "w") as f:
        json.dump(run, f, indent=2)
    return run, path


# ----------------------------------------------------------------------------- checks

def rel(got, ref):
    return abs(got - ref) / abs(ref) if ref != 0 else abs(got)


def read_metrics(path):
    """Records of metrics.jsonl; a line that is not a JSON object is a failure (the run finished)."""
    records, failures = [], []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                failures.append(f"metrics.jsonl line {i}: not JSON ({e}): {line[:120]!r}")
                continue
            if not isinstance(r, dict) or "t" not in r:
                failures.append(f"metrics.jsonl line {i}: not an object with a \"t\" field")
                continue
            records.append(r)
    return records, failures


def number(r, key):
    v = r.get(key)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def check_metrics(run, ref, records, row):
    """(a), (b), start / eval / end records. Fills row with the worst errors; returns (failures that
    summarise, per-step failures)."""
    head, fails = [], []
    S = run["train"]["steps"]
    full = run["bcd"]["mode"] == "full"

    # start record: first, with the partition
    starts = [r for r in records if r["t"] == "start"]
    if not records or records[0]["t"] != "start" or len(starts) != 1:
        head.append("metrics.jsonl: expected exactly one \"start\" record, first")
    else:
        st = starts[0]
        if number(st, "params") != ref["params"]:
            head.append(f"start record: params {st.get('params')}, expected {ref['params']}")
        blocks = st.get("blocks")
        if not isinstance(blocks, list):
            head.append("start record: \"blocks\" is not a list")
        elif full:
            if len(blocks) != 1 or blocks[0].get("id") != 0 or blocks[0].get("params") != ref["params"]:
                head.append(f"start record (mode full): blocks {blocks}, expected one block id 0 "
                             f"of {ref['params']} params")
        else:
            shapes = llama_ref.param_shapes(ref["cfg"])
            want = [{"id": i, "name": name, "params": sum(math.prod(shapes[n]) for n in ts)}
                    for i, (name, ts) in enumerate(ref["blocks"])]
            got = [{k: b.get(k) for k in ("id", "name", "params")} for b in blocks]
            if got != want:
                head.append(f"start record: blocks {got}, expected {want}")

    # (a) step records, (b) block field
    steps = [r for r in records if r["t"] == "step"]
    if [r.get("step") for r in steps] != list(range(1, S + 1)):
        head.append(f"step records: steps {[r.get('step') for r in steps]}, expected 1..{S} once each in order")
    by_step = {r.get("step"): r for r in steps}
    worst_loss, worst_gn = (0.0, None), (0.0, None)
    for want in ref["steps"]:
        s = want["step"]
        r = by_step.get(s)
        if r is None:
            continue
        loss = number(r, "loss")
        if loss is None or not math.isfinite(loss):
            fails.append(f"step {s}: loss {r.get('loss')!r} is not a finite number")
        else:
            e = rel(loss, want["loss"])
            worst_loss = max(worst_loss, (e, s), key=lambda x: x[0])
            if not e <= LOSS_TOL:
                fails.append(f"step {s}: loss {loss!r}, replay {want['loss']:.9g} (relative error {e:.2e} > {LOSS_TOL:.0e})")
        if r.get("tokens") != want["tokens"]:
            fails.append(f"step {s}: tokens {r.get('tokens')!r}, expected {want['tokens']}")
        lr = number(r, "lr")
        if lr is None or not rel(lr, want["lr"]) <= LR_TOL:
            fails.append(f"step {s}: lr {r.get('lr')!r}, expected {want['lr']:.9g}")
        gn = number(r, "grad_norm")
        if gn is None:
            fails.append(f"step {s}: grad_norm {r.get('grad_norm')!r} is not a number")
        else:
            e = rel(gn, want["grad_norm"])
            worst_gn = max(worst_gn, (e, s), key=lambda x: x[0])
            if not e <= GNORM_TOL:
                fails.append(f"step {s}: grad_norm {gn!r}, replay {want['grad_norm']:.9g} "
                             f"(relative error {e:.2e} > {GNORM_TOL:.0e})")
    # (b) the block of every step, as one line
    got_blocks = [by_step[s].get("block") if s in by_step else None for s in range(1, S + 1)]
    if got_blocks != ref["schedule"]:
        first = next(i for i, (g, w) in enumerate(zip(got_blocks, ref["schedule"])) if g != w) + 1
        head.append(f"step records' block field {got_blocks} differs from the replay's schedule "
                    f"{ref['schedule']} (first at step {first})")
    row["loss"], row["loss_step"] = worst_loss
    row["gnorm"] = worst_gn[0]

    # (b) switch records: the replay's list, each between its step's record and the next one
    sw = [r for r in records if r["t"] == "switch"]
    got = [(r.get("step"), r.get("from"), r.get("to")) for r in sw]
    if got != [tuple(x) for x in ref["switches"]]:
        head.append(f"switch records {got}, replay {ref['switches']}")
    else:
        pos = {id(r): i for i, r in enumerate(records)}
        step_pos = {r.get("step"): pos[id(r)] for r in steps}
        for r in sw:
            s = r["step"]
            if s in step_pos and (s + 1) in step_pos and not step_pos[s] < pos[id(r)] < step_pos[s + 1]:
                head.append(f"switch record of step {s} is not between the records of steps {s} and {s + 1}")
    row["switches"] = len(ref["switches"])

    # eval records (with data.val)
    evals = [r for r in records if r["t"] == "eval"]
    if [r.get("step") for r in evals] != [e["step"] for e in ref["evals"]]:
        head.append(f"eval records at steps {[r.get('step') for r in evals]}, expected "
                     f"{[e['step'] for e in ref['evals']]}")
    else:
        for r, want in zip(evals, ref["evals"]):
            vl = number(r, "val_loss")
            if vl is None or not rel(vl, want["val_loss"]) <= EVAL_TOL:
                head.append(f"eval after step {want['step']}: val_loss {r.get('val_loss')!r}, "
                             f"replay {want['val_loss']:.9g}")

    ends = [r for r in records if r["t"] == "end"]
    if len(ends) != 1 or records[-1]["t"] != "end":
        head.append("metrics.jsonl: expected exactly one \"end\" record, last")
    elif ends[0].get("status") != "finished" or ends[0].get("step") != S:
        head.append(f"end record {ends[0]}: expected status finished, step {S}")
    return head, fails


def check_final(run, ref, row):
    """(c) and (d) on final/. Fills row; returns (failures that summarise, per-tensor failures)."""
    fails = []
    final_dir = os.path.join(run["output"]["dir"], "final")
    try:
        with open(os.path.join(final_dir, "config.json")) as f:
            conf = json.load(f)
        cfg = llama_ref.parse_config(conf)
        if cfg != ref["cfg"]:
            fails.append(f"final/config.json describes {cfg}, expected {ref['cfg']}")
    except (OSError, ValueError, KeyError) as e:
        return fails + [f"final/config.json: {e}"], []
    try:
        got = st_io.load(os.path.join(final_dir, "model.safetensors"))
    except (OSError, ValueError) as e:
        return fails + [f"final/model.safetensors: {e}"], []

    expected = set(ref["final"])
    extra = set(got) - expected
    if ref["cfg"].tied and "lm_head.weight" in extra:  # a tied copy is tolerated if it is the embedding
        extra.discard("lm_head.weight")
        if "model.embed_tokens.weight" in got and not torch.equal(got["lm_head.weight"],
                                                                   got["model.embed_tokens.weight"]):
            fails.append("final/model.safetensors: lm_head.weight differs from the tied embedding")
    fails += [f"final/model.safetensors: tensor {n} missing" for n in sorted(expected - set(got))]
    fails += [f"final/model.safetensors: unexpected tensor {n}" for n in sorted(extra)]

    trained = {n for b in set(ref["schedule"]) for n in ref["blocks"][b][1]}
    errors, more = oc.compare(got, ref["final"], sorted(trained & set(got)), tol=WEIGHT_TOL)
    name, err = oc.worst(errors)
    row["weight"], row["weight_name"] = err, name or ""
    if more:
        fails.append(f"final/model.safetensors: {len(more)} of {len(trained)} trained tensors differ from the "
                     f"replay's final weights (worst {name}: relative error {err:.2e}); each one is listed below")
        tail = [f"final/model.safetensors: tensor {m}" for m in more]
    else:
        tail = []

    frozen = sorted((expected - trained) & set(got))
    for n in frozen:
        g, init = got[n], ref["initial"][n]
        if g.dtype != torch.float32 or g.shape != init.shape or not torch.equal(g.view(torch.int32),
                                                                               init.view(torch.int32)):
            fails.append(f"final/model.safetensors: tensor {n} was never in an active block but is not "
                         f"bitwise equal to the initial weights (relative change {oc.rel_err(g, init):.2e})")
    row["frozen"] = len(frozen)
    return fails, tail


def run_case(engine, work_dir, case, timeout):
    run, path = make_run(case, work_dir)
    row = {"case": case, "model": CASES[case][0], "steps": run["train"]["steps"], "loss": float("nan"),
           "loss_step": None, "gnorm": float("nan"), "weight": float("nan"), "weight_name": "",
           "switches": 0, "frozen": 0, "blocks": 0, "ok": False}
    shutil.rmtree(run["output"]["dir"], ignore_errors=True)  # never read a stale run
    cmd = [engine, "train", "--config", path]
    t0 = time.time()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return row, [f"could not run {' '.join(cmd)}: {e}"]
    row["engine_s"] = time.time() - t0
    if proc.returncode != 0:
        return row, [f"{' '.join(cmd)} exited {proc.returncode}\nstdout: {proc.stdout.strip()[-2000:]}\n"
                     f"stderr: {proc.stderr.strip()[-2000:]}"]

    t0 = time.time()
    ref = train_ref.replay(run, torch.float64)
    row["replay_s"] = time.time() - t0
    row["blocks"] = len(ref["blocks"])
    fails = self_check_case(case, run, ref)
    metrics = os.path.join(run["output"]["dir"], "metrics.jsonl")
    try:
        records, more = read_metrics(metrics)
    except OSError as e:
        return row, fails + [f"cannot read {metrics}: {e}"]
    fails += more
    m_head, m_steps = check_metrics(run, ref, records, row)
    f_head, f_tensors = check_final(run, ref, row)
    fails += m_head + f_head + m_steps + f_tensors  # summaries first: the listing is cut per case
    row["ok"] = not fails
    return row, fails


def self_check_case(case, run, ref):
    """Guards that keep each case meaningful if someone edits its numbers."""
    fails = []
    sched = ref["schedule"]
    if case == "bcd_random":
        K, D = run["bcd"]["switch_every"], len(ref["blocks"])
        places = [sched[i] for i in range(0, len(sched), K)]
        repeats = [i for i in range(D, len(places), D) if places[i] == places[i - 1]]
        if not repeats:
            fails.append("test setup: the random case's seed gives no block repeated across a cycle boundary")
    if case in ("bcd_start_block", "bcd_lpb2_noembed"):
        trained = {n for b in set(sched) for n in ref["blocks"][b][1]}
        if "model.embed_tokens.weight" in trained:
            fails.append("test setup: this case should leave the embedding frozen")
    trained = {n for b in set(sched) for n in ref["blocks"][b][1]}
    for n in sorted(trained):  # (c) must be able to tell a trained tensor from an untouched one
        moved = oc.rel_err(ref["final"][n], ref["initial"][n])
        if moved < 10 * WEIGHT_TOL:
            fails.append(f"test setup: {n} moves by only {moved:.1e} relative in the replay")
    if case == "full_adamw":
        clipped = sum(1 for s in ref["steps"] if s["grad_norm"] > run["optim"]["grad_clip"])
        if not 0 < clipped:
            fails.append("test setup: grad_clip never triggers in full_adamw")
        if ref["epochs_started"] < 2:
            fails.append("test setup: full_adamw should run over several epochs")
    return fails


def preflight_eval(engine, work_dir, model, timeout):
    """`bcd-train eval` of the untrained model against the reference: when this fails, a training
    failure is a forward / data problem rather than an optimizer or schedule one."""
    model_dir = os.path.join(work_dir, "models", model)
    write_model(model_dir, MODELS[model], MODEL_SEEDS[model])
    text = os.path.join(work_dir, "models", f"eval-{model}.txt")
    with open(text, "wb") as f:
        f.write(english_text(1000, 31))
    cmd = [engine, "eval", "--model", model_dir, "--data", text, "--seq-len", "16", "--json"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, [f"could not run {' '.join(cmd)}: {e}"]
    if proc.returncode != 0:
        return None, [f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-1000:]}"]
    try:
        got = json.loads(proc.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return None, [f"{' '.join(cmd)}: stdout is not JSON: {proc.stdout[-500:]!r}"]
    cfg, params = llama_ref.load_model(model_dir, torch.float64)
    tokens = train_ref.byte_tokens(text)
    want, count = train_ref.mean_loss(cfg, params, list(range(train_ref.num_windows(len(tokens), 16))), tokens, 16)
    loss = number(got, "loss")
    if loss is None or got.get("tokens") != count:
        return None, [f"eval: {got}, expected loss {want:.9g} over {count} tokens"]
    e = rel(loss, want)
    return e, ([] if e <= LOSS_TOL else [f"eval of the untrained model: loss {loss!r}, reference {want:.9g} "
                                         f"(relative error {e:.2e})"])


# ----------------------------------------------------------------------------- self test of the RNG

# Outputs of engine/src/core/rng.cpp (compiled and printed once): three next() from Rng(seed), then
# below(7), below(1000003), below(2) and uniform().
_RNG_VECTORS = [
    (0, [11091344671253066420, 13793997310169335082, 1900383378846508768], [3, 445656, 0], 0.42221152382531557),
    (42, [1546998764402558742, 6990951692964543102, 12544586762248559009], [4, 42763, 0], 0.71925857787791558),
    ((1 << 64) - 1, [10328197420357168392, 14156678507024973869, 9357971779955476126], [6, 808926, 1],
     0.37032533198705708),
]


def check_rng():
    for seed, nexts, belows, u in _RNG_VECTORS:
        r = train_ref.Rng(seed)
        got = ([r.next() for _ in range(3)], [r.below(7), r.below(1000003), r.below(2)], r.uniform())
        if got != (nexts, belows, u):
            return [f"train_ref.Rng({seed}) gives {got}, engine's rng.cpp {(nexts, belows, u)}"]
    return []


# ----------------------------------------------------------------------------- main

def print_table(rows):
    fmt = lambda v: f"{v:9.2e}" if v == v else f"{'-':>9}"  # noqa: E731
    head = (f"{'case':<18} {'model':<6} {'steps':>5} {'blk':>3} {'sw':>3} {'loss err':>9} {'@step':>5} "
            f"{'gnorm err':>9} {'wt err':>9} {'frozen':>6} {'eng s':>6} {'ref s':>6}  status  worst tensor")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['case']:<18} {r['model']:<6} {r['steps']:>5} {r['blocks']:>3} {r['switches']:>3} "
              f"{fmt(r['loss'])} {str(r['loss_step'] or '-'):>5} {fmt(r['gnorm'])} {fmt(r['weight'])} "
              f"{r['frozen']:>6} {r.get('engine_s', float('nan')):6.2f} {r.get('replay_s', float('nan')):6.2f}  "
              f"{'ok' if r['ok'] else 'FAIL':<6}  {r['weight_name']}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bcd-train", required=True, help="path of the engine's bcd-train")
    ap.add_argument("--work-dir", help="where to write models, texts, configs and runs (kept); default: a temp dir")
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of " + ",".join(CASES))
    ap.add_argument("--timeout", type=float, default=300, help="seconds allowed for one engine run")
    args = ap.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        ap.error(f"unknown cases {unknown}; known: {list(CASES)}")

    work_dir = os.path.abspath(args.work_dir or tempfile.mkdtemp(prefix="bcd-train-oracle-"))
    os.makedirs(work_dir, exist_ok=True)
    torch.set_num_threads(1)  # a tiny model: threads only add overhead
    print(f"bcd-train: {args.bcd_train}\nwork dir: {work_dir}\nreference: torch {torch.__version__} float64; "
          f"tolerances: loss {LOSS_TOL:.0e}, weights {WEIGHT_TOL:.0e}, grad_norm {GNORM_TOL:.0e} relative")

    all_fails = [("rng", check_rng())]  # (what, [messages])
    for model in sorted({CASES[c][0] for c in cases}):
        err, fails = preflight_eval(args.bcd_train, work_dir, model, args.timeout)
        print(f"  preflight: bcd-train eval of the untrained {model} model: relative error "
              + (f"{err:.2e}" if err is not None else "-"), flush=True)
        all_fails.append((f"preflight {model}", fails))
    rows = []
    for case in cases:
        print(f"  {case}: {CASES[case][3]}", flush=True)
        row, fails = run_case(args.bcd_train, work_dir, case, args.timeout)
        rows.append(row)
        all_fails.append((f"case {case}", fails))

    print()
    print_table(rows)
    all_fails = [(what, fails) for what, fails in all_fails if fails]
    if all_fails:
        print("\nFAILED:")
        for what, fails in all_fails:  # one error tends to spoil every later step: show the first ones
            for f in fails[:12]:
                print(f"  {what}: {f}")
            if len(fails) > 12:
                print(f"  {what}: ... and {len(fails) - 12} more")
        print(f"(runs kept in {work_dir})")
        return 1
    print("\nPASS")
    if not args.work_dir:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

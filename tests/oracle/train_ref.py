"""Independent PyTorch replay of a `bcd-train train` run (docs/training.md, DESIGN.md §3).

Given a run config (the dict of RUN.json) this module reproduces, from the definitions in
docs/training.md rather than from the engine's code, everything the run computes: the byte-level
windows and their shuffled order (the engine's xoshiro256** / splitmix64 RNG re-implemented with
64-bit masking), the learning-rate schedule, the block partition and its schedule with the switches,
clipping, and AdamW / SGD applied to the active block only.  The model is llama_ref's, in float64 by
default.

Every piece is a small module-level function, so that a deliberately broken engine (a test of the
test) can replace one of them.
"""

import math
import os

import torch

try:  # works both as a module of this folder and when imported as tests.oracle.train_ref
    from . import llama_ref
except ImportError:
    import llama_ref

MASK64 = (1 << 64) - 1
EPOCH_MUL = 0xD1B54A32D192ED03   # data order: Rng(seed ^ EPOCH_MUL·(e+1))
CYCLE_MUL = 0x8CB92BA72F3D8DD7   # random block order: Rng(seed ^ CYCLE_MUL·(c+1))
LISA_MUL = 0x9E6C63D0676A9A99    # lisa: Rng(seed ^ LISA_MUL·(k+1)) for period k
IMPORTANCE_MUL = 0xA0761D6478BD642F  # importance: Rng(seed ^ IMPORTANCE_MUL·(k+1))
IMPORTANCE_FLOOR = 0.2
CLIP_EPS = 1e-6                  # torch.nn.utils.clip_grad_norm_: k = c / (N + 1e-6)

# ----------------------------------------------------------------------------- RNG


class Rng:
    """xoshiro256** seeded by four successive splitmix64 outputs (engine/src/core/rng.cpp)."""

    def __init__(self, seed):
        x = seed & MASK64
        self.s = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & MASK64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
            self.s.append(z ^ (z >> 31))

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK64

    def next(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & MASK64, 7) * 9) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def uniform(self):
        return (self.next() >> 11) * 2.0 ** -53

    def below(self, n):
        """Uniform integer in [0, n) by rejection, exactly as rng.cpp: limit = M − (M mod n) with
        M = 2^64 − 1 (docs/training.md writes 2^64; they differ only for powers of two, and only on
        a draw of probability n / 2^64)."""
        if n <= 0:
            raise ValueError("below(n) needs n > 0")
        limit = MASK64 - (MASK64 % n)
        while True:
            x = self.next()
            if x < limit:
                return x % n


def fisher_yates(n, rng):
    """for i = n-1 … 1: j = rng.below(i + 1); swap(a[i], a[j]) — starting from the identity."""
    a = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.below(i + 1)
        a[i], a[j] = a[j], a[i]
    return a


def epoch_permutation(seed, epoch, n):
    return fisher_yates(n, Rng(seed ^ ((EPOCH_MUL * (epoch + 1)) & MASK64)))


def random_cycle(seed, cycle, n):
    return fisher_yates(n, Rng(seed ^ ((CYCLE_MUL * (cycle + 1)) & MASK64)))

# ----------------------------------------------------------------------------- data


def byte_tokens(path):
    with open(path, "rb") as f:
        return list(f.read())


def num_windows(n, S):
    """Windows start at 0, S, 2S, … while start + S + 1 <= n."""
    return (n - 1) // S if n >= S + 1 else 0


def window(tokens, w, S):
    """(inputs, targets) of window w: t[wS, wS+S) and t[wS+1, wS+S+1)."""
    s = w * S
    return tokens[s:s + S], tokens[s + 1:s + S + 1]


class WindowOrder:
    """The stream of window indices the run visits: epoch e in epoch_permutation(seed, e, W),
    epochs back to back (a batch may span two)."""

    def __init__(self, seed, W):
        if W <= 0:
            raise ValueError("the training text holds no window")
        self.seed, self.W, self.epoch, self.pos = seed, W, 0, 0
        self.perm = epoch_permutation(seed, 0, W)

    def take(self, k):
        out = []
        for _ in range(k):
            if self.pos == self.W:
                self.epoch += 1
                self.pos = 0
                self.perm = epoch_permutation(self.seed, self.epoch, self.W)
            out.append(self.perm[self.pos])
            self.pos += 1
        return out

# ----------------------------------------------------------------------------- learning rate


def lr_at(s, S, optim):
    """η_s for step s of S (docs/training.md, "Learning rate")."""
    eta, W = optim["lr"], optim.get("warmup_steps", 0)
    eta_min = optim.get("min_lr", 0.0)
    if W > 0 and s <= W:
        return eta * s / W
    p = (s - W) / max(1, S - W)
    kind = optim.get("schedule", "constant")
    if kind == "constant":
        return eta
    if kind == "linear":
        return eta_min + (eta - eta_min) * (1 - p)
    if kind == "cosine":
        return eta_min + 0.5 * (eta - eta_min) * (1 + math.cos(math.pi * p))
    raise ValueError(f"unknown schedule {kind!r}")

# ----------------------------------------------------------------------------- blocks


def default_blocks(cfg, layers_per_block=1, embed_block=True, head_block=True):
    """[(name, [tensor names in model order])]: embed, groups of layers, head (DESIGN.md §3)."""
    names = list(llama_ref.param_shapes(cfg))
    blocks = []
    if embed_block:
        blocks.append(("embed", ["model.embed_tokens.weight"]))
    for l0 in range(0, cfg.layers, layers_per_block):
        l1 = min(cfg.layers, l0 + layers_per_block) - 1
        members = [n for n in names if n.startswith("model.layers.")
                   and l0 <= int(n.split(".")[2]) <= l1]
        blocks.append((f"layers.{l0}" if l0 == l1 else f"layers.{l0}-{l1}", members))
    if head_block:
        blocks.append(("head", ["model.norm.weight"] + ([] if cfg.tied else ["lm_head.weight"])))
    return blocks


def prefix_blocks(cfg, prefixes):
    """Explicit partition: block b holds the tensors whose name starts with one of prefixes[b]."""
    names = list(llama_ref.param_shapes(cfg))
    owner = {}
    blocks = []
    for b, plist in enumerate(prefixes):
        members = [n for n in names if any(n.startswith(p) for p in plist)]
        for n in members:
            if n in owner:
                raise ValueError(f"tensor {n} in blocks {owner[n]} and {b}")
            owner[n] = b
        blocks.append((f"block.{b}", members))
    missing = [n for n in names if n not in owner]
    if missing:
        raise ValueError(f"tensors in no block: {missing}")
    return blocks


def run_blocks(cfg, bcd):
    """The run's blocks: one block of every tensor for mode full, else `blocks` or the default."""
    if bcd.get("mode", "bcd") == "full":
        return [("full", list(llama_ref.param_shapes(cfg)))]
    if bcd.get("blocks"):
        return prefix_blocks(cfg, bcd["blocks"])
    return default_blocks(cfg, bcd.get("layers_per_block", 1), bcd.get("embed_block", True),
                          bcd.get("head_block", True))


def cycle_order(bcd, seed, cycle, D):
    order = bcd.get("order", "ascending")
    if order == "ascending":
        return list(range(D))
    if order == "descending":
        return list(range(D - 1, -1, -1))
    if order == "fixed":
        return list(bcd["fixed_order"])
    if order == "random":
        return random_cycle(seed, cycle, D)
    raise ValueError(f"unknown order {order!r}")


def block_schedule(bcd, seed, D, S):
    """(block id of steps 1..S as a list, switches [(step, from, to)]).

    Place q0 = first place of start_block in cycle 0 (start of cycle 0 when start_block is absent
    or null); step s trains the block at place q0 + (s-1)//K of the endless sequence of cycles; a
    switch follows step s when K | s, s < S and the next block differs."""
    if bcd.get("mode", "bcd") == "full" or D == 1:
        return [0] * S, []
    K = bcd.get("switch_every", 50)
    seq = cycle_order(bcd, seed, 0, D)
    start = bcd.get("start_block")
    q0 = 0 if start is None else seq.index(start)
    places = q0 + (S - 1) // K + 1
    c = 1
    while len(seq) < places:
        seq += cycle_order(bcd, seed, c, D)
        c += 1
    blocks = [seq[q0 + (s - 1) // K] for s in range(1, S + 1)]
    switches = [(s, blocks[s - 1], blocks[s]) for s in range(1, S)
                if s % K == 0 and blocks[s] != blocks[s - 1]]
    return blocks, switches

def place_sequence(bcd, seed, D, places):
    """The endless sequence of cycles from place q0 on, at least `places` long (as a list)."""
    seq = cycle_order(bcd, seed, 0, D)
    start = bcd.get("start_block")
    q0 = 0 if start is None else seq.index(start)
    c = 1
    while len(seq) < q0 + places:
        seq += cycle_order(bcd, seed, c, D)
        c += 1
    return seq[q0:]


def importance_draw(seed, k, score, gamma):
    """docs/training.md "Active sets", importance: never-trained blocks first, then weighted draws."""
    D = len(score)
    chosen = [b for b in range(D) if score[b] < 0][:gamma]
    rng = Rng(seed ^ ((IMPORTANCE_MUL * (k + 1)) & MASK64))
    while len(chosen) < gamma:
        cand = [b for b in range(D) if b not in chosen]
        total = 0.0
        for b in cand:
            total += score[b]
        n = float(len(cand))
        u = rng.uniform()
        acc, pick = 0.0, cand[-1]
        for b in cand:
            acc += IMPORTANCE_FLOOR / n + ((1.0 - IMPORTANCE_FLOOR) * score[b] / total if total > 0.0
                                           else (1.0 - IMPORTANCE_FLOOR) / n)
            if u < acc:
                pick = b
                break
        chosen.append(pick)
    return sorted(chosen)


def active_sets(bcd, seed, blocks, S, norms=None):
    """(sorted active set of steps 1..S, switches [(step, from_set, to_set)]) per docs/training.md
    "Active sets". `norms`: the pre-clip gradient norm of steps 1..S, needed by order importance
    (the test passes the engine's logged ones: the draw is then checked exactly)."""
    D = len(blocks)
    if bcd.get("mode", "bcd") == "full" or D == 1:
        return [[0]] * S, []
    K, gamma = bcd.get("switch_every", 50), bcd.get("active_blocks", 1)
    order = bcd.get("order", "ascending")
    periods = (S - 1) // K + 2  # one more: the set after the last step (for its switch record)
    sets = []
    if order == "lisa":
        always = [i for i, (name, _) in enumerate(blocks) if name in ("embed", "head")]
        pool = [i for i, (name, _) in enumerate(blocks) if name not in ("embed", "head")]
        for k in range(periods):
            p = fisher_yates(len(pool), Rng(seed ^ ((LISA_MUL * (k + 1)) & MASK64)))
            sets.append(sorted(set(always) | {pool[p[i]] for i in range(gamma)}))
    elif order == "importance":
        score = [-1.0] * D
        for k in range(periods):
            sets.append(importance_draw(seed, k, score, gamma))
            steps = [s for s in range(k * K + 1, (k + 1) * K + 1) if s <= S]
            if steps and norms is not None:
                total = 0.0
                for s in steps:
                    total += norms[s - 1]
                for b in sets[-1]:
                    score[b] = total / len(steps)
            elif steps:
                raise ValueError("order importance needs the steps' gradient norms")
    else:
        seq = place_sequence(bcd, seed, D, periods * gamma)
        for k in range(periods):
            sets.append(sorted(set(seq[k * gamma:(k + 1) * gamma])))
    per_step = [sets[(s - 1) // K] for s in range(1, S + 1)]
    switches = [(s, sets[s // K - 1], sets[s // K]) for s in range(K, S, K)
                if sets[s // K] != sets[s // K - 1]]
    return per_step, switches


def warmup_factor(j, W):
    """switch_warmup_steps W: (j + 1) / (W + 1) at the j-th step (from 0) of a new set, j < W."""
    return (j + 1) / (W + 1) if j < W else 1.0

# ----------------------------------------------------------------------------- optimizer


def decays(name, p):
    """Weight decay applies to weight matrices and the embedding, never to norms or biases."""
    return p.dim() >= 2


def clip_factor(norm, clip):
    """k = c / (N + 1e-6) when c > 0 and k < 1, else 1."""
    if clip > 0:
        k = clip / (norm + CLIP_EPS)
        if k < 1:
            return k
    return 1.0


def new_state():
    """A block's optimizer state: its own step count t and per-tensor buffers."""
    return {"t": 0, "m": {}, "v": {}, "buf": {}}


def adamw_update(name, p, g, st, lr, optim):
    """torch.optim.AdamW on one tensor; st["t"] is already this step's t (>= 1)."""
    b1, b2 = optim.get("betas", [0.9, 0.95])
    eps, wd, t = optim.get("eps", 1e-8), optim.get("weight_decay", 0.0), st["t"]
    if wd and decays(name, p):
        p.mul_(1 - lr * wd)
    m = st["m"].setdefault(name, torch.zeros_like(p))
    v = st["v"].setdefault(name, torch.zeros_like(p))
    m.mul_(b1).add_(g, alpha=1 - b1)
    v.mul_(b2).addcmul_(g, g, value=1 - b2)
    bc1 = 1 - b1 ** t
    bc2 = 1 - b2 ** t
    denom = (v.sqrt() / math.sqrt(bc2)).add_(eps)
    p.addcdiv_(m, denom, value=-lr / bc1)


def sgd_update(name, p, g, st, lr, optim):
    """torch.optim.SGD (dampening 0, no Nesterov); weight decay is an L2 term."""
    wd, mu = optim.get("weight_decay", 0.0), optim.get("momentum", 0.0)
    d = g + wd * p if (wd and decays(name, p)) else g.clone()
    if mu > 0:
        buf = st["buf"].get(name)
        if buf is None:
            buf = st["buf"][name] = d.clone()
        else:
            buf.mul_(mu).add_(d)
        d = buf
    p.add_(d, alpha=-lr)


def optimizer_update(name, p, g, st, lr, optim):
    kind = optim.get("name", "adamw")
    if kind == "adamw":
        adamw_update(name, p, g, st, lr, optim)
    elif kind == "sgd":
        sgd_update(name, p, g, st, lr, optim)
    else:
        raise ValueError(f"unknown optimizer {kind!r}")

# ----------------------------------------------------------------------------- the run


def step_gradients(cfg, params, active, windows, tokens, S):
    """One step's forward and backward over `windows`: (loss, {name: gradient} of the `active`
    tensors, their joint pre-clip L2 norm). Every micro-batch holds B·S predicted tokens, so the
    step's mean over all of them is the mean over the concatenated batch."""
    pairs = [window(tokens, w, S) for w in windows]
    logits = llama_ref.forward(cfg, params, [a for a, _ in pairs])
    tg = torch.tensor([t for _, t in pairs], dtype=torch.long)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tg.reshape(-1))
    loss.backward()
    grads = {n: params[n].grad.detach().clone() for n in active}
    norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads.values()))
    return loss, grads, norm


def mean_loss(cfg, params, windows, tokens, S, chunk=64):
    """(mean token loss over every predicted token of `windows`, number of tokens), no gradient."""
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(windows), chunk):
            pairs = [window(tokens, w, S) for w in windows[i:i + chunk]]
            logits = llama_ref.forward(cfg, params, [a for a, _ in pairs])
            tg = torch.tensor([b for _, b in pairs], dtype=torch.long)
            total += torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tg.reshape(-1),
                                                       reduction="sum").item()
            count += tg.numel()
    return total / count, count


def replay(run, dtype=torch.float64):
    """Replay the run described by the run-config dict `run` (paths absolute).

    Returns a dict:
      blocks    [(name, [tensor names])], schedule (block per step), switches [(step, from, to)]
      steps     [{"step", "tokens", "loss", "lr", "block", "grad_norm"}] one per step
      evals     [{"step", "val_loss"}]
      initial   name -> initial tensor (float32 as read), final: name -> trained tensor (dtype)
      params    total parameter count, cfg
    """
    data, optim, train, bcd = run["data"], run.get("optim", {}), run.get("train", {}), run.get("bcd", {})
    S_len = data["seq_len"]
    steps = train.get("steps", 1000)
    B, A, seed = train.get("batch_size", 8), train.get("grad_accum", 1), train.get("seed", 1)

    if data.get("format", "text") != "text" or data.get("tokenizer", "byte") != "byte":
        raise ValueError("the replay knows byte-level text data only")
    cfg, params = llama_ref.load_model(run["model"]["path"], dtype)
    initial = {n: p.detach().to(torch.float32).clone() for n, p in params.items()}
    for p in params.values():
        p.requires_grad_(False)

    tokens = byte_tokens(data["train"])
    if cfg.vocab < 256:
        raise ValueError("byte-level data needs a vocabulary of at least 256")
    order = WindowOrder(seed, num_windows(len(tokens), S_len))
    val_tokens = byte_tokens(data["val"]) if data.get("val") else None
    eval_every = run.get("output", {}).get("eval_every", 0)

    blocks = run_blocks(cfg, bcd)
    schedule, switches = block_schedule(bcd, seed, len(blocks), steps)
    switch_after = {s for s, _, _ in switches}
    reset = bcd.get("reset_state_on_switch", True)
    clip = optim.get("grad_clip", 1.0)

    states = {}
    cur = schedule[0]
    states[cur] = new_state()
    out_steps, evals = [], []
    for s in range(1, steps + 1):
        b = schedule[s - 1]
        if b != cur:  # a switch happened after step s-1
            if reset or b not in states:
                states[b] = new_state()
            cur = b
        active = blocks[b][1]
        for n in active:
            params[n].requires_grad_(True)
            params[n].grad = None

        loss, grads, norm = step_gradients(cfg, params, active, order.take(B * A), tokens, S_len)
        k = clip_factor(norm, clip)
        lr = lr_at(s, steps, optim)
        st = states[b]
        st["t"] += 1
        with torch.no_grad():
            for n in active:
                g = grads[n] * k if k != 1.0 else grads[n]
                optimizer_update(n, params[n], g, st, lr, optim)
        for n in active:
            params[n].grad = None
            params[n].requires_grad_(False)

        out_steps.append({"step": s, "tokens": s * B * A * S_len, "loss": loss.item(), "lr": lr,
                          "block": b, "grad_norm": norm})
        if val_tokens is not None and ((eval_every > 0 and s % eval_every == 0) or s == steps):
            vl, _ = mean_loss(cfg, params, list(range(num_windows(len(val_tokens), S_len))), val_tokens, S_len)
            evals.append({"step": s, "val_loss": vl})
        assert (s in switch_after) == (s < steps and schedule[s] != b)

    return {"cfg": cfg, "blocks": blocks, "schedule": schedule, "switches": switches, "steps": out_steps,
            "evals": evals, "initial": initial, "final": {n: p.detach() for n, p in params.items()},
            "params": sum(p.numel() for p in params.values()),
            "epochs_started": order.epoch + 1}


def replay_sets(run, norms=None, dtype=torch.float64):
    """replay() for the active sets of docs/training.md "Active sets": γ blocks at once, lisa,
    importance (with `norms`, see active_sets), the switch warm-up, and a reset that spares the
    blocks staying in the set. Returns replay()'s dict with "sets" (the set of every step) and
    switches [(step, from_set, to_set)]; "schedule" holds each set's first id."""
    data, optim, train, bcd = run["data"], run.get("optim", {}), run.get("train", {}), run.get("bcd", {})
    S_len = data["seq_len"]
    steps = train.get("steps", 1000)
    B, A, seed = train.get("batch_size", 8), train.get("grad_accum", 1), train.get("seed", 1)
    if data.get("format", "text") != "text" or data.get("tokenizer", "byte") != "byte":
        raise ValueError("the replay knows byte-level text data only")
    cfg, params = llama_ref.load_model(run["model"]["path"], dtype)
    initial = {n: p.detach().to(torch.float32).clone() for n, p in params.items()}
    for p in params.values():
        p.requires_grad_(False)
    tokens = byte_tokens(data["train"])
    order = WindowOrder(seed, num_windows(len(tokens), S_len))

    blocks = run_blocks(cfg, bcd)
    sets, switches = active_sets(bcd, seed, blocks, steps, norms)
    reset = bcd.get("reset_state_on_switch", True)
    W = 0 if bcd.get("mode", "bcd") == "full" else bcd.get("switch_warmup_steps", 0)
    clip = optim.get("grad_clip", 1.0)

    states, cur, j = {}, None, 0
    out_steps = []
    for s in range(1, steps + 1):
        new = sets[s - 1]
        if new != cur:
            for b in new:
                if (cur is None or b not in cur) and (reset or b not in states):
                    states[b] = new_state()
            cur, j = new, 0
        active = [n for b in cur for n in blocks[b][1]]
        owner = {n: b for b in cur for n in blocks[b][1]}
        for n in active:
            params[n].requires_grad_(True)
            params[n].grad = None
        loss, grads, norm = step_gradients(cfg, params, active, order.take(B * A), tokens, S_len)
        k = clip_factor(norm, clip)
        lr = lr_at(s, steps, optim) * warmup_factor(j, W)
        for b in cur:
            states[b]["t"] += 1
        with torch.no_grad():
            for n in active:
                g = grads[n] * k if k != 1.0 else grads[n]
                optimizer_update(n, params[n], g, states[owner[n]], lr, optim)
        for n in active:
            params[n].grad = None
            params[n].requires_grad_(False)
        j += 1
        out_steps.append({"step": s, "tokens": s * B * A * S_len, "loss": loss.item(), "lr": lr,
                          "block": cur[0], "blocks": list(cur), "grad_norm": norm})

    return {"cfg": cfg, "blocks": blocks, "sets": sets, "schedule": [x[0] for x in sets],
            "switches": switches, "steps": out_steps, "evals": [], "initial": initial,
            "final": {n: p.detach() for n, p in params.items()},
            "params": sum(p.numel() for p in params.values())}


def resolve_paths(run, base_dir):
    """A copy of the run config with model.path, data.train/val and output.dir made absolute
    against base_dir (the folder holding RUN.json)."""
    import copy
    run = copy.deepcopy(run)

    def fix(section, key):
        v = run.get(section, {}).get(key)
        if v and not os.path.isabs(v):
            run[section][key] = os.path.normpath(os.path.join(base_dir, v))
    fix("model", "path")
    fix("data", "train")
    fix("data", "val")
    fix("output", "dir")
    return run

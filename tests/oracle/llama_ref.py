"""Independent reference of the Hugging Face Llama family (Llama, Qwen2, Mistral) in plain torch.

Written from the architecture's definition, not from transformers' code, and using only torch
autograd, so that it can judge the C++ engine: same weights in, logits / loss / every gradient out.
It runs in float64 (the reference precision of the oracle tests) or float32.

Model, per layer (pre-norm):
    h = x + o_proj(attn(rope(q_proj(n)), rope(k_proj(n)), v_proj(n)))   n = RMSNorm_in(x)
    x = h + down_proj(silu(gate_proj(m)) * up_proj(m))                  m = RMSNorm_post(h)
then a final RMSNorm and lm_head (or the transposed embedding when tied).

Names of the parameters are the Hugging Face ones (model.layers.N.self_attn.q_proj.weight, ...), so
that a params dict maps one to one onto model.safetensors.
"""

import json
import math
import os
from dataclasses import dataclass
from typing import Optional

import torch

try:  # works both as a module of this folder and when imported as tests.oracle.llama_ref
    from . import st_io
except ImportError:
    import st_io

ARCHITECTURES = ("LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM")

# num_key_value_heads when config.json omits it: each HF config class has its own default.
_DEFAULT_KV_HEADS = {"LlamaForCausalLM": None, "Qwen2ForCausalLM": 32, "MistralForCausalLM": 8}


@dataclass
class Config:
    arch: str
    vocab: int
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    eps: float
    rope_theta: float
    rope_scaling: Optional[dict]  # normalised: has "rope_type"; None = plain RoPE
    tied: bool
    qkv_bias: bool
    o_bias: bool
    mlp_bias: bool
    sliding_window: Optional[int]  # effective window, None = full causal attention


def parse_config(d):
    """Build a Config from a Hugging Face config.json dict; refuses what the reference cannot do."""
    archs = d.get("architectures") or []
    if len(archs) != 1 or archs[0] not in ARCHITECTURES:
        raise ValueError(f"unsupported architectures {archs!r}; expected one of {ARCHITECTURES}")
    arch = archs[0]
    act = d.get("hidden_act", "silu")
    if act != "silu":
        raise ValueError(f"unsupported hidden_act {act!r} (only silu)")

    heads = d["num_attention_heads"]
    kv_heads = d.get("num_key_value_heads") or _DEFAULT_KV_HEADS[arch] or heads
    if heads % kv_heads:
        raise ValueError(f"num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}")
    head_dim = d.get("head_dim") or d["hidden_size"] // heads
    if head_dim % 2:
        raise ValueError(f"head_dim {head_dim} must be even for RoPE")

    # Biases: Qwen2 always has q/k/v biases; Llama's attention_bias adds q/k/v/o biases and mlp_bias
    # gate/up/down biases; Mistral has none.
    llama = arch == "LlamaForCausalLM"
    qkv_bias = arch == "Qwen2ForCausalLM" or (llama and bool(d.get("attention_bias", False)))
    o_bias = llama and bool(d.get("attention_bias", False))
    mlp_bias = llama and bool(d.get("mlp_bias", False))

    # Sliding window: Mistral applies "sliding_window" (default 4096) unless null; Qwen2 only when
    # use_sliding_window is true.
    window = None
    if arch == "MistralForCausalLM":
        window = d.get("sliding_window", 4096)
    elif arch == "Qwen2ForCausalLM" and d.get("use_sliding_window", False):
        window = d.get("sliding_window", 4096)

    return Config(arch=arch, vocab=d["vocab_size"], hidden=d["hidden_size"],
                  intermediate=d["intermediate_size"], layers=d["num_hidden_layers"], heads=heads,
                  kv_heads=kv_heads, head_dim=head_dim, eps=float(d.get("rms_norm_eps", 1e-6)),
                  rope_theta=float(d.get("rope_theta", 10000.0)),
                  rope_scaling=_parse_rope_scaling(d.get("rope_scaling")),
                  tied=bool(d.get("tie_word_embeddings", False)), qkv_bias=qkv_bias, o_bias=o_bias,
                  mlp_bias=mlp_bias, sliding_window=window)


def _parse_rope_scaling(rs):
    """Normalise rope_scaling: older configs spell the kind "type", newer ones "rope_type"."""
    if rs is None:
        return None
    kind = rs.get("rope_type", rs.get("type"))
    if kind == "default":
        return None
    if kind == "linear":
        needed = ("factor",)
    elif kind == "llama3":
        needed = ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings")
    else:
        raise ValueError(f"unsupported rope_scaling type {kind!r} (default, linear, llama3)")
    missing = [k for k in needed if k not in rs]
    if missing:
        raise ValueError(f"rope_scaling {kind} lacks {missing}")
    return dict(rs, rope_type=kind)


def param_shapes(cfg):
    """HF parameter name -> shape, in model order."""
    H, I, D = cfg.hidden, cfg.intermediate, cfg.head_dim
    q_out, kv_out = cfg.heads * D, cfg.kv_heads * D
    shapes = {"model.embed_tokens.weight": (cfg.vocab, H)}
    for i in range(cfg.layers):
        p = f"model.layers.{i}."
        shapes[p + "input_layernorm.weight"] = (H,)
        for name, out in (("q_proj", q_out), ("k_proj", kv_out), ("v_proj", kv_out)):
            shapes[p + f"self_attn.{name}.weight"] = (out, H)
            if cfg.qkv_bias:
                shapes[p + f"self_attn.{name}.bias"] = (out,)
        shapes[p + "self_attn.o_proj.weight"] = (H, q_out)
        if cfg.o_bias:
            shapes[p + "self_attn.o_proj.bias"] = (H,)
        shapes[p + "post_attention_layernorm.weight"] = (H,)
        for name, shape in (("gate_proj", (I, H)), ("up_proj", (I, H)), ("down_proj", (H, I))):
            shapes[p + f"mlp.{name}.weight"] = shape
            if cfg.mlp_bias:
                shapes[p + f"mlp.{name}.bias"] = (shape[0],)
    shapes["model.norm.weight"] = (H,)
    if not cfg.tied:
        shapes["lm_head.weight"] = (cfg.vocab, H)
    return shapes


def _read_weights(model_dir):
    """All tensors of model.safetensors, or of the shards listed by model.safetensors.index.json."""
    single = os.path.join(model_dir, "model.safetensors")
    if os.path.exists(single):
        return st_io.load(single)
    with open(os.path.join(model_dir, "model.safetensors.index.json")) as f:
        shards = sorted(set(json.load(f)["weight_map"].values()))
    tensors = {}
    for shard in shards:
        tensors.update(st_io.load(os.path.join(model_dir, shard)))
    return tensors


def load_model(model_dir, dtype=torch.float64):
    """Read config.json + safetensors weights: (cfg, params name -> leaf tensor requiring grad).

    The weights must be exactly the expected set (a tied model may also carry an lm_head.weight copy,
    which is ignored, as transformers does)."""
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = parse_config(json.load(f))
    weights = _read_weights(model_dir)
    shapes = param_shapes(cfg)
    extra = set(weights) - set(shapes) - ({"lm_head.weight"} if cfg.tied else set())
    missing = set(shapes) - set(weights)
    if extra or missing:
        raise ValueError(f"{model_dir}: missing tensors {sorted(missing)}, unexpected {sorted(extra)}")
    params = {}
    for name, shape in shapes.items():
        w = weights[name]
        if tuple(w.shape) != tuple(shape):
            raise ValueError(f"{model_dir}: {name} has shape {tuple(w.shape)}, expected {shape}")
        params[name] = w.to(dtype).clone().requires_grad_(True)
    return cfg, params


# ----------------------------------------------------------------------------- building blocks

def rope_inv_freq(cfg, dtype):
    """Inverse frequencies theta^(-2i/d), i < d/2, then the configured scaling."""
    d = cfg.head_dim
    inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, d, 2, dtype=dtype) / d))
    rs = cfg.rope_scaling
    if rs is None:
        return inv
    if rs["rope_type"] == "linear":
        # positions / factor  <=>  frequencies / factor
        return inv / rs["factor"]
    # llama3: long wavelengths (beyond old_len / low_freq_factor) are slowed down by `factor`, short
    # ones (below old_len / high_freq_factor) kept; in between, interpolate linearly in old_len/wavelen.
    factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old_len = rs["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv
    smooth = (old_len / wavelen - lo) / (hi - lo)
    mixed = (1 - smooth) * inv / factor + smooth * inv
    out = torch.where(wavelen > old_len / lo, inv / factor, mixed)
    return torch.where(wavelen < old_len / hi, inv, out)


def rope_cos_sin(cfg, seq_len, dtype):
    """cos, sin of shape [T, head_dim]; the frequency table is repeated for both halves."""
    pos = torch.arange(seq_len, dtype=dtype)
    angles = torch.outer(pos, rope_inv_freq(cfg, dtype))
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def apply_rope(x, cos, sin):
    """HF convention: pairs are (i, i + d/2), not adjacent elements.  x: [B, heads, T, d]."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def linear(x, w, b=None):
    y = x @ w.t()
    return y if b is None else y + b


def _causal_mask(cfg, T):
    """True where query t may attend key s: s <= t (and within the sliding window, if any)."""
    if cfg.sliding_window is not None and T > cfg.sliding_window:
        # HF's implementations disagree by one on the window edge; not needed by the tests.
        raise NotImplementedError(f"sequence length {T} exceeds sliding_window {cfg.sliding_window}")
    return torch.ones(T, T, dtype=torch.bool).tril()


def attention(cfg, params, prefix, x, cos, sin):
    """Grouped-query causal self-attention.  x: [B, T, hidden] (already normalised)."""
    B, T, _ = x.shape
    D = cfg.head_dim
    g = lambda name: params.get(prefix + name)  # noqa: E731  (bias entries may be absent)

    def project(name, n_heads):
        y = linear(x, g(f"{name}.weight"), g(f"{name}.bias"))
        return y.view(B, T, n_heads, D).transpose(1, 2)  # [B, heads, T, D]

    q = apply_rope(project("q_proj", cfg.heads), cos, sin)
    k = apply_rope(project("k_proj", cfg.kv_heads), cos, sin)
    v = project("v_proj", cfg.kv_heads)
    # Query head h reads key/value head h // group (HF's repeat_kv layout).
    group = cfg.heads // cfg.kv_heads
    k = k.repeat_interleave(group, dim=1)
    v = v.repeat_interleave(group, dim=1)

    scores = (q @ k.transpose(-1, -2)) / math.sqrt(D)
    scores = scores.masked_fill(~_causal_mask(cfg, T), float("-inf"))
    out = scores.softmax(dim=-1) @ v  # [B, heads, T, D]
    out = out.transpose(1, 2).reshape(B, T, cfg.heads * D)
    return linear(out, g("o_proj.weight"), g("o_proj.bias"))


def mlp(params, prefix, x):
    """SwiGLU: down(silu(gate(x)) * up(x))."""
    g = lambda name: params.get(prefix + name)  # noqa: E731
    gate = linear(x, g("gate_proj.weight"), g("gate_proj.bias"))
    up = linear(x, g("up_proj.weight"), g("up_proj.bias"))
    return linear(torch.nn.functional.silu(gate) * up, g("down_proj.weight"), g("down_proj.bias"))


# ----------------------------------------------------------------------------- model

def forward(cfg, params, inputs, inputs_embeds_hook=None):
    """Logits [B, T, vocab] for token ids `inputs` [B, T] (positions 0..T-1 in every row).

    inputs_embeds_hook(h) -> h, if given, sees the embedding output [B, T, hidden] before layer 0
    (e.g. to retain its gradient: the engine's "input activations")."""
    inputs = torch.as_tensor(inputs, dtype=torch.long)
    embed = params["model.embed_tokens.weight"]
    x = embed[inputs]
    if inputs_embeds_hook is not None:
        x = inputs_embeds_hook(x)
    cos, sin = rope_cos_sin(cfg, inputs.shape[1], x.dtype)
    for i in range(cfg.layers):
        p = f"model.layers.{i}."
        x = x + attention(cfg, params, p + "self_attn.", rms_norm(x, params[p + "input_layernorm.weight"],
                                                                    cfg.eps), cos, sin)
        x = x + mlp(params, p + "mlp.", rms_norm(x, params[p + "post_attention_layernorm.weight"], cfg.eps))
    x = rms_norm(x, params["model.norm.weight"], cfg.eps)
    head = embed if cfg.tied else params["lm_head.weight"]
    return x @ head.t()


def loss(logits, targets):
    """Mean cross-entropy over the positions whose target is not -100 (targets aligned with logits:
    targets[b, t] is the token predicted at position t, no shift)."""
    targets = torch.as_tensor(targets, dtype=torch.long)
    if not (targets != -100).any():
        raise ValueError("no target other than -100: the mean loss is undefined")
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                             ignore_index=-100, reduction="mean")


def reference_outputs(cfg, params, inputs, targets):
    """Everything the engine's dump holds, computed by autograd in the params' dtype:
    {"logits": [B,T,V], "loss": [1], "input_grad": [B,T,hidden], "grad/<name>": like the parameter}.
    `params` is not modified (gradients are taken on fresh leaves)."""
    leaves = {n: p.detach().clone().requires_grad_(True) for n, p in params.items()}
    embeds = []

    def keep(h):
        h.retain_grad()
        embeds.append(h)
        return h

    logits = forward(cfg, leaves, inputs, inputs_embeds_hook=keep)
    value = loss(logits, targets)
    value.backward()
    out = {"logits": logits.detach(), "loss": value.detach().reshape(1), "input_grad": embeds[0].grad}
    for name, p in leaves.items():
        out["grad/" + name] = p.grad if p.grad is not None else torch.zeros_like(p)
    return out

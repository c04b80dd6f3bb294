#!/usr/bin/env python3
"""The peers of bench_train_device on the same GPU: Hugging Face's LlamaForCausalLM of the same
shape and batch, trained with

  torch-amp    full AdamW, fp32 master weights, bf16 autocast (the usual mixed precision;
               16 bytes per parameter before activations)
  torch-bf16   full AdamW on bf16 weights (fused AdamW; 8 bytes per parameter)
  badam        BAdam (PyPI `badam`, BlockOptimizer over AdamW) on the bf16 model, one block
               per layer plus the embedding and the head, as bcd-train's default partition

Prints one JSON object per mode: tokens/s, the step time, the 6·N MFU against the given peak,
and torch.cuda.max_memory_allocated. Without CUDA it says so and exits with 77.

  torch_peer.py --modes torch-amp,torch-bf16,badam --layers 16 --hidden 2048 --heads 16
      --kv-heads 16 --ffn 5632 --vocab 32000 --seq 2048 --batch 4 --steps 36 --warmup 2
      --peak-tflops 989
"""
import argparse
import json
import sys
import time


def build_model(torch, transformers, a, dtype):
    cfg = transformers.LlamaConfig(
        vocab_size=a.vocab, hidden_size=a.hidden, intermediate_size=a.ffn,
        num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.kv_heads,
        max_position_embeddings=max(a.seq, 2048), rms_norm_eps=1e-5, tie_word_embeddings=False)
    kwargs = {"attn_implementation": "sdpa"}
    model = transformers.LlamaForCausalLM(cfg, **kwargs).to(device="cuda", dtype=dtype)
    model.config.use_cache = False
    return model


def run_mode(torch, transformers, a, mode):
    torch.manual_seed(1)
    dtype = torch.float32 if mode == "torch-amp" else torch.bfloat16
    model = build_model(torch, transformers, a, dtype)
    params = sum(p.numel() for p in model.parameters())
    if mode == "badam":
        from badam import BlockOptimizer  # noqa: E402 (a wheel carried to the GPU machine)
        base = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)
        opt = BlockOptimizer(base_optimizer=base, named_parameters_list=list(model.named_parameters()),
                             switch_block_every=a.steps_per_block, switch_mode="ascending",
                             include_embedding=True, include_lm_head=True, verbose=0)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1, fused=True)
    gen = torch.Generator(device="cuda").manual_seed(2)
    ids = torch.randint(0, a.vocab, (a.batch, a.seq), device="cuda", generator=gen)
    labels = torch.randint(0, a.vocab, (a.batch, a.seq), device="cuda", generator=gen)

    def step():
        if mode == "torch-amp":
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = model(input_ids=ids, labels=labels).loss
        else:
            loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.grad is not None], 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    for _ in range(a.warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    tokens_per_s = a.batch * a.seq * a.steps / secs
    peak = a.peak_tflops * 1e12
    out = {"engine": mode, "params": params, "seq": a.seq, "batch": a.batch,
           "timed_steps": a.steps, "step_s": secs / a.steps, "tokens_per_s": tokens_per_s,
           "last_loss": float(loss), "mfu_6n": tokens_per_s * 6 * params / peak if peak else 0.0,
           "max_memory_allocated_bytes": torch.cuda.max_memory_allocated(),
           "torch": torch.__version__, "transformers": transformers.__version__}
    del model, opt
    torch.cuda.empty_cache()
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--modes", default="torch-amp,torch-bf16,badam")
    for k, v in (("layers", 16), ("hidden", 2048), ("heads", 16), ("kv-heads", 16),
                 ("ffn", 5632), ("vocab", 32000), ("seq", 2048), ("batch", 4), ("steps", 36),
                 ("warmup", 2), ("steps-per-block", 2)):
        p.add_argument("--" + k, type=int, default=v)
    p.add_argument("--peak-tflops", type=float, default=0.0)
    a = p.parse_args()
    try:
        import torch
        import transformers
    except ImportError as e:
        print(f"torch_peer: skipped: {e}", file=sys.stderr)
        return 77
    if not torch.cuda.is_available():
        print("torch_peer: skipped: no GPU (torch.cuda.is_available() is False)", file=sys.stderr)
        return 77
    rc = 0
    for mode in a.modes.split(","):
        try:
            print(json.dumps(run_mode(torch, transformers, a, mode)), flush=True)
        except Exception as e:  # one peer failing must not hide the others
            print(json.dumps({"engine": mode, "error": f"{type(e).__name__}: {e}"}), flush=True)
            rc = 1
            torch.cuda.empty_cache()
    return rc


if __name__ == "__main__":
    sys.exit(main())

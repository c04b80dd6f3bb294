"""Validate the reference (llama_ref) against Hugging Face transformers.  Run by hand:

    /path/to/venv/bin/python tests/oracle/check_ref_vs_hf.py [--work-dir DIR]

with a Python that has torch and transformers.  For each case it writes a model folder (config.json +
model.safetensors by st_io), loads it with AutoModelForCausalLM.from_pretrained and compares, in
float32, the reference's logits, loss, input gradient (d loss / d embedding output) and every
parameter gradient with HF's autograd; it also reports the float64 reference against HF float32.
Exit 0 when every float32 relative error is <= 1e-5.
"""

import argparse
import os
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llama_ref  # noqa: E402
import oracle_common as oc  # noqa: E402

TOL = 1e-5

# Cases beyond the oracle's three test models: the remaining options of the reference.
EXTRA = {
    "llama-bias": dict(oc.MODELS["llama"]["config"], attention_bias=True, mlp_bias=True,
                       num_key_value_heads=1),
    "llama-linear-tied": dict(oc.MODELS["llama"]["config"], head_dim=16, tie_word_embeddings=True,
                              rope_theta=10000.0, rope_scaling={"type": "linear", "factor": 4.0}),
    "qwen2-gqa-llama3": dict(oc.MODELS["qwen2"]["config"], num_key_value_heads=2,
                             rope_scaling={"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0,
                                           "high_freq_factor": 2.0, "original_max_position_embeddings": 32}),
    "mistral-mha": dict(oc.MODELS["mistral"]["config"], num_key_value_heads=8, head_dim=None,
                        hidden_size=64, tie_word_embeddings=True),
}


def hf_outputs(model_dir, inputs, targets):
    """The same dict as llama_ref.reference_outputs, computed by transformers in float32, plus HF's
    own loss from `labels` (HF shifts labels by one inside the model)."""
    from transformers import AutoModelForCausalLM
    model, info = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32,
                                                       output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    if bad:
        raise RuntimeError(f"{model_dir}: transformers reports {bad}")
    model.eval()  # no dropout
    ids = torch.tensor(inputs)
    embeds = model.get_input_embeddings()(ids)
    embeds.retain_grad()
    logits = model(inputs_embeds=embeds, use_cache=False).logits
    value = llama_ref.loss(logits, targets)
    value.backward()
    out = {"logits": logits.detach(), "loss": value.detach().reshape(1), "input_grad": embeds.grad}
    for name, p in model.named_parameters():  # a tied lm_head is not listed separately
        out["grad/" + name] = p.grad

    # HF's built-in loss: labels[t+1] is the target of position t, so it cannot see our last column.
    t = torch.tensor(targets)
    labels = torch.cat([torch.full_like(t[:, :1], -100), t[:, :-1]], dim=1)
    with torch.no_grad():
        out["hf_loss"] = model(input_ids=ids, labels=labels, use_cache=False).loss.reshape(1)
    return out


def check_case(work_dir, name, config, seed, batch, seq):
    case_dir = os.path.join(work_dir, name)
    config = {k: v for k, v in config.items() if v is not None or k == "sliding_window"}
    oc.write_model_dir(case_dir, config, seed)
    inputs, targets = oc.random_tokens(config["vocab_size"], batch, seq, seed + 1)
    hf = hf_outputs(case_dir, inputs, targets)

    row = {}
    for dtype in (torch.float32, torch.float64):
        cfg, params = llama_ref.load_model(case_dir, dtype)
        ref = llama_ref.reference_outputs(cfg, params, inputs, targets)
        names = oc.expected_names(cfg)
        if set(n for n in hf if n != "hf_loss") != names:
            raise RuntimeError(f"{name}: HF parameters differ: {sorted(set(hf) ^ names)}")
        errors, _ = oc.compare(hf, ref, names, require_f32=False)
        row[dtype] = errors
        if dtype == torch.float32:
            # our loss without the last column (which HF's shifted labels cannot express)
            last_masked = [r[:-1] + [-100] for r in targets]
            row["hf_loss"] = oc.rel_err(hf["hf_loss"], llama_ref.loss(ref["logits"], last_masked).reshape(1))
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work-dir")
    args = ap.parse_args()
    work_dir = args.work_dir or tempfile.mkdtemp(prefix="bcd-ref-vs-hf-")
    import transformers
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, work dir {work_dir}")

    cases = [(n, m["config"], m["seed"], m["batch"], m["seq"]) for n, m in oc.MODELS.items()]
    cases += [(n, c, 900 + i, 2, 16) for i, (n, c) in enumerate(EXTRA.items())]
    ok = True
    print(f"{'case':<18} {'f32 logits':>10} {'f32 loss':>10} {'f32 in_grad':>11} {'f32 grads':>10} "
          f"{'HF labels':>10} | {'f64 logits':>10} {'f64 worst':>10}")
    for name, config, seed, batch, seq in cases:
        row = check_case(work_dir, name, config, seed, batch, seq)
        e32, e64 = row[torch.float32], row[torch.float64]
        worst32 = max(e32.values())
        ok &= worst32 <= TOL and row["hf_loss"] <= TOL
        print(f"{name:<18} {e32['logits']:10.2e} {e32['loss']:10.2e} {e32['input_grad']:11.2e} "
              f"{oc.worst(e32, 'grad/')[1]:10.2e} {row['hf_loss']:10.2e} | {e64['logits']:10.2e} "
              f"{max(e64.values()):10.2e}")
    print("PASS" if ok else f"FAIL: some float32 relative error > {TOL}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

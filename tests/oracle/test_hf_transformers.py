"""ctest: the C++ engine against Hugging Face transformers itself (tensor names, RoPE convention).

    PYTHON test_hf_transformers.py ENGINE_DUMP [--work-dir DIR] [--threads N]
    PYTHON test_hf_transformers.py --engine-dump ENGINE_DUMP ...

PYTHON must have torch and PyPI's transformers; without transformers the test is skipped (exit 77).
For each test model (oracle_common.MODELS) it writes the model folder, runs the engine's dump tool,
loads the folder with AutoModelForCausalLM.from_pretrained(dir, torch_dtype=torch.float32) (which must
report no missing or unexpected tensor), and compares the engine's logits, loss, input gradient and
parameter gradients with HF's forward and autograd: relative error <= 1e-4 each.  Exit 0 pass, 1 fail.
"""

import os
import sys
import tempfile

try:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM
except Exception as e:  # ImportError, or a transformers that cannot work with this torch
    print(f"SKIPPED: transformers not importable by {sys.executable} (PyPI unreachable or not installed): "
          f"{type(e).__name__}: {e}")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402
import oracle_common as oc  # noqa: E402


def hf_outputs(model_dir, inputs, targets):
    """Logits, loss (our target convention: no shift), input_grad and grad/<name> from transformers.

    Raises RuntimeError when from_pretrained reports missing, unexpected or mismatched tensors: a
    name the engine's writer or reader would disagree on with HF."""
    model, info = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32,
                                                       output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    if bad:
        raise RuntimeError(f"transformers loading {model_dir}: {bad}")
    model.eval()  # no dropout
    embeds = model.get_input_embeddings()(torch.tensor(inputs))
    embeds.retain_grad()  # the engine's input_grad: d loss / d embedding output
    logits = model(inputs_embeds=embeds, use_cache=False).logits
    value = llama_ref.loss(logits, targets)
    value.backward()
    out = {"logits": logits.detach(), "loss": value.detach().reshape(1), "input_grad": embeds.grad}
    for name, p in model.named_parameters():  # a tied lm_head is listed once, as the embedding
        out["grad/" + name] = p.grad if p.grad is not None else torch.zeros_like(p)
    return out


def check_model(args, work_dir, name):
    case = oc.prepare(work_dir, name)
    got, err = oc.run_engine_dump(args.engine, case, args.threads)
    if got is None:
        return oc.table_row(name, {}, False), [err]
    try:
        hf = hf_outputs(case["model_dir"], case["inputs"], case["targets"])
    except RuntimeError as e:
        return oc.table_row(name, {}, False), [str(e)]

    failures = oc.check_name_set(got, set(hf))
    errors, more = oc.compare(got, hf, set(hf) & set(got))
    failures += more
    return oc.table_row(name, errors, not failures), failures


def main(argv=None):
    args = oc.parse_args(__doc__.splitlines()[0], argv)
    work_dir = args.work_dir or tempfile.mkdtemp(prefix="bcd-oracle-hf-")
    print(f"engine dump: {args.engine}\nwork dir: {work_dir}\n"
          f"reference: transformers {transformers.__version__}, torch {torch.__version__}, float32; "
          f"tolerance {oc.REL_TOL:.0e} relative")
    torch.set_num_threads(min(4, os.cpu_count() or 1))

    return oc.run_cases(args, work_dir, check_model, "worst relative error per model (engine float32 vs transformers float32)")

if __name__ == "__main__":
    sys.exit(main())

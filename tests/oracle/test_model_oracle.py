"""ctest: the C++ engine's forward and backward against the float64 PyTorch reference (llama_ref).

    /usr/bin/python3 test_model_oracle.py ENGINE_DUMP [--work-dir DIR] [--threads N]
    /usr/bin/python3 test_model_oracle.py --engine-dump ENGINE_DUMP ...

For each test model (oracle_common.MODELS: Llama, Qwen2, Mistral) it writes a seeded random model
folder and token file, runs

    ENGINE_DUMP --model DIR --tokens TOKENS.json --out OUT.safetensors [--threads N]

and requires the dump to hold exactly logits, loss, input_grad and grad/<name> for every parameter,
each float32, with ||engine - ref|| / ||ref|| <= 1e-4.  Exit 0 pass, 1 fail, 77 skipped (no torch).
"""

import os
import sys
import tempfile

try:
    import torch
except ImportError as e:  # ctest: SKIP_RETURN_CODE 77
    print(f"SKIPPED: python3-torch not installed ({e}) for {sys.executable}")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402
import oracle_common as oc  # noqa: E402


def check_model(args, work_dir, name):
    """Returns (table row, failure messages) for one test model."""
    case = oc.prepare(work_dir, name)
    got, err = oc.run_engine_dump(args.engine, case, args.threads)
    if got is None:
        return oc.table_row(name, {}, False), [err]

    cfg, params = llama_ref.load_model(case["model_dir"], torch.float64)
    ref = llama_ref.reference_outputs(cfg, params, case["inputs"], case["targets"])
    expected = oc.expected_names(cfg)
    failures = oc.check_name_set(got, expected)
    errors, more = oc.compare(got, ref, expected & set(got))
    failures += more
    return oc.table_row(name, errors, not failures), failures


def main(argv=None):
    args = oc.parse_args(__doc__.splitlines()[0], argv)
    work_dir = args.work_dir or tempfile.mkdtemp(prefix="bcd-oracle-")
    print(f"engine dump: {args.engine}\nwork dir: {work_dir}\n"
          f"reference: torch {torch.__version__} float64; tolerance {oc.REL_TOL:.0e} relative")
    torch.set_num_threads(min(4, os.cpu_count() or 1))

    return oc.run_cases(args, work_dir, check_model, "worst relative error per model (engine float32 vs reference float64)")

if __name__ == "__main__":
    sys.exit(main())

"""ctest: a model folder with only a SentencePiece tokenizer.model, read through libsentencepiece,
against transformers' LlamaTokenizer (slow) and LlamaTokenizerFast for the same file, id for id.

    PYTHON test_tokenizer_model_hf.py --dump CHAT_DUMP --data REAL_DATA_DIR [--work-dir DIR]

PYTHON must have PyPI's `sentencepiece` and `transformers` (exit 77, skipped, without them); the
engine must be built with libsentencepiece (exit 77 when chat_dump says it is not).

The published folders in REAL_DATA_DIR have no tokenizer.model, so the models are trained here
with `sentencepiece` on REAL_DATA_DIR's text (English, Russian, Chinese, emoji, code, Greek):
BPE with Llama 2's settings (identity normaliser, whitespace kept, dummy prefix, digits split),
with and without byte fallback, and one with sentencepiece's defaults (NFKC, extra whitespace
removed), where only the slow tokenizer, which runs sentencepiece itself, is the reference.
LlamaTokenizerFast is converted from the file with add_prefix_space=True, which keeps the
model's dummy prefix (without it transformers 4.46's converter drops the prefix "▁").

Each document of the multilingual corpus of test_tokenizer_sp_hf.py (valid UTF-8 only: the JSON
lines chat_dump reads are text) is encoded as `data.format: jsonl` encodes it (BOS as
LlamaTokenizer adds it) and compared with `tokenizer(text)["input_ids"]`.

Exit 0 pass, 1 fail (the first differences are printed).
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

try:
    import sentencepiece as spm
    import transformers
    from transformers import LlamaTokenizer, LlamaTokenizerFast
except Exception as e:  # ImportError, or a broken install
    print(f"SKIPPED: sentencepiece / transformers not importable by {sys.executable}: {type(e).__name__}: {e}")
    sys.exit(77)

transformers.logging.set_verbosity_error()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_tokenizer_sp_hf as sp_test  # noqa: E402  (its corpus)
import test_tokenizer_hf as base  # noqa: E402


def corpus(data_dir):
    rng = random.Random(16)
    inputs, _ = sp_test.llama_cpp_cases(data_dir)
    docs = (sp_test.SP_DOCS + base.CODE + base.UNICODE + base.NUMBERS + base.WHITESPACE + base.SPECIAL_DOCS +
            inputs + sp_test.real_text_docs(data_dir, rng) + base.random_mix(rng, 150))
    out = []
    for d in docs:
        if isinstance(d, bytes):
            continue
        try:
            d.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates
            continue
        out.append(d)
    return out


def train(work, data_dir):
    text_dir = os.path.join(data_dir, "text")
    train_path = os.path.join(work, "spm-train.txt")
    with open(train_path, "w", encoding="utf-8") as out:
        for name in ("en-tinyshakespeare.txt", "ru-fortunes-knowledge.txt", "zh-fortunes-tang300.txt",
                     "emoji-test.txt", "code/tqdm-std.py", "vim-tutors/tutor.el.utf-8"):
            with open(os.path.join(text_dir, name), encoding="utf-8", errors="replace") as f:
                out.write(f.read()[:120_000])
    llama2 = dict(normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=True,
                  split_digits=True, allow_whitespace_only_pieces=True)
    models = {}
    for name, kw in (("llama2-bytefallback", dict(llama2, byte_fallback=True, character_coverage=0.9995)),
                     ("llama2-unk", dict(llama2, byte_fallback=False, character_coverage=0.98)),
                     ("spm-defaults", dict(byte_fallback=True))):
        d = os.path.join(work, name)
        os.makedirs(d, exist_ok=True)
        spm.SentencePieceTrainer.train(input=train_path, model_prefix=os.path.join(d, "tokenizer"), vocab_size=4000,
                                       model_type="bpe", num_threads=2, minloglevel=2, **kw)
        os.remove(os.path.join(d, "tokenizer.vocab"))
        models[name] = (os.path.join(d, "tokenizer.model"), name != "spm-defaults")
    return models


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True, help="the chat_dump executable")
    ap.add_argument("--data", required=True, help="the real data folder (../shared/data/real)")
    ap.add_argument("--work-dir")
    args = ap.parse_args()
    if not os.path.isdir(os.path.join(args.data, "text")):
        print(f"SKIPPED: the real data folder {args.data} is absent (its text trains the models)")
        return 77
    work = args.work_dir or tempfile.mkdtemp(prefix="bcd-tok-model-")
    os.makedirs(work, exist_ok=True)
    docs = corpus(args.data)
    failures, rows = [], []
    for name, (model, fast_too) in train(work, args.data).items():
        docs_path = os.path.join(work, f"{name}.docs.jsonl")
        with open(docs_path, "w", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps({"text": d}) + "\n")
        out_path = os.path.join(work, f"{name}.out.json")
        r = subprocess.run([args.dump, "--tokenizer", model, "--chats", docs_path, "--out", out_path,
                            "--format", "jsonl"], capture_output=True, text=True)
        with open(out_path, encoding="utf-8") as f:
            got = json.load(f)
        if r.returncode == 2 and "without libsentencepiece" in got.get("error", ""):
            print(f"SKIPPED: {got['error']}")
            return 77
        if r.returncode != 0:
            failures.append(f"{name}: chat_dump exited {r.returncode}: {got}")
            continue
        slow = LlamaTokenizer(vocab_file=model, legacy=True)
        fast = LlamaTokenizerFast(vocab_file=model, legacy=True, from_slow=True, add_prefix_space=True)
        ok_slow = ok_fast = tokens = 0
        for d, g in zip(docs, got["chats"]):
            ids = g.get("ids")
            want = slow(d)["input_ids"]
            tokens += len(want)
            if ids == want:
                ok_slow += 1
            elif len([f for f in failures if f.startswith(name)]) < 5:
                k = next((i for i, (a, b) in enumerate(zip(ids or [], want)) if a != b), None)
                failures.append(f"{name} (slow): {d[:40]!r}: first difference at {k}: engine "
                                f"{(ids or [])[k or 0:(k or 0) + 6]} HF {want[k or 0:(k or 0) + 6]}")
            if fast(d)["input_ids"] == ids:
                ok_fast += 1
        if ok_slow != len(docs):
            failures.append(f"{name}: {len(docs) - ok_slow} documents differ from LlamaTokenizer")
        if fast_too and ok_fast != len(docs):
            failures.append(f"{name}: {len(docs) - ok_fast} documents differ from LlamaTokenizerFast")
        rows.append((name, len(docs), tokens, ok_slow, ok_fast, "required" if fast_too else "reported"))

    print(f"{'tokenizer.model':22} {'docs':>5} {'tokens':>7} {'= slow':>7} {'= fast':>7}  fast")
    for r in rows:
        print(f"{r[0]:22} {r[1]:5d} {r[2]:7d} {r[3]:7d} {r[4]:7d}  {r[5]}")
    if failures:
        print(f"FAIL: {len(failures)} differences")
        for f in failures[:25]:
            print("  " + f)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())

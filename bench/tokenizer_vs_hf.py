#!/usr/bin/env python3
"""Tokenizer encode throughput: bcd::Tokenizer against HF tokenizers on the same file and text.

One invocation trains (HF BpeTrainer, --vocab tokens) a tokenizer.json in each byte-level
pre-tokenizer style (GPT-2, Llama 3, Qwen2), takes the published SentencePiece-style files of
Mistral 7B v0.1 (Metaspace) and Phi-3-mini (Llama 2's vocabulary, Prepend + Replace) from the real
data folder (--data, default ../shared/data/real beside the checkout; left out when absent), builds one document list (the bundled Shakespeare cut into ~4 kB
documents, plus source code, accented / CJK / emoji text), checks that both sides give the same
ids, and measures, alternating the sides, best of --repeats each:

  single   one thread, one document per call: engine encode() / HF Tokenizer.encode()
  batch    all threads: engine encode_batch() / HF Tokenizer.encode_batch() (Rayon)

and prints MB/s and the ratios engine / HF.

    PYTHON bench/tokenizer_vs_hf.py --build build [--vocab 32000] [--repeats 5] [--copies 2]
                                    [--styles gpt2,llama3,qwen2,mistral,phi3] [--data DIR]

PYTHON needs PyPI's tokenizers (the repository's .venv-oracle has it).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

try:
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    import tokenizers
except ImportError as e:
    sys.exit(f"needs PyPI's tokenizers ({e}); use .venv-oracle/bin/python")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
import test_tokenizer_hf as oracle  # noqa: E402  (the patterns and the code / Unicode samples)


def documents(copies):
    with open(os.path.join(ROOT, "resources/sample/shakespeare-train.txt"), encoding="utf-8") as f:
        text = f.read()
    docs, cur = [], []
    size = 0
    for para in text.split("\n\n"):
        cur.append(para)
        size += len(para)
        if size >= 4000:
            docs.append("\n\n".join(cur))
            cur, size = [], 0
    if cur:
        docs.append("\n\n".join(cur))
    mixed = ["\n\n".join(oracle.CODE), " ".join(oracle.UNICODE), "\n".join(oracle.NUMBERS)]
    docs += mixed * 40
    return docs * copies


def train(style, vocab, texts):
    if style == "gpt2":
        pre, norm = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True), None
        model = models.BPE()
    elif style == "llama3":
        pre, norm = oracle.split_then_bytes(oracle.LLAMA3_PATTERN), None
        model = models.BPE(ignore_merges=True)
    else:
        pre, norm = oracle.split_then_bytes(oracle.QWEN2_PATTERN), normalizers.NFC()
        model = models.BPE()
    tok = Tokenizer(model)
    if norm is not None:
        tok.normalizer = norm
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, show_progress=False, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def hf_single(tok, docs):
    t0 = time.perf_counter()
    for d in docs:
        tok.encode(d, add_special_tokens=False)
    return time.perf_counter() - t0


def hf_batch(tok, docs):
    t0 = time.perf_counter()
    tok.encode_batch(docs, add_special_tokens=False)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--copies", type=int, default=2, help="how many times the document list is repeated")
    ap.add_argument("--styles", default="gpt2,llama3,qwen2,mistral,phi3")
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "real"),
                    help="the real data folder with the published SentencePiece-style files")
    args = ap.parse_args()
    published = {"mistral": "mistral-7b-v0.1", "phi3": "phi-3-mini"}
    bench = os.path.join(args.build, "bench", "bench_tokenizer")
    if not os.path.exists(bench):
        sys.exit(f"no {bench}: build the bench_tokenizer target first")

    docs = documents(args.copies)
    nbytes = sum(len(d.encode()) for d in docs)
    threads = os.cpu_count()
    print(f"HF tokenizers {tokenizers.__version__}; {len(docs)} documents, {nbytes / 1e6:.2f} MB; "
          f"{threads} threads for the batch modes; vocabulary {args.vocab}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        docs_path = os.path.join(tmp, "docs.json")
        with open(docs_path, "w", encoding="utf-8") as f:
            json.dump(docs, f)
        train_texts = oracle.training_text(open(os.path.join(ROOT, "resources/sample/shakespeare-train.txt"),
                                                encoding="utf-8").read())
        for style in args.styles.split(","):
            if style in published:
                path = os.path.join(args.data, "tokenizers", published[style], "tokenizer.json")
                if not os.path.exists(path):
                    print(f"{style}: left out, {path} is absent")
                    continue
            else:
                hf = train(style, args.vocab, train_texts)
                path = os.path.join(tmp, f"{style}.json")
                hf.save(path)
            hf = Tokenizer.from_file(path)
            hf_tokens = sum(len(e.ids) for e in hf.encode_batch(docs, add_special_tokens=False))
            best = {"hf_single": 1e30, "hf_batch": 1e30, "single": 1e30, "batch": 1e30}
            for _ in range(args.repeats):  # alternate the sides: the machine's speed drifts
                best["hf_single"] = min(best["hf_single"], hf_single(hf, docs))
                best["hf_batch"] = min(best["hf_batch"], hf_batch(hf, docs))
                r = subprocess.run([bench, "--tokenizer", path, "--docs", docs_path, "--repeats", "1",
                                    "--threads", str(threads)], capture_output=True, text=True, check=True)
                ours = json.loads(r.stdout)
                best["single"] = min(best["single"], ours["single_s"])
                best["batch"] = min(best["batch"], ours["batch_s"])
            if ours["tokens"] != hf_tokens:
                sys.exit(f"{style}: the engine gives {ours['tokens']} tokens, HF {hf_tokens}")
            rows.append((style, hf_tokens, best))

    mb = nbytes / 1e6
    print(f"\n| style | tokens | engine 1 thread MB/s | HF encode MB/s | ratio | engine {threads} threads MB/s "
          f"| HF encode_batch MB/s | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for style, n, b in rows:
        print(f"| {style} | {n} | {mb / b['single']:.2f} | {mb / b['hf_single']:.2f} | "
              f"**{b['hf_single'] / b['single']:.2f}×** | {mb / b['batch']:.2f} | {mb / b['hf_batch']:.2f} | "
              f"**{b['hf_batch'] / b['batch']:.2f}×** |")


if __name__ == "__main__":
    main()

"""ctest: SentencePiece-style tokenizer.json files against Hugging Face tokenizers, id for id.

    PYTHON test_tokenizer_sp_hf.py --dump TOKENIZER_DUMP --data REAL_DATA_DIR [--work-dir DIR]

PYTHON must have PyPI's `tokenizers` (exit 77, skipped, without it). Two sets of files:

  real      the published Mistral 7B v0.1 (Metaspace, prepend_scheme first) and Phi-3-mini (Llama 2's
            vocabulary: Prepend + Replace normaliser, 11 added tokens with rstrip) files from
            REAL_DATA_DIR/tokenizers (../shared/data/real, never copied into the project); also
            llama.cpp's reference ids for its 46 test strings (Phi-3 and Llama-2-7b-hf).
  trained   SentencePiece BPE models trained here with `sentencepiece` on REAL_DATA_DIR's text,
            converted by `transformers` (LlamaTokenizerFast, from_slow) to tokenizer.json in the
            legacy (Prepend + Replace) and non-legacy (Metaspace "first") forms, with and without
            byte fallback, and edited for the rarer options: prepend_scheme always / never,
            split, the older add_prefix_space key, the Metaspace decoder, ignore_merges, fuse_unk
            off, a token with "▁" inside (BPE on the whole pre-token), added tokens (special or
            not, normalized, lstrip / rstrip).

Each file encodes a multilingual corpus (English, Russian, Chinese, Greek, Japanese, Korean and
other scripts, code with CRLF and control characters, emoji, odd whitespace, invalid UTF-8, the
empty string, special tokens inside text, literal "▁" and "<0x41>") with HF and with the engine
(through tokenizer_dump); ids, decode() with and without special tokens, and pre-tokens must be
identical document by document. A part whose inputs are missing prints why it is skipped.

Exit 0 pass, 1 fail (the first differences are printed).
"""

import argparse
import json
import os
import random
import sys
import tempfile

try:
    from tokenizers import AddedToken, Tokenizer
    import tokenizers
except Exception as e:  # ImportError, or a broken install
    print(f"SKIPPED: tokenizers not importable by {sys.executable}: {type(e).__name__}: {e}")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_tokenizer_hf as base  # noqa: E402  (the byte-level test's corpus and tokenizer_dump runner)

LLAMA_CPP_SEPARATOR = "\n__ggml_vocab_test__\n"

SP_DOCS = [
    "", " ", "  ", "▁", "▁▁x", "a▁b ▁ c", " ▁leading", "Hello world", " Hello  world ", "hello\n\nworld",
    "<s>", "<s>hi</s>", " <s> hi </s> ", "hi<s>", "<unk>", "<s><s>", "</s>\n", "[INST] Hello [/INST]",
    "<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n4<|end|>", "<|system|> sys <|end|><|user|>x",
    "<|endoftext|>", "a <|assistant|>  b", "<0x41> <0x0A> <0xZZ>", "literal <0x41>", "\u2581\u2581\u2581",
    "Привет, мир! Как дела?", "中文文本：你好，世界！", "日本語のテキスト", "🦙 llama 🦙🦙", "\U0010ffff \ue000",
    "x\u0000y", "tab\tvt\x0bff\x0c\r\n", " " * 40, "\n" * 20, "a" * 200, "Ⅻ ﬁ Å Å",
]


def real_text_docs(data_dir, rng):
    """Documents from the real multilingual text: pieces of every file, and a few whole files."""
    text_dir = os.path.join(data_dir, "text")
    paths = []
    for root, _, files in os.walk(text_dir):
        paths += [os.path.join(root, f) for f in sorted(files)]
    docs = []
    for p in sorted(paths):
        with open(p, "rb") as f:
            raw = f.read()
        legacy = "legacy-encodings" in p
        for _ in range(12):
            n = rng.choice([1, 5, 40, 300, 2000])
            start = rng.randrange(0, max(1, len(raw) - n))
            piece = raw[start:start + n]
            docs.append(piece if legacy else piece.decode("utf-8", "replace"))
        if len(raw) < 160_000:
            docs.append(raw if legacy else raw.decode("utf-8", "replace"))
    return docs


def llama_cpp_cases(data_dir):
    ref = os.path.join(data_dir, "reference", "llama.cpp")
    with open(os.path.join(ref, "ggml-vocab-test.inp"), encoding="utf-8") as f:
        # Every string is followed by the separator, the last one too.
        inputs = f.read().split(LLAMA_CPP_SEPARATOR)[:-1]

    def ids(name):
        with open(os.path.join(ref, f"ggml-vocab-{name}.gguf.out"), encoding="utf-8") as f:
            lines = f.read().split("\n")
        if len(lines) < len(inputs):
            raise RuntimeError(f"{name}: {len(lines)} lines of ids for {len(inputs)} test strings")
        return [[int(x) for x in line.split()] for line in lines[:len(inputs)]]
    return inputs, {"phi-3": ids("phi-3"), "llama-spm": ids("llama-spm")}


# --- tokenizer files trained here -----------------------------------------------------------------

def build_trained(work, data_dir):
    """name → tokenizer.json path, or a reason string when sentencepiece / transformers are absent."""
    try:
        import sentencepiece as spm
        from transformers import LlamaTokenizerFast
    except Exception as e:
        return f"sentencepiece / transformers not importable: {type(e).__name__}: {e}"
    text_dir = os.path.join(data_dir, "text")
    train_path = os.path.join(work, "sp-train.txt")
    with open(train_path, "w", encoding="utf-8") as out:
        for name in ("en-tinyshakespeare.txt", "ru-fortunes-knowledge.txt", "zh-fortunes-tang300.txt",
                     "emoji-test.txt", "code/tqdm-std.py", "vim-tutors/tutor.el.utf-8"):
            with open(os.path.join(text_dir, name), encoding="utf-8", errors="replace") as f:
                out.write(f.read()[:120_000])
    files = {}
    for fallback in (True, False):
        prefix = os.path.join(work, f"sp-bf{int(fallback)}")
        # Without byte fallback the vocabulary has no <0xNN> tokens and a low character coverage,
        # so that rare characters become <unk>.
        spm.SentencePieceTrainer.train(input=train_path, model_prefix=prefix, vocab_size=4000, model_type="bpe",
                                       byte_fallback=fallback, character_coverage=0.9995 if fallback else 0.98,
                                       num_threads=2, minloglevel=2)
        for legacy in (True, False):
            tok = LlamaTokenizerFast(vocab_file=prefix + ".model", legacy=legacy, from_slow=True,
                                     add_prefix_space=True)
            j = json.loads(tok.backend_tokenizer.to_str())
            if not fallback:
                j["model"]["byte_fallback"] = False
            files[f"{'legacy' if legacy else 'metaspace'}-{'bf' if fallback else 'unk'}"] = j

    def variant(name, source, edit):
        j = json.loads(json.dumps(files[source]))
        edit(j)
        files[name] = j

    def pre(j, **kw):
        j["pre_tokenizer"].update(kw)

    variant("always-split", "metaspace-bf", lambda j: pre(j, prepend_scheme="always", split=True))
    variant("never-split", "metaspace-bf", lambda j: pre(j, prepend_scheme="never", split=True))
    variant("first-split", "metaspace-bf", lambda j: pre(j, split=True))

    def old_keys(j):  # tokenizers < 0.14 wrote add_prefix_space instead of prepend_scheme
        j["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}
        j["decoder"] = {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}
    variant("old-keys", "metaspace-bf", old_keys)

    def metaspace_decoder(j):
        j["decoder"] = {"type": "Sequence", "decoders": [
            {"type": "ByteFallback"},
            {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False}]}
    variant("ms-decoder", "metaspace-bf", metaspace_decoder)
    variant("ignore-merges", "first-split", lambda j: j["model"].update(ignore_merges=True))
    variant("unfused-unk", "legacy-unk", lambda j: j["model"].update(fuse_unk=False))

    def meta_inside(j):  # a token with "▁" inside: the engine may no longer run BPE word by word
        j["model"]["vocab"]["e▁t"] = len(j["model"]["vocab"])
    variant("meta-inside", "legacy-bf", meta_inside)

    paths = {}
    for name, j in files.items():
        path = os.path.join(work, f"{name}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(j, f, ensure_ascii=False)
        paths[name] = path

    # Added tokens of every kind, through HF's own API (it picks the ids and the flags' layout).
    for source in ("legacy-bf", "metaspace-bf"):
        tok = Tokenizer.from_file(paths[source])
        tok.add_special_tokens([AddedToken("<|user|>", rstrip=True, special=True, normalized=False),
                                AddedToken("<|end|>", lstrip=True, special=True, normalized=False),
                                AddedToken("[INST]", special=True, normalized=False)])
        tok.add_tokens([AddedToken("llama", single_word=True, normalized=True),
                        AddedToken(" mir", normalized=True),  # the normaliser turns it into "▁mir"
                        AddedToken("Hello", normalized=False)])
        path = os.path.join(work, f"{source}-added.json")
        tok.save(path)
        paths[f"{source}-added"] = path
    return paths


# --- comparison -----------------------------------------------------------------------------------

def compare(name, path, docs, dump, work, failures):
    hf = Tokenizer.from_file(path)
    ours = base.run_dump(dump, path, docs, [d for d in docs if d], [], work, name)
    tokens = 0
    for i, d in enumerate(docs):
        text = base.as_text(d)
        ref = hf.encode(text, add_special_tokens=False).ids
        got = ours["ids"][i]
        tokens += len(ref)
        if ref != got:
            k = base.first_difference(ref, got)
            failures.append(f"{name}: document {i} {text[:60]!r}: ids differ at {k}: "
                            f"HF {ref[max(0, k - 3):k + 5]} engine {got[max(0, k - 3):k + 5]}")
            continue
        for skip, key in ((False, "decoded"), (True, "decoded_skip_special")):
            want = hf.decode(ref, skip_special_tokens=skip)
            if want != ours[key][i]:
                failures.append(f"{name}: document {i} {text[:60]!r}: decode(skip_special_tokens={skip}) "
                                f"differs: HF {want[:80]!r} engine {ours[key][i][:80]!r}")
    pieces = 0
    for i, d in enumerate(d for d in docs if d):
        text = base.as_text(d)
        ref = ([p.encode().hex() for p, _ in hf.pre_tokenizer.pre_tokenize_str(text)]
               if hf.pre_tokenizer is not None else [text.encode().hex()])
        got = ours["pieces"][i]
        pieces += len(ref)
        if ref != got:
            k = base.first_difference(ref, got)
            failures.append(f"{name}: pre-tokens of {text[:40]!r} differ at {k}: "
                            f"HF {[bytes.fromhex(x) for x in ref[k:k + 3]]} "
                            f"engine {[bytes.fromhex(x) for x in got[k:k + 3]]}")
    # decode(encode(x)) == x, counted where HF itself gives x back (the lossless cases).
    lossless = sum(1 for i, d in enumerate(docs)
                   if isinstance(d, str) and hf.decode(hf.encode(d, add_special_tokens=False).ids) == d
                   and ours["decoded"][i] == d)
    return len(docs), tokens, pieces, lossless, ours["summary"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True, help="the tokenizer_dump executable")
    ap.add_argument("--data", required=True, help="the real data folder (../shared/data/real)")
    ap.add_argument("--work-dir", help="keep the tokenizer files and outputs here")
    args = ap.parse_args()
    if not os.path.isdir(os.path.join(args.data, "tokenizers")):
        print(f"SKIPPED: the real data folder {args.data} is absent (it holds the published tokenizers)")
        return 77
    work = args.work_dir or tempfile.mkdtemp(prefix="bcd-tok-sp-")
    os.makedirs(work, exist_ok=True)

    rng = random.Random(16)
    inputs, llama_cpp = llama_cpp_cases(args.data)
    docs = (SP_DOCS + base.CODE + base.UNICODE + base.NUMBERS + base.WHITESPACE + base.SPECIAL_DOCS +
            base.INVALID + inputs + real_text_docs(args.data, rng) + base.random_mix(rng, 150))

    failures, rows = [], []
    real = {name: os.path.join(args.data, "tokenizers", name, "tokenizer.json")
            for name in ("mistral-7b-v0.1", "phi-3-mini")}
    for name, path in real.items():
        rows.append((name,) + compare(name, path, docs, args.dump, work, failures))

    # llama.cpp's ids for its test strings (AutoTokenizer.encode(text, add_special_tokens=False)).
    ours = base.run_dump(args.dump, real["phi-3-mini"], inputs, [], [], work, "llama-cpp")
    for ref_name, expected in llama_cpp.items():
        equal = sum(1 for a, b in zip(ours["ids"], expected) if a == b)
        for i, (a, b) in enumerate(zip(ours["ids"], expected)):
            if a != b:
                failures.append(f"llama.cpp {ref_name}: test string {i} {inputs[i][:40]!r}: expected {b[:12]} "
                                f"engine {a[:12]}")
        print(f"llama.cpp reference ids, {ref_name} (Phi-3 tokenizer.json): {equal}/{len(inputs)} strings equal")

    trained = build_trained(work, args.data)
    if isinstance(trained, str):
        print(f"SKIPPED trained SentencePiece files: {trained}")
    else:
        for name, path in trained.items():
            rows.append((name,) + compare(name, path, docs, args.dump, work, failures))

    print(f"{'tokenizer':16} {'docs':>5} {'tokens':>8} {'pre-tokens':>10} {'lossless':>8}  summary")
    for name, n_docs, n_tokens, n_pieces, n_lossless, summary in rows:
        print(f"{name:16} {n_docs:5d} {n_tokens:8d} {n_pieces:10d} {n_lossless:8d}  {summary[:110]}")
    if failures:
        print(f"FAIL: {len(failures)} differences; the first ones:")
        for f in failures[:25]:
            print("  " + f)
        return 1
    print(f"PASS: {len(rows)} SentencePiece-style tokenizer files, {sum(r[1] for r in rows)} documents, "
          f"{sum(r[2] for r in rows)} tokens identical to HF tokenizers {tokenizers.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

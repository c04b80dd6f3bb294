"""ctest: bcd::Tokenizer against Hugging Face tokenizers, id for id.

    PYTHON test_tokenizer_hf.py --dump TOKENIZER_DUMP [--work-dir DIR]

PYTHON must have PyPI's `tokenizers`; without it the test is skipped (exit 77). The test trains,
with HF's own BpeTrainer, tokenizer.json files in the three pre-tokenizer styles of the families
the engine supports, plus variants for the rarer features:

  gpt2      ByteLevel(use_regex=True) with GPT-2's regex; merges rewritten in the older "a b" form
  llama3    Split(Llama 3 regex) + ByteLevel(use_regex=False), ignore_merges=True
  qwen2     NFC + Split(Qwen2 regex) + ByteLevel(use_regex=False)
  flags     NFC, ByteLevel(add_prefix_space=True); added tokens with lstrip / rstrip / single_word /
            normalized, special and not
  sparse    no initial byte alphabet: bytes without a token are dropped, as HF drops them
  unk       the same with unk_token and fuse_unk

Every file gets special tokens, and the test encodes a varied corpus (prose, code, long numbers,
accented / CJK / RTL text, emoji and ZWJ sequences, runs of spaces, tabs and newlines, special
tokens inside text, the empty string, invalid UTF-8) with HF and with the engine (through
tokenizer_dump), and asserts identical ids document by document, identical decode() with and
without special tokens, and identical pre-tokens.

It also measures the regex translation (Oniguruma → PCRE2): for a list of patterns, Split
pre-tokenizers are compared piece by piece on the corpus and on documents holding every Unicode
code point, and through encode() with the llama3 vocabulary.

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
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    import tokenizers
except Exception as e:  # ImportError, or a broken install
    print(f"SKIPPED: tokenizers not importable by {sys.executable} (PyPI unreachable or not installed): "
          f"{type(e).__name__}: {e}")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# Patterns whose Oniguruma meaning the engine must reproduce with PCRE2 (Split, Isolated).
# Those marked True also run over every Unicode code point (their classes are what differs).
EXOTIC_PATTERNS = [
    (r"\s", True), (r"\S+", True), (r"\w+", True), (r"\W", True), (r"\d+", True), (r"\D+", False),
    (r"\h+", True), (r"\H", False), (r"\v", True), (r"\b", True), (r"\B", True), (r"x*", False),
    (r"a|", False), (r"(?=b)", False), (r"^", False), (r"$", False), (r"^.", False), (r".$", False),
    (r"\Z", False), (r"(?m:.)", False), (r"[\s\w]+", True), (r"[^\w\d]+", True), (r"[\h]", True),
    (r"[^\s]+", False), (r"[\s-]+", False),
    (r"(?i)the", False), (r"(?i:ſ|k)", True), (r"\p{Lu}\p{Ll}*", True), (r"\u00e9", False),
    (r"[a-z]{,2}", False), (r"\R", True), (r"\p{N}{1,3}", False), (r"\s+(?!\S)", False),
    (r"[^\r\n\p{L}\p{N}]?\p{L}+", False), (r"(?<=a)b", False), (r"(?<!\s)\s", False), (r"\A.", False),
]
# Oniguruma syntax that has no exact PCRE2 counterpart: refused by name when loading.
REFUSED_PATTERNS = [r"[[:alpha:]]", r"[a[bc]]", r"[a-z&&[^aeiou]]", r"\N", r"(?x) a b", r"\Qa.b\E", r"\X"]
SPECIALS = ["<|endoftext|>", "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|im_start|>",
            "<|im_end|>", "<|fim_prefix|>", "<mask>", "[SEP]"]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


CHAR_BYTES = bytes_to_unicode()


def piece_bytes(piece):
    """HF pre-token (byte-level characters when ByteLevel ran) → raw bytes."""
    if all(c in CHAR_BYTES for c in piece):
        return bytes(CHAR_BYTES[c] for c in piece)
    return piece.encode("utf-8")


# --- corpus ---------------------------------------------------------------------------------------

CODE = [
    'def fib(n: int) -> int:\n    """Return the n-th Fibonacci number."""\n    a, b = 0, 1\n'
    '    for _ in range(n):\n        a, b = b, a + b\n    return a\n',
    "#include <vector>\n\nint main() {\n\tstd::vector<int> v{1, 2, 3};\n\tfor (auto& x : v) x *= 2;\n"
    "\treturn v.size() > 2 ? 0 : 1; // done\n}\n",
    '{"name": "bcd", "version": [0, 1, 0], "nested": {"a": null, "b": true, "c": -1.5e-10}}',
    "<html>\n  <body class=\"main\">\n    <p>Hello&nbsp;world &amp; friends</p>\n  </body>\n</html>\n",
    "SELECT id, name FROM users WHERE age >= 21 AND name LIKE '%son' ORDER BY id DESC;",
    "fn main() {\n    let s: &str = \"héllo\";\n    println!(\"{s:?} {}\", s.len());\n}\n",
    "    if (x != y) {\r\n        return x->next;\r\n    }\r\n",
    "$ ls -la | grep '^d' && echo \"$HOME\" >> ~/.bashrc 2>&1",
]

UNICODE = [
    "Café naïve résumé façade coöperate", "Cafe\u0301 decomposed e\u0301 and A\u030a and n\u0303",
    "Straße ÅNGSTRÖM Ærøskøbing œuvre", "Tiếng Việt có dấu", "Ελληνικά: Καλημέρα κόσμε",
    "Русский текст, ёжик", "العربية من اليمين إلى اليسار", "עברית שלום", "हिन्दी देवनागरी क्षत्रिय",
    "ภาษาไทย สวัสดีครับ", "한국어 텍스트 안녕하세요", "\u1100\u1161\u11a8 conjoining jamo",
    "日本語のテキスト、カタカナとひらがな。", "中文文本：你好，世界！", "混合 mixed テキスト 123 ١٢٣ ४५६",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕄𝕒𝕥𝕙 𝟙𝟚𝟛", "ﬁ ﬂ ligatures ｆｕｌｌｗｉｄｔｈ", "Ⓐ circled ② ½ ¾ ² ³ ¹",
    "Emoji 👍🏽 👨‍👩‍👧‍👦 🇫🇷🇩🇪 ❤️ 1️⃣ 🏳️‍🌈 😀😃😄", "ZWJ\u200dbetween\u200cnon-joiner",
    "Mongolian vowel separator \u180e here\u180e", "nbsp\u00a0ideographic\u3000thin\u2009narrow\u202f",
    "line\u2028separator\u2029paragraph\u0085next", "vt\x0bff\x0ccr\rlf\n", "ctl\x00\x01\x1f\x7f",
    "I'm sure it's OK, we'll see; they've gone, I'd go. WE'LL SHOUT 'S 'T 'Re 'ſ 'K it’s",
    "Zero-width space\u200b and soft\u00adhyphen and BOM\ufeff", "tab\tseparated\tvalues\t\t",
]

NUMBERS = [
    "1234567890", "3.14159265358979323846", "1,000,000.00", "123456789012345678901234567890",
    "0x1F 0b1010 1e-9 -42 +7", "2024-11-28T13:08:00Z", "v1.2.3-rc.4", "+1 (555) 010-9999",
    "Phone: 06 12 34 56 78", "99.9% of 12/25", "٣٤٥ ٦ ۷۸۹ १२३",
]

WHITESPACE = [
    "", " ", "  ", "   ", "\t", "\t\t", "\n", "\n\n\n", " \n ", "a  b   c    d", "\r\n\r\n",
    "trailing   ", "   leading", " \t \n \t ", "x\n\n\n\ny", "\u00a0\u00a0", " " * 300, "\n" * 50,
    "a" + " " * 17 + "b" + "\t" * 9 + "c",
]

SPECIAL_DOCS = [
    "<|endoftext|>", "hello<|endoftext|>world", "<|endoftext|><|endoftext|>", "<|endoftext",
    "<|begin_of_text|>The answer<|eot_id|>", "<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\n",
    "text <mask> more  <mask>text", "a [SEP] b [SEP]c", "the cat sat; concatenate; cat", " cat ", "_cat_",
    "<|fim_prefix|>def f():<|fim_suffix|>", "Café <mask> é e\u0301 caf\u0065\u0301", "<|end_of_text|>\n\n",
]

# Invalid UTF-8: the engine repairs it as bytes.decode("utf-8", "replace") does.
INVALID = [
    b"\xff", b"abc\xc3", b"\xed\xa0\x80 surrogate", b"\xf0\x9f\x98 cut emoji", b"a\x80b\xbf",
    b"\xe0\x80\x80 overlong", b"\xf4\x90\x80\x80 too big", b"ok \xc3\xa9 \xc3 \xe2\x82 end", b"\xc0\xaf\xfe\xfe",
]


def prose(rng, text, count):
    docs = []
    for _ in range(count):
        n = rng.choice([1, 2, 7, 30, 120, 500, 2000])
        start = rng.randrange(0, max(1, len(text) - n))
        docs.append(text[start:start + n])
    return docs


def random_mix(rng, count):
    palette = ("abcXYZ019 '\t\n\r.,;:!?-_()[]{}<>|\\/\"#@$%^&*~`+=" "éèçüßœÆØ" "αβγδ" "жзи" "中文字" "カナ"
               "한글" "😀👍🏽\u200d❤️" "\u0301\u0308" "\u00a0\u3000\u2028\u180e\u0085" "١٢३" "ſK")
    docs = []
    for _ in range(count):
        n = rng.randrange(0, 80)
        docs.append("".join(rng.choice(palette) for _ in range(n)))
    return docs


def corpus(train_text, val_text):
    rng = random.Random(4)
    docs = []
    docs += prose(rng, val_text, 60)
    docs += CODE + UNICODE + NUMBERS + WHITESPACE + SPECIAL_DOCS
    docs += random_mix(rng, 120)
    docs += [val_text,  # one long document (115 kB)
             "a" * 3000, "1" * 2000, "ab" * 1500, "😀" * 500, " " * 5000, "\n" * 3000,  # long pre-tokens
             "\n\n".join(CODE) * 3, " ".join(UNICODE)]
    return docs


def training_text(train_text):
    rng = random.Random(7)
    parts = [train_text[:400_000]]
    for _ in range(40):
        parts += CODE + UNICODE + NUMBERS
    parts += random_mix(rng, 2000)
    return parts


# --- tokenizer files ------------------------------------------------------------------------------

def train(pre_tokenizer, texts, vocab_size, normalizer=None, alphabet=True, ignore_merges=False,
          specials=(), unk=None):
    model = models.BPE(ignore_merges=ignore_merges, unk_token=unk, fuse_unk=unk is not None)
    tok = Tokenizer(model)
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False, special_tokens=list(specials),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet() if alphabet else [])
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def split_then_bytes(pattern):
    return pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])


def build_tokenizers(work, texts):
    """name → path of a tokenizer.json (HF loads the same file as the engine)."""
    out = {}

    def save(name, tok, edit=None):
        j = json.loads(tok.to_str())
        if edit:
            edit(j)
        path = os.path.join(work, f"{name}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(j, f, ensure_ascii=False)
        out[name] = path

    gpt2 = train(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True), texts, 1500,
                 specials=["<|endoftext|>"])
    gpt2.add_special_tokens(["<|fim_prefix|>", "<|fim_suffix|>"])
    gpt2.add_tokens(["<mask>"])

    def legacy_merges(j):
        j["model"]["merges"] = [f"{a} {b}" for a, b in j["model"]["merges"]]
    save("gpt2", gpt2, legacy_merges)

    llama = train(split_then_bytes(LLAMA3_PATTERN), texts, 2000, ignore_merges=True,
                  specials=["<|begin_of_text|>", "<|end_of_text|>"])
    llama.add_special_tokens(["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"] +
                             [f"<|reserved_special_token_{i}|>" for i in range(10)])
    save("llama3", llama)

    qwen = train(split_then_bytes(QWEN2_PATTERN), texts, 1800, normalizer=normalizers.NFC())
    qwen.add_special_tokens(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    save("qwen2", qwen)

    flags = train(pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True), texts, 1200,
                  normalizer=normalizers.Sequence([normalizers.NFC()]), specials=["<|endoftext|>"])
    flags.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=False, special=True, normalized=False),
                              AddedToken("[SEP]", rstrip=True, special=True, normalized=False)])
    flags.add_tokens([AddedToken("cat", single_word=True, normalized=True),
                      AddedToken("e\u0301", normalized=True),  # matched after NFC, as é
                      AddedToken("Caf", normalized=False, lstrip=True, rstrip=True)])
    save("flags", flags)

    ascii_texts = [t.encode("ascii", "ignore").decode() for t in texts[:50]]
    sparse = train(split_then_bytes(LLAMA3_PATTERN), ascii_texts, 400, alphabet=False,
                   specials=["<|endoftext|>"])
    save("sparse", sparse)
    unk = train(split_then_bytes(LLAMA3_PATTERN), ascii_texts, 400, alphabet=False,
                specials=["<unk>", "<|endoftext|>"], unk="<unk>")
    save("unk", unk)

    # The llama3 vocabulary behind other Split patterns.
    for i, (pattern, _) in enumerate(EXOTIC_PATTERNS):
        def edit(j, pattern=pattern):
            j["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {"Regex": pattern}
        save(f"pattern{i:02d}", llama, edit)
    for i, pattern in enumerate(REFUSED_PATTERNS):
        def edit(j, pattern=pattern):
            j["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {"Regex": pattern}
        save(f"refused{i:02d}", llama, edit)

    def literal(j):
        j["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {"String": "e."}
    save("literal", llama, literal)
    return out


# --- comparison -----------------------------------------------------------------------------------

def run_dump(dump, tokenizer_path, encode_docs, pre_docs, sweep_docs, work, name, refused=False):
    def enc(d):
        return {"hex": d.hex()} if isinstance(d, bytes) else d
    docs_path = os.path.join(work, f"{name}.docs.json")
    out_path = os.path.join(work, f"{name}.out.json")
    with open(docs_path, "w", encoding="utf-8") as f:
        json.dump({"encode": [enc(d) for d in encode_docs], "pre_tokenize": [enc(d) for d in pre_docs],
                   "pre_tokenize_lengths": sweep_docs}, f)
    r = subprocess.run([dump, "--tokenizer", tokenizer_path, "--docs", docs_path, "--out", out_path,
                        "--threads", "2"], capture_output=True, text=True)
    if r.returncode != (2 if refused else 0):
        raise RuntimeError(f"tokenizer_dump exited with {r.returncode} on {name}: {r.stderr.strip()}")
    with open(out_path, encoding="utf-8") as f:
        return json.load(f)


def as_text(d):
    return d.decode("utf-8", "replace") if isinstance(d, bytes) else d


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def compare(name, hf, ours, docs, pre_docs, sweep_docs, failures):
    """Returns (documents, tokens, pre-tokens) compared."""
    tokens = 0
    for i, d in enumerate(docs):
        text = as_text(d)
        ref = hf.encode(text, add_special_tokens=False).ids
        got = ours["ids"][i]
        tokens += len(ref)
        if ref != got:
            k = first_difference(ref, got)
            failures.append(f"{name}: document {i} {text[:60]!r}: ids differ at {k}: "
                            f"HF {ref[max(0, k - 3):k + 5]} engine {got[max(0, k - 3):k + 5]}")
            continue
        for skip, key in ((False, "decoded"), (True, "decoded_skip_special")):
            want = hf.decode(ref, skip_special_tokens=skip)
            if want != ours[key][i]:
                failures.append(f"{name}: document {i} {text[:60]!r}: decode(skip_special_tokens={skip}) "
                                f"differs: HF {want[:80]!r} engine {ours[key][i][:80]!r}")
    pieces = 0
    for i, d in enumerate(pre_docs):
        ref = [piece_bytes(p).hex() for p, _ in hf.pre_tokenizer.pre_tokenize_str(as_text(d))]
        got = ours["pieces"][i]
        pieces += len(ref)
        if ref != got:
            k = first_difference(ref, got)
            failures.append(f"{name}: pre-tokens of document {i} {as_text(d)[:40]!r} differ at {k}: "
                            f"HF {[bytes.fromhex(x) for x in ref[k:k + 3]]} "
                            f"engine {[bytes.fromhex(x) for x in got[k:k + 3]]}")
    # Every pre-token of HF is in byte-level characters here (ByteLevel is the last step): one
    # character per byte, so equal lengths are equal pieces of the same text.
    for i, d in enumerate(sweep_docs):
        ref = [len(p) for p, _ in hf.pre_tokenizer.pre_tokenize_str(d)]
        got = ours["piece_lengths"][i]
        pieces += len(ref)
        if ref != got:
            k = first_difference(ref, got)
            at = sum(ref[:k])
            failures.append(f"{name}: pre-tokens of code point sweep {i} differ at piece {k}, near "
                            f"{d.encode()[max(0, at - 8):at + 12]!r}: HF lengths {ref[k:k + 4]} engine {got[k:k + 4]}")
    return len(docs), tokens, pieces


def code_point_sweep():
    """Documents that together hold every Unicode scalar value, each after a \\x01 separator."""
    cps = [c for c in range(0x110000) if not (0xD800 <= c < 0xE000) and c != 1]
    return ["".join("\x01" + chr(c) for c in cps[i:i + 4096]) for i in range(0, len(cps), 4096)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True, help="the tokenizer_dump executable")
    ap.add_argument("--work-dir", help="keep the tokenizer files and outputs here")
    args = ap.parse_args()

    with open(os.path.join(ROOT, "resources/sample/shakespeare-train.txt"), encoding="utf-8") as f:
        train_text = f.read()
    with open(os.path.join(ROOT, "resources/sample/shakespeare-val.txt"), encoding="utf-8") as f:
        val_text = f.read()

    tmp = None
    if args.work_dir:
        work = args.work_dir
        os.makedirs(work, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory()
        work = tmp.name

    print(f"tokenizers {tokenizers.__version__}; training the test tokenizers in {work}")
    files = build_tokenizers(work, training_text(train_text))
    docs = corpus(train_text, val_text) + INVALID
    sweep = code_point_sweep()
    short_docs = [d for d in docs if isinstance(d, str) and len(d) < 5000]

    failures = []
    rows = []
    for name, path in files.items():
        if name.startswith("refused"):
            pattern = REFUSED_PATTERNS[int(name[7:])]
            ours = run_dump(args.dump, path, [], [], [], work, name, refused=True)
            if "pattern.Regex" not in ours["error"] or "not supported" not in ours["error"]:
                failures.append(f"{name}: {pattern!r} refused without naming the key: {ours['error']}")
            continue
        hf = Tokenizer.from_file(path)
        # Every code point goes through the three families' pre-tokenizers and the class patterns.
        with_sweep = name in ("gpt2", "llama3", "qwen2") or (
            name.startswith("pattern") and EXOTIC_PATTERNS[int(name[7:])][1])
        sweep_docs = sweep if with_sweep else []
        ours = run_dump(args.dump, path, docs, short_docs, sweep_docs, work, name)
        n_docs, n_tokens, n_pieces = compare(name, hf, ours, docs, short_docs, sweep_docs, failures)
        # decode(encode(x)) == x where the file promises it (valid UTF-8, NFC-stable input).
        n_round_trips = 0
        if ours["round_trips"]:
            for i, d in enumerate(docs):
                if isinstance(d, str) and (hf.normalizer is None or hf.normalizer.normalize_str(d) == d):
                    n_round_trips += 1
                    if ours["decoded"][i] != d:
                        failures.append(f"{name}: document {i} {d[:60]!r} does not round-trip")
        rows.append((name, n_docs, n_tokens, n_pieces, n_round_trips, ours["summary"]))

    print(f"{'tokenizer':10} {'docs':>5} {'tokens':>8} {'pre-tokens':>10} {'round trips':>11}  summary")
    for name, n_docs, n_tokens, n_pieces, n_round_trips, summary in rows:
        label = name if not name.startswith("pattern") else f"{name} {EXOTIC_PATTERNS[int(name[7:])][0]}"
        print(f"{label:10} {n_docs:5d} {n_tokens:8d} {n_pieces:10d} {n_round_trips:11d}  {summary[:100]}")
    if failures:
        print(f"FAIL: {len(failures)} differences; the first ones:")
        for f in failures[:25]:
            print("  " + f)
        return 1
    total_docs = sum(r[1] for r in rows)
    total_tokens = sum(r[2] for r in rows)
    print(f"{len(REFUSED_PATTERNS)} Oniguruma-only patterns refused by name")
    print(f"PASS: {len(rows)} tokenizer files, {total_docs} documents, {total_tokens} tokens identical to HF "
          f"tokenizers {tokenizers.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

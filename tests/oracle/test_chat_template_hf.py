"""ctest: SFT conversations laid out by the engine's chat formats against transformers'
apply_chat_template, id for id, and the assistant loss mask against the rule of docs/data.md.

    PYTHON test_chat_template_hf.py --dump CHAT_DUMP --data REAL_DATA_DIR [--work-dir DIR]

PYTHON must have PyPI's `transformers` and `jinja2` (exit 77, skipped, without them).

Tokenizers are the published files in REAL_DATA_DIR/tokenizers (../shared/data/real, read from
there, never copied into the project). Phi-3-mini and Qwen3 bring their published chat templates.
The other families' published templates are not in the real data folder, so this test writes a
template of each family's layout itself (Llama 3.0, ChatML, Qwen2 with its default system prompt,
Llama 2 <<SYS>>, Mistral [INST], Zephyr, Gemma, DeepSeek), each into a tokenizer_config.json in
the work folder beside a link to the real tokenizer.json (Gemma's turn tokens are added to the
Mistral vocabulary there). Also checked: data.chat_format selecting a family for a model without
a template, the special-token fallback without a template, and one clear error for a template of
no known family.

For every case, each conversation (multi-turn, system-less, system-first, alpaca, awkward
contents) must give:
  ids   = tokenizer.apply_chat_template(messages, tokenize=True)
  mask  = 1 for the tokens whose character offsets (HF's offset mapping of the rendered text)
          overlap an assistant span: from the end of the assistant header to the end of the
          family's end-of-turn marker, found in HF's rendered text. An added token's offsets are
          its content's: whitespace it absorbs (lstrip / rstrip) does not make it an answer token.

Exit 0 pass, 1 fail (the first differences are printed).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

try:
    import jinja2  # noqa: F401  (apply_chat_template needs it)
    import transformers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast
except Exception as e:  # ImportError, or a broken install
    print(f"SKIPPED: transformers / jinja2 not importable by {sys.executable}: {type(e).__name__}: {e}")
    sys.exit(77)

transformers.logging.set_verbosity_error()

# Templates of each family's layout, written for this test (see the module docstring).
LLAMA3 = ("{% for m in messages %}{% if loop.first %}{{ bos_token }}{% endif %}"
          "{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' + m['content'] | trim + '<|eot_id|>' }}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
CHATML = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n' }}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
# Written with Jinja escapes (backslash n), as Qwen2's own file has them.
QWEN2 = ("{% for m in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
         "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
         "{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
         "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
LLAMA2 = ("{% if messages[0]['role'] == 'system' %}{% set sys = messages[0]['content'] %}{% set msgs = messages[1:] %}"
          "{% else %}{% set sys = none %}{% set msgs = messages %}{% endif %}"
          "{% for m in msgs %}{% set c = m['content'] %}"
          "{% if loop.first and sys is not none %}{% set c = '<<SYS>>\n' + sys + '\n<</SYS>>\n\n' + c %}{% endif %}"
          "{% if m['role'] == 'user' %}{{ bos_token + '[INST] ' + c.strip() + ' [/INST]' }}"
          "{% else %}{{ ' ' + c.strip() + ' ' + eos_token }}{% endif %}{% endfor %}")
MISTRAL = ("{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set sys = messages[0]['content'] + '\n\n' %}"
           "{% set msgs = messages[1:] %}{% else %}{% set sys = '' %}{% set msgs = messages %}{% endif %}"
           "{% for m in msgs %}{% if m['role'] == 'user' %}{{ '[INST] ' + (sys if loop.first else '') + m['content'] + ' [/INST]' }}"
           "{% else %}{{ m['content'] + eos_token }}{% endif %}{% endfor %}")
ZEPHYR = ("{% for m in messages %}{% if m['role'] == 'user' %}{{ '<|user|>\n' + m['content'] + eos_token }}\n"
          "{% elif m['role'] == 'system' %}{{ '<|system|>\n' + m['content'] + eos_token }}\n"
          "{% else %}{{ '<|assistant|>\n' + m['content'] + eos_token }}\n{% endif %}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}")
# For a folder without tokenizer_config.json, where HF has no bos_token: the engine writes Llama 3's.
LLAMA3_LITERAL_BOS = LLAMA3.replace("{{ bos_token }}", "{{ '<|begin_of_text|>' }}")
GEMMA = ("{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set pre = messages[0]['content'] + '\n\n' %}"
         "{% set msgs = messages[1:] %}{% else %}{% set pre = '' %}{% set msgs = messages %}{% endif %}"
         "{% for m in msgs %}{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
         "{{ '<start_of_turn>' + role + '\n' + (pre if loop.first else '') + m['content'] | trim + '<end_of_turn>\n' }}"
         "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}")
DEEPSEEK = ("{% set ns = namespace(sys='', first=true) %}{% for m in messages %}{% if m['role'] == 'system' %}"
            "{% set ns.sys = ns.sys + ('' if ns.first else '\n\n') + m['content'] %}{% set ns.first = false %}"
            "{% endif %}{% endfor %}{{ bos_token }}{{ ns.sys }}"
            "{% for m in messages %}{% if m['role'] == 'user' %}{{ '<｜User｜>' + m['content'] }}"
            "{% elif m['role'] == 'assistant' %}{{ '<｜Assistant｜>' + m['content'] + eos_token }}{% endif %}"
            "{% endfor %}{% if add_generation_prompt %}{{ '<｜Assistant｜>' }}{% endif %}")

# Family: (assistant header, end-of-turn marker) as they appear in the rendered text.
SPANS = {
    "chatml": ("<|im_start|>assistant\n", "<|im_end|>"),
    "qwen2": ("<|im_start|>assistant\n", "<|im_end|>"),
    "qwen3": ("<|im_start|>assistant\n", "<|im_end|>"),
    "llama3": ("<|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>"),
    "llama2": ("[/INST]", "</s>"),
    "mistral": ("[/INST]", "</s>"),
    "zephyr": ("<|assistant|>\n", "</s>"),
    "phi3": ("<|assistant|>\n", "<|end|>"),
    "gemma": ("<start_of_turn>model\n", "<end_of_turn>"),
    "deepseek": ("<｜Assistant｜>", "<｜end▁of▁sentence｜>"),
}


def M(role, content):
    return {"role": role, "content": content}


def conversations(family):
    """SFT records (dicts) and the messages each one stands for."""
    chats = [
        [M("system", "You are terse."), M("user", "What is 2+2?"), M("assistant", "4."),
         M("user", "And 3+3?"), M("assistant", "6, of course.")],
        [M("user", "Hello!"), M("assistant", "Hi. How can I help?"), M("user", "Tell me a joke."),
         M("assistant", "Why did the llama cross the road?\nTo get to the other side.")],
        [M("system", "Отвечай по-русски."), M("user", "Как дела?"), M("assistant", "Хорошо, спасибо!")],
        [M("user", "  leading and trailing spaces  "), M("assistant", "  spaced answer \n")],
        [M("user", "中文：你好，世界！🦙"), M("assistant", "你好！👋 Émoji, tabs\tand\nnewlines\n\n")],
        [M("user", "code?"), M("assistant", "```cpp\nint main() { return 0; }\n```")],
        [M("user", "x"), M("assistant", "")],
        [M("user", "[INST] lookalike <s> tokens </s> in text"), M("assistant", "ok <|endoftext|> fine")],
    ]
    if family == "qwen3":
        chats.append([M("user", "think?"), M("assistant", "<think>\nreasoning here\n</think>\n\nThe answer.")])
        chats.append([M("user", "a"), M("assistant", "<think>r1</think>first"), M("user", "b"),
                      M("assistant", "second")])
    if family in ("chatml", "qwen2", "qwen3", "llama3", "zephyr", "phi3", "deepseek"):
        chats.append([M("system", "s1"), M("user", "u"), M("system", "s2 later"), M("assistant", "a")])
    records = [{"messages": c} for c in chats]
    records.append({"instruction": "Translate to French", "input": "Good morning", "output": "Bonjour"})
    msgs = chats + [[M("user", "Translate to French\n\nGood morning"), M("assistant", "Bonjour")]]
    return records, msgs


def hf_expected(tok, family, messages, template):
    text = tok.apply_chat_template(messages, tokenize=False, chat_template=template)
    ids = tok.apply_chat_template(messages, tokenize=True, chat_template=template)
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    if list(enc["input_ids"]) != list(ids):
        raise RuntimeError("apply_chat_template ids differ from tokenizer(text): the rule of this test "
                           "does not hold for " + family)
    header, end = SPANS[family]
    spans, pos = [], 0
    while True:
        at = text.find(header, pos)
        if at < 0:
            break
        start = at + len(header)
        stop = text.find(end, start)
        if stop < 0:
            raise RuntimeError(f"no {end!r} after an assistant header in {text!r}")
        spans.append((start, stop + len(end)))
        pos = stop + len(end)
    mask = []
    added = {i: t.content for i, t in tok.added_tokens_decoder.items()}
    for i, (s, e) in zip(ids, enc["offset_mapping"]):
        if i in added and e > s:  # whitespace an added token absorbs (lstrip / rstrip) is not its own
            at = text.find(added[i], s, e)
            if at >= 0:
                s, e = at, at + len(added[i])
        hit = any((s < b and e > a) if e > s else (a <= s < b) for a, b in spans)
        mask.append(1 if hit else 0)
    return list(ids), mask, text


def run_dump(dump, tokenizer_json, records, work, name, chat_format=None, refused=False, fmt=None):
    chats = os.path.join(work, f"{name}.chats.jsonl")
    out = os.path.join(work, f"{name}.out.json")
    with open(chats, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    cmd = [dump, "--tokenizer", tokenizer_json, "--chats", chats, "--out", out]
    if chat_format:
        cmd += ["--chat-format", chat_format]
    if fmt:
        cmd += ["--format", fmt]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != (2 if refused else 0):
        raise RuntimeError(f"chat_dump exited with {r.returncode} on {name}: {r.stderr.strip()}")
    with open(out, encoding="utf-8") as f:
        return json.load(f)


def folder(work, name, tokenizer_json, config):
    """A model folder in the work directory: a link to the real tokenizer.json and our config."""
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    link = os.path.join(d, "tokenizer.json")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(os.path.abspath(tokenizer_json), link)
    cfg = os.path.join(d, "tokenizer_config.json")
    if config is None:
        if os.path.exists(cfg):
            os.remove(cfg)
    else:
        with open(cfg, "w", encoding="utf-8") as f:
            json.dump(config, f, ensure_ascii=False)
    return d


def real_config(data, name):
    path = os.path.join(data, "tokenizers", name, "tokenizer_config.json")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        cfg = json.load(f)
    cfg.pop("chat_template", None)
    return cfg


DOCS = ["", "Hello world", " leading space", "Привет, мир!", "中文 🦙", "tab\tand\nnewline\n",
        "<s> literal specials </s>", "x" * 300]


def check_documents(args, toks, work, failures):
    """Documents as data.format jsonl encodes them against HF's tokenizer(text)["input_ids"]: the BOS
    and EOS of the tokenizer.json post_processor, or of add_bos_token / add_eos_token for the
    Llama-family classes, whose post_processor transformers rebuilds from them."""
    from tokenizers import Tokenizer
    mistral = os.path.join(toks, "mistral-7b-v0.1")
    # A byte-level tokenizer.json with a TemplateProcessing that adds BOS and EOS (a Sequence with
    # ByteLevel, as Llama 3.1 files have it), under PreTrainedTokenizerFast.
    t = Tokenizer.from_file(os.path.join(toks, "llama3", "tokenizer.json"))
    post = json.loads(t.to_str())
    post["post_processor"] = {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                    {"Sequence": {"id": "A", "type_id": 0}},
                    {"SpecialToken": {"id": "<|end_of_text|>", "type_id": 0}}],
         "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [128000],
                                                  "tokens": ["<|begin_of_text|>"]},
                            "<|end_of_text|>": {"id": "<|end_of_text|>", "ids": [128001],
                                                "tokens": ["<|end_of_text|>"]}}}]}
    d = os.path.join(work, "llama3-template")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(post, f, ensure_ascii=False)
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|begin_of_text|>",
                   "eos_token": "<|end_of_text|>"}, f)
    cases = [
        ("mistral-7b-v0.1 (LlamaTokenizer, add_bos_token)", mistral),
        ("mistral-7b-v0.1, add_eos_token true", folder(work, "mistral-eos", os.path.join(mistral, "tokenizer.json"),
                                                       {**real_config(args.data, "mistral-7b-v0.1"), "add_eos_token": True})),
        ("mistral-7b-v0.1, add_bos_token false", folder(work, "mistral-nobos", os.path.join(mistral, "tokenizer.json"),
                                                        {**real_config(args.data, "mistral-7b-v0.1"), "add_bos_token": False})),
        ("phi-3-mini (add_bos_token false)", os.path.join(toks, "phi-3-mini")),
        ("qwen3 (ByteLevel post-processor)", os.path.join(toks, "qwen3")),
        ("deepseek-v4", os.path.join(toks, "deepseek-v4")),
        ("llama3 + TemplateProcessing BOS/EOS", d),
    ]
    rows = []
    for name, folder_ in cases:
        tok = AutoTokenizer.from_pretrained(folder_)
        got = run_dump(args.dump, os.path.join(folder_, "tokenizer.json"), [{"text": x} for x in DOCS], work,
                       "docs-" + os.path.basename(folder_), fmt="jsonl")
        ok = 0
        for x, g in zip(DOCS, got["chats"]):
            want = tok(x)["input_ids"]
            if g.get("ids") == want:
                ok += 1
            else:
                failures.append(f"document {x[:20]!r} with {name}: engine {g} HF {want}")
        first = tok("a")["input_ids"]
        marks = ("BOS " if first[0] in tok.all_special_ids else "") + ("EOS" if first[-1] in tok.all_special_ids else "")
        rows.append((name, len(DOCS), ok, marks.strip() or "none"))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--work-dir")
    args = ap.parse_args()
    toks = os.path.join(args.data, "tokenizers")
    if not os.path.isdir(toks):
        print(f"SKIPPED: no real tokenizers at {toks} (set BCD_REAL_DATA_DIR)")
        return 77
    work = args.work_dir or tempfile.mkdtemp(prefix="bcd-chat-")
    os.makedirs(work, exist_ok=True)

    def tj(name):
        return os.path.join(toks, name, "tokenizer.json")

    # Gemma's turn tokens on the Mistral vocabulary (a tokenizer.json written here, in `work`).
    gemma_dir = os.path.join(work, "gemma-vocab")
    os.makedirs(gemma_dir, exist_ok=True)
    from tokenizers import AddedToken, Tokenizer
    g = Tokenizer.from_file(tj("mistral-7b-v0.1"))
    g.add_special_tokens([AddedToken(t, special=True, normalized=False)
                          for t in ("<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>")])
    g.save(os.path.join(gemma_dir, "tokenizer.json"))

    mistral_cfg = real_config(args.data, "mistral-7b-v0.1")
    # (case, family, model folder, chat_format for the engine, template for HF (None: the file's))
    cases = [
        ("phi-3-mini (published template)", "phi3", os.path.join(toks, "phi-3-mini"), None, None),
        ("qwen3 (published template)", "qwen3", os.path.join(toks, "qwen3"), None, None),
        ("llama3", "llama3", folder(work, "llama3", tj("llama3"), {
            "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "chat_template": LLAMA3}), None, None),
        ("chatml (qwen3 vocabulary)", "chatml", folder(work, "chatml", tj("qwen3"), {
            **real_config(args.data, "qwen3"), "chat_template": CHATML}), None, None),
        ("qwen2 default system", "qwen2", folder(work, "qwen2", tj("qwen3"), {
            **real_config(args.data, "qwen3"), "chat_template": QWEN2}), None, None),
        ("llama2 <<SYS>> (mistral vocabulary)", "llama2", folder(work, "llama2", tj("mistral-7b-v0.1"), {
            **mistral_cfg, "chat_template": LLAMA2}), None, None),
        ("mistral [INST]", "mistral", folder(work, "mistral", tj("mistral-7b-v0.1"), {
            **mistral_cfg, "chat_template": MISTRAL}), None, None),
        ("zephyr (mistral vocabulary)", "zephyr", folder(work, "zephyr", tj("mistral-7b-v0.1"), {
            **mistral_cfg, "chat_template": ZEPHYR}), None, None),
        ("gemma (mistral vocabulary + turn tokens)", "gemma", folder(work, "gemma",
            os.path.join(gemma_dir, "tokenizer.json"), {"bos_token": "<bos>", "eos_token": "<eos>",
                                                        "chat_template": GEMMA}), None, None),
        ("deepseek-v4", "deepseek", folder(work, "deepseek", tj("deepseek-v4"), {
            **real_config(args.data, "deepseek-v4"), "chat_template": DEEPSEEK}), None, None),
        # data.chat_format on a base model without a template (the published Mistral config).
        ("mistral base, data.chat_format mistral", "mistral",
         os.path.join(toks, "mistral-7b-v0.1"), "mistral", MISTRAL),
        ("mistral base, data.chat_format llama2", "llama2",
         os.path.join(toks, "mistral-7b-v0.1"), "llama2", LLAMA2),
        # No template: Llama 3's header tokens decide.
        ("llama3 without tokenizer_config.json", "llama3", folder(work, "llama3-bare", tj("llama3"), None),
         None, LLAMA3_LITERAL_BOS),
    ]
    failures, rows = [], []
    for name, family, d, chat_format, template in cases:
        if not os.path.exists(os.path.join(d, "tokenizer.json")):
            print(f"skipped {name}: {d}/tokenizer.json is absent")
            continue
        if os.path.exists(os.path.join(d, "tokenizer_config.json")):
            tok = AutoTokenizer.from_pretrained(d)
        else:  # AutoTokenizer would add its own <s> and </s> tokens to a bare tokenizer.json
            tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(d, "tokenizer.json"))
        records, msgs = conversations(family)
        got = run_dump(args.dump, os.path.join(d, "tokenizer.json"), records, work,
                       family + ("-" + chat_format if chat_format else ""), chat_format)
        ok_ids = ok_mask = 0
        if got.get("format") != family:
            failures.append(f"{name}: the engine chose {got.get('format')!r} ({got.get('why')}), expected {family}")
        for i, (m, g) in enumerate(zip(msgs, got["chats"])):
            ids, mask, text = hf_expected(tok, family, m, template)
            if "error" in g:
                failures.append(f"{name} chat {i}: engine error {g['error']}")
                continue
            if g["ids"] == ids:
                ok_ids += 1
            else:
                k = next((j for j, (a, b) in enumerate(zip(g["ids"], ids)) if a != b), min(len(ids), len(g["ids"])))
                failures.append(f"{name} chat {i}: ids differ at {k}: engine {g['ids'][k:k + 8]} HF {ids[k:k + 8]}"
                                f" (lengths {len(g['ids'])}, {len(ids)}); text {text!r}")
                continue
            if g["mask"] == mask:
                ok_mask += 1
            else:
                k = next(j for j, (a, b) in enumerate(zip(g["mask"], mask)) if a != b)
                failures.append(f"{name} chat {i}: mask differs at token {k} ({tok.convert_ids_to_tokens(ids[k])!r}):"
                                f" engine {g['mask'][k]}, rule {mask[k]}; text {text!r}")
        rows.append((name, got.get("format"), len(msgs), ok_ids, ok_mask))

    # A template of no known family: one error naming the file, the key and the accepted names.
    d = folder(work, "unknown", tj("mistral-7b-v0.1"),
               {"chat_template": "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"})
    got = run_dump(args.dump, os.path.join(d, "tokenizer.json"), conversations("x")[0], work, "unknown",
                   refused=True)
    err = got.get("error", "")
    for part in ("tokenizer_config.json", "chat_template", "data.chat_format", "chatml", "llama2", "gemma"):
        if part not in err:
            failures.append(f"unknown template: the error does not name {part!r}: {err!r}")
    # A family whose special tokens the tokenizer lacks.
    got = run_dump(args.dump, tj("mistral-7b-v0.1"), conversations("x")[0], work, "missing", "chatml",
                   refused=True)
    if "<|im_start|>" not in got.get("error", ""):
        failures.append(f"chatml on the Mistral vocabulary: expected an error naming <|im_start|>, got {got}")

    doc_rows = check_documents(args, toks, work, failures)

    print(f"{'case':45} {'engine format':13} {'chats':>5} {'ids ==':>7} {'mask ==':>7}")
    for r in rows:
        print(f"{r[0]:45} {str(r[1]):13} {r[2]:5d} {r[3]:7d} {r[4]:7d}")
    print(f"\n{'documents (data.format jsonl) vs tokenizer(text)':52} {'docs':>5} {'ids ==':>7} {'BOS/EOS':>12}")
    for r in doc_rows:
        print(f"{r[0]:52} {r[1]:5d} {r[2]:7d} {r[3]:>12}")
    if failures:
        print(f"FAIL: {len(failures)} differences")
        for f in failures[:30]:
            print("  " + f)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())

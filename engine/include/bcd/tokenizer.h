#pragma once
// Hugging Face `tokenizer.json` BPE tokenizers: byte-level, as GPT-2, Llama 3 and Qwen2 ship
// them, and SentencePiece style (Metaspace / "▁", <0xNN> byte fallback), as Llama 2, Mistral and
// Phi-3 do (docs/tokenizer.md). encode() gives the ids HF `tokenizers` gives for
// `Tokenizer.encode(text, add_special_tokens=False)`, decode() the text HF gives for
// `decode(ids, skip_special_tokens=False)`. Anything in the file outside the supported subset is
// refused by name when loading (InputError: file, key, what is supported), never ignored.
//
// Thread safety: a loaded Tokenizer is immutable; every const member may be called from any
// number of threads at once. Copies are cheap and share the loaded tables.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bcd {

namespace tokenizer_detail {
struct TokenizerModel;
}

// One entry of the file's `added_tokens`.
struct AddedToken {
    std::int32_t id = 0;
    std::string content;
    bool special = false;
    bool single_word = false;
    bool lstrip = false;
    bool rstrip = false;
    bool normalized = false;
};

class Tokenizer {
public:
    // Reads and validates a tokenizer.json. Throws InputError naming the file and the key on
    // anything malformed or unsupported.
    static Tokenizer load(const std::filesystem::path& tokenizer_json);
    // The same from memory; `label` names the source in error messages.
    static Tokenizer parse(std::string_view json_text, std::string label);

    // Token ids of `text`. Added and special tokens that occur in the text are encoded as
    // themselves; no BOS/EOS is added. Invalid UTF-8 is first replaced by U+FFFD, one per
    // maximal invalid subsequence (as Python's bytes.decode("utf-8", "replace") does). Throws
    // InputError naming the pattern's key when one pre-token needs more than PCRE2's match limit
    // (tens of megabytes of one whitespace run; HF panics there).
    std::vector<std::int32_t> encode(std::string_view text) const;
    // The ids the file's post_processor puts before and after one sequence (HF's
    // `tokenizer(text)` with add_special_tokens; e.g. Llama 2's BOS). Empty when it adds none.
    const std::vector<std::int32_t>& post_prefix() const;
    const std::vector<std::int32_t>& post_suffix() const;
    // Appends the ids of `text` to `out` (no other change to it).
    void encode_append(std::string_view text, std::vector<std::int32_t>& out) const;
    // encode() of every text, on `threads` threads (0: OpenMP's default); result i belongs to
    // texts[i] whatever the thread count. An error in one text is rethrown once all are done.
    std::vector<std::vector<std::int32_t>> encode_batch(std::span<const std::string_view> texts,
                                                        int threads = 0) const;

    // The text of `ids`: the tokens' bytes, with invalid UTF-8 replaced by U+FFFD as HF does.
    // Ids that name no token are skipped (as HF does); with skip_special_tokens, so are the
    // special added tokens.
    std::string decode(std::span<const std::int32_t> ids, bool skip_special_tokens = false) const;
    // The tokens' raw bytes, without the UTF-8 repair: concatenating decode_bytes() of the pieces
    // of a sequence gives decode_bytes() of the whole (for streaming a sampler's output).
    std::string decode_bytes(std::span<const std::int32_t> ids,
                             bool skip_special_tokens = false) const;

    int vocab_size() const; // max id + 1 over vocab and added tokens
    std::optional<std::int32_t> token_id(std::string_view token) const; // vocab or added token
    std::optional<std::string> token(std::int32_t id) const; // the token's string as in the file
    std::vector<std::string> special_tokens() const;         // added tokens with special=true
    const std::vector<AddedToken>& added_tokens() const;     // in file order

    // The pre-tokenizer alone on `text` (no added tokens, no normaliser; invalid UTF-8
    // repaired): the pre-tokens' raw bytes, as HF's pre_tokenizer.pre_tokenize_str gives them in
    // byte-level characters.
    std::vector<std::string> pre_tokenize(std::string_view text) const;
    // Applies what encode() does before splitting: the UTF-8 repair and the file's normalizer.
    std::string normalize(std::string_view text) const;
    // True when decode(encode(s)) == s for every valid UTF-8 string s that the normaliser leaves
    // unchanged: every byte has a token, no prefix space is added, no added token strips
    // whitespace or decodes to something other than its content.
    bool round_trips() const;

    // One line for `bcd-train inspect`: model, vocab, merges, pre-tokenizer, normalizer, specials.
    std::string summary() const;
    const std::string& label() const;

private:
    explicit Tokenizer(std::shared_ptr<const tokenizer_detail::TokenizerModel> model);
    std::shared_ptr<const tokenizer_detail::TokenizerModel> m_;
};

} // namespace bcd

#pragma once
// Training and evaluation data as one token stream with a loss mask (docs/data.md): the formats
// `text`, `jsonl`, `sft` and `tokens`, tokenised byte-level or with a HF tokenizer, documents
// packed with EOS; windows cut as DESIGN.md §3 says, targets of masked tokens set to -100.

#include "bcd/chat_template.h"
#include "bcd/sentencepiece_tokenizer.h"
#include "bcd/tokenizer.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bcd {

// Text to token ids: one byte per token, or a Hugging Face tokenizer.
class TextEncoder {
public:
    static TextEncoder byte_level();
    static TextEncoder hf(Tokenizer tokenizer, TokenizerConfig config = {});
    // A tokenizer.model: BOS/EOS as transformers' LlamaTokenizer adds them (add_bos_token,
    // add_eos_token of the config).
    static TextEncoder sentencepiece(SentencePieceTokenizer tokenizer, TokenizerConfig config = {});
    // "byte", or the tokenizer.json (or, ending in .model, the SentencePiece tokenizer.model)
    // named by `spec` (a path), as data.tokenizer says, with the tokenizer_config.json beside it
    // when there is one.
    static TextEncoder from_spec(const std::string& spec);

    bool byte_level_encoding() const { return !tok_ && !sp_; }
    const Tokenizer* tokenizer() const { return tok_ ? &*tok_ : nullptr; }
    const SentencePieceTokenizer* sentencepiece() const { return sp_ ? &*sp_ : nullptr; }
    int vocab_size() const;
    std::vector<std::int32_t> encode(std::string_view text) const;
    // A document as HF's `tokenizer(text)` gives it: encode() between the BOS/EOS ids the
    // tokenizer adds to a sequence (document_prefix / document_suffix; docs/data.md#bos). Without
    // `with_suffix`, the prefix only (a prompt to continue).
    std::vector<std::int32_t> encode_document(std::string_view text, bool with_suffix = true) const;
    const std::vector<std::int32_t>& document_prefix() const { return prefix_; }
    const std::vector<std::int32_t>& document_suffix() const { return suffix_; }
    std::vector<std::vector<std::int32_t>>
    encode_batch(const std::vector<std::string_view>& texts) const;
    // Text of ids (bytes as they are for byte-level encoding).
    std::string decode_bytes(std::span<const std::int32_t> ids) const;
    std::optional<std::int32_t> special(std::string_view token) const;
    // The tokenizer_config.json next to the tokenizer (empty when none).
    const TokenizerConfig& config() const { return config_; }
    const std::string& chat_template() const { return config_.chat_template; }
    std::string describe() const;

private:
    std::optional<Tokenizer> tok_;
    std::optional<SentencePieceTokenizer> sp_;
    TokenizerConfig config_;
    std::vector<std::int32_t> prefix_, suffix_;
};

// How SFT conversations become tokens (docs/data.md#chat-templates). `chat_format` is
// data.chat_format: "auto" recognises the family of the tokenizer's chat template (an InputError
// listing the accepted names when it is none of them), or, without a template, picks ChatML or
// Llama 3 from the tokenizer's special tokens, else plain; a family name selects that family. A
// family whose special tokens the tokenizer lacks is an InputError. `why` says what decided.
ChatTemplate resolve_chat_template(const TextEncoder& enc, const std::string& chat_format,
                                   std::string* why);

struct DataOptions {
    std::string format = "text"; // text | jsonl | sft | tokens
    std::int32_t eos_id = -1;    // appended after each document / example when >= 0
    bool skip_malformed = false; // skip (and count) malformed records instead of stopping
    int vocab_limit = 0;         // ids must be below this (the model's vocab_size); 0: no check
    std::string chat_format = "auto"; // sft: data.chat_format (resolve_chat_template)
};

// One record — a line of `jsonl` or `sft`, a document of `text` — as tokens and loss mask (empty:
// every token trains), or why it is malformed: the parser behind TokenDataset::load, exposed for
// the fuzz targets.
struct RecordTokens {
    std::vector<std::int32_t> ids;
    std::vector<std::uint8_t> mask;
    std::string error;
};
RecordTokens encode_record(std::string_view record, const TextEncoder& enc,
                           const DataOptions& opts);

// One token stream with a loss mask, in memory or mapped from a token shard.
class TokenDataset {
public:
    // Reads `path` (a file, or a folder whose files are read in name order) in `opts.format`.
    // Malformed records are InputErrors naming file and line (or skipped and counted).
    static TokenDataset load(const std::filesystem::path& path, const TextEncoder& enc,
                             const DataOptions& opts);

    std::size_t size() const { return n_; }
    std::size_t num_windows(int S) const;
    // Window w: inputs t[s, s+S), targets t[s+1, s+S+1) with -100 where the target is masked.
    void copy_window(std::size_t w, int S, std::int32_t* inputs, std::int32_t* targets) const;
    std::int32_t token(std::size_t i) const;
    bool trainable(std::size_t i) const; // whether token i is a loss target

    std::size_t documents() const { return documents_; }
    std::size_t skipped() const { return skipped_; }
    std::size_t masked() const; // tokens that are not loss targets
    std::string describe() const;

private:
    friend class TokenStreamBuilder;
    std::size_t n_ = 0;
    std::vector<std::uint32_t> ids_;  // in memory
    std::vector<std::uint8_t> mask_;  // empty: every token trains
    std::shared_ptr<const void> map_; // a mapped shard
    const std::uint8_t* map_ids_ = nullptr;
    const std::uint8_t* map_mask_ = nullptr;
    int width_ = 4;
    std::size_t documents_ = 0, skipped_ = 0;
    std::string source_;
};

// Token shards (format `tokens`, docs/data.md): "BCDTOKEN", u32 version 1, u32 bytes per id (2 or
// 4), u64 count, u32 vocab_size, u32 flags (bit 0: a mask follows), the ids, then the mask (one
// byte per token, 1 = trains).
//
// Tokenises `input` into a shard without holding the whole input or output in memory: records
// are read, encoded in parallel in batches, and appended. Returns what load() would report.
struct ShardStats {
    std::size_t tokens = 0, documents = 0, skipped = 0, masked = 0;
};
ShardStats tokenize_to_shard(const std::filesystem::path& input, const TextEncoder& enc,
                             const DataOptions& opts, const std::filesystem::path& out,
                             const std::function<void(const std::string&)>& progress = {});

} // namespace bcd

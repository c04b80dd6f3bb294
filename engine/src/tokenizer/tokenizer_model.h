#pragma once
// The loaded form of a tokenizer.json, shared read-only by every copy of a bcd::Tokenizer, and
// the per-thread state that encoding needs (internal to the tokenizer).

#include "bcd/tokenizer.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/pretokenizer.h"

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bcd::tokenizer_detail {

struct TokenizerModel;

// One step of the file's normalizer, applied in order to every piece of text between added
// tokens.
struct NormalizerStep {
    enum class Kind { Nfc, Prepend, Replace } kind = Kind::Nfc;
    std::string text;        // Prepend: what is put before a non-empty piece; Replace: the pattern
    std::string replacement; // Replace: what every occurrence of `text` becomes
};

// One step of a SentencePiece-style decoder (`decoder.decoders[]`), applied to the list of token
// strings as HF's decode_chain does.
struct DecoderStep {
    enum class Kind { Replace, ByteFallback, Fuse, Strip, Metaspace } kind = Kind::Fuse;
    std::string text;        // Replace: pattern; Strip: the character; Metaspace: replacement
    std::string replacement; // Replace: content
    std::size_t start = 0, stop = 0; // Strip: at most this many characters from each end
    bool strip_first = false;        // Metaspace: prepend_scheme is not "never"
};

// One thread's working memory: regex match data, BPE buffers, the piece cache. Taken from the
// model's pool for the duration of a call, so that a thread never shares one.
struct EncodeState {
    explicit EncodeState(const TokenizerModel& model);

    std::vector<std::unique_ptr<RegexMatcher>> matchers; // one per TokenizerModel::regexes
    BpeScratch bpe;
    std::string repaired, normalized, normalize_scratch;
    std::vector<std::string> prefixed; // one per pre-tokenizer stage
    std::vector<AddedSplit> raw_splits, normalized_splits;
    std::string error;

    // Ids of recent pre-tokens: bytes → [offset, offset + count) in cache_ids. Cleared whole
    // when it holds kCacheEntries pre-tokens.
    static constexpr std::size_t kCacheEntries = 1 << 16;
    static constexpr std::size_t kCacheMaxPiece = 128; // longer pre-tokens are not cached
    BytesMap cache;                                    // value: offset in cache_ids << 32 | count
    std::vector<std::int32_t> cache_ids;
};

struct TokenizerModel {
    std::string label;

    BpeModel bpe;
    std::vector<NormalizerStep> normalizer;
    bool has_nfc = false; // one of the steps is NFC
    std::vector<PreTokenizerStage> stages;
    std::vector<std::unique_ptr<Regex>> regexes;

    std::vector<AddedToken> added;        // file order
    StringIdMap added_ids;                // content → id
    AddedTokenMatcher raw_matcher;        // added tokens with normalized=false
    AddedTokenMatcher normalized_matcher; // normalized=true, matched after the normaliser

    // Decoding: per id an index into `tokens` (kNoToken for an id without a token), so that a
    // sparse id range costs four bytes per id.
    struct TokenEntry {
        std::string token; // the string in the file (added content or vocab string)
        std::string bytes; // what HF's ByteLevel decoder makes of it
        bool special = false;
    };
    static constexpr std::uint32_t kNoToken = ~std::uint32_t{0};
    std::vector<std::uint32_t> id_entry;
    std::vector<TokenEntry> tokens;
    const TokenEntry* entry(std::int32_t id) const {
        if (id < 0 || id >= vocab_size) return nullptr;
        const std::uint32_t e = id_entry[static_cast<std::size_t>(id)];
        return e == kNoToken ? nullptr : &tokens[e];
    }
    std::int32_t vocab_size = 0;
    bool round_trips = false;
    // Byte-level files decode with the ByteLevel decoder (TokenEntry::bytes); SentencePiece-style
    // files with these steps over the token strings.
    bool byte_level = true;
    std::vector<DecoderStep> decoder;
    // SentencePiece style: "▁" is a token, and every token that holds "▁" after its first
    // character is made of "▁" only (Llama's "▁▁▁▁"). Then no merge joins a character to a
    // "▁" after it, and BPE may run word by word — a word being a run of "▁" and what follows up
    // to the next "▁" — through the cache, with the same ids as on the whole pre-token (Llama 2's
    // legacy form has one pre-token per document). Off with ignore_merges, whose whole-piece
    // lookup would see the words instead of the piece.
    bool bpe_by_word = false;
    PostTemplate post; // the post_processor's ids around one sequence

    std::string summary;

    // Encoding state pool.
    std::unique_ptr<EncodeState> acquire() const;
    void release(std::unique_ptr<EncodeState> s) const;
    mutable std::mutex pool_mutex;
    mutable std::vector<std::unique_ptr<EncodeState>> pool;

    void encode(std::string_view text, EncodeState& st, std::vector<std::int32_t>& out) const;
    // The normalizer on `text` (valid UTF-8): a view of `text` itself when no step changes it,
    // else of `out`. `scratch` is working memory.
    std::string_view normalize(std::string_view text, std::string& out, std::string& scratch) const;
    // HF's decoder chain on the strings of `ids` (SentencePiece-style files).
    std::string decode_chain(std::span<const std::int32_t> ids, bool skip_special_tokens) const;

    // Runs the pre-tokenizer stages from `stage` on `piece`, calling sink(std::string_view) for
    // every final pre-token (defined in tokenizer.cpp, the only user). `at_start`: the piece
    // begins at offset 0 of the original text (Metaspace's prepend_scheme "first").
    template <class Sink>
    void pre_tokenize(std::size_t stage, std::string_view piece, bool at_start, EncodeState& st,
                      Sink& sink) const;

private:
    void bpe_piece(std::string_view piece, EncodeState& st, std::vector<std::int32_t>& out) const;
    void bpe_word(std::string_view word, EncodeState& st, std::vector<std::int32_t>& out) const;
};

// Parses and validates tokenizer.json text (tokenizer_json.cpp).
std::shared_ptr<TokenizerModel> parse_tokenizer_json(std::string_view text,
                                                     const std::string& label);

} // namespace bcd::tokenizer_detail

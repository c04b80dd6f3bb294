#pragma once
// Byte-level BPE: GPT-2's byte↔character table and the merge loop of HF's BPE model.
//
// HF works on the byte-level *string* of a pre-token (every byte mapped to a printable
// character) and looks every character and merge up by string. The result only depends on ids,
// so this model starts from the ids of the single bytes and keys the merges by pairs of ids: no
// string is built in the hot loop.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace bcd::tokenizer_detail {

// GPT-2's bytes_to_unicode(): the character that stands for byte b in byte-level tokens.
char32_t byte_to_char(std::uint8_t b);
// The byte a character stands for, or -1 when it is not one of the 256 byte characters.
int char_to_byte(char32_t c);
// The bytes of a byte-level token string (every character one of the 256), or false.
bool byte_level_to_bytes(std::string_view token, std::string& bytes);
// The byte-level string of raw bytes (the inverse of byte_level_to_bytes).
std::string bytes_to_byte_level(std::string_view bytes);

// The byte a "<0xNN>" token stands for in HF's ByteFallback decoder, or -1 for any other token.
int fallback_byte(std::string_view token);
// `s` with every non-overlapping occurrence of `from` (not empty), left to right, replaced.
std::string replace_all(std::string_view s, std::string_view from, std::string_view to);

// Byte string → 64-bit value, open addressing with the hashes stored: the hot lookups of the
// tokenizer (whole pre-tokens in the vocabulary, the per-thread pre-token cache). Keys are
// copied into one arena; there is no erase, only clear().
class BytesMap {
public:
    static std::uint64_t hash(std::string_view key);
    void reserve(std::size_t entries);
    void clear();
    std::size_t size() const { return size_; }
    const std::uint64_t* find(std::string_view key, std::uint64_t h) const {
        if (slots_.empty()) return nullptr;
        for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
            const Slot& s = slots_[i];
            if (s.len == kEmpty) return nullptr;
            if (s.hash == h && s.len == key.size() &&
                std::string_view(arena_.data() + s.offset, s.len) == key)
                return &s.value;
        }
    }
    // `key` must not be present yet.
    void insert(std::string_view key, std::uint64_t h, std::uint64_t value);

private:
    static constexpr std::uint32_t kEmpty = ~std::uint32_t{0};
    struct Slot {
        std::uint64_t hash = 0;
        std::uint64_t value = 0;
        std::uint32_t offset = 0;
        std::uint32_t len = kEmpty;
    };
    void rehash(std::size_t capacity);

    std::vector<Slot> slots_;
    std::string arena_;
    std::size_t mask_ = 0;
    std::size_t size_ = 0;
};

// std::string keys looked up by std::string_view. Not noexcept on purpose: libstdc++ then keeps
// each node's hash, instead of hashing every key it passes while walking a bucket.
struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringIdMap = std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>>;

// (left id, right id) → (rank, merged id); open addressing, linear probing.
class MergeTable {
public:
    struct Merge {
        std::uint32_t rank;
        std::int32_t merged;
    };
    void reserve(std::size_t n);
    // A later insert of the same pair replaces the earlier one (HF collects into a HashMap).
    void insert(std::int32_t left, std::int32_t right, Merge m);
    const Merge* find(std::int32_t left, std::int32_t right) const {
        if (slots_.empty()) return nullptr;
        const std::uint64_t key = pack(left, right);
        for (std::size_t i = slot_of(key);; i = (i + 1) & mask_) {
            const Slot& s = slots_[i];
            if (s.key == key) return &s.merge;
            if (s.key == kEmpty) return nullptr;
        }
    }
    std::size_t size() const { return size_; }

private:
    static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
    struct Slot {
        std::uint64_t key = kEmpty;
        Merge merge{};
    };
    static std::uint64_t pack(std::int32_t a, std::int32_t b) {
        return (std::uint64_t{static_cast<std::uint32_t>(a)} << 32) | static_cast<std::uint32_t>(b);
    }
    std::size_t slot_of(std::uint64_t key) const {
        return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_) & mask_;
    }
    void grow();

    std::vector<Slot> slots_;
    std::size_t mask_ = 0;
    int shift_ = 64;
    std::size_t size_ = 0;
};

// Reusable buffers of one thread's merge loop.
struct BpeScratch {
    std::vector<std::int32_t> symbols;
    struct Node {
        std::int32_t id;
        std::int32_t prev;
        std::int32_t next;
        bool alive;
    };
    struct Candidate {
        std::uint32_t rank;
        std::uint32_t pos;
        std::int32_t merged;
    };
    std::vector<Node> nodes;
    std::vector<Candidate> heap;
};

// Two kinds of files: byte-level (GPT-2 style: every token is a string of byte characters, a
// pre-token's bytes are the starting symbols) and SentencePiece style (tokens are text; a
// pre-token's characters are the starting symbols, a character without a token becomes its
// bytes' <0xNN> tokens with byte_fallback, else unk).
class BpeModel {
public:
    StringIdMap vocab;  // token string (as in the file) → id
    BytesMap raw_vocab; // the bytes every token stands for → id (byte-level: the decoded bytes)
    std::array<std::int32_t, 256> byte_ids{}; // byte-level: id of each single byte's token, or -1
    bool byte_level = true;
    bool byte_fallback = false;
    std::array<std::int32_t, 256> fallback_ids{}; // id of "<0xNN>" for each byte, -1 when none
    MergeTable merges;
    std::size_t merge_count = 0; // entries in the file's merges
    bool ignore_merges = false;
    bool fuse_unk = false;
    std::int32_t unk_id = -1; // -1: no unk_token; an unknown byte is then dropped (as HF does)

    // Appends the ids of one pre-token (its raw bytes) to `out`.
    void tokenize(std::string_view piece, BpeScratch& scratch,
                  std::vector<std::int32_t>& out) const;

    // The BPE merge loop on `symbols` (ids) in place: the lowest-ranked adjacent pair is merged
    // first, the leftmost among equals, until no pair has a merge. Short words use a linear scan,
    // long ones (or all with force_heap) HF's priority queue; both give the same result.
    void merge(std::vector<std::int32_t>& symbols, BpeScratch& scratch,
               bool force_heap = false) const;

private:
    void symbols_of_text(std::string_view piece, std::vector<std::int32_t>& s) const;
    void merge_heap(std::vector<std::int32_t>& symbols, BpeScratch& scratch) const;
};

} // namespace bcd::tokenizer_detail

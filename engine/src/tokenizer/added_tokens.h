#pragma once
// Finding added tokens in text as HF's AddedVocabulary does: an Aho-Corasick search with
// leftmost-longest semantics, then each match's single_word / lstrip / rstrip rules
// (AddedVocabulary::find_matches, reproduced step for step).

#include "bcd/tokenizer.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bcd::tokenizer_detail {

// A piece of text: an added token (token >= 0, an index into the added tokens) or plain text.
// Pieces are in text order; with rstrip they may overlap, exactly as in HF.
struct AddedSplit {
    std::size_t begin;
    std::size_t end;
    int token;
};

class AddedTokenMatcher {
public:
    // Adds a pattern for added token `token`; an identical earlier pattern wins.
    void add(std::string_view pattern, int token);
    bool empty() const { return nodes_.size() <= 1; }

    // The pieces of `text`, appended to `out` (cleared first); empty pieces are left out.
    void split(std::string_view text, const std::vector<AddedToken>& tokens,
               std::vector<AddedSplit>& out) const;

private:
    struct Node {
        std::vector<std::pair<unsigned char, std::uint32_t>> next; // sorted by byte
        int token = -1;
    };
    std::int64_t child(std::uint32_t node, unsigned char b) const;
    // The leftmost-longest match at or after `from`: {begin, end, token}, or token -1.
    AddedSplit find(std::string_view text, std::size_t from) const;

    std::vector<Node> nodes_{Node{}};
    std::array<bool, 256> first_{};
};

// Rust regex's Unicode \w (Alphabetic, marks, decimal digits, connector punctuation,
// Join_Control): HF's test for single_word tokens.
bool is_word_char(std::string_view text, std::size_t at);

} // namespace bcd::tokenizer_detail

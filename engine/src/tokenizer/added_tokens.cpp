#include "tokenizer/added_tokens.h"

#include "tokenizer/utf8_text.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <algorithm>
#include <memory>
#include <pcre2.h>
#include <stdexcept>

namespace bcd::tokenizer_detail {

namespace {

// The code point that ends at text[end) (end > 0).
std::size_t previous_start(std::string_view text, std::size_t end) {
    std::size_t i = end - 1;
    while (i > 0 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) --i;
    return i;
}

bool ends_with_word(std::string_view text, std::size_t end) {
    return end > 0 && is_word_char(text, previous_start(text, end));
}

bool starts_with_word(std::string_view text, std::size_t begin) {
    return begin < text.size() && is_word_char(text, begin);
}

// Start of the whitespace run that ends at `end` (HF: \s*$ on text[..end]).
std::size_t space_run_start(std::string_view text, std::size_t end) {
    while (end > 0) {
        const std::size_t p = previous_start(text, end);
        std::size_t i = p;
        if (!is_white_space(next_code_point(text, i))) break;
        end = p;
    }
    return end;
}

// End of the whitespace run that starts at `begin` (HF: ^\s* on text[begin..]).
std::size_t space_run_end(std::string_view text, std::size_t begin) {
    while (begin < text.size()) {
        std::size_t i = begin;
        if (!is_white_space(next_code_point(text, i))) break;
        begin = i;
    }
    return begin;
}

} // namespace

bool is_word_char(std::string_view text, std::size_t at) {
    static const std::shared_ptr<pcre2_code> word = [] {
        constexpr std::string_view kWord = R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}])";
        int error = 0;
        PCRE2_SIZE offset = 0;
        pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kWord.data()), kWord.size(),
                                         PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
        if (code == nullptr) throw std::logic_error("the word class does not compile");
        return std::shared_ptr<pcre2_code>(code, pcre2_code_free);
    }();
    pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
    if (md == nullptr) throw std::bad_alloc();
    const int rc = pcre2_match(word.get(), reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(),
                               at, PCRE2_ANCHORED | PCRE2_NO_UTF_CHECK, md, nullptr);
    pcre2_match_data_free(md);
    return rc > 0;
}

std::int64_t AddedTokenMatcher::child(std::uint32_t node, unsigned char b) const {
    const auto& next = nodes_[node].next;
    const auto it = std::lower_bound(next.begin(), next.end(), b,
                                     [](const auto& e, unsigned char v) { return e.first < v; });
    return it != next.end() && it->first == b ? static_cast<std::int64_t>(it->second) : -1;
}

void AddedTokenMatcher::add(std::string_view pattern, int token) {
    if (pattern.empty()) return;
    std::uint32_t node = 0;
    for (const char ch : pattern) {
        const auto b = static_cast<unsigned char>(ch);
        const std::int64_t c = child(node, b);
        if (c >= 0) {
            node = static_cast<std::uint32_t>(c);
            continue;
        }
        const auto id = static_cast<std::uint32_t>(nodes_.size());
        auto& next = nodes_[node].next;
        next.insert(std::lower_bound(next.begin(), next.end(), b,
                                     [](const auto& e, unsigned char v) { return e.first < v; }),
                    {b, id});
        nodes_.emplace_back();
        node = id;
    }
    if (nodes_[node].token < 0) nodes_[node].token = token;
    first_[static_cast<unsigned char>(pattern[0])] = true;
}

AddedSplit AddedTokenMatcher::find(std::string_view text, std::size_t from) const {
    for (std::size_t i = from; i < text.size(); ++i) {
        if (!first_[static_cast<unsigned char>(text[i])]) continue;
        std::uint32_t node = 0;
        AddedSplit best{i, i, -1};
        for (std::size_t j = i; j < text.size(); ++j) {
            const std::int64_t c = child(node, static_cast<unsigned char>(text[j]));
            if (c < 0) break;
            node = static_cast<std::uint32_t>(c);
            if (nodes_[node].token >= 0) best = {i, j + 1, nodes_[node].token};
        }
        if (best.token >= 0) return best;
    }
    return {text.size(), text.size(), -1};
}

void AddedTokenMatcher::split(std::string_view text, const std::vector<AddedToken>& tokens,
                              std::vector<AddedSplit>& out) const {
    out.clear();
    std::size_t start_offset = 0;
    for (std::size_t from = 0; from < text.size();) {
        const AddedSplit m = find(text, from);
        if (m.token < 0) break;
        from = m.end; // the search goes on after the match, whatever happens to it below
        const AddedToken& t = tokens[static_cast<std::size_t>(m.token)];
        std::size_t start = m.begin, stop = m.end;
        if (t.single_word && (ends_with_word(text, start) || starts_with_word(text, stop)))
            continue;
        if (t.lstrip) start = std::max(space_run_start(text, start), start_offset);
        if (t.rstrip) stop = space_run_end(text, stop);
        if (start_offset < start) out.push_back({start_offset, start, -1});
        out.push_back({start, stop, m.token});
        start_offset = stop;
    }
    if (start_offset < text.size()) out.push_back({start_offset, text.size(), -1});
}

} // namespace bcd::tokenizer_detail

#pragma once
// The pre-tokenizer: HF `Split` (Isolated), `ByteLevel` and `Metaspace` stages, the regexes
// over PCRE2.
//
// HF tokenizers compiles its patterns with Oniguruma (Ruby syntax). PCRE2 reads the same syntax
// for everything these files use, except a few escapes whose meaning differs; translate_pattern()
// rewrites those to explicit classes with Oniguruma's meaning (measured against HF: \s is Unicode
// White_Space, without PCRE2's U+180E; \w is Alphabetic, marks, decimal digits, connector
// punctuation and ²³¹¼½¾; \h is a hex digit; \v is U+000B) and refuses what it cannot map.

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cstddef>
#include <memory>
#include <optional>
#include <pcre2.h>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bcd::tokenizer_detail {

// The Oniguruma (Ruby syntax) pattern `onig` in PCRE2 syntax, or nullopt with `why` set.
std::optional<std::string> translate_pattern(std::string_view onig, std::string& why);

// GPT-2's pre-tokenizer pattern (HF ByteLevel with use_regex=true).
inline constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// A compiled pattern, shared read-only by all threads.
class Regex {
public:
    // Compiles a PCRE2 pattern (already translated), or the literal `text` when literal is set.
    // Returns nullptr with `why` set when PCRE2 refuses it.
    static std::unique_ptr<Regex> compile(std::string_view text, bool literal, std::string& why);
    ~Regex();
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;

    pcre2_code* code() const { return code_; }
    bool jit() const { return jit_; }

private:
    Regex() = default;
    pcre2_code* code_ = nullptr;
    bool jit_ = false;
};

// Per-thread matching state for one Regex: match data, match limits and a JIT stack.
class RegexMatcher {
public:
    explicit RegexMatcher(const Regex& re);
    ~RegexMatcher();
    RegexMatcher(const RegexMatcher&) = delete;
    RegexMatcher& operator=(const RegexMatcher&) = delete;

    // The leftmost match in s at or after `from` (the text before `from` is visible to
    // lookbehinds), as [begin, end) byte offsets. A PCRE2 failure other than "no match" (a limit
    // reached) returns nullopt with `error` set to PCRE2's message.
    std::optional<std::pair<std::size_t, std::size_t>> find(std::string_view s, std::size_t from,
                                                            std::string& error);

private:
    const Regex* re_;
    pcre2_match_data* data_ = nullptr;
    pcre2_match_context* context_ = nullptr;
    pcre2_jit_stack* stack_ = nullptr;
};

// Oniguruma's find iterator with HF's Isolated behaviour: calls piece(std::string_view) for every
// non-empty gap between matches and every non-empty match, in order. An empty match right at the
// end of the previous match is skipped by advancing one character, as the `onig` crate does.
// Returns false with `error` set when matching failed.
template <class Piece>
bool split_isolated(RegexMatcher& m, std::string_view s, std::string& error, Piece&& piece) {
    std::size_t prev = 0, from = 0;
    bool have_last = false;
    std::size_t last_match_end = 0;
    while (from <= s.size()) {
        const auto found = m.find(s, from, error);
        if (!found) {
            if (!error.empty()) return false;
            break;
        }
        const auto [b, e] = *found;
        if (b == e && have_last && last_match_end == e) {
            // One character forward (one byte at the end of the text).
            if (from < s.size()) {
                const auto lead = static_cast<unsigned char>(s[from]);
                from += lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
            } else {
                ++from;
            }
            continue;
        }
        from = e;
        have_last = true;
        last_match_end = e;
        if (b > prev) piece(s.substr(prev, b - prev));
        if (e > b) piece(s.substr(b, e - b));
        prev = e;
    }
    if (prev < s.size()) piece(s.substr(prev));
    return true;
}

// One pre-tokenizer step applied to every piece: an optional space prefix (ByteLevel's
// add_prefix_space: added when the piece does not start with a space), then an optional
// Isolated split; or, with `metaspace`, HF's Metaspace: every ' ' becomes `replacement`, which is
// put before the piece by the prepend scheme, and with `metaspace_split` the piece is cut before
// every replacement (MergedWithNext).
struct PreTokenizerStage {
    enum class Prepend { Always, First, Never };
    bool add_prefix_space = false;
    bool metaspace = false;
    std::string replacement; // Metaspace: one character, UTF-8
    Prepend prepend = Prepend::Always;
    bool metaspace_split = true;
    int regex = -1;      // index into TokenizerModel::regexes, -1 for none
    std::string key;     // where the stage is in the file, for error messages
    std::string pattern; // the pattern as written in the file (empty without a regex)
};

} // namespace bcd::tokenizer_detail

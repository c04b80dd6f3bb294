#include "tokenizer/pretokenizer.h"

#include <cctype>

namespace bcd::tokenizer_detail {

namespace {

// Oniguruma's classes (UTF-8, Ruby syntax), as class items. Measured against HF tokenizers over
// every code point (tests/oracle/test_tokenizer_hf.py keeps measuring them).
constexpr std::string_view kSpaceItems =
    R"(\x{09}-\x{0D}\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";
// Oniguruma's \w also matches ²³¹¼½¾ on its own, but not inside a bracket class.
constexpr std::string_view kWordItems =
    R"(\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{B2}\x{B3}\x{B9}\x{BC}-\x{BE})";
constexpr std::string_view kWordItemsInClass = R"(\p{Alphabetic}\p{M}\p{Nd}\p{Pc})";
constexpr std::string_view kHexItems = "0-9A-Fa-f";

std::string word_boundary(bool negated) {
    const std::string w = "[" + std::string(kWordItems) + "]";
    if (negated) return "(?:(?<=" + w + ")(?=" + w + ")|(?<!" + w + ")(?!" + w + "))";
    return "(?:(?<=" + w + ")(?!" + w + ")|(?<!" + w + ")(?=" + w + "))";
}

bool is_hex(char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}
bool is_alnum(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

// Escapes whose meaning is the same in Oniguruma's Ruby syntax and PCRE2 (with UTF and UCP).
bool same_escape(char c) {
    switch (c) {
    case 'd':
    case 'D':
    case 'n':
    case 'r':
    case 't':
    case 'f':
    case 'e':
    case 'a':
    case 'A':
    case 'z':
    case 'Z':
    case 'G':
    case 'R':
    case 'K':
    case 'k':
    case 'g':
    case 'p':
    case 'P':
    case 'x':
    case 'c':
        return true;
    default:
        return c >= '0' && c <= '9';
    }
}

class Translator {
public:
    explicit Translator(std::string_view p) : p_(p) {}

    std::optional<std::string> run(std::string& why) {
        while (i_ < p_.size()) {
            const char c = p_[i_];
            const bool ok = c == '\\'  ? escape_outside()
                            : c == '[' ? char_class()
                            : c == '(' ? group()
                            : c == '{' ? quantifier()
                                       : (out_ += c, ++i_, true);
            if (!ok) {
                why = why_;
                return std::nullopt;
            }
        }
        return out_;
    }

private:
    bool fail(std::string why) {
        why_ = std::move(why) + " (at byte " + std::to_string(i_) + " of the pattern)";
        return false;
    }

    // \uHHHH (Ruby) is \x{HHHH} in PCRE2.
    bool unicode_escape() {
        if (i_ + 6 > p_.size()) return fail("\\u needs four hex digits");
        for (std::size_t k = 2; k < 6; ++k)
            if (!is_hex(p_[i_ + k])) return fail("\\u needs four hex digits");
        out_ += "\\x{" + std::string(p_.substr(i_ + 2, 4)) + "}";
        i_ += 6;
        return true;
    }

    bool escape_outside() {
        if (i_ + 1 >= p_.size()) return fail("the pattern ends with a backslash");
        const char d = p_[i_ + 1];
        std::string rep;
        switch (d) {
        case 's':
            rep = "[" + std::string(kSpaceItems) + "]";
            break;
        case 'S':
            rep = "[^" + std::string(kSpaceItems) + "]";
            break;
        case 'w':
            rep = "[" + std::string(kWordItems) + "]";
            break;
        case 'W':
            rep = "[^" + std::string(kWordItems) + "]";
            break;
        case 'h':
            rep = "[" + std::string(kHexItems) + "]";
            break;
        case 'H':
            rep = "[^" + std::string(kHexItems) + "]";
            break;
        case 'v':
            rep = "\\x{0B}";
            break;
        case 'b':
            rep = word_boundary(false);
            break;
        case 'B':
            rep = word_boundary(true);
            break;
        case 'u':
            return unicode_escape();
        default:
            if (d == 'X') // PCRE2 10.42 keeps consecutive emoji in one grapheme, Oniguruma does not
                return fail(
                    "the escape \\X is not supported (grapheme rules differ from Oniguruma's)");
            if (is_alnum(d) && !same_escape(d))
                return fail(std::string("the escape \\") + d + " is not supported");
            if (static_cast<unsigned char>(d) >= 0x80)
                return fail("a backslash before a non-ASCII character");
            rep = std::string("\\") + d;
        }
        out_ += rep;
        i_ += 2;
        return true;
    }

    bool escape_inside() {
        if (i_ + 1 >= p_.size()) return fail("the pattern ends with a backslash");
        const char d = p_[i_ + 1];
        std::string rep;
        bool set = false; // expands to several items: a '-' next to it is a literal, not a range
        switch (d) {
        case 's':
            rep = kSpaceItems;
            set = true;
            break;
        case 'w':
            rep = kWordItemsInClass;
            set = true;
            break;
        case 'h':
            rep = kHexItems;
            set = true;
            break;
        case 'v':
            rep = "\\x{0B}";
            break;
        case 'b':
            rep = "\\x{08}";
            break;
        case 'u':
            return unicode_escape();
        case 'S':
        case 'W':
        case 'H':
            return fail(std::string("\\") + d + " inside a character class is not supported");
        default:
            if (is_alnum(d) && (!same_escape(d) || d == 'A' || d == 'z' || d == 'Z' || d == 'G' ||
                                d == 'R' || d == 'K' || d == 'k' || d == 'g'))
                return fail(std::string("the escape \\") + d +
                            " inside a character class is not supported");
            if (static_cast<unsigned char>(d) >= 0x80)
                return fail("a backslash before a non-ASCII character");
            rep = std::string("\\") + d;
        }
        if (set && range_pending_) return fail("a range ending in a class escape");
        out_ += rep;
        i_ += 2;
        if (set && i_ + 1 < p_.size() && p_[i_] == '-' && p_[i_ + 1] != ']') {
            out_ += "\\-";
            ++i_;
        }
        return true;
    }

    bool char_class() {
        out_ += '[';
        ++i_;
        range_pending_ = false;
        if (i_ < p_.size() && p_[i_] == '^') {
            out_ += '^';
            ++i_;
        }
        if (i_ < p_.size() && p_[i_] == ']')
            return fail("a ']' first in a character class is not supported");
        while (i_ < p_.size()) {
            const char c = p_[i_];
            if (c == ']') {
                out_ += ']';
                ++i_;
                return true;
            }
            if (c == '\\') {
                if (!escape_inside()) return false;
                range_pending_ = false;
                continue;
            }
            if (c == '[') return fail("nested and POSIX character classes are not supported");
            if (c == '&' && i_ + 1 < p_.size() && p_[i_ + 1] == '&')
                return fail("class intersection (&&) is not supported");
            range_pending_ = c == '-' && out_.back() != '[' && out_.back() != '^';
            out_ += c;
            ++i_;
        }
        return fail("an unterminated character class");
    }

    bool group() {
        if (i_ + 1 >= p_.size() || p_[i_ + 1] != '?') {
            out_ += '(';
            ++i_;
            return true;
        }
        if (i_ + 2 >= p_.size()) return fail("an unterminated group");
        const char k = p_[i_ + 2];
        if (k == ':' || k == '=' || k == '!' || k == '>' || k == '\'') {
            out_ += p_.substr(i_, 3);
            i_ += 3;
            return true;
        }
        if (k == '<') { // lookbehind or named group
            out_ += "(?<";
            i_ += 3;
            return true;
        }
        if (k == '#') { // comment: copied verbatim up to its ')'
            const std::size_t end = p_.find(')', i_);
            if (end == std::string_view::npos) return fail("an unterminated comment");
            out_ += p_.substr(i_, end + 1 - i_);
            i_ = end + 1;
            return true;
        }
        // Option letters: Ruby's i (caseless) and m (dot matches newline: PCRE2's s).
        std::size_t j = i_ + 2;
        std::string opts;
        while (j < p_.size() && (p_[j] == 'i' || p_[j] == 'm' || p_[j] == '-')) {
            opts += p_[j] == 'm' ? 's' : p_[j];
            ++j;
        }
        if (j < p_.size() && (p_[j] == ':' || p_[j] == ')') && !opts.empty()) {
            out_ += "(?" + opts + p_[j];
            i_ = j + 1;
            return true;
        }
        return fail("the group syntax (?" + std::string(1, k) + " is not supported");
    }

    // Ruby's {,n} is {0,n}; PCRE2 10.42 would read it as literal text.
    bool quantifier() {
        if (i_ + 1 < p_.size() && p_[i_ + 1] == ',') {
            std::size_t j = i_ + 2;
            while (j < p_.size() && p_[j] >= '0' && p_[j] <= '9') ++j;
            if (j > i_ + 2 && j < p_.size() && p_[j] == '}') {
                out_ += "{0,";
                i_ += 2;
                return true;
            }
        }
        out_ += '{';
        ++i_;
        return true;
    }

    std::string_view p_;
    std::size_t i_ = 0;
    bool range_pending_ = false; // the last class item was a '-' that may open a range
    std::string out_;
    std::string why_;
};

std::string pcre2_message(int code) {
    PCRE2_UCHAR buf[256];
    const int n = pcre2_get_error_message(code, buf, sizeof buf);
    return n > 0 ? std::string(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n))
                 : "PCRE2 error " + std::to_string(code);
}

} // namespace

std::optional<std::string> translate_pattern(std::string_view onig, std::string& why) {
    return Translator(onig).run(why);
}

std::unique_ptr<Regex> Regex::compile(std::string_view text, bool literal, std::string& why) {
    pcre2_compile_context* cc = pcre2_compile_context_create(nullptr);
    if (cc == nullptr) throw std::bad_alloc();
    pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
    const std::uint32_t options =
        literal ? (PCRE2_UTF | PCRE2_LITERAL)
                : (PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE | PCRE2_NEVER_BACKSLASH_C);
    int error = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(),
                                     options, &error, &offset, cc);
    pcre2_compile_context_free(cc);
    if (code == nullptr) {
        why = "PCRE2 cannot compile it: " + pcre2_message(error) + " at offset " +
              std::to_string(offset);
        return nullptr;
    }
    std::unique_ptr<Regex> re(new Regex());
    re->code_ = code;
    // JIT when the platform has it; the interpreter gives the same matches, slower.
    re->jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    return re;
}

Regex::~Regex() {
    pcre2_code_free(code_);
}

RegexMatcher::RegexMatcher(const Regex& re) : re_(&re) {
    data_ = pcre2_match_data_create_from_pattern(re.code(), nullptr);
    context_ = pcre2_match_context_create(nullptr);
    if (data_ == nullptr || context_ == nullptr) {
        pcre2_match_data_free(data_);
        pcre2_match_context_free(context_);
        throw std::bad_alloc();
    }
    // Bounded work per match: a pathological pattern fails with an error instead of hanging.
    pcre2_set_match_limit(context_, 20'000'000);
    pcre2_set_depth_limit(context_, 100'000);
    if (re.jit()) {
        stack_ = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
        if (stack_ != nullptr) pcre2_jit_stack_assign(context_, nullptr, stack_);
    }
}

RegexMatcher::~RegexMatcher() {
    pcre2_jit_stack_free(stack_);
    pcre2_match_context_free(context_);
    pcre2_match_data_free(data_);
}

std::optional<std::pair<std::size_t, std::size_t>>
RegexMatcher::find(std::string_view s, std::size_t from, std::string& error) {
    const char* subject = s.empty() ? "" : s.data();
    // pcre2_jit_match skips pcre2_match's checks of the arguments, which are fixed here.
    const auto* text = reinterpret_cast<PCRE2_SPTR>(subject);
    const int rc = re_->jit() ? pcre2_jit_match(re_->code(), text, s.size(), from,
                                                PCRE2_NO_UTF_CHECK, data_, context_)
                              : pcre2_match(re_->code(), text, s.size(), from, PCRE2_NO_UTF_CHECK,
                                            data_, context_);
    if (rc == PCRE2_ERROR_NOMATCH) return std::nullopt;
    if (rc < 0) {
        error = pcre2_message(rc);
        return std::nullopt;
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data_);
    if (ov[0] > ov[1] || ov[1] > s.size()) { // \K can move the start past the end
        error = "the match ends before it starts (\\K)";
        return std::nullopt;
    }
    return std::make_pair(static_cast<std::size_t>(ov[0]), static_cast<std::size_t>(ov[1]));
}

} // namespace bcd::tokenizer_detail

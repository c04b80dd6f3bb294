#include "tokenizer/utf8_text.h"

#include "bcd/errors.h"

#include <cstdlib>
#include <utf8proc.h>

namespace bcd::tokenizer_detail {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD"; // U+FFFD

// Length of the valid sequence at s[i], or 0 with `bad` = the length of the maximal subpart to
// replace (at least 1).
std::size_t valid_sequence(std::string_view s, std::size_t i, std::size_t& bad) {
    const auto at = [&](std::size_t k) -> unsigned {
        return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0x100u;
    };
    const unsigned b = at(0);
    if (b < 0x80) return 1;
    unsigned lo = 0x80, hi = 0xBF;
    std::size_t n = 0;
    if (b >= 0xC2 && b <= 0xDF) {
        n = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        n = 3;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else {
        bad = 1;
        return 0;
    }
    // The second byte has the lead's special range; the others are plain continuation bytes.
    for (std::size_t k = 1; k < n; ++k) {
        const unsigned c = at(k);
        const bool ok = k == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
        if (!ok) {
            bad = k;
            return 0;
        }
    }
    return n;
}

} // namespace

std::size_t utf8_length(unsigned char lead) {
    if (lead < 0xC0) return 1;
    if (lead < 0xE0) return 2;
    if (lead < 0xF0) return 3;
    if (lead < 0xF8) return 4;
    return 1;
}

std::string_view repair_utf8(std::string_view text, std::string& buffer) {
    std::size_t i = 0, bad = 0;
    // Fast scan: most text is valid, and then nothing is copied.
    while (i < text.size()) {
        if (static_cast<unsigned char>(text[i]) < 0x80) {
            ++i;
            continue;
        }
        const std::size_t n = valid_sequence(text, i, bad);
        if (n == 0) break;
        i += n;
    }
    if (i == text.size()) return text;
    buffer.assign(text.substr(0, i));
    while (i < text.size()) {
        const std::size_t n = valid_sequence(text, i, bad);
        if (n == 0) {
            buffer += kReplacement;
            i += bad;
        } else {
            buffer.append(text.substr(i, n));
            i += n;
        }
    }
    return buffer;
}

char32_t next_code_point(std::string_view s, std::size_t& i) {
    const auto b = static_cast<unsigned char>(s[i]);
    const std::size_t n = utf8_length(b);
    if (n == 1 || i + n > s.size()) {
        ++i;
        return b;
    }
    char32_t c = b & (0xFF >> (n + 1));
    for (std::size_t k = 1; k < n; ++k)
        c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += n;
    return c;
}

bool is_white_space(char32_t c) {
    if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
    if (c < 0x85) return false;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

void nfc(std::string_view text, std::string& out) {
    // Every code point below U+0300 is NFC-stable and none of them combines with a following
    // one unless that is a combining mark (U+0300 and above): such text is already NFC. The
    // UTF-8 lead bytes of U+0300 and above are 0xCC and above.
    bool simple = true;
    for (const char ch : text) {
        if (static_cast<unsigned char>(ch) >= 0xCC) {
            simple = false;
            break;
        }
    }
    if (simple) {
        out.assign(text);
        return;
    }
    utf8proc_uint8_t* result = nullptr;
    const utf8proc_ssize_t n =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                     static_cast<utf8proc_ssize_t>(text.size()), &result,
                     static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    if (n < 0) {
        std::free(result);
        throw InternalError(std::string("NFC normalisation failed: ") + utf8proc_errmsg(n));
    }
    out.assign(reinterpret_cast<const char*>(result), static_cast<std::size_t>(n));
    std::free(result);
}

} // namespace bcd::tokenizer_detail

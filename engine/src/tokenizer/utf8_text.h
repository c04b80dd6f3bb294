#pragma once
// UTF-8 helpers of the tokenizer: repairing invalid input the way Rust's String::from_utf8_lossy
// and Python's bytes.decode("utf-8", "replace") do, NFC through utf8proc, and the Unicode
// White_Space property that HF's regexes (Oniguruma's and Rust's \s) use.

#include <cstddef>
#include <string>
#include <string_view>

namespace bcd::tokenizer_detail {

// `text` when it is valid UTF-8; otherwise `buffer`, filled with `text` where every maximal
// invalid subsequence (Unicode 15, §3.9 "U+FFFD substitution of maximal subparts") is replaced by
// U+FFFD, and a view of it returned.
std::string_view repair_utf8(std::string_view text, std::string& buffer);

// The code point starting at s[i] (s valid UTF-8) and the index after it.
char32_t next_code_point(std::string_view s, std::size_t& i);
// The byte length of the UTF-8 sequence starting with `lead` (1 for anything invalid).
std::size_t utf8_length(unsigned char lead);

// Unicode White_Space (Rust regex's and Oniguruma's \s; PCRE2's \s also matches U+180E).
bool is_white_space(char32_t c);

// NFC of valid UTF-8 `text` into `out` (replacing its content). Text that is all below U+0300
// is returned as it is without a call into utf8proc.
void nfc(std::string_view text, std::string& out);

} // namespace bcd::tokenizer_detail

// libFuzzer target for tokenizer.json: any bytes must either load, or be refused with an
// InputError. A tokenizer that loads encodes a few fixed strings and two derived from the input
// (the input itself, and the bytes of its first tokens glued together, which BPE must take apart
// again); every id must name a token, encode_batch must agree with encode, decode must give valid
// UTF-8, and where the file promises it (round_trips()) decode(encode(s)) == s for valid UTF-8 s
// that the normaliser leaves unchanged.

#include "bcd/errors.h"
#include "bcd/tokenizer.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        std::size_t n = b < 0x80                 ? 1
                        : b >= 0xC2 && b <= 0xDF ? 2
                        : b >= 0xE0 && b <= 0xEF ? 3
                        : b >= 0xF0 && b <= 0xF4 ? 4
                                                 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (std::size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        const auto c1 = static_cast<unsigned char>(n > 1 ? s[i + 1] : 0);
        if ((b == 0xE0 && c1 < 0xA0) || (b == 0xED && c1 > 0x9F) || (b == 0xF0 && c1 < 0x90) ||
            (b == 0xF4 && c1 > 0x8F))
            return false;
        i += n;
    }
    return true;
}

void check(const bcd::Tokenizer& tok, std::string_view s) {
    std::vector<std::int32_t> ids;
    try {
        ids = tok.encode(s);
    } catch (const bcd::InputError&) {
        return; // a pattern that reached PCRE2's match limit: refused, named
    }
    for (const std::int32_t id : ids)
        if (id < 0 || id >= tok.vocab_size() || !tok.token(id)) __builtin_trap();
    const std::string text = tok.decode(ids);
    if (!valid_utf8(text)) __builtin_trap();
    if (tok.round_trips() && valid_utf8(s) && tok.normalize(s) == s && text != s) __builtin_trap();
    const std::string_view both[] = {s, s};
    const auto batch = tok.encode_batch(both, 2);
    if (batch.size() != 2 || batch[0] != ids || batch[1] != ids) __builtin_trap();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::optional<bcd::Tokenizer> tok;
    try {
        tok = bcd::Tokenizer::parse(input, "fuzz/tokenizer.json");
    } catch (const bcd::InputError&) {
        return 0;
    }
    (void)tok->summary();
    static const std::string_view fixed[] = {
        "",
        "Hello, world! I'm here; they'll see.",
        "  \t\n\n   x  ",
        "1234567 3.14 ١٢٣",
        "Café e\xCC\x81 Straße 日本語 👨\u200d👩\u200d👧",
        "<|endoftext|>a<s></s>[SEP]",
        "bad \xFF utf-8 \xE2\x82",
        " \xE2\x96\x81\xE2\x96\x81 h<0x41> <s>hi</s>  ab\xC3\xA9 ",
    };
    for (const std::string_view s : fixed) check(*tok, s);
    check(*tok, input.substr(0, 512));
    std::vector<std::int32_t> first;
    for (std::int32_t id = 0; id < tok->vocab_size() && first.size() < 48; ++id)
        first.push_back(id);
    check(*tok, tok->decode_bytes(first));
    return 0;
}

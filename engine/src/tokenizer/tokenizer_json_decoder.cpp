// tokenizer.json's decoder (docs/tokenizer.md): ByteLevel, or SentencePiece style's Replace,
// ByteFallback, Fuse, Strip and Metaspace steps.

#include "tokenizer/tokenizer_json_parser.h"
#include "tokenizer/utf8_text.h"

#include <algorithm>

namespace bcd::tokenizer_detail {

void TokenizerJsonParser::parse_decoder(const json& root) {
    const json* d = find(root, "decoder");
    if (m_.byte_level) {
        if (d == nullptr) fail("decoder", "null is not supported (expected ByteLevel)");
        object_at(*d, "decoder");
        const std::string type = type_of(*d, "decoder", "ByteLevel");
        if (type != "ByteLevel")
            fail("decoder.type", json_quote(type) + " is not supported (expected ByteLevel "
                                                    "with a ByteLevel pre-tokenizer)");
        return;
    }
    constexpr std::string_view kSteps = "Replace, ByteFallback, Fuse, Strip, Metaspace";
    if (d == nullptr)
        fail("decoder", "null is not supported (expected Sequence of " + std::string(kSteps) +
                            " for a SentencePiece-style BPE)");
    object_at(*d, "decoder");
    if (type_of(*d, "decoder", "Sequence") == "Sequence") {
        const json* list = find(*d, "decoders");
        if (list == nullptr || !list->is_array())
            fail("decoder.decoders", "expected a list of decoders");
        for (std::size_t i = 0; i < list->size(); ++i)
            decoder_step((*list)[i], "decoder.decoders[" + std::to_string(i) + "]", kSteps);
    } else {
        decoder_step(*d, "decoder", kSteps);
    }
}

void TokenizerJsonParser::decoder_step(const json& d, const std::string& key,
                                       std::string_view steps) {
    object_at(d, key);
    const std::string type = type_of(d, key, steps);
    DecoderStep s;
    if (type == "Replace") {
        s.kind = DecoderStep::Kind::Replace;
        std::tie(s.text, s.replacement) = replace_step(d, key);
    } else if (type == "ByteFallback") {
        s.kind = DecoderStep::Kind::ByteFallback;
    } else if (type == "Fuse") {
        s.kind = DecoderStep::Kind::Fuse;
    } else if (type == "Strip") {
        s.kind = DecoderStep::Kind::Strip;
        s.text = string_at(d, key, "content");
        std::size_t i = 0;
        if (s.text.empty() || (next_code_point(s.text, i), i != s.text.size()))
            fail(key + ".content", "expected one character, got " + json_quote(s.text));
        for (const char* name : {"start", "stop"}) {
            const json* v = find(d, name);
            if (v == nullptr || !v->is_number_unsigned() || v->get<std::uint64_t>() > 1u << 20)
                fail(key + "." + name, "expected a count of characters (0 to 1048576)");
            (std::string_view(name) == "start" ? s.start : s.stop) =
                static_cast<std::size_t>(v->get<std::uint64_t>());
        }
    } else if (type == "ByteLevel") {
        fail(key + ".type", "\"ByteLevel\" needs a ByteLevel pre-tokenizer (expected " +
                                std::string(steps) + " for a SentencePiece-style BPE)");
    } else if (type == "Metaspace") {
        s.kind = DecoderStep::Kind::Metaspace;
        s.text = metaspace_replacement(d, key);
        s.strip_first = prepend_scheme(d, key) != PreTokenizerStage::Prepend::Never;
    } else {
        fail(key + ".type",
             json_quote(type) + " is not supported (expected " + std::string(steps) + ")");
    }
    m_.decoder.push_back(std::move(s));
}

std::string TokenizerJsonParser::sp_token_bytes(const std::string& token) const {
    std::string t = token;
    for (const DecoderStep& s : m_.decoder) {
        if (s.kind == DecoderStep::Kind::Replace) {
            t = replace_all(t, s.text, s.replacement);
        } else if (s.kind == DecoderStep::Kind::Metaspace) {
            t = replace_all(t, s.text, " ");
        } else if (s.kind == DecoderStep::Kind::ByteFallback) {
            if (const int b = fallback_byte(t); b >= 0) t.assign(1, static_cast<char>(b));
        }
    }
    return t;
}

} // namespace bcd::tokenizer_detail

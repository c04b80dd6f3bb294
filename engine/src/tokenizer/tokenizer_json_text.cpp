// tokenizer.json's normalizer and pre_tokenizer (docs/tokenizer.md): NFC, Prepend, Replace;
// Split, ByteLevel, Metaspace, Digits and their Sequences.

#include "tokenizer/tokenizer_json_parser.h"
#include "tokenizer/utf8_text.h"

#include <algorithm>

namespace bcd::tokenizer_detail {

namespace {

struct Pattern {
    std::string_view name;
    std::string_view text;
};
// The pre-tokenizer patterns of the three families, named in summaries.
constexpr Pattern kKnownPatterns[] = {
    {"GPT-2", kGpt2Pattern},
    {"Llama 3",
     R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
    {"Qwen2",
     R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
};

std::string pattern_name(std::string_view p) {
    for (const auto& k : kKnownPatterns)
        if (k.text == p) return std::string(k.name) + " regex";
    return "a " + std::to_string(p.size()) + "-byte regex";
}

} // namespace

void TokenizerJsonParser::parse_normalizer(const json& n, const std::string& key, int depth) {
    if (depth > kMaxNesting)
        fail(key, "Sequences nested too deep (at most " + std::to_string(kMaxNesting) + ")");
    object_at(n, key);
    const std::string type = type_of(n, key, "NFC, Prepend, Replace, Sequence");
    if (type == "NFC") {
        m_.normalizer.push_back({NormalizerStep::Kind::Nfc, {}, {}});
        m_.has_nfc = true;
        describe_normalizer("NFC");
    } else if (type == "Prepend") {
        const std::string text = string_at(n, key, "prepend");
        m_.normalizer.push_back({NormalizerStep::Kind::Prepend, text, {}});
        describe_normalizer("Prepend(" + json_quote(text) + ")");
    } else if (type == "Replace") {
        const auto [pattern, content] = replace_step(n, key);
        m_.normalizer.push_back({NormalizerStep::Kind::Replace, pattern, content});
        describe_normalizer("Replace(" + json_quote(pattern) + " → " + json_quote(content) + ")");
    } else if (type == "Sequence") {
        const json* list = find(n, "normalizers");
        if (list == nullptr || !list->is_array())
            fail(key + ".normalizers", "expected a list of normalizers");
        for (std::size_t i = 0; i < list->size(); ++i)
            parse_normalizer((*list)[i], key + ".normalizers[" + std::to_string(i) + "]",
                             depth + 1);
    } else {
        fail(key + ".type",
             json_quote(type) + " is not supported (expected NFC, Prepend, Replace, Sequence)");
    }
}

void TokenizerJsonParser::describe_normalizer(const std::string& step) {
    if (!normalizer_description_.empty()) normalizer_description_ += " + ";
    normalizer_description_ += step;
}

std::string TokenizerJsonParser::string_at(const json& obj, const std::string& key,
                                           std::string_view name) const {
    const json* v = find(obj, name);
    if (v == nullptr || !v->is_string())
        fail(key + "." + std::string(name),
             "expected a string, got " + (v == nullptr ? std::string("nothing") : json_brief(*v)));
    std::string text = v->get<std::string>();
    std::string repaired;
    if (repair_utf8(text, repaired).size() != text.size() || !repaired.empty())
        fail(key + "." + std::string(name), "expected valid UTF-8");
    return text;
}

std::pair<std::string, std::string>
TokenizerJsonParser::replace_step(const json& r, const std::string& key) const {
    const json* pattern = find(r, "pattern");
    if (pattern == nullptr || !pattern->is_object() || pattern->size() != 1 ||
        !pattern->contains("String") || !pattern->begin()->is_string())
        fail(key + ".pattern", "expected {\"String\": \"...\"} (a Regex pattern is not supported)");
    std::string text = string_at(*pattern, key + ".pattern", "String");
    if (text.empty()) fail(key + ".pattern.String", "expected a non-empty string");
    return {std::move(text), string_at(r, key, "content")};
}

std::string TokenizerJsonParser::metaspace_replacement(const json& p,
                                                       const std::string& key) const {
    const std::string r = string_at(p, key, "replacement");
    std::size_t i = 0;
    if (r.empty() || (next_code_point(r, i), i != r.size()))
        fail(key + ".replacement", "expected one character, got " + json_quote(r));
    return r;
}

PreTokenizerStage::Prepend TokenizerJsonParser::prepend_scheme(const json& p,
                                                               const std::string& key) const {
    if (const json* v = find(p, "prepend_scheme")) {
        const std::string s = v->is_string() ? v->get<std::string>() : "";
        if (s == "always") return PreTokenizerStage::Prepend::Always;
        if (s == "first") return PreTokenizerStage::Prepend::First;
        if (s == "never") return PreTokenizerStage::Prepend::Never;
        fail(key + ".prepend_scheme",
             json_brief(*v) + " is not supported (expected \"always\", \"first\" or \"never\")");
    }
    return flag(p, key, "add_prefix_space", true) ? PreTokenizerStage::Prepend::Always
                                                  : PreTokenizerStage::Prepend::Never;
}

int TokenizerJsonParser::add_regex(std::string_view text, bool literal, const std::string& key) {
    std::string why;
    std::string pcre;
    if (!literal) {
        const auto translated = translate_pattern(text, why);
        if (!translated) fail(key, "the pattern cannot be used: " + why);
        pcre = *translated;
    } else {
        pcre = text;
    }
    auto re = Regex::compile(pcre, literal, why);
    if (!re) fail(key, "the pattern cannot be used: " + why);
    m_.regexes.push_back(std::move(re));
    return static_cast<int>(m_.regexes.size()) - 1;
}

void TokenizerJsonParser::pre_tokenizer_step(const json& p, const std::string& key, int depth) {
    if (depth > kMaxNesting)
        fail(key, "Sequences nested too deep (at most " + std::to_string(kMaxNesting) + ")");
    object_at(p, key);
    const std::string type = type_of(p, key, "ByteLevel, Split, Metaspace, Sequence");
    if (type == "Sequence") {
        const json* list = find(p, "pretokenizers");
        if (list == nullptr || !list->is_array())
            fail(key + ".pretokenizers", "expected a list of pre-tokenizers");
        for (std::size_t i = 0; i < list->size(); ++i)
            pre_tokenizer_step((*list)[i], key + ".pretokenizers[" + std::to_string(i) + "]",
                               depth + 1);
    } else if (type == "Metaspace") {
        PreTokenizerStage s;
        s.key = key;
        s.metaspace = true;
        s.replacement = metaspace_replacement(p, key);
        s.prepend = prepend_scheme(p, key);
        s.metaspace_split = flag(p, key, "split", true);
        static const char* scheme[] = {"always", "first", "never"};
        describe("Metaspace(" + json_quote(s.replacement) + ", prepend " +
                 scheme[static_cast<int>(s.prepend)] +
                 (s.metaspace_split ? ", split)" : ", no split)"));
        m_.stages.push_back(std::move(s));
        ++metaspace_steps_;
    } else if (type == "ByteLevel") {
        PreTokenizerStage s;
        s.key = key;
        s.add_prefix_space = flag(p, key, "add_prefix_space", std::nullopt);
        flag(p, key, "trim_offsets", std::nullopt); // offsets only
        if (flag(p, key, "use_regex", true)) {
            s.pattern = kGpt2Pattern;
            s.regex = add_regex(kGpt2Pattern, false, key);
        }
        describe(std::string("ByteLevel(") + (s.regex >= 0 ? "GPT-2 regex" : "no regex") +
                 (s.add_prefix_space ? ", prefix space)" : ")"));
        m_.stages.push_back(std::move(s));
        ++byte_level_steps_;
    } else if (type == "Split") {
        if (byte_level_steps_ > 0)
            fail(key, "a Split after ByteLevel is not supported (ByteLevel must be last)");
        const json* pattern = find(p, "pattern");
        if (pattern == nullptr || !pattern->is_object() || pattern->size() != 1 ||
            !(pattern->contains("Regex") || pattern->contains("String")) ||
            !pattern->begin()->is_string())
            fail(key + ".pattern", "expected {\"Regex\": \"...\"} or {\"String\": \"...\"}");
        const bool literal = pattern->contains("String");
        const std::string text = pattern->begin()->get<std::string>();
        const json* behavior = find(p, "behavior");
        if (behavior == nullptr) fail(key + ".behavior", "is required (expected \"Isolated\")");
        if (!behavior->is_string() || behavior->get<std::string>() != "Isolated")
            fail(key + ".behavior",
                 json_brief(*behavior) + " is not supported (expected \"Isolated\")");
        if (flag(p, key, "invert", std::nullopt))
            fail(key + ".invert", "true is not supported (expected false)");
        PreTokenizerStage s;
        s.key = key + ".pattern." + (literal ? "String" : "Regex");
        s.pattern = text;
        s.regex = add_regex(text, literal, s.key);
        describe("Split(" + (literal ? "literal " + json_quote(text) : pattern_name(text)) + ")");
        m_.stages.push_back(std::move(s));
    } else {
        fail(key + ".type",
             json_quote(type) +
                 " is not supported (expected ByteLevel, Split, Metaspace, Sequence)");
    }
}

void TokenizerJsonParser::describe(const std::string& step) {
    if (!pre_description_.empty()) pre_description_ += " + ";
    pre_description_ += step;
}

void TokenizerJsonParser::parse_pre_tokenizer(const json& root) {
    if (const json* p = find(root, "pre_tokenizer")) pre_tokenizer_step(*p, "pre_tokenizer");
    if (byte_level_steps_ > 1)
        fail("pre_tokenizer", std::to_string(byte_level_steps_) +
                                  " ByteLevel steps (expected one, as the last step, or none)");
    if (byte_level_steps_ == 1 && metaspace_steps_ > 0)
        fail("pre_tokenizer", "Metaspace and ByteLevel together are not supported (expected "
                              "ByteLevel for a byte-level BPE or Metaspace for a "
                              "SentencePiece-style one)");
    m_.byte_level = byte_level_steps_ == 1;
    m_.bpe.byte_level = m_.byte_level;
    if (pre_description_.empty()) pre_description_ = "none";
    if (m_.byte_level && m_.bpe.byte_fallback)
        fail("model.byte_fallback", "true is not supported with a ByteLevel pre-tokenizer "
                                    "(expected false: byte-level BPE needs no fallback)");
}

} // namespace bcd::tokenizer_detail

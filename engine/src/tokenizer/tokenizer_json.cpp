// tokenizer.json → TokenizerModel: validation of every supported key and a refusal, by name, of
// everything else (docs/tokenizer.md lists both).

#include "bcd/errors.h"
#include "core/json_reader.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/tokenizer_model.h"
#include "tokenizer/utf8_text.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

namespace bcd::tokenizer_detail {

namespace {

// Ids above this are refused: the decode tables are dense (real vocabularies hold < 300k).
constexpr std::int64_t kMaxTokenId = (std::int64_t{1} << 22) - 1;
// Sequences within Sequences: real files have one level; the limit keeps the recursion bounded.
constexpr int kMaxNesting = 8;

using nlohmann::json;

std::string json_quote(std::string_view s) {
    return json(std::string(s)).dump();
}

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

class Parser {
public:
    Parser(const std::string& label, TokenizerModel& m) : label_(label), m_(m) {}

    void run(const json& root) {
        if (!root.is_object())
            fail("(top level)", "expected a JSON object, got " + json_brief(root));
        if (const json* v = find(root, "version")) {
            if (!v->is_string() || v->get<std::string>() != "1.0")
                fail("version", json_brief(*v) + " is not supported (expected \"1.0\")");
        }
        const json* model = find(root, "model");
        if (model == nullptr) fail("model", "is required (a BPE model)");
        parse_model(*model);
        if (const json* n = find(root, "normalizer")) parse_normalizer(*n, "normalizer");
        parse_pre_tokenizer(root);
        parse_decoder(root);
        if (const json* a = find(root, "added_tokens")) parse_added_tokens(*a);
        // post_processor: the ids around a sequence, for encode_with_special_tokens(). Truncation
        // and padding are not applied: encode() returns whole documents.
        if (const json* p = find(root, "post_processor"))
            m_.post = parse_post_processor(*p, label_);
        finish();
    }

private:
    [[noreturn]] void fail(const std::string& key, const std::string& expected) const {
        throw InputError(label_, key, expected);
    }

    // The value of `key`, or nullptr when absent or null.
    static const json* find(const json& obj, std::string_view key) {
        const auto it = obj.find(key);
        return it == obj.end() || it->is_null() ? nullptr : &*it;
    }

    const json& object_at(const json& v, const std::string& key) const {
        if (!v.is_object()) fail(key, "expected an object, got " + json_brief(v));
        return v;
    }

    std::string type_of(const json& obj, const std::string& key, std::string_view expected) const {
        const json* t = find(obj, "type");
        if (t == nullptr)
            fail(key + ".type", "is required (expected " + std::string(expected) + ")");
        if (!t->is_string()) fail(key + ".type", "expected a string, got " + json_brief(*t));
        return t->get<std::string>();
    }

    bool flag(const json& obj, const std::string& key, std::string_view name,
              std::optional<bool> fallback) const {
        const json* v = find(obj, name);
        if (v == nullptr) {
            if (fallback) return *fallback;
            fail(key + "." + std::string(name), "is required (true or false)");
        }
        if (!v->is_boolean())
            fail(key + "." + std::string(name), "expected true or false, got " + json_brief(*v));
        return v->get<bool>();
    }

    std::int32_t token_id(const json& v, const std::string& key) const {
        if (!v.is_number_integer() || v.get<std::int64_t>() < 0 ||
            v.get<std::int64_t>() > kMaxTokenId ||
            (v.is_number_unsigned() &&
             v.get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxTokenId)))
            fail(key, "expected a token id in [0, " + std::to_string(kMaxTokenId) + "], got " +
                          json_brief(v));
        return static_cast<std::int32_t>(v.get<std::int64_t>());
    }

    // --- model -----------------------------------------------------------------------------

    void parse_model(const json& model) {
        object_at(model, "model");
        if (find(model, "type") != nullptr) {
            const std::string type = type_of(model, "model", "BPE");
            if (type != "BPE")
                fail("model.type", json_quote(type) + " is not supported (expected BPE)");
        }
        if (const json* d = find(model, "dropout")) {
            if (!d->is_number() || d->get<double>() != 0.0)
                fail("model.dropout",
                     json_brief(*d) + " is not supported (expected null: dropout is random)");
        }
        for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
            if (const json* v = find(model, key)) {
                if (!v->is_string() || !v->get<std::string>().empty())
                    fail(std::string("model.") + key,
                         json_brief(*v) + " is not supported (expected null or \"\")");
            }
        }
        BpeModel& bpe = m_.bpe;
        bpe.byte_fallback = flag(model, "model", "byte_fallback", false);
        bpe.fuse_unk = flag(model, "model", "fuse_unk", false);
        bpe.ignore_merges = flag(model, "model", "ignore_merges", false);

        const json* vocab = find(model, "vocab");
        if (vocab == nullptr) fail("model.vocab", "is required (an object: token → id)");
        if (!vocab->is_object())
            fail("model.vocab", "expected an object (token → id), got " + json_brief(*vocab));
        bpe.vocab.reserve(vocab->size());
        by_id_.reserve(vocab->size());
        for (auto it = vocab->begin(); it != vocab->end(); ++it) {
            const std::int32_t id = token_id(it.value(), "model.vocab." + json_quote(it.key()));
            const auto pos = bpe.vocab.emplace(it.key(), id).first; // JSON keys are unique
            const auto [other, unique] = by_id_.emplace(id, &pos->first);
            if (!unique)
                fail("model.vocab." + json_quote(it.key()),
                     "id " + std::to_string(id) + " is also the id of " +
                         json_quote(*other->second) + " (expected one token per id)");
        }
        if (const json* unk = find(model, "unk_token")) {
            if (!unk->is_string())
                fail("model.unk_token", "expected a string or null, got " + json_brief(*unk));
            const auto it = bpe.vocab.find(unk->get<std::string>());
            if (it == bpe.vocab.end())
                fail("model.unk_token",
                     json_quote(unk->get<std::string>()) + " is not in model.vocab");
            bpe.unk_id = it->second;
        }
        parse_merges(model);
    }

    // The lookup tables of the BPE model, once the pre-tokenizer has said which kind it is.
    void build_lookups() {
        BpeModel& bpe = m_.bpe;
        bpe.byte_ids.fill(-1);
        bpe.fallback_ids.fill(-1);
        bpe.raw_vocab.reserve(bpe.vocab.size());
        if (!bpe.byte_level) {
            static const char* hex = "0123456789ABCDEF";
            for (int b = 0; b < 256; ++b) {
                // HF looks up format!("<{:#04X}>", b): "<0x0A>".
                const std::string name = std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
                const auto it = bpe.vocab.find(name);
                bpe.fallback_ids[static_cast<std::size_t>(b)] =
                    it == bpe.vocab.end() ? -1 : it->second;
            }
            const std::string meta = "\xE2\x96\x81";
            bool mixed_meta = false; // a token with "▁" after a different character
            for (const auto& [token, id] : bpe.vocab) {
                bpe.raw_vocab.insert(token, BytesMap::hash(token), static_cast<std::uint64_t>(id));
                if (token.find(meta, 1) == std::string::npos) continue;
                for (std::size_t i = 0; i < token.size(); i += meta.size())
                    mixed_meta = mixed_meta || token.compare(i, meta.size(), meta) != 0;
            }
            m_.bpe_by_word = !bpe.ignore_merges && !mixed_meta && bpe.vocab.contains(meta);
            return;
        }
        for (int b = 0; b < 256; ++b) {
            const auto it =
                bpe.vocab.find(bytes_to_byte_level(std::string(1, static_cast<char>(b))));
            bpe.byte_ids[static_cast<std::size_t>(b)] = it == bpe.vocab.end() ? -1 : it->second;
        }
        std::string bytes;
        for (const auto& [token, id] : bpe.vocab)
            if (byte_level_to_bytes(token, bytes))
                bpe.raw_vocab.insert(bytes, BytesMap::hash(bytes), static_cast<std::uint64_t>(id));
    }

    std::int32_t vocab_id(const std::string& token, const std::string& key) const {
        const auto it = m_.bpe.vocab.find(token);
        if (it == m_.bpe.vocab.end()) fail(key, json_quote(token) + " is not in model.vocab");
        return it->second;
    }

    void parse_merges(const json& model) {
        const json* merges = find(model, "merges");
        if (merges == nullptr) fail("model.merges", "is required (a list of merges)");
        if (!merges->is_array())
            fail("model.merges", "expected a list, got " + json_brief(*merges));
        // Both forms of HF: ["a b", ...] (older files, "#version" lines skipped) or [["a", "b"],
        // ...].
        const bool pairs = !merges->empty() && (*merges)[0].is_array();
        BpeModel& bpe = m_.bpe;
        bpe.merges.reserve(merges->size());
        std::uint32_t rank = 0;
        std::string a, b;
        for (std::size_t i = 0; i < merges->size(); ++i) {
            const json& e = (*merges)[i];
            const std::string key = "model.merges[" + std::to_string(i) + "]";
            if (pairs) {
                if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_string())
                    fail(key,
                         "expected a pair of strings like every other entry, got " + json_brief(e));
                a = e[0].get<std::string>();
                b = e[1].get<std::string>();
            } else {
                if (!e.is_string())
                    fail(key, "expected a string \"left right\" like every other entry, got " +
                                  json_brief(e));
                const std::string& s = e.get_ref<const std::string&>();
                if (s.starts_with("#version")) continue;
                const std::size_t space = s.find(' ');
                if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos)
                    fail(key, "expected two tokens separated by one space, got " + json_brief(e));
                a = s.substr(0, space);
                b = s.substr(space + 1);
            }
            const std::int32_t left = vocab_id(a, key);
            const std::int32_t right = vocab_id(b, key);
            const std::int32_t merged = vocab_id(a + b, key);
            bpe.merges.insert(left, right, {rank++, merged});
        }
        bpe.merge_count = rank;
    }

    // --- normalizer ------------------------------------------------------------------------

    void parse_normalizer(const json& n, const std::string& key, int depth = 0) {
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
            describe_normalizer("Replace(" + json_quote(pattern) + " → " + json_quote(content) +
                                ")");
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

    void describe_normalizer(const std::string& step) {
        if (!normalizer_description_.empty()) normalizer_description_ += " + ";
        normalizer_description_ += step;
    }

    std::string string_at(const json& obj, const std::string& key, std::string_view name) const {
        const json* v = find(obj, name);
        if (v == nullptr || !v->is_string())
            fail(key + "." + std::string(name),
                 "expected a string, got " +
                     (v == nullptr ? std::string("nothing") : json_brief(*v)));
        std::string text = v->get<std::string>();
        std::string repaired;
        if (repair_utf8(text, repaired).size() != text.size() || !repaired.empty())
            fail(key + "." + std::string(name), "expected valid UTF-8");
        return text;
    }

    // A Replace normalizer or decoder: {"pattern": {"String": P}, "content": C}, P not empty.
    std::pair<std::string, std::string> replace_step(const json& r, const std::string& key) const {
        const json* pattern = find(r, "pattern");
        if (pattern == nullptr || !pattern->is_object() || pattern->size() != 1 ||
            !pattern->contains("String") || !pattern->begin()->is_string())
            fail(key + ".pattern",
                 "expected {\"String\": \"...\"} (a Regex pattern is not supported)");
        std::string text = string_at(*pattern, key + ".pattern", "String");
        if (text.empty()) fail(key + ".pattern.String", "expected a non-empty string");
        return {std::move(text), string_at(r, key, "content")};
    }

    // The one character of a Metaspace `replacement`.
    std::string metaspace_replacement(const json& p, const std::string& key) const {
        const std::string r = string_at(p, key, "replacement");
        std::size_t i = 0;
        if (r.empty() || (next_code_point(r, i), i != r.size()))
            fail(key + ".replacement", "expected one character, got " + json_quote(r));
        return r;
    }

    // Metaspace's prepend_scheme, or the older add_prefix_space (true: always, false: never).
    PreTokenizerStage::Prepend prepend_scheme(const json& p, const std::string& key) const {
        if (const json* v = find(p, "prepend_scheme")) {
            const std::string s = v->is_string() ? v->get<std::string>() : "";
            if (s == "always") return PreTokenizerStage::Prepend::Always;
            if (s == "first") return PreTokenizerStage::Prepend::First;
            if (s == "never") return PreTokenizerStage::Prepend::Never;
            fail(key + ".prepend_scheme",
                 json_brief(*v) +
                     " is not supported (expected \"always\", \"first\" or \"never\")");
        }
        return flag(p, key, "add_prefix_space", true) ? PreTokenizerStage::Prepend::Always
                                                      : PreTokenizerStage::Prepend::Never;
    }

    // --- pre-tokenizer ---------------------------------------------------------------------

    int add_regex(std::string_view text, bool literal, const std::string& key) {
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

    void pre_tokenizer_step(const json& p, const std::string& key, int depth = 0) {
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
            describe("Split(" + (literal ? "literal " + json_quote(text) : pattern_name(text)) +
                     ")");
            m_.stages.push_back(std::move(s));
        } else {
            fail(key + ".type",
                 json_quote(type) +
                     " is not supported (expected ByteLevel, Split, Metaspace, Sequence)");
        }
    }

    void describe(const std::string& step) {
        if (!pre_description_.empty()) pre_description_ += " + ";
        pre_description_ += step;
    }

    // A byte-level file has exactly one ByteLevel step, the last; a SentencePiece-style file
    // none (null, Metaspace, Split).
    void parse_pre_tokenizer(const json& root) {
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

    void parse_decoder(const json& root) {
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

    void decoder_step(const json& d, const std::string& key, std::string_view steps) {
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

    // --- added tokens ----------------------------------------------------------------------

    void parse_added_tokens(const json& list) {
        if (!list.is_array()) fail("added_tokens", "expected a list, got " + json_brief(list));
        const auto vocab_entries = static_cast<std::int64_t>(m_.bpe.vocab.size());
        std::int64_t max_added = -1;
        std::map<std::string, std::size_t, std::less<>> seen;
        for (std::size_t i = 0; i < list.size(); ++i) {
            const std::string key = "added_tokens[" + std::to_string(i) + "]";
            const json& e = object_at(list[i], key);
            AddedToken t;
            const json* content = find(e, "content");
            if (content == nullptr || !content->is_string())
                fail(key + ".content", "expected a string");
            t.content = content->get<std::string>();
            if (t.content.empty()) continue; // HF ignores empty added tokens
            const json* id = find(e, "id");
            if (id == nullptr) fail(key + ".id", "is required");
            t.id = token_id(*id, key + ".id");
            t.special = flag(e, key, "special", std::nullopt);
            t.single_word = flag(e, key, "single_word", std::nullopt);
            t.lstrip = flag(e, key, "lstrip", std::nullopt);
            t.rstrip = flag(e, key, "rstrip", std::nullopt);
            t.normalized = flag(e, key, "normalized", std::nullopt);
            std::string repaired;
            if (repair_utf8(t.content, repaired).size() != t.content.size() || !repaired.empty())
                fail(key + ".content", "expected valid UTF-8");
            if (const auto it = seen.find(t.content); it != seen.end())
                fail(key + ".content", json_quote(t.content) + " is already added_tokens[" +
                                           std::to_string(it->second) +
                                           "] (expected each token once)");
            seen.emplace(t.content, i);

            // The id HF gives it (AddedVocabulary::add_tokens): its vocabulary id, else the next
            // free one after the vocabulary. HF ignores the file's id; we refuse a different one.
            std::int64_t expected = 0;
            const auto in_vocab = m_.bpe.vocab.find(t.content);
            if (in_vocab != m_.bpe.vocab.end()) {
                expected = in_vocab->second;
            } else if (max_added < 0) {
                expected = vocab_entries;
            } else {
                expected = max_added >= vocab_entries || vocab_entries == 0 ? max_added + 1
                                                                            : vocab_entries;
            }
            if (expected != t.id)
                fail(key + ".id",
                     std::to_string(t.id) + " differs from the id HF tokenizers gives " +
                         json_quote(t.content) + " (" + std::to_string(expected) + ")");
            if (const auto other = by_id_.find(t.id);
                in_vocab == m_.bpe.vocab.end() && other != by_id_.end())
                fail(key + ".id", std::to_string(t.id) + " is also the id of model.vocab token " +
                                      json_quote(*other->second));
            max_added = std::max<std::int64_t>(max_added, t.id);
            m_.added_ids.emplace(t.content, t.id);
            m_.added.push_back(std::move(t));
        }
    }

    // --- tables ----------------------------------------------------------------------------

    std::string sp_token_bytes(const std::string& token) const {
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

    void finish() {
        TokenizerModel& m = m_;
        build_lookups();
        // HF's tries hold the special tokens first, then the others, each in file order.
        std::string normalized, scratch;
        for (const bool special : {true, false}) {
            for (std::size_t i = 0; i < m.added.size(); ++i) {
                const AddedToken& t = m.added[i];
                if (t.special != special) continue;
                if (!t.normalized) {
                    m.raw_matcher.add(t.content, static_cast<int>(i));
                } else {
                    // HF matches a normalized token by its normalised content.
                    m.normalized_matcher.add(m.normalize(t.content, normalized, scratch),
                                             static_cast<int>(i));
                }
            }
        }

        std::int32_t max_id = -1;
        for (const auto& [token, id] : m.bpe.vocab) max_id = std::max(max_id, id);
        for (const AddedToken& t : m.added) max_id = std::max(max_id, t.id);
        m.vocab_size = max_id + 1;
        const auto n = static_cast<std::size_t>(m.vocab_size);
        m.id_entry.assign(n, TokenizerModel::kNoToken);
        m.tokens.reserve(m.bpe.vocab.size() + m.added.size());
        std::unordered_map<std::string_view, bool> special;
        for (const AddedToken& t : m.added)
            if (t.special) special.emplace(t.content, true);
        const auto set = [&](std::int32_t id, const std::string& token) {
            TokenizerModel::TokenEntry e;
            e.token = token;
            // HF's ByteLevel decoder: a token made only of byte characters gives those bytes,
            // any other token its own UTF-8. SentencePiece style: what the decoder makes of the
            // token alone, without the steps that look at its neighbours (Strip, the first
            // token's Metaspace), so that pieces decode to the bytes of the whole.
            if (!m.byte_level)
                e.bytes = sp_token_bytes(token);
            else if (!byte_level_to_bytes(token, e.bytes))
                e.bytes = token;
            e.special = special.contains(token);
            auto& slot = m.id_entry[static_cast<std::size_t>(id)];
            if (slot == TokenizerModel::kNoToken) {
                slot = static_cast<std::uint32_t>(m.tokens.size());
                m.tokens.push_back(std::move(e));
            } else {
                m.tokens[slot] = std::move(e);
            }
        };
        for (const auto& [token, id] : m.bpe.vocab) set(id, token);
        for (const AddedToken& t : m.added) set(t.id, t.content); // an added token wins, as in HF

        bool ok = std::all_of(m.bpe.byte_ids.begin(), m.bpe.byte_ids.end(),
                              [](std::int32_t id) { return id >= 0; });
        for (const PreTokenizerStage& s : m.stages) ok = ok && !s.add_prefix_space;
        for (const AddedToken& t : m.added) {
            ok = ok && !t.lstrip && !t.rstrip && m.entry(t.id)->bytes == t.content;
            if (t.normalized) ok = ok && m.normalize(t.content, normalized, scratch) == t.content;
        }
        // SentencePiece style never promises it: a "▁" in the text decodes to a space, and the
        // Strip decoder takes the space after a leading added token.
        m.round_trips = ok && m.byte_level;

        std::vector<std::string> specials;
        for (const AddedToken& t : m.added)
            if (t.special) specials.push_back(t.content);
        std::string s =
            "BPE, vocab " + std::to_string(m.vocab_size) + " (" +
            std::to_string(m.bpe.vocab.size()) + " tokens + " + std::to_string(m.added.size()) +
            " added), " + std::to_string(m.bpe.merge_count) + " merges" +
            (m.bpe.ignore_merges ? ", ignore_merges" : "") +
            (m.bpe.byte_fallback ? ", byte_fallback" : "") + "; pre-tokenizer " + pre_description_ +
            "; normalizer " + (normalizer_description_.empty() ? "none" : normalizer_description_) +
            "; " + std::to_string(specials.size()) + " special tokens";
        for (std::size_t i = 0; i < specials.size() && i < 4; ++i)
            s += (i == 0 ? ": " : " ") + specials[i];
        if (specials.size() > 4) s += " ...";
        if (!m.post.description.empty()) s += "; post-processor " + m.post.description;
        m.summary = s;
        for (const std::int32_t id : m.post.prefix)
            if (!m.entry(id))
                fail("post_processor", "names id " + std::to_string(id) + ", which is no token");
        for (const std::int32_t id : m.post.suffix)
            if (!m.entry(id))
                fail("post_processor", "names id " + std::to_string(id) + ", which is no token");
    }

    const std::string& label_;
    TokenizerModel& m_;
    int byte_level_steps_ = 0;
    int metaspace_steps_ = 0;
    std::string normalizer_description_;
    std::unordered_map<std::int32_t, const std::string*> by_id_; // vocab id → token
    std::string pre_description_;
};

} // namespace

std::shared_ptr<TokenizerModel> parse_tokenizer_json(std::string_view text,
                                                     const std::string& label) {
    json root;
    try {
        root = json::parse(text.begin(), text.end());
    } catch (const json::parse_error& e) {
        std::size_t line = 1;
        for (std::size_t i = 0; i < text.size() && i + 1 < e.byte; ++i)
            if (text[i] == '\n') ++line;
        throw InputError(label, "line " + std::to_string(line),
                         "expected valid JSON (" + std::string(e.what()).substr(0, 160) + ")");
    } catch (const json::exception& e) { // a number out of range (1e999) is not a parse_error
        throw InputError(label, "",
                         "expected valid JSON (" + std::string(e.what()).substr(0, 160) + ")");
    }
    auto model = std::make_shared<TokenizerModel>();
    model->label = label;
    Parser(label, *model).run(root);
    return model;
}

} // namespace bcd::tokenizer_detail

#pragma once
// The tokenizer.json parser (docs/tokenizer.md): one class whose parts live by concern in
// tokenizer_json.cpp (model, merges, added tokens, tables), tokenizer_json_text.cpp (normalizer
// and pre-tokenizer) and tokenizer_json_decoder.cpp (decoder). Internal to bcd_tokenizer.

#include "bcd/errors.h"
#include "core/json_reader.h"
#include "tokenizer/tokenizer_model.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace bcd::tokenizer_detail {

using nlohmann::json;

// Ids above this are refused: the decode tables are dense (real vocabularies hold < 300k).
inline constexpr std::int64_t kMaxTokenId = (std::int64_t{1} << 22) - 1;
// Sequences within Sequences: real files have one level; the limit keeps the recursion bounded.
inline constexpr int kMaxNesting = 8;

inline std::string json_quote(std::string_view s) {
    return json(std::string(s)).dump();
}

class TokenizerJsonParser {
public:
    TokenizerJsonParser(const std::string& label, TokenizerModel& m) : label_(label), m_(m) {}

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

    void parse_model(const json& model);

    // The lookup tables of the BPE model, once the pre-tokenizer has said which kind it is.
    void build_lookups();

    std::int32_t vocab_id(const std::string& token, const std::string& key) const;

    void parse_merges(const json& model);

    // --- normalizer ------------------------------------------------------------------------

    void parse_normalizer(const json& n, const std::string& key, int depth = 0);

    void describe_normalizer(const std::string& step);

    std::string string_at(const json& obj, const std::string& key, std::string_view name) const;

    // A Replace normalizer or decoder: {"pattern": {"String": P}, "content": C}, P not empty.
    std::pair<std::string, std::string> replace_step(const json& r, const std::string& key) const;

    // The one character of a Metaspace `replacement`.
    std::string metaspace_replacement(const json& p, const std::string& key) const;

    // Metaspace's prepend_scheme, or the older add_prefix_space (true: always, false: never).
    PreTokenizerStage::Prepend prepend_scheme(const json& p, const std::string& key) const;

    // --- pre-tokenizer ---------------------------------------------------------------------

    int add_regex(std::string_view text, bool literal, const std::string& key);

    void pre_tokenizer_step(const json& p, const std::string& key, int depth = 0);

    void describe(const std::string& step);

    // A byte-level file has exactly one ByteLevel step, the last; a SentencePiece-style file
    // none (null, Metaspace, Split).
    void parse_pre_tokenizer(const json& root);

    void parse_decoder(const json& root);

    void decoder_step(const json& d, const std::string& key, std::string_view steps);

    // --- added tokens ----------------------------------------------------------------------

    void parse_added_tokens(const json& list);

    // --- tables ----------------------------------------------------------------------------

    std::string sp_token_bytes(const std::string& token) const;

    void finish();

    const std::string& label_;
    TokenizerModel& m_;
    int byte_level_steps_ = 0;
    int metaspace_steps_ = 0;
    std::string normalizer_description_;
    std::unordered_map<std::int32_t, const std::string*> by_id_; // vocab id → token
    std::string pre_description_;
};

} // namespace bcd::tokenizer_detail

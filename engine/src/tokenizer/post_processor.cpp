// tokenizer.json's post_processor: what HF adds around a single sequence (docs/tokenizer.md).

#include "tokenizer/post_processor.h"

#include "bcd/errors.h"

#include <nlohmann/json.hpp>

namespace bcd::tokenizer_detail {

namespace {

using nlohmann::json;

std::int32_t token_id(const json& v, const std::string& label, const std::string& key) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > INT32_MAX)
        throw InputError(label, key, "expected a token id (an integer ≥ 0)");
    return static_cast<std::int32_t>(v.get<std::int64_t>());
}

// BertProcessing / RobertaProcessing: "cls": [token, id], "sep": [token, id]; one sequence is
// cls A sep.
void cls_sep(const json& p, const std::string& label, const std::string& key, PostTemplate& t) {
    for (const char* k : {"cls", "sep"}) {
        const auto it = p.find(k);
        if (it == p.end() || !it->is_array() || it->size() != 2 || !(*it)[0].is_string())
            throw InputError(label, key + "." + k, "expected [token, id]");
        const std::int32_t id = token_id((*it)[1], label, key + "." + k + "[1]");
        if (std::string(k) == "cls")
            t.prefix.push_back(id);
        else
            t.suffix.push_back(id);
    }
}

void template_processing(const json& p, const std::string& label, const std::string& key,
                         PostTemplate& t) {
    const auto single = p.find("single");
    if (single == p.end() || !single->is_array())
        throw InputError(label, key + ".single", "expected a list of template pieces");
    const auto specials = p.find("special_tokens");
    bool seen_a = false;
    for (std::size_t i = 0; i < single->size(); ++i) {
        const json& piece = (*single)[i];
        const std::string k = key + ".single[" + std::to_string(i) + "]";
        if (piece.is_object() && piece.contains("Sequence")) {
            const json& s = piece["Sequence"];
            if (!s.is_object() || !s.contains("id") || s["id"] != "A" || seen_a)
                throw InputError(label, k + ".Sequence",
                                 "expected the sequence \"A\", once (a single sequence)");
            seen_a = true;
            continue;
        }
        if (!piece.is_object() || !piece.contains("SpecialToken") ||
            !piece["SpecialToken"].is_object() || !piece["SpecialToken"].contains("id") ||
            !piece["SpecialToken"]["id"].is_string())
            throw InputError(label, k,
                             "expected {\"Sequence\": {\"id\": \"A\"}} or {\"SpecialToken\": "
                             "{\"id\": NAME}}");
        const std::string name = piece["SpecialToken"]["id"];
        if (specials == p.end() || !specials->is_object() || !specials->contains(name))
            throw InputError(label, key + ".special_tokens",
                             "has no entry \"" + name + "\" (named by " + k + ")");
        const json& entry = (*specials)[name];
        if (!entry.is_object() || !entry.contains("ids") || !entry["ids"].is_array())
            throw InputError(label, key + ".special_tokens." + name, "expected {\"ids\": [...]}");
        for (std::size_t j = 0; j < entry["ids"].size(); ++j) {
            const std::int32_t id =
                token_id(entry["ids"][j], label,
                         key + ".special_tokens." + name + ".ids[" + std::to_string(j) + "]");
            (seen_a ? t.suffix : t.prefix).push_back(id);
        }
    }
    if (!seen_a)
        throw InputError(label, key + ".single",
                         "expected the sequence {\"Sequence\": {\"id\": \"A\"}}");
}

void parse(const json& p, const std::string& label, const std::string& key, PostTemplate& t) {
    if (p.is_null()) return;
    if (!p.is_object() || !p.contains("type") || !p["type"].is_string())
        throw InputError(label, key, "expected an object with a string \"type\"");
    const std::string type = p["type"];
    if (type == "ByteLevel") return; // offsets only
    if (type == "TemplateProcessing") {
        template_processing(p, label, key, t);
    } else if (type == "BertProcessing" || type == "RobertaProcessing") {
        cls_sep(p, label, key, t);
    } else if (type == "Sequence") {
        const auto list = p.find("processors");
        if (list == p.end() || !list->is_array())
            throw InputError(label, key + ".processors", "expected a list of post-processors");
        for (std::size_t i = 0; i < list->size(); ++i) {
            PostTemplate inner;
            parse((*list)[i], label, key + ".processors[" + std::to_string(i) + "]", inner);
            // HF applies them in turn: a later one wraps what the earlier ones made.
            t.prefix.insert(t.prefix.begin(), inner.prefix.begin(), inner.prefix.end());
            t.suffix.insert(t.suffix.end(), inner.suffix.begin(), inner.suffix.end());
        }
    } else {
        throw InputError(label, key + ".type",
                         "\"" + type +
                             "\" is not supported (expected TemplateProcessing, ByteLevel, "
                             "BertProcessing, RobertaProcessing or Sequence)");
    }
}

} // namespace

PostTemplate parse_post_processor(const json& p, const std::string& label) {
    PostTemplate t;
    parse(p, label, "post_processor", t);
    if (!t.prefix.empty() || !t.suffix.empty())
        t.description = std::to_string(t.prefix.size()) + " id(s) before, " +
                        std::to_string(t.suffix.size()) + " after a sequence";
    return t;
}

} // namespace bcd::tokenizer_detail

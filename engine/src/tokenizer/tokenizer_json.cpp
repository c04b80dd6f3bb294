// tokenizer.json → TokenizerModel: validation of every supported key and a refusal, by name, of
// everything else (docs/tokenizer.md lists both). This file: the top level, the BPE model and its
// merges, added tokens and the decode tables; the normalizer and pre-tokenizer are in
// tokenizer_json_text.cpp, the decoder in tokenizer_json_decoder.cpp.

#include "tokenizer/post_processor.h"
#include "tokenizer/tokenizer_json_parser.h"
#include "tokenizer/utf8_text.h"

#include <algorithm>
#include <map>

namespace bcd::tokenizer_detail {

void TokenizerJsonParser::parse_model(const json& model) {
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
                 "id " + std::to_string(id) + " is also the id of " + json_quote(*other->second) +
                     " (expected one token per id)");
    }
    if (const json* unk = find(model, "unk_token")) {
        if (!unk->is_string())
            fail("model.unk_token", "expected a string or null, got " + json_brief(*unk));
        const auto it = bpe.vocab.find(unk->get<std::string>());
        if (it == bpe.vocab.end())
            fail("model.unk_token", json_quote(unk->get<std::string>()) + " is not in model.vocab");
        bpe.unk_id = it->second;
    }
    parse_merges(model);
}

void TokenizerJsonParser::build_lookups() {
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
            bpe.fallback_ids[static_cast<std::size_t>(b)] = it == bpe.vocab.end() ? -1 : it->second;
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
        const auto it = bpe.vocab.find(bytes_to_byte_level(std::string(1, static_cast<char>(b))));
        bpe.byte_ids[static_cast<std::size_t>(b)] = it == bpe.vocab.end() ? -1 : it->second;
    }
    std::string bytes;
    for (const auto& [token, id] : bpe.vocab)
        if (byte_level_to_bytes(token, bytes))
            bpe.raw_vocab.insert(bytes, BytesMap::hash(bytes), static_cast<std::uint64_t>(id));
}

std::int32_t TokenizerJsonParser::vocab_id(const std::string& token, const std::string& key) const {
    const auto it = m_.bpe.vocab.find(token);
    if (it == m_.bpe.vocab.end()) fail(key, json_quote(token) + " is not in model.vocab");
    return it->second;
}

void TokenizerJsonParser::parse_merges(const json& model) {
    const json* merges = find(model, "merges");
    if (merges == nullptr) fail("model.merges", "is required (a list of merges)");
    if (!merges->is_array()) fail("model.merges", "expected a list, got " + json_brief(*merges));
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

void TokenizerJsonParser::parse_added_tokens(const json& list) {
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
                                       std::to_string(it->second) + "] (expected each token once)");
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
            expected =
                max_added >= vocab_entries || vocab_entries == 0 ? max_added + 1 : vocab_entries;
        }
        if (expected != t.id)
            fail(key + ".id", std::to_string(t.id) + " differs from the id HF tokenizers gives " +
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

void TokenizerJsonParser::finish() {
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
        "BPE, vocab " + std::to_string(m.vocab_size) + " (" + std::to_string(m.bpe.vocab.size()) +
        " tokens + " + std::to_string(m.added.size()) + " added), " +
        std::to_string(m.bpe.merge_count) + " merges" +
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
    TokenizerJsonParser(label, *model).run(root);
    return model;
}

} // namespace bcd::tokenizer_detail

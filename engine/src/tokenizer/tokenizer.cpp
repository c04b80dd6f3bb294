// bcd::Tokenizer: the encode pipeline of HF tokenizers for BPE files — added tokens on the raw
// text, the normaliser, added tokens on the normalised text, the pre-tokenizer stages, BPE per
// pre-token — and the decoders (ByteLevel; SentencePiece style's Replace / ByteFallback / Fuse /
// Strip / Metaspace chain).

#include "bcd/tokenizer.h"

#include "bcd/errors.h"
#include "tokenizer/tokenizer_model.h"
#include "tokenizer/utf8_text.h"

#include <exception>
#include <fstream>
#include <omp.h>
#include <sstream>

namespace bcd {

namespace tokenizer_detail {

EncodeState::EncodeState(const TokenizerModel& model) : prefixed(model.stages.size()) {
    matchers.reserve(model.regexes.size());
    for (const auto& re : model.regexes) matchers.push_back(std::make_unique<RegexMatcher>(*re));
}

std::unique_ptr<EncodeState> TokenizerModel::acquire() const {
    {
        const std::lock_guard lock(pool_mutex);
        if (!pool.empty()) {
            auto s = std::move(pool.back());
            pool.pop_back();
            return s;
        }
    }
    return std::make_unique<EncodeState>(*this);
}

void TokenizerModel::release(std::unique_ptr<EncodeState> s) const {
    const std::lock_guard lock(pool_mutex);
    pool.push_back(std::move(s));
}

void TokenizerModel::encode(std::string_view text, EncodeState& st,
                            std::vector<std::int32_t>& out) const {
    const std::string_view t = repair_utf8(text, st.repaired);
    const auto to_bpe = [&](std::string_view piece) { bpe_piece(piece, st, out); };
    // at_start: the segment begins at offset 0 of the text (HF's offsets_original().0 == 0).
    const auto segment = [&](std::string_view seg, bool at_start) {
        if (seg.empty()) return;
        if (!normalizer.empty()) seg = normalize(seg, st.normalized, st.normalize_scratch);
        if (normalized_matcher.empty()) {
            pre_tokenize(0, seg, at_start, st, to_bpe);
            return;
        }
        normalized_matcher.split(seg, added, st.normalized_splits);
        for (const AddedSplit& s : st.normalized_splits) {
            if (s.token >= 0)
                out.push_back(added[static_cast<std::size_t>(s.token)].id);
            else
                pre_tokenize(0, seg.substr(s.begin, s.end - s.begin), at_start && s.begin == 0, st,
                             to_bpe);
        }
    };
    if (raw_matcher.empty()) {
        segment(t, true);
        return;
    }
    raw_matcher.split(t, added, st.raw_splits);
    for (const AddedSplit& s : st.raw_splits) {
        if (s.token >= 0)
            out.push_back(added[static_cast<std::size_t>(s.token)].id);
        else
            segment(t.substr(s.begin, s.end - s.begin), s.begin == 0);
    }
}

std::string_view TokenizerModel::normalize(std::string_view text, std::string& out,
                                           std::string& scratch) const {
    std::string_view v = text;
    for (const NormalizerStep& n : normalizer) {
        switch (n.kind) {
        case NormalizerStep::Kind::Nfc:
            tokenizer_detail::nfc(v, scratch);
            break;
        case NormalizerStep::Kind::Prepend:
            if (v.empty()) continue; // HF prepends to non-empty text only
            scratch.assign(n.text);
            scratch.append(v);
            break;
        case NormalizerStep::Kind::Replace:
            if (v.find(n.text) == std::string_view::npos) continue;
            scratch = replace_all(v, n.text, n.replacement);
            break;
        }
        out.swap(scratch);
        v = out;
    }
    return v;
}

std::string TokenizerModel::decode_chain(std::span<const std::int32_t> ids,
                                         bool skip_special_tokens) const {
    // HF's Decoder::decode: every step maps the list of token strings, then they are joined.
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (const std::int32_t id : ids) {
        const TokenEntry* e = entry(id);
        if (e == nullptr || (skip_special_tokens && e->special)) continue;
        tokens.push_back(e->token);
    }
    const std::string fffd = "\xEF\xBF\xBD";
    for (const DecoderStep& d : decoder) {
        switch (d.kind) {
        case DecoderStep::Kind::Replace:
            for (std::string& t : tokens) t = replace_all(t, d.text, d.replacement);
            break;
        case DecoderStep::Kind::ByteFallback: {
            // A run of <0xNN> tokens is one string when its bytes are valid UTF-8, else one
            // U+FFFD per byte.
            std::vector<std::string> next;
            std::string run;
            const auto flush = [&] {
                if (run.empty()) return;
                std::string repaired;
                if (repair_utf8(run, repaired).size() == run.size() && repaired.empty())
                    next.push_back(run);
                else
                    for (std::size_t i = 0; i < run.size(); ++i) next.push_back(fffd);
                run.clear();
            };
            for (std::string& t : tokens) {
                if (const int b = fallback_byte(t); b >= 0) {
                    run += static_cast<char>(b);
                } else {
                    flush();
                    next.push_back(std::move(t));
                }
            }
            flush();
            tokens.swap(next);
            break;
        }
        case DecoderStep::Kind::Fuse: {
            std::string all;
            for (const std::string& t : tokens) all += t;
            tokens.assign(1, std::move(all));
            break;
        }
        case DecoderStep::Kind::Strip:
            for (std::string& t : tokens) {
                std::vector<std::size_t> starts; // byte offset of every character
                for (std::size_t i = 0; i < t.size();) {
                    starts.push_back(i);
                    next_code_point(t, i);
                }
                const std::size_t n = starts.size();
                const auto is_content = [&](std::size_t c) {
                    const std::size_t end = c + 1 < n ? starts[c + 1] : t.size();
                    return std::string_view(t).substr(starts[c], end - starts[c]) == d.text;
                };
                std::size_t first = 0, last = n;
                while (first < std::min(d.start, n) && is_content(first)) ++first;
                for (std::size_t k = 0; k < d.stop && last > 0 && is_content(last - 1); ++k) --last;
                if (last < first) last = first; // HF would panic; keep what is left empty
                const std::size_t b = first < n ? starts[first] : t.size();
                const std::size_t e = last < n ? starts[last] : t.size();
                t = t.substr(b, e - b);
            }
            break;
        case DecoderStep::Kind::Metaspace:
            for (std::size_t i = 0; i < tokens.size(); ++i)
                tokens[i] = replace_all(tokens[i], d.text, i == 0 && d.strip_first ? "" : " ");
            break;
        }
    }
    std::string out;
    for (const std::string& t : tokens) out += t;
    return out;
}

template <class Sink>
void TokenizerModel::pre_tokenize(std::size_t stage, std::string_view piece, bool at_start,
                                  EncodeState& st, Sink& sink) const {
    if (piece.empty()) return;
    if (stage == stages.size()) {
        sink(piece);
        return;
    }
    const PreTokenizerStage& s = stages[stage];
    if (s.metaspace) {
        std::string& buffer = st.prefixed[stage];
        buffer.clear();
        const bool prepend = s.prepend == PreTokenizerStage::Prepend::Always ||
                             (s.prepend == PreTokenizerStage::Prepend::First && at_start);
        if (prepend && piece[0] != ' ' && !piece.starts_with(s.replacement)) buffer = s.replacement;
        std::size_t from = 0;
        for (std::size_t sp; (sp = piece.find(' ', from)) != std::string_view::npos;
             from = sp + 1) {
            buffer.append(piece.substr(from, sp - from));
            buffer += s.replacement;
        }
        buffer.append(piece.substr(from));
        const std::string_view text = buffer;
        if (!s.metaspace_split) {
            pre_tokenize(stage + 1, text, at_start, st, sink);
            return;
        }
        // MergedWithNext: a new piece starts at every replacement but the first character.
        std::size_t begin = 0;
        for (std::size_t at = text.find(s.replacement, 1); at != std::string_view::npos;
             at = text.find(s.replacement, at + 1)) {
            pre_tokenize(stage + 1, text.substr(begin, at - begin), at_start && begin == 0, st,
                         sink);
            begin = at;
        }
        pre_tokenize(stage + 1, text.substr(begin), at_start && begin == 0, st, sink);
        return;
    }
    if (s.add_prefix_space && piece[0] != ' ') {
        std::string& buffer = st.prefixed[stage];
        buffer.assign(1, ' ');
        buffer += piece;
        piece = buffer;
    }
    if (s.regex < 0) {
        pre_tokenize(stage + 1, piece, at_start, st, sink);
        return;
    }
    st.error.clear();
    const bool ok = split_isolated(
        *st.matchers[static_cast<std::size_t>(s.regex)], piece, st.error,
        [&](std::string_view sub) {
            pre_tokenize(stage + 1, sub, at_start && sub.data() == piece.data(), st, sink);
        });
    if (!ok)
        throw InputError(label, s.key,
                         "matching the pattern failed on a " + std::to_string(piece.size()) +
                             "-byte piece of text: " + st.error);
}

void TokenizerModel::bpe_piece(std::string_view piece, EncodeState& st,
                               std::vector<std::int32_t>& out) const {
    if (!bpe_by_word) {
        bpe_word(piece, st, out);
        return;
    }
    // Words: a run of "▁" and what follows it up to the next "▁".
    constexpr std::string_view kMeta = "\xE2\x96\x81";
    std::size_t begin = 0;
    for (std::size_t at = piece.find(kMeta, 1); at != std::string_view::npos;
         at = piece.find(kMeta, at + 1)) {
        if (at >= kMeta.size() && piece.substr(at - kMeta.size(), kMeta.size()) == kMeta) continue;
        bpe_word(piece.substr(begin, at - begin), st, out);
        begin = at;
    }
    bpe_word(piece.substr(begin), st, out);
}

void TokenizerModel::bpe_word(std::string_view piece, EncodeState& st,
                              std::vector<std::int32_t>& out) const {
    if (piece.size() < 2 || piece.size() > EncodeState::kCacheMaxPiece) {
        bpe.tokenize(piece, st.bpe, out);
        return;
    }
    const std::uint64_t h = tokenizer_detail::BytesMap::hash(piece);
    if (const std::uint64_t* span = st.cache.find(piece, h)) {
        const auto* ids = st.cache_ids.data() + (*span >> 32);
        out.insert(out.end(), ids, ids + (*span & 0xFFFFFFFFu));
        return;
    }
    const std::size_t before = out.size();
    bpe.tokenize(piece, st.bpe, out);
    if (st.cache.size() >= EncodeState::kCacheEntries) {
        st.cache.clear();
        st.cache_ids.clear();
    }
    const std::uint64_t span =
        (static_cast<std::uint64_t>(st.cache_ids.size()) << 32) | (out.size() - before);
    st.cache_ids.insert(st.cache_ids.end(), out.begin() + static_cast<std::ptrdiff_t>(before),
                        out.end());
    st.cache.insert(piece, h, span);
}

} // namespace tokenizer_detail

using tokenizer_detail::EncodeState;
using tokenizer_detail::TokenizerModel;

namespace {

// Gives a pooled EncodeState back when the call ends, however it ends.
class PooledState {
public:
    explicit PooledState(const TokenizerModel& m) : m_(m), s_(m.acquire()) {}
    ~PooledState() { m_.release(std::move(s_)); }
    PooledState(const PooledState&) = delete;
    PooledState& operator=(const PooledState&) = delete;
    EncodeState& operator*() { return *s_; }

private:
    const TokenizerModel& m_;
    std::unique_ptr<EncodeState> s_;
};

} // namespace

Tokenizer::Tokenizer(std::shared_ptr<const TokenizerModel> model) : m_(std::move(model)) {}

Tokenizer Tokenizer::load(const std::filesystem::path& tokenizer_json) {
    std::error_code ec;
    if (std::filesystem::is_directory(tokenizer_json, ec))
        throw InputError(tokenizer_json.string(), "",
                         "is a folder (expected a tokenizer.json file)");
    std::ifstream in(tokenizer_json, std::ios::binary);
    if (!in)
        throw InputError(tokenizer_json.string(), "",
                         "cannot open the file (expected a tokenizer.json)");
    std::stringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw InputError(tokenizer_json.string(), "", "cannot read the file");
    return parse(ss.str(), tokenizer_json.string());
}

Tokenizer Tokenizer::parse(std::string_view json_text, std::string label) {
    return Tokenizer(tokenizer_detail::parse_tokenizer_json(json_text, label));
}

void Tokenizer::encode_append(std::string_view text, std::vector<std::int32_t>& out) const {
    PooledState st(*m_);
    m_->encode(text, *st, out);
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text) const {
    std::vector<std::int32_t> out;
    out.reserve(text.size() / 3 + 4);
    encode_append(text, out);
    return out;
}

std::vector<std::vector<std::int32_t>>
Tokenizer::encode_batch(std::span<const std::string_view> texts, int threads) const {
    std::vector<std::vector<std::int32_t>> out(texts.size());
    if (texts.empty()) return out;
    const int n = threads > 0 ? threads : omp_get_max_threads();
    std::exception_ptr error;
    const auto count = static_cast<std::ptrdiff_t>(texts.size());
#pragma omp parallel num_threads(n)
    {
        try {
            PooledState st(*m_);
            // Encoded into a buffer of this thread and copied once: push_back into out[i] would
            // write its end pointer next to the neighbours' ones, which other threads fill.
            std::vector<std::int32_t> ids;
#pragma omp for schedule(dynamic, 1)
            for (std::ptrdiff_t i = 0; i < count; ++i) {
                try {
                    ids.clear();
                    m_->encode(texts[static_cast<std::size_t>(i)], *st, ids);
                    out[static_cast<std::size_t>(i)].assign(ids.begin(), ids.end());
                } catch (...) {
#pragma omp critical(bcd_tokenizer_error)
                    if (!error) error = std::current_exception();
                }
            }
        } catch (...) {
#pragma omp critical(bcd_tokenizer_error)
            if (!error) error = std::current_exception();
        }
    }
    if (error) std::rethrow_exception(error);
    return out;
}

std::string Tokenizer::decode_bytes(std::span<const std::int32_t> ids,
                                    bool skip_special_tokens) const {
    std::string out;
    for (const std::int32_t id : ids) {
        const TokenizerModel::TokenEntry* e = m_->entry(id);
        if (e == nullptr || (skip_special_tokens && e->special)) continue;
        out += e->bytes;
    }
    return out;
}

std::string Tokenizer::decode(std::span<const std::int32_t> ids, bool skip_special_tokens) const {
    if (!m_->byte_level) return m_->decode_chain(ids, skip_special_tokens);
    std::string bytes = decode_bytes(ids, skip_special_tokens);
    std::string repaired;
    const std::string_view v = tokenizer_detail::repair_utf8(bytes, repaired);
    if (v.data() == bytes.data()) return bytes;
    return repaired;
}

int Tokenizer::vocab_size() const {
    return m_->vocab_size;
}

std::optional<std::int32_t> Tokenizer::token_id(std::string_view token) const {
    if (const auto it = m_->added_ids.find(token); it != m_->added_ids.end()) return it->second;
    if (const auto it = m_->bpe.vocab.find(token); it != m_->bpe.vocab.end()) return it->second;
    return std::nullopt;
}

std::optional<std::string> Tokenizer::token(std::int32_t id) const {
    const TokenizerModel::TokenEntry* e = m_->entry(id);
    if (e == nullptr) return std::nullopt;
    return e->token;
}

std::vector<std::string> Tokenizer::special_tokens() const {
    std::vector<std::string> out;
    for (const AddedToken& t : m_->added)
        if (t.special) out.push_back(t.content);
    return out;
}

const std::vector<std::int32_t>& Tokenizer::post_prefix() const {
    return m_->post.prefix;
}

const std::vector<std::int32_t>& Tokenizer::post_suffix() const {
    return m_->post.suffix;
}

const std::vector<AddedToken>& Tokenizer::added_tokens() const {
    return m_->added;
}

std::vector<std::string> Tokenizer::pre_tokenize(std::string_view text) const {
    PooledState st(*m_);
    std::string repaired;
    const std::string_view t = tokenizer_detail::repair_utf8(text, repaired);
    std::vector<std::string> pieces;
    const auto collect = [&](std::string_view piece) { pieces.emplace_back(piece); };
    m_->pre_tokenize(0, t, true, *st, collect);
    return pieces;
}

std::string Tokenizer::normalize(std::string_view text) const {
    std::string repaired;
    const std::string_view t = tokenizer_detail::repair_utf8(text, repaired);
    std::string out, scratch;
    const std::string_view n = m_->normalize(t, out, scratch);
    return n.data() == out.data() ? out : std::string(n);
}

bool Tokenizer::round_trips() const {
    return m_->round_trips;
}
std::string Tokenizer::summary() const {
    return m_->summary;
}
const std::string& Tokenizer::label() const {
    return m_->label;
}

} // namespace bcd

// bcd::Tokenizer: the encode pipeline of HF tokenizers for byte-level BPE files —
// added tokens on the raw text, the normaliser, added tokens on the normalised text, the
// pre-tokenizer stages, BPE per pre-token — and the ByteLevel decoder.

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
    const auto segment = [&](std::string_view seg) {
        if (seg.empty()) return;
        if (nfc) {
            tokenizer_detail::nfc(seg, st.normalized);
            seg = st.normalized;
        }
        if (normalized_matcher.empty()) {
            pre_tokenize(0, seg, st, to_bpe);
            return;
        }
        normalized_matcher.split(seg, added, st.normalized_splits);
        for (const AddedSplit& s : st.normalized_splits) {
            if (s.token >= 0)
                out.push_back(added[static_cast<std::size_t>(s.token)].id);
            else
                pre_tokenize(0, seg.substr(s.begin, s.end - s.begin), st, to_bpe);
        }
    };
    if (raw_matcher.empty()) {
        segment(t);
        return;
    }
    raw_matcher.split(t, added, st.raw_splits);
    for (const AddedSplit& s : st.raw_splits) {
        if (s.token >= 0)
            out.push_back(added[static_cast<std::size_t>(s.token)].id);
        else
            segment(t.substr(s.begin, s.end - s.begin));
    }
}

template <class Sink>
void TokenizerModel::pre_tokenize(std::size_t stage, std::string_view piece, EncodeState& st,
                                  Sink& sink) const {
    if (piece.empty()) return;
    if (stage == stages.size()) {
        sink(piece);
        return;
    }
    const PreTokenizerStage& s = stages[stage];
    if (s.add_prefix_space && piece[0] != ' ') {
        std::string& buffer = st.prefixed[stage];
        buffer.assign(1, ' ');
        buffer += piece;
        piece = buffer;
    }
    if (s.regex < 0) {
        pre_tokenize(stage + 1, piece, st, sink);
        return;
    }
    st.error.clear();
    const bool ok =
        split_isolated(*st.matchers[static_cast<std::size_t>(s.regex)], piece, st.error,
                       [&](std::string_view sub) { pre_tokenize(stage + 1, sub, st, sink); });
    if (!ok)
        throw InputError(label, s.key,
                         "matching the pattern failed on a " + std::to_string(piece.size()) +
                             "-byte piece of text: " + st.error);
}

void TokenizerModel::bpe_piece(std::string_view piece, EncodeState& st,
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

const std::vector<AddedToken>& Tokenizer::added_tokens() const {
    return m_->added;
}

std::vector<std::string> Tokenizer::pre_tokenize(std::string_view text) const {
    PooledState st(*m_);
    std::string repaired;
    const std::string_view t = tokenizer_detail::repair_utf8(text, repaired);
    std::vector<std::string> pieces;
    const auto collect = [&](std::string_view piece) { pieces.emplace_back(piece); };
    m_->pre_tokenize(0, t, *st, collect);
    return pieces;
}

std::string Tokenizer::normalize(std::string_view text) const {
    std::string repaired;
    const std::string_view t = tokenizer_detail::repair_utf8(text, repaired);
    std::string out;
    if (m_->nfc)
        tokenizer_detail::nfc(t, out);
    else
        out.assign(t);
    return out;
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

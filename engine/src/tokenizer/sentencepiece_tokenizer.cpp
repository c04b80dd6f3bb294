// tokenizer.model through libsentencepiece (docs/tokenizer.md#tokenizermodel). Without the
// library (BCD_WITH_SENTENCEPIECE off) only the refusal is compiled.

#include "bcd/sentencepiece_tokenizer.h"

#include "bcd/errors.h"

#ifdef BCD_WITH_SENTENCEPIECE
#include <sentencepiece_processor.h>
#endif

namespace bcd {

#ifdef BCD_WITH_SENTENCEPIECE

struct SentencePieceTokenizer::Impl {
    std::string label;
    sentencepiece::SentencePieceProcessor sp;
    std::vector<std::pair<std::string, std::int32_t>> specials; // split at these, in text
};

bool SentencePieceTokenizer::available() {
    return true;
}

SentencePieceTokenizer SentencePieceTokenizer::load(const std::filesystem::path& model) {
    auto m = std::make_shared<Impl>();
    m->label = model.string();
    const auto status = m->sp.Load(model.string());
    if (!status.ok())
        throw InputError(m->label, "",
                         "not a readable SentencePiece model (" + status.ToString() + ")");
    // transformers' LlamaTokenizer adds unk, bos and eos as tokens that the text is split at.
    for (const int id : {m->sp.unk_id(), m->sp.bos_id(), m->sp.eos_id()})
        if (id >= 0 && id < m->sp.GetPieceSize()) m->specials.emplace_back(m->sp.IdToPiece(id), id);
    return SentencePieceTokenizer(std::move(m));
}

void SentencePieceTokenizer::encode_append(std::string_view text,
                                           std::vector<std::int32_t>& out) const {
    std::vector<int> ids;
    auto piece = [&](std::string_view part) {
        if (part.empty()) return;
        const auto status = m_->sp.Encode(part, &ids);
        if (!status.ok())
            throw InputError(m_->label, "",
                             "SentencePiece cannot encode the text (" + status.ToString() + ")");
        out.insert(out.end(), ids.begin(), ids.end());
    };
    std::size_t start = 0, pos = 0;
    while (pos < text.size()) {
        // The leftmost, then longest, special piece at `pos` (HF's trie split).
        std::size_t best = 0;
        std::int32_t best_id = -1;
        for (const auto& [s, id] : m_->specials)
            if (!s.empty() && s.size() > best && text.substr(pos, s.size()) == s) {
                best = s.size();
                best_id = id;
            }
        if (best_id < 0) {
            ++pos;
            continue;
        }
        piece(text.substr(start, pos - start));
        out.push_back(best_id);
        pos += best;
        start = pos;
    }
    piece(text.substr(start));
}

std::string SentencePieceTokenizer::decode_bytes(std::span<const std::int32_t> ids) const {
    std::string s;
    for (const std::int32_t id : ids) {
        if (id < 0 || id >= m_->sp.GetPieceSize()) continue;
        const std::string& p = m_->sp.IdToPiece(id);
        if (m_->sp.IsByte(id) && p.size() == 6) {
            s += static_cast<char>(std::stoi(p.substr(3, 2), nullptr, 16));
            continue;
        }
        for (std::size_t i = 0; i < p.size();) {
            if (p.compare(i, 3, "\xe2\x96\x81") == 0) { // "▁"
                s += ' ';
                i += 3;
            } else {
                s += p[i++];
            }
        }
    }
    return s;
}

int SentencePieceTokenizer::vocab_size() const {
    return m_->sp.GetPieceSize();
}

std::optional<std::int32_t> SentencePieceTokenizer::token_id(std::string_view piece) const {
    const int id = m_->sp.PieceToId(piece);
    if (id == m_->sp.unk_id() && piece != m_->sp.IdToPiece(id)) return std::nullopt;
    return id;
}

std::optional<std::int32_t> SentencePieceTokenizer::bos_id() const {
    return m_->sp.bos_id() >= 0 ? std::optional<std::int32_t>(m_->sp.bos_id()) : std::nullopt;
}

std::optional<std::int32_t> SentencePieceTokenizer::eos_id() const {
    return m_->sp.eos_id() >= 0 ? std::optional<std::int32_t>(m_->sp.eos_id()) : std::nullopt;
}

std::vector<std::string> SentencePieceTokenizer::special_tokens() const {
    std::vector<std::string> v;
    for (const auto& [s, id] : m_->specials) v.push_back(s);
    return v;
}

std::string SentencePieceTokenizer::summary() const {
    std::string s = "SentencePiece tokenizer.model (libsentencepiece), vocab " +
                    std::to_string(vocab_size()) + "; specials";
    for (const auto& [p, id] : m_->specials) s += " " + p;
    return s;
}

#else

struct SentencePieceTokenizer::Impl {
    std::string label;
};

bool SentencePieceTokenizer::available() {
    return false;
}

SentencePieceTokenizer SentencePieceTokenizer::load(const std::filesystem::path& model) {
    throw InputError(model.string(), "",
                     "this build of the engine reads no tokenizer.model (it was built without "
                     "libsentencepiece: install libsentencepiece-dev and rebuild, or give a "
                     "tokenizer.json, which transformers writes with save_pretrained)");
}

void SentencePieceTokenizer::encode_append(std::string_view, std::vector<std::int32_t>&) const {}
std::string SentencePieceTokenizer::decode_bytes(std::span<const std::int32_t>) const {
    return {};
}
int SentencePieceTokenizer::vocab_size() const {
    return 0;
}
std::optional<std::int32_t> SentencePieceTokenizer::token_id(std::string_view) const {
    return std::nullopt;
}
std::optional<std::int32_t> SentencePieceTokenizer::bos_id() const {
    return std::nullopt;
}
std::optional<std::int32_t> SentencePieceTokenizer::eos_id() const {
    return std::nullopt;
}
std::vector<std::string> SentencePieceTokenizer::special_tokens() const {
    return {};
}
std::string SentencePieceTokenizer::summary() const {
    return {};
}

#endif

std::vector<std::int32_t> SentencePieceTokenizer::encode(std::string_view text) const {
    std::vector<std::int32_t> ids;
    encode_append(text, ids);
    return ids;
}

const std::string& SentencePieceTokenizer::label() const {
    return m_->label;
}

} // namespace bcd

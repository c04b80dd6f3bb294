#include "tokenizer/bpe.h"

#include "tokenizer/utf8_text.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

namespace bcd::tokenizer_detail {

namespace {

struct ByteTables {
    std::array<char32_t, 256> to_char{};
    std::array<std::int16_t, 0x144> to_byte{}; // every byte character is below U+0144
    ByteTables() {
        to_byte.fill(-1);
        int n = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable =
                (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
            to_char[b] = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
            to_byte[to_char[b]] = static_cast<std::int16_t>(b);
        }
    }
};

const ByteTables& tables() {
    static const ByteTables t;
    return t;
}

void append_utf8(std::string& out, char32_t c) {
    if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xE0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    }
}

// Words up to this many symbols merge by a linear scan over a rank array on the stack.
constexpr std::size_t kLinearMax = 64;
constexpr std::uint32_t kNoMerge = std::numeric_limits<std::uint32_t>::max();

} // namespace

std::uint64_t BytesMap::hash(std::string_view key) {
    // One multiply-xorshift round per eight bytes (keys are short pre-tokens), then a final
    // mix so that the low bits, which pick the slot, depend on all of them.
    std::uint64_t h = key.size() * 0x9E3779B97F4A7C15ull;
    std::size_t i = 0;
    for (; i + 8 <= key.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, key.data() + i, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 29;
    }
    if (i < key.size()) {
        std::uint64_t w = 0;
        std::memcpy(&w, key.data() + i, key.size() - i);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    }
    h ^= h >> 32;
    h *= 0x94D049BB133111EBull;
    return h ^ (h >> 29);
}

void BytesMap::rehash(std::size_t capacity) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    for (const Slot& s : old) {
        if (s.len == kEmpty) continue;
        std::size_t i = s.hash & mask_;
        while (slots_[i].len != kEmpty) i = (i + 1) & mask_;
        slots_[i] = s;
    }
}

void BytesMap::reserve(std::size_t entries) {
    std::size_t cap = 16;
    while (cap < 2 * entries) cap *= 2;
    if (cap > slots_.size()) rehash(cap);
}

void BytesMap::clear() {
    std::fill(slots_.begin(), slots_.end(), Slot{});
    arena_.clear();
    size_ = 0;
}

void BytesMap::insert(std::string_view key, std::uint64_t h, std::uint64_t value) {
    if (2 * (size_ + 1) > slots_.size()) rehash(std::max<std::size_t>(16, 2 * slots_.size()));
    std::size_t i = h & mask_;
    while (slots_[i].len != kEmpty) i = (i + 1) & mask_;
    slots_[i] = {h, value, static_cast<std::uint32_t>(arena_.size()),
                 static_cast<std::uint32_t>(key.size())};
    arena_ += key;
    ++size_;
}

char32_t byte_to_char(std::uint8_t b) {
    return tables().to_char[b];
}

int char_to_byte(char32_t c) {
    return c < 0x144 ? tables().to_byte[c] : -1;
}

int fallback_byte(std::string_view token) {
    // HF: token.len() == 6, "<0x" ... ">", then u8::from_str_radix(&token[3..5], 16), which
    // also takes a leading '+'.
    if (token.size() != 6 || !token.starts_with("<0x") || token[5] != '>') return -1;
    const auto digit = [](char c) {
        return c >= '0' && c <= '9'   ? c - '0'
               : c >= 'a' && c <= 'f' ? c - 'a' + 10
               : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                      : -1;
    };
    const int lo = digit(token[4]);
    if (lo < 0) return -1;
    if (token[3] == '+') return lo;
    const int hi = digit(token[3]);
    return hi < 0 ? -1 : hi * 16 + lo;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
    std::string out;
    out.reserve(s.size());
    std::size_t at = 0;
    for (std::size_t hit; (hit = s.find(from, at)) != std::string_view::npos;
         at = hit + from.size()) {
        out.append(s.substr(at, hit - at));
        out.append(to);
    }
    out.append(s.substr(at));
    return out;
}

bool byte_level_to_bytes(std::string_view token, std::string& bytes) {
    bytes.clear();
    std::size_t i = 0;
    while (i < token.size()) {
        const int b = char_to_byte(next_code_point(token, i));
        if (b < 0) return false;
        bytes += static_cast<char>(b);
    }
    return true;
}

std::string bytes_to_byte_level(std::string_view bytes) {
    std::string s;
    for (const char ch : bytes) append_utf8(s, byte_to_char(static_cast<std::uint8_t>(ch)));
    return s;
}

void MergeTable::reserve(std::size_t n) {
    std::size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    if (cap <= slots_.size()) return;
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    shift_ = 64 - std::countr_zero(cap);
    size_ = 0;
    for (const Slot& s : old)
        if (s.key != kEmpty)
            insert(static_cast<std::int32_t>(s.key >> 32),
                   static_cast<std::int32_t>(s.key & 0xFFFFFFFFu), s.merge);
}

void MergeTable::grow() {
    reserve(std::max<std::size_t>(16, size_ + 1));
}

void MergeTable::insert(std::int32_t left, std::int32_t right, Merge m) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    const std::uint64_t key = pack(left, right);
    for (std::size_t i = slot_of(key);; i = (i + 1) & mask_) {
        Slot& s = slots_[i];
        if (s.key == key) {
            s.merge = m;
            return;
        }
        if (s.key == kEmpty) {
            s.key = key;
            s.merge = m;
            ++size_;
            return;
        }
    }
}

void BpeModel::symbols_of_text(std::string_view piece, std::vector<std::int32_t>& s) const {
    // HF's BPE::merge_word: a character with a token is that token; else its bytes' <0xNN>
    // tokens when all exist; else unk. A pending (possibly fused) unk is written when the next
    // known character comes or at the end, not before byte-fallback tokens: HF does the same.
    s.clear();
    bool pending_unk = false;
    std::size_t i = 0;
    while (i < piece.size()) {
        const std::size_t begin = i;
        const std::size_t n =
            std::min(utf8_length(static_cast<unsigned char>(piece[i])), piece.size() - i);
        i += n;
        const std::string_view ch = piece.substr(begin, n);
        if (const std::uint64_t* id = raw_vocab.find(ch, BytesMap::hash(ch))) {
            if (pending_unk) s.push_back(unk_id);
            pending_unk = false;
            s.push_back(static_cast<std::int32_t>(*id));
            continue;
        }
        if (byte_fallback) {
            bool all = true;
            for (const char b : ch) all = all && fallback_ids[static_cast<std::uint8_t>(b)] >= 0;
            if (all) {
                for (const char b : ch) s.push_back(fallback_ids[static_cast<std::uint8_t>(b)]);
                continue;
            }
        }
        if (unk_id < 0) continue;
        if (pending_unk && !fuse_unk) s.push_back(unk_id);
        pending_unk = true;
    }
    if (pending_unk) s.push_back(unk_id);
}

void BpeModel::tokenize(std::string_view piece, BpeScratch& scratch,
                        std::vector<std::int32_t>& out) const {
    if (piece.empty()) return;
    if (!byte_level) {
        if (ignore_merges) {
            if (const std::uint64_t* id = raw_vocab.find(piece, BytesMap::hash(piece))) {
                out.push_back(static_cast<std::int32_t>(*id));
                return;
            }
        }
        std::vector<std::int32_t>& s = scratch.symbols;
        symbols_of_text(piece, s);
        merge(s, scratch);
        out.insert(out.end(), s.begin(), s.end());
        return;
    }
    if (piece.size() == 1 && byte_ids[static_cast<std::uint8_t>(piece[0])] >= 0) {
        out.push_back(byte_ids[static_cast<std::uint8_t>(piece[0])]);
        return;
    }
    if (ignore_merges) {
        // Llama 3: a pre-token that is itself in the vocabulary is that token, unmerged.
        if (const std::uint64_t* id = raw_vocab.find(piece, BytesMap::hash(piece))) {
            out.push_back(static_cast<std::int32_t>(*id));
            return;
        }
    }
    // One symbol per byte; bytes without a token become unk (fused when asked) or vanish.
    std::vector<std::int32_t>& s = scratch.symbols;
    s.clear();
    bool pending_unk = false;
    for (const char ch : piece) {
        const std::int32_t id = byte_ids[static_cast<std::uint8_t>(ch)];
        if (id >= 0) {
            if (pending_unk) s.push_back(unk_id);
            pending_unk = false;
            s.push_back(id);
        } else if (unk_id >= 0) {
            if (pending_unk && !fuse_unk) s.push_back(unk_id);
            pending_unk = true;
        }
    }
    if (pending_unk) s.push_back(unk_id);
    merge(s, scratch);
    out.insert(out.end(), s.begin(), s.end());
}

void BpeModel::merge(std::vector<std::int32_t>& s, BpeScratch& scratch, bool force_heap) const {
    std::size_t n = s.size();
    if (n < 2) return;
    if (force_heap || n > kLinearMax) {
        merge_heap(s, scratch);
        return;
    }
    // rank[i], merged[i]: the merge of the pair (s[i], s[i + 1]).
    std::uint32_t rank[kLinearMax];
    std::int32_t merged[kLinearMax];
    const auto look = [&](std::size_t i) {
        const MergeTable::Merge* m = merges.find(s[i], s[i + 1]);
        rank[i] = m != nullptr ? m->rank : kNoMerge;
        merged[i] = m != nullptr ? m->merged : -1;
    };
    for (std::size_t i = 0; i + 1 < n; ++i) look(i);
    while (n > 1) {
        std::size_t best = 0;
        for (std::size_t i = 1; i + 1 < n; ++i)
            if (rank[i] < rank[best]) best = i;
        if (rank[best] == kNoMerge) break;
        s[best] = merged[best];
        // Remove symbol best + 1 and the pair that started at it.
        for (std::size_t i = best + 1; i + 1 < n; ++i) {
            s[i] = s[i + 1];
            rank[i] = rank[i + 1];
            merged[i] = merged[i + 1];
        }
        --n;
        if (best > 0) look(best - 1);
        if (best + 1 < n) look(best);
    }
    s.resize(n);
}

void BpeModel::merge_heap(std::vector<std::int32_t>& s, BpeScratch& scratch) const {
    // HF's Word::merge_all: a min-queue of (rank, position); an entry whose pair has changed
    // since it was queued is dropped when it comes out.
    const std::size_t n = s.size();
    auto& nodes = scratch.nodes;
    auto& heap = scratch.heap;
    nodes.resize(n);
    heap.clear();
    for (std::size_t i = 0; i < n; ++i)
        nodes[i] = {s[i], static_cast<std::int32_t>(i) - 1,
                    i + 1 < n ? static_cast<std::int32_t>(i + 1) : -1, true};
    const auto later = [](const BpeScratch::Candidate& a, const BpeScratch::Candidate& b) {
        return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
    };
    const auto push = [&](std::int32_t pos) {
        const MergeTable::Merge* m = merges.find(nodes[pos].id, nodes[nodes[pos].next].id);
        if (m == nullptr) return;
        heap.push_back({m->rank, static_cast<std::uint32_t>(pos), m->merged});
        std::push_heap(heap.begin(), heap.end(), later);
    };
    for (std::size_t i = 0; i + 1 < n; ++i) push(static_cast<std::int32_t>(i));
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), later);
        const BpeScratch::Candidate top = heap.back();
        heap.pop_back();
        auto& left = nodes[top.pos];
        if (!left.alive || left.next < 0) continue;
        auto& right = nodes[left.next];
        const MergeTable::Merge* m = merges.find(left.id, right.id);
        if (m == nullptr || m->merged != top.merged) continue;
        left.id = top.merged;
        left.next = right.next;
        right.alive = false;
        if (left.next >= 0) nodes[left.next].prev = static_cast<std::int32_t>(top.pos);
        if (left.prev >= 0) push(left.prev);
        if (left.next >= 0) push(static_cast<std::int32_t>(top.pos));
    }
    s.clear();
    for (std::int32_t i = 0; i >= 0; i = nodes[i].next) s.push_back(nodes[i].id);
}

} // namespace bcd::tokenizer_detail

// The CUDA backend's host-side logic (host_plan.h). No CUDA here: tests/engine/cuda checks it on
// any machine.

#include "backend/cuda/host_plan.h"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace bcd::cuda {

const char* dtype_name(Dtype d) {
    return d == Dtype::BF16 ? "bf16" : "fp32";
}

Placement placement(TrainPrecision p) {
    const Dtype s = p == TrainPrecision::BF16 ? Dtype::BF16 : Dtype::F32;
    Placement out;
    out.weights = s;
    out.activations = s;
    out.master = Dtype::F32;
    out.gradients = Dtype::F32;
    out.optimizer = Dtype::F32;
    out.residual_grad = Dtype::F32;
    out.scores = Dtype::F32;
    return out;
}

std::size_t Carve::take(std::size_t bytes) {
    const std::size_t at = used_;
    used_ += (bytes + kAlign - 1) / kAlign * kAlign;
    return at;
}

int ce_chunk_rows(long N, long vocab, Dtype act, std::size_t budget_bytes) {
    if (N <= 0 || vocab <= 0) throw std::invalid_argument("ce_chunk_rows: empty shape");
    const std::size_t per_row = static_cast<std::size_t>(vocab) * (4 + dtype_bytes(act));
    const std::size_t rows = std::max<std::size_t>(1, budget_bytes / per_row);
    return static_cast<int>(std::min<std::size_t>(rows, static_cast<std::size_t>(N)));
}

bool Truncation::attn_part(const ParamLayout& lay, int l) const {
    const auto& p = lay.layer(l);
    return param(p.ln1) || param(p.wq) || param(p.bq) || param(p.wk) || param(p.bk) ||
           param(p.wv) || param(p.bv) || param(p.wo) || param(p.bo);
}
bool Truncation::mlp_part(const ParamLayout& lay, int l) const {
    const auto& p = lay.layer(l);
    return param(p.ln2) || param(p.wg) || param(p.wu) || param(p.wd);
}
bool Truncation::need_attn_bwd(const ParamLayout& lay, int l) const {
    return attn_part(lay, l) || below[static_cast<std::size_t>(l)];
}
bool Truncation::need_mlp_bwd(const ParamLayout& lay, int l) const {
    return mlp_part(lay, l) || need_attn_bwd(lay, l);
}

Truncation truncation(const ParamLayout& lay, std::vector<bool> has, bool want_input_grad) {
    if (has.size() != lay.params().size())
        throw std::invalid_argument("truncation: one flag per parameter tensor expected");
    Truncation t;
    t.has = std::move(has);
    const int L = lay.num_layers();
    t.below.assign(static_cast<std::size_t>(L) + 1, false);
    t.below[0] = want_input_grad || t.param(lay.embed());
    for (int l = 0; l < L; ++l)
        t.below[static_cast<std::size_t>(l) + 1] =
            t.below[static_cast<std::size_t>(l)] || t.attn_part(lay, l) || t.mlp_part(lay, l);
    t.first_kept = L;
    for (int l = 0; l < L; ++l)
        if (t.need_mlp_bwd(lay, l)) {
            t.first_kept = l;
            break;
        }
    const int head = lay.lm_head() >= 0 ? lay.lm_head() : lay.embed();
    t.any_grad = t.below[static_cast<std::size_t>(L)] || t.param(lay.final_norm()) || t.param(head);
    return t;
}

ActivationPlan plan_activations(const ModelConfig& c, int B, int T, Dtype act, int first_kept,
                                bool recompute, bool backward) {
    if (B <= 0 || T <= 0) throw std::invalid_argument("plan_activations: empty batch");
    ActivationPlan p;
    p.B = B;
    p.T = T;
    p.first_kept = first_kept;
    p.recompute = recompute && backward && first_kept < c.num_layers;
    p.backward = backward;
    const std::size_t N = static_cast<std::size_t>(B) * T, C = c.hidden_size,
                      F = c.intermediate_size, V = c.vocab_size, QD = c.q_dim(), KD = c.kv_dim(),
                      H = c.num_heads, S = dtype_bytes(act), f = 4;
    const int L = c.num_layers;
    p.ce_rows = ce_chunk_rows(static_cast<long>(N), static_cast<long>(V), act, kCeChunkBudget);
    Carve cv;
    auto fill = [&](LayerBuffers& a, bool input_only) {
        a.x = cv.take(N * C * S);
        if (input_only) return;
        a.rstd1 = cv.take(N * f);
        a.q = cv.take(N * QD * S);
        a.k = cv.take(N * KD * S);
        a.v = cv.take(N * KD * S);
        a.lse = cv.take(H * N * f);
        a.ctx = cv.take(N * QD * S);
        a.x2 = cv.take(N * C * S);
        a.rstd2 = cv.take(N * f);
        a.gate = cv.take(N * F * S);
        a.up = cv.take(N * F * S);
    };
    p.layers.assign(static_cast<std::size_t>(L), LayerBuffers{});
    if (p.recompute) {
        fill(p.work, false);
        p.recompute_out = cv.take(N * C * S);
        for (int l = first_kept; l < L; ++l) {
            LayerBuffers& a = p.layers[static_cast<std::size_t>(l)];
            a = p.work;
            a.x = cv.take(N * C * S);
        }
        for (int l = 0; l < first_kept; ++l)
            p.layers[static_cast<std::size_t>(l)] = p.layers[static_cast<std::size_t>(first_kept)];
    } else if (first_kept >= L) {
        LayerBuffers shared;
        fill(shared, false);
        for (auto& a : p.layers) a = shared;
    } else {
        for (int l = first_kept; l < L; ++l) fill(p.layers[static_cast<std::size_t>(l)], false);
        for (int l = 0; l < first_kept; ++l)
            p.layers[static_cast<std::size_t>(l)] = p.layers[static_cast<std::size_t>(first_kept)];
    }
    p.xf = cv.take(N * C * S);
    p.rstdf = cv.take(N * f);
    p.lnf = cv.take(N * C * S);
    p.lse_f = cv.take(N * f);
    p.loss = cv.take(N * f);
    p.inputs = cv.take(N * 4);
    p.targets = cv.take(N * 4);
    p.activation_bytes = cv.bytes();
    // Shared by every layer (never live across layers).
    p.ln = cv.take(N * C * S);
    p.h = cv.take(N * F * S);
    p.qkv = cv.take(N * (QD + 2 * KD) * S);
    p.ctxp = cv.take(N * QD * S);
    p.scores = cv.take(H * static_cast<std::size_t>(B) * T * T * f);
    p.probs = cv.take(H * static_cast<std::size_t>(B) * T * T * S);
    p.logits = cv.take(static_cast<std::size_t>(p.ce_rows) * V * f);
    p.dlogits = backward ? cv.take(static_cast<std::size_t>(p.ce_rows) * V * S) : 0;
    p.partials = cv.take(static_cast<std::size_t>(kReducePartials) * 8 + 8);
    if (backward) {
        p.dres = cv.take(N * C * f);
        p.dres_act = cv.take(N * C * S);
        p.dln = cv.take(N * C * f);
        p.dh = cv.take(N * F * S);
        p.dgate = cv.take(N * F * S);
        p.dup = cv.take(N * F * S);
        p.dctx = cv.take(N * QD * S);
        p.dctxp = cv.take(N * QD * S);
        p.dqkvp = cv.take(N * (QD + 2 * KD) * S);
        p.dqkv = cv.take(N * (QD + 2 * KD) * S);
    }
    p.total_bytes = cv.bytes();
    return p;
}

BlockBook::BlockBook(const ParamLayout& layout, std::vector<Block> blocks,
                     int state_floats_per_param)
    : blocks_(std::move(blocks)), state_buffers_(state_floats_per_param) {
    for (const Block& b : blocks_) layouts_.push_back(packed_layout(layout, b));
}

std::size_t BlockBook::max_block_floats() const {
    std::size_t m = 0;
    for (const auto& l : layouts_)
        m = std::max(m, (l.total + kAlign / 4 - 1) / (kAlign / 4) * (kAlign / 4));
    return m;
}

BlockBook::Switch BlockBook::plan(std::span<const int> next, bool reset) const {
    Switch s;
    if (std::equal(next.begin(), next.end(), active_.begin(), active_.end())) {
        s.noop = true;
        return s;
    }
    std::set<int> seen;
    for (int b : next) {
        if (b < 0 || b >= static_cast<int>(blocks_.size()))
            throw std::out_of_range("activate: no block " + std::to_string(b));
        if (!seen.insert(b).second)
            throw std::invalid_argument("activate: block " + std::to_string(b) + " twice");
    }
    s.forget_all = reset;
    // Every active block leaves the region (its master weights go back to the host Model, its
    // state to the host unless a reset forgets it); one that stays comes back at its new place.
    s.leave = active_;
    std::size_t base = 0;
    const std::size_t align = kAlign / 4;
    for (int b : next) {
        Enter e;
        e.block = b;
        e.base = base;
        e.restore = !reset && (kept_.count(b) > 0 ||
                               std::find(active_.begin(), active_.end(), b) != active_.end());
        s.enter.push_back(e);
        base += (layouts_[static_cast<std::size_t>(b)].total + align - 1) / align * align;
    }
    s.floats = base;
    return s;
}

void BlockBook::apply(const Switch& s) {
    if (s.noop) return;
    if (s.forget_all) {
        t_.clear();
        kept_.clear();
    } else {
        for (int b : s.leave) kept_[b] = true;
    }
    active_.clear();
    bases_.clear();
    for (const Enter& e : s.enter) {
        active_.push_back(e.block);
        bases_.push_back(e.base);
        kept_.erase(e.block);
        if (!e.restore) t_[e.block] = 0;
    }
    floats_ = s.floats;
}

std::size_t BlockBook::base(int block) const {
    for (std::size_t i = 0; i < active_.size(); ++i)
        if (active_[i] == block) return bases_[i];
    throw std::out_of_range("block " + std::to_string(block) + " is not active");
}

void BlockBook::keep(int block) {
    if (std::find(active_.begin(), active_.end(), block) != active_.end())
        throw std::logic_error("keep: block " + std::to_string(block) + " is active");
    kept_[block] = true;
    t_.emplace(block, 0);
}

std::vector<int> BlockBook::blocks_with_state() const {
    std::vector<int> out;
    for (const auto& [b, t] : t_) out.push_back(b);
    return out;
}

} // namespace bcd::cuda

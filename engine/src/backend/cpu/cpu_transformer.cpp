// The fp32 CPU reference of the Llama-family transformer, with BCD's truncated backward.
// Forward and backward follow HF's modeling_llama.py operation by operation; see ops.h for the
// kernels and transformer.h for the truncation rules.

#include "backend/batch_check.h"
#include "backend/cpu/ops.h"
#include "bcd/errors.h"
#include "bcd/transformer.h"
#include "kernels/rope_table.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace bcd {

namespace {

// Per-layer activations. Layers below the lowest one that needs a backward share one set and
// keep nothing.
struct LayerActs {
    float *x = nullptr, *rstd1 = nullptr, *ln1 = nullptr, *q = nullptr, *k = nullptr, *v = nullptr,
          *lse = nullptr, *ctx = nullptr, *x2 = nullptr, *rstd2 = nullptr, *ln2 = nullptr,
          *gate = nullptr, *up = nullptr, *h = nullptr;
};

// Hands out 64-byte aligned slices of one allocation (two passes: measure, then carve).
class Carver {
public:
    explicit Carver(float* base) : base_(base) {}
    float* take(std::size_t n) {
        float* p = base_ ? base_ + used_ : nullptr;
        used_ += (n + 15) / 16 * 16;
        return p;
    }
    std::size_t used() const { return used_; }
    float* base() const { return base_; }

private:
    float* base_;
    std::size_t used_ = 0;
};

class CpuTransformer final : public Transformer {
public:
    explicit CpuTransformer(Model& m)
        : m_(m), c_(m.config()), lay_(m.layout()), grads_(lay_.params().size(), nullptr),
          below_(static_cast<std::size_t>(c_.num_layers) + 1) {
        derive_plan();
    }

    void set_grad_targets(std::vector<float*> grads, bool want_input_grad) override {
        if (grads.size() != lay_.params().size())
            throw std::invalid_argument(
                "set_grad_targets: one entry per parameter tensor expected");
        grads_ = std::move(grads);
        want_input_grad_ = want_input_grad;
        derive_plan();
        have_forward_ = false;
        dirty_ = true;
    }

    LossSum forward(const std::int32_t* inputs, const std::int32_t* targets, int B, int T) override;
    void backward(float scale) override;

    std::span<const float> logits() const override {
        return {logits_, static_cast<std::size_t>(B_) * T_ * c_.vocab_size};
    }
    std::span<const float> input_grad() const override { return input_grad_.span(); }

    void set_recompute(bool on) override {
        if (on == recompute_) return;
        recompute_ = on;
        dirty_ = true;
        have_forward_ = false;
    }

    void start_decoding(int max_len) override;
    std::span<const float> decode_next(std::int32_t token) override;

    MemoryStats memory() const override {
        MemoryStats s;
        s.weights = m_.num_floats() * sizeof(float);
        s.activations = acts_.bytes() + rope_.bytes();
        s.workspace = work_.bytes() + input_grad_.bytes() + dec_.bytes();
        return s;
    }

private:
    bool has(int idx) const { return idx >= 0 && grads_[static_cast<std::size_t>(idx)] != nullptr; }
    float* g(int idx) const { return idx >= 0 ? grads_[static_cast<std::size_t>(idx)] : nullptr; }
    const float* w(int idx) const {
        return idx >= 0 ? m_.params() + lay_.params()[static_cast<std::size_t>(idx)].offset
                        : nullptr;
    }
    int head_weight() const { return lay_.lm_head() >= 0 ? lay_.lm_head() : lay_.embed(); }

    bool attn_part_has_grad(int l) const {
        const auto& p = lay_.layer(l);
        return has(p.ln1) || has(p.wq) || has(p.bq) || has(p.wk) || has(p.bk) || has(p.wv) ||
               has(p.bv) || has(p.wo) || has(p.bo);
    }
    bool mlp_part_has_grad(int l) const {
        const auto& p = lay_.layer(l);
        return has(p.ln2) || has(p.wg) || has(p.wu) || has(p.wd);
    }
    bool need_attn_bwd(int l) const {
        return attn_part_has_grad(l) || below_[static_cast<std::size_t>(l)];
    }
    bool need_mlp_bwd(int l) const { return mlp_part_has_grad(l) || need_attn_bwd(l); }

    // below_[l]: a gradient is needed below the input of layer l (l = L: below the final norm).
    void derive_plan() {
        const int L = c_.num_layers;
        below_[0] = want_input_grad_ || has(lay_.embed());
        for (int l = 0; l < L; ++l)
            below_[static_cast<std::size_t>(l) + 1] = below_[static_cast<std::size_t>(l)] ||
                                                      attn_part_has_grad(l) || mlp_part_has_grad(l);
        first_kept_ = L;
        for (int l = 0; l < L; ++l)
            if (need_mlp_bwd(l)) {
                first_kept_ = l;
                break;
            }
        any_grad_ =
            below_[static_cast<std::size_t>(L)] || has(lay_.final_norm()) || has(head_weight());
    }

    void allocate(int B, int T);
    void build_rope(int T);
    void layer_forward(int l, const LayerActs& a, float* out);
    void layer_backward(int l, const LayerActs& a);

    Model& m_;
    const ModelConfig& c_;
    const ParamLayout& lay_;
    std::vector<float*> grads_;
    bool want_input_grad_ = false;
    std::vector<bool> below_;
    int first_kept_ = 0;
    bool any_grad_ = false;

    bool recompute_ = false;
    LayerActs work_set_;
    float* recompute_out_ = nullptr;
    int B_ = 0, T_ = 0, alloc_threads_ = 0;
    bool dirty_ = true;
    FloatBuffer acts_;
    std::vector<LayerActs> la_;
    float *xf_ = nullptr, *rstdf_ = nullptr, *lnf_ = nullptr, *logits_ = nullptr, *lse_ = nullptr,
          *losses_ = nullptr;
    std::vector<std::int32_t> inputs_, targets_;
    bool have_forward_ = false;

    FloatBuffer work_;
    float *dres_ = nullptr, *dln_ = nullptr, *dctx_ = nullptr, *dq_ = nullptr, *dk_ = nullptr,
          *dv_ = nullptr, *dh_ = nullptr, *dgate_ = nullptr, *dup_ = nullptr;
    float* attn_scratch_ = nullptr; // per-thread blocks of attention probabilities
    FloatBuffer input_grad_;

    // Decoding: per layer K and V caches [max_len, kv_dim], then one token's working vectors.
    FloatBuffer dec_;
    int dec_max_ = 0, dec_pos_ = 0;

    FloatBuffer rope_; // cos [T, D/2] then sin [T, D/2]
    int rope_T_ = 0;
};

void CpuTransformer::allocate(int B, int T) {
    const int threads = cpu_threads();
    if (!dirty_ && B == B_ && T == T_ && threads == alloc_threads_) return;
    const int L = c_.num_layers;
    const std::size_t N = static_cast<std::size_t>(B) * T, C = c_.hidden_size,
                      F = c_.intermediate_size, V = c_.vocab_size, QD = c_.q_dim(),
                      KD = c_.kv_dim(), LSE = static_cast<std::size_t>(B) * c_.num_heads * T;

    // Activations: layers at or above the first one that needs a backward own a full set. The
    // layers below run in that layer's set (its buffers are free until its own forward), updating
    // the residual stream in place, so skipping them costs no memory at all. Without any kept
    // layer (inference, or only the head trains) one shared set serves every layer.
    auto carve_acts = [&](Carver& cv) {
        // The norms' outputs and the MLP's hidden product are cheap to rebuild from what is
        // kept (x and rstd; gate and up), so every layer shares one buffer for each.
        float* norm_out = cv.take(N * C);
        attn_scratch_ = cv.take(static_cast<std::size_t>(cpu::attention_scratch_floats(T)));
        float* mlp_hidden = cv.take(N * F);
        auto fill = [&](LayerActs& a) {
            a.x = cv.take(N * C);
            a.rstd1 = cv.take(N);
            a.q = cv.take(N * QD);
            a.k = cv.take(N * KD);
            a.v = cv.take(N * KD);
            a.lse = cv.take(LSE);
            a.ctx = cv.take(N * QD);
            a.x2 = cv.take(N * C);
            a.rstd2 = cv.take(N);
            a.gate = cv.take(N * F);
            a.up = cv.take(N * F);
            a.ln1 = a.ln2 = norm_out;
            a.h = mlp_hidden;
        };
        la_.assign(static_cast<std::size_t>(L), LayerActs{});
        if (recompute_ && first_kept_ < L) {
            // Kept layers store their input only; one working set serves every layer's forward
            // and, rebuilt layer by layer, the backward.
            fill(work_set_);
            recompute_out_ = cv.take(N * C);
            for (int l = first_kept_; l < L; ++l) {
                la_[static_cast<std::size_t>(l)] = work_set_;
                la_[static_cast<std::size_t>(l)].x = cv.take(N * C);
            }
            for (int l = 0; l < first_kept_; ++l)
                la_[static_cast<std::size_t>(l)] = la_[static_cast<std::size_t>(first_kept_)];
        } else if (first_kept_ == L) {
            LayerActs shared;
            fill(shared);
            for (auto& a : la_) a = shared;
        } else {
            for (int l = first_kept_; l < L; ++l) fill(la_[static_cast<std::size_t>(l)]);
            for (int l = 0; l < first_kept_; ++l)
                la_[static_cast<std::size_t>(l)] = la_[static_cast<std::size_t>(first_kept_)];
        }
        xf_ = cv.take(N * C);
        rstdf_ = cv.take(N);
        lnf_ = cv.take(N * C);
        logits_ = cv.take(N * V);
        lse_ = cv.take(N);
        losses_ = cv.take(N);
    };
    Carver measure(nullptr);
    carve_acts(measure);
    acts_.resize(measure.used());
    Carver real(acts_.data());
    carve_acts(real);

    // Backward workspace, only when something will be differentiated.
    work_.release();
    if (any_grad_) {
        // A layer's backward runs its MLP part, then its attention part: the MLP's buffers
        // (dh, dup) and the attention's (dctx, dq, dk, dv) are never live together and share one
        // region.
        auto carve_work = [&](Carver& cv) {
            dres_ = cv.take(N * C);
            dln_ = cv.take(N * C);
            Carver mlp(cv.take(std::max(2 * N * F + 32, 2 * N * QD + 2 * N * KD + 64)));
            dh_ = mlp.take(N * F);
            dgate_ = dh_; // swiglu_backward may write dgate over dh (ops.h)
            dup_ = mlp.take(N * F);
            Carver att(mlp.base());
            dctx_ = att.take(N * QD);
            dq_ = att.take(N * QD);
            dk_ = att.take(N * KD);
            dv_ = att.take(N * KD);
        };
        Carver wm(nullptr);
        carve_work(wm);
        work_.resize(wm.used());
        Carver wr(work_.data());
        carve_work(wr);
    }
    input_grad_.resize(want_input_grad_ ? N * C : 0);
    B_ = B;
    T_ = T;
    alloc_threads_ = threads;
    dirty_ = false;
}

// cos/sin tables: kernels/rope_table.h (shared with the CUDA backend).
void CpuTransformer::build_rope(int T) {
    if (T <= rope_T_) return; // a longer table serves shorter sequences too
    std::vector<float> t;
    kernels::rope_tables(c_, T, t);
    rope_.resize(t.size());
    std::copy(t.begin(), t.end(), rope_.data());
    rope_T_ = T;
}

void CpuTransformer::layer_forward(int l, const LayerActs& a, float* out) {
    const auto& p = lay_.layer(l);
    const int N = B_ * T_, C = c_.hidden_size, F = c_.intermediate_size, QD = c_.q_dim(),
              KD = c_.kv_dim(), D = c_.head_dim;
    const float eps = static_cast<float>(c_.rms_norm_eps);
    const float* cs = rope_.data();
    const float* sn = rope_.data() + static_cast<std::size_t>(rope_T_) * (D / 2);

    cpu::rmsnorm_forward(a.ln1, a.rstd1, a.x, w(p.ln1), N, C, eps);
    cpu::linear_forward(a.q, a.ln1, w(p.wq), w(p.bq), N, C, QD);
    cpu::linear_forward(a.k, a.ln1, w(p.wk), w(p.bk), N, C, KD);
    cpu::linear_forward(a.v, a.ln1, w(p.wv), w(p.bv), N, C, KD);
    cpu::rope_forward(a.q, cs, sn, B_, T_, c_.num_heads, D);
    cpu::rope_forward(a.k, cs, sn, B_, T_, c_.num_kv_heads, D);
    cpu::attention_forward(a.ctx, a.lse, attn_scratch_, a.q, a.k, a.v, B_, T_, c_.num_heads,
                           c_.num_kv_heads, D);
    cpu::linear_forward(a.x2, a.ctx, w(p.wo), w(p.bo), N, QD, C);
    cpu::add_inplace(a.x2, a.x, static_cast<long>(N) * C);
    cpu::rmsnorm_forward(a.ln2, a.rstd2, a.x2, w(p.ln2), N, C, eps);
    cpu::linear_forward(a.gate, a.ln2, w(p.wg), nullptr, N, C, F);
    cpu::linear_forward(a.up, a.ln2, w(p.wu), nullptr, N, C, F);
    cpu::swiglu_forward(a.h, a.gate, a.up, static_cast<long>(N) * F);
    // `out` may be a.x itself (layers that keep nothing update the residual stream in place):
    // x is no longer read past this point.
    cpu::linear_forward(out, a.h, w(p.wd), nullptr, N, F, C);
    cpu::add_inplace(out, a.x2, static_cast<long>(N) * C);
}

LossSum CpuTransformer::forward(const std::int32_t* inputs, const std::int32_t* targets, int B,
                                int T) {
    check_batch(c_, inputs, targets, B, T);
    const int N = B * T, V = c_.vocab_size, C = c_.hidden_size;
    allocate(B, T);
    build_rope(T);
    inputs_.assign(inputs, inputs + N);
    targets_.assign(targets, targets + N);

    const int L = c_.num_layers;
    cpu::embedding_forward(la_[0].x, inputs, w(lay_.embed()), N, C);
    for (int l = 0; l < L; ++l)
        layer_forward(l, la_[static_cast<std::size_t>(l)],
                      l + 1 < L ? la_[static_cast<std::size_t>(l) + 1].x : xf_);
    cpu::rmsnorm_forward(lnf_, rstdf_, xf_, w(lay_.final_norm()), N, C,
                         static_cast<float>(c_.rms_norm_eps));
    cpu::linear_forward(logits_, lnf_, w(head_weight()), nullptr, N, C, V);
    LossSum r;
    r.sum = cpu::cross_entropy_forward(lse_, losses_, logits_, targets, N, V, &r.count);
    have_forward_ = true;
    return r;
}

void CpuTransformer::layer_backward(int l, const LayerActs& a) {
    // On entry dres_ = ∂/∂(layer output); on exit, when below_[l], dres_ = ∂/∂(layer input).
    const auto& p = lay_.layer(l);
    const int N = B_ * T_, C = c_.hidden_size, F = c_.intermediate_size, QD = c_.q_dim(),
              KD = c_.kv_dim(), D = c_.head_dim;
    const bool below = below_[static_cast<std::size_t>(l)];
    const bool attn = need_attn_bwd(l);
    if (!need_mlp_bwd(l)) return;

    // MLP: out = x2 + down(silu(gate(ln2)) * up(ln2)), ln2 = norm(x2). h and ln2 were not kept:
    // rebuilt by the forward's own expressions, they are bitwise the forward's values.
    const bool mlp_inner = has(p.ln2) || has(p.wg) || has(p.wu) || attn;
    if (has(p.wd)) cpu::swiglu_forward(a.h, a.gate, a.up, static_cast<long>(N) * F);
    if (has(p.wg) || has(p.wu)) cpu::rmsnorm_apply(a.ln2, a.x2, a.rstd2, w(p.ln2), N, C);
    cpu::linear_backward(mlp_inner ? dh_ : nullptr, g(p.wd), nullptr, dres_, a.h, w(p.wd), N, F, C,
                         false);
    if (mlp_inner) {
        cpu::swiglu_backward(dgate_, dup_, dh_, a.gate, a.up, static_cast<long>(N) * F);
        const bool need_dln2 = has(p.ln2) || attn;
        cpu::linear_backward(need_dln2 ? dln_ : nullptr, g(p.wg), nullptr, dgate_, a.ln2, w(p.wg),
                             N, C, F, false);
        cpu::linear_backward(need_dln2 ? dln_ : nullptr, g(p.wu), nullptr, dup_, a.ln2, w(p.wu), N,
                             C, F, true);
        if (need_dln2)
            cpu::rmsnorm_backward(attn ? dres_ : nullptr, g(p.ln2), dln_, a.x2, w(p.ln2), a.rstd2,
                                  N, C);
    }
    if (!attn) return;

    // Attention: x2 = x + o(attn(rope(q(ln1)), rope(k(ln1)), v(ln1))), ln1 = norm(x).
    const bool attn_inner = has(p.ln1) || has(p.wq) || has(p.bq) || has(p.wk) || has(p.bk) ||
                            has(p.wv) || has(p.bv) || below;
    cpu::linear_backward(attn_inner ? dctx_ : nullptr, g(p.wo), g(p.bo), dres_, a.ctx, w(p.wo), N,
                         QD, C, false);
    if (!attn_inner) return;
    cpu::attention_backward(dq_, dk_, dv_, attn_scratch_, dctx_, a.ctx, a.lse, a.q, a.k, a.v, B_,
                            T_, c_.num_heads, c_.num_kv_heads, D);
    const float* cs = rope_.data();
    const float* sn = rope_.data() + static_cast<std::size_t>(rope_T_) * (D / 2);
    cpu::rope_backward(dq_, cs, sn, B_, T_, c_.num_heads, D);
    cpu::rope_backward(dk_, cs, sn, B_, T_, c_.num_kv_heads, D);
    const bool need_dln1 = has(p.ln1) || below;
    float* dln = need_dln1 ? dln_ : nullptr;
    if (has(p.wq) || has(p.wk) || has(p.wv))
        cpu::rmsnorm_apply(a.ln1, a.x, a.rstd1, w(p.ln1), N, C);
    cpu::linear_backward(dln, g(p.wq), g(p.bq), dq_, a.ln1, w(p.wq), N, C, QD, false);
    cpu::linear_backward(dln, g(p.wk), g(p.bk), dk_, a.ln1, w(p.wk), N, C, KD, true);
    cpu::linear_backward(dln, g(p.wv), g(p.bv), dv_, a.ln1, w(p.wv), N, C, KD, true);
    if (need_dln1)
        cpu::rmsnorm_backward(below ? dres_ : nullptr, g(p.ln1), dln_, a.x, w(p.ln1), a.rstd1, N,
                              C);
}

void CpuTransformer::backward(float scale) {
    if (!have_forward_) throw std::logic_error("backward() without a preceding forward()");
    have_forward_ = false; // the logits are consumed below
    if (!any_grad_) return;
    const int N = B_ * T_, C = c_.hidden_size, V = c_.vocab_size, L = c_.num_layers;

    cpu::cross_entropy_backward(logits_, lse_, targets_.data(), N, V, scale);
    const bool need_dlnf = has(lay_.final_norm()) || below_[static_cast<std::size_t>(L)];
    cpu::linear_backward(need_dlnf ? dln_ : nullptr, g(head_weight()), nullptr, logits_, lnf_,
                         w(head_weight()), N, C, V, false);
    if (!need_dlnf) return;
    const bool below_head = below_[static_cast<std::size_t>(L)];
    if (below_head) std::memset(dres_, 0, sizeof(float) * static_cast<std::size_t>(N) * C);
    cpu::rmsnorm_backward(below_head ? dres_ : nullptr, g(lay_.final_norm()), dln_, xf_,
                          w(lay_.final_norm()), rstdf_, N, C);
    if (!below_head) return;
    for (int l = L - 1; l >= 0; --l) {
        // With recomputation the layer's activations are rebuilt from its stored input; the same
        // kernels on the same input give bitwise the same values as in the forward.
        if (recompute_) layer_forward(l, la_[static_cast<std::size_t>(l)], recompute_out_);
        layer_backward(l, la_[static_cast<std::size_t>(l)]);
        if (!below_[static_cast<std::size_t>(l)]) return;
    }
    if (want_input_grad_)
        std::memcpy(input_grad_.data(), dres_, sizeof(float) * static_cast<std::size_t>(N) * C);
    if (has(lay_.embed())) cpu::embedding_backward(g(lay_.embed()), dres_, inputs_.data(), N, C);
}

void CpuTransformer::start_decoding(int max_len) {
    if (max_len <= 0) throw std::invalid_argument("start_decoding: max_len must be positive");
    const std::size_t L = c_.num_layers, KD = c_.kv_dim(), C = c_.hidden_size,
                      F = c_.intermediate_size, QD = c_.q_dim(), V = c_.vocab_size;
    const std::size_t M = static_cast<std::size_t>(max_len);
    dec_.resize(2 * L * M * KD + 4 * C + 2 * QD + 2 * KD + 3 * F + M + V + 64);
    dec_max_ = max_len;
    dec_pos_ = 0;
    build_rope(max_len);
    have_forward_ = false;
}

std::span<const float> CpuTransformer::decode_next(std::int32_t token) {
    if (dec_max_ == 0) throw std::logic_error("decode_next() before start_decoding()");
    if (dec_pos_ >= dec_max_) throw std::out_of_range("decode_next: the cache is full");
    const int V = c_.vocab_size, C = c_.hidden_size, F = c_.intermediate_size, QD = c_.q_dim(),
              KD = c_.kv_dim(), D = c_.head_dim, H = c_.num_heads, group = H / c_.num_kv_heads,
              L = c_.num_layers, half = D / 2, p = dec_pos_;
    if (token < 0 || token >= V)
        throw InputError("", "token id " + std::to_string(token),
                         "expected ids below the model's vocab_size (" + std::to_string(V) + ")");
    const std::size_t M = static_cast<std::size_t>(dec_max_);
    float* base = dec_.data();
    float* kcache = base;
    float* vcache = kcache + static_cast<std::size_t>(L) * M * KD;
    float* x = vcache + static_cast<std::size_t>(L) * M * KD;
    float* ln = x + C;
    float* x2 = ln + C;
    float* lnf = x2 + C;
    float* q = lnf + C;
    float* ctx = q + QD;
    float* k = ctx + QD;
    float* v = k + KD;
    float* gate = v + KD;
    float* up = gate + F;
    float* h = up + F;
    float* scores = h + F;
    float* logits = scores + M;
    float rstd = 0.0f;
    const float eps = static_cast<float>(c_.rms_norm_eps);
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    const float* cs = rope_.data() + static_cast<std::size_t>(p) * half;
    const float* sn = rope_.data() + static_cast<std::size_t>(rope_T_) * half +
                      static_cast<std::size_t>(p) * half;

    cpu::embedding_forward(x, &token, w(lay_.embed()), 1, C);
    for (int l = 0; l < L; ++l) {
        const auto& pl = lay_.layer(l);
        float* kc = kcache + static_cast<std::size_t>(l) * M * KD;
        float* vc = vcache + static_cast<std::size_t>(l) * M * KD;
        cpu::rmsnorm_forward(ln, &rstd, x, w(pl.ln1), 1, C, eps);
        cpu::linear_forward(q, ln, w(pl.wq), w(pl.bq), 1, C, QD);
        cpu::linear_forward(k, ln, w(pl.wk), w(pl.bk), 1, C, KD);
        cpu::linear_forward(v, ln, w(pl.wv), w(pl.bv), 1, C, KD);
        cpu::rope_forward(q, cs, sn, 1, 1, H, D);
        cpu::rope_forward(k, cs, sn, 1, 1, c_.num_kv_heads, D);
        std::memcpy(kc + static_cast<std::size_t>(p) * KD, k,
                    sizeof(float) * static_cast<std::size_t>(KD));
        std::memcpy(vc + static_cast<std::size_t>(p) * KD, v,
                    sizeof(float) * static_cast<std::size_t>(KD));
        for (int hh = 0; hh < H; ++hh) {
            const int kvh = hh / group;
            const float* qh = q + static_cast<std::size_t>(hh) * D;
            float mx = -INFINITY;
            for (int j = 0; j <= p; ++j) {
                const float* kj =
                    kc + static_cast<std::size_t>(j) * KD + static_cast<std::size_t>(kvh) * D;
                float d = 0.0f;
                for (int e = 0; e < D; ++e) d += qh[e] * kj[e];
                scores[j] = d * scale;
                mx = std::max(mx, scores[j]);
            }
            float sum = 0.0f;
            for (int j = 0; j <= p; ++j) {
                scores[j] = std::exp(scores[j] - mx);
                sum += scores[j];
            }
            float* ch = ctx + static_cast<std::size_t>(hh) * D;
            std::fill_n(ch, D, 0.0f);
            for (int j = 0; j <= p; ++j) {
                const float pj = scores[j] / sum;
                const float* vj =
                    vc + static_cast<std::size_t>(j) * KD + static_cast<std::size_t>(kvh) * D;
                for (int e = 0; e < D; ++e) ch[e] += pj * vj[e];
            }
        }
        cpu::linear_forward(x2, ctx, w(pl.wo), w(pl.bo), 1, QD, C);
        cpu::add_inplace(x2, x, C);
        cpu::rmsnorm_forward(ln, &rstd, x2, w(pl.ln2), 1, C, eps);
        cpu::linear_forward(gate, ln, w(pl.wg), nullptr, 1, C, F);
        cpu::linear_forward(up, ln, w(pl.wu), nullptr, 1, C, F);
        cpu::swiglu_forward(h, gate, up, F);
        cpu::linear_forward(x, h, w(pl.wd), nullptr, 1, F, C);
        cpu::add_inplace(x, x2, C);
    }
    cpu::rmsnorm_forward(lnf, &rstd, x, w(lay_.final_norm()), 1, C, eps);
    cpu::linear_forward(logits, lnf, w(head_weight()), nullptr, 1, C, V);
    ++dec_pos_;
    return {logits, static_cast<std::size_t>(V)};
}

} // namespace

std::unique_ptr<Transformer> make_cpu_transformer(Model& model) {
    return std::make_unique<CpuTransformer>(model);
}

} // namespace bcd

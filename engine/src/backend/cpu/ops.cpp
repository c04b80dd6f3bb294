#include "backend/cpu/ops.h"

#include "kernels/activation.h"
#include "kernels/norm.h"
#include "kernels/rope.h"
#include "kernels/softmax.h"

#include <algorithm>
#include <cblas.h>
#include <cmath>
#include <cstring>
#include <omp.h>
#include <vector>

// glibc's libmvec has vector variants of expf (_ZGVbN4v_expf, …); declaring them lets GCC
// vectorise the exponentials of softmax and SiLU without -ffast-math (which would also license
// reassociation and break NaN handling everywhere else). glibc does the same under __FAST_MATH__.
#if defined(__GLIBC__) && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
extern "C" float expf(float) noexcept __attribute__((simd("notinbranch")));
#endif

namespace bcd::cpu {

namespace {

// Rows are reduced in this many fixed chunks whatever the thread count, so that a column sum is
// bitwise the same with 1 or 16 threads.
constexpr int kReduceChunks = 16;

// acc[j] += Σ_n f(n, j) over rows n of an [N, M] problem, with a fixed chunking of the rows.
template <class RowFn> void column_reduce(float* acc, int N, int M, RowFn row_fn) {
    const int chunks = std::max(1, std::min(kReduceChunks, N));
    std::vector<float> partial(static_cast<std::size_t>(chunks) * M, 0.0f);
#pragma omp parallel for schedule(static)
    for (int c = 0; c < chunks; ++c) {
        const int r0 = static_cast<int>(static_cast<long>(N) * c / chunks);
        const int r1 = static_cast<int>(static_cast<long>(N) * (c + 1) / chunks);
        float* p = partial.data() + static_cast<std::size_t>(c) * M;
        for (int n = r0; n < r1; ++n) row_fn(n, p);
    }
    for (int c = 0; c < chunks; ++c) {
        const float* p = partial.data() + static_cast<std::size_t>(c) * M;
        for (int j = 0; j < M; ++j) acc[j] += p[j];
    }
}

// Causal attention is computed in blocks of query rows: rows [r0, r1) only see keys [0, r1),
// which skips most of the masked upper triangle without a custom GEMM.
constexpr int kAttnRowBlock = 64;

} // namespace

void linear_forward(float* y, const float* x, const float* w, const float* b, int N, int in,
                    int out) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out, in, 1.0f, x, in, w, in, 0.0f, y,
                out);
    if (b) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; ++n) {
            float* row = y + static_cast<long>(n) * out;
            for (int j = 0; j < out; ++j) row[j] += b[j];
        }
    }
}

void linear_backward(float* dx, float* dw, float* db, const float* dy, const float* x,
                     const float* w, int N, int in, int out, bool accumulate_dx) {
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in, out, 1.0f, dy, out, w, in,
                    accumulate_dx ? 1.0f : 0.0f, dx, in);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, N, 1.0f, dy, out, x, in, 1.0f,
                    dw, in);
    if (db)
        column_reduce(db, N, out, [&](int n, float* p) {
            const float* row = dy + static_cast<long>(n) * out;
            for (int j = 0; j < out; ++j) p[j] += row[j];
        });
}

void rmsnorm_forward(float* y, float* rstd, const float* x, const float* w, int N, int C,
                     float eps) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; ++n) {
        const float* xr = x + static_cast<long>(n) * C;
        float* yr = y + static_cast<long>(n) * C;
        float ss = 0.0f;
        for (int i = 0; i < C; ++i) ss += xr[i] * xr[i];
        const float r = kernels::rmsnorm_rstd(ss, C, eps);
        rstd[n] = r;
        for (int i = 0; i < C; ++i) yr[i] = kernels::rmsnorm_apply(xr[i], r, w[i]);
    }
}

void rmsnorm_apply(float* y, const float* x, const float* rstd, const float* w, int N, int C) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; ++n) {
        const float* xr = x + static_cast<long>(n) * C;
        float* yr = y + static_cast<long>(n) * C;
        const float r = rstd[n];
        for (int i = 0; i < C; ++i) yr[i] = kernels::rmsnorm_apply(xr[i], r, w[i]);
    }
}

void rmsnorm_backward(float* dx, float* dw, const float* dy, const float* x, const float* w,
                      const float* rstd, int N, int C) {
    if (dx) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; ++n) {
            const float* xr = x + static_cast<long>(n) * C;
            const float* dyr = dy + static_cast<long>(n) * C;
            float* dxr = dx + static_cast<long>(n) * C;
            const float r = rstd[n];
            float dot = 0.0f; // Σ (dy∘w)∘x̂
            for (int i = 0; i < C; ++i) dot += kernels::rmsnorm_dot_term(dyr[i], w[i], xr[i], r);
            const float mean = dot / static_cast<float>(C);
            for (int i = 0; i < C; ++i) dxr[i] += kernels::rmsnorm_dx(dyr[i], w[i], xr[i], r, mean);
        }
    }
    if (dw)
        column_reduce(dw, N, C, [&](int n, float* p) {
            const float* xr = x + static_cast<long>(n) * C;
            const float* dyr = dy + static_cast<long>(n) * C;
            const float r = rstd[n];
            for (int i = 0; i < C; ++i) p[i] += kernels::rmsnorm_dw_term(dyr[i], xr[i], r);
        });
}

void rope_forward(float* x, const float* cos, const float* sin, int B, int T, int H, int D) {
    const int half = D / 2;
#pragma omp parallel for schedule(static)
    for (long bt = 0; bt < static_cast<long>(B) * T; ++bt) {
        const int t = static_cast<int>(bt % T);
        const float* c = cos + static_cast<long>(t) * half;
        const float* s = sin + static_cast<long>(t) * half;
        for (int h = 0; h < H; ++h) {
            float* v = x + (bt * H + h) * D;
            for (int i = 0; i < half; ++i) kernels::rope_rotate(v[i], v[i + half], c[i], s[i]);
        }
    }
}

void rope_backward(float* dx, const float* cos, const float* sin, int B, int T, int H, int D) {
    const int half = D / 2;
#pragma omp parallel for schedule(static)
    for (long bt = 0; bt < static_cast<long>(B) * T; ++bt) {
        const int t = static_cast<int>(bt % T);
        const float* c = cos + static_cast<long>(t) * half;
        const float* s = sin + static_cast<long>(t) * half;
        for (int h = 0; h < H; ++h) {
            float* v = dx + (bt * H + h) * D;
            for (int i = 0; i < half; ++i) kernels::rope_rotate_back(v[i], v[i + half], c[i], s[i]);
        }
    }
}

void attention_forward(float* ctx, float* lse, float* scratch, const float* q, const float* k,
                       const float* v, int B, int T, int Hq, int Hkv, int D) {
    const int group = Hq / Hkv;
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    const long qs = static_cast<long>(Hq) * D, ks = static_cast<long>(Hkv) * D;
    const long per_thread = 2L * kAttnRowBlock * T;
#pragma omp parallel for schedule(dynamic, 1)
    for (int bh = 0; bh < B * Hq; ++bh) {
        const int b = bh / Hq, h = bh % Hq, kvh = h / group;
        const float* qh = q + static_cast<long>(b) * T * qs + static_cast<long>(h) * D;
        const float* kh = k + static_cast<long>(b) * T * ks + static_cast<long>(kvh) * D;
        const float* vh = v + static_cast<long>(b) * T * ks + static_cast<long>(kvh) * D;
        float* ch = ctx + static_cast<long>(b) * T * qs + static_cast<long>(h) * D;
        float* lh = lse + static_cast<long>(bh) * T;
        float* P = scratch + omp_get_thread_num() * per_thread; // [rows, r1], ld T
        for (int r0 = 0; r0 < T; r0 += kAttnRowBlock) {
            const int r1 = std::min(T, r0 + kAttnRowBlock), rows = r1 - r0;
            // S[r0:r1, 0:r1] = scale · Q[r0:r1] K[0:r1]^T
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, r1, D, scale, qh + r0 * qs,
                        static_cast<int>(qs), kh, static_cast<int>(ks), 0.0f, P, T);
            for (int i = r0; i < r1; ++i) {
                float* row = P + static_cast<long>(i - r0) * T;
                float mx = row[0];
                for (int j = 1; j <= i; ++j) mx = std::max(mx, row[j]);
                for (int j = 0; j <= i; ++j)
                    row[j] = kernels::softmax_exp(row[j], mx); // vectorised
                float sum = 0.0f;
                for (int j = 0; j <= i; ++j) sum += row[j];
                const float inv = 1.0f / sum;
                for (int j = 0; j <= i; ++j) row[j] *= inv;
                for (int j = i + 1; j < r1; ++j) row[j] = 0.0f;
                lh[i] = kernels::logsumexp(mx, sum);
            }
            // ctx[r0:r1] = P[r0:r1, 0:r1] V[0:r1]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, D, r1, 1.0f, P, T, vh,
                        static_cast<int>(ks), 0.0f, ch + r0 * qs, static_cast<int>(qs));
        }
    }
}

long attention_scratch_floats(int T) {
    return static_cast<long>(omp_get_max_threads()) * 2L * kAttnRowBlock * T;
}

void attention_backward(float* dq, float* dk, float* dv, float* scratch, const float* dctx,
                        const float* ctx, const float* lse, const float* q, const float* k,
                        const float* v, int B, int T, int Hq, int Hkv, int D) {
    const int group = Hq / Hkv;
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    const long qs = static_cast<long>(Hq) * D, ks = static_cast<long>(Hkv) * D;
    const long per_thread = 2L * kAttnRowBlock * T;
    // One task per (batch, kv head): the q heads that share it accumulate into the same dk/dv
    // rows, so they run in one thread, in order.
#pragma omp parallel for schedule(dynamic, 1)
    for (int bk = 0; bk < B * Hkv; ++bk) {
        const int b = bk / Hkv, kvh = bk % Hkv;
        float* P = scratch + omp_get_thread_num() * per_thread; // [rows, r1], ld T
        float* dP = P + static_cast<long>(kAttnRowBlock) * T;
        const float* kh = k + static_cast<long>(b) * T * ks + static_cast<long>(kvh) * D;
        const float* vh = v + static_cast<long>(b) * T * ks + static_cast<long>(kvh) * D;
        float* dkh = dk + static_cast<long>(b) * T * ks + static_cast<long>(kvh) * D;
        float* dvh = dv + static_cast<long>(b) * T * ks + static_cast<long>(kvh) * D;
        for (int t = 0; t < T; ++t) {
            std::memset(dkh + t * ks, 0, sizeof(float) * static_cast<std::size_t>(D));
            std::memset(dvh + t * ks, 0, sizeof(float) * static_cast<std::size_t>(D));
        }
        for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
            const long off = static_cast<long>(b) * T * qs + static_cast<long>(h) * D;
            const float *qh = q + off, *dch = dctx + off, *ch = ctx + off;
            float* dqh = dq + off;
            const float* lh = lse + (static_cast<long>(b) * Hq + h) * T;
            for (int r0 = 0; r0 < T; r0 += kAttnRowBlock) {
                const int r1 = std::min(T, r0 + kAttnRowBlock), rows = r1 - r0;
                // P[r0:r1, 0:r1] = exp(scale · Q K^T − lse), rebuilt from the kept row sums.
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, r1, D, scale,
                            qh + r0 * qs, static_cast<int>(qs), kh, static_cast<int>(ks), 0.0f, P,
                            T);
                for (int i = r0; i < r1; ++i) {
                    float* row = P + static_cast<long>(i - r0) * T;
                    for (int j = 0; j <= i; ++j) row[j] = kernels::softmax_exp(row[j], lh[i]);
                    for (int j = i + 1; j < r1; ++j) row[j] = 0.0f;
                }
                // dV[0:r1] += P^T dctx[r0:r1]
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1, D, rows, 1.0f, P, T,
                            dch + r0 * qs, static_cast<int>(qs), 1.0f, dvh, static_cast<int>(ks));
                // dP = dctx[r0:r1] V[0:r1]^T
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, r1, D, 1.0f,
                            dch + r0 * qs, static_cast<int>(qs), vh, static_cast<int>(ks), 0.0f, dP,
                            T);
                // Softmax backward with the score scale folded in:
                // dS = scale · P ∘ (dP − Σ_j P∘dP), and Σ_j P_ij dP_ij = dctx_i · ctx_i.
                for (int i = r0; i < r1; ++i) {
                    const float* pr = P + static_cast<long>(i - r0) * T;
                    float* dr = dP + static_cast<long>(i - r0) * T;
                    const float* dci = dch + i * qs;
                    const float* ci = ch + i * qs;
                    float dot = 0.0f;
                    for (int d = 0; d < D; ++d) dot += dci[d] * ci[d];
                    for (int j = 0; j <= i; ++j)
                        dr[j] = kernels::attention_dscore(pr[j], dr[j], dot, scale);
                    for (int j = i + 1; j < r1; ++j) dr[j] = 0.0f;
                }
                // dQ[r0:r1] = dS K[0:r1]
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, D, r1, 1.0f, dP, T, kh,
                            static_cast<int>(ks), 0.0f, dqh + r0 * qs, static_cast<int>(qs));
                // dK[0:r1] += dS^T Q[r0:r1]
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1, D, rows, 1.0f, dP, T,
                            qh + r0 * qs, static_cast<int>(qs), 1.0f, dkh, static_cast<int>(ks));
            }
        }
    }
}

void swiglu_forward(float* h, const float* gate, const float* up, long n) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) h[i] = kernels::swiglu(gate[i], up[i]);
}

void swiglu_backward(float* dgate, float* dup, const float* dh, const float* gate, const float* up,
                     long n) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) {
        // Read before dgate (which may alias dh) is written.
        const float g = gate[i], d = dh[i], u = up[i];
        float dg, du;
        kernels::swiglu_back(d, g, u, dg, du);
        dup[i] = du;
        dgate[i] = dg;
    }
}

void embedding_forward(float* x, const int32_t* tokens, const float* wte, int N, int C) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; ++n)
        std::memcpy(x + static_cast<long>(n) * C, wte + static_cast<long>(tokens[n]) * C,
                    sizeof(float) * static_cast<std::size_t>(C));
}

void embedding_backward(float* dwte, const float* dx, const int32_t* tokens, int N, int C) {
    // Each thread owns a slice of the columns for every row: no races, and the order of the
    // additions into any element is the row order, whatever the thread count.
#pragma omp parallel
    {
        const int nt = omp_get_num_threads(), t = omp_get_thread_num();
        const int c0 = static_cast<int>(static_cast<long>(C) * t / nt);
        const int c1 = static_cast<int>(static_cast<long>(C) * (t + 1) / nt);
        for (int n = 0; n < N; ++n) {
            float* dst = dwte + static_cast<long>(tokens[n]) * C;
            const float* src = dx + static_cast<long>(n) * C;
            for (int c = c0; c < c1; ++c) dst[c] += src[c];
        }
    }
}

double cross_entropy_forward(float* lse, float* losses, const float* logits, const int32_t* targets,
                             int N, int V, long* count) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; ++n) {
        const float* row = logits + static_cast<long>(n) * V;
        float mx = row[0];
        for (int j = 1; j < V; ++j) mx = std::max(mx, row[j]);
        double sum = 0.0;
        for (int j = 0; j < V; ++j) sum += kernels::softmax_exp_wide(row[j], mx);
        lse[n] = kernels::logsumexp(mx, sum);
        losses[n] = targets[n] >= 0 ? kernels::cross_entropy_loss(lse[n], row[targets[n]]) : 0.0f;
    }
    double total = 0.0;
    long c = 0;
    for (int n = 0; n < N; ++n) {
        if (targets[n] < 0) continue;
        total += losses[n];
        ++c;
    }
    *count = c;
    return total;
}

void cross_entropy_backward(float* logits_to_dlogits, const float* lse, const int32_t* targets,
                            int N, int V, float scale) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; ++n) {
        float* row = logits_to_dlogits + static_cast<long>(n) * V;
        if (targets[n] < 0) {
            std::memset(row, 0, sizeof(float) * static_cast<std::size_t>(V));
            continue;
        }
        const float l = lse[n], target_logit = row[targets[n]];
        for (int j = 0; j < V; ++j) row[j] = kernels::cross_entropy_dlogit(row[j], l, scale, false);
        row[targets[n]] = kernels::cross_entropy_dlogit(target_logit, l, scale, true);
    }
}

void add_inplace(float* y, const float* x, long n) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) y[i] += x[i];
}

} // namespace bcd::cpu

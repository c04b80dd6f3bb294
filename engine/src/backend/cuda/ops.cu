// The CUDA backend's kernels (ops.h). Storage types: float, or bf16 as its 16 bits (uint16_t),
// converted with kernels/bf16.h; arithmetic in fp32 through kernels/*.h, the CPU reference's own
// element functions.

#include "backend/cuda/ops.h"
#include "kernels/activation.h"
#include "kernels/bf16.h"
#include "kernels/norm.h"
#include "kernels/rope.h"
#include "kernels/softmax.h"

#include <cub/block/block_reduce.cuh>
#include <stdexcept>
#include <string>

namespace bcd::cuda::ops {

namespace {

using bf16 = std::uint16_t;

__device__ __forceinline__ float ld(const float* p, std::size_t i) {
    return p[i];
}
__device__ __forceinline__ float ld(const bf16* p, std::size_t i) {
    return kernels::bf16_to_float(p[i]);
}
__device__ __forceinline__ void st(float* p, std::size_t i, float x) {
    p[i] = x;
}
__device__ __forceinline__ void st(bf16* p, std::size_t i, float x) {
    p[i] = kernels::float_to_bf16(x);
}

struct MaxOp {
    __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

constexpr int kThreads = 256;
using Reduce = cub::BlockReduce<float, kThreads>;
using ReduceD = cub::BlockReduce<double, kThreads>;

unsigned blocks_for(std::size_t n) {
    const std::size_t b = (n + kThreads - 1) / kThreads;
    return static_cast<unsigned>(b < 65535u * 16u ? (b == 0 ? 1 : b) : 65535u * 16u);
}

void check_launch(const char* what) {
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        throw std::runtime_error(std::string("CUDA kernel ") + what + ": " + cudaGetErrorString(e));
}

// Dispatches a kernel template on the storage type.
#define BCD_DISPATCH(dt, T, ...)                                                                   \
    do {                                                                                           \
        if ((dt) == Dtype::BF16) {                                                                 \
            using T = bf16;                                                                        \
            __VA_ARGS__;                                                                           \
        } else {                                                                                   \
            using T = float;                                                                       \
            __VA_ARGS__;                                                                           \
        }                                                                                          \
    } while (0)

// --- embedding -------------------------------------------------------------------------------

template <class T>
__global__ void k_embedding_fwd(T* out, const std::int32_t* ids, const T* table, int N, int C) {
    const std::size_t total = static_cast<std::size_t>(N) * C;
    for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
        const std::size_t n = i / C, c = i % C;
        out[i] = table[static_cast<std::size_t>(ids[n]) * C + c];
    }
}

__global__ void k_embedding_bwd(float* dtable, const float* dx, const std::int32_t* ids, int N,
                                int C) {
    const std::size_t total = static_cast<std::size_t>(N) * C;
    for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
        const std::size_t n = i / C, c = i % C;
        atomicAdd(dtable + static_cast<std::size_t>(ids[n]) * C + c, dx[i]);
    }
}

// --- RMSNorm ---------------------------------------------------------------------------------

template <class T>
__global__ void k_rmsnorm_fwd(T* out, float* rstd, const T* x, const T* w, int C, float eps) {
    __shared__ typename Reduce::TempStorage tmp;
    __shared__ float r_s;
    const std::size_t row = blockIdx.x;
    const T* xr = x + row * C;
    float ss = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        const float v = ld(xr, c);
        ss += v * v;
    }
    const float total = Reduce(tmp).Sum(ss);
    if (threadIdx.x == 0) {
        r_s = kernels::rmsnorm_rstd(total, C, eps);
        rstd[row] = r_s;
    }
    __syncthreads();
    const float r = r_s;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        st(out, row * C + c, kernels::rmsnorm_apply(ld(xr, c), r, ld(w, c)));
}

template <class T>
__global__ void k_rmsnorm_apply(T* out, const T* x, const float* rstd, const T* w, int N, int C) {
    const std::size_t total = static_cast<std::size_t>(N) * C;
    for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
        st(out, i, kernels::rmsnorm_apply(ld(x, i), rstd[i / C], ld(w, i % C)));
}

template <class T>
__global__ void k_rmsnorm_bwd_dx(float* dx, const float* dy, const T* x, const T* w,
                                 const float* rstd, int C) {
    __shared__ typename Reduce::TempStorage tmp;
    __shared__ float mean_s;
    const std::size_t row = blockIdx.x;
    const float r = rstd[row];
    float dot = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        dot += kernels::rmsnorm_dot_term(dy[row * C + c], ld(w, c), ld(x, row * C + c), r);
    const float total = Reduce(tmp).Sum(dot);
    if (threadIdx.x == 0) mean_s = total / static_cast<float>(C);
    __syncthreads();
    const float mean = mean_s;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        dx[row * C + c] +=
            kernels::rmsnorm_dx(dy[row * C + c], ld(w, c), ld(x, row * C + c), r, mean);
}

// Column sums: one thread per column, rows in order (deterministic, coalesced across threads).
template <class T>
__global__ void k_rmsnorm_bwd_dw(float* dw, const float* dy, const T* x, const float* rstd, int N,
                                 int C) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float acc = 0.0f;
    for (int n = 0; n < N; ++n) {
        const std::size_t i = static_cast<std::size_t>(n) * C + c;
        acc += kernels::rmsnorm_dw_term(dy[i], ld(x, i), rstd[n]);
    }
    dw[c] += acc;
}

// --- heads and RoPE ---------------------------------------------------------------------------

// One thread per pair (i, i + D/2) of one (b, t, h).
template <class T>
__global__ void k_to_heads(T* dst, const T* src, const float* cs, const float* sn, int B, int T_,
                           int H, int D, int pos0) {
    const int half = D / 2;
    const std::size_t total = static_cast<std::size_t>(B) * T_ * H * half;
    for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
        const int e = static_cast<int>(i % half);
        const std::size_t r = i / half;
        const int h = static_cast<int>(r % H);
        const std::size_t bt = r / H;
        const int t = static_cast<int>(bt % T_);
        const std::size_t b = bt / T_;
        const std::size_t s = (bt * H + h) * D;
        const std::size_t d = ((b * H + h) * T_ + t) * D;
        float a = ld(src, s + e), c = ld(src, s + e + half);
        if (cs) {
            const std::size_t ti = static_cast<std::size_t>(pos0 + t) * half + e;
            kernels::rope_rotate(a, c, cs[ti], sn[ti]);
        }
        st(dst, d + e, a);
        st(dst, d + e + half, c);
    }
}

template <class T>
__global__ void k_from_heads(T* dst, const T* src, const float* cs, const float* sn, int B, int T_,
                             int H, int D) {
    const int half = D / 2;
    const std::size_t total = static_cast<std::size_t>(B) * T_ * H * half;
    for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
        const int e = static_cast<int>(i % half);
        const std::size_t r = i / half;
        const int h = static_cast<int>(r % H);
        const std::size_t bt = r / H;
        const int t = static_cast<int>(bt % T_);
        const std::size_t b = bt / T_;
        const std::size_t d = (bt * H + h) * D;
        const std::size_t s = ((b * H + h) * T_ + t) * D;
        float a = ld(src, s + e), c = ld(src, s + e + half);
        if (cs) {
            const std::size_t ti = static_cast<std::size_t>(t) * half + e;
            kernels::rope_rotate_back(a, c, cs[ti], sn[ti]);
        }
        st(dst, d + e, a);
        st(dst, d + e + half, c);
    }
}

// --- attention softmax ------------------------------------------------------------------------

template <class T>
__global__ void k_attn_softmax(T* P, float* lse, const float* S, int T_, float scale) {
    __shared__ typename Reduce::TempStorage tmp;
    __shared__ float m_s, l_s;
    const std::size_t row = blockIdx.x;
    const int i = static_cast<int>(row % T_);
    const float* s = S + row * T_;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j <= i; j += blockDim.x) mx = fmaxf(mx, s[j] * scale);
    const float m = Reduce(tmp).Reduce(mx, MaxOp());
    if (threadIdx.x == 0) m_s = m;
    __syncthreads();
    float sum = 0.0f;
    for (int j = threadIdx.x; j <= i; j += blockDim.x)
        sum += kernels::softmax_exp(s[j] * scale, m_s);
    const float total = Reduce(tmp).Sum(sum);
    if (threadIdx.x == 0) {
        l_s = kernels::logsumexp(m_s, total);
        lse[row] = l_s;
    }
    __syncthreads();
    for (int j = threadIdx.x; j < T_; j += blockDim.x)
        st(P, row * T_ + j, j <= i ? kernels::softmax_exp(s[j] * scale, l_s) : 0.0f);
}

template <class T>
__global__ void k_attn_probs(T* P, const float* S, const float* lse, int T_, float scale) {
    const std::size_t row = blockIdx.x;
    const int i = static_cast<int>(row % T_);
    const float l = lse[row];
    for (int j = threadIdx.x; j < T_; j += blockDim.x)
        st(P, row * T_ + j, j <= i ? kernels::softmax_exp(S[row * T_ + j] * scale, l) : 0.0f);
}

template <class T>
__global__ void k_attn_softmax_bwd(T* PdS, const float* dP, int T_, float scale) {
    __shared__ typename Reduce::TempStorage tmp;
    __shared__ float dot_s;
    const std::size_t row = blockIdx.x;
    const int i = static_cast<int>(row % T_);
    float dot = 0.0f;
    for (int j = threadIdx.x; j <= i; j += blockDim.x)
        dot += ld(PdS, row * T_ + j) * dP[row * T_ + j];
    const float total = Reduce(tmp).Sum(dot);
    if (threadIdx.x == 0) dot_s = total;
    __syncthreads();
    for (int j = threadIdx.x; j < T_; j += blockDim.x) {
        const std::size_t k = row * T_ + j;
        st(PdS, k, j <= i ? kernels::attention_dscore(ld(PdS, k), dP[k], dot_s, scale) : 0.0f);
    }
}

// One block per head: scores over the cache in scratch [H, pos + 1], then the weighted sum.
template <class T>
__global__ void k_decode_attention(T* ctx, const T* q, const T* kc, const T* vc, float* scratch,
                                   int pos, int H, int KVH, int D, float scale) {
    __shared__ typename Reduce::TempStorage tmp;
    __shared__ float m_s, sum_s;
    const int h = blockIdx.x, kvh = h / (H / KVH), KD = KVH * D;
    float* sc = scratch + static_cast<std::size_t>(h) * (pos + 1);
    float mx = -INFINITY;
    for (int j = threadIdx.x; j <= pos; j += blockDim.x) {
        float d = 0.0f;
        for (int e = 0; e < D; ++e)
            d += ld(q, static_cast<std::size_t>(h) * D + e) *
                 ld(kc, static_cast<std::size_t>(j) * KD + static_cast<std::size_t>(kvh) * D + e);
        sc[j] = d * scale;
        mx = fmaxf(mx, sc[j]);
    }
    const float m = Reduce(tmp).Reduce(mx, MaxOp());
    if (threadIdx.x == 0) m_s = m;
    __syncthreads();
    float sum = 0.0f;
    for (int j = threadIdx.x; j <= pos; j += blockDim.x) {
        sc[j] = kernels::softmax_exp(sc[j], m_s);
        sum += sc[j];
    }
    const float total = Reduce(tmp).Sum(sum);
    if (threadIdx.x == 0) sum_s = total;
    __syncthreads();
    for (int e = threadIdx.x; e < D; e += blockDim.x) {
        float acc = 0.0f;
        for (int j = 0; j <= pos; ++j)
            acc += sc[j] *
                   ld(vc, static_cast<std::size_t>(j) * KD + static_cast<std::size_t>(kvh) * D + e);
        st(ctx, static_cast<std::size_t>(h) * D + e, acc / sum_s);
    }
}

// --- element-wise -----------------------------------------------------------------------------

template <class T> __global__ void k_swiglu_fwd(T* h, const T* g, const T* u, std::size_t n) {
    for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
        st(h, i, kernels::swiglu(ld(g, i), ld(u, i)));
}

template <class T>
__global__ void k_swiglu_bwd(T* dg, T* du, const T* dh, const T* g, const T* u, std::size_t n) {
    for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
        float a, b;
        kernels::swiglu_back(ld(dh, i), ld(g, i), ld(u, i), a, b);
        st(dg, i, a);
        st(du, i, b);
    }
}

template <class T> __global__ void k_add(T* out, const T* a, std::size_t n) {
    for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
        st(out, i, ld(out, i) + ld(a, i));
}

template <class T> __global__ void k_add_bias(T* y, const T* b, int N, int O) {
    const std::size_t n = static_cast<std::size_t>(N) * O;
    for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
        st(y, i, ld(y, i) + ld(b, i % O));
}

template <class T> __global__ void k_bias_grad(float* db, const T* dy, int N, int O) {
    const int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= O) return;
    float acc = 0.0f;
    for (int n = 0; n < N; ++n) acc += ld(dy, static_cast<std::size_t>(n) * O + o);
    db[o] += acc;
}

template <class T> __global__ void k_to_act(T* dst, const float* src, std::size_t n) {
    for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
        st(dst, i, src[i]);
}

// --- cross-entropy ----------------------------------------------------------------------------

__global__ void k_ce_fwd(float* lse, float* loss, const float* logits, const std::int32_t* tg,
                         int V) {
    __shared__ typename Reduce::TempStorage tmp;
    __shared__ float m_s;
    const std::size_t row = blockIdx.x;
    const float* x = logits + row * V;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < V; j += blockDim.x) mx = fmaxf(mx, x[j]);
    const float m = Reduce(tmp).Reduce(mx, MaxOp());
    if (threadIdx.x == 0) m_s = m;
    __syncthreads();
    float sum = 0.0f;
    for (int j = threadIdx.x; j < V; j += blockDim.x) sum += kernels::softmax_exp(x[j], m_s);
    const float total = Reduce(tmp).Sum(sum);
    if (threadIdx.x == 0) {
        const float l = kernels::logsumexp(m_s, total);
        lse[row] = l;
        const int t = tg[row];
        loss[row] = t >= 0 ? kernels::cross_entropy_loss(l, x[t]) : 0.0f;
    }
}

template <class T>
__global__ void k_ce_bwd(T* d, const float* logits, const float* lse, const std::int32_t* tg, int V,
                         float scale) {
    const std::size_t row = blockIdx.x;
    const int t = tg[row];
    const float l = lse[row];
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        const std::size_t k = row * V + j;
        st(d, k, t >= 0 ? kernels::cross_entropy_dlogit(logits[k], l, scale, j == t) : 0.0f);
    }
}

// --- reductions and the optimizer ---------------------------------------------------------------

template <bool Square> __global__ void k_partials(double* partials, const float* x, std::size_t n) {
    __shared__ typename ReduceD::TempStorage tmp;
    double acc = 0.0;
    for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
        const double v = x[i];
        acc += Square ? v * v : v;
    }
    const double total = ReduceD(tmp).Sum(acc);
    if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

__global__ void k_final(double* out, const double* partials, int n) {
    __shared__ typename ReduceD::TempStorage tmp;
    double acc = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) acc += partials[i];
    const double total = ReduceD(tmp).Sum(acc);
    if (threadIdx.x == 0) *out = total;
}

__global__ void k_scale(float* x, std::size_t n, float k) {
    for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
        x[i] *= k;
}

template <class T>
__global__ void k_adamw(float* p, const float* g, float* m, float* v, T* w, std::size_t n,
                        kernels::AdamWConstants k) {
    for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
        float pi = p[i], mi = m[i], vi = v[i];
        kernels::adamw_update(pi, mi, vi, g[i], k);
        p[i] = pi;
        m[i] = mi;
        v[i] = vi;
        st(w, i, pi);
    }
}

template <class T>
__global__ void k_sgd(float* p, const float* g, float* buf, T* w, std::size_t n,
                      kernels::SgdConstants k) {
    for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
        float pi = p[i];
        kernels::sgd_update(pi, buf ? buf + i : nullptr, g[i], k);
        p[i] = pi;
        st(w, i, pi);
    }
}

} // namespace

void embedding_forward(Dtype dt, void* out, const std::int32_t* ids, const void* table, int N,
                       int C, cudaStream_t s) {
    BCD_DISPATCH(dt, T,
                 k_embedding_fwd<T><<<blocks_for(std::size_t(N) * C), kThreads, 0, s>>>(
                     static_cast<T*>(out), ids, static_cast<const T*>(table), N, C));
    check_launch("embedding_forward");
}

void embedding_backward(float* dtable, const float* dx, const std::int32_t* ids, int N, int C,
                        cudaStream_t s) {
    k_embedding_bwd<<<blocks_for(std::size_t(N) * C), kThreads, 0, s>>>(dtable, dx, ids, N, C);
    check_launch("embedding_backward");
}

void rmsnorm_forward(Dtype dt, void* out, float* rstd, const void* x, const void* w, int N, int C,
                     float eps, cudaStream_t s) {
    BCD_DISPATCH(dt, T,
                 k_rmsnorm_fwd<T>
                 <<<N, kThreads, 0, s>>>(static_cast<T*>(out), rstd, static_cast<const T*>(x),
                                         static_cast<const T*>(w), C, eps));
    check_launch("rmsnorm_forward");
}

void rmsnorm_apply(Dtype dt, void* out, const void* x, const float* rstd, const void* w, int N,
                   int C, cudaStream_t s) {
    BCD_DISPATCH(
        dt, T,
        k_rmsnorm_apply<T><<<blocks_for(std::size_t(N) * C), kThreads, 0, s>>>(
            static_cast<T*>(out), static_cast<const T*>(x), rstd, static_cast<const T*>(w), N, C));
    check_launch("rmsnorm_apply");
}

void rmsnorm_backward_dx(Dtype dt, float* dx, const float* dy, const void* x, const void* w,
                         const float* rstd, int N, int C, cudaStream_t s) {
    BCD_DISPATCH(dt, T,
                 k_rmsnorm_bwd_dx<T><<<N, kThreads, 0, s>>>(dx, dy, static_cast<const T*>(x),
                                                            static_cast<const T*>(w), rstd, C));
    check_launch("rmsnorm_backward_dx");
}

void rmsnorm_backward_dw(Dtype dt, float* dw, const float* dy, const void* x, const float* rstd,
                         int N, int C, cudaStream_t s) {
    BCD_DISPATCH(dt, T,
                 k_rmsnorm_bwd_dw<T><<<(C + kThreads - 1) / kThreads, kThreads, 0, s>>>(
                     dw, dy, static_cast<const T*>(x), rstd, N, C));
    check_launch("rmsnorm_backward_dw");
}

void to_heads(Dtype dt, void* dst, const void* src, const float* cs, const float* sn, int B, int T_,
              int H, int D, int pos0, cudaStream_t s) {
    BCD_DISPATCH(dt, T,
                 k_to_heads<T><<<blocks_for(std::size_t(B) * T_ * H * (D / 2)), kThreads, 0, s>>>(
                     static_cast<T*>(dst), static_cast<const T*>(src), cs, sn, B, T_, H, D, pos0));
    check_launch("to_heads");
}

void from_heads(Dtype dt, void* dst, const void* src, const float* cs, const float* sn, int B,
                int T_, int H, int D, cudaStream_t s) {
    BCD_DISPATCH(dt, T,
                 k_from_heads<T><<<blocks_for(std::size_t(B) * T_ * H * (D / 2)), kThreads, 0, s>>>(
                     static_cast<T*>(dst), static_cast<const T*>(src), cs, sn, B, T_, H, D));
    check_launch("from_heads");
}

void attention_softmax(Dtype dt, void* P, float* lse, const float* S, int rows, int T_, float scale,
                       cudaStream_t s) {
    BCD_DISPATCH(
        dt, T, k_attn_softmax<T><<<rows, kThreads, 0, s>>>(static_cast<T*>(P), lse, S, T_, scale));
    check_launch("attention_softmax");
}

void attention_probs(Dtype dt, void* P, const float* S, const float* lse, int rows, int T_,
                     float scale, cudaStream_t s) {
    BCD_DISPATCH(dt, T,
                 k_attn_probs<T><<<rows, kThreads, 0, s>>>(static_cast<T*>(P), S, lse, T_, scale));
    check_launch("attention_probs");
}

void attention_softmax_backward(Dtype dt, void* PdS, const float* dP, int rows, int T_, float scale,
                                cudaStream_t s) {
    BCD_DISPATCH(dt, T,
                 k_attn_softmax_bwd<T>
                 <<<rows, kThreads, 0, s>>>(static_cast<T*>(PdS), dP, T_, scale));
    check_launch("attention_softmax_backward");
}

void decode_attention(Dtype dt, void* ctx, const void* q, const void* kcache, const void* vcache,
                      float* scratch, int pos, int H, int KVH, int D, float scale, cudaStream_t s) {
    BCD_DISPATCH(dt, T,
                 k_decode_attention<T><<<H, kThreads, 0, s>>>(
                     static_cast<T*>(ctx), static_cast<const T*>(q), static_cast<const T*>(kcache),
                     static_cast<const T*>(vcache), scratch, pos, H, KVH, D, scale));
    check_launch("decode_attention");
}

void swiglu_forward(Dtype dt, void* h, const void* gate, const void* up, std::size_t n,
                    cudaStream_t s) {
    BCD_DISPATCH(dt, T,
                 k_swiglu_fwd<T><<<blocks_for(n), kThreads, 0, s>>>(static_cast<T*>(h),
                                                                    static_cast<const T*>(gate),
                                                                    static_cast<const T*>(up), n));
    check_launch("swiglu_forward");
}

void swiglu_backward(Dtype dt, void* dgate, void* dup, const void* dh, const void* gate,
                     const void* up, std::size_t n, cudaStream_t s) {
    BCD_DISPATCH(dt, T,
                 k_swiglu_bwd<T><<<blocks_for(n), kThreads, 0, s>>>(
                     static_cast<T*>(dgate), static_cast<T*>(dup), static_cast<const T*>(dh),
                     static_cast<const T*>(gate), static_cast<const T*>(up), n));
    check_launch("swiglu_backward");
}

void add_inplace(Dtype dt, void* out, const void* a, std::size_t n, cudaStream_t s) {
    BCD_DISPATCH(dt, T,
                 k_add<T><<<blocks_for(n), kThreads, 0, s>>>(static_cast<T*>(out),
                                                             static_cast<const T*>(a), n));
    check_launch("add_inplace");
}

void add_bias(Dtype dt, void* y, const void* bias, int N, int O, cudaStream_t s) {
    BCD_DISPATCH(dt, T,
                 k_add_bias<T><<<blocks_for(std::size_t(N) * O), kThreads, 0, s>>>(
                     static_cast<T*>(y), static_cast<const T*>(bias), N, O));
    check_launch("add_bias");
}

void bias_grad(Dtype dt, float* db, const void* dy, int N, int O, cudaStream_t s) {
    BCD_DISPATCH(dt, T,
                 k_bias_grad<T><<<(O + kThreads - 1) / kThreads, kThreads, 0, s>>>(
                     db, static_cast<const T*>(dy), N, O));
    check_launch("bias_grad");
}

void to_act(Dtype dt, void* dst, const float* src, std::size_t n, cudaStream_t s) {
    BCD_DISPATCH(dt, T,
                 k_to_act<T><<<blocks_for(n), kThreads, 0, s>>>(static_cast<T*>(dst), src, n));
    check_launch("to_act");
}

void cross_entropy_forward(float* lse, float* loss, const float* logits,
                           const std::int32_t* targets, int rows, int V, cudaStream_t s) {
    k_ce_fwd<<<rows, kThreads, 0, s>>>(lse, loss, logits, targets, V);
    check_launch("cross_entropy_forward");
}

void cross_entropy_backward(Dtype dt, void* dlogits, const float* logits, const float* lse,
                            const std::int32_t* targets, int rows, int V, float scale,
                            cudaStream_t s) {
    BCD_DISPATCH(dt, T,
                 k_ce_bwd<T><<<rows, kThreads, 0, s>>>(static_cast<T*>(dlogits), logits, lse,
                                                       targets, V, scale));
    check_launch("cross_entropy_backward");
}

void sum(double* out, const float* x, std::size_t n, double* partials, cudaStream_t s) {
    k_partials<false><<<kReducePartials, kThreads, 0, s>>>(partials, x, n);
    k_final<<<1, kThreads, 0, s>>>(out, partials, kReducePartials);
    check_launch("sum");
}

void sum_squares(double* out, const float* x, std::size_t n, double* partials, cudaStream_t s) {
    k_partials<true><<<kReducePartials, kThreads, 0, s>>>(partials, x, n);
    k_final<<<1, kThreads, 0, s>>>(out, partials, kReducePartials);
    check_launch("sum_squares");
}

void scale(float* x, std::size_t n, float k, cudaStream_t s) {
    k_scale<<<blocks_for(n), kThreads, 0, s>>>(x, n, k);
    check_launch("scale");
}

void adamw_step(Dtype dt, float* master, const float* grad, float* m, float* v, void* weights,
                std::size_t n, const kernels::AdamWConstants& k, cudaStream_t s) {
    BCD_DISPATCH(dt, T,
                 k_adamw<T><<<blocks_for(n), kThreads, 0, s>>>(master, grad, m, v,
                                                               static_cast<T*>(weights), n, k));
    check_launch("adamw_step");
}

void sgd_step(Dtype dt, float* master, const float* grad, float* buf, void* weights, std::size_t n,
              const kernels::SgdConstants& k, cudaStream_t s) {
    BCD_DISPATCH(dt, T,
                 k_sgd<T><<<blocks_for(n), kThreads, 0, s>>>(master, grad, buf,
                                                             static_cast<T*>(weights), n, k));
    check_launch("sgd_step");
}

} // namespace bcd::cuda::ops

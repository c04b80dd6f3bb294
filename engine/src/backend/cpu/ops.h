#pragma once
// fp32 CPU kernels of the Llama-family transformer: the reference every other backend is checked
// against. Each forward has its backward; backward functions *accumulate* (+=) into parameter
// gradients so that gradient accumulation and tied weights work, and write (=) or accumulate into
// input gradients as documented. Any gradient pointer may be null: that gradient is not computed.
//
// Layouts: activations are row-major [N, features] with N = B*T tokens (b-major). Attention
// tensors keep that token-major layout ([B, T, heads, head_dim]); per-head matrices are strided
// views, so no transposes are materialised. Linear weights are HF's [out, in].
//
// Determinism: results depend only on the inputs and the OpenMP thread count. Reductions over
// rows (bias, norm-weight gradients) use a fixed chunking and sum the chunks in order.

#include <cstdint>

namespace bcd::cpu {

// y[N,out] = x[N,in] · W[out,in]^T (+ b)
void linear_forward(float* y, const float* x, const float* w, const float* b, int N, int in,
                    int out);
// dx[N,in] (=, or += when accumulate_dx) dy·W; dw[out,in] += dy^T·x; db[out] += Σ_rows dy.
void linear_backward(float* dx, float* dw, float* db, const float* dy, const float* x,
                     const float* w, int N, int in, int out, bool accumulate_dx);

// y = x / sqrt(mean(x²) + eps) * w, per row of C; rstd[N] is kept for the backward.
void rmsnorm_forward(float* y, float* rstd, const float* x, const float* w, int N, int C,
                     float eps);
// y = x · rstd · w with a kept rstd: bitwise rmsnorm_forward's y (the same expression).
void rmsnorm_apply(float* y, const float* x, const float* rstd, const float* w, int N, int C);
// dx += ∂/∂x; dw += ∂/∂w. dx may be null (then only dw) and dw may be null.
void rmsnorm_backward(float* dx, float* dw, const float* dy, const float* x, const float* w,
                      const float* rstd, int N, int C);

// RoPE in HF's rotate_half convention on x[B,T,H,D] in place: for i < D/2, with c = cos[t,i] and
// s = sin[t,i]: (x_i, x_{i+D/2}) -> (x_i c - x_{i+D/2} s, x_{i+D/2} c + x_i s).
void rope_forward(float* x, const float* cos, const float* sin, int B, int T, int H, int D);
// The transpose (inverse rotation) applied in place to the gradient.
void rope_backward(float* dx, const float* cos, const float* sin, int B, int T, int H, int D);

// Causal grouped-query attention. q[B,T,Hq,D], k,v[B,T,Hkv,D]; ctx[B,T,Hq,D] receives the
// output and lse[B,Hq,T] each row's log-sum-exp of the scaled scores — all the backward needs
// besides q, k, v and ctx: the probabilities are recomputed there block by block, so memory is
// O(T) per head instead of O(T²). scratch: attention_scratch_floats(T).
void attention_forward(float* ctx, float* lse, float* scratch, const float* q, const float* k,
                       const float* v, int B, int T, int Hq, int Hkv, int D);
// dq (=), dk and dv (=) from dctx. scratch: attention_scratch_floats(T).
void attention_backward(float* dq, float* dk, float* dv, float* scratch, const float* dctx,
                        const float* ctx, const float* lse, const float* q, const float* k,
                        const float* v, int B, int T, int Hq, int Hkv, int D);
// Floats of scratch the attention kernels need with the current OpenMP thread count.
long attention_scratch_floats(int T);

// h = silu(gate) * up, elementwise over n.
void swiglu_forward(float* h, const float* gate, const float* up, long n);
// dgate = dh * up * silu'(gate); dup = dh * silu(gate)  (both =). dgate may be dh itself.
void swiglu_backward(float* dgate, float* dup, const float* dh, const float* gate, const float* up,
                     long n);

// x[N,C] = wte[tokens[n], :]
void embedding_forward(float* x, const int32_t* tokens, const float* wte, int N, int C);
// dwte[tokens[n], :] += dx[n, :]
void embedding_backward(float* dwte, const float* dx, const int32_t* tokens, int N, int C);

// Per row: lse[n] = logsumexp(logits[n,:]); losses[n] = lse - logits[n, target] for targets
// >= 0, 0 for ignored targets (-100). Returns Σ losses (in double) and sets *count to the number
// of rows with a target.
double cross_entropy_forward(float* lse, float* losses, const float* logits, const int32_t* targets,
                             int N, int V, long* count);
// Overwrites logits with scale · ∂(Σ losses)/∂logits = scale·(softmax − onehot) (zero rows for
// ignored targets).
void cross_entropy_backward(float* logits_to_dlogits, const float* lse, const int32_t* targets,
                            int N, int V, float scale);

// y += x over n floats.
void add_inplace(float* y, const float* x, long n);

} // namespace bcd::cpu

#pragma once
// The CUDA backend's kernels, as launchers on a stream. Tensors are row-major; "act" tensors are
// in the activation type `dt` (bf16 or fp32, host_plan.h Placement), the others fp32. The math of
// every element comes from kernels/ (the CPU reference's own functions). Reductions over a row or
// a column are done by one thread block with CUB's BlockReduce, in a fixed order: results do not
// depend on timing (the embedding's gradient, a scatter with atomics, is the exception).

#include "backend/cuda/host_plan.h"
#include "kernels/optim.h"

#include <cstddef>
#include <cstdint>
#include <cuda_runtime_api.h>

namespace bcd::cuda::ops {

// out[n, :] = table[ids[n], :]
void embedding_forward(Dtype dt, void* out, const std::int32_t* ids, const void* table, int N,
                       int C, cudaStream_t st);
// dtable[ids[n], :] += dx[n, :] (fp32)
void embedding_backward(float* dtable, const float* dx, const std::int32_t* ids, int N, int C,
                        cudaStream_t st);

// RMSNorm: out = x · rstd · w, rstd[n] saved.
void rmsnorm_forward(Dtype dt, void* out, float* rstd, const void* x, const void* w, int N, int C,
                     float eps, cudaStream_t st);
// out = x · rstd · w from a saved rstd (the backward's rebuild of a norm's output).
void rmsnorm_apply(Dtype dt, void* out, const void* x, const float* rstd, const void* w, int N,
                   int C, cudaStream_t st);
// dx += ∂/∂x (when dx), given dy (fp32).
void rmsnorm_backward_dx(Dtype dt, float* dx, const float* dy, const void* x, const void* w,
                         const float* rstd, int N, int C, cudaStream_t st);
// dw += Σ_n dy · x · rstd (column sums, fp32).
void rmsnorm_backward_dw(Dtype dt, float* dw, const float* dy, const void* x, const float* rstd,
                         int N, int C, cudaStream_t st);

// [B, T, H, D] -> [B, H, T, D], rotating each pair (i, i + D/2) by the angle of position pos0 + t
// when cs/sn are given (cos, sin tables [rows, D/2]).
void to_heads(Dtype dt, void* dst, const void* src, const float* cs, const float* sn, int B, int T,
              int H, int D, int pos0, cudaStream_t st);
// [B, H, T, D] -> [B, T, H, D], applying the inverse rotation when cs/sn are given (gradients).
void from_heads(Dtype dt, void* dst, const void* src, const float* cs, const float* sn, int B,
                int T, int H, int D, cudaStream_t st);

// Causal softmax of score rows S [rows = B·H·T, T] (fp32, unscaled Q·Kᵀ): P = exp(scale·s − lse)
// for j ≤ i (row i = row % T), 0 above; lse saved per row.
void attention_softmax(Dtype dt, void* P, float* lse, const float* S, int rows, int T, float scale,
                       cudaStream_t st);
// The same probabilities again from a saved lse (the backward).
void attention_probs(Dtype dt, void* P, const float* S, const float* lse, int rows, int T,
                     float scale, cudaStream_t st);
// dS = scale · P · (dP − Σ_j P_j dP_j), written over P.
void attention_softmax_backward(Dtype dt, void* P_dS, const float* dP, int rows, int T, float scale,
                                cudaStream_t st);
// One decoding step's attention: q [H, D] against the cache [0..pos] of [max, KVH·D].
void decode_attention(Dtype dt, void* ctx, const void* q, const void* kcache, const void* vcache,
                      float* scratch, int pos, int H, int KVH, int D, float scale, cudaStream_t st);

// h = silu(gate) · up; its backward (dgate, dup from dh).
void swiglu_forward(Dtype dt, void* h, const void* gate, const void* up, std::size_t n,
                    cudaStream_t st);
void swiglu_backward(Dtype dt, void* dgate, void* dup, const void* dh, const void* gate,
                     const void* up, std::size_t n, cudaStream_t st);

// out += a (act); y[n, :] += bias (act); db += Σ_n dy[n, :] (fp32).
void add_inplace(Dtype dt, void* out, const void* a, std::size_t n, cudaStream_t st);
void add_bias(Dtype dt, void* y, const void* bias, int N, int O, cudaStream_t st);
void bias_grad(Dtype dt, float* db, const void* dy, int N, int O, cudaStream_t st);
// Type conversions: fp32 -> act (round to nearest even) and act -> act copies.
void to_act(Dtype dt, void* dst, const float* src, std::size_t n, cudaStream_t st);

// Cross-entropy rows of a logits chunk (fp32): lse and loss per row (loss 0 where target −100).
void cross_entropy_forward(float* lse, float* loss, const float* logits,
                           const std::int32_t* targets, int rows, int V, cudaStream_t st);
// dlogits = scale · (softmax − onehot) in act, 0 for ignored rows.
void cross_entropy_backward(Dtype dt, void* dlogits, const float* logits, const float* lse,
                            const std::int32_t* targets, int rows, int V, float scale,
                            cudaStream_t st);

// Σ x (double, fixed order) into *out; Σ x² likewise (the gradient norm). partials holds
// kReducePartials doubles.
void sum(double* out, const float* x, std::size_t n, double* partials, cudaStream_t st);
void sum_squares(double* out, const float* x, std::size_t n, double* partials, cudaStream_t st);
void scale(float* x, std::size_t n, float k, cudaStream_t st);

// One optimizer step over a tensor: master (fp32) updated in place, its gradient, state; the
// device weights (act type) rewritten from the master.
void adamw_step(Dtype dt, float* master, const float* grad, float* m, float* v, void* weights,
                std::size_t n, const kernels::AdamWConstants& k, cudaStream_t st);
void sgd_step(Dtype dt, float* master, const float* grad, float* buf, void* weights, std::size_t n,
              const kernels::SgdConstants& k, cudaStream_t st);

} // namespace bcd::cuda::ops

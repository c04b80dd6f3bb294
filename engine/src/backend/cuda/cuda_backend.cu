// The CUDA backend (cuda_backend.h, docs/cuda-backend.md): the Llama-family transformer on one
// GPU with BCD's truncated backward, behind the same interface as the CPU reference.
//   - weights: one device copy of every parameter in the run's precision (bf16 or fp32), at the
//     host Model's offsets; frozen blocks exist only in this form;
//   - the trainable region: the active blocks' fp32 master weights, fp32 gradients and optimizer
//     moments, in their packed layouts (bcd/backend.h); the optimizer updates the master and
//     rewrites the device copy in one kernel; blocks that leave write their master back to the
//     host Model and their state to pinned host memory (host_plan.h BlockBook);
//   - activations: one allocation carved by plan_activations (host_plan.h), grown only, so block
//     switches never fragment memory; layers below the lowest trainable one keep nothing;
//   - GEMMs: cuBLAS with fp32 accumulation (bf16 or fp32 inputs); attention as batched GEMMs and
//     a masked-softmax kernel (llm.c's first design), the probabilities recomputed in the backward
//     from the saved log-sum-exp; the head's cross-entropy in row chunks, so the fp32 logits of the
//     whole batch never exist.

#include "backend/batch_check.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/host_plan.h"
#include "backend/cuda/ops.h"
#include "bcd/errors.h"
#include "kernels/bf16.h"
#include "kernels/optim.h"
#include "kernels/rope_table.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <map>
#include <string>

namespace bcd::cuda {

namespace {

void ck(cudaError_t e, const char* what) {
    if (e != cudaSuccess)
        throw std::runtime_error(std::string("CUDA ") + what + ": " + cudaGetErrorString(e));
}
void ckb(cublasStatus_t s, const char* what) {
    if (s != CUBLAS_STATUS_SUCCESS)
        throw std::runtime_error(std::string("cuBLAS ") + what + ": " + cublasGetStatusString(s));
}

std::string gib(std::size_t bytes) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f GiB", static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
    return b;
}

// Device memory, grown only.
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    ~DeviceBuffer() { release(); }
    // Makes at least `bytes` available; the contents are lost when it grows.
    void reserve(std::size_t bytes, const char* what) {
        if (bytes <= bytes_) return;
        release();
        if (cudaMalloc(&p_, bytes) != cudaSuccess) {
            cudaGetLastError();
            p_ = nullptr;
            std::size_t free = 0, total = 0;
            cudaMemGetInfo(&free, &total);
            throw std::runtime_error(std::string("out of GPU memory: ") + what + " needs " +
                                     gib(bytes) + ", the GPU has " + gib(free) + " free of " +
                                     gib(total) +
                                     " (lower train.batch_size or data.seq_len, set "
                                     "train.recompute, or use a smaller block)");
        }
        bytes_ = bytes;
    }
    void release() {
        if (p_) cudaFree(p_);
        p_ = nullptr;
        bytes_ = 0;
    }
    char* get() const { return static_cast<char*>(p_); }
    std::size_t bytes() const { return bytes_; }

private:
    void* p_ = nullptr;
    std::size_t bytes_ = 0;
};

// Page-locked host memory (offloaded optimizer state, upload staging).
class PinnedBuffer {
public:
    PinnedBuffer() = default;
    explicit PinnedBuffer(std::size_t floats) { resize(floats); }
    PinnedBuffer(PinnedBuffer&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
    PinnedBuffer& operator=(PinnedBuffer&&) = delete;
    ~PinnedBuffer() {
        if (p_) cudaFreeHost(p_);
    }
    void resize(std::size_t floats) {
        if (p_) cudaFreeHost(p_);
        p_ = nullptr;
        n_ = 0;
        if (floats == 0) return;
        ck(cudaMallocHost(reinterpret_cast<void**>(&p_), floats * sizeof(float)),
           "pinned host memory");
        n_ = floats;
    }
    float* data() const { return p_; }

private:
    float* p_ = nullptr;
    std::size_t n_ = 0;
};

cudaDataType cuda_type(Dtype d) {
    return d == Dtype::BF16 ? CUDA_R_16BF : CUDA_R_32F;
}

int parse_index(const std::string& device) {
    if (device.rfind("cuda:", 0) != 0)
        throw DeviceUnavailable("the CUDA backend needs a device \"cuda:N\", got \"" + device +
                                "\"");
    try {
        return std::stoi(device.substr(5));
    } catch (const std::exception&) {
        throw DeviceUnavailable("\"" + device + "\" is not a GPU index");
    }
}

class CudaBackend final : public Backend {
public:
    CudaBackend(Model& model, const BackendOptions& opts);
    ~CudaBackend() override {
        if (blas_) cublasDestroy(blas_);
        if (st_) cudaStreamDestroy(st_);
    }

    std::string kind() const override { return "cuda"; }
    std::string describe() const override { return describe_; }
    TrainPrecision precision() const override { return opts_.precision; }

    void activate(std::span<const int> blocks, bool reset_states) override;
    const std::vector<int>& active() const override { return book_.active(); }

    void zero_grads() override {
        if (book_.region_floats())
            ck(cudaMemsetAsync(grad_, 0, book_.region_floats() * sizeof(float), st_), "zero_grads");
    }
    LossSum forward(const std::int32_t* inputs, const std::int32_t* targets, int B,
                    int T) override {
        return run_forward(inputs, targets, B, T, true);
    }
    void backward(float scale) override;
    // Finished before it is handed out: a communicator reduces it on a stream of its own.
    GradientView gradients() override {
        ck(cudaStreamSynchronize(st_), "gradients");
        return {grad_, book_.region_floats(), true};
    }
    double grad_norm() override;
    void clip_gradients(double norm, double max_norm) override {
        const double k = kernels::clip_factor(norm, max_norm);
        if (k < 1.0 && book_.region_floats())
            ops::scale(grad_, book_.region_floats(), static_cast<float>(k), st_);
    }
    void optimizer_step(const OptimizerSettings& s, double lr) override;

    LossSum evaluate(const std::int32_t* inputs, const std::int32_t* targets, int B,
                     int T) override {
        return run_forward(inputs, targets, B, T, false);
    }
    void end_evaluation() override {} // the activation allocation is kept for training
    void start_decoding(int max_len) override;
    std::span<const float> decode_next(std::int32_t token) override;

    void sync_to_host() override {
        for (int b : book_.active()) master_to_host(b);
        ck(cudaStreamSynchronize(st_), "sync_to_host");
    }
    std::vector<int> blocks_with_state() const override { return book_.blocks_with_state(); }
    BlockState read_state(int block) override;
    void write_state(int block, BlockState state) override;
    MemoryStats memory() const override;

private:
    // Device pointers.
    void* W(int idx) const {
        return idx < 0 ? nullptr
                       : weights_.get() + lay_.params()[static_cast<std::size_t>(idx)].offset * S_;
    }
    float* g(int idx) const { return idx < 0 ? nullptr : gptr_[static_cast<std::size_t>(idx)]; }
    bool has(int idx) const { return tr_.param(idx); }
    char* A(std::size_t off) const { return acts_.get() + off; }
    template <class P> P* Af(std::size_t off) const { return reinterpret_cast<P*>(A(off)); }
    int head_weight() const { return lay_.lm_head() >= 0 ? lay_.lm_head() : lay_.embed(); }

    // Row-major C = alpha·op(A)·op(B) + beta·C, batched with element strides, fp32 accumulation.
    void gemm(bool ta, bool tb, int M, int N, int K, const void* a, Dtype at, int lda, long long sa,
              const void* b, Dtype bt, int ldb, long long sb, void* c, Dtype ct, int ldc,
              long long sc, int batch, float beta = 0.0f) {
        const float alpha = 1.0f;
        const cublasOperation_t oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
        // Column-major view: Cᵀ = op(B)ᵀ·op(A)ᵀ, the stored matrices read with the same ops.
        if (batch == 1)
            ckb(cublasGemmEx(blas_, ob, oa, N, M, K, &alpha, b, cuda_type(bt), ldb, a,
                             cuda_type(at), lda, &beta, c, cuda_type(ct), ldc, CUBLAS_COMPUTE_32F,
                             CUBLAS_GEMM_DEFAULT),
                "gemm");
        else
            ckb(cublasGemmStridedBatchedEx(blas_, ob, oa, N, M, K, &alpha, b, cuda_type(bt), ldb,
                                           sb, a, cuda_type(at), lda, sa, &beta, c, cuda_type(ct),
                                           ldc, sc, batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                "batched gemm");
    }
    // y[N, out] = x[N, in] · Wᵀ (+ bias), in the activation type.
    void linear(void* y, const void* x, int w, int bias, int N, int in, int out) {
        gemm(false, true, N, out, in, x, act_, in, 0, W(w), act_, in, 0, y, act_, out, 0, 1);
        if (bias >= 0) ops::add_bias(act_, y, W(bias), N, out, st_);
    }
    // dW[out, in] += dyᵀ · x (fp32 gradient)
    void linear_dw(int w, const void* dy, const void* x, int N, int in, int out) {
        gemm(true, false, out, in, N, dy, act_, out, 0, x, act_, in, 0, g(w), Dtype::F32, in, 0, 1,
             1.0f);
    }
    // dx[N, in] (= or +=) dy · W, in `dxt`.
    void linear_dx(void* dx, Dtype dxt, const void* dy, int w, int N, int in, int out,
                   bool accumulate) {
        gemm(false, false, N, in, out, dy, act_, out, 0, W(w), act_, in, 0, dx, dxt, in, 0, 1,
             accumulate ? 1.0f : 0.0f);
    }

    // A copy on the backend's stream, finished on return: ordered after the kernels before it
    // (the stream does not synchronise with the legacy default stream, where cudaMemcpy runs),
    // and the host buffer is free to reuse.
    cudaError_t copy_now(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind) {
        const cudaError_t e = cudaMemcpyAsync(dst, src, bytes, kind, st_);
        return e != cudaSuccess ? e : cudaStreamSynchronize(st_);
    }
    void upload_weights();
    void master_to_host(int block);
    void ensure_rope(int T);
    void ensure_plan(int B, int T, bool training);
    LossSum run_forward(const std::int32_t* inputs, const std::int32_t* targets, int B, int T,
                        bool training);
    void layer_forward(int l, const LayerBuffers& a, void* out);
    void attention_forward(const LayerBuffers& a);
    void layer_backward(int l, const LayerBuffers& a);
    void attention_backward(const LayerBuffers& a);
    double reduce_to_host(const float* x, std::size_t n, bool squares);

    Model& model_;
    BackendOptions opts_;
    const ModelConfig& c_;
    const ParamLayout& lay_;
    Placement pl_;
    Dtype act_;
    std::size_t S_;
    int device_ = 0;
    std::string describe_;
    cudaStream_t st_ = nullptr;
    cublasHandle_t blas_ = nullptr;

    DeviceBuffer weights_;
    BlockBook book_;
    DeviceBuffer region_;
    std::size_t region_cap_ = 0; // floats per buffer of the trainable region
    float *master_ = nullptr, *grad_ = nullptr, *m_ = nullptr, *v_ = nullptr;
    std::map<int, std::pair<PinnedBuffer, PinnedBuffer>> kept_; // offloaded m, v
    std::vector<float*> gptr_;
    Truncation tr_;

    DeviceBuffer acts_;
    ActivationPlan ap_;
    bool planned_ = false, plan_training_ = false, have_forward_ = false;
    DeviceBuffer rope_;
    int rope_T_ = 0;
    DeviceBuffer red_; // reduction partials and result
    std::vector<std::int32_t> targets_host_;

    DeviceBuffer dec_;
    int dec_max_ = 0, dec_pos_ = 0;
    std::vector<float> logits_host_;
};

CudaBackend::CudaBackend(Model& model, const BackendOptions& opts)
    : model_(model), opts_(opts), c_(model.config()), lay_(model.layout()),
      pl_(placement(opts.precision)), act_(pl_.activations), S_(dtype_bytes(pl_.activations)),
      book_(model.layout(), opts.blocks, state_floats_per_param(opts.optimizer)),
      gptr_(model.layout().params().size(), nullptr) {
    device_ = parse_index(opts.device);
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || device_ < 0 || device_ >= count) {
        cudaGetLastError();
        throw DeviceUnavailable("no GPU " + std::to_string(device_) + " (the driver sees " +
                                std::to_string(count) + ")");
    }
    ck(cudaSetDevice(device_), "cudaSetDevice");
    cudaDeviceProp prop{};
    ck(cudaGetDeviceProperties(&prop, device_), "cudaGetDeviceProperties");
    if (prop.major < 8)
        throw DeviceUnavailable(std::string(prop.name) + " has compute capability " +
                                std::to_string(prop.major) + "." + std::to_string(prop.minor) +
                                "; the kernels need 8.0 (Ampere) or newer");
    if (c_.sliding_window > 0 && opts.max_seq > c_.sliding_window)
        throw InputError("config.json", "sliding_window",
                         "sequence length " + std::to_string(opts.max_seq) +
                             " exceeds the sliding window; use a shorter seq_len");
    ck(cudaStreamCreateWithFlags(&st_, cudaStreamNonBlocking), "stream");
    ckb(cublasCreate(&blas_), "create");
    ckb(cublasSetStream(blas_, st_), "set stream");
    // fp32 runs are the exact reference path: no TF32.
    ckb(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH), "math mode");
    describe_ = "cuda:" + std::to_string(device_) + " (" + prop.name + ", " +
                gib(prop.totalGlobalMem) + ", compute " + std::to_string(prop.major) + "." +
                std::to_string(prop.minor) + ", " + precision_name(opts.precision) + ")";
    red_.reserve((kReducePartials + 2) * sizeof(double), "reductions");
    upload_weights();
    if (!opts.blocks.empty()) {
        region_cap_ = book_.max_block_floats();
        region_.reserve(region_cap_ * sizeof(float) * (2 + book_.state_buffers()),
                        "the trainable block (master, gradients, optimizer state)");
    }
    // The activations of the largest shape the run will see, up front (opts.max_batch/max_seq),
    // for the block that keeps the most layers.
    if (opts.max_batch > 0 && opts.max_seq > 0 && !opts.blocks.empty()) {
        int lowest = c_.num_layers;
        for (const Block& b : opts.blocks) {
            std::vector<bool> h(lay_.params().size(), false);
            for (int t : b.tensors) h[static_cast<std::size_t>(t)] = true;
            lowest = std::min(lowest, truncation(lay_, h, false).first_kept);
        }
        const ActivationPlan worst =
            plan_activations(c_, opts.max_batch, opts.max_seq, act_, lowest, opts.recompute, true);
        acts_.reserve(worst.total_bytes, "activations");
    }
}

void CudaBackend::upload_weights() {
    const std::size_t n = model_.num_floats();
    weights_.reserve(n * S_, "the weights");
    if (act_ == Dtype::F32) {
        ck(copy_now(weights_.get(), model_.params(), n * sizeof(float), cudaMemcpyHostToDevice),
           "upload weights");
        return;
    }
    // bf16: rounded to nearest even on the host (kernels/bf16.h), staged in pinned chunks.
    constexpr std::size_t kChunk = std::size_t(1) << 22;
    PinnedBuffer stage(kChunk / 2);
    auto* h = reinterpret_cast<std::uint16_t*>(stage.data());
    const float* src = model_.params();
    for (std::size_t at = 0; at < n; at += kChunk) {
        const std::size_t k = std::min(kChunk, n - at);
        for (std::size_t i = 0; i < k; ++i) h[i] = kernels::float_to_bf16(src[at + i]);
        ck(copy_now(weights_.get() + at * 2, h, k * 2, cudaMemcpyHostToDevice), "upload weights");
    }
}

void CudaBackend::master_to_host(int b) {
    const std::size_t base = book_.base(b);
    const Block& blk = book_.block(b);
    const PackedLayout& pl = book_.layout(b);
    for (std::size_t j = 0; j < blk.tensors.size(); ++j) {
        const ParamInfo& p = lay_.params()[static_cast<std::size_t>(blk.tensors[j])];
        ck(cudaMemcpyAsync(model_.params() + p.offset, master_ + base + pl.offsets[j],
                           p.numel * sizeof(float), cudaMemcpyDeviceToHost, st_),
           "master to host");
    }
}

void CudaBackend::activate(std::span<const int> blocks, bool reset_states) {
    const BlockBook::Switch sw = book_.plan(blocks, reset_states);
    if (sw.noop) return;
    // Everything active leaves the region: master weights to the host Model, state to pinned
    // host memory (unless the reset forgets it).
    const int nstate = book_.state_buffers();
    for (int b : sw.leave) {
        master_to_host(b);
        if (sw.forget_all || nstate == 0) continue;
        const std::size_t base = book_.base(b), total = book_.layout(b).total;
        auto& [hm, hv] = kept_[b];
        hm.resize(total);
        ck(cudaMemcpyAsync(hm.data(), m_ + base, total * sizeof(float), cudaMemcpyDeviceToHost,
                           st_),
           "offload state");
        if (nstate >= 2) {
            hv.resize(total);
            ck(cudaMemcpyAsync(hv.data(), v_ + base, total * sizeof(float), cudaMemcpyDeviceToHost,
                               st_),
               "offload state");
        }
    }
    ck(cudaStreamSynchronize(st_), "activate");
    if (sw.forget_all) kept_.clear();
    book_.apply(sw);

    if (sw.floats > region_cap_) {
        region_cap_ = sw.floats;
        region_.reserve(region_cap_ * sizeof(float) * (2 + nstate),
                        "the trainable blocks (master, gradients, optimizer state)");
    }
    master_ = reinterpret_cast<float*>(region_.get());
    grad_ = master_ + region_cap_;
    m_ = nstate >= 1 ? grad_ + region_cap_ : nullptr;
    v_ = nstate >= 2 ? m_ + region_cap_ : nullptr;
    if (region_cap_)
        ck(cudaMemsetAsync(region_.get(), 0, region_cap_ * sizeof(float) * (2 + nstate), st_),
           "clear the trainable region");

    std::fill(gptr_.begin(), gptr_.end(), nullptr);
    std::vector<bool> flags(lay_.params().size(), false);
    for (const auto& e : sw.enter) {
        const Block& blk = book_.block(e.block);
        const PackedLayout& pl = book_.layout(e.block);
        for (std::size_t j = 0; j < blk.tensors.size(); ++j) {
            const ParamInfo& p = lay_.params()[static_cast<std::size_t>(blk.tensors[j])];
            ck(cudaMemcpyAsync(master_ + e.base + pl.offsets[j], model_.params() + p.offset,
                               p.numel * sizeof(float), cudaMemcpyHostToDevice, st_),
               "master to device");
            gptr_[static_cast<std::size_t>(blk.tensors[j])] = grad_ + e.base + pl.offsets[j];
            flags[static_cast<std::size_t>(blk.tensors[j])] = true;
        }
        if (e.restore && nstate > 0) {
            auto it = kept_.find(e.block);
            if (it != kept_.end()) {
                ck(cudaMemcpyAsync(m_ + e.base, it->second.first.data(), pl.total * sizeof(float),
                                   cudaMemcpyHostToDevice, st_),
                   "restore state");
                if (nstate >= 2)
                    ck(cudaMemcpyAsync(v_ + e.base, it->second.second.data(),
                                       pl.total * sizeof(float), cudaMemcpyHostToDevice, st_),
                       "restore state");
            }
        }
    }
    ck(cudaStreamSynchronize(st_), "activate");
    for (const auto& e : sw.enter) kept_.erase(e.block);
    tr_ = truncation(lay_, std::move(flags), false);
    planned_ = false;
    have_forward_ = false;
}

void CudaBackend::ensure_rope(int T) {
    if (T <= rope_T_) return;
    std::vector<float> t;
    kernels::rope_tables(c_, T, t);
    rope_.reserve(t.size() * sizeof(float), "rotary tables");
    ck(copy_now(rope_.get(), t.data(), t.size() * sizeof(float), cudaMemcpyHostToDevice),
       "rotary tables");
    rope_T_ = T;
}

void CudaBackend::ensure_plan(int B, int T, bool training) {
    if (planned_ && ap_.B == B && ap_.T == T && plan_training_ == training) return;
    const bool backward = training && tr_.any_grad;
    const int first_kept = backward ? tr_.first_kept : c_.num_layers;
    ap_ = plan_activations(c_, B, T, act_, first_kept, opts_.recompute, backward);
    acts_.reserve(ap_.total_bytes, "activations");
    planned_ = true;
    plan_training_ = training;
}

double CudaBackend::reduce_to_host(const float* x, std::size_t n, bool squares) {
    double* partials = reinterpret_cast<double*>(red_.get());
    double* out = partials + kReducePartials;
    if (squares)
        ops::sum_squares(out, x, n, partials, st_);
    else
        ops::sum(out, x, n, partials, st_);
    double r = 0.0;
    ck(cudaMemcpyAsync(&r, out, sizeof r, cudaMemcpyDeviceToHost, st_), "reduce");
    ck(cudaStreamSynchronize(st_), "reduce");
    return r;
}

LossSum CudaBackend::run_forward(const std::int32_t* inputs, const std::int32_t* targets, int B,
                                 int T, bool training) {
    LossSum r;
    r.count = check_batch(c_, inputs, targets, B, T);
    const int N = B * T, V = c_.vocab_size, C = c_.hidden_size, L = c_.num_layers;
    have_forward_ = false;
    ensure_plan(B, T, training);
    ensure_rope(T);
    auto* in_d = Af<std::int32_t>(ap_.inputs);
    auto* tg_d = Af<std::int32_t>(ap_.targets);
    ck(cudaMemcpyAsync(in_d, inputs, sizeof(std::int32_t) * N, cudaMemcpyHostToDevice, st_),
       "inputs");
    ck(cudaMemcpyAsync(tg_d, targets, sizeof(std::int32_t) * N, cudaMemcpyHostToDevice, st_),
       "targets");

    ops::embedding_forward(act_, A(ap_.layers[0].x), in_d, W(lay_.embed()), N, C, st_);
    for (int l = 0; l < L; ++l)
        layer_forward(l, ap_.layers[static_cast<std::size_t>(l)],
                      l + 1 < L ? A(ap_.layers[static_cast<std::size_t>(l) + 1].x) : A(ap_.xf));
    ops::rmsnorm_forward(act_, A(ap_.lnf), Af<float>(ap_.rstdf), A(ap_.xf), W(lay_.final_norm()), N,
                         C, static_cast<float>(c_.rms_norm_eps), st_);
    // The head and its cross-entropy, a chunk of rows at a time.
    for (int r0 = 0; r0 < N; r0 += ap_.ce_rows) {
        const int rows = std::min(ap_.ce_rows, N - r0);
        gemm(false, true, rows, V, C, A(ap_.lnf) + static_cast<std::size_t>(r0) * C * S_, act_, C,
             0, W(head_weight()), act_, C, 0, A(ap_.logits), Dtype::F32, V, 0, 1);
        ops::cross_entropy_forward(Af<float>(ap_.lse_f) + r0, Af<float>(ap_.loss) + r0,
                                   Af<float>(ap_.logits), tg_d + r0, rows, V, st_);
    }
    r.sum = reduce_to_host(Af<float>(ap_.loss), static_cast<std::size_t>(N), false);
    have_forward_ = training;
    return r;
}

void CudaBackend::layer_forward(int l, const LayerBuffers& a, void* out) {
    const auto& p = lay_.layer(l);
    const int N = ap_.B * ap_.T, C = c_.hidden_size, F = c_.intermediate_size, QD = c_.q_dim(),
              KD = c_.kv_dim(), D = c_.head_dim;
    const float eps = static_cast<float>(c_.rms_norm_eps);
    const float* cs = reinterpret_cast<const float*>(rope_.get());
    const float* sn = cs + static_cast<std::size_t>(rope_T_) * (D / 2);
    char* qlin = A(ap_.qkv);
    char* klin = qlin + static_cast<std::size_t>(N) * QD * S_;
    char* vlin = klin + static_cast<std::size_t>(N) * KD * S_;

    ops::rmsnorm_forward(act_, A(ap_.ln), Af<float>(a.rstd1), A(a.x), W(p.ln1), N, C, eps, st_);
    linear(qlin, A(ap_.ln), p.wq, p.bq, N, C, QD);
    linear(klin, A(ap_.ln), p.wk, p.bk, N, C, KD);
    linear(vlin, A(ap_.ln), p.wv, p.bv, N, C, KD);
    ops::to_heads(act_, A(a.q), qlin, cs, sn, ap_.B, ap_.T, c_.num_heads, D, 0, st_);
    ops::to_heads(act_, A(a.k), klin, cs, sn, ap_.B, ap_.T, c_.num_kv_heads, D, 0, st_);
    ops::to_heads(act_, A(a.v), vlin, nullptr, nullptr, ap_.B, ap_.T, c_.num_kv_heads, D, 0, st_);
    attention_forward(a);
    linear(A(a.x2), A(a.ctx), p.wo, p.bo, N, QD, C);
    ops::add_inplace(act_, A(a.x2), A(a.x), static_cast<std::size_t>(N) * C, st_);
    ops::rmsnorm_forward(act_, A(ap_.ln), Af<float>(a.rstd2), A(a.x2), W(p.ln2), N, C, eps, st_);
    linear(A(a.gate), A(ap_.ln), p.wg, -1, N, C, F);
    linear(A(a.up), A(ap_.ln), p.wu, -1, N, C, F);
    ops::swiglu_forward(act_, A(ap_.h), A(a.gate), A(a.up), static_cast<std::size_t>(N) * F, st_);
    // `out` may be a.x itself (layers that keep nothing): x is not read past this point.
    linear(out, A(ap_.h), p.wd, -1, N, F, C);
    ops::add_inplace(act_, out, A(a.x2), static_cast<std::size_t>(N) * C, st_);
}

// Per (batch, kv head): the group of query heads sharing it is one [group·T, D] matrix.
void CudaBackend::attention_forward(const LayerBuffers& a) {
    const int B = ap_.B, T = ap_.T, H = c_.num_heads, KVH = c_.num_kv_heads, D = c_.head_dim;
    const int gT = (H / KVH) * T;
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    float* S = Af<float>(ap_.scores);
    gemm(false, true, gT, T, D, A(a.q), act_, D, static_cast<long long>(gT) * D, A(a.k), act_, D,
         static_cast<long long>(T) * D, S, Dtype::F32, T, static_cast<long long>(gT) * T, B * KVH);
    ops::attention_softmax(act_, A(ap_.probs), Af<float>(a.lse), S, B * H * T, T, scale, st_);
    gemm(false, false, gT, D, T, A(ap_.probs), act_, T, static_cast<long long>(gT) * T, A(a.v),
         act_, D, static_cast<long long>(T) * D, A(ap_.ctxp), act_, D,
         static_cast<long long>(gT) * D, B * KVH);
    ops::from_heads(act_, A(a.ctx), A(ap_.ctxp), nullptr, nullptr, B, T, H, D, st_);
}

void CudaBackend::backward(float scale) {
    if (!have_forward_) throw std::logic_error("backward() without a preceding forward()");
    have_forward_ = false;
    if (!tr_.any_grad) return;
    const int N = ap_.B * ap_.T, C = c_.hidden_size, V = c_.vocab_size, L = c_.num_layers;
    const int hw = head_weight();
    const bool need_dlnf = has(lay_.final_norm()) || tr_.below[static_cast<std::size_t>(L)];
    float* dln = Af<float>(ap_.dln);
    const auto* tg_d = Af<std::int32_t>(ap_.targets);
    for (int r0 = 0; r0 < N; r0 += ap_.ce_rows) {
        const int rows = std::min(ap_.ce_rows, N - r0);
        const char* lnf = A(ap_.lnf) + static_cast<std::size_t>(r0) * C * S_;
        gemm(false, true, rows, V, C, lnf, act_, C, 0, W(hw), act_, C, 0, A(ap_.logits), Dtype::F32,
             V, 0, 1);
        ops::cross_entropy_backward(act_, A(ap_.dlogits), Af<float>(ap_.logits),
                                    Af<float>(ap_.lse_f) + r0, tg_d + r0, rows, V, scale, st_);
        if (has(hw))
            gemm(true, false, V, C, rows, A(ap_.dlogits), act_, V, 0, lnf, act_, C, 0, g(hw),
                 Dtype::F32, C, 0, 1, 1.0f);
        if (need_dlnf)
            gemm(false, false, rows, C, V, A(ap_.dlogits), act_, V, 0, W(hw), act_, C, 0,
                 dln + static_cast<std::size_t>(r0) * C, Dtype::F32, C, 0, 1);
    }
    if (!need_dlnf) return;
    const bool below_head = tr_.below[static_cast<std::size_t>(L)];
    float* dres = Af<float>(ap_.dres);
    if (has(lay_.final_norm()))
        ops::rmsnorm_backward_dw(act_, g(lay_.final_norm()), dln, A(ap_.xf), Af<float>(ap_.rstdf),
                                 N, C, st_);
    if (!below_head) return;
    ck(cudaMemsetAsync(dres, 0, sizeof(float) * static_cast<std::size_t>(N) * C, st_), "dres");
    ops::rmsnorm_backward_dx(act_, dres, dln, A(ap_.xf), W(lay_.final_norm()), Af<float>(ap_.rstdf),
                             N, C, st_);
    for (int l = L - 1; l >= 0; --l) {
        const LayerBuffers& a = ap_.layers[static_cast<std::size_t>(l)];
        if (ap_.recompute) layer_forward(l, a, A(ap_.recompute_out));
        layer_backward(l, a);
        if (!tr_.below[static_cast<std::size_t>(l)]) return;
    }
    if (has(lay_.embed()))
        ops::embedding_backward(g(lay_.embed()), dres, Af<std::int32_t>(ap_.inputs), N, C, st_);
}

void CudaBackend::layer_backward(int l, const LayerBuffers& a) {
    // On entry dres = ∂/∂(layer output); on exit, when below[l], dres = ∂/∂(layer input).
    const auto& p = lay_.layer(l);
    const int N = ap_.B * ap_.T, C = c_.hidden_size, F = c_.intermediate_size, QD = c_.q_dim(),
              KD = c_.kv_dim();
    const bool below = tr_.below[static_cast<std::size_t>(l)];
    const bool attn = tr_.need_attn_bwd(lay_, l);
    if (!tr_.need_mlp_bwd(lay_, l)) return;
    float* dres = Af<float>(ap_.dres);
    float* dln = Af<float>(ap_.dln);
    char* dres_a = A(ap_.dres_act);
    const std::size_t NC = static_cast<std::size_t>(N) * C, NF = static_cast<std::size_t>(N) * F;

    // MLP: out = x2 + down(silu(gate(ln2)) · up(ln2)), ln2 = norm(x2).
    const bool mlp_inner = has(p.ln2) || has(p.wg) || has(p.wu) || attn;
    ops::to_act(act_, dres_a, dres, NC, st_);
    if (has(p.wd)) {
        ops::swiglu_forward(act_, A(ap_.h), A(a.gate), A(a.up), NF, st_);
        linear_dw(p.wd, dres_a, A(ap_.h), N, F, C);
    }
    if (mlp_inner) {
        linear_dx(A(ap_.dh), act_, dres_a, p.wd, N, F, C, false);
        ops::swiglu_backward(act_, A(ap_.dgate), A(ap_.dup), A(ap_.dh), A(a.gate), A(a.up), NF,
                             st_);
        if (has(p.wg) || has(p.wu))
            ops::rmsnorm_apply(act_, A(ap_.ln), A(a.x2), Af<float>(a.rstd2), W(p.ln2), N, C, st_);
        if (has(p.wg)) linear_dw(p.wg, A(ap_.dgate), A(ap_.ln), N, C, F);
        if (has(p.wu)) linear_dw(p.wu, A(ap_.dup), A(ap_.ln), N, C, F);
        if (has(p.ln2) || attn) {
            linear_dx(dln, Dtype::F32, A(ap_.dgate), p.wg, N, C, F, false);
            linear_dx(dln, Dtype::F32, A(ap_.dup), p.wu, N, C, F, true);
            if (has(p.ln2))
                ops::rmsnorm_backward_dw(act_, g(p.ln2), dln, A(a.x2), Af<float>(a.rstd2), N, C,
                                         st_);
            if (attn)
                ops::rmsnorm_backward_dx(act_, dres, dln, A(a.x2), W(p.ln2), Af<float>(a.rstd2), N,
                                         C, st_);
        }
    }
    if (!attn) return;

    // Attention: x2 = x + o(attn(rope(q(ln1)), rope(k(ln1)), v(ln1))), ln1 = norm(x).
    const bool attn_inner = has(p.ln1) || has(p.wq) || has(p.bq) || has(p.wk) || has(p.bk) ||
                            has(p.wv) || has(p.bv) || below;
    ops::to_act(act_, dres_a, dres, NC, st_);
    if (has(p.wo)) linear_dw(p.wo, dres_a, A(a.ctx), N, QD, C);
    if (has(p.bo)) ops::bias_grad(act_, g(p.bo), dres_a, N, C, st_);
    if (!attn_inner) return;
    linear_dx(A(ap_.dctx), act_, dres_a, p.wo, N, QD, C, false);
    attention_backward(a);
    char* dq = A(ap_.dqkv);
    char* dk = dq + static_cast<std::size_t>(N) * QD * S_;
    char* dv = dk + static_cast<std::size_t>(N) * KD * S_;
    if (has(p.wq) || has(p.wk) || has(p.wv))
        ops::rmsnorm_apply(act_, A(ap_.ln), A(a.x), Af<float>(a.rstd1), W(p.ln1), N, C, st_);
    if (has(p.wq)) linear_dw(p.wq, dq, A(ap_.ln), N, C, QD);
    if (has(p.wk)) linear_dw(p.wk, dk, A(ap_.ln), N, C, KD);
    if (has(p.wv)) linear_dw(p.wv, dv, A(ap_.ln), N, C, KD);
    if (has(p.bq)) ops::bias_grad(act_, g(p.bq), dq, N, QD, st_);
    if (has(p.bk)) ops::bias_grad(act_, g(p.bk), dk, N, KD, st_);
    if (has(p.bv)) ops::bias_grad(act_, g(p.bv), dv, N, KD, st_);
    if (has(p.ln1) || below) {
        linear_dx(dln, Dtype::F32, dq, p.wq, N, C, QD, false);
        linear_dx(dln, Dtype::F32, dk, p.wk, N, C, KD, true);
        linear_dx(dln, Dtype::F32, dv, p.wv, N, C, KD, true);
        if (has(p.ln1))
            ops::rmsnorm_backward_dw(act_, g(p.ln1), dln, A(a.x), Af<float>(a.rstd1), N, C, st_);
        if (below)
            ops::rmsnorm_backward_dx(act_, dres, dln, A(a.x), W(p.ln1), Af<float>(a.rstd1), N, C,
                                     st_);
    }
}

void CudaBackend::attention_backward(const LayerBuffers& a) {
    const int B = ap_.B, T = ap_.T, H = c_.num_heads, KVH = c_.num_kv_heads, D = c_.head_dim;
    const int N = B * T, gT = (H / KVH) * T, QD = c_.q_dim(), KD = c_.kv_dim();
    const long long sQ = static_cast<long long>(gT) * D, sK = static_cast<long long>(T) * D,
                    sS = static_cast<long long>(gT) * T;
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    const float* cs = reinterpret_cast<const float*>(rope_.get());
    const float* sn = cs + static_cast<std::size_t>(rope_T_) * (D / 2);
    float* S = Af<float>(ap_.scores);
    char* P = A(ap_.probs);
    char* dctxp = A(ap_.dctxp);
    char* dqp = A(ap_.dqkvp);
    char* dkp = dqp + static_cast<std::size_t>(N) * QD * S_;
    char* dvp = dkp + static_cast<std::size_t>(N) * KD * S_;
    ops::to_heads(act_, dctxp, A(ap_.dctx), nullptr, nullptr, B, T, H, D, 0, st_);
    // The probabilities again, from the saved log-sum-exp.
    gemm(false, true, gT, T, D, A(a.q), act_, D, sQ, A(a.k), act_, D, sK, S, Dtype::F32, T, sS,
         B * KVH);
    ops::attention_probs(act_, P, S, Af<float>(a.lse), B * H * T, T, scale, st_);
    // dV = Pᵀ·dctx (summed over the group's heads by the GEMM's K dimension), dP = dctx·Vᵀ.
    gemm(true, false, T, D, gT, P, act_, T, sS, dctxp, act_, D, sQ, dvp, act_, D, sK, B * KVH);
    gemm(false, true, gT, T, D, dctxp, act_, D, sQ, A(a.v), act_, D, sK, S, Dtype::F32, T, sS,
         B * KVH);
    ops::attention_softmax_backward(act_, P, S, B * H * T, T, scale, st_);
    // dQ = dS·K, dK = dSᵀ·Q.
    gemm(false, false, gT, D, T, P, act_, T, sS, A(a.k), act_, D, sK, dqp, act_, D, sQ, B * KVH);
    gemm(true, false, T, D, gT, P, act_, T, sS, A(a.q), act_, D, sQ, dkp, act_, D, sK, B * KVH);
    char* dq = A(ap_.dqkv);
    char* dk = dq + static_cast<std::size_t>(N) * QD * S_;
    char* dv = dk + static_cast<std::size_t>(N) * KD * S_;
    ops::from_heads(act_, dq, dqp, cs, sn, B, T, H, D, st_);
    ops::from_heads(act_, dk, dkp, cs, sn, B, T, KVH, D, st_);
    ops::from_heads(act_, dv, dvp, nullptr, nullptr, B, T, KVH, D, st_);
}

double CudaBackend::grad_norm() {
    if (book_.region_floats() == 0) return 0.0;
    return std::sqrt(reduce_to_host(grad_, book_.region_floats(), true));
}

void CudaBackend::optimizer_step(const OptimizerSettings& s, double lr) {
    const bool adamw = s.name == "adamw";
    for (int b : book_.active()) {
        const long t = ++book_.t(b);
        const std::size_t base = book_.base(b);
        const Block& blk = book_.block(b);
        const PackedLayout& pl = book_.layout(b);
        for (std::size_t j = 0; j < blk.tensors.size(); ++j) {
            const int idx = blk.tensors[j];
            const ParamInfo& p = lay_.params()[static_cast<std::size_t>(idx)];
            const std::size_t off = base + pl.offsets[j];
            if (adamw) {
                const auto k = kernels::adamw_constants(s.beta1, s.beta2, s.eps, lr, s.weight_decay,
                                                        t, p.decays());
                ops::adamw_step(act_, master_ + off, grad_ + off, m_ + off, v_ + off, W(idx),
                                p.numel, k, st_);
            } else {
                kernels::SgdConstants k;
                k.lr = static_cast<float>(lr);
                k.momentum = static_cast<float>(s.momentum);
                k.weight_decay = p.decays() ? static_cast<float>(s.weight_decay) : 0.0f;
                k.first_step = t == 1;
                ops::sgd_step(act_, master_ + off, grad_ + off, m_ ? m_ + off : nullptr, W(idx),
                              p.numel, k, st_);
            }
        }
    }
}

void CudaBackend::start_decoding(int max_len) {
    if (max_len <= 0) throw std::invalid_argument("start_decoding: max_len must be positive");
    const std::size_t L = c_.num_layers, KD = c_.kv_dim(), C = c_.hidden_size,
                      F = c_.intermediate_size, QD = c_.q_dim(), V = c_.vocab_size,
                      H = c_.num_heads, M = static_cast<std::size_t>(max_len);
    Carve cv;
    cv.take(2 * L * M * KD * S_);                                 // caches
    cv.take((4 * C + 3 * QD + 3 * KD + 3 * F) * S_ + 4096);       // vectors, staging
    cv.take((H * M + V + 8) * sizeof(float));                     // scores, logits, rstd
    dec_.reserve(cv.bytes() + 32 * kAlign, "the decoding cache"); // + each piece's alignment
    dec_max_ = max_len;
    dec_pos_ = 0;
    ensure_rope(max_len);
    have_forward_ = false;
    logits_host_.resize(V);
}

std::span<const float> CudaBackend::decode_next(std::int32_t token) {
    if (dec_max_ == 0) throw std::logic_error("decode_next() before start_decoding()");
    if (dec_pos_ >= dec_max_) throw std::out_of_range("decode_next: the cache is full");
    const int V = c_.vocab_size, C = c_.hidden_size, F = c_.intermediate_size, QD = c_.q_dim(),
              KD = c_.kv_dim(), D = c_.head_dim, H = c_.num_heads, KVH = c_.num_kv_heads,
              L = c_.num_layers, p = dec_pos_;
    if (token < 0 || token >= V)
        throw InputError("", "token id " + std::to_string(token),
                         "expected ids below the model's vocab_size (" + std::to_string(V) + ")");
    const std::size_t M = static_cast<std::size_t>(dec_max_);
    Carve cv;
    auto at = [&](std::size_t bytes) { return dec_.get() + cv.take(bytes); };
    char* kc = at(L * M * KD * S_);
    char* vc = at(L * M * KD * S_);
    char* x = at(C * S_);
    char* ln = at(C * S_);
    char* x2 = at(C * S_);
    char* lnf = at(C * S_);
    char* qlin = at(QD * S_);
    char* q = at(QD * S_);
    char* ctx = at(QD * S_);
    char* klin = at(KD * S_);
    char* vlin = at(KD * S_);
    char* gate = at(F * S_);
    char* up = at(F * S_);
    char* h = at(F * S_);
    auto* ids = reinterpret_cast<std::int32_t*>(at(64));
    auto* scores = reinterpret_cast<float*>(at(H * M * sizeof(float)));
    auto* logits = reinterpret_cast<float*>(at(V * sizeof(float)));
    auto* rstd = reinterpret_cast<float*>(at(64));
    const float eps = static_cast<float>(c_.rms_norm_eps);
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    const float* cs = reinterpret_cast<const float*>(rope_.get());
    const float* sn = cs + static_cast<std::size_t>(rope_T_) * (D / 2);
    ck(cudaMemcpyAsync(ids, &token, sizeof token, cudaMemcpyHostToDevice, st_), "token");
    ops::embedding_forward(act_, x, ids, W(lay_.embed()), 1, C, st_);
    for (int l = 0; l < L; ++l) {
        const auto& pl = lay_.layer(l);
        char* kl = kc + static_cast<std::size_t>(l) * M * KD * S_;
        char* vl = vc + static_cast<std::size_t>(l) * M * KD * S_;
        ops::rmsnorm_forward(act_, ln, rstd, x, W(pl.ln1), 1, C, eps, st_);
        linear(qlin, ln, pl.wq, pl.bq, 1, C, QD);
        linear(klin, ln, pl.wk, pl.bk, 1, C, KD);
        linear(vlin, ln, pl.wv, pl.bv, 1, C, KD);
        ops::to_heads(act_, q, qlin, cs, sn, 1, 1, H, D, p, st_);
        ops::to_heads(act_, kl + static_cast<std::size_t>(p) * KD * S_, klin, cs, sn, 1, 1, KVH, D,
                      p, st_);
        ck(cudaMemcpyAsync(vl + static_cast<std::size_t>(p) * KD * S_, vlin, KD * S_,
                           cudaMemcpyDeviceToDevice, st_),
           "value cache");
        ops::decode_attention(act_, ctx, q, kl, vl, scores, p, H, KVH, D, scale, st_);
        linear(x2, ctx, pl.wo, pl.bo, 1, QD, C);
        ops::add_inplace(act_, x2, x, C, st_);
        ops::rmsnorm_forward(act_, ln, rstd, x2, W(pl.ln2), 1, C, eps, st_);
        linear(gate, ln, pl.wg, -1, 1, C, F);
        linear(up, ln, pl.wu, -1, 1, C, F);
        ops::swiglu_forward(act_, h, gate, up, F, st_);
        linear(x, h, pl.wd, -1, 1, F, C);
        ops::add_inplace(act_, x, x2, C, st_);
    }
    ops::rmsnorm_forward(act_, lnf, rstd, x, W(lay_.final_norm()), 1, C, eps, st_);
    gemm(false, true, 1, V, C, lnf, act_, C, 0, W(head_weight()), act_, C, 0, logits, Dtype::F32, V,
         0, 1);
    ck(cudaMemcpyAsync(logits_host_.data(), logits, V * sizeof(float), cudaMemcpyDeviceToHost, st_),
       "logits");
    ck(cudaStreamSynchronize(st_), "decode");
    ++dec_pos_;
    return {logits_host_.data(), static_cast<std::size_t>(V)};
}

BlockState CudaBackend::read_state(int b) {
    if (!book_.has_state(b))
        throw std::out_of_range("read_state: block " + std::to_string(b) +
                                " has no optimizer state");
    BlockState out;
    out.t = book_.t(b);
    const std::size_t total = book_.layout(b).total;
    const int nstate = book_.state_buffers();
    if (nstate >= 1) out.m.resize(total);
    if (nstate >= 2) out.v.resize(total);
    const auto& act = book_.active();
    if (std::find(act.begin(), act.end(), b) != act.end()) {
        const std::size_t base = book_.base(b);
        if (nstate >= 1)
            ck(copy_now(out.m.data(), m_ + base, total * sizeof(float), cudaMemcpyDeviceToHost),
               "read state");
        if (nstate >= 2)
            ck(copy_now(out.v.data(), v_ + base, total * sizeof(float), cudaMemcpyDeviceToHost),
               "read state");
    } else if (auto it = kept_.find(b); it != kept_.end()) {
        if (nstate >= 1) std::copy_n(it->second.first.data(), total, out.m.data());
        if (nstate >= 2) std::copy_n(it->second.second.data(), total, out.v.data());
    }
    return out;
}

void CudaBackend::write_state(int b, BlockState state) {
    if (b < 0 || b >= static_cast<int>(opts_.blocks.size()))
        throw std::out_of_range("write_state: no block " + std::to_string(b));
    const std::size_t total = book_.layout(b).total;
    const int nstate = book_.state_buffers();
    if ((nstate >= 1 ? total : 0) != state.m.size() || (nstate >= 2 ? total : 0) != state.v.size())
        throw std::invalid_argument("write_state: the state does not match block " +
                                    std::to_string(b) + "'s size");
    const auto& act = book_.active();
    if (std::find(act.begin(), act.end(), b) != act.end()) {
        const std::size_t base = book_.base(b);
        if (nstate >= 1)
            ck(copy_now(m_ + base, state.m.data(), total * sizeof(float), cudaMemcpyHostToDevice),
               "write state");
        if (nstate >= 2)
            ck(copy_now(v_ + base, state.v.data(), total * sizeof(float), cudaMemcpyHostToDevice),
               "write state");
    } else {
        auto& [hm, hv] = kept_[b];
        hm.resize(nstate >= 1 ? total : 0);
        hv.resize(nstate >= 2 ? total : 0);
        if (nstate >= 1) std::copy_n(state.m.data(), total, hm.data());
        if (nstate >= 2) std::copy_n(state.v.data(), total, hv.data());
        book_.keep(b);
    }
    book_.t(b) = state.t;
}

MemoryStats CudaBackend::memory() const {
    MemoryStats m;
    const int nstate = book_.state_buffers();
    m.weights = weights_.bytes() + region_cap_ * sizeof(float); // + the fp32 master
    m.gradients = region_cap_ * sizeof(float);
    m.optimizer = region_cap_ * sizeof(float) * static_cast<std::size_t>(nstate);
    m.activations = planned_ ? std::min(ap_.activation_bytes, acts_.bytes()) : 0;
    m.workspace = acts_.bytes() - m.activations + rope_.bytes() + red_.bytes() + dec_.bytes();
    return m;
}

} // namespace

std::unique_ptr<Backend> make_cuda_backend(Model& model, const BackendOptions& opts) {
    return std::make_unique<CudaBackend>(model, opts);
}

} // namespace bcd::cuda

// Memory per device by term (docs/planner.md#memory).
//
// Two device models: the fp32 CPU engine, counted buffer by buffer as CpuTransformer::allocate()
// and the trainer carve them (so that the prediction can be checked against measurement), and a
// GPU in bf16 mixed precision (or fp32) whose activations follow Korthikanti et al. 2022 adapted to
// the Llama family (SwiGLU, GQA, RoPE, RMSNorm, flash attention, no dropout).

#include "bcd/blocks.h"
#include "bcd/param_layout.h"
#include "plan/plan_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace bcd::plan_detail {

namespace {

using u64 = std::uint64_t;

u64 r16(u64 n) {
    return (n + 15) / 16 * 16;
}

// The CPU engine's attention scratch: per OpenMP thread two blocks of 64 rows × T scores
// (ops.cpp, attention_scratch_floats).
u64 cpu_attention_scratch(int threads, u64 T) {
    return static_cast<u64>(std::max(1, threads)) * 2 * 64 * T;
}

// Floats of CpuTransformer's activation allocation (allocate(): carve_acts), logits excluded,
// and the logits separately.
struct CpuActs {
    u64 activations = 0, logits = 0;
};
CpuActs cpu_activation_floats(const Shape& sh, u64 B, u64 T, u64 kept, bool recompute,
                              int threads) {
    const u64 N = B * T, C = sh.h, F = sh.f, QD = sh.hq, KD = sh.hkv;
    const u64 shared = r16(N * C) + r16(cpu_attention_scratch(threads, T)) + r16(N * F);
    const u64 fill = r16(N * C) + r16(N) + r16(N * QD) + 2 * r16(N * KD) + r16(B * sh.heads * T) +
                     r16(N * QD) + r16(N * C) + r16(N) + 2 * r16(N * F);
    u64 layers = 0;
    if (recompute && kept > 0)
        layers = fill + r16(N * C) + kept * r16(N * C);
    else if (kept == 0)
        layers = fill;
    else
        layers = kept * fill;
    CpuActs a;
    a.logits = r16(N * sh.V);
    a.activations = shared + layers + r16(N * C) + r16(N) + r16(N * C) + r16(N) + r16(N) +
                    T * sh.head_dim; // + the RoPE cos/sin tables
    return a;
}

// CpuTransformer's backward workspace (carve_work): dres, dln and the region the MLP's and the
// attention's backward share.
u64 cpu_workspace_floats(const Shape& sh, u64 N) {
    return r16(N * sh.h) + r16(N * sh.h) +
           r16(std::max(2 * N * sh.f + 32, 2 * N * sh.hq + 2 * N * sh.hkv + 64));
}

// GPU activations kept per token by one layer, bytes (docs/planner.md#activations): x, the
// norm output, q, k, v (after RoPE), the attention output, x2, its norm output, gate, up and
// their SwiGLU product in `a` bytes each; the attention's log-sum-exp per head and the two
// RMSNorm reciprocals in fp32.
u64 gpu_layer_bytes_per_token(const Shape& sh, u64 a) {
    return a * (4 * sh.h + 2 * sh.hq + 2 * sh.hkv + 3 * sh.f) + 4 * sh.heads + 8;
}

} // namespace

Shape::Shape(const ModelConfig& c) {
    L = static_cast<u64>(c.num_layers);
    h = static_cast<u64>(c.hidden_size);
    hq = static_cast<u64>(c.q_dim());
    hkv = static_cast<u64>(c.kv_dim());
    f = static_cast<u64>(c.intermediate_size);
    V = static_cast<u64>(c.vocab_size);
    heads = static_cast<u64>(c.num_heads);
    head_dim = static_cast<u64>(c.head_dim);
    params = c.num_params();
    // ParamLayout's allocation: every tensor rounded up to 16 floats (kept in step with it).
    const u64 bias = c.qkv_bias ? r16(hq) + 2 * r16(hkv) : 0;
    const u64 layer_floats = 2 * r16(h) + r16(hq * h) + 2 * r16(hkv * h) + r16(h * hq) +
                             3 * r16(h * f) + bias + (c.o_bias ? r16(h) : 0);
    layout_floats =
        r16(V * h) + L * layer_floats + r16(h) + (c.tie_word_embeddings ? 0 : r16(V * h));
    layer_matmul = h * hq + 2 * h * hkv + hq * h + 3 * h * f;
    max_layer_params = L > 0 ? (params - V * h * (c.tie_word_embeddings ? 1 : 2) - h) / L : 0;
    max_unit_params = std::max(max_layer_params, V * h);
}

u64 state_floats_per_param(const PlanInput& in) {
    if (in.optimizer == "adamw") return 2;
    return in.momentum > 0.0 ? 1 : 0;
}

std::vector<BlockCost> partition(const PlanInput& in, Mode mode, int layers_per_block) {
    const ParamLayout layout(in.model);
    const int L = layout.num_layers();
    std::vector<Block> blocks;
    if (mode == Mode::Full) {
        std::vector<std::vector<std::string>> all{{"model.", "lm_head."}};
        if (layout.lm_head() < 0) all[0].pop_back();
        blocks = prefix_blocks(layout, all, in.source, "bcd.mode");
    } else if (in.blocks) {
        blocks = prefix_blocks(layout, *in.blocks, in.source, "bcd.blocks");
    } else {
        blocks =
            default_blocks(layout, std::max(1, layers_per_block), in.embed_block, in.head_block);
    }
    std::vector<u64> layer_matmul(static_cast<std::size_t>(L), 0);
    for (const auto& p : layout.params())
        if (p.kind == ParamKind::Matrix && p.layer >= 0 && p.layer < L)
            layer_matmul[static_cast<std::size_t>(p.layer)] += p.numel;

    std::vector<BlockCost> out;
    for (const auto& b : blocks) {
        BlockCost c;
        c.id = b.id;
        c.name = b.name;
        c.params = b.params;
        c.first_kept = std::clamp(b.lowest_layer, 0, L);
        c.layer_weight_fraction.assign(static_cast<std::size_t>(L), 0.0);
        for (int t : b.tensors) {
            const auto& p = layout.params()[static_cast<std::size_t>(t)];
            c.padded_floats += r16(p.numel);
            if (t == layout.embed()) {
                c.embed = true;
                if (layout.lm_head() < 0)
                    c.head_weight = true; // tied: the head's gradient lands here
            }
            if (t == layout.lm_head())
                c.head_weight = true;
            else
                c.head_input = true;
            if (p.kind == ParamKind::Matrix && p.layer >= 0 && p.layer < L)
                c.layer_weight_fraction[static_cast<std::size_t>(p.layer)] +=
                    static_cast<double>(p.numel) /
                    static_cast<double>(layer_matmul[static_cast<std::size_t>(p.layer)]);
        }
        out.push_back(std::move(c));
    }
    // The schedule's share of steps per block: fixed orders repeat ids, the others visit each
    // block once per cycle.
    if (mode == Mode::Bcd && in.order == "fixed" && !in.fixed_order.empty()) {
        for (auto& c : out) c.weight = 0.0;
        for (int id : in.fixed_order)
            if (id >= 0 && id < static_cast<int>(out.size()))
                out[static_cast<std::size_t>(id)].weight +=
                    1.0 / static_cast<double>(in.fixed_order.size());
    } else {
        for (auto& c : out) c.weight = 1.0 / static_cast<double>(out.size());
    }
    u64 all_params = 0, all_padded = 0;
    for (const auto& c : out) {
        all_params += c.params;
        all_padded += c.padded_floats;
    }
    if (mode == Mode::Bcd && (in.active_blocks > 1 || in.order == "lisa"))
        out = active_sets(in, out);
    for (auto& c : out) {
        c.others_params = all_params - c.params;
        c.others_padded = all_padded - c.padded_floats;
    }
    return out;
}

namespace {

// The cost of training `members` together: the sums of their sizes, the lowest layer any of them
// needs the backward to reach, every gradient any of them computes.
BlockCost merge(const std::vector<BlockCost>& blocks, const std::vector<int>& members,
                double weight) {
    BlockCost m;
    m.id = members.front();
    m.first_kept = std::numeric_limits<int>::max();
    m.weight = weight;
    for (int id : members) {
        const BlockCost& b = blocks[static_cast<std::size_t>(id)];
        m.name += (m.name.empty() ? "" : "+") + b.name;
        m.params += b.params;
        m.padded_floats += b.padded_floats;
        m.first_kept = std::min(m.first_kept, b.first_kept);
        m.embed = m.embed || b.embed;
        m.head_weight = m.head_weight || b.head_weight;
        m.head_input = m.head_input || b.head_input;
        if (m.layer_weight_fraction.empty())
            m.layer_weight_fraction.assign(b.layer_weight_fraction.size(), 0.0);
        for (std::size_t l = 0; l < b.layer_weight_fraction.size(); ++l)
            m.layer_weight_fraction[l] += b.layer_weight_fraction[l];
    }
    return m;
}

} // namespace

std::vector<BlockCost> active_sets(const PlanInput& in, const std::vector<BlockCost>& blocks) {
    // The cycle the sets slide along: LISA's layer blocks, the fixed order, or every block.
    std::vector<int> always, cycle;
    for (const auto& b : blocks)
        if (in.order == "lisa" && (b.name == "embed" || b.name == "head"))
            always.push_back(b.id);
        else
            cycle.push_back(b.id);
    if (in.order == "fixed" && !in.fixed_order.empty()) {
        cycle.clear();
        for (int id : in.fixed_order)
            if (id >= 0 && id < static_cast<int>(blocks.size())) cycle.push_back(id);
    }
    if (cycle.empty()) return blocks;
    const std::size_t n = cycle.size();
    const std::size_t gamma = std::min<std::size_t>(static_cast<std::size_t>(in.active_blocks), n);
    auto with = [&](std::vector<int> members) {
        for (int id : always) members.push_back(id);
        std::sort(members.begin(), members.end());
        members.erase(std::unique(members.begin(), members.end()), members.end());
        return members;
    };
    // γ consecutive places from each place a set can start at, each an equal share of the steps:
    // period k starts at place kγ, so a cyclic order (of n places) starts its sets at the
    // multiples of gcd(γ, n); drawn orders can start anywhere.
    const bool drawn = in.order == "random" || in.order == "importance" || in.order == "lisa";
    const std::size_t stride = drawn ? 1 : std::gcd(gamma, n);
    std::vector<BlockCost> out;
    for (std::size_t i = 0; i < n; i += stride) {
        std::vector<int> members;
        for (std::size_t j = 0; j < gamma; ++j) members.push_back(cycle[(i + j) % n]);
        out.push_back(merge(blocks, with(std::move(members)),
                            static_cast<double>(stride) / static_cast<double>(n)));
    }
    // Drawn sets (random, importance, lisa) can hold any γ blocks: the largest γ, with the
    // backward reaching the lowest of all, bound the memory (no share of the steps).
    if (drawn) {
        std::vector<int> by_size = cycle;
        std::stable_sort(by_size.begin(), by_size.end(), [&](int a, int b) {
            return blocks[static_cast<std::size_t>(a)].params >
                   blocks[static_cast<std::size_t>(b)].params;
        });
        by_size.resize(gamma);
        BlockCost worst = merge(blocks, with(by_size), 0.0);
        for (int id : cycle)
            worst.first_kept =
                std::min(worst.first_kept, blocks[static_cast<std::size_t>(id)].first_kept);
        out.push_back(std::move(worst));
    }
    return out;
}

MemoryBreakdown block_memory(const PlanInput& in, Mode mode, const Setting& s, const BlockCost& b,
                             const std::vector<BlockCost>& /*all*/, u64* host) {
    const Shape sh(in.model);
    const PlanConstants& k = in.constants;
    const u64 B = static_cast<u64>(s.micro_batch), T = static_cast<u64>(in.seq_len), N = B * T;
    const u64 kept = sh.L - static_cast<u64>(b.first_kept);
    const u64 states = state_floats_per_param(in);
    MemoryBreakdown m;
    *host = 0;

    // Blocks whose optimizer state outlives their turn (no reset at a switch).
    const bool keeps = mode == Mode::Bcd && !in.reset_state_on_switch;
    const u64 others_params = keeps ? b.others_params : 0;
    const u64 others_padded = keeps ? b.others_padded : 0;

    if (in.hardware.is_cpu()) {
        // fp32 throughout, buffer for buffer as the engine allocates them.
        m.weights = sh.layout_floats * 4;
        m.gradients = b.padded_floats * 4;
        m.optimizer = states * (b.padded_floats + others_padded) * 4;
        const auto acts =
            cpu_activation_floats(sh, B, T, kept, s.recompute, in.hardware.cpu.threads);
        m.activations = acts.activations * 4;
        m.logits = acts.logits * 4;
        m.workspace = cpu_workspace_floats(sh, N) * 4;
        // The process itself, the token arrays (int32) and one step's inputs and targets.
        m.runtime =
            k.cpu_process_bytes + in.data_bytes + 2 * static_cast<u64>(s.grad_accum) * N * 4;
        return m;
    }

    const bool mixed = in.precision == Precision::Bf16Mixed;
    const u64 wb = mixed ? 2 : 4;     // bytes per weight and per activation element
    const u64 master = mixed ? 4 : 0; // fp32 master copy
    const u64 world = static_cast<u64>(in.hardware.world_size());
    const u64 nodes = static_cast<u64>(in.hardware.nodes());

    if (mode == Mode::Full) {
        const u64 P = sh.params;
        const u64 gb = wb; // gradients in the training precision
        const u64 opt_per_param = master + 4 * states;
        const bool z3 = s.sharding == Sharding::Zero3;
        // Weights: replicated, or a shard plus the gathered working set of ZeRO-3 (the unit being
        // computed and the one prefetched).
        if (s.offload == Offload::OptimizerAndParams)
            m.weights = 2 * wb * sh.max_unit_params;
        else if (z3)
            m.weights = wb * P / world + 2 * wb * sh.max_unit_params;
        else
            m.weights = wb * P;
        // Gradients: replicated, or a shard plus two reduce buckets of a layer's size.
        if (s.sharding == Sharding::Zero2 || z3)
            m.gradients = gb * P / world + 2 * gb * sh.max_layer_params;
        else
            m.gradients = gb * P;
        if (s.offload != Offload::None) {
            m.optimizer = 0;
            // Host: master, moments and an fp32 gradient copy; the parameters too with ZeRO-3
            // offload.
            *host = (opt_per_param + 4) * P / nodes +
                    (s.offload == Offload::OptimizerAndParams ? wb * P / nodes : 0);
        } else {
            m.optimizer =
                s.sharding == Sharding::None ? opt_per_param * P : opt_per_param * P / world;
        }
    } else {
        // BCD: every weight in the training precision; the active block's fp32 gradients, master
        // and moments, replicated on every device.
        m.weights = wb * sh.params;
        m.gradients = 4 * b.params;
        m.optimizer = (master + 4 * states) * b.params;
        const u64 kept_states = (master + 4 * states) * others_params;
        if (in.offload_states)
            *host = kept_states;
        else
            m.optimizer += kept_states;
    }

    // Activations of the layers that take part in the backward; with recomputation they keep
    // their input only, and one layer's full set is rebuilt at a time.
    const u64 layer = gpu_layer_bytes_per_token(sh, wb) * N;
    if (s.recompute && kept > 0)
        m.activations = kept * wb * sh.h * N + layer + wb * sh.h * N;
    else
        m.activations = std::max<u64>(kept, 1) * layer;
    m.activations += (2 * wb * sh.h + 4) * N; // final norm: its input and output
    // Logits in the training precision plus an fp32 buffer for the softmax and its gradient.
    m.logits = (wb + 4) * N * sh.V;
    // Backward: the residual gradient, a norm's gradient and the larger of the MLP's and the
    // attention's temporaries; plus cuBLAS's workspace.
    m.workspace =
        wb * N * (2 * sh.h + std::max(2 * sh.f, 2 * sh.hq + 2 * sh.hkv)) + k.cublas_workspace_bytes;
    m.runtime = k.cuda_context_bytes + (world > 1 ? k.nccl_bytes : 0);
    return m;
}

u64 transient_peak(const PlanInput& in, const MemoryBreakdown& steady) {
    if (!in.hardware.is_cpu()) return 0;
    const Shape sh(in.model);
    // Loading: the parameter allocation and the mapped weight files, before gradients and
    // activations exist (the token arrays are already loaded).
    u64 file = in.checkpoint_bytes;
    if (file == 0) {
        const u64 dtype = in.model.torch_dtype == "float32" ? 4 : 2;
        file = sh.params * dtype;
    }
    const u64 process = in.constants.cpu_process_bytes + in.data_bytes;
    u64 peak = process + sh.layout_floats * 4 + file;
    if (in.evaluates) {
        // A gradient-free transformer next to the training one: one shared set of activations.
        // (Trainer::evaluate runs batches of train.batch_size windows.)
        const auto acts =
            cpu_activation_floats(sh, static_cast<u64>(in.batch_size), static_cast<u64>(in.seq_len),
                                  0, false, in.hardware.cpu.threads);
        peak = std::max(peak, steady.total() + (acts.activations + acts.logits) * 4);
    }
    return peak;
}

} // namespace bcd::plan_detail
